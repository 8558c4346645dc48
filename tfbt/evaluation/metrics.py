"""Recommendation metrics on evaluation results, as pure NumPy functions.

Everything here works on what a full-ranking pass produces (``tfbt.evaluation.ranking``): the 1-based rank
of each user's single held-out target, each user's top-K item list, and the user vectors. The
formulas follow ``REFERENCES.md`` (Metrics); every function documents its exact definition so that
a published number can be reproduced from it.

Conventions shared by all functions:

* item indices run 1..N as in the data contract; in a top-K list, 0 marks an empty slot (a user who
  had fewer than K unseen items) and is ignored;
* per-item tables (``item_counts``, genre weights) have N+1 rows, row ``i`` describing item ``i``
  and row 0 (padding) ignored.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import NamedTuple

import numpy as np


def _ranks(ranks) -> np.ndarray:
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0:
        raise ValueError(f"ranks: expected a non-empty 1-D array, got shape {ranks.shape}")
    if not np.issubdtype(ranks.dtype, np.integer):
        raise ValueError(f"ranks: expected integer 1-based ranks, got dtype {ranks.dtype}")
    if ranks.min() < 1:
        raise ValueError(f"ranks: ranks are 1-based, found {ranks.min()}")
    return ranks


def _k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    return int(k)


def hit_rate_at_k(ranks, k: int) -> float:
    """HR@K: share of users whose target is within the top K.

    With one target per user this is also Recall@K.

    Args:
      ranks: [num_users] int, 1-based rank of each user's target.
      k: cut-off.
    """
    return float(np.mean(_ranks(ranks) <= _k(k)))


def ndcg_at_k(ranks, k: int) -> float:
    """NDCG@K with one relevant item: mean of ``1 / log2(rank + 1)`` if rank <= K, else 0.

    The ideal DCG is 1 (the target at rank 1), so no further normalisation is needed.

    Args:
      ranks: [num_users] int, 1-based rank of each user's target.
      k: cut-off.
    """
    ranks = _ranks(ranks)
    gains = np.where(ranks <= _k(k), 1.0 / np.log2(ranks + 1.0), 0.0)
    return float(np.mean(gains))


def mrr(ranks) -> float:
    """Mean reciprocal rank over the full ranking (no cut-off): mean of ``1 / rank``.

    Args:
      ranks: [num_users] int, 1-based rank of each user's target.
    """
    return float(np.mean(1.0 / _ranks(ranks)))


def _top_k_items(top_k_items, num_items: int) -> np.ndarray:
    items = np.asarray(top_k_items)
    if items.ndim != 2 or not np.issubdtype(items.dtype, np.integer):
        raise ValueError(f"top_k_items: expected an integer [num_users, K] array, got "
                         f"shape {items.shape} dtype {items.dtype}")
    if items.size and (items.min() < 0 or items.max() > num_items):
        raise ValueError(f"top_k_items: item indices must be in 1..{num_items} (0 = empty slot), "
                         f"found {items.min()}..{items.max()}")
    return items


def coverage_at_k(top_k_items, num_items: int) -> float:
    """Coverage@K: |union over users of their top-K items| / num_items.

    Args:
      top_k_items: [num_users, K] int item indices (0 = empty slot, not counted).
      num_items: catalogue size N.
    """
    if num_items < 1:
        raise ValueError(f"num_items: expected a positive catalogue size, got {num_items}")
    items = _top_k_items(top_k_items, num_items)
    recommended = np.unique(items[items > 0])
    return recommended.size / num_items


def effective_rank(embeddings) -> float:
    """Effective rank (Roy & Vetterli 2007) of a [num_users, dim] matrix.

    With singular values σ, ``p_i = σ_i / Σσ`` and ``erank = exp(-Σ p_i log p_i)`` (0 log 0 = 0).
    It ranges from 1 (all vectors on one line) to ``min(num_users, dim)`` (flat spectrum); the
    matrix is not centred. An all-zero matrix (total collapse) returns 0.

    Args:
      embeddings: [num_users, dim] float.
    """
    matrix = np.asarray(embeddings, dtype=np.float64)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError(f"embeddings: expected a non-empty [num_users, dim] matrix, "
                         f"got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("embeddings: contain NaN or infinite values")
    # Singular values from the eigenvalues of the small Gram matrix: [dim, dim] for the usual
    # users >> dim, ~20x faster than an SVD of the tall matrix.
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    singular = np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0.0, None))
    total = singular.sum()
    if total == 0.0:
        return 0.0
    p = singular[singular > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def _item_counts(item_counts) -> np.ndarray:
    counts = np.asarray(item_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size < 2:
        raise ValueError(f"item_counts: expected [num_items + 1] counts (row 0 = padding), "
                         f"got shape {counts.shape}")
    counts = counts[1:]
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("item_counts: counts must be finite and non-negative")
    if counts.sum() == 0:
        raise ValueError("item_counts: all counts are zero")
    return counts


class PopularityBias(NamedTuple):
    """Result of ``popularity_bias``; both fields are in [0, 1]."""

    mean_percentile: float
    long_tail_share: float


def popularity_bias(top_k_items, item_counts, head_share: float = 0.2) -> PopularityBias:
    """How much a model's recommendations lean towards popular items.

    Definitions (over the N catalogue items, counts from ``item_counts``):

    * popularity percentile of item i: ``(#{j: c_j < c_i} + 0.5 * #{j: c_j = c_i}) / N``, i.e.
      the "mean" percentile rank, so ties are treated symmetrically; the most popular item is
      close to 1 and the least popular close to 0.
    * head: the most popular items that together account for ``head_share`` of all
      interactions. Items are taken in decreasing count; item i is in the head when the items
      strictly more popular than it hold less than ``head_share`` of the interactions, so items with
      equal counts are always on the same side. The long tail is every other item.

    Returns ``PopularityBias(mean_percentile, long_tail_share)``: the mean percentile of the
    recommended items and the share of recommendations that are long-tail items, both averaged
    over all filled top-K slots of all users (empty slots, 0, are ignored).

    Args:
      top_k_items: [num_users, K] int item indices (0 = empty slot).
      item_counts: [N + 1] interaction counts per item index (row 0 ignored), usually from the
        training data.
      head_share: share of interactions held by the head, in (0, 1).
    """
    if not 0.0 < head_share < 1.0:
        raise ValueError(f"head_share: expected a value in (0, 1), got {head_share}")
    counts = _item_counts(item_counts)
    num_items = counts.size
    items = _top_k_items(top_k_items, num_items)
    items = items[items > 0]
    if items.size == 0:
        raise ValueError("top_k_items: no recommendations (every slot is empty)")

    sorted_counts = np.sort(counts)
    less = np.searchsorted(sorted_counts, counts, side="left")
    less_or_equal = np.searchsorted(sorted_counts, counts, side="right")
    percentile = (less + 0.5 * (less_or_equal - less)) / num_items

    # Interactions held by items strictly more popular than each item.
    descending = sorted_counts[::-1]
    cumulative = np.concatenate([[0.0], np.cumsum(descending)])
    more_popular = num_items - less_or_equal
    in_head = cumulative[more_popular] < head_share * counts.sum()

    chosen = items - 1
    return PopularityBias(mean_percentile=float(np.mean(percentile[chosen])),
                          long_tail_share=float(np.mean(~in_head[chosen])))


def item_genre_weights(item_genres) -> np.ndarray:
    """Per-item genre distribution p(g | i), each genre of an item weighted 1 / |genres(i)|.

    This is Steck (2018)'s item-level genre distribution. Items without genres get a zero row, and
    so does row 0 (padding).

    Args:
      item_genres: either a NumPy multi-hot [N + 1, G] array (row i = item i), or a Python
        sequence of N + 1 collections, entry i holding item i's genre labels (any hashable; the
        genre columns are the labels in order of first appearance). Only an ``np.ndarray`` is
        read as multi-hot, so ``[[0, 1], [1]]`` always means genre labels.

    Returns:
      [N + 1, G] float64, rows summing to 1 (or 0 for items without genres).
    """
    if isinstance(item_genres, np.ndarray):
        multi_hot = item_genres.astype(np.float64)
    else:
        multi_hot = _multi_hot_from_labels(item_genres)
    if multi_hot.ndim != 2 or multi_hot.shape[0] < 2:
        raise ValueError(f"item_genres: expected [num_items + 1, num_genres], "
                         f"got shape {multi_hot.shape}")
    if np.any((multi_hot != 0) & (multi_hot != 1)):
        raise ValueError("item_genres: a multi-hot matrix must hold only 0 and 1")
    multi_hot[0] = 0.0
    per_item = multi_hot.sum(axis=1, keepdims=True)
    return np.divide(multi_hot, per_item, out=np.zeros_like(multi_hot), where=per_item > 0)


def _multi_hot_from_labels(item_genres: Iterable[Iterable[Hashable]]) -> np.ndarray:
    rows = []
    for index, genres in enumerate(item_genres):
        if isinstance(genres, (str, bytes)) or not isinstance(genres, Iterable):
            raise ValueError(f"item_genres[{index}]: expected a collection of genre labels, "
                             f"got {genres!r}")
        rows.append(list(dict.fromkeys(genres)))
    column: dict[Hashable, int] = {}
    for genres in rows:
        for genre in genres:
            column.setdefault(genre, len(column))
    multi_hot = np.zeros((len(rows), len(column)))
    for i, genres in enumerate(rows):
        multi_hot[i, [column[g] for g in genres]] = 1.0
    return multi_hot


def genre_distribution(item_lists, weights) -> np.ndarray:
    """Per-user genre distribution: the mean of p(g | i) over a list of items, renormalised.

    ``p(g | u) = Σ_i p(g | i) / Σ_i Σ_g' p(g' | i)`` over the user's items i (Steck 2018 with
    uniform item weights). Items without genres therefore do not dilute the distribution; a user
    none of whose items has a genre gets a zero row.

    Args:
      item_lists: [num_users, L] int item indices with 0 as padding / empty slot, or a sequence of
        num_users 1-D int arrays of different lengths (e.g. whole histories).
      weights: [N + 1, G] from ``item_genre_weights``.

    Returns:
      [num_users, G] float64, rows summing to 1 (or 0).
    """
    weights = np.asarray(weights, dtype=np.float64)
    if isinstance(item_lists, np.ndarray) and item_lists.ndim == 2:
        num_users = item_lists.shape[0]
        rows = np.repeat(np.arange(num_users), item_lists.shape[1])
        values = item_lists.ravel()
    else:
        lengths = [len(items) for items in item_lists]
        num_users = len(lengths)
        rows = np.repeat(np.arange(num_users), lengths)
        values = (np.concatenate([np.asarray(items).ravel() for items in item_lists])
                  if num_users else np.zeros(0, np.int64))
    values = np.asarray(values)
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"item_lists: expected integer item indices, got {values.dtype}")
    values = values.astype(np.int64)
    if values.size and (values.min() < 0 or values.max() >= weights.shape[0]):
        raise ValueError(f"item_lists: item indices must be in 0..{weights.shape[0] - 1}, found "
                         f"{values.min()}..{values.max()}")
    keep = values > 0
    rows, values = rows[keep], values[keep]
    mass = np.zeros((num_users, weights.shape[1]))
    for genre in range(weights.shape[1]):
        mass[:, genre] = np.bincount(rows, weights=weights[values, genre], minlength=num_users)
    total = mass.sum(axis=1, keepdims=True)
    return np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)


def calibration_kl(history_genre_dist, rec_genre_dist, alpha: float = 0.01) -> float:
    """Miscalibration C_KL (Steck 2018), averaged over users.

    ``C_KL(u) = KL(p ‖ q̃) = Σ_g p(g|u) log(p(g|u) / q̃(g|u))`` with ``q̃ = (1 - α) q + α p``,
    p the genre distribution of the user's history and q that of the recommended list (0 log 0 = 0;
    the mixing keeps q̃ > 0 wherever p > 0). 0 means perfectly calibrated. Users whose history has
    no genre (a zero row of p) are left out of the mean; a zero row of q (no recommended item has
    a genre) gives ``log(1 / α)``.

    Args:
      history_genre_dist: [num_users, G] p, rows summing to 1 (or 0 to skip the user).
      rec_genre_dist: [num_users, G] q, rows summing to 1 (or 0).
      alpha: mixing weight α in (0, 1].
    """
    p = np.asarray(history_genre_dist, dtype=np.float64)
    q = np.asarray(rec_genre_dist, dtype=np.float64)
    if p.ndim != 2 or p.shape != q.shape:
        raise ValueError(f"history_genre_dist {p.shape} and rec_genre_dist {q.shape}: expected "
                         f"two [num_users, num_genres] arrays of the same shape")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha: expected a value in (0, 1], got {alpha}")
    for name, dist in (("history_genre_dist", p), ("rec_genre_dist", q)):
        sums = dist.sum(axis=1)
        if np.any(dist < 0) or not np.all(np.isclose(sums, 1.0, atol=1e-6) | (sums == 0)):
            raise ValueError(f"{name}: rows must be non-negative and sum to 1 (or be all zero)")
    users = p.sum(axis=1) > 0
    if not np.any(users):
        raise ValueError("history_genre_dist: no user has a history with genres")
    p, q = p[users], q[users]
    q_tilde = (1.0 - alpha) * q + alpha * p
    ratio = np.divide(p, q_tilde, out=np.ones_like(p), where=p > 0)
    return float(np.mean(np.sum(p * np.log(ratio), axis=1)))
