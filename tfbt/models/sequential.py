"""Sequential next-item recommendation: SASRec, and BT-SR (SASRec + α · Barlow Twins).

``SequentialRecommender`` trains a ``SASRecEncoder`` to predict, at every position of a user's
training sequence, the item that comes next (``tfbt.losses.next_item``: full softmax, sampled
softmax or Scalable Cross-Entropy; scores are dot products with the shared item embedding, as in
SASRec). With ``alpha = 0`` this is SASRec with a softmax loss (Klenitskiy & Vasilev 2023's
"SASRec+", the strong baseline).

With ``alpha > 0`` it is BT-SR (Razvorotnev, Munkhoeva & Frolov 2025): each training batch also
carries, per user, a "twin" (``tfbt.data.btsr_pairs``): another user's sequence prefix whose next item is the
same as this user's last target. The L2-normalised last-position representations of the users
and of their twins form Barlow Twins pairs (no projector), and the loss is
``CE + alpha · BT``. Because the standardised cross-correlation's diagonal is easy to satisfy for
pairs that already share a next item, the term mostly decorrelates the representation
dimensions, which spreads the singular spectrum and, through it, the recommendations: α is the
accuracy/diversity dial.

Serving: ``user_embeddings(items) -> [B, D]`` (the last position) and ``item_embeddings``
(``[N + 2, D]``, rows 1..N the items); scores are ``u · Eᵀ``, which is what
``tfbt.evaluation.evaluate_full_ranking`` takes.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbt.losses import LAMBDA_PLACEMENTS, barlow_twins_loss
from tfbt.losses.next_item import all_positions, real_positions
from tfbt.models.base import TfbtModel
from tfrecords_builder.schema import PAD_ID

METRICS = ("loss", "ce", "bt", "twin_rate")


@keras.saving.register_keras_serializable(package="tfbt")
class SequentialRecommender(TfbtModel):
    """SASRec / BT-SR next-item model with a custom ``train_step`` for ``model.fit``.

    Args:
      encoder: a ``SASRecEncoder`` (any layer with ``call(items, return_sequences=...)`` and
        ``item_embeddings`` works).
      next_item_loss: a ``NextItemLoss`` (its ``num_items`` must match the encoder's vocabulary).
      alpha: weight of the Barlow Twins term; 0 = plain SASRec (twins are ignored).
      lambd, lambda_on: see ``tfbt.losses.barlow_twins_loss``.
      seed: base seed of the per-step randomness inside the loss (negatives, SCE buckets).
      length_chunks: encode each batch as this many length-sorted chunks, each trimmed to its
        longest row (exact, and much faster on short-sequence data; see ``_encode``); 0 encodes
        the whole padded batch with static shapes (needed for ``jit_compile``).

    Training batches: ``{"items": [B, L], "positives": [B, L], ...}`` from
    ``tfbt.data.make_dataset(mode="next_item")``; with ``alpha > 0`` also ``"twin_items"
    [B, L]`` and ``"has_twin" [B]`` (``tfbt.data.btsr_pairs.add_twins``).

    Metrics: ``loss`` (total), ``ce`` (next-item loss), ``bt`` (the unweighted Barlow Twins loss)
    and ``twin_rate`` (share of users with a twin in the batch; the last two only with alpha > 0).

    Call: ``items [B, L]`` (or a batch dict with ``"items"``) -> user representations ``[B, D]``.
    """

    nested_layers = ("encoder", "next_item_loss")  # deserialised by from_config

    def __init__(self, encoder, next_item_loss, alpha=0.0, lambd=0.0051,
                 lambda_on="off_diagonal", seed=0, length_chunks=8, **kwargs):
        super().__init__(seed=seed, metric_names=METRICS if float(alpha) > 0 else METRICS[:2],
                         **kwargs)
        if float(alpha) < 0:
            raise ValueError(f"alpha must be >= 0; got {alpha}")
        if lambda_on not in LAMBDA_PLACEMENTS:
            raise ValueError(f"lambda_on must be one of {LAMBDA_PLACEMENTS}, got {lambda_on!r}")
        vocab_size = getattr(encoder, "vocab_size", None)
        if vocab_size is not None and vocab_size != next_item_loss.num_items + 2:
            raise ValueError(f"encoder vocab_size {vocab_size} does not match the loss's "
                             f"num_items {next_item_loss.num_items} (expected num_items + 2)")
        self.encoder = encoder
        self.next_item_loss = next_item_loss
        self.alpha = float(alpha)
        self.lambd = float(lambd)
        self.lambda_on = lambda_on
        if int(length_chunks) < 0:
            raise ValueError(f"length_chunks must be >= 0; got {length_chunks}")
        self.length_chunks = int(length_chunks)

    @property
    def item_embeddings(self):
        """``[N + 2, D]`` item table shared by input and output (row i = item i)."""
        return self.encoder.item_embeddings

    def user_embeddings(self, items):
        """``items [B, L]`` (left-padded) -> ``[B, D]``, the representation at the last position.

        Scores over the catalogue are ``user_embeddings(items) @ item_embeddings[1:N+1]ᵀ``.
        """
        return self.encoder(items, training=False, return_sequences=False)

    def call(self, inputs, training=False):
        items = inputs["items"] if isinstance(inputs, dict) else inputs
        return self.encoder(items, training=training, return_sequences=False)

    def build(self, items_shape):
        if isinstance(items_shape, dict):
            items_shape = items_shape["items"]
        if not self.encoder.built:
            self.encoder.build(items_shape)
        self.built = True

    def _encode(self, items, positives, training):
        """Encodes rows; returns ``x [P, D]``, ``y [P]`` (real positions) and ``last [B, D]``.

        With ``length_chunks = n >= 1`` the rows are sorted by length and cut into n chunks;
        each chunk is trimmed to its longest row before the encoder sees it. Positions are
        counted from the right and padding never reaches a real position, so this gives the
        same outputs as encoding the whole ``[B, L]`` batch while skipping most of the padding
        (on Amazon Beauty about 4x fewer positions at B = 256, L = 50). The batch itself stays
        a random sample of users. ``x``/``y`` come out in chunk order, which no loss depends on.
        With ``length_chunks = 0`` the batch is encoded whole and every position is kept
        (``all_positions``): static shapes, for XLA.
        """
        if self.length_chunks == 0:
            outputs = self.encoder(items, training=training)
            x, y = all_positions(outputs, positives)
            return x, y, outputs[:, -1]
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(items, PAD_ID), tf.int32), axis=1)
        order = tf.argsort(lengths, stable=True)
        items, positives, lengths = (tf.gather(t, order) for t in (items, positives, lengths))
        rows = tf.shape(items)[0]
        chunk = -(-rows // self.length_chunks)
        xs, ys, lasts = [], [], []
        for index in range(self.length_chunks):
            start, stop = index * chunk, tf.minimum((index + 1) * chunk, rows)
            # An empty chunk (fewer rows than chunks) has max -inf: width 1, zero rows.
            width = tf.maximum(tf.reduce_max(lengths[start:stop]), 1)
            outputs = self.encoder(items[start:stop, -width:], training=training)
            x, y = real_positions(outputs, positives[start:stop, -width:])
            xs.append(x)
            ys.append(y)
            lasts.append(outputs[:, -1])
        last = tf.scatter_nd(order[:, None], tf.concat(lasts, axis=0),
                             tf.stack([rows, tf.shape(lasts[0])[-1]]))  # back in batch order
        return tf.concat(xs, axis=0), tf.concat(ys, axis=0), last

    def compute_terms(self, data, seed, training):
        """Returns ``(total, {metric: value})`` for one batch (this replica's part)."""
        data, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(data, dict) or "items" not in data or "positives" not in data:
            raise ValueError("SequentialRecommender trains on batches {'items', 'positives', "
                             "...} from tfbt.data.make_dataset(mode='next_item')")
        items, positives = data["items"], data["positives"]
        use_twins = self.alpha > 0 and "twin_items" in data
        if self.alpha > 0 and training and not use_twins:
            raise ValueError("BT-SR (alpha > 0) trains on batches with 'twin_items' and "
                             "'has_twin'; add them with tfbt.data.btsr_pairs.add_twins")
        if use_twins:
            # One encoder pass over the users and the twins of those that have one; the twins'
            # positives are zero, so only the users' own positions enter the next-item loss.
            twins = tf.boolean_mask(data["twin_items"], data["has_twin"])
            items = tf.concat([items, tf.cast(twins, items.dtype)], axis=0)
            positives = tf.concat([positives, tf.zeros_like(twins, positives.dtype)], axis=0)
        x, y, last = self._encode(items, positives, training)
        ce = self.next_item_loss(x, y, self.item_embeddings, seed)
        values = {"ce": ce, "loss": ce}
        if use_twins:
            batch = tf.shape(data["items"])[0]
            z1 = tf.math.l2_normalize(tf.boolean_mask(last[:batch], data["has_twin"]), axis=-1)
            z2 = tf.math.l2_normalize(last[batch:], axis=-1)
            values["bt"] = self._barlow_twins(z1, z2)
            values["twin_rate"] = tf.reduce_mean(tf.cast(data["has_twin"], tf.float32))
            values["loss"] = ce + self.alpha * values["bt"]
        return values["loss"], values

    def _barlow_twins(self, z1, z2):
        """BT loss of the pairs; 0 when fewer than two pairs (no batch statistics)."""
        def loss():
            return barlow_twins_loss(z1, z2, self.lambd, lambda_on=self.lambda_on).loss

        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            # Control flow around the cross-replica sums inside barlow_twins_loss is not
            # supported by MirroredStrategy; the global batch always has pairs in practice.
            return loss()
        return tf.cond(tf.shape(z1)[0] >= 2, loss, lambda: tf.constant(0.0))

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "next_item_loss": keras.saving.serialize_keras_object(self.next_item_loss),
            "alpha": self.alpha,
            "lambd": self.lambd,
            "lambda_on": self.lambda_on,
            "length_chunks": self.length_chunks,
        }
