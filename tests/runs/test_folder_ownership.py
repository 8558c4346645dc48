"""Every command's folder says what made it: no command writes into another command's run, a
dataset or an export (whatever --overwrite says), and one writer at a time holds a folder."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt import cli
from tfbt.fs import kinds, lock
from tfbt.runs import train
from tfbt.runs.pretrain import PretrainConfig, pretrain

SMALL = dict(max_len=8, hidden_dim=16, num_blocks=1, batch_size=64, eval_batch_size=256,
             length_chunks=1, epochs=1)


@pytest.fixture(scope="module")
def tiny(synthetic_data):
    return synthetic_data(200, 60, 12)


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):
    """A finished `tfbt train` run and a finished `tfbt pretrain` run."""
    root = tmp_path_factory.mktemp("runs")
    train.train(train.TrainConfig(data=str(tiny), output=str(root / "train"), **SMALL),
                verbose=0)
    pretrain(PretrainConfig(data=str(tiny), output=str(root / "pretrain"), max_len=8,
                            batch_size=64, epochs=1, encoder_args={"embedding_dim": 8},
                            projector=(16, 16)), verbose=0)
    return root


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def refused(capsys, argv, folder, *needles):
    """Runs `tfbt ARGV`; asserts exit 2, one-line error naming ``needles``, folder unchanged."""
    before = snapshot(folder)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("tfbt "), err
    for needle in needles:
        assert needle in err, err
    assert snapshot(folder) == before
    return err


def test_runs_record_the_command_that_made_them(runs):
    assert json.loads((runs / "train" / kinds.MARKER).read_text()) == {"command": "train"}
    assert kinds.made_by(runs / "pretrain") == "pretrain"


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_pretrain_refuses_a_train_run(runs, tiny, capsys, overwrite):
    refused(capsys, ["pretrain", "--data", str(tiny), "--output", str(runs / "train"),
                     "--epochs", "1", *overwrite], runs / "train",
            "next-item training run", "made by `tfbt train`", "model.keras")


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_train_refuses_a_pretraining_run(runs, tiny, capsys, overwrite):
    refused(capsys, ["train", "--data", str(tiny), "--output", str(runs / "pretrain"),
                     "--epochs", "1", *overwrite], runs / "pretrain",
            "Barlow Twins pretraining run", "encoder.keras")


def test_unmarked_runs_of_older_tfbt_are_recognised(runs, tiny, tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("config.json", "history.json"):
        (old / name).write_bytes((runs / "pretrain" / name).read_bytes())
    (old / "backup").mkdir()  # an unfinished pretraining run, from before the marker
    refused(capsys, ["train", "--data", str(tiny), "--output", str(old), "--epochs", "1"],
            old, "pretraining run")


def test_experiment_refuses_a_train_run(runs, tiny, capsys):
    refused(capsys, ["experiment", "liu2025", "--data", str(tiny), "--output",
                     str(runs / "train")], runs / "train", "made by `tfbt train`")


def test_train_refuses_a_dataset_folder(tiny, capsys):
    refused(capsys, ["train", "--data", str(tiny), "--output", str(tiny), "--epochs", "1",
                     "--overwrite"], tiny, "holds a dataset", "metadata.json")


def test_build_and_export_refuse_a_run_folder(runs, tmp_path, capsys):
    source = tmp_path / "log.txt"
    source.write_text("".join(f"u{u} " + " ".join(str(i) for i in range(1, 8)) + "\n"
                              for u in range(5)))
    refused(capsys, ["build", "--format", "sequence-text", "--input", str(source), "--output",
                     str(runs / "train"), "--overwrite", "--quiet"], runs / "train",
            "made by `tfbt train`")
    refused(capsys, ["export", "--run", str(runs / "train"), "--kind", "recommender",
                     "--name", "m", "--root", str(runs / "pretrain")], runs / "pretrain",
            "made by `tfbt pretrain`", "--root")


def test_a_second_writer_is_refused_naming_the_first(runs, tiny, capsys):
    with lock.exclusive(runs / "train" / lock.LOCK_FILE, "run folder"):
        err = refused(capsys, ["train", "--data", str(tiny), "--output", str(runs / "train"),
                               "--epochs", "1", "--overwrite"], runs / "train",
                      f"process {os.getpid()}", "being written")
    assert "tfbt train: error: run folder" in err
    assert not (runs / "train" / lock.LOCK_FILE).exists()  # released and removed


def test_a_dataset_being_built_and_an_export_are_locked(runs, tmp_path, capsys):
    source = tmp_path / "log.txt"
    source.write_text("".join(f"u{u} 1 2 3 4\n" for u in range(5)))
    out = tmp_path / "data"
    with lock.exclusive(tmp_path / f".data{lock.LOCK_FILE}", "dataset"):
        assert cli.main(["build", "--format", "sequence-text", "--input", str(source),
                         "--output", str(out), "--quiet"]) == 2
    assert "being written by process" in capsys.readouterr().err and not out.exists()
    (tmp_path / "models" / "m").mkdir(parents=True)
    with lock.exclusive(tmp_path / "models" / "m" / lock.LOCK_FILE, "export folder"):
        assert cli.main(["export", "--run", str(runs / "train"), "--kind", "recommender",
                         "--name", "m", "--root", str(tmp_path / "models")]) == 2
    assert "being written by process" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "models" / "m").iterdir()] == []


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    path = tmp_path / lock.LOCK_FILE
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from tfbt.fs import lock
        with lock.exclusive({str(path)!r}, "x"):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(lock.FolderBusyError, match=f"process {holder.pid}"):
            with lock.exclusive(path, "x"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert path.exists()  # the killed holder's file stays, its lock does not
    with lock.exclusive(path, "x"):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_folders_of_older_tfbt_are_told_by_their_files(tmp_path):
    liu = tmp_path / "liu"  # an experiment killed before its first results.json
    (liu / "dual_encoder").mkdir(parents=True)
    (liu / "dual_encoder" / "seed0.npz").write_bytes(b"")
    assert kinds.made_by(liu) is None
    dual = tmp_path / "dual"
    (dual / "dual_encoder").mkdir(parents=True)
    (dual / "dual_encoder" / "weights.index").write_bytes(b"")
    assert kinds.made_by(dual) == "train-dual-encoder"
    export = tmp_path / "models" / "m" / "3"
    export.mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"")
    assert {kinds.made_by(p) for p in (export, export.parent, export.parent.parent)} == {"export"}
