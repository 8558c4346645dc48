"""The command line as a user meets it: instant help with defaults, no TensorFlow start-up noise."""

import os
import subprocess
import sys

import pytest

from tfbt import cli, startup


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**environment, **env})


@pytest.mark.parametrize("command", [*sorted(cli.SUBCOMMANDS), "experiment liu2025"])
def test_help_does_not_import_tensorflow(command):
    result = _run_python(
        "import sys\nfrom tfbt import cli\n"
        f"try:\n    cli.main({[*command.split(), '--help']!r})\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert f"usage: tfbt {command}" in result.stdout
    assert result.stdout.splitlines()[-1] == "False False"
    assert result.stderr == ""  # no TensorFlow start-up lines


@pytest.mark.parametrize("command", sorted(cli.SUBCOMMANDS))
def test_every_option_shows_its_default(command):
    parser = cli._parser([command, "--help"])
    sub = parser._subparsers._group_actions[0].choices[command]
    formatter = sub._get_formatter()
    for action in sub._actions:
        if not action.option_strings or action.dest == "help":
            continue
        option = f"tfbt {command} {action.option_strings[0]}"
        text = formatter._expand_help(action) if action.help else ""  # what --help prints
        if action.required:
            assert "(default: None)" not in text, option
        else:
            assert "default" in text, f"{option}: {text!r}"
            assert text.count("default:") <= 1, f"{option} says its default twice: {text!r}"


def test_start_up_lines_are_dropped_and_other_lines_kept():
    result = _run_python(
        "import os\nfrom tfbt import startup\n"
        "with startup.start_up_lines_dropped():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called\\n')\n"
        "    os.write(2, b'I0000 00:00:1.2 1 cudart_stub.cc:31] Could not find cuda drivers\\n')\n"
        "    os.write(2, b'a real error\\n')\n"
        "print('done')")
    assert result.returncode == 0
    assert result.stderr == "a real error\n"
    assert startup.STARTUP_NOISE.search("E0000 1 cuda_platform.cc:52] failed call to cuInit")


def test_a_command_starts_without_tensorflow_noise(tmp_path):
    result = _run_python(
        "import sys\nfrom tfbt import cli\n"
        f"sys.exit(cli.main(['recommend', '--model', {str(tmp_path)!r}, '--items', '1']))")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tfbt recommend: error: {tmp_path}: not a model exported by `tfbt export` (expected "
        f"saved_model.pb and assets/tfbt.json)"]


def test_a_chosen_tensorflow_log_level_is_left_alone():
    result = _run_python("import os, tfbt\nprint(os.environ['TF_CPP_MIN_LOG_LEVEL'], "
                         "tfbt.USER_SET_TF_LOG_LEVEL)", TF_CPP_MIN_LOG_LEVEL="0")
    assert result.stdout.split() == ["0", "True"]
    result = _run_python("import os, tfbt\nprint(os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    assert result.stdout.split() == ["3"]
    # A child of a tfbt process inherits tfbt's own choice, not the user's: it stays quiet.
    result = _run_python("import os, subprocess, sys, tfbt\nprint(subprocess.run([sys.executable, "
                         "'-c', 'import tfbt; print(tfbt.USER_SET_TF_LOG_LEVEL)'], "
                         "capture_output=True, text=True).stdout)")
    assert result.stdout.split() == ["False"]
