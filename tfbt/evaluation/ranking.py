"""Full-ranking evaluation: the protocol behind every number tfbt publishes.

Each user's held-out target is ranked against the whole catalogue (items 1..N; never padding 0 or
the mask token N+1), with the user's already-seen items removed unless ``filter_seen=False``. No
negative sampling: sampled metrics are not comparable (Krichene & Rendle 2020).

Ranks are **pessimistic**: ``rank = N - #{items scored strictly below the target}``, i.e. the
target is placed after every item that ties with it. A model that gives every item the same score
therefore ranks every target last, not first. A seen target (a repeat consumption) is filtered like
any seen item, gets -inf and ranks N, the standard protocol. A NaN target score also ranks N.

Two entry points share one batched code path:

* ``evaluate_full_ranking(user_encoder, item_embeddings, ...)``: dot-product models, scores
  ``u · E[1..N]ᵀ``; also reports the effective rank of the user vectors.
* ``evaluate_scores(score_fn, ...)``: any model that scores the catalogue itself (item biases,
  MLP heads, popularity), ``score_fn(batch) -> [B, N]``.

Per batch, scoring, seen-item masking (a scatter from the ragged ``seen``), ranking and top-K run in
one ``tf.function``; memory is O(batch × N), never O(users × N). The metrics are then computed from
ranks and top-K lists by ``tfbt.evaluation.metrics``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfbt.evaluation import metrics

Batch = Mapping[str, Any]

# Traced evaluation steps of the most recent models (each holds its model alive), by cache key.
_CACHED_STEPS = 4
_STEPS: OrderedDict = OrderedDict()


def evaluate_full_ranking(user_encoder: Callable[[tf.Tensor], tf.Tensor], item_embeddings,
                          dataset: Iterable[Batch], *, num_items: int,
                          ks: Sequence[int] = (5, 10, 20), filter_seen: bool = True,
                          item_counts=None, item_genres=None, return_user_embeddings: bool = False,
                          item_chunk_size: int | None = None, popularity_penalty: float = 0.0,
                          return_ranks: bool = False,
                          progress: bool = True) -> dict[str, Any]:
    """Evaluates a dot-product model by full ranking.

    Args:
      user_encoder: maps a batch's ``items`` [B, L] int32 to user vectors [B, D]; called inside a
        ``tf.function`` without a ``training`` argument, so a Keras model or layer runs in
        inference mode.
      item_embeddings: [N + 1, D] or [N + 2, D] tensor, variable or array; row i is item i.
        Rows 0 (padding) and N + 1 (mask) are never ranked.
      dataset: batches ``{"items": [B, L] int32, "target": [B] int, "seen": RaggedTensor [B, None]
        (the whole history), ...}``, e.g. a ``tf.data.Dataset`` from ``tfbt.data``.
      num_items: catalogue size N.
      ks: cut-offs for HR, NDCG, coverage, popularity and calibration.
      filter_seen: give every item in ``seen`` a score of -inf before ranking.
      item_counts: optional [N + 1] (or [N + 2]) interaction counts per item index, usually from
        the training data; adds ``popularity@k`` and ``long_tail@k``.
      item_genres: optional multi-hot [N + 1 (or N + 2), G] array, or a list of N + 1 genre-label
        collections (see ``metrics.item_genre_weights``); adds ``calibration_kl@k``.
      return_user_embeddings: also return the user vectors, [num_users, D] float32 in dataset
        order, under ``"user_embeddings"``.
      item_chunk_size: score the catalogue this many items at a time with a running top-K
        (``rank_and_top_k_by_item_chunks``): memory O(batch x item_chunk_size) instead of
        O(batch x N), for catalogues of millions of items. None scores all items at once.
      popularity_penalty: β of the serving-time popularity dial: every score becomes
        ``score - β · log(1 + item_counts[i])`` before ranking and top-K (needs
        ``item_counts``). 0 (the default) leaves the scores untouched, bit for bit.
      return_ranks: also return each user's 1-based target rank, [num_users] int32 in dataset
        order, under ``"ranks"`` (per-user metrics, e.g. for ``tfbt.evaluation.selection``).
      progress: show a tqdm bar over batches.

    Returns:
      A flat dict: ``num_users``, ``MRR``, ``HR@k``, ``NDCG@k``, ``coverage@k`` for each k,
      ``effective_rank``, and the optional keys above. Every value is a Python number except
      ``user_embeddings``.
    """
    variable = (item_embeddings if isinstance(item_embeddings, (tf.Variable, keras.Variable))
                else None)
    table = variable if variable is not None else tf.convert_to_tensor(item_embeddings)
    _item_table(table, num_items, "item_embeddings")
    if len(table.shape) != 2:
        raise ValueError(f"item_embeddings: expected [num_items + 1 or + 2, dim], "
                         f"got shape {tuple(table.shape)}")
    dim = table.shape[-1]
    if item_chunk_size is not None and (isinstance(item_chunk_size, bool) or not isinstance(
            item_chunk_size, (int, np.integer)) or item_chunk_size < 1):
        raise ValueError(f"item_chunk_size: expected a positive integer or None, got "
                         f"{item_chunk_size!r}")

    # Whole top-K blocks (top_k_by_blocks): the catalogue gets the padding columns, so the
    # [B, N] scores need no padded copy.
    padding = 0 if item_chunk_size is not None else _block_padding(
        num_items, _cutoffs(ks, num_items)[-1])

    def score(batch):
        # Read inside the step: a variable's current value at every call of a cached step.
        catalogue = tf.cast(table[1:num_items + 1], tf.float32)
        users = tf.cast(user_encoder(batch["items"]), tf.float32)
        if users.shape.rank != 2 or users.shape[-1] != dim:
            raise ValueError(f"user_encoder: returned shape {users.shape}; expected [batch, "
                             f"{dim}] to match item_embeddings")
        if item_chunk_size is not None:
            return (users, catalogue), users
        # An explicit [D, N] transpose: oneDNN's matmul with transpose_b is slower on CPU
        # (docs/benchmarks.md; the transpose is D x N, the scores B x N).
        columns = tf.pad(tf.transpose(catalogue), [[0, 0], [0, padding]])
        return tf.matmul(users, columns), users

    # A model's table is a variable: the same encoder and variable reuse the traced step (no
    # retracing at every validation of a training run). The cached step's closure holds the
    # variable, so its id cannot be reused by another one while the step is cached.
    cache_key = None if variable is None else (user_encoder, id(variable), item_chunk_size)
    results, users = _evaluate(score, dataset, num_items=num_items, ks=ks,
                               filter_seen=filter_seen, item_counts=item_counts,
                               item_genres=item_genres, progress=progress, required=("items",),
                               cache_key=cache_key, item_chunk_size=item_chunk_size,
                               padding=padding, popularity_penalty=popularity_penalty,
                               return_ranks=return_ranks)
    results["effective_rank"] = metrics.effective_rank(users)
    if return_user_embeddings:
        results["user_embeddings"] = users
    return results


def evaluate_scores(score_fn: Callable[[Batch], tf.Tensor], dataset: Iterable[Batch], *,
                    num_items: int, ks: Sequence[int] = (5, 10, 20), filter_seen: bool = True,
                    item_counts=None, item_genres=None, popularity_penalty: float = 0.0,
                    return_ranks: bool = False, progress: bool = True) -> dict[str, Any]:
    """Evaluates any scorer by full ranking (same protocol as ``evaluate_full_ranking``).

    Args:
      score_fn: maps a batch dict to scores [B, N], column j scoring item j + 1; traced inside a
        ``tf.function``. Use it for models whose scores are not a plain dot product.
      dataset, num_items, ks, filter_seen, item_counts, item_genres, popularity_penalty,
        return_ranks, progress: as in ``evaluate_full_ranking``.

    Returns:
      The dict of ``evaluate_full_ranking`` without ``effective_rank`` (there are no user vectors).
    """
    results, _ = _evaluate(lambda batch: (score_fn(batch), None), dataset, num_items=num_items,
                           ks=ks, filter_seen=filter_seen, item_counts=item_counts,
                           item_genres=item_genres, progress=progress, required=(),
                           popularity_penalty=popularity_penalty, return_ranks=return_ranks)
    return results


def most_popular_baseline(dataset: Iterable[Batch], item_counts, *, num_items: int,
                          ks: Sequence[int] = (5, 10, 20), filter_seen: bool = True,
                          item_genres=None, progress: bool = True) -> dict[str, Any]:
    """Recommends the most popular unseen items to everyone: the sanity floor for any model.

    Scores are ``item_counts`` (ties ranked pessimistically), evaluated by ``evaluate_scores``;
    popularity metrics are reported from the same counts.
    """
    counts = _item_table(np.asarray(item_counts), num_items, "item_counts")
    popularity = tf.constant(counts[1:num_items + 1], tf.float32)

    def score(batch):
        return tf.broadcast_to(popularity, [tf.shape(batch["target"])[0], num_items])

    return evaluate_scores(score, dataset, num_items=num_items, ks=ks, filter_seen=filter_seen,
                           item_counts=counts, item_genres=item_genres, progress=progress)


def rank_and_top_k(scores: tf.Tensor, target: tf.Tensor, seen: tf.RaggedTensor | None,
                   max_k: int, padding: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """Pessimistic target ranks and top-K lists for one batch.

    Args:
      scores: [B, N + padding] float32, column j scoring item j + 1.
      target: [B] int item indices in 1..N.
      seen: RaggedTensor [B, None] of item indices in 1..N to score -inf, or None for no filtering.
      max_k: length of the top-K lists.
      padding: static number of trailing columns that are not items (``_block_padding``: they
        fill the last top-K block, so ``top_k_by_blocks`` needs no padded copy); they score
        -inf and are never counted or listed.

    Returns:
      ranks: [B] int32 in 1..N, ``N - #{items scored strictly below the target}``.
      top_k: [B, max_k] int32 item indices by decreasing score; 0 where fewer than max_k items
        have a score above -inf (a user who has seen almost the whole catalogue).
    """
    num_items = tf.shape(scores, out_type=tf.int64)[1] - padding
    target = tf.cast(tf.reshape(target, [-1]), tf.int64)
    checks = [tf.debugging.assert_greater_equal(target, tf.constant(1, tf.int64),
                                                message="target: item indices must be >= 1"),
              tf.debugging.assert_less_equal(target, num_items,
                                             message="target: item indices must be <= num_items")]
    positions = []  # of the scores set to -inf: seen items, then padding columns
    if seen is not None:
        values = tf.cast(seen.values, tf.int64)
        checks += [tf.debugging.assert_greater_equal(values, tf.constant(1, tf.int64),
                                                     message="seen: item indices must be >= 1"),
                   tf.debugging.assert_less_equal(
                       values, num_items, message="seen: item indices must be <= num_items")]
        with tf.control_dependencies(checks):
            positions.append(tf.stack([tf.cast(seen.value_rowids(), tf.int64), values - 1],
                                      axis=1))
    if padding:
        rows, columns = tf.meshgrid(tf.range(tf.shape(target, out_type=tf.int64)[0]),
                                    num_items + tf.range(padding, dtype=tf.int64),
                                    indexing="ij")
        positions.append(tf.stack([tf.reshape(rows, [-1]), tf.reshape(columns, [-1])], axis=1))
    if positions:
        positions = tf.concat(positions, axis=0)
        scores = tf.tensor_scatter_nd_update(
            scores, positions, tf.fill(tf.shape(positions)[:1],
                                       tf.constant(-np.inf, scores.dtype)))
    with tf.control_dependencies(checks):
        target_scores = tf.gather(scores, target - 1, batch_dims=1)
    below = tf.reduce_sum(tf.cast(scores < target_scores[:, None], tf.int32), axis=1)
    if padding:  # the -inf padding is below every target that is not -inf (or NaN)
        below -= padding * tf.cast(target_scores > -np.inf, tf.int32)
    ranks = tf.cast(num_items, tf.int32) - below
    width = _block_width(scores.shape[-1] - padding, max_k) if padding else None
    top_scores, top_columns = top_k_by_blocks(scores, max_k, width=width)
    top_k = tf.where(top_scores > -np.inf, top_columns + 1, 0)
    return ranks, top_k


def rank_and_top_k_by_item_chunks(users: tf.Tensor, catalogue: tf.Tensor, target: tf.Tensor,
                                  seen: tf.RaggedTensor | None, max_k: int,
                                  chunk_size: int, item_offsets: tf.Tensor | None = None
                                  ) -> tuple[tf.Tensor, tf.Tensor]:
    """``rank_and_top_k(users @ catalogueᵀ, ...)`` without the [B, N] score matrix.

    The catalogue is scored ``chunk_size`` items at a time: each [B, C] block has its seen items
    set to -inf, adds its count of items scored strictly below the target, and merges its top-K
    into a running top-K (the running list holds lower columns and comes first, so ties still
    go to the lower column, as in ``tf.math.top_k``). The target's score is ``u · e_target``
    computed on its own, and the target's own column is never counted as below it. Same ranks
    and lists as the unchunked path whenever the dot products are reproduced bit for bit (the
    test uses integer-valued embeddings); in general a score within rounding of the target's
    may tie on one path and not on the other.

    Args:
      users: [B, D] float32.
      catalogue: [N, D] float32, row j = item j + 1 (static N).
      target, seen, max_k: as in ``rank_and_top_k``.
      chunk_size: items per block.
      item_offsets: optional [N] float32 added to every user's scores (column j = item j + 1),
        e.g. the popularity dial's ``-β · log(1 + count)``.

    Returns:
      ranks [B] int32 and top_k [B, max_k] int32, as ``rank_and_top_k``.
    """
    num_items = catalogue.shape[0]
    target = tf.cast(tf.reshape(target, [-1]), tf.int64)
    checks = [tf.debugging.assert_greater_equal(target, tf.constant(1, tf.int64),
                                                message="target: item indices must be >= 1"),
              tf.debugging.assert_less_equal(target, tf.constant(num_items, tf.int64),
                                             message="target: item indices must be <= num_items")]
    with tf.control_dependencies(checks):
        target_scores = tf.reduce_sum(users * tf.gather(catalogue, target - 1), axis=1)  # [B]
        if item_offsets is not None:
            target_scores += tf.gather(item_offsets, target - 1)
    if seen is not None:
        values, rows = tf.cast(seen.values, tf.int64), tf.cast(seen.value_rowids(), tf.int64)
        target_seen = tf.math.unsorted_segment_max(
            tf.cast(tf.equal(values, tf.gather(target, rows)), tf.int32), rows,
            tf.shape(target)[0]) > 0
        target_scores = tf.where(target_seen, -np.inf, target_scores)
    below = tf.zeros_like(target, tf.int32)
    top_values = top_columns = None
    for start in range(0, num_items, chunk_size):
        stop = min(start + chunk_size, num_items)
        scores = tf.matmul(users, catalogue[start:stop], transpose_b=True)        # [B, C]
        if item_offsets is not None:
            scores += item_offsets[None, start:stop]
        if seen is not None:
            inside = tf.logical_and(values > start, values <= stop)
            positions = tf.stack([tf.boolean_mask(rows, inside),
                                  tf.boolean_mask(values, inside) - 1 - start], axis=1)
            scores = tf.tensor_scatter_nd_update(
                scores, positions, tf.fill(tf.shape(positions)[:1], tf.constant(-np.inf)))
        own = tf.equal(tf.range(start + 1, stop + 1, dtype=tf.int64)[None, :], target[:, None])
        strictly_below = tf.logical_and(scores < target_scores[:, None], tf.logical_not(own))
        below += tf.reduce_sum(tf.cast(strictly_below, tf.int32), axis=1)
        values_c, columns_c = top_k_by_blocks(scores, min(max_k, stop - start))
        columns_c += start
        if top_values is None:
            top_values, top_columns = values_c, columns_c
        else:
            merged = tf.concat([top_values, values_c], axis=1)
            top_values, picked = tf.math.top_k(merged, k=min(max_k, merged.shape[1]))
            top_columns = tf.gather(tf.concat([top_columns, columns_c], axis=1), picked,
                                    batch_dims=1)
    ranks = num_items - below
    top_k = tf.where(top_values > -np.inf, top_columns + 1, 0)
    return ranks, top_k


def top_k_by_blocks(scores: tf.Tensor, k: int,
                    width: int | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """Exactly ``tf.math.top_k(scores, k)`` (ties to the lower column), faster on CPU.

    The columns are cut into blocks of width w ≈ sqrt(N / k). Every top-k column lies in one of
    the k blocks with the largest maxima (a block holding a top-k column has a maximum at least
    the k-th score, and fewer than k blocks can beat it), so top-k runs on the k·w scores of
    those blocks instead of all N. Blocks are gathered in column order, which keeps top_k's
    lower-index-first tie-breaking. Padding columns added to fill the last block score -inf.

    Args:
      scores: [B, N] float32.
      k: static int, 1 <= k <= N. Without a static N this is plain ``tf.math.top_k``.
      width: the block width; default ``_block_width(N, k)``. Scores whose N is a multiple of it
        are not copied to pad the last block.

    Returns:
      values [B, k] float32 and columns [B, k] int32, by decreasing score.
    """
    num_columns = scores.shape[-1]
    if width is None:
        width = _block_width(num_columns, k) if num_columns else 1
    if width <= 1:
        return tf.math.top_k(scores, k=k)
    num_blocks = -(-num_columns // width)
    if num_blocks * width != num_columns:
        scores = tf.pad(scores, [[0, 0], [0, num_blocks * width - num_columns]],
                        constant_values=-np.inf)
    blocks = tf.reshape(scores, [-1, num_blocks, width])
    _, best = tf.math.top_k(tf.reduce_max(blocks, axis=2), k=k)
    best = tf.sort(best, axis=1)
    candidates = tf.reshape(tf.gather(blocks, best, batch_dims=1), [-1, k * width])
    values, positions = tf.math.top_k(candidates, k=k)
    columns = tf.gather(best, positions // width, batch_dims=1) * width + positions % width
    return values, columns


def _block_width(num_columns: int, k: int) -> int:
    """``top_k_by_blocks``' block width for ``num_columns`` scores and top ``k``."""
    return int(np.sqrt(num_columns / k))


