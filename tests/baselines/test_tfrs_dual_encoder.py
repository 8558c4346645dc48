"""The TFRS dual-encoder baseline: Keras guard, tower parity, training pairs, quality, export."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfbt import data
from tfbt.baselines import tfrs_dual_encoder as de
from tfbt.data.synthetic import SyntheticConfig, write_synthetic
from tfbt.models import user_vectors

REPO = Path(__file__).resolve().parents[2]
MAX_LEN = 50


def _env_without_keras_flag():
    env = dict(os.environ)
    env.pop("TF_USE_LEGACY_KERAS", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("dual_encoder") / "d"
    write_synthetic(out, SyntheticConfig(num_users=300, num_items=120, seed=1), progress=False)
    return out


@pytest.fixture(scope="module")
def trained(synthetic):
    # Causal convolutions read at the last position: the synthetic data's next item mostly
    # follows the current one, which a mean over the whole history blurs. The logQ correction
    # keeps the in-batch softmax from burying the popular items.
    return de.train_dual_encoder(synthetic, max_len=MAX_LEN, epochs=30, batch_size=32,
                                 learning_rate=3e-3, seed=0, verbose=0, pooling="last",
                                 conv_padding="causal", sampling_correction=True)


@pytest.fixture(scope="module")
def valid_batch(synthetic):
    """All users' validation histories, targets and seen items in one deterministic batch."""
    return next(iter(data.make_dataset(synthetic, mode="eval", split="valid", batch_size=1000,
                                       max_len=MAX_LEN, deterministic=True)))


