"""Seeding: the same seed on the same machine gives the same weights and metrics.

TensorFlow and Keras are imported by ``set_seed``, so that importing this module stays instant.
"""

from __future__ import annotations


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
