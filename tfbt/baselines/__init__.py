"""Baselines the tfbt methods are judged against.

This package is the only place in tfbt that uses ``tf.keras`` (tf-keras, i.e. Keras 2): TensorFlow
Recommenders 0.7.7 refuses Keras 3. Importing it checks that ``tf.keras`` really is tf-keras and
raises a ``RuntimeError`` that says what to do otherwise. Nothing Keras 2 leaves the package: the
public helpers take and return paths, tensors and NumPy arrays.

* ``tfrs_dual_encoder``: the two-tower retrieval baseline of Liu et al. 2025 (in-batch softmax).
"""

from tfbt.baselines.tfrs_dual_encoder import (
    DualEncoder,
    load_dual_encoder,
    save_dual_encoder,
    train_dual_encoder,
)

__all__ = [
    "DualEncoder",
    "load_dual_encoder",
    "save_dual_encoder",
    "train_dual_encoder",
]
