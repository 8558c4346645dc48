"""The downstream protocol: user splits, label fractions, task examples, transfer modes."""

import dataclasses

import keras
import numpy as np
import pytest

from tfbt import data, downstream
from tfbt.layers import DownstreamHead, ItemEmbeddingHead
from tfbt.layers.encoders import CNNEncoder
from tfbt.models import encoder_model

MAX_LEN = 20
LABELS = ["favorite_genre", "gender"]
FIT = downstream.FitConfig(head_learning_rates=(1e-2,), head_epochs=3, encoder_epochs=1,
                           patience=2, min_steps_per_epoch=2)


@pytest.fixture(scope="module")
def synthetic(synthetic_data):
    return synthetic_data(400, 150, 25)


@pytest.fixture(scope="module")
def users(synthetic):
    return downstream.load_users(synthetic, LABELS)


@pytest.fixture(scope="module")
def split(users):
    return downstream.split_users(len(users.sequences), seed=0)


@pytest.fixture(scope="module")
def encoder(synthetic):
    keras.utils.set_random_seed(0)
    meta = data.load_metadata(synthetic)
    return encoder_model(CNNEncoder(meta.vocab_size, embedding_dim=16, filters=16), MAX_LEN)


def test_load_users_returns_whole_sequences_and_labels(synthetic, users):
    meta = data.load_metadata(synthetic)
    assert len(users.sequences) == meta.num_users == 400
    assert sum(len(s) for s in users.sequences) == meta.num_interactions
    first = next(iter(data.make_dataset(synthetic, mode="eval", split="valid", batch_size=400,
                                        max_len=500, labels=LABELS)))
    row = {uid: i for i, uid in enumerate(users.user_id)}[int(first["user_id"][0])]
    np.testing.assert_array_equal(users.sequences[row][:-2], first["seen"][0].numpy())
    assert users.sequences[row][-2] == int(first["target"][0])
    assert users.labels["gender"][row] == int(first["gender"][0])
    assert users.num_classes["favorite_genre"] == len(meta.labels["favorite_genre"])


def test_user_split_is_disjoint_complete_and_seeded(split):
    parts = [split.train, split.valid, split.test]
    assert [len(p) for p in parts] == [280, 40, 80]
    assert len(np.unique(np.concatenate(parts))) == 400
    again = downstream.split_users(400, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(parts, [again.train, again.valid,
                                                             again.test]))
    assert not np.array_equal(downstream.split_users(400, seed=1).test, split.test)
    with pytest.raises(ValueError, match="cannot be split"):
        downstream.split_users(3, valid_fraction=0.1, test_fraction=0.1)


def test_label_subsets_are_nested_limited_and_inside_the_training_pool(split):
    subsets = [downstream.label_subset(split.train, f, seed=3) for f in (0.01, 0.05, 0.25, 1.0)]
    assert [len(s) for s in subsets] == [3, 14, 70, 280]
    for small, large in zip(subsets, subsets[1:]):
        assert set(small) <= set(large)
    assert set(subsets[-1]) == set(split.train)
    assert not set(subsets[-1]) & (set(split.valid) | set(split.test))
    assert not np.array_equal(downstream.label_subset(split.train, 0.25, seed=4), subsets[2])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        downstream.label_subset(split.train, 0.0, seed=0)


def test_task_examples_follow_the_protocol(users, split):
    genre = downstream.make_task(users, split, "favorite_genre", max_len=MAX_LEN)
    row = genre.test.rows[0]
    expected = data.left_pad([users.sequences[row][:-2]], MAX_LEN).numpy()[0]
    np.testing.assert_array_equal(genre.test.items[0], expected)
    assert genre.test.targets[0] == users.labels["favorite_genre"][row]

    task = downstream.make_task(users, split, "next_item", max_len=MAX_LEN, cuts=3,
                                next_item_end="second-to-last")
    assert set(task.train.rows) == set(split.train)
    assert len(task.valid) == len(split.valid) and len(task.test) == len(split.test)
    seq = users.sequences[split.train[0]]
    first = task.train.rows == split.train[0]
    np.testing.assert_array_equal(task.train.targets[first], seq[[-2, -3, -4]])
    np.testing.assert_array_equal(task.train.seen[np.flatnonzero(first)[0]], seq[:-2])
    test_seq = users.sequences[task.test.rows[0]]
    assert task.test.targets[0] == test_seq[-1]
    np.testing.assert_array_equal(task.test.seen[0], test_seq[:-1])
    with pytest.raises(ValueError, match="unknown task 'age'"):
        downstream.make_task(users, split, "age", max_len=MAX_LEN)


