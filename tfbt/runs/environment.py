"""Where and how a run executes: seeding and distribution strategies.

TensorFlow is imported by the functions, so that ``STRATEGIES`` serves ``--help`` at once.
"""

from __future__ import annotations

import os

STRATEGIES = ("default", "mirrored", "multi-worker")


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seeds Python, NumPy and TensorFlow; with ``deterministic`` also makes TF ops repeatable.

    Same seed, same machine (CPU) -> same weights and metrics. Keras silently runs a model
    without XLA while op determinism is on, so runs that ask for XLA pass
    ``deterministic=False`` (determinism is process-wide: it is switched off again here).
    """
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()


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
