"""Full-ranking evaluation: hand-built catalogues with known answers and a NumPy brute force."""

import math

import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.evaluation import metrics
from tfbt.evaluation import ranking as evaluate

N = 6  # items 1..6; row 0 is padding, row 7 the mask token


def item_table(padding_and_mask_score=100.0):
    """[N + 2, 2]: item i scores i against the user vector (1, 0); padding/mask would win."""
    table = np.zeros((N + 2, 2), np.float32)
    table[1:N + 1, 0] = np.arange(1, N + 1)
    table[[0, N + 1], 0] = padding_and_mask_score
    return table


def batch(targets, seen, user=(1.0, 0.0)):
    size = len(targets)
    return {"items": tf.ones([size, 3], tf.int32), "target": tf.constant(targets, tf.int32),
            "seen": tf.ragged.constant(seen, dtype=tf.int32, ragged_rank=1,
                                       row_splits_dtype=tf.int64),
            "user_vector": tf.constant([user] * size, tf.float32)}


def from_batch(user_vectors):
    """A user encoder that ignores the items: the tests choose the user vectors."""
    return lambda items: user_vectors


def run(batches, **kwargs):
    kwargs.setdefault("num_items", N)
    kwargs.setdefault("progress", False)
    table = kwargs.pop("table", item_table())
    return evaluate.evaluate_scores(
        lambda b: tf.matmul(b["user_vector"], table[1:N + 1], transpose_b=True), batches,
        **kwargs)


def ranks_and_top_k(targets, seen, scores, k=3):
    ranks, top_k = evaluate.rank_and_top_k(
        tf.constant(scores, tf.float32), tf.constant(targets),
        None if seen is None else tf.ragged.constant(seen, dtype=tf.int32), k)
    return ranks.numpy().tolist(), top_k.numpy().tolist()


def test_ranks_and_top_k_without_filtering():
    scores = np.tile(np.arange(1, N + 1, dtype=np.float32), (2, 1))
    assert ranks_and_top_k([6, 2], None, scores) == ([1, 5], [[6, 5, 4], [6, 5, 4]])


def test_seen_items_are_removed_and_a_seen_target_is_unreachable():
    scores = np.tile(np.arange(1, N + 1, dtype=np.float32), (3, 1))
    ranks, top_k = ranks_and_top_k([3, 3, 6], [[6, 5], [3], [1, 2, 3, 4, 5]], scores)
    # User 0: only item 4 beats 3 once 5 and 6 are gone. User 1: its target was seen, so it is
    # scored -inf and ranks last. User 2 saw all but item 6: its other top-K slots are empty.
    assert ranks == [2, N, 1]
    assert top_k == [[4, 3, 2], [6, 5, 4], [6, 0, 0]]


def test_ties_are_pessimistic():
    constant = np.zeros((2, N), np.float32)
    ranks, _ = ranks_and_top_k([1, 4], None, constant)
    assert ranks == [N, N]
    tied = np.array([[5, 5, 1, 5, 0, 0]], np.float32)   # target 2 ties with items 1 and 4
    assert ranks_and_top_k([2], None, tied)[0] == [3]


def test_constant_scores_get_no_credit():
    results = run([batch([1, 4], [[], []], user=(0.0, 0.0))], ks=(1, 5))
    assert results["HR@5"] == 0.0
    assert results["MRR"] == pytest.approx(1 / N)
    # With one seen item removed, the target is last of the 5 that are left.
    assert run([batch([1], [[2]], user=(0.0, 0.0))], ks=(4,))["MRR"] == pytest.approx(1 / 5)


