"""The README's main job: `tfbt demo` end to end, and the CLI's front door."""

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from tfbt.cli import SUBCOMMANDS, _parser, main
from tfbt.demo.run import DemoSize, K, build_data, recommend_command


def test_help_lists_every_subcommand(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


def test_a_rerun_says_it_reused_the_dataset(tmp_path, capsys):
    size = DemoSize(dict(num_users=40, num_items=20, mean_length=8), 1, 1, 16)
    first = build_data(tmp_path / "data", size, seed=0, overwrite=False)
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'data'}\n")
    assert build_data(tmp_path / "data", size, seed=0, overwrite=False) == first
    assert capsys.readouterr().out.startswith(f"reused {tmp_path / 'data'}\n")


def test_the_printed_recommend_command_parses_with_the_last_items():
    history = [str(i) for i in range(100, 112)]
    command = recommend_command("out dir/saved_models/demo_recommender/1", history)
    argv = shlex.split(command)
    assert argv[:2] == ["tfbt", "recommend"]
    args = _parser(argv[1:]).parse_args(argv[1:])
    assert args.model == "out dir/saved_models/demo_recommender/1"
    assert args.items.split(",") == history[-5:] and args.k == K


@pytest.mark.slow
def test_ci_end_to_end_demo(tmp_path):
    """What CI runs after the fast suite: the small demo through the installed console script."""
    output = tmp_path / "demo"
    result = subprocess.run(["tfbt", "demo", "--size", "small", "--output", str(output)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((output / "summary.json").read_text())
    assert summary["dataset"]["users"] == 600
    probe = summary["favorite_genre_probe_accuracy"]
    assert probe["bt_pretrained"] > probe["random_init"], probe

    # Both sequence models learn the planted transitions: with seeds 0 and 1 they score 2.4-3.9x
    # the most-popular NDCG@10 (0.05-0.07) on the test split.
    rows = summary["evaluation"]["rows"]
    assert set(rows) == {"most_popular", "sasrec", "btsr"}
    for model in ("sasrec", "btsr"):
        assert rows[model]["NDCG@10"] > 1.5 * rows["most_popular"]["NDCG@10"], rows
        assert rows[model]["effective_rank"] > 1
        assert summary["training"][model]["epochs_run"] >= 1
    assert summary["training"]["btsr"]["alpha"] > 0 == summary["training"]["sasrec"]["alpha"]

    export = Path(summary["export"]["path"])
    assert summary["export"]["model"] in ("sasrec", "btsr")
    assert export.parent == output / "saved_models" / export.parent.name
    assert export.name.isdigit() and (export / "saved_model.pb").is_file()

    sample = summary["sample_recommendation"]
    recommended = [row["item"] for row in sample["recommendations"]]
    assert len(recommended) == sample["k"] == 10
    assert len(set(recommended)) == 10 and not set(recommended) & set(sample["history"])
    assert all(row["title"] and row["genres"] for row in sample["recommendations"])

    assert (output / "demo.png").read_bytes().startswith(b"\x89PNG")

    # The demo ends with the command that queries its export, and that command works.
    command = result.stdout.strip().splitlines()[-1].strip()
    assert command == summary["recommend_command"]
    assert command.startswith(f"tfbt recommend --model {export}")
    answer = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=600)
    assert answer.returncode == 0, answer.stderr
    assert len(answer.stdout.strip().splitlines()) == 1 + sample["k"]  # header + one row each
    assert answer.stderr == ""  # no TensorFlow start-up lines
    stages = summary["seconds"]
    assert 0 < sum(v for k, v in stages.items() if k != "total") <= stages["total"] + 1  # rounding
