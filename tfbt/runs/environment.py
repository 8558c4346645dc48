"""Where and how a run executes: seeding and distribution strategies.

TensorFlow is imported by the functions, so that ``STRATEGIES`` serves ``--help`` at once.
"""

from __future__ import annotations

import os

from tfbt.determinism import set_seed  # noqa: F401  (the run commands seed with it)

STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name: str = "default"):
    """``default`` (one device), ``mirrored`` (all local GPUs) or ``multi-worker``.

    ``multi-worker`` reads the cluster from the ``TF_CONFIG`` environment variable, e.g.
    ``{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker",
    "index": 0}}``, set differently on each host; every host runs the same command. Barlow
    Twins statistics are computed over the global batch in every case.

    Returns:
      a ``tf.distribute.Strategy``.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi-worker needs the TF_CONFIG environment variable "
                             "describing the cluster (see tfbt.runs.environment.make_strategy)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")