def test_next_item_examples_end_at_the_last_item_like_the_test_users(users, split):
    task = downstream.make_task(users, split, "next_item", max_len=MAX_LEN, cuts=2)
    seq = users.sequences[split.train[0]]
    first = task.train.rows == split.train[0]
    np.testing.assert_array_equal(task.train.targets[first], seq[[-1, -2]])
    np.testing.assert_array_equal(task.train.seen[np.flatnonzero(first)[0]], seq[:-1])
    valid_seq = users.sequences[task.valid.rows[0]]
    assert task.valid.targets[0] == valid_seq[-1]
    np.testing.assert_array_equal(task.valid.seen[0], valid_seq[:-1])
    test_seq = users.sequences[task.test.rows[0]]
    assert task.test.targets[0] == test_seq[-1]
    earlier = downstream.make_task(users, split, "next_item", max_len=MAX_LEN,
                                   next_item_end="second-to-last")
    np.testing.assert_array_equal(task.item_counts, earlier.item_counts)  # no target counted
    with pytest.raises(ValueError, match="next_item_end must be one of"):
        downstream.make_task(users, split, "next_item", max_len=MAX_LEN, next_item_end="first")


def test_probe_label_splits_the_users_in_halves_by_seed(synthetic, encoder):
    first = downstream.probe_label(encoder, synthetic, "favorite_genre", max_len=MAX_LEN,
                                   seed=0, epochs=20)
    assert (first["num_train"], first["num_test"]) == (200, 200)
    assert 0.0 <= first["accuracy"] <= 1.0 and 0.0 <= first["macro_f1"] <= 1.0
    again = downstream.probe_label(encoder, synthetic, "favorite_genre", max_len=MAX_LEN,
                                   seed=0, epochs=20)
    assert again == first
    with pytest.raises(ValueError, match="no label 'income'"):
        downstream.probe_label(encoder, synthetic, "income", max_len=MAX_LEN)


def _features(encoder, task):
    return {role: encoder.predict(getattr(task, role).items, verbose=0)
            for role in ("train", "valid", "test")}


def test_labels_outside_the_fraction_are_never_used(users, split, encoder):
    task = downstream.make_task(users, split, "gender", max_len=MAX_LEN)
    labelled = task.labelled(0.05, seed=0)
    assert labelled.sum() == 14
    features = _features(encoder, task)
    first = downstream.train_frozen(task, features, labelled, FIT, seed=0)
    targets = task.train.targets.copy()
    targets[~labelled] = 1 - targets[~labelled]  # flip every label the fraction hides
    flipped = downstream.Task(task.name, task.num_outputs,
                              downstream.Examples(task.train.items, targets, task.train.rows),
                              task.valid, task.test)
    second = downstream.train_frozen(flipped, features, labelled, FIT, seed=0)
    assert first.num_train == second.num_train == 14
    assert first.test == second.test
    np.testing.assert_allclose(first.model.predict(features["test"], verbose=0),
                               second.model.predict(features["test"], verbose=0), atol=1e-6)