def test_hand_built_catalogue_end_to_end():
    batches = [batch([6, 3], [[1], [2, 6]]), batch([3], [[3]])]
    results = run(batches, ks=(1, 2))
    # Ranks: user 0 -> 1; user 1 -> 3 (4 and 5 beat item 3); user 2 saw its target -> 6.
    ranks = np.array([1, 3, N])
    assert results["num_users"] == 3
    assert results["MRR"] == pytest.approx(metrics.mrr(ranks))
    assert results["HR@2"] == pytest.approx(1 / 3)
    assert results["NDCG@2"] == pytest.approx(1 / 3)
    # Top-1 lists: 6, 5, 6 -> {5, 6}; top-2 lists add 5, 4, 5 -> {4, 5, 6}.
    assert results["coverage@1"] == pytest.approx(2 / N)
    assert results["coverage@2"] == pytest.approx(3 / N)


def test_without_filtering_seen_items_compete():
    results = run([batch([3], [[6, 5]])], ks=(1,), filter_seen=False)
    assert results["MRR"] == pytest.approx(1 / 4)


def test_padding_and_mask_rows_are_never_ranked():
    user = tf.constant([[1.0, 0.0]] * 2)
    results = evaluate.evaluate_full_ranking(
        from_batch(user), item_table(padding_and_mask_score=1e6), [batch([6, 6], [[], [1]])],
        num_items=N, ks=(1,), progress=False, return_user_embeddings=True)
    assert results["HR@1"] == 1.0       # item 6 is top: rows 0 and 7 would have beaten it
    assert results["coverage@1"] == pytest.approx(1 / N)
    np.testing.assert_allclose(results["user_embeddings"], user.numpy())
    assert results["effective_rank"] == pytest.approx(1.0)


def test_top_k_by_blocks_equals_tf_top_k_with_ties_and_masked_rows():
    rng = np.random.default_rng(0)
    for num_columns, k in [(1000, 20), (1001, 7), (50, 1), (40, 40)]:
        scores = rng.integers(0, 30, size=(6, num_columns)).astype(np.float32)
        scores[0] = 0.0
        scores[1, 3:] = -np.inf
        expected = tf.math.top_k(scores, k=k)
        values, columns = evaluate.top_k_by_blocks(tf.constant(scores), k)
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(columns.numpy(), expected.indices.numpy())


def brute_force(users, table, targets, seen, ks, filter_seen):
    """One user at a time, as a reader would check it: pessimistic rank and top-K per user."""
    ranks, top_k = [], []
    for user, target, history in zip(users, targets, seen):
        scores = table[1:-1] @ user
        if filter_seen:
            scores[np.asarray(history, int) - 1] = -np.inf
        target_score = scores[target - 1]
        ties = np.sum(scores == target_score) - 1
        ranks.append(1 + np.sum(scores > target_score) + ties)
        order = np.argsort(-scores, kind="stable")[:max(ks)]
        top_k.append(np.where(np.isfinite(scores[order]), order + 1, 0))
    return np.array(ranks), np.array(top_k)


