"""The retrieval interface every tfbt recommender offers, whatever trained it.

A ``Retriever`` scores the catalogue by a dot product of a user vector and an item table:

* ``user_embeddings(items)``: int ``[B, L]`` left-padded item sequences (0 = padding) ->
  float ``[B, D]`` user vectors, in inference mode.
* ``item_embeddings()``: ``[N + 2, D]`` the item table (row i = item i; rows 0 = padding and
  N + 1 = mask are never scored), a tensor or variable.

Scores are ``user_embeddings(items) @ item_embeddings()[1:N + 1]ᵀ``. Full-ranking evaluation
(``tfbt.evaluation``), the export (``tfbt.serving``), ``tfbt recommend`` and the downstream
protocol take any object with these two methods; no adapter per model. Implementations:
``SequentialRecommender`` (SASRec / BT-SR), the TFRS ``DualEncoder`` (``tfbt.baselines``; its
outputs cross the Keras border as tensors) and ``ItemTableRetriever`` (a pretrained encoder
paired with an item table).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Retriever(Protocol):
    """Anything with ``user_embeddings(items) -> [B, D]`` and ``item_embeddings() ->
    [N + 2, D]`` (see the module docstring)."""

    def user_embeddings(self, items):
        ...

    def item_embeddings(self):
        ...


class ItemTableRetriever:
    """A user encoder paired with an item table, e.g. a Barlow Twins pretrained encoder and its
    own item embeddings.

    Args:
      encoder: callable ``items [B, L] -> [B, D]`` (a Keras model or layer runs in inference
        mode).
      item_table: ``[N + 2, D]`` (row i = item i), a tensor, variable or array.
      max_len: the input width the encoder takes (default: a Keras model's input width).
    """

    def __init__(self, encoder, item_table, max_len: int | None = None):
        self.encoder = encoder
        self.table = item_table if hasattr(item_table, "shape") else np.asarray(item_table)
        inputs = getattr(encoder, "inputs", None)
        self.max_len = max_len if max_len is not None or not inputs else inputs[0].shape[1]

    def user_embeddings(self, items):
        return self.encoder(items, training=False)

    def item_embeddings(self):
        return self.table

    @property
    def variables(self):
        """The encoder's variables (what an export stores; the table is saved as a constant
        unless it is itself a variable)."""
        return list(getattr(self.encoder, "variables", []))


def user_vectors(model: Retriever, inputs, batch_size: int = 1024) -> np.ndarray:
    """A ``Retriever``'s user vectors as one array, e.g. features for downstream tasks.

    Args:
      model: a ``Retriever``.
      inputs: a ``tf.data.Dataset`` of batches with an ``items`` key (any ``tfbt.data`` mode) or
        of item tensors, or an int array ``[U, L]``; left-padded with 0. To line the rows up
        with other per-user arrays, iterate a deterministic dataset.
      batch_size: rows per call when ``inputs`` is an array.

    Returns:
      float32 ``[U, D]``, one row per sequence, in input order.
    """
    import tensorflow as tf

    if not isinstance(inputs, tf.data.Dataset):
        inputs = tf.data.Dataset.from_tensor_slices(np.asarray(inputs, np.int32)).batch(
            batch_size)
    rows = [np.asarray(model.user_embeddings(batch["items"] if isinstance(batch, dict)
                                             else batch), np.float32) for batch in inputs]
    if not rows:
        return np.zeros((0, model.item_embeddings().shape[-1]), np.float32)
    return np.concatenate(rows)


def require_retriever(model, purpose: str) -> Retriever:
    """``model`` if it is a ``Retriever``; otherwise a ``TypeError`` that says what is missing."""
    if not isinstance(model, Retriever):
        raise TypeError(f"{purpose} needs a recommender with user_embeddings(items) and "
                        f"item_embeddings() (tfbt.models.Retriever); got {type(model).__name__}. "
                        f"Pair a plain encoder with an item table with "
                        f"tfbt.models.ItemTableRetriever(encoder, table)")
    return model
