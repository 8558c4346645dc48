"""The serving graphs of ``tfbt export``: ``tf.Module`` s with the raw-id lookup inside.

A module is saved with ``tf.saved_model.save``: TF Serving and plain TensorFlow
(``tf.saved_model.load``) run it without tfbt, Keras or TFRS. Clients send raw item ids
(strings, oldest first, padded with ``""``) and get raw ids back; internal indices never leave
the graph. Unknown ids are dropped (the rest re-left-padded, the most recent ``max_len`` kept),
never an error; ``num_known`` says how many items of each user were recognised.

Signatures (``B`` users, ``L`` any width, ``D`` the representation size):

* ``EncoderModel`` (any encoder):
  ``serving_default(items: string [B, L]) -> {embedding: float32 [B, D], num_known: int32 [B]}``.
* ``RecommenderModel`` (SASRec / BT-SR, the TFRS dual encoder: a ``Source`` with an item table):
  ``serving_default(items) -> {item_ids: string [B, K], scores: float32 [B, K], num_known}``
  with the export's default ``K``, and ``recommend_k(items, k: int32 [])`` -> the same with
  ``min(k, num_items)`` columns. Scores are ``user · item`` over the whole catalogue, best first,
  the user's own items excluded; slots beyond the items left to recommend hold ``""``/``-inf``.
  A user with no known item (an empty or all-unknown history, ``num_known = 0``) gets the
  explicit fallback: the most popular training items, scored by their interaction counts.
  ``recommend_penalized(items, k, popularity_penalty: float32 [])``: the same, ranked by
  ``user · item - β · log(1 + count)`` (the serving-time popularity dial; a served model moves
  along its accuracy/diversity trade-off without retraining; β = 0 is ``recommend_k`` bit for
  bit, and the fallback is not penalised).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from tfbt import data
from tfbt.serving.format import RECOMMEND_K, RECOMMEND_PENALIZED, SERVING_DEFAULT
from tfrecords_builder import schema


@dataclasses.dataclass
class Source:
    """A trained model reduced to what serving needs.

    Attributes:
      description: where it came from (for messages and ``tfbt.json``).
      data_dir: the dataset it was trained on (vocabulary, titles, counts).
      metadata: that dataset's ``Metadata``.
      max_len: the input width it was trained with.
      user_embeddings: int32 ``[B, max_len]`` left-padded -> float ``[B, D]``.
      item_table: ``() -> [num_items + 2, D]`` (row i = item i); None for an encoder alone.
      variables: every variable the two callables read (what the SavedModel stores).
      config, results: the run's ``config.json`` and ``results.json``, when there are.
    """

    description: str
    data_dir: Path
    metadata: schema.Metadata
    max_len: int
    user_embeddings: Callable
    item_table: Callable | None
    variables: list
    config: dict | None = None
    results: dict | None = None


class RawIdModel(tf.Module):
    """Raw ids in, item indices inside: the lookup both kinds of export share."""

    def __init__(self, source: Source):
        super().__init__()
        self.max_len = source.max_len
        self.num_items = source.metadata.num_items
        self.vocabulary = tf.saved_model.Asset(str(source.data_dir / schema.ITEM_VOCAB_FILE))
        self.model_variables = source.variables
        self._user_embeddings = source.user_embeddings
        # Line i of item_vocab.txt is the raw id of index i + 1; anything else looks up to 0.
        self.item_index = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
            self.vocabulary, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
            tf.lookup.TextFileIndex.LINE_NUMBER, value_index_offset=1), default_value=0)

    def users(self, items):
        """string ``[B, L]`` -> user embeddings float32 ``[B, D]`` and the known items, int64
        RaggedTensor ``[B, None]`` in input order (all of them, not only the last max_len)."""
        indices = self.item_index.lookup(items)
        known = tf.ragged.boolean_mask(indices, indices > 0)
        padded = data.left_pad(known, self.max_len)                          # [B, max_len]
        return tf.cast(self._user_embeddings(padded), tf.float32), known


class EncoderModel(RawIdModel):
    """``serving_default``: raw ids -> user embeddings."""

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="items")])
    def serve(self, items):
        embedding, known = self.users(items)
        return {"embedding": embedding, "num_known": tf.cast(known.row_lengths(), tf.int32)}

    def signatures(self) -> dict:
        return {SERVING_DEFAULT: self.serve}


class RecommenderModel(RawIdModel):
    """``serving_default`` (the top ``k`` unseen items) and ``recommend_k`` (k as an input)."""

    def __init__(self, source: Source, k: int):
        super().__init__(source)
        self.k = min(int(k), self.num_items)
        self._item_table = source.item_table
        # The fallback for a user with no known item: training interactions per item, float32
        # [N] (the counts of the export's item_counts.tsv).
        counts = data.item_counts(source.data_dir, metadata=source.metadata, split="test")
        self.popularity = tf.constant(counts[1:self.num_items + 1], tf.float32)
        self.log_popularity = tf.math.log1p(self.popularity)                  # the dial's [N]
        self.item_id = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
            self.vocabulary, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER, tf.string,
            tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")

    def recommend(self, items, k, popularity_penalty=None):
        users, known = self.users(items)                                       # [B, D]
        table = tf.cast(self._item_table()[1:self.num_items + 1], tf.float32)   # [N, D]
        scores = tf.matmul(users, table, transpose_b=True)                    # [B, N]
        if popularity_penalty is not None:  # β = 0 subtracts exact zeros: scores unchanged
            scores -= popularity_penalty * self.log_popularity[None, :]
        own = tf.stack([known.value_rowids(), known.values - 1], axis=1)      # [P, 2]
        scores = tf.tensor_scatter_nd_update(
            scores, own, tf.fill(tf.shape(own)[:1], float("-inf")))
        nothing_known = tf.equal(known.row_lengths(), 0)[:, None]             # [B, 1]
        scores = tf.where(nothing_known, self.popularity[None, :], scores)   # popular fallback
        top_scores, top = tf.math.top_k(scores, k=k)                          # [B, k]
        line = tf.where(tf.math.is_inf(top_scores), tf.constant(-1, tf.int64),
                        tf.cast(top, tf.int64))                               # -1 -> ""
        return {"item_ids": self.item_id.lookup(line), "scores": top_scores,
                "num_known": tf.cast(known.row_lengths(), tf.int32)}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="items")])
    def serve(self, items):
        return self.recommend(items, self.k)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="items"),
                                  tf.TensorSpec([], tf.int32, name="k")])
    def recommend_k(self, items, k):
        tf.debugging.assert_positive(k, message="k must be >= 1")
        return self.recommend(items, tf.minimum(k, self.num_items))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="items"),
                                  tf.TensorSpec([], tf.int32, name="k"),
                                  tf.TensorSpec([], tf.float32, name="popularity_penalty")])
    def recommend_penalized(self, items, k, popularity_penalty):
        tf.debugging.assert_positive(k, message="k must be >= 1")
        tf.debugging.assert_non_negative(popularity_penalty,
                                         message="popularity_penalty must be >= 0")
        return self.recommend(items, tf.minimum(k, self.num_items), popularity_penalty)

    def signatures(self) -> dict:
        return {SERVING_DEFAULT: self.serve, RECOMMEND_K: self.recommend_k,
                RECOMMEND_PENALIZED: self.recommend_penalized}


def describe_signatures(module: RawIdModel) -> dict:
    """``{name: {"inputs"|"outputs": {key: [dtype, shape]}}}`` of the module's signatures."""
    described = {}
    for name, function in module.signatures().items():
        concrete = function.get_concrete_function()
        described[name] = {
            "inputs": {spec.name: [spec.dtype.name, spec.shape.as_list()]
                       for spec in tf.nest.flatten(concrete.structured_input_signature)},
            "outputs": {key: [tensor.dtype.name, tensor.shape.as_list()]
                        for key, tensor in concrete.structured_outputs.items()}}
    return described
