"""Data: the tf.data pipeline, leave-one-out splits, the item catalogue, augmentations, BT-SR
pairs and the synthetic generator.

* ``datasets``: next-item training and evaluation batches in one call each
  (``next_item_dataset``, ``evaluation_dataset``).
* ``pipeline``: TFRecord shards -> batched, padded, split tensors (``make_dataset``).
* ``splits``: the leave-one-out rule, the minimum sequence lengths and the temporal protocol.
* ``read_records`` (from ``tfrecords_builder.records``): every user's whole sequence at once.
* ``catalog``: titles and genres from ``items.tsv``.
* ``augment``: batched, seeded sequence augmentations for Barlow Twins views.
* ``btsr_pairs``: BT-SR positive pairs (sequences that share their next item).
* ``synthetic``: the embedded synthetic dataset with planted structure.

The names below load TensorFlow on first use; ``tfbt.data.splits`` and ``tfbt.data.catalog``
stay importable without it (the command line reads their constants for ``--help``).
"""

import importlib

_LAZY = {
    **dict.fromkeys(("MODES", "SPLITS", "item_counts", "left_pad", "load_metadata",
                     "make_dataset", "training_sequences"), "tfbt.data.pipeline"),
    **dict.fromkeys(("evaluation_dataset", "next_item_dataset"), "tfbt.data.datasets"),
    **dict.fromkeys(("Records", "read_records"), "tfrecords_builder.records"),
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfbt.data' has no attribute {name!r}")
