"""The datasets of next-item training and evaluation in one call each, from a dataset folder.

* ``next_item_dataset``: shuffled SASRec / BT-SR training batches, with BT-SR twins when asked
  (``tfbt.data.btsr_pairs``).
* ``evaluation_dataset``: the ``valid`` or ``test`` split's batches for full-ranking evaluation,
  under either split protocol.

``tfbt train`` builds its datasets with these, so a ``model.fit`` script that passes the same
settings sees the same batches.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf

from tfbt.data import splits
from tfbt.data.pipeline import make_dataset
from tfrecords_builder.schema import Metadata


def temporal_options(protocol) -> splits.TemporalOptions | None:
    """``protocol`` (``"leave-one-out"``, ``"temporal"`` with the authors' defaults, or a
    ``splits.TemporalOptions``) as ``make_dataset``'s ``temporal`` argument."""
    if isinstance(protocol, splits.TemporalOptions):
        return protocol
    if protocol not in splits.PROTOCOLS:
        raise ValueError(f"protocol must be one of {splits.PROTOCOLS} or a "
                         f"tfbt.data.splits.TemporalOptions; got {protocol!r}")
    return splits.TemporalOptions() if protocol == "temporal" else None


def next_item_dataset(dataset_dir: str | os.PathLike, *, batch_size: int = 256,
                      max_len: int = 50, twins: str | None = None, no_twin: str = "self",
                      seed: int = 0, protocol="leave-one-out",
                      users: Sequence[int] | None = None, drop_remainder: bool = False,
                      metadata: Metadata | None = None) -> tf.data.Dataset:
    """Shuffled next-item training batches of the training split, seeded by ``seed``.

    Args:
      dataset_dir: a folder written by ``tfbt build``.
      batch_size, max_len: users per batch and the most recent items kept.
      twins: ``None`` (SASRec) or a twin policy (``"last-item"``, the BT-SR authors';
        ``"any-prefix"``): adds ``twin_items``, ``has_twin`` and ``paired`` (see
        ``btsr_pairs.add_twins``), drawn afresh each epoch.
      no_twin: a user without a twin: ``"self"`` (paired with itself) or ``"skip"``.
      seed: shuffling and twin draws.
      protocol: ``"leave-one-out"``, ``"temporal"`` or a ``splits.TemporalOptions``.
      users: train on these user ids only (leave-one-out).
      drop_remainder: a static batch size (XLA).
      metadata: an already loaded ``Metadata``.

    Returns:
      Batches ``{"user_id" [B], "items" [B, max_len], "positives" [B, max_len], ...}`` for
      ``SequentialRecommender.fit``.
    """
    temporal = temporal_options(protocol)
    dataset = make_dataset(dataset_dir, mode="next_item", batch_size=batch_size,
                           max_len=max_len, shuffle=True, seed=seed,
                           drop_remainder=drop_remainder, metadata=metadata,
                           temporal=temporal, users=users)
    if twins is None:
        return dataset
    from tfbt.data import btsr_pairs

    return btsr_pairs.add_twins(dataset, dataset_dir, max_len=max_len, seed=seed,
                                metadata=metadata, policy=twins, no_twin=no_twin,
                                temporal=temporal)


def evaluation_dataset(dataset_dir: str | os.PathLike, split: str = "valid", *,
                       protocol="leave-one-out", max_len: int = 50, batch_size: int = 1024,
                       metadata: Metadata | None = None) -> tf.data.Dataset:
    """Full-ranking evaluation batches ``{"items" [B, max_len], "target" [B], "seen" ragged
    [B, None], "user_id" [B]}`` of the ``valid`` or ``test`` split, under ``protocol`` (as in
    ``next_item_dataset``)."""
    return make_dataset(dataset_dir, mode="eval", split=split, batch_size=batch_size,
                        max_len=max_len, metadata=metadata, temporal=temporal_options(protocol))
