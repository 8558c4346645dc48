"""Next-item prediction losses over the item catalogue: full softmax, sampled softmax, SCE.

A sequential recommender outputs one vector per position; the item after that position is the
positive. All losses here score output vectors ``x`` against the item embedding table ``E``
(``[vocab_size, D]`` with ``vocab_size = N + 2``: row 0 padding, rows 1..N items, row N + 1 the
mask token; only rows 1..N are ever candidates) and differ in which negatives enter the
softmax denominator:

* ``full_softmax_cross_entropy``: all N items (exact; cost O(P·N·D) for P positions).
* ``sampled_softmax_cross_entropy``: a shared set of sampled candidates (uniform over the
  catalogue, or the batch's own positives: "in-batch"), with the log-Q correction of Yi et al.
  2019 (subtract log of each item's sampling probability) and accidental hits removed.
* ``scalable_cross_entropy`` (SCE; Mezentsev et al., RecSys 2024): the hardest negatives, found
  by random-projection bucketing; each output vector only meets items in its buckets.

Why gather first: a batch is ``[B, L]`` left-padded, and on sparse data most of it is padding
(Amazon Beauty: about 6 real positions of 50). ``real_positions`` keeps only positions with a
positive before any logit is computed, which is where the work is.

Rows of ``y`` equal to 0 are padding everywhere: they contribute nothing (so the dense,
ungathered ``[B·L]`` layout that XLA needs gives the same loss as the gathered one).

``NextItemLoss`` wraps the three as one configurable Keras layer for models.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfbt.losses.names import LOSSES, SAMPLERS
from tfrecords_builder.schema import PAD_ID


def real_positions(outputs, positives):
    """Keeps the positions that have a next item.

    Args:
      outputs: ``[B, L, D]`` per-position output vectors.
      positives: int ``[B, L]``, the item after each position (0 = none: padding).
    Returns:
      ``x [P, D]`` and int32 ``y [P]``, P = number of non-zero positives, in row-major order.
    """
    real = tf.not_equal(positives, PAD_ID)
    return tf.boolean_mask(outputs, real), tf.cast(tf.boolean_mask(positives, real), tf.int32)


def all_positions(outputs, positives):
    """The dense counterpart of ``real_positions`` (static shapes, for XLA): ``[B·L, D]``,
    ``[B·L]``; padding rows keep ``y = 0`` and are ignored by every loss here."""
    dim = tf.shape(outputs)[-1]
    return tf.reshape(outputs, [-1, dim]), tf.reshape(tf.cast(positives, tf.int32), [-1])


def _weighted_mean(values, weights):
    return tf.math.divide_no_nan(tf.reduce_sum(values * weights), tf.reduce_sum(weights))


def _row_weights(y):
    return tf.cast(tf.not_equal(y, PAD_ID), tf.float32)


def _catalogue(item_embeddings):
    """Rows 1..N of the ``[N + 2, D]`` table, float32."""
    return tf.cast(item_embeddings[1:-1], tf.float32)


def full_softmax_cross_entropy(x, y, item_embeddings, chunk_rows=0):
    """Softmax cross-entropy over every item 1..N, averaged over the real rows.

    Args:
      x: ``[P, D]`` output vectors.
      y: int ``[P]`` positives in 1..N (0 = padding row, ignored).
      item_embeddings: ``[N + 2, D]``.
      chunk_rows: 0 computes the ``[P, N]`` logits at once; ``c >= 1`` computes the
        log-sum-exp term and its gradient ``c`` rows at a time (``chunked_logsumexp_mean``):
        the same loss, without ``[P, N]`` temporaries.
    Returns:
      float32 scalar.
    """
    x = tf.cast(x, tf.float32)
    weights = _row_weights(y)
    # logsumexp - positive logit: same value as sparse_softmax_cross_entropy_with_logits and
    # faster on CPU, where the exponentials over [P, N] dominate the step.
    positive_logits = tf.reduce_sum(x * tf.gather(tf.cast(item_embeddings, tf.float32), y), -1)
    if chunk_rows:
        columns = tf.maximum(y - 1, 0)  # the positive's column (padding rows: any)
        return (chunked_logsumexp_mean(x, _catalogue(item_embeddings), weights, chunk_rows,
                                       columns)
                - _weighted_mean(positive_logits, weights))
    logits = tf.matmul(x, _catalogue(item_embeddings), transpose_b=True)        # [P, N]
    losses = tf.reduce_logsumexp(logits, axis=1) - positive_logits              # [P]
    return _weighted_mean(losses, weights)


def chunked_logsumexp_mean(x, catalogue, weights, chunk_rows, columns):
    """``Σ_i w_i · log Σ_j exp(x_i · c_j) / Σ_i w_i`` with its gradient, ``chunk_rows`` rows at a time.

    The full softmax's cost on CPU is memory traffic: the logits of a SASRec batch at ML-1M
    size are [21k, 3.4k] floats (290 MB), written and read by every element-wise op of the
    forward and the backward pass. Here each chunk's logits ([chunk_rows, N]; 7 MB at 512 x
    3,416) are computed once, and while they are in cache the loss and both gradients are taken
    from them with as few passes as possible: one fused softmax ``p = softmax(x_c Cᵀ)``, the
    log-sum-exp read off it at one column per row (``_logsumexp_from_softmax``), and the row
    weights applied to the small matmul operands instead of to ``p``: ``dx_c = s · (p C)``,
    ``dCᵀ += (s · x_c)ᵀ p`` with ``s = w / Σw``. The backward pass only scales the stored
    gradients by the upstream scalar. Same matmul count as autodiff (one forward, two for the
    gradients); the gradient is kept for the whole of x ([P, D]).

    Args:
      x: ``[P, D]`` float32 output vectors.
      catalogue: ``[N, D]`` float32 item rows.
      weights: ``[P]`` float32 row weights (0 = ignored row).
      chunk_rows: static int >= 1.
      columns: int32 ``[P]``, a column of ``catalogue`` per row (e.g. the positive's) at which
        the log-sum-exp is read; any value in 0..N-1 gives the same loss.
    Returns:
      float32 scalar (0 when every weight is 0).
    """
    @tf.custom_gradient
    def logsumexp_mean(x, catalogue):
        rows = tf.shape(x)[0]
        scale = tf.math.divide_no_nan(weights, tf.reduce_sum(weights))[:, None]  # [P, 1]
        transposed = tf.transpose(catalogue)  # [D, N]: faster in oneDNN than transpose_b
        num_chunks = (rows + chunk_rows - 1) // chunk_rows

        def body(index, loss, x_gradients, transposed_gradient):
            start = index * chunk_rows
            x_chunk, scale_chunk = x[start:start + chunk_rows], scale[start:start + chunk_rows]
            logits = tf.matmul(x_chunk, transposed)                              # [c, N]
            probabilities = tf.nn.softmax(logits)
            logsumexp = _logsumexp_from_softmax(logits, probabilities,
                                                columns[start:start + chunk_rows])
            loss += tf.reduce_sum(scale_chunk[:, 0] * logsumexp)
            x_gradients = x_gradients.write(
                index, scale_chunk * tf.matmul(probabilities, catalogue))
            transposed_gradient += tf.matmul(scale_chunk * x_chunk, probabilities,
                                             transpose_a=True)
            return index + 1, loss, x_gradients, transposed_gradient

        _, loss, x_gradients, transposed_gradient = tf.while_loop(
            lambda index, *_: index < num_chunks, body,
            (tf.constant(0), tf.constant(0.0),
             tf.TensorArray(tf.float32, size=num_chunks, infer_shape=False),
             tf.zeros_like(transposed)))
        x_gradient = tf.reshape(x_gradients.concat(), tf.shape(x))
        catalogue_gradient = tf.transpose(transposed_gradient)

        def gradient(upstream):
            return upstream * x_gradient, upstream * catalogue_gradient

        return loss, gradient

    return logsumexp_mean(x, catalogue)


def _logsumexp_from_softmax(logits, probabilities, columns):
    """``log Σ_j exp(logits_ij)`` per row, given ``probabilities = softmax(logits)``.

    ``p_ic = exp(l_ic - lse_i)``, so ``lse_i = l_ic - log p_ic`` at any column c: two gathers
    instead of the max, subtract, exp and sum passes over ``[c, N]`` that a separate
    log-sum-exp costs. Exact while ``p_ic`` is a normal float; a chunk with a smaller one (a
    logit some 87 below its row's largest) falls back to ``tf.reduce_logsumexp``.

    Args:
      logits, probabilities: ``[c, N]``.
      columns: int32 ``[c]`` in 0..N-1.
    Returns:
      ``[c]``.
    """
    picked = tf.stack([tf.range(tf.shape(columns)[0]), columns], axis=1)
    picked_probabilities = tf.gather_nd(probabilities, picked)
    return tf.cond(
        tf.reduce_all(picked_probabilities >= np.finfo(np.float32).tiny),
        lambda: tf.gather_nd(logits, picked) - tf.math.log(picked_probabilities),
        lambda: tf.reduce_logsumexp(logits, axis=1))


def uniform_negatives(num_items, num_negatives, seed):
    """``num_negatives`` item indices drawn uniformly (with replacement) from 1..N.

    Args:
      seed: int ``[2]`` stateless seed.
    Returns:
      int32 ``[num_negatives]``.
    """
    return tf.random.stateless_uniform([num_negatives], seed, minval=1, maxval=num_items + 1,
                                       dtype=tf.int32)


def sampled_softmax_cross_entropy(x, y, item_embeddings, negatives, log_q=None):
    """Softmax cross-entropy over the positive and a shared set of sampled negatives.

    For row i the logits are ``[x_i·e_{y_i}, x_i·e_{n_1}, ..., x_i·e_{n_K}]``. With ``log_q``
    (log sampling probability per vocabulary row) every logit, the positive's included, is
    shifted by ``-log_q[item]`` (Yi et al. 2019), which removes the sampler's popularity bias
    when popular items are drawn more often (in-batch negatives are drawn by popularity). A
    uniform sampler needs no correction: it would shift every logit equally. Negatives equal to
    the row's positive ("accidental hits", including the positive itself in in-batch sampling)
    are removed. With every item 1..N as negatives this is exactly the full softmax.

    Args:
      x: ``[P, D]`` output vectors.
      y: int ``[P]`` positives in 1..N (0 = padding row, ignored).
      item_embeddings: ``[N + 2, D]``.
      negatives: int ``[K]`` item indices in 1..N, shared by all rows (0 entries are ignored).
      log_q: optional float ``[N + 2]``.
    Returns:
      float32 scalar.
    """
    x = tf.cast(x, tf.float32)
    table = tf.cast(item_embeddings, tf.float32)
    negatives = tf.cast(negatives, tf.int32)
    positive_logits = tf.reduce_sum(x * tf.gather(table, y), axis=-1)          # [P]
    negative_logits = tf.matmul(x, tf.gather(table, negatives), transpose_b=True)  # [P, K]
    if log_q is not None:
        log_q = tf.cast(log_q, tf.float32)
        positive_logits -= tf.gather(log_q, y)
        negative_logits -= tf.gather(log_q, negatives)[None, :]
    hits = tf.logical_or(tf.equal(negatives[None, :], y[:, None]),
                         tf.equal(negatives, PAD_ID)[None, :])
    negative_logits = tf.where(hits, tf.constant(-float("inf")), negative_logits)
    logits = tf.concat([positive_logits[:, None], negative_logits], axis=1)    # [P, 1 + K]
    losses = tf.reduce_logsumexp(logits, axis=1) - positive_logits
    return _weighted_mean(losses, _row_weights(y))


def sce_bucket_size(batch_size: int, positions_per_row: float) -> int:
    """The SCE authors' ``n_b = b_x ≈ 2·sqrt(output rows per batch)`` (Mezentsev et al. 2024).

    With far fewer, most rows meet few hard negatives and accuracy falls well below the full
    softmax's (measured in docs/benchmarks.md with ``bench/bench_speed_quality.py``).
    """
    return max(1, round(2 * float(np.sqrt(batch_size * positions_per_row))))


def scalable_cross_entropy(x, y, item_embeddings, *, num_buckets, bucket_size_x,
                           bucket_size_y, seed):
    """Scalable Cross-Entropy (Mezentsev et al. 2024): softmax over the hardest negatives only.

    A random Gaussian matrix ``Ω [n_b, D]`` projects output vectors and items alike; bucket b
    holds the ``bucket_size_x`` real rows with the largest ``Ω_b·x`` and the ``bucket_size_y``
    items with the largest ``Ω_b·e`` (so vectors and items that point the same way meet, and
    those are the large logits that dominate the softmax). Inside each bucket every row gets the
    logits of the bucket's items (its own positive removed) plus its positive logit; the
    cross-entropy of a row is the largest over the buckets it falls in, and the loss is the mean
    over rows in at least one bucket. Bucket selection is a discrete choice with no gradient.
    With one bucket holding every row and every item this is exactly the full softmax.

    Cost O(n_b·(P + N)·D + n_b·b_x·b_y·D) instead of O(P·N·D).

    Args:
      x: ``[P, D]`` output vectors.
      y: int ``[P]`` positives in 1..N (0 = padding row, never selected).
      item_embeddings: ``[N + 2, D]``.
      num_buckets: n_b.
      bucket_size_x: rows per bucket (capped at P).
      bucket_size_y: items per bucket (capped at N).
      seed: int ``[2]`` stateless seed of ``Ω`` (draw a new one every step).
    Returns:
      float32 scalar.
    """
    x = tf.cast(x, tf.float32)
    catalogue = _catalogue(item_embeddings)                                     # [N, D]
    rows = x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]  # static under XLA
    real = tf.not_equal(y, PAD_ID)
    omega = tf.random.stateless_normal([num_buckets, tf.shape(x)[1]], seed)    # [n_b, D]
    x_projection = tf.matmul(omega, tf.stop_gradient(x), transpose_b=True)     # [n_b, P]
    x_projection = tf.where(real[None, :], x_projection, -float("inf"))         # padding last
    size_x = min(bucket_size_x, rows) if isinstance(rows, int) else tf.minimum(bucket_size_x, rows)
    _, bucket_rows = tf.math.top_k(x_projection, k=size_x)                     # [n_b, b_x]
    y_projection = tf.matmul(omega, tf.stop_gradient(catalogue), transpose_b=True)  # [n_b, N]
    _, bucket_columns = tf.math.top_k(
        y_projection, k=min(bucket_size_y, catalogue.shape[0]))                # [n_b, b_y]

    bucket_x = tf.gather(x, bucket_rows)                                        # [n_b, b_x, D]
    bucket_lse = bucket_logsumexp(bucket_x, tf.gather(catalogue, bucket_columns))  # [n_b, b_x]
    positive_logits = tf.reduce_sum(x * tf.gather(catalogue, tf.maximum(y - 1, 0)), axis=-1)
    bucket_positive = tf.gather(positive_logits, bucket_rows)                   # [n_b, b_x]
    # A row's positive enters its softmax once: as a bucket column when the bucket holds it,
    # else added here (the same softmax as masking it out of the columns and appending it).
    in_columns = _holds_own_positive(bucket_columns, tf.gather(y, bucket_rows) - 1)
    losses = tf.where(in_columns, bucket_lse,
                      tf.math.reduce_logsumexp(tf.stack([bucket_lse, bucket_positive]), 0))
    losses -= bucket_positive                                                   # [n_b, b_x]

    flat_rows = tf.reshape(bucket_rows, [-1])
    row_loss = tf.math.unsorted_segment_max(tf.reshape(losses, [-1]), flat_rows, rows)  # [P]
    in_bucket = tf.math.unsorted_segment_max(tf.ones_like(flat_rows, tf.float32), flat_rows,
                                             rows) > 0
    # Padding rows are picked only when a batch has fewer than b_x real rows; never counted.
    weights = tf.cast(tf.logical_and(in_bucket, real), tf.float32)
    return _weighted_mean(tf.where(weights > 0, row_loss, 0.0), weights)


def bucket_logsumexp(bucket_x, bucket_items):
    """``log Σ_j exp(x_bi · e_bj)`` for every row slot of every bucket, with its gradient.

    The ``[n_b, b_x, b_y]`` logits are SCE's one large tensor (34M floats at ML-20M size with
    the authors' bucket rule), so every element-wise pass over them costs: here they are
    written by the matmul, read by one fused softmax that is kept for the backward pass, and
    the log-sum-exp is read off it at one column per row (``_logsumexp_from_softmax``); the
    gradient is one scaling of that softmax and the two matmuls. (Autodiff of a log-sum-exp
    over logits with the own positive masked out and appended made a mask, a concatenation and
    the exp / select / slice passes of both directions over that tensor.)

    Args:
      bucket_x: ``[n_b, b_x, D]`` output vectors of each bucket's rows.
      bucket_items: ``[n_b, b_y, D]`` embeddings of each bucket's items.
    Returns:
      ``[n_b, b_x]``.
    """
    @tf.custom_gradient
    def logsumexp(bucket_x, bucket_items):
        logits = tf.matmul(bucket_x, bucket_items, transpose_b=True)           # [n_b, b_x, b_y]
        probabilities = tf.nn.softmax(logits)
        shape = tf.shape(logits)
        flat = [shape[0] * shape[1], shape[2]]
        lse = tf.reshape(_logsumexp_from_softmax(
            tf.reshape(logits, flat), tf.reshape(probabilities, flat),
            tf.zeros([flat[0]], tf.int32)), shape[:2])

        def gradient(upstream):
            weighted = upstream[:, :, None] * probabilities
            return (tf.matmul(weighted, bucket_items),
                    tf.matmul(weighted, bucket_x, transpose_a=True))

        return lse, gradient

    return logsumexp(bucket_x, bucket_items)


def _holds_own_positive(bucket_columns, slot_columns):
    """Whether each row slot's positive column is among its bucket's columns.

    Args:
      bucket_columns: int32 ``[n_b, b_y]``, distinct columns per bucket (``top_k`` indices).
      slot_columns: int32 ``[n_b, b_x]``, the positive's column of each row slot (-1: none).
    Returns:
      bool ``[n_b, b_x]``: a sorted search per bucket, not a ``[n_b, b_x, b_y]`` comparison.
    """
    columns = tf.sort(bucket_columns, axis=1)
    found = tf.minimum(tf.searchsorted(columns, slot_columns), tf.shape(columns)[1] - 1)
    return tf.equal(tf.gather(columns, found, batch_dims=1), slot_columns)


@keras.saving.register_keras_serializable(package="tfbt")
class NextItemLoss(keras.layers.Layer):
    """The next-item loss of a sequential recommender, chosen by name.

    Args:
      loss: ``"full"`` (softmax over all items), ``"sampled"`` (sampled softmax) or ``"sce"``
        (Scalable Cross-Entropy).
      num_items: catalogue size N.
      num_negatives: ``"sampled"`` with ``sampler="uniform"``: negatives per step.
      sampler: ``"uniform"`` (over 1..N) or ``"in_batch"`` (the batch's positives, with log-Q
        correction by the training popularity given to ``set_item_counts``).
      num_buckets, bucket_size_x, bucket_size_y: SCE's n_b, b_x, b_y.
      ce_chunk_rows: ``"full"``: rows per chunk of ``chunked_logsumexp_mean`` (0 = unchunked).

    Call:
      x: ``[P, D]`` output vectors (``real_positions`` or ``all_positions`` of the encoder's
      outputs); y: int ``[P]`` their positives (0 = padding row, ignored); item_embeddings:
      ``[N + 2, D]``; seed: int ``[2]`` stateless seed (sampling and SCE buckets). Returns a
      float32 scalar, the mean over real rows.
    """

    def __init__(self, loss="full", num_items=None, num_negatives=256, sampler="uniform",
                 num_buckets=64, bucket_size_x=64, bucket_size_y=256, ce_chunk_rows=0,
                 **kwargs):
        super().__init__(**kwargs)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}; got {sampler!r}")
        if num_items is None or int(num_items) < 1:
            raise ValueError(f"num_items must be a positive catalogue size; got {num_items!r}")
        for name, value in (("num_negatives", num_negatives), ("num_buckets", num_buckets),
                            ("bucket_size_x", bucket_size_x), ("bucket_size_y", bucket_size_y)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1; got {value}")
        if int(ce_chunk_rows) < 0:
            raise ValueError(f"ce_chunk_rows must be >= 0 (0 = unchunked); got {ce_chunk_rows}")
        self.ce_chunk_rows = int(ce_chunk_rows)
        self.loss = loss
        self.num_items = int(num_items)
        self.num_negatives = int(num_negatives)
        self.sampler = sampler
        self.num_buckets = int(num_buckets)
        self.bucket_size_x = int(bucket_size_x)
        self.bucket_size_y = int(bucket_size_y)
        self.log_q = None
        if loss == "sampled" and sampler == "in_batch":
            # log of each item's share of training interactions; uniform until set_item_counts.
            self.log_q = self.add_weight(
                shape=(self.num_items + 2,), initializer="zeros", trainable=False, name="log_q")

    def set_item_counts(self, item_counts):
        """Sets the in-batch log-Q correction from training interaction counts ``[N + 1]``
        (or ``[N + 2]``); items never seen get the smallest observed probability."""
        if self.log_q is None:
            return
        counts = np.zeros(self.num_items + 2)
        given = np.asarray(item_counts, dtype=np.float64)[:self.num_items + 1]
        counts[:given.size] = given
        observed = counts[1:-1][counts[1:-1] > 0]
        if observed.size == 0:
            raise ValueError("item_counts: every item count is zero")
        counts = np.where(counts > 0, counts, observed.min())
        self.log_q.assign(np.log(counts / counts[1:-1].sum()).astype("float32"))

    def call(self, x, y, item_embeddings, seed):
        if self.loss == "full":
            return full_softmax_cross_entropy(x, y, item_embeddings, self.ce_chunk_rows)
        if self.loss == "sampled":
            if self.sampler == "uniform":
                negatives = uniform_negatives(self.num_items, self.num_negatives, seed)
            else:
                negatives = y
            return sampled_softmax_cross_entropy(x, y, item_embeddings, negatives,
                                                 log_q=self.log_q)
        return scalable_cross_entropy(x, y, item_embeddings, num_buckets=self.num_buckets,
                                      bucket_size_x=self.bucket_size_x,
                                      bucket_size_y=self.bucket_size_y, seed=seed)

    def get_config(self):
        return {**super().get_config(), "loss": self.loss, "num_items": self.num_items,
                "num_negatives": self.num_negatives, "sampler": self.sampler,
                "num_buckets": self.num_buckets, "bucket_size_x": self.bucket_size_x,
                "bucket_size_y": self.bucket_size_y, "ce_chunk_rows": self.ce_chunk_rows}