def test_frozen_keeps_and_finetuned_changes_the_encoder(users, split, encoder):
    task = downstream.make_task(users, split, "favorite_genre", max_len=MAX_LEN)
    labelled = task.labelled(0.25, seed=0)
    before = [w.copy() for w in encoder.get_weights()]
    probe = downstream.train_frozen(task, _features(encoder, task), labelled, FIT, seed=0)
    assert set(probe.test) == {"accuracy", "macro_f1"} and 0 <= probe.test["accuracy"] <= 1
    tuned = downstream.train_finetuned(task, encoder, probe, labelled, FIT, seed=0)
    scratch = downstream.train_scratch(task, encoder, labelled, FIT, seed=0)
    for original, now in zip(before, encoder.get_weights()):
        np.testing.assert_array_equal(original, now)  # the shared encoder is never modified
    assert tuned.l2 == probe.l2 and tuned.valid_score >= probe.valid_score
    assert tuned.kept_start == (tuned.epochs == 0)
    if not tuned.kept_start:  # fine-tuned at the LP-FT rate: a changed copy of the encoder
        rate = probe.learning_rate or min(FIT.head_learning_rates)  # 0: the prior was kept
        assert tuned.learning_rate == pytest.approx(rate * FIT.finetune_scale)
        assert any(not np.allclose(a, b) for a, b in
                   zip(before, tuned.model.get_layer("user_encoder").get_weights()))
    else:  # fine-tuning never beat the probe on validation: the probe was kept
        assert tuned.test == probe.test
    if scratch.epochs:  # trained: a new encoder
        assert any(not np.allclose(a, b) for a, b in
                   zip(before, scratch.model.get_layer("user_encoder").get_weights()))
    else:  # training never beat the untrained start on validation: the prior was kept
        predicted = np.argmax(scratch.model.predict(task.test.items, verbose=0), axis=1)
        assert np.all(predicted == np.argmax(task.log_prior(labelled)))


def test_finetuning_that_hurts_on_validation_is_not_kept(users, split, encoder):
    task = downstream.make_task(users, split, "next_item", max_len=MAX_LEN, cuts=2)
    labelled = task.labelled(0.05, seed=0)
    probe = downstream.train_frozen(task, _features(encoder, task), labelled, FIT, seed=0)
    wild = dataclasses.replace(FIT, finetune_scale=1e4)  # steps that wreck the encoder
    tuned = downstream.train_finetuned(task, encoder, probe, labelled, wild, seed=0)
    assert tuned.kept_start and tuned.epochs == 0 and tuned.learning_rate == 0.0
    assert tuned.valid_score == pytest.approx(probe.valid_score)
    assert tuned.test == pytest.approx(probe.test)


def test_next_item_head_is_ranked_with_seen_items_removed(users, split, encoder):
    task = downstream.make_task(users, split, "next_item", max_len=MAX_LEN, cuts=2)
    outcome = downstream.train_frozen(task, _features(encoder, task), task.labelled(1.0, 0),
                                      FIT, seed=0)
    assert set(outcome.test) == {"recall@5", "recall@10"}
    assert 0 <= outcome.test["recall@5"] <= outcome.test["recall@10"] <= 1
    # A scorer that puts each test target first scores 1, unless the target was already seen.
    targets = task.test.targets

    def oracle(rows):
        scores = np.zeros((len(rows), users.num_items), np.float32)
        scores[np.arange(len(rows)), targets[rows] - 1] = 1.0
        return scores

    rows = np.arange(len(task.test))
    result = downstream.next_item_scores(lambda x: x, oracle(rows), task.test)
    repeats = np.mean([t in seen for t, seen in zip(targets, task.test.seen)])
    assert result["HR@5"] == pytest.approx(1 - repeats)


def test_head_layer_contract(layer_test):
    head = DownstreamHead(5, hidden_units=8, dropout=0.1, mean=np.zeros(4),
                          variance=np.full(4, 4.0), output_bias=np.log(np.full(5, 0.2)), l2=1e-3)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    layer_test(head, x, expected_output_shape=(3, 5))
    with pytest.raises(ValueError, match="num_outputs"):
        DownstreamHead(0)
    with pytest.raises(ValueError, match="output_bias has 2 values for 5 outputs"):
        DownstreamHead(5, output_bias=[0.0, 0.0])


def test_head_penalty_pulls_the_bias_towards_the_prior_not_zero():
    prior = np.log([0.7, 0.2, 0.1])
    kernel = np.full((2, 3), 0.5, "float32")
    for head in (DownstreamHead(3, output_bias=prior, l2=0.1),
                 ItemEmbeddingHead(3, 3, output_bias=prior, l2=0.1, item_embeddings=np.eye(3))):
        head(np.zeros((1, 2), "float32"))
        assert float(sum(head.losses)) == pytest.approx(0.0, abs=1e-6)  # the start is free
        bias = prior + np.array([1.0, 0.0, -2.0])
        head.set_linear(kernel, bias.astype("float32"))
        head(np.zeros((1, 2), "float32"))
        assert float(sum(head.losses)) == pytest.approx(0.1 * (np.sum(kernel ** 2) + 5.0),
                                                        rel=1e-5)


