"""tfbt: Barlow Twins user-sequence representations for TensorFlow/Keras.

TensorFlow Recommenders (used only by the dual-encoder baseline) needs Keras 2, while tfbt is
written for Keras 3. Setting ``TF_USE_LEGACY_KERAS`` before TensorFlow is first imported makes
``tf.keras`` resolve to tf-keras and leaves ``import keras`` as Keras 3, so both live in one process.

The most used names are importable from the top level (``tfbt.make_dataset``,
``tfbt.SASRecEncoder``, ...); they load TensorFlow on first use, so ``import tfbt`` stays instant.
"""

import importlib
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow turns its oneDNN kernels on by default only on CPUs it classes as deep-learning
# ones; elsewhere its plain Eigen kernels make evaluation and training slower (measured in
# docs/benchmarks.md). TensorFlow reads it when first imported. A user's own setting wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
# TensorFlow's C++ log lines (cuInit failing on a machine without a GPU, TFRecordDataset buffer
# sizes, NodeDef attribute mismatches) read like errors and are not ones: by default only fatal
# ones are shown. A user who sets TF_CPP_MIN_LOG_LEVEL keeps control (and then `tfbt` also shows
# the lines printed while TensorFlow loads, see tfbt.startup).
# The marker tells a child process (which inherits both) that tfbt, not the user, chose the level.
_LEVEL_SET_BY_TFBT = "TFBT_SET_TF_CPP_MIN_LOG_LEVEL"
USER_SET_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL") not in (
    None, os.environ.get(_LEVEL_SET_BY_TFBT))
if not USER_SET_TF_LOG_LEVEL:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = os.environ[_LEVEL_SET_BY_TFBT] = "3"

__version__ = "0.1.0"

_PUBLIC = {
    "set_seed": "tfbt.determinism",
    "make_dataset": "tfbt.data",
    "load_metadata": "tfbt.data",
    "next_item_dataset": "tfbt.data",
    "evaluation_dataset": "tfbt.data",
    "SequenceAugmenter": "tfbt.data.augment",
    "CNNEncoder": "tfbt.layers",
    "SASRecEncoder": "tfbt.layers",
    "ProjectorMLP": "tfbt.layers",
    "barlow_twins_loss": "tfbt.losses",
    "NextItemLoss": "tfbt.losses",
    "BarlowTwinsPretrainer": "tfbt.models",
    "encoder_model": "tfbt.models",
    "SequentialRecommender": "tfbt.models",
    "sequential_recommender": "tfbt.models.builders",
    "Retriever": "tfbt.models",
    "ItemTableRetriever": "tfbt.models",
    "evaluate": "tfbt.evaluation",
    "evaluate_full_ranking": "tfbt.evaluation",
    "FullRankingEarlyStopping": "tfbt.evaluation",
    "probe_label": "tfbt.downstream",
    "export_model": "tfbt.serving.export",
}


def __getattr__(name):
    if name == "presets":  # a module: names(), load(), recommender(), protocol()
        return importlib.import_module("tfbt.presets")
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'tfbt' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_PUBLIC, "presets"])