def _block_padding(num_items: int, k: int) -> int:
    """Columns that fill the last top-K block of ``num_items`` scores (0 if none is needed)."""
    width = _block_width(num_items, k)
    return 0 if width <= 1 else -num_items % width


def _evaluate(score, dataset, *, num_items, ks, filter_seen, item_counts, item_genres, progress,
              required, cache_key=None, item_chunk_size=None, padding=0,
              popularity_penalty=0.0, return_ranks=False):
    """Runs ``score(batch) -> (scores [B, N + padding], users [B, D] or None)`` over the dataset.

    With ``item_chunk_size``, ``score`` returns ``((users [B, D], catalogue [N, D]), users)``
    and ranking goes through ``rank_and_top_k_by_item_chunks``. A ``popularity_penalty`` β
    subtracts ``β · log(1 + item_counts)`` from the scores before ranking (none at 0).

    With a ``cache_key`` (hashable, naming what ``score`` computes) and a ``tf.data`` dataset,
    the traced step is kept in ``_STEPS`` and reused by the next call with the same key,
    cut-offs, filtering and batch spec.
    """
    if isinstance(num_items, bool) or not isinstance(num_items, (int, np.integer)) or num_items < 1:
        raise ValueError(f"num_items: expected a positive integer, got {num_items!r}")
    ks = _cutoffs(ks, num_items)
    counts = (None if item_counts is None
              else _item_table(np.asarray(item_counts), num_items, "item_counts"))
    genre_weights = None
    if item_genres is not None:
        if isinstance(item_genres, (tf.Tensor, tf.Variable)):
            item_genres = item_genres.numpy()
        genre_weights = _item_table(metrics.item_genre_weights(item_genres), num_items,
                                    "item_genres")
    required = tuple(required) + ("target",) + (
        ("seen",) if filter_seen or genre_weights is not None else ())
    offsets = popularity_offsets(counts, num_items, popularity_penalty)
    # The offsets are an input of the traced step: one trace serves every β.
    extra = () if offsets is None else (offsets,)

    def step(batch, *extra):
        offsets = extra[0] if extra else None
        scores, users = score(batch)
        seen = batch["seen"] if filter_seen else None
        if item_chunk_size is not None:
            ranks, top_k = rank_and_top_k_by_item_chunks(*scores, batch["target"], seen, ks[-1],
                                                         item_chunk_size, offsets)
            return {"ranks": ranks, "top_k": top_k, "users": users}
        scores = tf.cast(scores, tf.float32)
        if scores.shape.rank != 2 or scores.shape[-1] not in (None, num_items + padding):
            raise ValueError(f"scores: got shape {scores.shape}; expected [batch, {num_items}] "
                             f"(items 1..N only)")
        scores = tf.ensure_shape(scores, [None, num_items + padding])
        if offsets is not None:
            scores += tf.pad(offsets, [[0, padding]])[None, :]
        ranks, top_k = rank_and_top_k(scores, batch["target"], seen, ks[-1], padding)
        out = {"ranks": ranks, "top_k": top_k}
        if users is not None:
            out["users"] = users
        return out

    # A tf.data pipeline states its batch spec (batch dimension None): one trace for all batches.
    signature = ([dataset.element_spec] + [tf.TensorSpec([num_items], tf.float32)] * len(extra)
                 if isinstance(dataset, tf.data.Dataset) else None)
    key = (None if cache_key is None or signature is None
           else (*cache_key, num_items, ks[-1], filter_seen, repr(signature)))
    if key in _STEPS:
        _STEPS.move_to_end(key)
        step = _STEPS[key]
    else:
        step = tf.function(step, input_signature=signature, reduce_retracing=True)
        if key is not None:
            _STEPS[key] = step
            while len(_STEPS) > _CACHED_STEPS:
                _STEPS.popitem(last=False)
    ranks, top_k, users, history = [], [], [], []
    for index, batch in enumerate(tqdm(dataset, total=_num_batches(dataset), unit="batch",
                                       desc="full-ranking evaluation", disable=not progress)):
        _check_batch(batch, index, required)
        out = step(batch, *extra)
        ranks.append(out["ranks"].numpy())
        top_k.append(out["top_k"].numpy())
        if "users" in out:
            users.append(out["users"].numpy())
        if genre_weights is not None:
            seen = batch["seen"]
            history.append(metrics.genre_distribution(
                np.split(seen.values.numpy(), seen.row_splits.numpy()[1:-1]), genre_weights))
    if not ranks:
        raise ValueError("dataset: yielded no batches")
    ranks, top_k = np.concatenate(ranks), np.concatenate(top_k)

    results: dict[str, Any] = {"num_users": int(ranks.size), "MRR": metrics.mrr(ranks)}
    if return_ranks:
        results["ranks"] = ranks
    for k in ks:
        results[f"HR@{k}"] = metrics.hit_rate_at_k(ranks, k)
        results[f"NDCG@{k}"] = metrics.ndcg_at_k(ranks, k)
        results[f"coverage@{k}"] = metrics.coverage_at_k(top_k[:, :k], num_items)
        if counts is not None:
            bias = metrics.popularity_bias(top_k[:, :k], counts)
            results[f"popularity@{k}"] = bias.mean_percentile
            results[f"long_tail@{k}"] = bias.long_tail_share
        if genre_weights is not None:
            recommended = metrics.genre_distribution(top_k[:, :k], genre_weights)
            results[f"calibration_kl@{k}"] = metrics.calibration_kl(np.concatenate(history),
                                                                    recommended)
    return results, (np.concatenate(users) if users else None)


