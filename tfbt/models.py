"""Keras models that train tfbt encoders.

``BarlowTwinsPretrainer`` is the self-supervised stage of Liu et al. (2025): two augmented
views of each user sequence go through one shared encoder and a projector MLP, and the Barlow
Twins loss pushes the cross-correlation of the two views' projections towards the identity.
The projector exists only for training; the encoder is what downstream tasks reuse.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from tfbt.losses import LAMBDA_PLACEMENTS, barlow_twins_loss


@keras.saving.register_keras_serializable(package="tfbt")
class ProjectorMLP(keras.layers.Layer):
    """The Barlow Twins projector: ``(Dense -> BatchNorm -> ReLU) * (n - 1) -> Dense``.

    As in Zbontar et al. and Liu et al. (a 2-layer MLP by default); the last layer has no
    bias since the loss standardises every column anyway.

    Args:
      units: widths of the layers; the last one is the projection size.

    Call: ``[batch, dim]`` -> ``[batch, units[-1]]``.
    """

    def __init__(self, units: Sequence[int] = (256, 256), **kwargs):
        super().__init__(**kwargs)
        self.units = tuple(int(u) for u in units)
        if not self.units or min(self.units) < 1:
            raise ValueError(f"ProjectorMLP units must be positive integers, got {units!r}")
        self.hidden = [
            (keras.layers.Dense(u, use_bias=False, name=f"dense_{i}"),
             keras.layers.BatchNormalization(name=f"batch_norm_{i}"))
            for i, u in enumerate(self.units[:-1])]
        self.output_dense = keras.layers.Dense(self.units[-1], use_bias=False, name="projection")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for dense, norm in self.hidden:
            dense.build(shape)
            shape = dense.compute_output_shape(shape)
            norm.build(shape)
        self.output_dense.build(shape)

    def call(self, x, training=None):
        for dense, norm in self.hidden:
            x = keras.ops.relu(norm(dense(x), training=training))
        return self.output_dense(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units[-1])

    def get_config(self):
        return {**super().get_config(), "units": list(self.units)}


def normalized_std(representations):
    """Mean per-dimension batch std of the L2-normalised representations, times sqrt(dim).

    About 1 for well-spread representations, falling to 0 as they collapse onto one point
    (SimSiam's collapse diagnostic, made scale-free so one threshold fits every size).
    """
    x = tf.math.l2_normalize(tf.cast(representations, tf.float32), axis=-1)
    dim = tf.cast(tf.shape(x)[-1], tf.float32)
    return tf.reduce_mean(tf.math.reduce_std(x, axis=0)) * tf.sqrt(dim)


@keras.saving.register_keras_serializable(package="tfbt")
class BarlowTwinsPretrainer(keras.Model):
    """Barlow Twins pretraining of a user-sequence encoder (Liu et al. 2025).

    Each step draws two augmented views of every sequence (on the device, inside the step,
    seeded by ``seed`` and the optimizer's step count, so a resumed run continues the same
    random stream), encodes both with the shared encoder in one call, projects each view and
    minimises ``barlow_twins_loss``.

    Args:
      encoder: a layer mapping int items ``[B, L]`` to representations ``[B, D]`` (e.g.
        ``CNNEncoder``, or ``SASRecEncoder(return_sequences=False)``).
      augmenter: a ``SequenceAugmenter`` that makes each view.
      projector: a ``ProjectorMLP`` (dropped after pretraining).
      lambd: weight of the Barlow Twins term chosen by ``lambda_on``.
      lambda_on: ``"off_diagonal"`` (Zbontar et al.) or ``"on_diagonal"`` (Liu et al.).
      seed: base seed of the augmentation stream.

    Metrics: ``loss``, ``on_diag``, ``off_diag`` (unweighted terms) and ``embedding_std``
    (``normalized_std`` of the first view's representations; near 0 means collapse).

    Call: ``items [B, L]`` (or a batch dict with ``"items"``) -> representations ``[B, D]``.
    """

    def __init__(self, encoder, augmenter, projector=None, lambd=0.0051,
                 lambda_on="off_diagonal", seed=0, **kwargs):
        super().__init__(**kwargs)
        if lambda_on not in LAMBDA_PLACEMENTS:
            raise ValueError(f"lambda_on must be one of {LAMBDA_PLACEMENTS}, got {lambda_on!r}")
        self.encoder = encoder
        self.augmenter = augmenter
        self.projector = projector if projector is not None else ProjectorMLP()
        self.lambd = float(lambd)
        self.lambda_on = lambda_on
        self.seed = int(seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "on_diag", "off_diag", "embedding_std")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        items = inputs["items"] if isinstance(inputs, dict) else inputs
        return self.encoder(items, training=training)

    def build(self, items_shape):
        if isinstance(items_shape, dict):
            items_shape = items_shape["items"]
        if not self.encoder.built:
            self.encoder.build(items_shape)
        if getattr(self.encoder, "return_sequences", False):
            raise ValueError("the encoder must return [batch, dim] representations; build "
                             "SASRecEncoder with return_sequences=False")
        representation_shape = (items_shape[0], self.encoder.representation_dim)
        if not self.projector.built:
            self.projector.build(representation_shape)
        self.built = True

    def _views(self, items):
        """Two augmented views, seeded by (seed, global step, replica)."""
        replica = tf.distribute.get_replica_context()
        replica_id = tf.cast(replica.replica_id_in_sync_group if replica else 0, tf.int64)
        replicas = tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.int64)
        step = tf.cast(self.optimizer.iterations, tf.int64) * replicas + replica_id
        seeds = tf.random.split(tf.stack([tf.constant(self.seed, tf.int64), step]), 2)
        return self.augmenter(items, seeds[0]), self.augmenter(items, seeds[1])

    def _loss_terms(self, items, training):
        view1, view2 = self._views(items)
        batch = tf.shape(items)[0]
        representations = self.encoder(tf.concat([view1, view2], axis=0), training=training)
        z1 = self.projector(representations[:batch], training=training)
        z2 = self.projector(representations[batch:], training=training)
        terms = barlow_twins_loss(z1, z2, self.lambd, lambda_on=self.lambda_on)
        return terms, normalized_std(representations[:batch])

    def _update_metrics(self, terms, embedding_std):
        values = {"loss": terms.loss, "on_diag": terms.on_diag, "off_diag": terms.off_diag,
                  "embedding_std": embedding_std}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        items = data["items"] if isinstance(data, dict) else data
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            terms, embedding_std = self._loss_terms(items, training=True)
            # Every replica computes the global loss; gradients are summed across replicas.
            loss = terms.loss / replicas
            if self.losses:
                loss += tf.add_n(self.losses) / replicas
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_metrics(terms, embedding_std)

    def test_step(self, data):
        items = data["items"] if isinstance(data, dict) else data
        terms, embedding_std = self._loss_terms(items, training=False)
        return self._update_metrics(terms, embedding_std)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "augmenter": keras.saving.serialize_keras_object(self.augmenter),
            "projector": keras.saving.serialize_keras_object(self.projector),
            "lambd": self.lambd,
            "lambda_on": self.lambda_on,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "augmenter", "projector"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def encoder_model(encoder, max_len: int) -> keras.Model:
    """Wraps a representation encoder as a standalone model ``items [B, max_len] -> [B, D]``.

    This is what pretraining saves (``model.save("encoder.keras")``) and what downstream tasks
    load: the encoder's weights and config, without projector or augmentations.
    """
    items = keras.Input(shape=(max_len,), dtype="int32", name="items")
    return keras.Model(items, encoder(items), name="user_encoder")

