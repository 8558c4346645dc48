"""The README's main job: `tfbt demo` end to end, and the CLI's front door."""

import json
import subprocess

import pytest

from tfbt.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


@pytest.mark.slow
def test_ci_end_to_end_demo(tmp_path):
    """What CI runs after the fast suite: the small demo through the installed console script."""
    result = subprocess.run(["tfbt", "demo", "--size", "small", "--output", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["dataset"]["users"] == 600
    probe = summary["favorite_genre_probe_accuracy"]
    assert probe["bt_pretrained"] > probe["random_init"], probe
