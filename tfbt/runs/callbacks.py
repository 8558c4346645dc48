"""Callbacks of the training commands: resume, NaN stop, TensorBoard, collapse watch, and the
full-ranking validation with early stopping of ``tfbt train``."""

from __future__ import annotations

import json
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


class FullRankingEarlyStopping(keras.callbacks.Callback):
    """Full-ranking validation every ``every`` epochs, early stopping, best weights restored.

    Adds ``val_<metric>`` for HR/NDCG@10, MRR, coverage@10 and effective rank to the epoch logs
    (so History and TensorBoard record them). Stops after ``patience`` evaluations without an
    improvement of ``monitor``; at the end of training the best weights are loaded back. The
    state (best value, epoch, evaluations so far) and the best weights live in ``state_dir``, so
    a run resumed by ``BackupAndRestore`` keeps its early-stopping history.

    Args:
      dataset: validation batches (``tfbt.data.make_dataset(mode="eval", split="valid")``).
      num_items: catalogue size.
      state_dir: folder for ``validation.json`` and ``best.weights.h5``.
      every: evaluate after every ``every``-th epoch (and never in between).
      patience: evaluations without improvement before stopping.
      monitor: the metric to maximise.
      resume: continue from the state in ``state_dir`` (a resumed run) instead of starting
        afresh.
    """

    LOGGED = ("HR@10", "NDCG@10", "MRR", "coverage@10", "effective_rank")

    def __init__(self, dataset, *, num_items, state_dir, every=1, patience=5,
                 monitor="NDCG@10", resume=False):
        super().__init__()
        self.dataset = dataset
        self.num_items = num_items
        self.every = every
        self.patience = patience
        self.monitor = monitor
        self.state_path = Path(state_dir) / layout.VALIDATION_FILE
        self.weights_path = Path(state_dir) / layout.BEST_WEIGHTS_FILE
        self.state = {"best": -math.inf, "best_epoch": None, "wait": 0, "epochs": 0,
                      "evaluations": []}
        self.resume = resume

    def on_train_begin(self, logs=None):
        if self.resume and self.state_path.is_file():
            self.state = json.loads(self.state_path.read_text())
        else:  # a fresh run: forget what an earlier run in the same folder left
            self.weights_path.unlink(missing_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        self.state["epochs"] = epoch + 1
        if (epoch + 1) % self.every:
            return
        from tfbt.runs.train import full_ranking

        results = full_ranking(self.model, self.dataset, self.num_items, progress=False)
        if self.monitor not in results:
            raise ValueError(f"monitor {self.monitor!r} is not a validation metric; choose one "
                             f"of {sorted(results)}")
        value = results[self.monitor]
        if logs is not None:
            logs.update({f"val_{name}": results[name] for name in self.LOGGED})
        improved = value > self.state["best"]
        if improved:
            self.state.update(best=value, best_epoch=epoch + 1, wait=0)
            self.model.save_weights(self.weights_path)
        else:
            self.state["wait"] += 1
        self.state["evaluations"].append({"epoch": epoch + 1, **{
            name: results[name] for name in self.LOGGED}})
        layout.write_json(self.state_path, self.state)
        # Under a progress bar (verbose 1) the bar's line is still open: start a new one.
        new_line = "\n" if self.params.get("verbose") in (1, "auto") else ""
        print(new_line + f"epoch {epoch + 1}: valid " + " ".join(
            f"{name} {results[name]:.4f}" for name in self.LOGGED)
            + (" (best)" if improved else f" (best {self.state['best']:.4f} at epoch "
               f"{self.state['best_epoch']})"), flush=True)
        if self.state["wait"] >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.weights_path.is_file():
            self.model.load_weights(self.weights_path)


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
