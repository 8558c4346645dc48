"""SequentialRecommender: the loss it reports, twins handling, saving, and real learning."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt import data
from tfbt.data.synthetic import SyntheticConfig, write_synthetic
from tfbt.evaluation import ranking as evaluate
from tfbt.layers.encoders import SASRecEncoder
from tfbt.losses import barlow_twins_loss, btsr_barlow_twins_loss
from tfbt.losses.next_item import NextItemLoss
from tfbt.models.sequential import SequentialRecommender

N, L, D = 12, 6, 8


def model(alpha=0.0, length_chunks=4, loss="full", dropout=0.0, seed=0, **options):
    keras.utils.set_random_seed(seed)
    encoder = SASRecEncoder(N + 2, L, hidden_dim=D, num_blocks=1, dropout=dropout)
    recommender = SequentialRecommender(encoder, NextItemLoss(loss, num_items=N), alpha=alpha,
                                        lambd=0.1, length_chunks=length_chunks, seed=seed,
                                        **options)
    recommender.compile(optimizer=keras.optimizers.Adam(1e-2))
    recommender.build((None, L))
    return recommender


def batch():
    items = np.array([[0, 0, 0, 1, 2, 3], [0, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 9],
                      [2, 4, 6, 8, 10, 12], [0, 0, 3, 3, 5, 7]], np.int32)
    positives = np.array([[0, 0, 0, 2, 3, 4], [0, 5, 6, 7, 8, 9], [0, 0, 0, 0, 0, 1],
                          [4, 6, 8, 10, 12, 1], [0, 0, 3, 5, 7, 11]], np.int32)
    twin_items = np.array([[0, 0, 0, 0, 7, 3], [0, 0, 0, 0, 0, 0], [0, 0, 1, 2, 3, 4],
                           [0, 0, 0, 0, 0, 11], [0, 9, 8, 7, 6, 5]], np.int32)
    has_twin = np.array([True, False, True, True, True])
    return {"items": tf.constant(items), "positives": tf.constant(positives),
            "twin_items": tf.constant(twin_items), "has_twin": tf.constant(has_twin),
            "user_id": tf.range(1, 6)}


def manual_terms(recommender, b, alpha, bt_form="authors", mask="has_twin"):
    """The loss from first principles: whole-batch encoding, NumPy softmax, BT of last rows."""
    outputs = recommender.encoder(b["items"], training=False).numpy()
    positives = b["positives"].numpy()
    x, y = outputs[positives > 0], positives[positives > 0]
    table = recommender.item_embeddings().numpy().astype(np.float64)
    logits = x @ table[1:N + 1].T
    top = logits.max(axis=1)
    ce = np.mean(top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
                 - logits[np.arange(len(y)), y - 1])
    paired = b[mask].numpy()
    z1 = tf.math.l2_normalize(outputs[paired, -1], axis=-1)
    twin_outputs = recommender.encoder(b["twin_items"][paired], training=False)
    z2 = tf.math.l2_normalize(twin_outputs[:, -1], axis=-1)
    form = btsr_barlow_twins_loss if bt_form == "authors" else barlow_twins_loss
    bt = float(form(z1, z2, 0.1).loss)
    return {"ce": ce, "bt": bt, "loss": ce + alpha * bt}


@pytest.mark.parametrize("length_chunks", [0, 1, 4])
def test_reported_loss_is_the_manual_computation(length_chunks):
    recommender = model(alpha=0.5, length_chunks=length_chunks)
    b = batch()
    got = recommender.test_on_batch(b, return_dict=True)
    expected = manual_terms(recommender, b, alpha=0.5)
    for name in ("ce", "bt", "loss"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, err_msg=name)
    assert got["twin_rate"] == pytest.approx(0.8)


@pytest.mark.parametrize("bt_form", ["authors", "zbontar"])
def test_paired_rows_choose_the_pairs_and_bt_form_the_loss(bt_form):
    recommender = model(alpha=0.5, length_chunks=2, bt_form=bt_form)
    b = batch()
    b["paired"] = tf.constant([True, True, False, True, True])
    b["twin_items"] = tf.tensor_scatter_nd_update(b["twin_items"], [[1]], b["items"][1:2])
    got = recommender.test_on_batch(b, return_dict=True)
    expected = manual_terms(recommender, b, alpha=0.5, bt_form=bt_form, mask="paired")
    for name in ("ce", "bt", "loss"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, err_msg=name)
    assert got["twin_rate"] == pytest.approx(0.8)  # true twins, not the self-paired row


def test_dropout_pairs_add_a_term_in_training_only():
    recommender = model(alpha=0.5, length_chunks=1, dropout=0.3, dropout_pair_weight=0.2)
    b = batch()
    assert "bt_dropout" not in {k for k, v in recommender.test_on_batch(b, return_dict=True)
                                .items() if v}
    logs = recommender.train_on_batch(b, return_dict=True)
    assert logs["bt_dropout"] > 0
    assert logs["loss"] == pytest.approx(logs["ce"] + 0.5 * logs["bt"] + 0.2 * logs["bt_dropout"],
                                         rel=1e-4)


def test_alpha_zero_ignores_twins_and_btsr_requires_them():
    b = batch()
    plain = {k: v for k, v in b.items() if k not in ("twin_items", "has_twin")}
    sasrec = model(alpha=0.0, length_chunks=1)
    with_twins = sasrec.test_on_batch(b, return_dict=True)
    assert set(with_twins) == {"loss", "ce"}
    assert with_twins == sasrec.test_on_batch(plain, return_dict=True)
    # Out-of-vocabulary twins would fail the embedding lookup if they were ever encoded.
    sasrec.train_on_batch({**b, "twin_items": tf.fill([5, L], 10_000)})
    with pytest.raises(ValueError, match="twin_items"):
        model(alpha=0.5, length_chunks=1).train_on_batch(plain)


def test_training_lowers_the_loss_and_the_saved_model_serves_the_same_users(tmp_path):
    recommender = model(alpha=0.5, loss="sce", length_chunks=1)
    b = batch()
    before = recommender.test_on_batch(b, return_dict=True)["ce"]
    for _ in range(20):
        recommender.train_on_batch(b)
    assert recommender.test_on_batch(b, return_dict=True)["ce"] < before
    users = recommender.user_embeddings(b["items"])
    np.testing.assert_allclose(users, recommender.encoder(b["items"])[:, -1], atol=1e-6)
    np.testing.assert_allclose(recommender(b), users, atol=1e-6)

    recommender.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert loaded.get_config()["alpha"] == 0.5 and loaded.next_item_loss.loss == "sce"
    np.testing.assert_allclose(loaded.user_embeddings(b["items"]), users, atol=1e-6)


def test_bad_arguments_are_named():
    encoder = SASRecEncoder(N + 2, L, hidden_dim=D, num_blocks=1)
    with pytest.raises(ValueError, match="alpha"):
        SequentialRecommender(encoder, NextItemLoss(num_items=N), alpha=-1)
    with pytest.raises(ValueError, match="num_items"):
        SequentialRecommender(encoder, NextItemLoss(num_items=N + 1))
    with pytest.raises(ValueError, match="length_chunks"):
        SequentialRecommender(encoder, NextItemLoss(num_items=N), length_chunks=-1)


def test_sasrec_learns_the_synthetic_data_far_better_than_popularity(tmp_path):
    meta = write_synthetic(tmp_path / "d", SyntheticConfig(num_users=1200, num_items=300,
                                                           mean_length=20), progress=False)
    keras.utils.set_random_seed(0)
    encoder = SASRecEncoder(meta.vocab_size, 20, hidden_dim=32, num_blocks=1, dropout=0.1)
    recommender = SequentialRecommender(encoder, NextItemLoss("full", num_items=meta.num_items),
                                        length_chunks=1)
    recommender.compile(optimizer=keras.optimizers.Adam(5e-3))
    train = data.make_dataset(tmp_path / "d", mode="next_item", batch_size=128, max_len=20,
                              shuffle=True, seed=0)
    recommender.fit(train, epochs=3, verbose=0)
    valid = data.make_dataset(tmp_path / "d", mode="eval", split="valid", max_len=20,
                              batch_size=512)
    model_metrics = evaluate.evaluate_full_ranking(
        recommender.user_embeddings, recommender.item_embeddings(), valid,
        num_items=meta.num_items, progress=False)
    popular = evaluate.most_popular_baseline(valid, data.item_counts(tmp_path / "d"),
                                             num_items=meta.num_items, progress=False)
    assert model_metrics["NDCG@10"] > 2 * popular["NDCG@10"]
    assert model_metrics["HR@10"] > 1.5 * popular["HR@10"]
