"""Callbacks of the training commands: resume, NaN stop, TensorBoard, collapse watch, and the
full-ranking validation with early stopping of ``tfbt train``."""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path

import keras
import numpy as np

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
    """Full-ranking validation every ``every`` epochs, early stopping, chosen weights restored.

    Adds ``val_<metric>`` for HR/NDCG@10, MRR, coverage@10, effective rank (and long-tail
    share@10 with ``item_counts``) to the epoch logs (so History and TensorBoard record them).
    Which epoch is kept and when to stop is ``rule``'s (``tfbt.evaluation.selection``; default:
    the best ``monitor``, stop after ``patience`` validations without a better one); at the end
    of training the chosen epoch's weights are loaded back. The state (validations so far, each
    one's per-user ranks, the checkpoints the rule can still choose) lives in ``state_dir``, so
    a run resumed by ``BackupAndRestore`` keeps its early-stopping history.

    Args:
      dataset: validation batches (``tfbt.data.make_dataset(mode="eval", split="valid")``).
      num_items: catalogue size.
      state_dir: folder for ``validation.json``, ``validation_ranks/`` and ``checkpoints/``.
      every: evaluate after every ``every``-th epoch (and never in between).
      patience, monitor: today's rule when ``rule`` is None.
      rule: a ``selection.Rule``.
      item_counts: training interactions per item index (adds the long-tail share).
      resume: continue from the state in ``state_dir`` (a resumed run) instead of starting
        afresh.
    """

    LOGGED = ("HR@10", "NDCG@10", "MRR", "coverage@10", "effective_rank", "long_tail@10")

    def __init__(self, dataset, *, num_items, state_dir, every=1, patience=5,
                 monitor="NDCG@10", rule=None, item_counts=None, resume=False):
        super().__init__()
        from tfbt.evaluation import selection

        self.dataset = dataset
        self.num_items = num_items
        self.every = every
        self.rule = rule or selection.Rule(monitor=monitor, patience=patience)
        self.monitor = self.rule.monitor
        self.item_counts = item_counts
        self.selector = selection.Selector(self.rule)
        self.state_path = Path(state_dir) / layout.VALIDATION_FILE
        self.ranks_dir = Path(state_dir) / layout.VALIDATION_RANKS_DIR
        self.checkpoints = Path(state_dir) / layout.CHECKPOINTS_DIR
        self.state = {"best": -math.inf, "best_epoch": None, "wait": 0, "epochs": 0,
                      "evaluations": []}
        self.resume = resume

    def checkpoint(self, epoch: int) -> Path:
        return self.checkpoints / f"epoch_{epoch}.weights.h5"

    def on_train_begin(self, logs=None):
        from tfbt.evaluation import selection

        if self.resume and self.state_path.is_file():
            self.state = json.loads(self.state_path.read_text())
            for evaluation in self.state["evaluations"]:  # the same decisions again
                ranks = np.load(self.ranks_dir / f"epoch_{evaluation['epoch']}.npy")
                self.selector.add(selection.Evaluation(
                    evaluation["epoch"], evaluation, selection.user_gains(ranks, self.monitor)))
        else:  # a fresh run: forget what an earlier run in the same folder left
            for folder in (self.checkpoints, self.ranks_dir):
                shutil.rmtree(folder, ignore_errors=True)
            (self.state_path.parent / layout.BEST_WEIGHTS_FILE).unlink(missing_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        from tfbt.evaluation import selection

        self.state["epochs"] = epoch + 1
        if (epoch + 1) % self.every:
            return
        from tfbt.runs.train import full_ranking

        results = full_ranking(self.model, self.dataset, self.num_items, progress=False,
                               item_counts=self.item_counts, return_ranks=True)
        if self.monitor not in results:
            raise ValueError(f"monitor {self.monitor!r} is not a validation metric; choose one "
                             f"of {sorted(results)}")
        logged = [name for name in self.LOGGED if name in results]
        if logs is not None:
            logs.update({f"val_{name}": results[name] for name in logged})
        ranks = results.pop("ranks")
        self.ranks_dir.mkdir(parents=True, exist_ok=True)
        np.save(self.ranks_dir / f"epoch_{epoch + 1}.npy", ranks.astype(np.int32))
        step = self.selector.add(selection.Evaluation(
            epoch + 1, results, selection.user_gains(ranks, self.monitor)))
        if epoch + 1 in step.keep:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            self.model.save_weights(self.checkpoint(epoch + 1))
        for dropped in step.drop:
            self.checkpoint(dropped).unlink(missing_ok=True)
        improved = step.chosen == epoch + 1
        self.state.update(best=results[self.monitor] if step.best == epoch + 1
                          else self.state["best"], best_epoch=step.chosen,
                          best_monitor_epoch=step.best, wait=self.selector.wait,
                          selection=self.rule.describe())
        self.state["evaluations"].append({"epoch": epoch + 1, **{
            name: results[name] for name in logged}})
        layout.write_json(self.state_path, self.state)
        # Under a progress bar (verbose 1) the bar's line is still open: start a new one.
        new_line = "\n" if self.params.get("verbose") in (1, "auto") else ""
        print(new_line + f"epoch {epoch + 1}: valid " + " ".join(
            f"{name} {results[name]:.4f}" for name in logged)
            + (" (chosen)" if improved else f" (chosen: epoch {step.chosen}, best "
               f"{self.monitor} {self.state['best']:.4f} at epoch {step.best})"), flush=True)
        if step.stop:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        chosen = self.state.get("best_epoch")
        if chosen is not None and self.checkpoint(chosen).is_file():
            self.model.load_weights(self.checkpoint(chosen))


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