@pytest.mark.parametrize("filter_seen", [True, False])
def test_matches_brute_force_over_several_batches(filter_seen):
    rng = np.random.default_rng(1)
    num_users, num_items, dim, ks = 37, 50, 8, (1, 5, 10)
    # Rounded embeddings make exact score ties common, so tie handling is exercised too.
    table = np.round(rng.normal(size=(num_items + 2, dim)) * 2).astype(np.float32)
    users = np.round(rng.normal(size=(num_users, dim))).astype(np.float32)
    targets = rng.integers(1, num_items + 1, size=num_users)
    seen = [rng.integers(1, num_items + 1, size=rng.integers(0, 48)).tolist()
            for _ in range(num_users)]
    seen[0] = [targets[0]]
    counts = np.concatenate([[0], rng.integers(0, 100, size=num_items)])
    genres = (rng.random((num_items + 1, 4)) < 0.4).astype(np.int64)

    dataset = tf.data.Dataset.from_tensor_slices({
        "items": np.zeros((num_users, 5), np.int32), "target": targets.astype(np.int32),
        "seen": tf.ragged.constant(seen, dtype=tf.int32, ragged_rank=1),
        "user_id": np.arange(1, num_users + 1, dtype=np.int32),
        "vector": users}).batch(8)
    results = evaluate.evaluate_scores(
        lambda b: tf.matmul(b["vector"], table[1:-1], transpose_b=True), dataset,
        num_items=num_items, ks=ks, filter_seen=filter_seen, item_counts=counts,
        item_genres=genres, progress=False)

    ranks, top_k = brute_force(users, table, targets, seen, ks, filter_seen)
    weights = metrics.item_genre_weights(genres)
    history = metrics.genre_distribution([np.array(s, int) for s in seen], weights)
    assert results["num_users"] == num_users
    assert results["MRR"] == pytest.approx(metrics.mrr(ranks))
    for k in ks:
        assert results[f"HR@{k}"] == pytest.approx(metrics.hit_rate_at_k(ranks, k))
        assert results[f"NDCG@{k}"] == pytest.approx(metrics.ndcg_at_k(ranks, k))
        assert results[f"coverage@{k}"] == pytest.approx(
            metrics.coverage_at_k(top_k[:, :k], num_items))
        bias = metrics.popularity_bias(top_k[:, :k], counts)
        assert results[f"popularity@{k}"] == pytest.approx(bias.mean_percentile)
        assert results[f"long_tail@{k}"] == pytest.approx(bias.long_tail_share)
        assert results[f"calibration_kl@{k}"] == pytest.approx(metrics.calibration_kl(
            history, metrics.genre_distribution(top_k[:, :k], weights)))
    if filter_seen:
        assert ranks[0] == num_items


@pytest.mark.parametrize("filter_seen", [True, False])
def test_dot_product_path_pads_the_catalogue_to_whole_blocks_exactly(filter_seen):
    """The dot-product path scores padding columns that fill the last top-K block: they must
    never be ranked, listed or counted, whatever the ties and the users who saw everything."""
    rng = np.random.default_rng(2)
    num_users, num_items, dim, ks = 29, 50, 8, (1, 3)  # blocks of 4: 2 padding columns
    assert evaluate._block_padding(num_items, max(ks)) == 2
    table = np.round(rng.normal(size=(num_items + 2, dim)) * 2).astype(np.float32)
    users = np.round(rng.normal(size=(num_users, dim))).astype(np.float32)
    targets = rng.integers(1, num_items + 1, size=num_users)
    seen = [rng.integers(1, num_items + 1, size=rng.integers(0, 48)).tolist()
            for _ in range(num_users)]
    seen[0], seen[1] = [targets[0]], [i for i in range(1, num_items + 1) if i != targets[1]]
    ragged = tf.ragged.constant(seen, dtype=tf.int32, ragged_rank=1)

    padded = np.pad(users @ table[1:-1].T, [[0, 0], [0, 2]])  # padding columns score 0
    ranks, top_k = evaluate.rank_and_top_k(tf.constant(padded), targets, ragged if filter_seen
                                           else None, max(ks), padding=2)
    expected_ranks, expected_top_k = brute_force(users, table, targets, seen, ks, filter_seen)
    np.testing.assert_array_equal(ranks.numpy(), expected_ranks)
    np.testing.assert_array_equal(top_k.numpy(), expected_top_k)

    dataset = tf.data.Dataset.from_tensor_slices({
        "items": np.arange(num_users, dtype=np.int32)[:, None], "target": targets.astype(
            np.int32), "seen": ragged}).batch(8)
    results = evaluate.evaluate_full_ranking(
        lambda items: tf.gather(users, items[:, -1]), table, dataset, num_items=num_items,
        ks=ks, filter_seen=filter_seen, progress=False)
    assert results["MRR"] == pytest.approx(metrics.mrr(expected_ranks))
    for k in ks:
        assert results[f"NDCG@{k}"] == pytest.approx(metrics.ndcg_at_k(expected_ranks, k))
        assert results[f"coverage@{k}"] == pytest.approx(
            metrics.coverage_at_k(expected_top_k[:, :k], num_items))


