"""Barlow Twins pretraining: the model, resume, collapse detection, the CLI, real learning."""

import logging
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tfbt import data, downstream
from tfbt.cli import main
from tfbt.data.augment import SequenceAugmenter
from tfbt.layers import ProjectorMLP
from tfbt.layers.encoders import CNNEncoder
from tfbt.models import (
    BarlowTwinsPretrainer,
    encoder_model,
    normalized_std,
)
from tfbt.runs import callbacks
from tfbt.runs.layout import load_encoder
from tfbt.runs.pretrain import PretrainConfig, build_pretrainer, pretrain

MAX_LEN = 40


@pytest.fixture(scope="module")
def synthetic(synthetic_data):
    return synthetic_data(600, 200, 30)


def _config(data_dir, output, **overrides):
    values = dict(data=str(data_dir), output=str(output), max_len=MAX_LEN, batch_size=100,
                  epochs=2, projector=(64, 64), learning_rate=2e-3, seed=0)
    values.update(overrides)
    return PretrainConfig(**values)


def test_normalized_std_separates_spread_from_collapsed():
    rng = np.random.default_rng(0)
    spread = normalized_std(rng.normal(size=(512, 32)).astype("float32"))
    collapsed = normalized_std(np.tile(rng.normal(size=(1, 32)), (512, 1)).astype("float32"))
    assert 0.8 < float(spread) < 1.2
    assert float(collapsed) < 1e-3


def test_collapsed_encoder_is_reported(caplog):
    class ConstantEncoder(keras.layers.Layer):
        representation_dim = 8

        def build(self, shape):
            self.value = self.add_weight(shape=(8,), initializer="ones")

        def call(self, items, training=None):
            return keras.ops.zeros((keras.ops.shape(items)[0], 8)) + self.value

    model = BarlowTwinsPretrainer(ConstantEncoder(), SequenceAugmenter("crop:0.8", mask_id=9),
                                  ProjectorMLP((8, 8)))
    model.compile(optimizer="adam")
    items = np.random.default_rng(0).integers(1, 9, (64, 10)).astype("int32")
    monitor = callbacks.CollapseMonitor()
    with caplog.at_level(logging.WARNING, logger="tfbt"):
        model.fit(items, epochs=1, batch_size=32, verbose=0, callbacks=[monitor])
    assert monitor.collapsed_epochs == [0]
    assert "collapse" in caplog.text


def test_train_step_lowers_the_loss_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    items = rng.integers(1, 50, (256, 20)).astype("int32")
    items[:, :5] = 0
    model = BarlowTwinsPretrainer(CNNEncoder(52, embedding_dim=16, filters=16),
                                  SequenceAugmenter("segment_mask:0.2", mask_id=51),
                                  ProjectorMLP((32, 32)), seed=3)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit({"items": items}, epochs=4, batch_size=64, verbose=0).history
    assert set(history) == {"loss", "on_diag", "off_diag", "embedding_std"}
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    model.save(tmp_path / "pretrainer.keras")
    restored = keras.models.load_model(tmp_path / "pretrainer.keras")
    np.testing.assert_allclose(restored(items[:8]), model(items[:8]), atol=1e-5)
    assert restored.augmenter.get_config()["augmentations"] == [["segment_mask", 0.2, 1.0]]


def test_sasrec_encoder_must_return_one_vector_per_user(synthetic, tmp_path):
    config = _config(synthetic, tmp_path, encoder="sasrec",
                     encoder_args={"return_sequences": True})
    model = build_pretrainer(config, data.load_metadata(synthetic))
    with pytest.raises(ValueError, match="return_sequences=False"):
        model.build((None, MAX_LEN))


