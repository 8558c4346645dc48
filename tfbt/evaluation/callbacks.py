"""``FullRankingEarlyStopping``: full-ranking validation inside ``model.fit``, early stopping and
model selection by a ``tfbt.evaluation.selection.Rule``, the chosen weights restored at the end."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from tfbt.evaluation import selection
from tfbt.evaluation.retrieval import full_ranking


class FullRankingEarlyStopping(keras.callbacks.Callback):
    """Full-ranking validation every ``every`` epochs, early stopping, chosen weights restored.

    Adds ``val_<metric>`` for HR/NDCG@10, MRR, coverage@10, effective rank (and long-tail
    share@10 with ``item_counts``) to the epoch logs (so History and TensorBoard record them).
    Which epoch is kept and when to stop is ``rule``'s (``tfbt.evaluation.selection``; default:
    the best ``monitor``, stop after ``patience`` validations without a better one); at the end
    of training the chosen epoch's weights are loaded back. With a ``state_dir`` the state
    (validations so far, each one's per-user ranks, the checkpoints the rule can still choose)
    lives there, so a run resumed by ``BackupAndRestore`` keeps its early-stopping history;
    without one the checkpoints stay in memory.

    The model is any ``tfbt.models.Retriever`` that Keras trains (``SequentialRecommender``).

    Args:
      dataset: validation batches (``tfbt.data.evaluation_dataset(..., split="valid")``).
      num_items: catalogue size.
      state_dir: folder for ``validation.json``, ``validation_ranks/`` and ``checkpoints/``
        (optional).
      every: evaluate after every ``every``-th epoch (and never in between).
      patience, monitor: the default rule's (best ``monitor``) when ``rule`` is None.
      rule: a ``selection.Rule`` (e.g. the coverage-aware one).
      item_counts: training interactions per item index (adds the long-tail share).
      resume: continue from the state in ``state_dir`` (a resumed run) instead of starting
        afresh.
      verbose: print one line per validation.

    Attributes:
      state: ``{"best", "best_epoch", "wait", "epochs", "evaluations", ...}``.
    """

    LOGGED = ("HR@10", "NDCG@10", "MRR", "coverage@10", "effective_rank", "long_tail@10")
    STATE_FILE = "validation.json"
    RANKS_DIR = "validation_ranks"
    CHECKPOINTS_DIR = "checkpoints"
    LEGACY_WEIGHTS_FILE = "best.weights.h5"  # runs from before checkpoints/

    def __init__(self, dataset, *, num_items, state_dir=None, every=1, patience=5,
                 monitor="NDCG@10", rule=None, item_counts=None, resume=False, verbose=True):
        super().__init__()
        if resume and state_dir is None:
            raise ValueError("FullRankingEarlyStopping: resume needs a state_dir")
        self.dataset = dataset
        self.num_items = num_items
        self.every = every
        self.rule = rule or selection.Rule(monitor=monitor, patience=patience)
        self.monitor = self.rule.monitor
        self.item_counts = item_counts
        self.selector = selection.Selector(self.rule)
        self.state_dir = None if state_dir is None else Path(state_dir)
        self.kept_weights = {}  # epoch -> weights, without a state_dir
        self.state = {"best": -math.inf, "best_epoch": None, "wait": 0, "epochs": 0,
                      "evaluations": []}
        self.resume = resume
        self.verbose = verbose

    def checkpoint(self, epoch: int) -> Path:
        return self.state_dir / self.CHECKPOINTS_DIR / f"epoch_{epoch}.weights.h5"

    def _ranks_path(self, epoch: int) -> Path:
        return self.state_dir / self.RANKS_DIR / f"epoch_{epoch}.npy"

    def on_train_begin(self, logs=None):
        if self.state_dir is None:
            return
        state_path = self.state_dir / self.STATE_FILE
        if self.resume and state_path.is_file():
            self.state = json.loads(state_path.read_text())
            self._replay(self.state["evaluations"])
        else:  # a fresh run: forget what an earlier run in the same folder left
            for folder in (self.CHECKPOINTS_DIR, self.RANKS_DIR):
                shutil.rmtree(self.state_dir / folder, ignore_errors=True)
            (self.state_dir / self.LEGACY_WEIGHTS_FILE).unlink(missing_ok=True)

    def _replay(self, evaluations: list) -> None:
        """Makes the same decisions again for stored validations (a resumed run)."""
        self.selector = selection.Selector(self.rule)
        for evaluation in evaluations:
            ranks = np.load(self._ranks_path(evaluation["epoch"]))
            self.selector.add(selection.Evaluation(
                evaluation["epoch"], evaluation, selection.user_gains(ranks, self.monitor)))

    def on_epoch_end(self, epoch, logs=None):
        self.state["epochs"] = epoch + 1
        if (epoch + 1) % self.every:
            return
        evaluations = self.state["evaluations"]
        if evaluations and evaluations[-1]["epoch"] >= epoch + 1:
            # Killed after this validation was stored but before BackupAndRestore saved the
            # epoch: the epoch ran again, so its validation (and any later one) is redone.
            self.state["evaluations"] = [e for e in evaluations if e["epoch"] < epoch + 1]
            self._replay(self.state["evaluations"])
        results = full_ranking(self.model, self.dataset, self.num_items, progress=False,
                               item_counts=self.item_counts, return_ranks=True)
        if self.monitor not in results:
            raise ValueError(f"monitor {self.monitor!r} is not a validation metric; choose one "
                             f"of {sorted(results)}")
        logged = [name for name in self.LOGGED if name in results]
        if logs is not None:
            logs.update({f"val_{name}": results[name] for name in logged})
        ranks = results.pop("ranks")
        if self.state_dir is not None:
            self._ranks_path(epoch + 1).parent.mkdir(parents=True, exist_ok=True)
            np.save(self._ranks_path(epoch + 1), ranks.astype(np.int32))
        step = self.selector.add(selection.Evaluation(
            epoch + 1, results, selection.user_gains(ranks, self.monitor)))
        if epoch + 1 in step.keep:
            self._keep(epoch + 1)
        for dropped in step.drop:
            self._drop(dropped)
        self.state.update(best=results[self.monitor] if step.best == epoch + 1
                          else self.state["best"], best_epoch=step.chosen,
                          best_monitor_epoch=step.best, wait=self.selector.wait,
                          selection=self.rule.describe())
        self.state["evaluations"].append({"epoch": epoch + 1, **{
            name: results[name] for name in logged}})
        if self.state_dir is not None:
            _write_json(self.state_dir / self.STATE_FILE, self.state)
        if self.verbose:
            # Under a progress bar (verbose 1) the bar's line is still open: start a new one.
            new_line = "\n" if self.params.get("verbose") in (1, "auto") else ""
            print(new_line + f"epoch {epoch + 1}: valid " + " ".join(
                f"{name} {results[name]:.4f}" for name in logged)
                + (" (chosen)" if step.chosen == epoch + 1 else
                   f" (chosen: epoch {step.chosen}, best {self.monitor} "
                   f"{self.state['best']:.4f} at epoch {step.best})"), flush=True)
        if step.stop:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        chosen = self.state.get("best_epoch")
        if chosen in self.kept_weights:
            self.model.set_weights(self.kept_weights[chosen])
        elif chosen is not None and self.state_dir is not None and \
                self.checkpoint(chosen).is_file():
            self.model.load_weights(self.checkpoint(chosen))

    def _keep(self, epoch: int) -> None:
        if self.state_dir is None:
            self.kept_weights[epoch] = self.model.get_weights()
        else:
            self.checkpoint(epoch).parent.mkdir(parents=True, exist_ok=True)
            self.model.save_weights(self.checkpoint(epoch))

    def _drop(self, epoch: int) -> None:
        self.kept_weights.pop(epoch, None)
        if self.state_dir is not None:
            self.checkpoint(epoch).unlink(missing_ok=True)


def _write_json(path: Path, value: dict) -> None:
    """Writes ``value`` atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=float) + "\n")
    os.replace(tmp, path)