def test_keras_model_and_variable_through_full_ranking():
    import keras

    embedding = keras.layers.Embedding(N + 2, 4)
    items = keras.Input(shape=(3,), dtype="int32")
    encoder = keras.Model(items, keras.layers.GlobalAveragePooling1D()(embedding(items)))
    batches = [batch([1, 2, 3], [[4], [5], [6]]), batch([4], [[1, 2]])]
    results = evaluate.evaluate_full_ranking(encoder, embedding.embeddings, batches,
                                             num_items=N, ks=(2,), progress=False)
    assert results["num_users"] == 4
    assert 1 / N <= results["MRR"] <= 1.0


def test_most_popular_baseline():
    counts = np.array([0, 10, 50, 40, 0, 30, 20])     # popularity order: 2, 3, 5, 6, 1, 4
    results = evaluate.most_popular_baseline(
        [batch([3, 5, 4], [[2], [2, 3], []])], counts, num_items=N, ks=(1, 3), progress=False)
    # Ranks: 3 is top once 2 is seen -> 1; 5 is top once 2, 3 are seen -> 1; 4 is last -> 6.
    assert results["MRR"] == pytest.approx((1 + 1 + 1 / N) / 3)
    assert results["HR@1"] == pytest.approx(2 / 3)
    assert results["coverage@1"] == pytest.approx(3 / N)     # {3, 5, 2}
    assert results["popularity@1"] > 0.6 and "long_tail@1" in results


def test_calibration_and_popularity_reported_only_when_given():
    results = run([batch([6], [[1]])], ks=(1,))
    assert not any(key.startswith(("popularity", "long_tail", "calibration")) for key in results)
    results = run([batch([6], [[1]])], ks=(1,), item_genres=[[], ["a"], ["a"], ["b"], [], [],
                                                                  ["b"]])
    # History genre (a) vs recommending item 6 (b): KL = log(1 / 0.01).
    assert results["calibration_kl@1"] == pytest.approx(math.log(100))


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="item_embeddings: has 5 rows"):
        evaluate.evaluate_full_ranking(from_batch(None), np.zeros((5, 2)), [], num_items=N)
    with pytest.raises(ValueError, match="missing keys \\['seen'\\]"):
        run([{"target": tf.constant([1]), "user_vector": tf.constant([[1.0, 0.0]])}], ks=(1,))
    with pytest.raises(ValueError, match="'seen' must be a tf.RaggedTensor"):
        run([{**batch([1], [[2]]), "seen": tf.constant([[2]])}], ks=(1,))
    with pytest.raises(ValueError, match="cut-off 10 is larger"):
        run([batch([1], [[2]])], ks=(10,))
    with pytest.raises(tf.errors.InvalidArgumentError, match="target"):
        run([batch([7], [[2]])], ks=(1,))
    with pytest.raises(tf.errors.InvalidArgumentError, match="seen"):
        run([batch([1], [[0]])], ks=(1,))
    with pytest.raises(ValueError, match="no batches"):
        run([], ks=(1,))


def test_batches_from_the_input_pipeline_evaluate(tmp_path):
    """The real pipeline's ragged `seen` (int32 row splits) goes through unchanged."""
    from tfbt import data
    from tfbt.data.synthetic import SyntheticConfig, write_synthetic

    meta = write_synthetic(tmp_path / "d", SyntheticConfig(num_users=50, num_items=40,
                                                          mean_length=10), progress=False)
    dataset = data.make_dataset(tmp_path / "d", mode="eval", split="test", max_len=8,
                                batch_size=16)
    counts = data.item_counts(tmp_path / "d")
    result = evaluate.most_popular_baseline(dataset, counts, num_items=meta.num_items, ks=(10,),
                                   progress=False)
    assert result["num_users"] == 50
    assert 0.0 <= result["HR@10"] <= 1.0


