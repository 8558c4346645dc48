"""The training step every tfbt model shares.

TFRS's ``compute_loss`` pattern: a subclass says what its loss is for one batch
(``compute_terms``); ``TfbtModel`` owns how a step runs. One step means one answer to the
questions every model would otherwise answer on its own, and get wrong in one copy:

* randomness inside the step (augmentations, sampled negatives) is seeded by ``(seed, step)``,
  distinct per replica, so a resumed run continues the same random stream and two runs with
  the same seed match;
* under ``tf.distribute`` the strategy sums gradients across replicas, so every term that is
  the same on every replica (a global-batch loss, the weight regularisers in
  ``self.losses``) is divided by the replica count, and so is each replica's own mean loss;
* evaluation uses a fixed seed, so validation losses are comparable across epochs.
"""

from __future__ import annotations

import keras
import tensorflow as tf


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

    def _update_metrics(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        """Deserialises the nested layers named by ``cls.nested_layers``."""
        config = dict(config)
        for key in getattr(cls, "nested_layers", ()):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
