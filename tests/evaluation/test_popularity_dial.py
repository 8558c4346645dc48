"""The serving-time popularity dial in full-ranking evaluation: ``score - β·log(1 + count)``."""

import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.evaluation import ranking

NUM_USERS, NUM_ITEMS, DIM = 37, 40, 5


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    table = tf.Variable(rng.normal(size=(NUM_ITEMS + 2, DIM)).astype(np.float32))
    users = rng.normal(size=(NUM_USERS, DIM)).astype(np.float32)
    # Popular items score high on their own: the dial has something to undo.
    counts = np.concatenate([[0], np.round(np.exp(rng.normal(3, 1.5, NUM_ITEMS)))])
    table[1:NUM_ITEMS + 1, 0].assign(np.log1p(counts[1:]).astype(np.float32))
    users[:, 0] = 2.0
    targets = rng.integers(1, NUM_ITEMS + 1, size=NUM_USERS)
    seen = [rng.integers(1, NUM_ITEMS + 1, size=rng.integers(0, 10)).tolist()
            for _ in range(NUM_USERS)]
    dataset = tf.data.Dataset.from_tensor_slices({
        "items": np.arange(NUM_USERS, dtype=np.int32)[:, None], "target": targets,
        "seen": tf.ragged.constant(seen, dtype=tf.int32, ragged_rank=1)}).batch(8)
    return table, users, counts, dataset


def evaluate(case, **kwargs):
    table, users, counts, dataset = case
    return ranking.evaluate_full_ranking(
        lambda items: tf.gather(users, items[:, 0]), table, dataset, num_items=NUM_ITEMS,
        item_counts=counts, progress=False, return_ranks=True, **kwargs)


def test_zero_is_todays_ranking_and_the_penalty_equals_penalised_scores(case):
    table, users, counts, dataset = case
    plain, zero = evaluate(case), evaluate(case, popularity_penalty=0.0)
    assert np.array_equal(plain.pop("ranks"), zero.pop("ranks")) and plain == zero
    penalised = evaluate(case, popularity_penalty=0.7)
    offsets = (-0.7 * np.log1p(counts[1:])).astype(np.float32)
    by_hand = ranking.evaluate_scores(
        lambda b: tf.matmul(tf.gather(users, b["items"][:, 0]), table[1:NUM_ITEMS + 1],
                            transpose_b=True) + offsets, dataset, num_items=NUM_ITEMS,
        item_counts=counts, progress=False, return_ranks=True)
    assert np.array_equal(penalised.pop("ranks"), by_hand.pop("ranks"))
    assert {k: v for k, v in penalised.items() if k != "effective_rank"} == by_hand


def test_a_larger_penalty_recommends_less_popular_items(case):
    popularity = [evaluate(case, popularity_penalty=beta)["popularity@10"]
                  for beta in (0.0, 0.5, 2.0)]
    assert popularity[0] > popularity[1] > popularity[2]


def test_item_chunks_apply_the_same_penalty(case):
    unchunked, chunked = (evaluate(case, popularity_penalty=0.5, item_chunk_size=size)
                          for size in (None, 7))
    assert np.array_equal(unchunked.pop("ranks"), chunked.pop("ranks"))
    assert chunked["coverage@10"] == unchunked["coverage@10"]
    assert chunked["NDCG@10"] == pytest.approx(unchunked["NDCG@10"])


@pytest.mark.parametrize("beta,message", [(-0.1, ">= 0"), (float("nan"), ">= 0"),
                                          (0.5, "needs item_counts")])
def test_bad_penalties_are_refused(case, beta, message):
    table, users, _, dataset = case
    with pytest.raises(ValueError, match=message):
        ranking.evaluate_full_ranking(lambda items: tf.gather(users, items[:, 0]), table,
                                      dataset, num_items=NUM_ITEMS, popularity_penalty=beta,
                                      progress=False)