def test_interrupted_run_resumes_from_the_last_finished_epoch(synthetic, tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    config = _config(synthetic, tmp_path / "run", epochs=4)
    with pytest.raises(KeyboardInterrupt):
        pretrain(config, callbacks=[Interrupt()], verbose=0)
    assert (tmp_path / "run" / "backup").is_dir()
    _, history = pretrain(config, verbose=0)
    assert len(history["loss"]) == 2  # epochs 3 and 4 only
    assert not (tmp_path / "run" / "backup").exists()  # removed once the run completes
    assert load_encoder(tmp_path / "run").output_shape == (None, 64)


def test_same_seed_gives_the_same_encoder(synthetic, tmp_path):
    first, _ = pretrain(_config(synthetic, tmp_path / "a", epochs=1), verbose=0)
    second, _ = pretrain(_config(synthetic, tmp_path / "b", epochs=1), verbose=0)
    batch = next(iter(data.make_dataset(synthetic, max_len=MAX_LEN, batch_size=32)))["items"]
    np.testing.assert_allclose(first(batch), second(batch), atol=1e-6)


def _pretrained_vs_random(data_dir, output, seed):
    config = _config(data_dir, output, epochs=8, projector=(128, 128), seed=seed)
    pretrained, _ = pretrain(config, verbose=0)
    metadata = data.load_metadata(data_dir)
    keras.utils.set_random_seed(seed)
    untrained = build_pretrainer(config, metadata)
    untrained.build((None, MAX_LEN))
    def accuracy(encoder):
        return downstream.probe_label(encoder, data_dir, "favorite_genre", max_len=MAX_LEN,
                                      seed=seed, metadata=metadata)["accuracy"]

    return accuracy(pretrained), accuracy(encoder_model(untrained.encoder, MAX_LEN))


def test_pretraining_learns_the_planted_genre_taste(synthetic, tmp_path):
    """A linear probe on the frozen BT encoder beats the same probe on a random encoder."""
    pretrained, untrained = _pretrained_vs_random(synthetic, tmp_path, seed=0)
    assert pretrained > untrained + 0.05, (pretrained, untrained)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pretraining_margin_holds_across_seeds(synthetic_data, tmp_path, seed):
    data_dir = synthetic_data(600, 200, 30, seed=seed)
    pretrained, untrained = _pretrained_vs_random(data_dir, tmp_path / "run", seed=seed)
    assert pretrained > untrained + 0.05, (pretrained, untrained)


def test_cli_pretrains_and_reports_bad_input(synthetic, tmp_path, capsys):
    output = tmp_path / "cli"
    code = main(["pretrain", "--data", str(synthetic), "--output", str(output), "--epochs", "1",
                 "--max-len", str(MAX_LEN), "--batch-size", "100", "--projector", "32,32",
                 "--augment", "random_mask:0.3,permute@0.5", "--encoder-arg", "filters=24"])
    assert code == 0
    assert load_encoder(output).output_shape == (None, 24)
    assert (output / "config.json").is_file() and (output / "history.json").is_file()
    assert main(["pretrain", "--data", str(tmp_path / "nowhere"),
                 "--output", str(tmp_path / "other")]) == 2
    assert "metadata.json" in capsys.readouterr().err
    assert main(["pretrain", "--data", str(synthetic), "--output", str(output),
                 "--augment", "blur:0.2"]) == 2


MIRRORED_SCRIPT = """
import tfbt, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2)
from tfbt.runs.pretrain import PretrainConfig, pretrain
_, history = pretrain(PretrainConfig(data={data!r}, output={output!r}, max_len=40,
    batch_size=100, epochs=2, projector=(32, 32), strategy="mirrored"), verbose=0)
assert all(v == v for v in history["loss"]), history
print("replicas ok", history["loss"])
"""


def test_mirrored_strategy_trains_on_two_replicas(synthetic, tmp_path):
    script = MIRRORED_SCRIPT.format(data=str(synthetic), output=str(tmp_path / "mirrored"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas ok" in result.stdout


def test_plain_fit_example_runs(tmp_path):
    script = Path(__file__).resolve().parents[2] / "examples" / "pretrain_with_fit.py"
    result = subprocess.run([sys.executable, str(script), "--epochs", "1"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "user_encoder.keras").is_file()


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_length_chunks_give_the_same_loss_and_representations(pooling):
    """Views encoded as 3 length-sorted, trimmed chunks: the same numbers as the whole padded
    batch (inference mode: no dropout draws to differ)."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, MAX_LEN + 1, size=17)
    items = np.zeros((17, MAX_LEN), np.int32)
    for row, length in enumerate(lengths):
        items[row, MAX_LEN - length:] = rng.integers(1, 51, size=length)

    def pretrainer(length_chunks):
        keras.utils.set_random_seed(0)
        model = BarlowTwinsPretrainer(
            CNNEncoder(52, embedding_dim=8, filters=8, pooling=pooling),
            SequenceAugmenter("crop:0.6@0.5,segment_mask:0.2", mask_id=51), ProjectorMLP((8, 8)),
            length_chunks=length_chunks)
        model.build((None, MAX_LEN))
        return model

    whole, chunked = pretrainer(0), pretrainer(3)
    seed = np.array([0, 7], np.int64)
    _, expected = whole.compute_terms({"items": items}, seed, training=False)
    _, got = chunked.compute_terms({"items": items}, seed, training=False)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-6)
    assert chunked.get_config()["length_chunks"] == 3
