"""Ordinary OS conditions and signals end a command with one line and a conventional exit code,
leaving only the documented resume state; the process ends without TensorFlow's destructors."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt import cli, exits
from tfbt.runs import layout


@pytest.fixture(scope="module")
def tiny(synthetic_data):
    return synthetic_data(200, 60, 12)


def test_os_errors_are_one_line(capsys):
    def full(args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/run/model.keras")

    assert exits.run_command("train", full, None) == exits.OS_ERROR == 1
    assert capsys.readouterr().err == ("tfbt train: error: /data/run/model.keras: No space "
                                       "left on device\n")

    def tf_full(args):
        import tensorflow as tf

        raise tf.errors.ResourceExhaustedError(None, None, "/x/variables.data: No space left "
                                               "on device\n\tmore detail")

    assert exits.run_command("export", tf_full, None) == 1
    assert capsys.readouterr().err == ("tfbt export: error: /x/variables.data: No space left "
                                       "on device\n")

    def bug(args):
        raise KeyError("a real bug")

    with pytest.raises(KeyError):  # not an OS condition: the traceback stays
        exits.run_command("train", bug, None)


def test_export_root_that_is_a_file_or_not_writable(tmp_path, capsys, monkeypatch):
    root = tmp_path / "file"
    root.write_text("x")
    assert cli.main(["export", "--run", str(tmp_path), "--kind", "encoder", "--name", "m",
                     "--root", str(root)]) == 2
    assert capsys.readouterr().err == (f"tfbt export: error: {root} exists and is not a "
                                       f"folder; choose another --root\n")
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):  # as on a read-only file system (we run as root)
        if str(path).startswith(str(tmp_path / "ro")):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only)
    assert cli.main(["export", "--run", str(tmp_path), "--kind", "encoder", "--name", "m",
                     "--root", str(tmp_path / "ro")]) == 1
    assert capsys.readouterr().err == (f"tfbt export: error: {tmp_path / 'ro' / 'm'}: "
                                       f"Read-only file system\n")


def test_disk_full_while_saving_a_run_leaves_nothing(tiny, tmp_path, capsys, monkeypatch):
    import keras

    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(keras.Model, "save", full)
    run = tmp_path / "run"
    assert cli.main(["train", "--data", str(tiny), "--output", str(run), "--epochs", "1",
                     "--max-len", "8", "--hidden-dim", "16", "--num-blocks", "1",
                     "--batch-size", "64"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"tfbt train: error: {run / layout.MODEL_FILE}: No space left on device")
    assert not run.exists()


def test_signals_exit_130_and_143_with_one_line(tmp_path):
    script = ("import os, signal, sys, time\nfrom tfbt import exits\n"
              "def work(args):\n    os.kill(os.getpid(), getattr(signal, sys.argv[1]))\n"
              "    time.sleep(30)\n"
              "exits.exit_process(exits.run_command('train', work, None))\n")
    for name, code, words in (("SIGINT", 130, "interrupted"),
                              ("SIGTERM", 143, "stopped by SIGTERM")):
        done = subprocess.run([sys.executable, "-c", script, name], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == code, done.stderr
        assert done.stderr.strip() == (f"tfbt train: {words}; run the same command again to "
                                       f"resume")


def test_the_program_ends_through_os_exit_after_flushing(monkeypatch, tmp_path, capsys):
    ended = []
    monkeypatch.setattr(os, "_exit", ended.append)
    monkeypatch.setattr(sys, "argv", ["tfbt", "train", "--data", str(tmp_path / "none"),
                                      "--output", str(tmp_path / "run")])
    cli.main()
    assert ended == [2]
    assert "tfbt train: error" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_during_training_keeps_only_the_resume_state(tiny, tmp_path):
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "tfbt.cli", "train", "--data", str(tiny), "--output",
            str(run), "--epochs", "200", "--max-len", "8", "--hidden-dim", "16",
            "--num-blocks", "1", "--batch-size", "8"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.time() + 240
    while not (run / layout.BACKUP_DIR).is_dir() and time.time() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "terminate called" not in err
    assert err.strip().splitlines()[-1] == ("tfbt train: interrupted; run the same command "
                                            "again to resume")
    assert (run / layout.BACKUP_DIR).is_dir() and not (run / layout.MODEL_FILE).exists()