@pytest.mark.parametrize("length_chunks", [0, 3])
def test_sequential_model_fast_path_matches_a_numpy_reference(synthetic_data, length_chunks):
    """``tfbt.evaluation.full_ranking`` of a small SASRec (last-query encoder pass, length chunks, batched
    scatter of seen items, one top-K) equals a NumPy brute force on the full-sequence outputs."""
    import keras

    from tfbt import data
    from tfbt.evaluation import full_ranking
    from tfbt.runs import train

    folder = synthetic_data(60, 40, 12)
    metadata = data.load_metadata(folder)
    config = train.TrainConfig(data=str(folder), output="", max_len=16, hidden_dim=16,
                               num_blocks=2, num_heads=2,
                               length_chunks=length_chunks).resolved()
    keras.utils.set_random_seed(3)
    model = train.build_model(config, metadata)
    dataset = data.make_dataset(folder, mode="eval", split="valid", batch_size=16, max_len=16,
                                deterministic=True)    # the same order on every pass
    batches = list(dataset.as_numpy_iterator())
    items = np.concatenate([b["items"] for b in batches])
    targets = np.concatenate([b["target"] for b in batches])
    seen = [row for b in batches for row in b["seen"]]
    ks = (1, 5, 10)
    for _ in range(2):  # the second call reuses the traced step: it must see the new weights
        results = full_ranking(model, dataset, metadata.num_items, ks=ks, progress=False,
                               return_user_embeddings=True)
        users = model.encoder(items, training=False, return_sequences=True).numpy()[:, -1]
        table = model.item_embeddings().numpy()
        ranks, top_k = brute_force(users, table, targets, seen, ks, filter_seen=True)
        assert results["num_users"] == len(targets) > 40
        np.testing.assert_allclose(results["user_embeddings"], users, rtol=1e-5, atol=1e-6)
        assert results["MRR"] == metrics.mrr(ranks)
        for k in ks:
            assert results[f"HR@{k}"] == metrics.hit_rate_at_k(ranks, k)
            assert results[f"NDCG@{k}"] == metrics.ndcg_at_k(ranks, k)
            assert results[f"coverage@{k}"] == metrics.coverage_at_k(top_k[:, :k],
                                                                     metadata.num_items)
        model.item_embeddings().assign(np.random.default_rng(4).normal(size=table.shape))


@pytest.mark.parametrize("filter_seen", [True, False])
def test_item_chunks_equal_the_unchunked_path(filter_seen):
    """A running top-K over blocks of 7 items (fewer than K = 10) gives the same ranks, lists
    and metrics as scoring the 50 items at once; integer embeddings make ties common."""
    rng = np.random.default_rng(5)
    num_users, num_items, dim, ks = 29, 50, 6, (1, 5, 10)
    table = tf.Variable(np.round(rng.normal(size=(num_items + 2, dim)) * 2).astype(np.float32))
    users = np.round(rng.normal(size=(num_users, dim))).astype(np.float32)
    targets = rng.integers(1, num_items + 1, size=num_users)
    seen = [rng.integers(1, num_items + 1, size=rng.integers(0, 45)).tolist()
            for _ in range(num_users)]
    seen[0] = [targets[0]]
    dataset = tf.data.Dataset.from_tensor_slices({
        "items": np.arange(num_users, dtype=np.int32)[:, None], "target": targets,
        "seen": tf.ragged.constant(seen, dtype=tf.int32, ragged_rank=1)}).batch(8)

    def encoder(items):
        return tf.gather(users, items[:, 0])

    unchunked, chunked = (evaluate.evaluate_full_ranking(
        encoder, table, dataset, num_items=num_items, ks=ks, filter_seen=filter_seen,
        item_chunk_size=size, progress=False) for size in (None, 7))
    assert chunked == unchunked
    ranks, top_k = brute_force(users, table.numpy(), targets, seen, ks, filter_seen)
    assert chunked["MRR"] == metrics.mrr(ranks)
    assert chunked["coverage@10"] == metrics.coverage_at_k(top_k, num_items)