def test_heads_start_at_the_trivial_baseline(synthetic, users, split, encoder):
    genre = downstream.make_task(users, split, "favorite_genre", max_len=MAX_LEN)
    labelled = genre.labelled(0.05, seed=0)
    prior = genre.log_prior(labelled)
    counts = np.bincount(genre.train.targets[labelled], minlength=genre.num_outputs)
    np.testing.assert_allclose(np.exp(prior), (counts + 1) / (counts + 1).sum(), rtol=1e-5)
    head = DownstreamHead(genre.num_outputs, hidden_units=4, output_bias=prior)
    features = _features(encoder, genre)["test"]
    assert np.all(np.argmax(np.asarray(head(features)), axis=1) == counts.argmax())

    # Next item: the popularity the most-popular baseline ranks by, which the dataset gives
    # without the downstream task (every user's training part, no held-out target).
    next_item = downstream.make_task(users, split, "next_item", max_len=MAX_LEN, cuts=2)
    popularity = data.item_counts(synthetic)[1:]
    np.testing.assert_array_equal(next_item.item_counts, popularity)
    prior = next_item.log_prior(next_item.labelled(0.01, seed=0))  # labels play no part
    np.testing.assert_allclose(np.exp(prior), (popularity + 1) / (popularity + 1).sum(),
                               rtol=1e-5)


def test_frozen_heads_never_fall_below_the_prior_on_validation(users, split, encoder):
    task = downstream.make_task(users, split, "gender", max_len=MAX_LEN)
    labelled = task.labelled(0.01, seed=0)
    features = _features(encoder, task)
    outcome = downstream.train_frozen(task, features, labelled, FIT, seed=0)
    majority = np.argmax(task.log_prior(labelled))
    assert outcome.valid_score >= np.mean(task.valid.targets == majority)
    assert outcome.l2 in FIT.head_l2s


def test_lbfgs_matches_scipy_on_a_softmax_regression():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 5)), rng.integers(0, 4, 60)
    table, bias = rng.normal(size=(4, 3)), np.log([0.4, 0.3, 0.2, 0.1])
    for l2, out in ((1e-2, None), (1e-3, table)):
        weights, b = downstream.fit_softmax_regression(x, y, l2=l2, bias=bias, table=out)

        def loss(theta, shape=weights.shape, out=out, l2=l2):
            w, c = theta[:np.prod(shape)].reshape(shape), theta[np.prod(shape):]
            logits = x @ w @ (np.eye(4) if out is None else out.T) + c
            logits -= logits.max(axis=1, keepdims=True)
            log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            return (-log_probs[np.arange(len(y)), y].mean()
                    + l2 * (np.sum(w ** 2) + np.sum((c - bias) ** 2)))

        ours = loss(np.concatenate([weights.ravel(), b]).astype(np.float64))
        reference = scipy_optimize.minimize(loss, np.zeros(weights.size + 4), method="L-BFGS-B")
        assert ours == pytest.approx(reference.fun, abs=1e-5)
        assert ours < loss(np.concatenate([np.zeros(weights.size), bias]))  # it learned


