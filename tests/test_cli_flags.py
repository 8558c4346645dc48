"""No flag disappears: every option string each ``tfbt`` command (and sub-command) had when the
CLI was rebuilt from the config dataclasses, kept in ``cli_flags.json``, is still there (new
commands and flags may come)."""

import argparse
import json
from pathlib import Path

import pytest

from tfbt import cli

BEFORE = json.loads((Path(__file__).with_name("cli_flags.json")).read_text())


def _options(parser: argparse.ArgumentParser, prefix: str) -> dict[str, set[str]]:
    """``{"command [sub-command]": option strings}`` of ``parser`` and its sub-parsers."""
    found = {prefix: {s for action in parser._actions for s in action.option_strings}}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_options(sub, f"{prefix} {name}"))
    return found


@pytest.mark.parametrize("command", sorted({name.split()[0] for name in BEFORE}))
def test_no_option_of_a_command_disappeared(command):
    assert command in cli.SUBCOMMANDS, f"tfbt {command} is gone"
    parser = cli._parser([command, "--help"])
    now = _options(parser._subparsers._group_actions[0].choices[command], command)
    for name, flags in BEFORE.items():
        if name.split()[0] == command:
            assert name in now, f"tfbt {name} is gone"
            assert not set(flags) - now[name], f"tfbt {name} lost {sorted(set(flags) - now[name])}"
