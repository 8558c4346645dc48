"""tfbt: Barlow Twins user-sequence representations for TensorFlow/Keras.

TensorFlow Recommenders (used only by the dual-encoder baseline) needs Keras 2, while tfbt is
written for Keras 3. Setting ``TF_USE_LEGACY_KERAS`` before TensorFlow is first imported makes
``tf.keras`` resolve to tf-keras and leaves ``import keras`` as Keras 3, so both live in one process.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__version__ = "0.1.0"
