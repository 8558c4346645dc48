"""Barlow Twins pretraining of a user-sequence encoder (the model ``tfbt pretrain`` fits).

``BarlowTwinsPretrainer`` is the self-supervised stage of Liu et al. (2025): two augmented
views of each user sequence go through one shared encoder and a projector MLP, and the Barlow
Twins loss pushes the cross-correlation of the two views' projections towards the identity.
The projector exists only for training; the encoder is what downstream tasks reuse.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbt.layers.projector import ProjectorMLP
from tfbt.losses import LAMBDA_PLACEMENTS, barlow_twins_loss
from tfbt.models.base import TfbtModel
from tfbt.models.length_chunks import encode_in_length_chunks


def normalized_std(representations):
    """Mean per-dimension batch std of the L2-normalised representations, times sqrt(dim).

    About 1 for well-spread representations, falling to 0 as they collapse onto one point
    (SimSiam's collapse diagnostic, made scale-free so one threshold fits every size).
    """
    x = tf.math.l2_normalize(tf.cast(representations, tf.float32), axis=-1)
    dim = tf.cast(tf.shape(x)[-1], tf.float32)
    return tf.reduce_mean(tf.math.reduce_std(x, axis=0)) * tf.sqrt(dim)


METRICS = ("loss", "on_diag", "off_diag", "embedding_std")


@keras.saving.register_keras_serializable(package="tfbt")
class BarlowTwinsPretrainer(TfbtModel):
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
      length_chunks: encode the views as this many length-sorted chunks, each trimmed to its
        longest row (``tfbt.models.length_chunks``; the encoders ignore left padding, so the
        representations are the same, with dropout drawn per chunk); 0 encodes the whole padded
        batch (static shapes, for XLA).

    Metrics: ``loss``, ``on_diag``, ``off_diag`` (unweighted terms) and ``embedding_std``
    (``normalized_std`` of the first view's representations; near 0 means collapse).

    Call: ``items [B, L]`` (or a batch dict with ``"items"``) -> representations ``[B, D]``.
    """

    nested_layers = ("encoder", "augmenter", "projector")  # deserialised by from_config

    def __init__(self, encoder, augmenter, projector=None, lambd=0.0051,
                 lambda_on="off_diagonal", seed=0, length_chunks=0, **kwargs):
        super().__init__(seed=seed, metric_names=METRICS, **kwargs)
        if int(length_chunks) < 0:
            raise ValueError(f"length_chunks must be >= 0; got {length_chunks}")
        self.length_chunks = int(length_chunks)
        if lambda_on not in LAMBDA_PLACEMENTS:
            raise ValueError(f"lambda_on must be one of {LAMBDA_PLACEMENTS}, got {lambda_on!r}")
        self.encoder = encoder
        self.augmenter = augmenter
        self.projector = projector if projector is not None else ProjectorMLP()
        self.lambd = float(lambd)
        self.lambda_on = lambda_on

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

    def compute_terms(self, data, seed, training):
        """Barlow Twins loss of two augmented views of the batch, seeded by ``seed``."""
        items = data["items"] if isinstance(data, dict) else data
        seeds = tf.random.split(seed, 2)
        view1, view2 = self.augmenter(items, seeds[0]), self.augmenter(items, seeds[1])
        batch = tf.shape(items)[0]
        representations = encode_in_length_chunks(
            self.encoder, tf.concat([view1, view2], axis=0), self.length_chunks, training=training)
        z1 = self.projector(representations[:batch], training=training)
        z2 = self.projector(representations[batch:], training=training)
        terms = barlow_twins_loss(z1, z2, self.lambd, lambda_on=self.lambda_on)
        # Every replica computes the loss of the global batch (cross-replica statistics).
        return terms.loss, {"loss": terms.loss, "on_diag": terms.on_diag,
                            "off_diag": terms.off_diag,
                            "embedding_std": normalized_std(representations[:batch])}

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "augmenter": keras.saving.serialize_keras_object(self.augmenter),
            "projector": keras.saving.serialize_keras_object(self.projector),
            "lambd": self.lambd,
            "lambda_on": self.lambda_on,
            "length_chunks": self.length_chunks,
        }


def encoder_model(encoder, max_len: int) -> keras.Model:
    """Wraps a representation encoder as a standalone model ``items [B, max_len] -> [B, D]``.

    This is what pretraining saves (``model.save("encoder.keras")``) and what downstream tasks
    load: the encoder's weights and config, without projector or augmentations.
    """
    items = keras.Input(shape=(max_len,), dtype="int32", name="items")
    return keras.Model(items, encoder(items), name="user_encoder")

