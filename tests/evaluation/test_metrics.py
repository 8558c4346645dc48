"""tfbt.evaluation.metrics against hand-computed values and NumPy / SciPy references."""

import math

import numpy as np
import pytest
from scipy import special, stats

from tfbt.evaluation import metrics


def test_rank_metrics_by_hand():
    ranks = np.array([1, 3, 11, 2])
    assert metrics.hit_rate_at_k(ranks, 2) == 0.5
    assert metrics.hit_rate_at_k(ranks, 10) == 0.75
    assert metrics.ndcg_at_k(ranks, 2) == pytest.approx((1 + 1 / math.log2(3)) / 4)
    assert metrics.ndcg_at_k(ranks, 10) == pytest.approx((1 + 0.5 + 1 / math.log2(3)) / 4)
    assert metrics.ndcg_at_k(ranks, 11) == pytest.approx(
        (1 + 0.5 + 1 / math.log2(3) + 1 / math.log2(12)) / 4)
    assert metrics.mrr(ranks) == pytest.approx((1 + 1 / 3 + 1 / 11 + 1 / 2) / 4)


@pytest.mark.parametrize("ranks", [[0, 1], [1.0, 2.0], [], [[1, 2]]])
def test_rank_metrics_reject_bad_ranks(ranks):
    with pytest.raises(ValueError, match="ranks"):
        metrics.mrr(np.array(ranks))


def test_rank_metrics_reject_bad_k():
    with pytest.raises(ValueError, match="k"):
        metrics.hit_rate_at_k([1, 2], 0)


def test_coverage_counts_distinct_items_and_ignores_empty_slots():
    top_k = np.array([[1, 2], [2, 3], [1, 0]])
    assert metrics.coverage_at_k(top_k, num_items=10) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="1..10"):
        metrics.coverage_at_k(np.array([[11, 1]]), num_items=10)


def test_effective_rank_of_known_spectrum():
    rng = np.random.default_rng(0)
    left, _ = np.linalg.qr(rng.normal(size=(40, 3)))
    right, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    matrix = left @ np.diag([3.0, 1.0, 0.0]) @ right
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert metrics.effective_rank(matrix) == pytest.approx(expected, rel=1e-6)
    assert metrics.effective_rank(np.eye(8)) == pytest.approx(8.0)
    assert metrics.effective_rank(np.outer(rng.normal(size=30), rng.normal(size=5))) == \
        pytest.approx(1.0, rel=1e-6)
    assert metrics.effective_rank(np.zeros((4, 3))) == 0.0


@pytest.mark.parametrize("shape", [(200, 16), (5, 16)])
def test_effective_rank_matches_svd(shape):
    matrix = np.random.default_rng(1).normal(size=shape) * np.linspace(0.1, 3.0, shape[1])
    singular = np.linalg.svd(matrix, compute_uv=False)
    p = singular / singular.sum()
    assert metrics.effective_rank(matrix) == pytest.approx(np.exp(-np.sum(p * np.log(p))),
                                                           rel=1e-9)


def test_popularity_bias_by_hand():
    # Items 1..5 with 50, 30, 10, 10, 0 interactions (100 in all).
    counts = np.array([0, 50, 30, 10, 10, 0])
    top_k = np.array([[1, 2], [3, 0]])
    bias = metrics.popularity_bias(top_k, counts, head_share=0.2)
    # Percentiles ("mean" ties): item 1 4.5/5, item 2 3.5/5, item 3 (tied with 4) 2/5.
    assert bias.mean_percentile == pytest.approx((0.9 + 0.7 + 0.4) / 3)
    # The head is item 1 alone (50% >= 20%), so items 2 and 3 are long tail.
    assert bias.long_tail_share == pytest.approx(2 / 3)
    assert metrics.popularity_bias(top_k, counts, head_share=0.6).long_tail_share == \
        pytest.approx(1 / 3)
    # 85%: items 1, 2 hold 80%, so the next item joins the head, and its tie (item 4) with it.
    assert metrics.popularity_bias(np.array([[4]]), counts, head_share=0.85).long_tail_share == 0