def popularity_offsets(counts, num_items: int, beta: float) -> tf.Tensor | None:
    """The popularity dial's score offsets ``-β · log(1 + count)``, float32 [N] (column j =
    item j + 1), or None at β = 0 (the scores stay bit for bit as they were).

    Why this form: a log-count penalty is the inverse-propensity / logit-adjustment correction
    of a softmax trained on popularity-skewed data (Menon et al. 2021, "Long-tail learning via
    logit adjustment": ``logit - τ · log prior``), with β as τ; at β = 1 it removes the full
    log-prior, smaller β keep part of it."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) \
            or not np.isfinite(beta) or beta < 0:
        raise ValueError(f"popularity_penalty: expected a finite number >= 0, got {beta!r}")
    if beta == 0:
        return None
    if counts is None:
        raise ValueError("popularity_penalty: needs item_counts (the training popularity)")
    counts = np.asarray(counts, np.float64)[1:num_items + 1]
    if np.any(counts < 0):
        raise ValueError("item_counts: counts must be >= 0")
    return tf.constant(-beta * np.log1p(counts), tf.float32)


def _cutoffs(ks, num_items) -> list[int]:
    ks = sorted(set(ks))
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1
                     for k in ks):
        raise ValueError(f"ks: expected positive integer cut-offs, got {ks!r}")
    if ks[-1] > num_items:
        raise ValueError(f"ks: cut-off {ks[-1]} is larger than the catalogue ({num_items} items)")
    return [int(k) for k in ks]


def _item_table(table, num_items: int, name: str):
    """Checks a per-item table has rows 0..N (optionally N + 1) and returns rows 0..N."""
    if len(table.shape) == 0:
        raise ValueError(f"{name}: expected one row per item index, got a scalar")
    rows = table.shape[0]
    if rows not in (num_items + 1, num_items + 2):
        raise ValueError(f"{name}: has {rows} rows; expected {num_items + 1} (padding + items "
                         f"1..{num_items}) or {num_items + 2} (with the mask row)")
    return table[:num_items + 1]


def _check_batch(batch, index: int, required: Sequence[str]) -> None:
    if not isinstance(batch, Mapping):
        raise ValueError(f"dataset batch {index}: expected a dict of tensors, got "
                         f"{type(batch).__name__}")
    missing = [key for key in required if key not in batch]
    if missing:
        raise ValueError(f"dataset batch {index}: missing keys {missing}; evaluation batches are "
                         f"{{'items', 'target', 'seen', ...}} (has {sorted(batch)})")
    if "seen" in required and not isinstance(batch["seen"], tf.RaggedTensor):
        raise ValueError(f"dataset batch {index}: 'seen' must be a tf.RaggedTensor [B, None] of "
                         f"the whole history, got {type(batch['seen']).__name__}")


def _num_batches(dataset) -> int | None:
    if isinstance(dataset, tf.data.Dataset):
        cardinality = int(dataset.cardinality())
        return cardinality if cardinality >= 0 else None
    return len(dataset) if hasattr(dataset, "__len__") else None
