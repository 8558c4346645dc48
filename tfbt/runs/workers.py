"""Multi-worker runs: one run folder, written by the chief, and workers that move in step.

Under ``--strategy multi-worker`` every worker runs the same command (Keras's multi-worker
convention). Only the chief (worker 0) writes ``--output``; every other worker writes what
the command writes into a temporary folder that is removed when it ends (``run_output``).
Callbacks that decide something (early stopping, NaN stop, the epoch to resume from) must give
every worker the same answer, or a worker would wait forever in a collective its peers never
join: ``StopTogether`` stops all workers when any of them stops, and ``ChiefBackupAndRestore``
resumes every worker from the chief's ``backup/`` (weights, optimizer state and epoch are sent
from the chief, so the other workers need no shared file system).
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import keras
import tensorflow as tf

from tfbt.runs import environment

def is_chief(strategy) -> bool:
    """Whether this process writes the run folder: the chief of a multi-worker ``strategy``,
    or the one process of any other."""
    cluster = environment.cluster_or_none(strategy)
    return cluster is None or cluster.is_chief


def callbacks_for(strategy, callbacks: list, *, chief_only=()) -> list:
    """``callbacks`` as ``model.fit`` takes them under ``strategy``.

    One process: unchanged. Multi-worker: ``chief_only`` ones (those that evaluate and decide,
    such as early stopping) run on the chief alone, ``BackupAndRestore`` becomes
    ``ChiefBackupAndRestore`` and ``StopTogether`` comes last.
    """
    if environment.cluster_or_none(strategy) is None:
        return list(callbacks)
    chief = is_chief(strategy)
    kept = []
    for callback in callbacks:
        if any(callback is c for c in chief_only) and not chief:
            continue
        if type(callback) is keras.callbacks.BackupAndRestore:
            callback = ChiefBackupAndRestore(callback.backup_dir, strategy)
        kept.append(callback)
    return [*kept, StopTogether(strategy)]


@contextlib.contextmanager
def run_output(output: str | Path, cluster: environment.Cluster | None) -> Iterator[Path]:
    """Yields the folder this process writes: ``output`` for the chief (or one process),
    else a temporary folder, removed on the way out whatever happens. Its name depends on
    ``output`` and the worker, so a worker that was killed has its folder removed when it is
    started again."""
    if cluster is None or cluster.is_chief:
        yield Path(output)
        return
    key = hashlib.sha1(str(Path(output).resolve()).encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"tfbt-worker{cluster.index}-{key}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def peers_watched(strategy) -> Iterator[None]:
    """Turns a lost peer (a collective that fails because a worker died or stopped answering)
    into ``environment.WorkerLost``, which keeps the chief's ``backup/`` for a restart."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
            tf.errors.DeadlineExceededError, tf.errors.InternalError) as err:
        cluster = environment.cluster_or_none(strategy)
        if cluster is None:
            raise
        raise environment.WorkerLost(
            f"worker {cluster.index} of {len(cluster.workers)} lost a peer of the cluster "
            f"{', '.join(cluster.workers)} ({environment.first_line(err)}); start every worker "
            f"again with the same command to resume from the last finished epoch") from None


def from_chief(strategy, values: list) -> list:
    """``values`` (tensors or arrays) as the chief holds them, on every worker.

    One all-reduce in which every worker but the chief contributes zeros; every worker must
    call it, in the same order, with tensors of the same shapes.
    """
    is_chief = environment.cluster_or_none(strategy).is_chief
    dtypes = [tf.as_dtype(getattr(v, "dtype", tf.float32)) for v in values]
    # One collective takes one dtype: everything travels as float64 (exact for float32 values
    # and for integers below 2**53, such as step counts).
    sent = [tf.cast(v, tf.float64) for v in values]
    summed = summed_over_workers(strategy, [v if is_chief else tf.zeros_like(v) for v in sent])
    return [tf.cast(v, d) for v, d in zip(summed, dtypes)]


def summed_over_workers(strategy, values: list) -> list:
    """The sum of ``values`` (tensors of one dtype) over all workers, on every worker; a
    collective that every worker must call, in the same order."""
    def all_reduce():
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM,
                                                              values)

    return strategy.experimental_local_results(strategy.run(tf.function(all_reduce)))[0]


class StopTogether(keras.callbacks.Callback):
    """Stops every worker at the end of an epoch in which any of them set ``stop_training``
    (the chief's early stopping, a worker's NaN); put it after the callbacks that may stop."""

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy

    def on_epoch_end(self, epoch, logs=None):
        stop = tf.constant(float(bool(self.model.stop_training)))
        self.model.stop_training = bool(summed_over_workers(self.strategy, [stop])[0] > 0)


class ChiefBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` for multi-worker runs: the chief restores its ``backup_dir`` and
    sends the weights, optimizer state and epoch to the other workers, whose own
    ``backup_dir`` (in their temporary folder) is written but never read."""

    def __init__(self, backup_dir, strategy):
        super().__init__(backup_dir)
        self.strategy = strategy

    def on_train_begin(self, logs=None):
        if environment.cluster_or_none(self.strategy).is_chief:
            super().on_train_begin(logs)
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        variables = [*self.model.variables, *self.model.optimizer.variables]
        epoch = getattr(self.model, "_initial_epoch", None) or 0
        *values, epoch = from_chief(self.strategy, [*(v.value for v in variables),
                                                    tf.constant(epoch, tf.int64)])
        for variable, value in zip(variables, values):
            variable.assign(value)
        self.model._initial_epoch = int(epoch) or None
