"""Sequential next-item recommendation: SASRec, and BT-SR (SASRec + α · Barlow Twins).

``SequentialRecommender`` trains a ``SASRecEncoder`` to predict, at every position of a user's
training sequence, the item that comes next (``tfbt.losses.next_item``: full softmax, sampled
softmax or Scalable Cross-Entropy; scores are dot products with the shared item embedding, as in
SASRec). With ``alpha = 0`` this is SASRec with a softmax loss (Klenitskiy & Vasilev 2023's
"SASRec+", the strong baseline).

With ``alpha > 0`` it is BT-SR (Razvorotnev, Munkhoeva & Frolov 2025): each training batch also
carries, per user, a "twin" (``tfbt.data.btsr_pairs``): by default (the authors' code) another
training user whose sequence ends with this user's last target, without that item, or the user's
own sequence again when there is none (the two views then differ by dropout only). The
L2-normalised last-position representations (after the final LayerNorm) of the users and of
their twins form Barlow Twins pairs (no projector), and the loss is ``CE + alpha · BT``, with BT
in the authors' form (``tfbt.losses.btsr_barlow_twins_loss``, terms divided by D; ``bt_form=
"zbontar"`` is ``barlow_twins_loss``, not divided). Optionally (their Kindle setting)
``dropout_pair_weight · BT`` between two dropout passes of every user's sequence is added. Because the standardised cross-correlation's diagonal is easy to satisfy for
pairs that already share a next item, the term mostly decorrelates the representation
dimensions, which spreads the singular spectrum and, through it, the recommendations: α is the
accuracy/diversity dial.

Retrieval (``tfbt.models.retrieval.Retriever``): ``user_embeddings(items) -> [B, D]`` (the last
position) and ``item_embeddings() -> [N + 2, D]`` (rows 1..N the items); scores are ``u · Eᵀ``,
which is what ``tfbt.evaluation``, the export and the downstream protocol take.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbt.losses import (
    BT_FORMS,
    LAMBDA_PLACEMENTS,
    barlow_twins_loss,
    btsr_barlow_twins_loss,
)
from tfbt.losses.next_item import all_positions, real_positions
from tfbt.models.base import TfbtModel, replica_share
from tfbt.models.length_chunks import (
    encode_in_length_chunks,
    in_batch_order,
    length_sorted_chunks,
)

METRICS = ("loss", "ce", "bt", "twin_rate", "bt_dropout")


@keras.saving.register_keras_serializable(package="tfbt")
class SequentialRecommender(TfbtModel):
    """SASRec / BT-SR next-item model with a custom ``train_step`` for ``model.fit``.

    Args:
      encoder: a ``SASRecEncoder`` (any layer with ``call(items, return_sequences=...)`` and
        ``item_embeddings`` works).
      next_item_loss: a ``NextItemLoss`` (its ``num_items`` must match the encoder's vocabulary).
      alpha: weight of the Barlow Twins term; 0 = plain SASRec (twins are ignored).
      lambd: weight of the off-diagonal Barlow Twins term (their ``lmd_sem``).
      lambda_on: with ``bt_form="zbontar"``, see ``tfbt.losses.barlow_twins_loss``.
      bt_form: ``"authors"`` (``btsr_barlow_twins_loss``, the default) or ``"zbontar"``.
      dropout_pair_weight: weight of an extra BT term between two dropout passes of every
        user's sequence (0 = off; costs a third of an encoder pass more).
      seed: base seed of the per-step randomness inside the loss (negatives, SCE buckets).
      length_chunks: encode each batch as this many length-sorted chunks, each trimmed to its
        longest row (exact, and much faster on short-sequence data; see ``_encode``); 0 encodes
        the whole padded batch with static shapes (needed for ``jit_compile``).

    Training batches: ``{"items": [B, L], "positives": [B, L], ...}`` from
    ``tfbt.data.make_dataset(mode="next_item")``; with ``alpha > 0`` also ``"twin_items"
    [B, L]``, ``"has_twin" [B]`` (a twin was found) and ``"paired" [B]`` (the row has a second
    view: a twin or, with the ``self`` fallback, itself) from ``tfbt.data.btsr_pairs.add_twins``;
    without ``"paired"`` the rows with a twin are paired.

    Metrics: ``loss`` (total), ``ce`` (next-item loss), ``bt`` (the unweighted Barlow Twins loss)
    and ``twin_rate`` (share of users with a twin in the batch; the last two only with alpha > 0),
    ``bt_dropout`` (the unweighted dropout-pair term, only when its weight is > 0).

    Call: ``items [B, L]`` (or a batch dict with ``"items"``) -> user representations ``[B, D]``.
    """

    nested_layers = ("encoder", "next_item_loss")  # deserialised by from_config

    def __init__(self, encoder, next_item_loss, alpha=0.0, lambd=0.0051,
                 lambda_on="off_diagonal", seed=0, length_chunks=8, bt_form="authors",
                 dropout_pair_weight=0.0, **kwargs):
        metric_names = METRICS[:4] if float(alpha) > 0 else METRICS[:2]
        if float(dropout_pair_weight) > 0:
            metric_names += METRICS[4:]
        super().__init__(seed=seed, metric_names=metric_names, **kwargs)
        if float(alpha) < 0:
            raise ValueError(f"alpha must be >= 0; got {alpha}")
        if lambda_on not in LAMBDA_PLACEMENTS:
            raise ValueError(f"lambda_on must be one of {LAMBDA_PLACEMENTS}, got {lambda_on!r}")
        if bt_form not in BT_FORMS:
            raise ValueError(f"bt_form must be one of {BT_FORMS}, got {bt_form!r}")
        if float(dropout_pair_weight) < 0:
            raise ValueError(f"dropout_pair_weight must be >= 0; got {dropout_pair_weight}")
        vocab_size = getattr(encoder, "vocab_size", None)
        if vocab_size is not None and vocab_size != next_item_loss.num_items + 2:
            raise ValueError(f"encoder vocab_size {vocab_size} does not match the loss's "
                             f"num_items {next_item_loss.num_items} (expected num_items + 2)")
        self.encoder = encoder
        self.next_item_loss = next_item_loss
        self.alpha = float(alpha)
        self.lambd = float(lambd)
        self.lambda_on = lambda_on
        self.bt_form = bt_form
        self.dropout_pair_weight = float(dropout_pair_weight)
        if int(length_chunks) < 0:
            raise ValueError(f"length_chunks must be >= 0; got {length_chunks}")
        self.length_chunks = int(length_chunks)

    def item_embeddings(self):
        """``[N + 2, D]`` item table shared by input and output (row i = item i), the
        encoder's variable."""
        return self.encoder.item_embeddings

    @property
    def max_len(self) -> int:
        """The longest input sequence the encoder takes."""
        return self.encoder.max_len

    def user_embeddings(self, items):
        """``items [B, L]`` (left-padded) -> ``[B, D]``, the representation at the last position.

        Scores over the catalogue are ``user_embeddings(items) @ item_embeddings()[1:N+1]ᵀ``.
        With ``length_chunks >= 1`` the rows are encoded in length-sorted chunks trimmed to
        their longest row (``length_sorted_chunks``): the same vectors, less padding.
        """
        return encode_in_length_chunks(self.encoder, items, self.length_chunks, training=False,
                                       return_sequences=False)

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
        order, chunks = length_sorted_chunks(items, self.length_chunks, positives)
        xs, ys, lasts = [], [], []
        for chunk_items, chunk_positives in chunks:
            outputs = self.encoder(chunk_items, training=training)
            x, y = real_positions(outputs, chunk_positives)
            xs.append(x)
            ys.append(y)
            lasts.append(outputs[:, -1])
        last = in_batch_order(order, tf.concat(lasts, axis=0))
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
        batch = tf.shape(items)[0]
        dropout_pairs = self.dropout_pair_weight > 0 and training
        extra = []  # rows encoded in the same pass after the users, with zero positives
        if use_twins:
            paired = data.get("paired", data["has_twin"])
            extra.append(tf.cast(tf.boolean_mask(data["twin_items"], paired), items.dtype))
        if dropout_pairs:
            extra.append(items)  # a second dropout pass of every user
        if extra:
            # One encoder pass over the users and the extra rows; the extra rows' positives are
            # zero, so only the users' own positions enter the next-item loss.
            extra = tf.concat(extra, axis=0)
            items = tf.concat([items, extra], axis=0)
            positives = tf.concat([positives, tf.zeros_like(extra, positives.dtype)], axis=0)
        x, y, last = self._encode(items, positives, training)
        last = tf.math.l2_normalize(last, axis=-1)
        # A mean over this replica's positions, weighted so that replicas average to the mean
        # over the global batch's positions.
        ce = self.next_item_loss(x, y, self.item_embeddings(), seed) * replica_share(
            tf.math.count_nonzero(y))
        values = {"ce": ce, "loss": ce}
        if use_twins:
            pairs = tf.shape(last)[0] - batch - (batch if dropout_pairs else 0)
            z1 = tf.boolean_mask(last[:batch], paired)
            values["bt"] = self._barlow_twins(z1, last[batch:batch + pairs])
            values["twin_rate"] = tf.reduce_mean(tf.cast(data["has_twin"], tf.float32))
            values["loss"] += self.alpha * values["bt"]
        if dropout_pairs:
            values["bt_dropout"] = self._barlow_twins(last[:batch], last[-batch:])
            values["loss"] += self.dropout_pair_weight * values["bt_dropout"]
        return values["loss"], values

    def _barlow_twins(self, z1, z2):
        """BT loss of the pairs; 0 when fewer than two pairs (no batch statistics)."""
        def loss():
            if self.bt_form == "authors":
                return btsr_barlow_twins_loss(z1, z2, self.lambd).loss
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
            "bt_form": self.bt_form,
            "dropout_pair_weight": self.dropout_pair_weight,
        }
