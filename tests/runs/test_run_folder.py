"""The run-folder rule (tfbt.runs.layout.run_folder) as `tfbt train` and `tfbt pretrain` apply
it: a finished run is refused unless --overwrite, a resume with other arguments is refused
before anything is written, and a failed run leaves nothing behind."""

import keras
import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.runs import commands, layout, train
from tfbt.runs.pretrain import PretrainConfig, pretrain

SMALL = dict(max_len=8, hidden_dim=16, num_blocks=1, batch_size=64, eval_batch_size=256,
             length_chunks=1, epochs=1)


@pytest.fixture(scope="module")
def tiny(synthetic_data):
    return synthetic_data(200, 60, 12)


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_finished_run_is_refused_unless_overwrite_which_keeps_foreign_files(tiny, tmp_path,
                                                                          capsys):
    run = tmp_path / "run"
    train.train(train.TrainConfig(data=str(tiny), output=str(run), **SMALL), verbose=0)
    (run / "notes.txt").write_text("mine")
    before = snapshot(run)
    other = train.TrainConfig(data=str(tiny), output=str(run), **{**SMALL, "hidden_dim": 32})
    with pytest.raises(layout.RunFolderError, match="finished run .*model.keras.*--overwrite"):
        train.train(other, verbose=0)
    assert snapshot(run) == before
    # The command says the same and exits 2.
    parser = __import__("argparse").ArgumentParser()
    commands.add_train_arguments(parser)
    args = parser.parse_args(["--data", str(tiny), "--output", str(run), "--epochs", "1"])
    assert commands.run_train(args) == 2
    assert "holds a finished run" in capsys.readouterr().err
    assert snapshot(run) == before

    results = train.train(other, overwrite=True, verbose=0)
    assert results["config"]["hidden_dim"] == 32
    assert (run / "notes.txt").read_text() == "mine"
    assert layout.read_json(run / layout.CONFIG_FILE)["hidden_dim"] == 32


def test_resume_with_other_arguments_is_refused_before_writing(tiny, tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    run = tmp_path / "run"
    config = train.TrainConfig(data=str(tiny), output=str(run), **{**SMALL, "epochs": 3})
    with pytest.raises(KeyboardInterrupt):
        train.train(config, callbacks=[Interrupt()], verbose=0)
    assert (run / layout.BACKUP_DIR).is_dir()  # an interrupted run keeps what resumes it
    before = snapshot(run)
    other = train.TrainConfig(data=str(tiny), output=str(run),
                              **{**SMALL, "epochs": 3, "learning_rate": 0.01})
    with pytest.raises(layout.RunFolderError,
                       match=r"other arguments \(learning_rate: 0.001 -> 0.01\)"):
        train.train(other, verbose=0)
    assert snapshot(run) == before
    results = train.train(config, verbose=0)  # the same arguments resume
    assert results["epochs_run"] == 3 and not (run / layout.BACKUP_DIR).exists()


def test_failed_run_leaves_nothing_behind(tiny, tmp_path):
    class Fail(keras.callbacks.Callback):  # fails after training, when the folder is full
        def on_train_end(self, logs=None):
            raise RuntimeError("failed late")

    failing = dict(SMALL, epochs=1)
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="failed late"):
        train.train(train.TrainConfig(data=str(tiny), output=str(fresh), **failing),
                    callbacks=[Fail()], verbose=0)
    assert not fresh.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="failed late"):
        train.train(train.TrainConfig(data=str(tiny), output=str(kept), **failing),
                    callbacks=[Fail()], verbose=0)
    assert snapshot(kept) == {__import__("pathlib").Path("notes.txt"): b"mine"}
    # A dataset that cannot be opened fails before the folder exists.
    with pytest.raises(ValueError, match="metadata.json"):
        train.train(train.TrainConfig(data=str(tmp_path / "nothing"), output=str(fresh),
                                      **SMALL), verbose=0)
    assert not fresh.exists()


def test_pretraining_follows_the_same_rule(tiny, tmp_path):
    run = tmp_path / "pretrain"
    config = PretrainConfig(data=str(tiny), output=str(run), max_len=8, batch_size=64,
                            epochs=1, encoder_args={"embedding_dim": 8}, projector=(16, 16))
    pretrain(config, verbose=0)
    before = snapshot(run)
    with pytest.raises(layout.RunFolderError, match="encoder.keras"):
        pretrain(config, verbose=0)
    assert snapshot(run) == before
    pretrain(config, overwrite=True, verbose=0)
    assert (run / layout.ENCODER_FILE).is_file()
