"""The training step every tfbt model shares.

TFRS's ``compute_loss`` pattern: a subclass says what its loss is for one batch
(``compute_terms``); ``TfbtModel`` owns how a step runs. One step means one answer to the
questions every model would otherwise answer on its own, and get wrong in one copy:

* randomness inside the step (augmentations, sampled negatives) is seeded by ``(seed, step)``,
  distinct per replica, so a resumed run continues the same random stream and two runs with
  the same seed match;
* under ``tf.distribute`` the strategy sums gradients across replicas, so every term that is
  the same on every replica (a global-batch loss, the weight regularisers in
  ``self.losses``) is divided by the replica count, and so is each replica's own mean loss
  (weighted by ``replica_share`` where replicas average over different row counts);
* evaluation uses a fixed seed, so validation losses are comparable across epochs.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def replica_share(count):
    """``count`` (this replica's rows of a mean) over the replicas' average count.

    A loss that is a mean over rows (next-item positions) differs in row count between
    replicas; multiplied by this weight, the replicas' losses average to the mean over the
    global batch, so gradients equal a one-device step's. 1 with one replica.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.constant(1.0)
    count = tf.cast(count, tf.float32)
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return tf.math.divide_no_nan(count * context.num_replicas_in_sync, total)


class TfbtModel(keras.Model):
    """A ``keras.Model`` whose ``train_step``/``test_step`` come from ``compute_terms``.

    Args:
      seed: base seed of the per-step randomness.
      metric_names: the values ``compute_terms`` returns, tracked as running means (the first
        one should be ``"loss"``).

    Subclasses implement ``compute_terms(data, seed, training) -> (loss, {name: value})``:
    ``loss`` is the scalar to minimise on this replica's part of the batch, the dict the
    metrics to report (a subset of ``metric_names``).
    """

    def __init__(self, seed=0, metric_names=("loss",), **kwargs):
        super().__init__(**kwargs)
        self.seed = int(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in metric_names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compute_terms(self, data, seed, training):
        raise NotImplementedError(f"{type(self).__name__} must implement compute_terms")

    def step_seed(self):
        """int64 ``[2]``: ``(seed, global step)``, distinct per replica."""
        replica = tf.distribute.get_replica_context()
        replica_id = tf.cast(replica.replica_id_in_sync_group if replica else 0, tf.int64)
        replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.int64)
        step = tf.cast(self.optimizer.iterations, tf.int64) * replicas + replica_id
        return tf.stack([tf.constant(self.seed, tf.int64), step])

    def train_step(self, data):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss, values = self.compute_terms(data, self.step_seed(), training=True)
            if self.losses:
                loss += tf.add_n(self.losses)
            # The strategy sums gradients over replicas: divide so the sum is one mean.
            scaled = self.optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(values)

    def test_step(self, data):
        _, values = self.compute_terms(data, tf.constant([self.seed, -1], tf.int64),
                                       training=False)
        return self._update_metrics(values)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras builds compiled losses and metrics here from a sample batch that it first
        averages over the replicas, which fails for a dict batch under
        ``MultiWorkerMirroredStrategy``. A ``TfbtModel`` has neither (its step and trackers are
        its own): once it is built, only the optimizer is built, in the strategy's scope."""
        if not self.built:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    def _update_metrics(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        strategy = tf.distribute.get_strategy()
        if getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
            # Keras averages the logs over workers with reduce(MEAN, axis=0): give each a
            # batch axis of 1 ([] -> [1]), which that reduce removes again.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        """Deserialises the nested layers named by ``cls.nested_layers``."""
        config = dict(config)
        for key in getattr(cls, "nested_layers", ()):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
