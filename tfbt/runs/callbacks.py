"""Callbacks of the training commands: resume, NaN stop, TensorBoard and collapse watch (the
full-ranking validation with early stopping is ``tfbt.evaluation.FullRankingEarlyStopping``)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import keras

from tfbt.runs import layout

logger = logging.getLogger("tfbt")


class CollapseMonitor(keras.callbacks.Callback):
    """Warns (and optionally stops) when the representations collapse.

    Reads the ``embedding_std`` metric (``tfbt.models.pretrainer.normalized_std``: about 1 for spread
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
        keras.callbacks.BackupAndRestore(str(output / layout.BACKUP_DIR)),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(str(output / layout.TENSORBOARD_DIR), write_graph=False),
    ]
    if monitor_collapse:
        callbacks.append(CollapseMonitor())
    return callbacks


def stopped_on_nan(history: keras.callbacks.History) -> bool:
    """Whether the run ended because a loss became NaN or infinite."""
    return not all(math.isfinite(v) for v in history.history.get("loss", []))
