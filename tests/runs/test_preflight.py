"""What can only fail or degenerate after training is refused before the first step, naming
the flags and the numbers; a collapsed pretraining is an error unless asked to keep it."""

import types

import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt import cli
from tfbt.runs import pretrain as pretrain_command
from tfbt.runs.pretrain import CollapseError, PretrainConfig, pretrain


@pytest.fixture(scope="module")
def tiny(synthetic_data):
    return synthetic_data(200, 60, 12)


def refused_at_once(capsys, tmp_path, argv, *needles):
    """`tfbt ARGV --output RUN` exits 2 with one line naming ``needles``, leaving no folder."""
    run = tmp_path / "run"
    assert cli.main([*argv, "--output", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    assert not run.exists()


def test_no_validation_would_run(tiny, tmp_path, capsys):
    refused_at_once(capsys, tmp_path, ["train", "--data", str(tiny), "--epochs", "2",
                                       "--eval-every", "100"],
                    "--epochs 2 is below --eval-every 100", "no validation would ever run")


def test_a_catalogue_smaller_than_a_cut_off(synthetic_data, tmp_path, capsys):
    small = synthetic_data(100, 16, 6)
    for command in ("train", "train-dual-encoder"):
        refused_at_once(capsys, tmp_path, [command, "--data", str(small), "--epochs", "1"],
                        "has 16 items, fewer than the largest evaluation cut-off (20")


def test_a_train_fraction_that_leaves_one_user(tiny, tmp_path, capsys):
    refused_at_once(capsys, tmp_path, ["train", "--data", str(tiny), "--epochs", "1",
                                       "--train-fraction", "0.5%"],
                    "--train-fraction 0.005 of 200 users trains on 1")


@pytest.mark.parametrize("argv", [
    ["train-dual-encoder", "--batch-size", "1"],
    ["train", "--model", "btsr", "--batch-size", "1"],
    ["train", "--loss", "sampled", "--sampler", "in_batch", "--batch-size", "1"],
    ["pretrain", "--batch-size", "1"]])
def test_batches_of_one_example_that_make_a_loss_degenerate(tiny, tmp_path, capsys, argv):
    refused_at_once(capsys, tmp_path, [*argv, "--data", str(tiny), "--epochs", "1"],
                    "batches of 1 example(s)", "--batch-size >= 2")


def test_collapse_is_an_error_unless_allowed(tiny, tmp_path, monkeypatch):
    # Any representation counts as collapsed under this threshold.
    monkeypatch.setattr(pretrain_command, "CollapseMonitor",
                        lambda: types.SimpleNamespace(threshold=1e9))
    config = PretrainConfig(data=str(tiny), output=str(tmp_path / "run"), max_len=8,
                            batch_size=64, epochs=1, encoder_args={"embedding_dim": 8},
                            projector=(16, 16))
    with pytest.raises(CollapseError, match="collapsed: embedding_std .* no encoder was saved"
                                            ".*--allow-collapse"):
        pretrain(config, verbose=0)
    assert not (tmp_path / "run").exists()
    pretrain(config, verbose=0, allow_collapse=True)
    assert (tmp_path / "run" / "encoder.keras").is_file()
