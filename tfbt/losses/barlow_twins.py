"""The Barlow Twins loss: the form of Zbontar et al. and the form of the BT-SR authors.

Barlow Twins (Zbontar et al. 2021): the two views' embeddings are standardised column by column
over the batch and their cross-correlation matrix is pushed towards the identity: the diagonal
to 1 (invariance: both views agree on every feature) and the off-diagonal to 0 (redundancy
reduction: features carry different information). ``barlow_twins_loss`` is that form;
``btsr_barlow_twins_loss`` is the BT-SR authors' (unbiased std, both terms divided by D), on the
scale of their α and λ.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfbt.losses.names import LAMBDA_PLACEMENTS


class BarlowTwinsTerms(NamedTuple):
    """float32 scalars: the weighted ``loss`` and its two unweighted parts (for logging)."""

    loss: tf.Tensor
    on_diag: tf.Tensor
    off_diag: tf.Tensor


def barlow_twins_loss(z1, z2, lambd=0.0051, *, eps=1e-5, lambda_on="off_diagonal"):
    """Barlow Twins loss of two views' embeddings, over the global batch.

    Each column of ``z1`` and ``z2`` is standardised over the batch (mean 0, biased variance,
    ``z̃ = (z - mean) / sqrt(var + eps)``: batch norm without affine, as in the reference code;
    ``eps`` keeps a collapsed, constant column finite instead of NaN). With
    ``C = z̃1ᵀ z̃2 / B`` (``[D, D]``)::

        on_diag  = Σ_i (1 - C_ii)²
        off_diag = Σ_{i≠j} C_ij²
        loss     = on_diag + lambd * off_diag     lambda_on="off_diagonal" (Zbontar et al.,
                                                   lambd = 0.0051 for D = 8192)
        loss     = lambd * on_diag + off_diag     lambda_on="on_diagonal" (Liu et al. 2025 weigh
                                                   the invariance term, lambd = 10)

    Inputs of any float dtype (bfloat16, float16 under mixed precision) are upcast: all
    statistics and the result are float32.

    Distributed training: inside a replica context with several replicas
    (``MirroredStrategy``, ``MultiWorkerMirroredStrategy``, ``strategy.run``), each replica
    passes its local rows; the batch size, column sums, centred second moments and ``z̃1ᵀ z̃2``
    numerators are summed across replicas with ``ReplicaContext.all_reduce``, so mean, variance
    and ``C`` are those of the GLOBAL batch and every replica returns the same global loss,
    unscaled (so logged values do not depend on the replica count). Gradients flow through the
    all-reduce: its gradient is again a cross-replica sum, i.e. autodiff differentiates
    ``Σ_replicas loss_r``. Therefore the caller must divide each replica's loss by
    ``tf.distribute.get_strategy().num_replicas_in_sync`` before taking gradients; the
    strategy's cross-replica SUM of the gradients is then exactly the gradient of the global
    loss. Keras 3 already does this division for losses given through ``add_loss`` (and
    multiplies it back for the loss metric); a ``compute_loss`` or ``train_step`` override that
    returns this loss itself must return ``terms.loss / num_replicas_in_sync``. Outside a
    replica context (or with one replica) the rows passed are the whole batch.

    Args:
      z1: ``[B, D]`` embeddings of the first view (local rows when distributed).
      z2: ``[B, D]`` embeddings of the second view, row i the same user as ``z1[i]``.
      lambd: weight of the off-diagonal term (or of the on-diagonal one, see ``lambda_on``).
      eps: added to the variance before the square root.
      lambda_on: ``"off_diagonal"`` or ``"on_diagonal"``: which term ``lambd`` multiplies.

    Returns:
      ``BarlowTwinsTerms(loss, on_diag, off_diag)``, float32 scalars.
    """
    if lambda_on not in LAMBDA_PLACEMENTS:
        raise ValueError(f"barlow_twins_loss: lambda_on must be one of {LAMBDA_PLACEMENTS}, "
                         f"got {lambda_on!r}")
    correlation = _cross_correlation(z1, z2, eps=eps, unbiased=False)
    on_diag, off_diag = _diagonal_terms(correlation)
    if lambda_on == "off_diagonal":
        loss = on_diag + lambd * off_diag
    else:
        loss = lambd * on_diag + off_diag
    return BarlowTwinsTerms(loss, on_diag, off_diag)


def btsr_barlow_twins_loss(z1, z2, lambd=0.05, *, eps=1e-8):
    """Barlow Twins in the BT-SR authors' form and scale (Razvorotnev et al. 2025, their code).

    The caller passes the L2-normalised last-position states of the two sequences of each pair
    (no projector). Each column is standardised over the batch with the UNBIASED standard
    deviation (``(z - mean) / std``, ``std² = Σ(z - mean)² / (B - 1)``; ``eps`` is added to
    the variance only so a constant column stays finite), ``C = z̃1ᵀ z̃2 / B`` (``[D, D]``)
    and both terms are divided by the dimension D::

        on_diag  = Σ_i (C_ii - 1)² / D
        off_diag = Σ_{i≠j} C_ij² / D
        loss     = on_diag + lambd * off_diag

    So this loss is ``barlow_twins_loss / D`` (up to the variance estimator): the BT-SR weights
    α (their ``ssl.lmd``, 0.08-0.25) and λ (their ``lmd_sem``, 0.05-0.1) are on this scale.
    Distributed use as ``barlow_twins_loss`` (global batch statistics, divide by the replica
    count before taking gradients).

    Args:
      z1: ``[B, D]`` embeddings of the first sequence of each pair (B >= 2).
      z2: ``[B, D]`` embeddings of the second sequence, row i pairs with ``z1[i]``.
      lambd: weight of the off-diagonal term.
      eps: added to the unbiased variance before the square root.

    Returns:
      ``BarlowTwinsTerms(loss, on_diag, off_diag)``, float32 scalars, the parts divided by D.
    """
    correlation = _cross_correlation(z1, z2, eps=eps, unbiased=True)
    dim = tf.cast(tf.shape(correlation)[0], tf.float32)
    on_diag, off_diag = _diagonal_terms(correlation)
    on_diag, off_diag = on_diag / dim, off_diag / dim
    return BarlowTwinsTerms(on_diag + lambd * off_diag, on_diag, off_diag)


def _cross_correlation(z1, z2, *, eps, unbiased):
    """``[D, D]`` cross-correlation of two views' columns, each standardised over the GLOBAL batch.

    ``z̃ = (z - mean) / sqrt(var + eps)`` with ``var`` the biased (``/ B``) or unbiased
    (``/ (B - 1)``) variance; ``C = z̃1ᵀ z̃2 / B``. Inputs are upcast to float32; inside a
    replica context the batch size, column sums, centred moments and numerators are summed over
    replicas (see ``barlow_twins_loss``).
    """
    z1 = tf.cast(z1, tf.float32)
    z2 = tf.cast(z2, tf.float32)
    if z1.shape.rank != 2 or not z1.shape.is_compatible_with(z2.shape):
        raise ValueError(f"Barlow Twins: z1 and z2 must both be [batch, dim], got "
                         f"{z1.shape} and {z2.shape}")
    replica_sum = _replica_sum()
    # Two passes (global mean first, then centred moments) rather than E[z²] - E[z]², which
    # cancels catastrophically in float32 when |mean| >> std.
    count, sum1, sum2 = replica_sum((tf.cast(tf.shape(z1)[0], tf.float32),
                                     tf.reduce_sum(z1, axis=0), tf.reduce_sum(z2, axis=0)))
    centred1 = z1 - sum1 / count
    centred2 = z2 - sum2 / count
    squares1, squares2, cross = replica_sum((tf.reduce_sum(tf.square(centred1), axis=0),
                                             tf.reduce_sum(tf.square(centred2), axis=0),
                                             tf.matmul(centred1, centred2, transpose_a=True)))
    dof = count - 1.0 if unbiased else count
    std1 = tf.sqrt(squares1 / dof + eps)
    std2 = tf.sqrt(squares2 / dof + eps)
    return cross / count / (std1[:, None] * std2[None, :])


def _diagonal_terms(correlation):
    """``(Σ_i (1 - C_ii)², Σ_{i≠j} C_ij²)`` of a ``[D, D]`` cross-correlation."""
    diagonal = tf.linalg.diag_part(correlation)
    on_diag = tf.reduce_sum(tf.square(1.0 - diagonal))
    off_diag = tf.reduce_sum(tf.square(tf.linalg.set_diag(correlation,
                                                          tf.zeros_like(diagonal))))
    return on_diag, off_diag


def _replica_sum():
    """A function summing a nest of tensors over replicas (identity with one replica)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return lambda values: values
    return lambda values: context.all_reduce(tf.distribute.ReduceOp.SUM, values)
