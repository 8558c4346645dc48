"""The one reader of whole user records from a built dataset.

Everything that needs every user's complete sequence (the BT-SR twin index, the downstream
users, item popularity, the builder's own read-back statistics) reads it here, in one batched
pass over the shards, into flat NumPy arrays: ``items[offsets[u]:offsets[u + 1]]`` is row u.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from tfrecords_builder import schema
from tfrecords_builder.schema import Metadata

_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class Records:
    """Every record of a dataset, in shard order.

    Attributes:
      user_id: int64 ``[U]`` user indices.
      items: int64 ``[T]`` all item sequences concatenated (chronological within a row).
      offsets: int64 ``[U + 1]`` row boundaries into ``items`` (and ``timestamps``).
      timestamps: int64 ``[T]`` aligned with ``items``, or ``None`` (not asked for, or the
        dataset has none).
      labels: label name -> int64 ``[U]`` (``MISSING_LABEL`` when absent).
    """

    user_id: np.ndarray
    items: np.ndarray
    offsets: np.ndarray
    timestamps: np.ndarray | None
    labels: dict[str, np.ndarray]

    @property
    def lengths(self) -> np.ndarray:
        """int64 ``[U]`` sequence lengths."""
        return np.diff(self.offsets)

    def row(self, index: int) -> np.ndarray:
        """The item sequence of row ``index``."""
        return self.items[self.offsets[index]:self.offsets[index + 1]]

    def rows(self, drop_last: int = 0) -> list[np.ndarray]:
        """Every row's items without its last ``drop_last`` (views, not copies)."""
        return [self.items[start:max(start, stop - drop_last)]
                for start, stop in zip(self.offsets[:-1], self.offsets[1:])]


def read_records(directory: str | os.PathLike, *, metadata: Metadata | None = None,
                 labels: Sequence[str] = (), timestamps: bool = False) -> Records:
    """Reads every record of the dataset in ``directory`` (one batched pass, no Python per item).

    Args:
      directory: a folder written by ``tfbt build``.
      metadata: an already loaded ``Metadata`` (read from ``directory`` otherwise).
      labels: label features to read (each must be in ``metadata.labels``).
      timestamps: also read the ``timestamps`` feature (``MetadataError`` if the dataset has
        none).

    Raises ``MetadataError`` when an item id is outside ``1..num_items`` (a ``metadata.json``
    that does not describe these shards).
    """
    import tensorflow as tf  # only here, so the builder's command line starts without it

    meta = metadata or Metadata.load(directory)
    unknown = [name for name in labels if name not in meta.labels]
    if unknown:
        raise ValueError(f"labels {unknown} not in {directory}; it has {sorted(meta.labels)}")
    if timestamps and not meta.has_timestamps:
        raise schema.MetadataError(f"{directory}: the dataset has no timestamps (its source had "
                                   f"no time column)")
    spec = {schema.USER_ID: tf.io.FixedLenFeature([], tf.int64),
            schema.ITEM_IDS: tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int64),
            **{name: tf.io.FixedLenFeature([], tf.int64, default_value=schema.MISSING_LABEL)
               for name in labels}}
    if timestamps:
        spec[schema.TIMESTAMPS] = tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int64)
    records = tf.data.TFRecordDataset(meta.shard_paths(directory),
                                      compression_type=meta.options.get("compression") or "")
    parts: dict[str, list] = {key: [] for key in spec}
    lengths = []
    for parsed in records.batch(_BATCH).map(lambda batch: tf.io.parse_example(batch, spec)):
        for key, value in parsed.items():
            parts[key].append((value.flat_values if isinstance(value, tf.RaggedTensor)
                               else value).numpy())
        lengths.append(parsed[schema.ITEM_IDS].row_lengths().numpy())

    def joined(key):
        return np.concatenate(parts[key]) if parts[key] else np.zeros(0, np.int64)

    lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    items = joined(schema.ITEM_IDS)
    if items.size and (items.min() < 1 or items.max() > meta.num_items):
        raise schema.MetadataError(
            f"{directory}: the shards hold item ids {items.min()}..{items.max()}, outside "
            f"1..{meta.num_items} (num_items in {schema.METADATA_FILE}); rebuild the dataset")
    return Records(
        user_id=joined(schema.USER_ID),
        items=items,
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        timestamps=joined(schema.TIMESTAMPS) if timestamps else None,
        labels={name: joined(name) for name in labels})
