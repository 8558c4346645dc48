"""Ready-to-fit models from plain settings: what ``tfbt train`` builds, for a ``model.fit`` script.

``sequential_recommender(metadata, ...)`` returns a compiled, built ``SequentialRecommender``
(SASRec with ``alpha = 0``, BT-SR with ``alpha > 0``) sized for the dataset of ``metadata``.
``tfbt train`` builds its model with it, so a script that passes the same settings and seed
trains the same model.
"""

from __future__ import annotations

import inspect

import keras

from tfbt.data import splits
from tfbt.layers.encoders import SASRecEncoder
from tfbt.losses.names import DEFAULT_LAMBD
from tfbt.losses.next_item import NextItemLoss, sce_bucket_size
from tfbt.models.sequential import SequentialRecommender


def sce_buckets(metadata, *, batch_size: int, max_len: int, num_buckets: int | None = None,
                bucket_size_x: int | None = None) -> tuple[int, int]:
    """SCE's ``(n_b, b_x)``: the given ones, or by default ``sce_bucket_size`` of the batch and
    the dataset's mean training positions per user (mean length less the two held-out items,
    at most ``max_len``)."""
    positions = min(max_len, max(1.0, metadata.num_interactions / metadata.num_users
                                 - splits.HELD_OUT))
    default = sce_bucket_size(batch_size, positions)
    return (num_buckets or default, bucket_size_x or default)


def sequential_recommender(metadata, *, max_len: int = 50, hidden_dim: int = 64,
                           num_blocks: int = 2, num_heads: int = 1, dropout: float = 0.2,
                           loss: str = "full", num_negatives: int = 256,
                           sampler: str = "uniform", num_buckets: int | None = None,
                           bucket_size_x: int | None = None, bucket_size_y: int = 512,
                           ce_chunk_rows: int = 512, batch_size: int = 256, alpha: float = 0.0,
                           lambd: float | None = None, lambda_on: str = "off_diagonal",
                           bt_form: str = "authors", dropout_pair_weight: float = 0.0,
                           length_chunks: int = 4, learning_rate: float = 1e-3,
                           adam_beta2: float = 0.999, jit_compile: bool = False, seed: int = 0,
                           item_counts=None) -> SequentialRecommender:
    """A compiled, built SASRec / BT-SR model for the dataset of ``metadata``.

    Args:
      metadata: the dataset's ``Metadata`` (``tfbt.data.load_metadata``): the catalogue size.
      max_len, hidden_dim, num_blocks, num_heads, dropout: the ``SASRecEncoder``.
      loss, num_negatives, sampler, bucket_size_y, ce_chunk_rows: the ``NextItemLoss``;
        ``num_buckets``/``bucket_size_x`` (SCE) default to the authors' rule for
        ``batch_size`` (``sce_buckets``).
      alpha, lambd, lambda_on, bt_form, dropout_pair_weight, length_chunks, seed: the
        ``SequentialRecommender`` (``lambd`` default: ``DEFAULT_LAMBD[bt_form]``).
      learning_rate, adam_beta2, jit_compile: the Adam optimizer and ``compile``.
      item_counts: training interaction counts ``[N + 1]`` (``tfbt.data.item_counts``), for the
        log-Q correction of ``sampler="in_batch"``.
    """
    encoder = SASRecEncoder(metadata.vocab_size, max_len, hidden_dim=hidden_dim,
                            num_blocks=num_blocks, num_heads=num_heads, dropout=dropout)
    num_buckets, bucket_size_x = sce_buckets(metadata, batch_size=batch_size, max_len=max_len,
                                             num_buckets=num_buckets,
                                             bucket_size_x=bucket_size_x)
    next_item_loss = NextItemLoss(loss, num_items=metadata.num_items,
                                  num_negatives=num_negatives, sampler=sampler,
                                  num_buckets=num_buckets, bucket_size_x=bucket_size_x,
                                  bucket_size_y=bucket_size_y, ce_chunk_rows=ce_chunk_rows)
    model = SequentialRecommender(encoder, next_item_loss, alpha=alpha,
                                  lambd=DEFAULT_LAMBD[bt_form] if lambd is None else lambd,
                                  lambda_on=lambda_on, seed=seed, length_chunks=length_chunks,
                                  bt_form=bt_form, dropout_pair_weight=dropout_pair_weight)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_2=adam_beta2),
                  jit_compile=jit_compile)
    model.build((None, max_len))
    if item_counts is not None:
        next_item_loss.set_item_counts(item_counts)
    return model


# The settings ``sequential_recommender`` takes by name (a ``TrainConfig`` or a preset has more).
SETTINGS = frozenset(inspect.signature(sequential_recommender).parameters) - {
    "metadata", "item_counts"}
