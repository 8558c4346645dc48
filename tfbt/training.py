"""What every tfbt training run shares: seeding, strategies, callbacks, run folders.

A run folder holds ``config.json`` (what was asked), ``backup/`` (``BackupAndRestore``: a killed
run started again with the same folder resumes at the epoch where it stopped), ``tensorboard/``
and ``history.json``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import keras
import tensorflow as tf

logger = logging.getLogger("tfbt")
STRATEGIES = ("default", "mirrored", "multi-worker")


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seeds Python, NumPy and TensorFlow; with ``deterministic`` also makes TF ops repeatable.

    Same seed, same machine (CPU) -> same weights and metrics.
    """
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """``default`` (one device), ``mirrored`` (all local GPUs) or ``multi-worker``.

    ``multi-worker`` reads the cluster from the ``TF_CONFIG`` environment variable, e.g.
    ``{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker",
    "index": 0}}``, set differently on each host; every host runs the same command. Barlow
    Twins statistics are computed over the global batch in every case.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi-worker needs the TF_CONFIG environment variable "
                             "describing the cluster (see tfbt.training.make_strategy)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")


class CollapseMonitor(keras.callbacks.Callback):
    """Warns (and optionally stops) when the representations collapse.

    Reads the ``embedding_std`` metric (``tfbt.models.normalized_std``: about 1 for spread
    representations, 0 for a single point) at the end of each epoch.

    Args:
      threshold: values below it are reported as a collapse.
      stop: stop training on collapse instead of only warning.
    """

    def __init__(self, threshold: float = 0.05, stop: bool = False):
        super().__init__()
        self.threshold = threshold
        self.stop = stop
        self.collapsed_epochs: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("embedding_std")
        if value is None or value >= self.threshold:
            return
        self.collapsed_epochs.append(epoch)
        logger.warning(
            "epoch %d: representation collapse suspected: embedding_std=%.4f < %.4f (the "
            "encoder maps users to nearly the same point; lower the learning rate, raise the "
            "batch size or check lambda)", epoch + 1, value, self.threshold)
        if self.stop:
            self.model.stop_training = True


def run_callbacks(output: Path, *, monitor_collapse: bool = False) -> list:
    """Resume, NaN stop, TensorBoard (and the collapse monitor) for a run folder."""
    callbacks = [
        keras.callbacks.BackupAndRestore(str(output / "backup")),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(str(output / "tensorboard"), write_graph=False),
    ]
    if monitor_collapse:
        callbacks.append(CollapseMonitor())
    return callbacks


def write_json(path: Path, payload) -> None:
    """Writes JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=float) + "\n")
    os.replace(tmp, path)


def stopped_on_nan(history: keras.callbacks.History) -> bool:
    """Whether the run ended because a loss became NaN or infinite."""
    return not all(math.isfinite(v) for v in history.history.get("loss", []))
