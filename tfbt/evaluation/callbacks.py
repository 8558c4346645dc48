"""``FullRankingEarlyStopping``: full-ranking validation inside ``model.fit``, early stopping on
a named metric and the best weights restored at the end."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import keras

from tfbt.evaluation.retrieval import full_ranking


class FullRankingEarlyStopping(keras.callbacks.Callback):
    """Full-ranking validation every ``every`` epochs, early stopping, best weights restored.

    Adds ``val_<metric>`` for HR/NDCG@10, MRR, coverage@10 and effective rank to the epoch logs
    (so History and TensorBoard record them). Stops after ``patience`` evaluations without an
    improvement of ``monitor``; at the end of training the best weights are loaded back. With a
    ``state_dir``, the state (best value, epoch, evaluations so far) and the best weights live
    there (``validation.json``, ``best.weights.h5``), so a run resumed by ``BackupAndRestore``
    keeps its early-stopping history; without one they stay in memory.

    The model is any ``tfbt.models.Retriever`` that Keras trains (``SequentialRecommender``).

    Args:
      dataset: validation batches (``tfbt.data.evaluation_dataset(..., split="valid")``).
      num_items: catalogue size.
      state_dir: folder for the state and best weights (optional).
      every: evaluate after every ``every``-th epoch (and never in between).
      patience: evaluations without improvement before stopping.
      monitor: the metric to maximise (any key of ``evaluate_full_ranking``'s dict).
      resume: continue from the state in ``state_dir`` (a resumed run) instead of starting
        afresh.
      verbose: print one line per validation.

    Attributes:
      state: ``{"best", "best_epoch", "wait", "epochs", "evaluations"}``.
    """

    LOGGED = ("HR@10", "NDCG@10", "MRR", "coverage@10", "effective_rank")
    STATE_FILE = "validation.json"
    WEIGHTS_FILE = "best.weights.h5"

    def __init__(self, dataset, *, num_items, state_dir=None, every=1, patience=5,
                 monitor="NDCG@10", resume=False, verbose=True):
        super().__init__()
        if resume and state_dir is None:
            raise ValueError("FullRankingEarlyStopping: resume needs a state_dir")
        self.dataset = dataset
        self.num_items = num_items
        self.every = every
        self.patience = patience
        self.monitor = monitor
        self.state_path = None if state_dir is None else Path(state_dir) / self.STATE_FILE
        self.weights_path = None if state_dir is None else Path(state_dir) / self.WEIGHTS_FILE
        self.best_weights = None  # in memory, without a state_dir
        self.state = {"best": -math.inf, "best_epoch": None, "wait": 0, "epochs": 0,
                      "evaluations": []}
        self.resume = resume
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        if self.resume and self.state_path.is_file():
            self.state = json.loads(self.state_path.read_text())
        elif self.weights_path is not None:  # a fresh run: forget what an earlier one left
            self.weights_path.unlink(missing_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        self.state["epochs"] = epoch + 1
        if (epoch + 1) % self.every:
            return
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
            self._keep_best()
        else:
            self.state["wait"] += 1
        self.state["evaluations"].append({"epoch": epoch + 1, **{
            name: results[name] for name in self.LOGGED}})
        if self.state_path is not None:
            self._write_state()
        if self.verbose:
            # Under a progress bar (verbose 1) the bar's line is still open: start a new one.
            new_line = "\n" if self.params.get("verbose") in (1, "auto") else ""
            print(new_line + f"epoch {epoch + 1}: valid " + " ".join(
                f"{name} {results[name]:.4f}" for name in self.LOGGED)
                + (" (best)" if improved else f" (best {self.state['best']:.4f} at epoch "
                   f"{self.state['best_epoch']})"), flush=True)
        if self.state["wait"] >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.weights_path is not None and self.weights_path.is_file():
            self.model.load_weights(self.weights_path)
        elif self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def _keep_best(self):
        if self.weights_path is None:
            self.best_weights = self.model.get_weights()
        else:
            self.weights_path.parent.mkdir(parents=True, exist_ok=True)
            self.model.save_weights(self.weights_path)

    def _write_state(self):
        """Writes the state atomically (temporary file, then rename)."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, sort_keys=True, default=float) + "\n")
        os.replace(tmp, self.state_path)