def test_guard_explains_how_to_get_tf_keras():
    code = ("import tensorflow as tf\n"
            "tf.keras.Model  # TensorFlow picks Keras 3 here, before tfbt can set the flag\n"
            "import tfbt.baselines.tfrs_dual_encoder\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env_without_keras_flag(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "RuntimeError" in result.stderr
    assert "import tfbt` before `import tensorflow`" in result.stderr
    assert "TF_USE_LEGACY_KERAS=1" in result.stderr


@pytest.mark.parametrize("config", [
    {},
    {"pooling": "max", "output_dim": 16},
    {"pooling": "last", "conv_padding": "causal", "dilation_rates": (1, 2, 4)},
])
def test_query_tower_computes_what_the_keras3_cnn_encoder_computes(config):
    """Same defaults and same computation: the Keras 3 encoder's weights give the same output."""
    from tfbt.layers.encoders import CNNEncoder

    items = tf.constant([[0, 0, 0, 5, 9, 2], [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 7]], tf.int32)
    reference = CNNEncoder(12, **config)
    tower = de.CNNQueryTower(12, **config)
    expected = np.asarray(reference(items, training=False))
    tower(items)
    tower.set_weights([np.asarray(w) for w in reference.get_weights()])
    np.testing.assert_allclose(tower(items, training=False).numpy(), expected, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("pooling", de.POOLINGS)
def test_query_tower_ignores_padding(pooling):
    tower = de.CNNQueryTower(30, pooling=pooling, filters=8, embedding_dim=8)
    rows = [[3, 7, 7, 1], [29, 2], [5]]
    short = tf.constant([[0] * (6 - len(r)) + r for r in rows], tf.int32)
    long = tf.constant([[0] * (40 - len(r)) + r for r in rows], tf.int32)
    before = tower(short).numpy()
    table = tower.item_embedding.embeddings
    table.assign(tf.tensor_scatter_nd_update(table, [[0]], tf.fill([1, 8], 9.0)))
    np.testing.assert_allclose(tower(long).numpy(), before, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tower(short).numpy(), before, rtol=1e-5, atol=1e-6)


def _toy_next_item_batch():
    """Rows of 1..5 distinct real items (row r holds 10r+1, 10r+2, ...), width 6."""
    lengths = [1, 3, 5, 2]
    rows = [[10 * r + i for i in range(1, n + 2)] for r, n in enumerate(lengths)]
    items = [[0] * (6 - len(row) + 1) + row[:-1] for row in rows]
    positives = [[0] * (6 - len(row) + 1) + row[1:] for row in rows]
    return tf.constant(items, tf.int32), tf.constant(positives, tf.int32), rows


def test_random_cut_gives_a_prefix_and_its_next_item_at_every_position():
    items, positives, rows = _toy_next_item_batch()
    cuts_seen = [set() for _ in rows]
    for seed in range(60):
        query, target = de.random_cut(items, positives, tf.constant([seed, 7], tf.int64))
        again, _ = de.random_cut(items, positives, tf.constant([seed, 7], tf.int64))
        np.testing.assert_array_equal(query.numpy(), again.numpy())
        for r, row in enumerate(rows):
            real = query.numpy()[r][query.numpy()[r] != 0]
            length = len(real)
            assert 1 <= length < len(row)
            np.testing.assert_array_equal(query.numpy()[r][-length:], row[:length])  # left-padded
            assert target.numpy()[r] == row[length]
            cuts_seen[r].add(length)
    assert cuts_seen == [set(range(1, len(row))) for row in rows]


def test_training_pairs_are_fresh_each_epoch_and_seeded():
    items, positives, _ = _toy_next_item_batch()
    batches = tf.data.Dataset.from_tensors({"items": items, "positives": positives}).repeat(4)

    def two_epochs():
        tf.keras.utils.set_random_seed(3)
        pairs = de.training_pairs(batches, seed=5)
        return [np.concatenate([b["target"].numpy() for b in pairs]) for _ in range(2)]

    first, second = two_epochs()
    assert not np.array_equal(first, second)
    for a, b in zip(two_epochs(), (first, second)):
        np.testing.assert_array_equal(a, b)

    last = next(iter(de.training_pairs(batches, pairing="last")))
    np.testing.assert_array_equal(last["items"].numpy(), items.numpy())
    np.testing.assert_array_equal(last["target"].numpy(), positives.numpy()[:, -1])
    with pytest.raises(ValueError, match="pairing"):
        de.training_pairs(batches, pairing="all")


def test_loss_decreases(trained):
    losses = trained.history.history["epoch_loss"]
    assert np.mean(losses[-5:]) < 0.8 * losses[0], losses


def _hit_rate_at_10(scores, batch, num_items):
    """Full ranking over items 1..N with the user's seen items removed."""
    scores = np.array(scores, np.float64)[:, :num_items + 1]
    scores[:, 0] = -np.inf
    seen = batch["seen"]
    scores[seen.value_rowids().numpy(), seen.values.numpy()] = -np.inf
    target = batch["target"].numpy()
    target_scores = scores[np.arange(len(target)), target]
    rank = 1 + (scores > target_scores[:, None]).sum(axis=1)
    return float(np.mean((rank <= 10) & np.isfinite(target_scores)))


def test_beats_most_popular_on_the_validation_targets(trained, synthetic, valid_batch):
    num_items = data.load_metadata(synthetic).num_items
    users = user_vectors(trained, valid_batch["items"].numpy())
    items = trained.item_embeddings().numpy()
    assert items.shape == (num_items + 2, users.shape[1])
    model_hr = _hit_rate_at_10(users @ items.T, valid_batch, num_items)
    popularity = np.tile(data.item_counts(synthetic).astype(np.float64),
                         (len(valid_batch["target"]), 1))
    popular_hr = _hit_rate_at_10(popularity, valid_batch, num_items)
    assert model_hr > 1.5 * popular_hr, (model_hr, popular_hr)


def test_same_seed_same_model(synthetic):
    def weights():
        model = de.train_dual_encoder(synthetic, max_len=20, epochs=2, batch_size=64, seed=4,
                                      verbose=0, sampling_correction=True, filters=8,
                                      embedding_dim=8)
        return [w.numpy() for w in model.weights]

    for a, b in zip(weights(), weights()):
        np.testing.assert_array_equal(a, b)

