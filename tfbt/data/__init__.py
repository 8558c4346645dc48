"""Data: the tf.data pipeline, leave-one-out splits, the item catalogue, augmentations, BT-SR
pairs and the synthetic generator.

* ``pipeline``: TFRecord shards -> batched, padded, split tensors (``make_dataset``).
* ``splits``: the leave-one-out rule, the minimum sequence lengths and the temporal protocol.
* ``read_records`` (from ``tfrecords_builder.records``): every user's whole sequence at once.
* ``catalog``: titles and genres from ``items.tsv``.
* ``augment``: batched, seeded sequence augmentations for Barlow Twins views.
* ``btsr_pairs``: BT-SR positive pairs (sequences that share their next item).
* ``synthetic``: the embedded synthetic dataset with planted structure.
"""

from tfbt.data.pipeline import (
           MODES,
           SPLITS,
           item_counts,
           left_pad,
           load_metadata,
           make_dataset,
           training_sequences,
)
from tfrecords_builder.records import Records, read_records

__all__ = ["MODES", "SPLITS", "Records", "item_counts", "left_pad", "load_metadata",
           "make_dataset", "read_records", "training_sequences"]
