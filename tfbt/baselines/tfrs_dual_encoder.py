"""TensorFlow Recommenders dual encoder: the two-tower baseline of Liu et al. 2025.

A query tower encodes a user's item sequence, a candidate tower embeds single items, and
``tfrs.tasks.Retrieval`` trains them with an in-batch softmax: in a batch of ``B`` (sequence,
next item) pairs every other pair's next item is a negative (``remove_accidental_hits`` drops a
negative that happens to equal the positive).

* Query tower (``CNNQueryTower``): the same architecture and default sizes as tfbt's Keras 3
  ``tfbt.layers.encoders.CNNEncoder`` (item embedding with padding zeroed -> dilated ``Conv1D`` layers ->
  masked pooling over real positions -> optional ``Dense``), rebuilt in tf.keras, so that the
  baseline and the Barlow Twins encoder differ only in how they are trained.
* Candidate tower: an ``Embedding(vocab_size, representation_dim)`` over the same vocabulary
  (``vocab_size = num_items + 2``; rows 0 = padding and ``num_items + 1`` = mask token are
  never scored).

This module is the only place in tfbt that uses ``tf.keras`` (tf-keras / Keras 2, because TFRS
0.7.7 refuses Keras 3). Everything that leaves it is a tensor or a NumPy array: a trained
``DualEncoder`` is a ``tfbt.models.Retriever`` (``user_embeddings(items)`` and
``item_embeddings()`` return tensors), so evaluation, export and the downstream protocol take it
as they take SASRec. To serve a trained model, ``tfbt.serving.export.export_recommender(model, NAME,
data_dir=..., max_len=...)`` writes a SavedModel that needs neither Keras to load.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfbt import data as tfbt_data
from tfrecords_builder.schema import PAD_ID


def _require_tf_keras() -> None:
    """Raises ``RuntimeError`` unless ``tf.keras`` resolves to tf-keras (Keras 2).

    ``tf.keras`` picks its Keras once, on first use, from ``TF_USE_LEGACY_KERAS``. tfbt sets that
    variable when it is imported, which is too late if TensorFlow was imported and ``tf.keras``
    used before tfbt, or if the variable was set to something else explicitly.
    """
    try:
        import tf_keras
    except ImportError as error:
        raise RuntimeError(
            "tfbt.baselines needs the tf-keras package (Keras 2) for TensorFlow Recommenders; "
            "install it with `pip install tf-keras`") from error
    if tf.keras.Model is not tf_keras.Model:
        flag = os.environ.get("TF_USE_LEGACY_KERAS")
        if flag in ("1", "true", "True"):
            reason = ("TensorFlow was imported and tf.keras used before tfbt set "
                      "TF_USE_LEGACY_KERAS=1, and tf.keras picks its Keras only once")
        else:
            reason = (f"TF_USE_LEGACY_KERAS={flag!r} in the environment asks for Keras 3 "
                      "(tfbt does not override a value that is already set)")
        raise RuntimeError(
            "tfbt.baselines needs tf.keras to be tf-keras (Keras 2), because TensorFlow "
            f"Recommenders refuses Keras 3, but tf.keras is Keras 3 ({tf.keras.Model.__module__})"
            f": {reason}. Fix: `import tfbt` before `import tensorflow`, or set "
            "TF_USE_LEGACY_KERAS=1 in the environment before Python starts "
            "(e.g. `TF_USE_LEGACY_KERAS=1 python ...`).")


_require_tf_keras()

import tensorflow_recommenders as tfrs  # noqa: E402  (only after the Keras check above)

POOLINGS = ("mean", "max", "last")
CONV_PADDINGS = ("same", "causal")
PAIRINGS = ("random", "last")


@tf.keras.utils.register_keras_serializable(package="tfbt.baselines")
class CNNQueryTower(tf.keras.layers.Layer):
    """tf.keras twin of ``tfbt.layers.encoders.CNNEncoder``: embedding -> Conv1D stack -> pooling.

    Same arguments, defaults and computation as ``CNNEncoder`` (so the same weights give the same
    outputs; tests/test_tfrs_dual_encoder.py checks this): padded positions are zeroed after the
    embedding and after every convolution, so the output depends only on the real items,
    whatever the amount of left padding.

    Args:
      vocab_size: ``num_items + 2``.
      embedding_dim: item embedding size.
      filters: channels of every convolution.
      kernel_size: convolution width.
      dilation_rates: one ``Conv1D`` per entry, with that dilation.
      activation: activation after each convolution.
      dropout: rate after the embedding and after each convolution.
      pooling: ``"mean"`` or ``"max"`` over real positions, or ``"last"`` (right-most position).
      output_dim: if set, a final linear ``Dense(output_dim)`` after pooling.
      conv_padding: ``"same"`` or ``"causal"``.

    Call:
      items: int ``[batch, length]``, left-padded with 0.
      Returns float32 ``[batch, representation_dim]``; zeros for a row with no real item.
    """

    def __init__(self, vocab_size, embedding_dim=64, filters=64, kernel_size=3,
                 dilation_rates=(1, 2), activation="relu", dropout=0.1, pooling="mean",
                 output_dim=None, conv_padding="same", **kwargs):
        super().__init__(**kwargs)
        dilation_rates = tuple(int(rate) for rate in dilation_rates)
        if int(vocab_size) < 3:
            raise ValueError(f"vocab_size must be num_items + 2 >= 3; got {vocab_size}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
        if conv_padding not in CONV_PADDINGS:
            raise ValueError(f"conv_padding must be one of {CONV_PADDINGS}; got {conv_padding!r}")
        if not dilation_rates or min(dilation_rates) < 1:
            raise ValueError(f"dilation_rates needs at least one rate >= 1; got {dilation_rates}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.dilation_rates = dilation_rates
        self.activation = tf.keras.activations.serialize(tf.keras.activations.get(activation))
        self.dropout = float(dropout)
        self.pooling = pooling
        self.output_dim = None if output_dim is None else int(output_dim)
        self.conv_padding = conv_padding

        self.item_embedding = tf.keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, name="item_embedding")
        self.convs = [
            tf.keras.layers.Conv1D(self.filters, self.kernel_size, dilation_rate=rate,
                                   padding=conv_padding, activation=activation, name=f"conv_{i}")
            for i, rate in enumerate(dilation_rates)]
        self.dropouts = [tf.keras.layers.Dropout(self.dropout, name=f"dropout_{i}")
                         for i in range(len(dilation_rates) + 1)]
        self.projection = (None if self.output_dim is None
                           else tf.keras.layers.Dense(self.output_dim, name="projection"))

    @property
    def representation_dim(self) -> int:
        """Size of the last axis of the output."""
        return self.filters if self.output_dim is None else self.output_dim

    def call(self, items, training=None):
        real = tf.not_equal(items, PAD_ID)                                # [B, L]
        keep = tf.expand_dims(tf.cast(real, self.compute_dtype), -1)      # [B, L, 1]
        x = self.dropouts[0](self.item_embedding(items) * keep, training=training)
        for conv, dropout in zip(self.convs, self.dropouts[1:]):
            x = dropout(conv(x), training=training) * keep                # [B, L, filters]
        if self.pooling == "last":
            x = x[:, -1, :]
        elif self.pooling == "mean":
            x = tf.reduce_sum(x, axis=1) / tf.maximum(tf.reduce_sum(keep, axis=1), 1.0)
        else:
            maximum = tf.reduce_max(tf.where(real[:, :, None], x, float("-inf")), axis=1)
            x = tf.where(tf.reduce_any(real, axis=1, keepdims=True), maximum, 0.0)
        return x if self.projection is None else self.projection(x)       # [B, D]

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
            "filters": self.filters, "kernel_size": self.kernel_size,
            "dilation_rates": list(self.dilation_rates), "activation": self.activation,
            "dropout": self.dropout, "pooling": self.pooling, "output_dim": self.output_dim,
            "conv_padding": self.conv_padding,
        })
        return config


class DualEncoder(tfrs.models.Model):
    """Two-tower retrieval model trained with an in-batch softmax.

    Each batch of ``B`` (sequence, next item) pairs scores every query against every target in
    the batch; the loss is the softmax cross-entropy of the true pair, averaged over the batch
    (so that the learning rate does not depend on the batch size). In-batch negatives are drawn
    in proportion to item popularity, so a plain in-batch softmax learns scores close to
    ``log p(item | user) - log p(item)`` and under-ranks popular items. ``candidate_probabilities``
    turns on the logQ correction of Yi et al. 2019 (TFRS's ``candidate_sampling_probability``):
    ``log q(item)`` is subtracted from each logit during training, so the learned scores estimate
    the full softmax.

    Args:
      vocab_size: ``num_items + 2``.
      temperature: divides the logits of the in-batch softmax (``None`` = 1).
      candidate_probabilities: optional float ``[vocab_size]``, the probability that a training
        target is each item (its training frequency); enables the logQ correction.
      **encoder_config: ``CNNQueryTower`` arguments (``embedding_dim``, ``filters``,
        ``kernel_size``, ``dilation_rates``, ``activation``, ``dropout``, ``pooling``,
        ``output_dim``, ``conv_padding``).

    Attributes:
      query_tower: ``CNNQueryTower``; int ``[B, L]`` sequences -> ``[B, D]``.
      candidate_tower: ``Embedding(vocab_size, D)``; int ``[B]`` items -> ``[B, D]``.

    The training logs report ``epoch_loss``, the mean per-pair loss over the epoch so far (TFRS's
    ``loss`` is the last batch's only).
    """

    def __init__(self, vocab_size, *, temperature=None, candidate_probabilities=None,
                 **encoder_config):
        super().__init__()
        if temperature is not None and float(temperature) <= 0:
            raise ValueError(f"temperature must be positive; got {temperature}")
        self.vocab_size = int(vocab_size)
        self.temperature = None if temperature is None else float(temperature)
        self.candidate_probabilities = None
        if candidate_probabilities is not None:
            probabilities = np.asarray(candidate_probabilities, np.float32)
            if probabilities.shape != (self.vocab_size,) or (probabilities < 0).any():
                raise ValueError(f"candidate_probabilities must be {self.vocab_size} "
                                 f"non-negative numbers (one per vocabulary entry); got shape "
                                 f"{probabilities.shape}")
            self.candidate_probabilities = tf.constant(probabilities)
        self.encoder_config = dict(encoder_config)
        self.query_tower = CNNQueryTower(self.vocab_size, name="query_tower", **encoder_config)
        self.candidate_tower = tf.keras.layers.Embedding(
            self.vocab_size, self.query_tower.representation_dim, name="candidate_tower")
        self.task = tfrs.tasks.Retrieval(
            loss=tf.keras.losses.CategoricalCrossentropy(
                from_logits=True, reduction=tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE),
            loss_metrics=[tf.keras.metrics.Mean(name="epoch_loss")],
            temperature=self.temperature, remove_accidental_hits=True)

    def compute_loss(self, features, training=False):
        """In-batch softmax loss of ``{"items": int [B, L], "target": int [B]}``."""
        queries = self.query_tower(features["items"], training=training)      # [B, D]
        candidates = self.candidate_tower(features["target"])                 # [B, D]
        sampling_probability = (None if self.candidate_probabilities is None
                                else tf.gather(self.candidate_probabilities, features["target"]))
        return self.task(queries, candidates, candidate_ids=features["target"],
                         candidate_sampling_probability=sampling_probability,
                         compute_metrics=False)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="items")])
    def encode(self, items):
        """Query tower in inference mode: int32 ``[B, L]`` -> float32 ``[B, D]``."""
        return self.query_tower(items, training=False)

    def user_embeddings(self, items):
        """``tfbt.models.Retriever``: the query tower in inference mode, int ``[B, L]`` ->
        float32 ``[B, D]`` (a tensor)."""
        return self.encode(tf.cast(items, tf.int32))

    def item_embeddings(self):
        """``tfbt.models.Retriever``: the candidate tower's table, float32 ``[vocab_size, D]``
        (row i = item i; rows 0 and ``vocab_size - 1`` are padding and mask, never items), the
        tower's ``tf.Variable``."""
        if not self.candidate_tower.built:
            self.candidate_tower(tf.zeros([1], tf.int32))
        return self.candidate_tower.embeddings

    def get_config(self):
        probabilities = self.candidate_probabilities
        return {"vocab_size": self.vocab_size, "temperature": self.temperature,
                "candidate_probabilities": (None if probabilities is None
                                            else probabilities.numpy().tolist()),
                **self.encoder_config}


def random_cut(items, positives, seed):
    """One random (prefix, next item) pair per row, vectorised over the batch.

    For each row a cut position is drawn uniformly among its real positions; the query is the
    items up to and including the cut, re-left-padded to the same width, and the target is the
    item after the cut.

    Args:
      items: int32 ``[B, L]``, left-padded inputs (``make_dataset(mode="next_item")``).
      positives: int32 ``[B, L]``, the item after each input position.
      seed: int ``[2]`` stateless seed.

    Returns:
      ``(query, target)``: int32 ``[B, L]`` and int32 ``[B]``.
    """
    width = tf.shape(items)[1]
    real = tf.reduce_sum(tf.cast(tf.not_equal(items, PAD_ID), tf.int32), axis=1)   # [B]
    draw = tf.random.stateless_uniform(tf.shape(real), seed=seed)                  # [B] in [0,1)
    shift = tf.minimum(tf.cast(draw * tf.cast(real, tf.float32), tf.int32), real - 1)  # [B]
    target = tf.gather(positives, width - 1 - shift, batch_dims=1)                # [B]
    source = tf.range(width)[None, :] - shift[:, None]                            # [B, L]
    query = tf.where(source >= 0, tf.gather(items, tf.maximum(source, 0), batch_dims=1), PAD_ID)
    return query, target


def training_pairs(dataset: tf.data.Dataset, *, pairing: str = "random",
                   seed: int = 0) -> tf.data.Dataset:
    """Turns ``make_dataset(mode="next_item")`` batches into ``{"items", "target"}`` pairs.

    ``"random"`` (default): one pair per user per epoch, at a cut point drawn afresh each epoch
    (``random_cut``). A mean- or max-pooled CNN tower needs one forward pass per prefix (unlike a
    causal model, it cannot score every position of a sequence at once), so expanding all ``L``
    prefixes would cost ``L`` times more per epoch and fill each batch with one user's pairs;
    one fresh cut per epoch visits every position over the epochs at one pass per user, and keeps
    the in-batch negatives coming from different users. The cuts are seeded: the same ``seed``
    (with ``tf.keras.utils.set_random_seed``) draws the same cuts.

    ``"last"``: the whole training prefix as the query and its last next item as the target
    (``positives[:, -1]``); the same pair every epoch.

    Args:
      dataset: batches with ``items`` and ``positives`` int32 ``[B, L]``.
      pairing: ``"random"`` or ``"last"``.
      seed: seed of the cut points.

    Returns:
      A dataset of ``{"items": int32 [B, L], "target": int32 [B]}``.
    """
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}; got {pairing!r}")
    if pairing == "last":
        return dataset.map(lambda batch: {"items": batch["items"],
                                          "target": batch["positives"][:, -1]})
    # A new random stream per iteration, so every epoch gets fresh cuts.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def cut(batch, batch_seed):
        query, target = random_cut(batch["items"], batch["positives"],
                                   tf.stack([batch_seed, tf.constant(seed, tf.int64)]))
        return {"items": query, "target": target}

    return tf.data.Dataset.zip(dataset, seeds).map(cut, num_parallel_calls=tf.data.AUTOTUNE)


def train_dual_encoder(data_dir, *, max_len=200, epochs=10, batch_size=256, learning_rate=1e-3,
                       seed=0, pairing="random", temperature=None, sampling_correction=False,
                       verbose="auto", callbacks=(), **encoder_config) -> DualEncoder:
    """Trains the dual encoder with ``model.fit`` on next-item pairs of the training split.

    Args:
      data_dir: folder written by ``tfbt build``.
      max_len: the most recent ``max_len`` training items form the query.
      epochs: passes over the users (one pair per user per pass).
      batch_size: pairs per batch (= 1 positive + ``batch_size - 1`` in-batch negatives).
      learning_rate: Adam learning rate.
      seed: seeds weights, dropout, shuffling and cut points (same seed -> same model on CPU).
      pairing: ``"random"`` or ``"last"`` (see ``training_pairs``).
      temperature: softmax temperature (``None`` = 1).
      sampling_correction: logQ-correct the in-batch softmax with the items' training
        frequencies (see ``DualEncoder``); off by default, as in TFRS's plain retrieval task.
      verbose: ``model.fit`` verbosity (progress bar by default).
      callbacks: extra tf.keras callbacks (``TerminateOnNaN`` is always on).
      **encoder_config: query tower arguments (see ``CNNQueryTower``).

    Returns:
      The trained ``DualEncoder``; ``model.history.history["epoch_loss"]`` holds the mean
      per-pair loss of each epoch.
    """
    meta = tfbt_data.load_metadata(data_dir)
    tf.keras.utils.set_random_seed(seed)
    batches = tfbt_data.make_dataset(data_dir, mode="next_item", split="train",
                                     batch_size=batch_size, max_len=max_len, shuffle=True,
                                     seed=seed, metadata=meta)
    probabilities = None
    if sampling_correction:
        counts = tfbt_data.item_counts(data_dir, metadata=meta)              # [N + 1]
        probabilities = np.append(counts, 0) / counts.sum()                   # [N + 2]
    model = DualEncoder(meta.vocab_size, temperature=temperature,
                        candidate_probabilities=probabilities, **encoder_config)
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate))
    model.fit(training_pairs(batches, pairing=pairing, seed=seed), epochs=epochs,
              verbose=verbose, callbacks=[tf.keras.callbacks.TerminateOnNaN(), *callbacks])
    return model


def save_dual_encoder(model: DualEncoder, prefix) -> None:
    """Writes the two towers' weights as a TensorFlow checkpoint at ``prefix`` (files
    ``prefix.index`` and ``prefix.data-*``); the architecture is the caller's to keep."""
    tf.train.Checkpoint(query_tower=model.query_tower,
                        candidate_tower=model.candidate_tower).write(str(prefix))


def load_dual_encoder(prefix, vocab_size: int, max_len: int, **encoder_config) -> DualEncoder:
    """A ``DualEncoder`` of the given architecture with the weights ``save_dual_encoder`` wrote.

    Raises:
      ValueError: ``prefix`` is missing or damaged, or was written for another architecture.
    """
    model = DualEncoder(vocab_size, **encoder_config)
    model.encode(tf.zeros([1, max_len], tf.int32))
    model.candidate_tower(tf.zeros([1], tf.int32))
    try:
        tf.train.Checkpoint(query_tower=model.query_tower,
                            candidate_tower=model.candidate_tower).read(
            str(prefix)).assert_existing_objects_matched()
    except (tf.errors.OpError, ValueError, AssertionError) as err:
        raise ValueError(f"{prefix}: cannot load the dual encoder's weights ({err})") from err
    return model