def test_lbfgs_warm_start_reaches_the_same_optimum():
    """The L2 path warm-starts each fit from the previous penalty's solution."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(80, 6)), rng.integers(0, 5, 80)
    bias = np.log(np.full(5, 0.2))
    strong = downstream.fit_softmax_regression(x, y, l2=1e-1, bias=bias)
    cold = downstream.fit_softmax_regression(x, y, l2=1e-3, bias=bias)
    warm = downstream.fit_softmax_regression(x, y, l2=1e-3, bias=bias, start=strong)
    np.testing.assert_allclose(warm[0], cold[0], atol=1e-3)
    np.testing.assert_allclose(warm[1], cold[1], atol=1e-3)
    assert not np.allclose(strong[0], cold[0], atol=1e-2)  # the start was elsewhere


def test_lbfgs_probe_and_item_embedding_head(users, split, encoder):
    lbfgs = dataclasses.replace(FIT, probe="lbfgs", lbfgs_iterations=50)
    gender = downstream.make_task(users, split, "gender", max_len=MAX_LEN)
    probe = downstream.train_frozen(gender, _features(encoder, gender),
                                    gender.labelled(0.25, 0), lbfgs, seed=0)
    assert (probe.learning_rate, probe.epochs) == (0.0, 0) and probe.l2 in FIT.head_l2s
    assert set(probe.test) == {"accuracy", "macro_f1"}

    task = downstream.make_task(users, split, "next_item", max_len=MAX_LEN, cuts=2)
    table = downstream.item_embedding_table(encoder, users.num_items)
    assert table.shape == (users.num_items, 16)
    features, labelled = _features(encoder, task), task.labelled(0.25, 0)
    embeddings = dataclasses.replace(FIT, next_item_head="item-embeddings")
    with pytest.raises(ValueError, match="item embeddings"):
        downstream.train_frozen(task, features, labelled, embeddings, seed=0)
    for config in (embeddings, dataclasses.replace(lbfgs, next_item_head="item-embeddings")):
        outcome = downstream.train_frozen(task, features, labelled, config, seed=0,
                                          item_embeddings=table)
        head = outcome.model.get_layer("head")
        assert isinstance(head, ItemEmbeddingHead)
        np.testing.assert_array_equal(np.asarray(head.table), table)  # pretrained, kept fixed
        assert 0 <= outcome.test["recall@5"] <= outcome.test["recall@10"] <= 1
    tuned = downstream.train_finetuned(task, encoder, outcome, labelled, FIT, seed=0)
    assert isinstance(tuned.model.layers[-1], ItemEmbeddingHead)


@pytest.mark.parametrize("flags, message", [
    ({"probe": "sgd"}, "probe must be one of"),
    ({"next_item_head": "mlp"}, "next_item_head must be one of"),
    ({"probe": "lbfgs", "hidden_units": 8}, "L-BFGS probe is linear"),
    ({"head_l2s": (-1.0,)}, "head_l2s"),
    ({"selection_se": -0.5}, "selection_se"),
])
def test_bad_fit_settings_are_rejected(flags, message):
    with pytest.raises(ValueError, match=message):
        downstream.FitConfig(**flags)


def test_selection_keeps_the_simplest_candidate_within_one_paired_standard_error():
    from tfbt.downstream.protocol import _simplest_within_se

    def hits(*users):  # 1 for the validation users (of 100) a candidate gets right
        out = np.zeros(100)
        out[np.r_[users]] = 1
        return out

    start = hits(np.arange(30))  # validation score 0.30
    reshuffled = hits(np.arange(40, 74))  # 0.34 on other users: a paired error of 0.08
    same_plus = hits(np.arange(34))  # 0.34: the start's users and 4 more (error 0.02)
    assert _simplest_within_se([start, reshuffled], 1.0) == 0
    assert _simplest_within_se([start, same_plus], 1.0) == 1
    assert _simplest_within_se([start, reshuffled], 0.0) == 1  # tolerance 0: the best
    assert _simplest_within_se([same_plus, start, same_plus], 0.0) == 0  # the first of equals


def test_item_embedding_head_layer_contract(layer_test):
    rng = np.random.default_rng(0)
    head = ItemEmbeddingHead(6, 3, hidden_units=5, mean=np.zeros(4), variance=np.ones(4),
                             output_bias=np.log(np.arange(1, 7) / 21), l2=1e-3,
                             item_embeddings=rng.normal(size=(6, 3)))
    x = rng.normal(size=(2, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(head(x)), np.tile(np.log(np.arange(1, 7) / 21),
                                                            (2, 1)), rtol=1e-5)
    layer_test(ItemEmbeddingHead(6, 3, output_bias=np.zeros(6),
                                 item_embeddings=rng.normal(size=(6, 3))),
               x, expected_output_shape=(2, 6))
    with pytest.raises(ValueError, match="item_embeddings has shape"):
        ItemEmbeddingHead(6, 3, item_embeddings=np.zeros((5, 3)))