def test_popularity_percentile_matches_scipy():
    rng = np.random.default_rng(2)
    counts = np.concatenate([[0], rng.integers(0, 20, size=60)])
    top_k = rng.integers(1, 61, size=(9, 4))
    expected = np.mean([stats.percentileofscore(counts[1:], counts[i], kind="mean") / 100
                        for i in top_k.ravel()])
    assert metrics.popularity_bias(top_k, counts).mean_percentile == pytest.approx(expected)


def test_popularity_bias_rejects_bad_input():
    with pytest.raises(ValueError, match="head_share"):
        metrics.popularity_bias(np.array([[1]]), np.array([0, 1]), head_share=1.0)
    with pytest.raises(ValueError, match="item_counts"):
        metrics.popularity_bias(np.array([[1]]), np.array([0, -1, 3]))


def test_item_genre_weights_split_each_item_evenly():
    labels = [["ignored"], ["a", "b"], ["b"], [], ["a", "b", "c"]]
    weights = metrics.item_genre_weights(labels)
    np.testing.assert_allclose(weights, [[0, 0, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 1, 0],
                                         [0, 0, 0, 0], [0, 1 / 3, 1 / 3, 1 / 3]])
    multi_hot = np.array([[1, 0], [1, 1], [0, 1]])
    np.testing.assert_allclose(metrics.item_genre_weights(multi_hot), [[0, 0], [.5, .5], [0, 1]])
    with pytest.raises(ValueError, match="item_genres"):
        metrics.item_genre_weights(np.array([[0, 2], [1, 0]]))


def test_genre_distribution_by_hand():
    weights = metrics.item_genre_weights(np.array([[0, 0], [1, 1], [0, 1], [0, 0]]))
    padded = np.array([[1, 2, 0], [3, 0, 0], [2, 2, 3]])
    # User 0: (.5, .5) + (0, 1) -> (.25, .75); user 1: only a genre-less item -> zeros;
    # user 2: the genre-less item 3 does not dilute the distribution.
    expected = [[0.25, 0.75], [0, 0], [0, 1]]
    np.testing.assert_allclose(metrics.genre_distribution(padded, weights), expected)
    ragged = [np.array([1, 2]), np.array([3]), np.array([2, 2, 3])]
    np.testing.assert_allclose(metrics.genre_distribution(ragged, weights), expected)
    with pytest.raises(ValueError, match="0..3"):
        metrics.genre_distribution(np.array([[4]]), weights)


def test_calibration_kl_by_hand():
    p = np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 0.0]])
    q = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    # q~ = 0.99 q + 0.01 p = (0.995, 0.005) for user 0; user 1 is perfectly calibrated; user 2
    # has no genres and is left out.
    expected = (0.5 * math.log(0.5 / 0.995) + 0.5 * math.log(0.5 / 0.005) + 0.0) / 2
    assert metrics.calibration_kl(p, q) == pytest.approx(expected)
    assert metrics.calibration_kl(p[:1], np.zeros((1, 2))) == pytest.approx(math.log(100))


def test_calibration_kl_matches_scipy_rel_entr():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(6), size=20) * (rng.random((20, 6)) > 0.3)
    p = p / p.sum(axis=1, keepdims=True)
    q = rng.dirichlet(np.ones(6), size=20) * (rng.random((20, 6)) > 0.5)
    q = np.divide(q, q.sum(axis=1, keepdims=True), out=np.zeros_like(q),
                  where=q.sum(axis=1, keepdims=True) > 0)
    alpha = 0.05
    expected = np.mean(special.rel_entr(p, (1 - alpha) * q + alpha * p).sum(axis=1))
    assert metrics.calibration_kl(p, q, alpha=alpha) == pytest.approx(expected)


def test_calibration_kl_rejects_unnormalised_rows():
    with pytest.raises(ValueError, match="rec_genre_dist"):
        metrics.calibration_kl(np.array([[1.0, 0.0]]), np.array([[0.5, 0.2]]))
