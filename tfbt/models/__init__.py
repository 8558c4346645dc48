"""Keras models trained with ``model.fit``: all share ``TfbtModel``'s seeded step.

* ``BarlowTwinsPretrainer``: Barlow Twins pretraining of a user-sequence encoder.
* ``SequentialRecommender``: SASRec, and BT-SR (SASRec + alpha * Barlow Twins on twin pairs).

``Retriever`` is the retrieval interface every recommender offers (``user_embeddings(items)``,
``item_embeddings()``); ``ItemTableRetriever`` pairs a pretrained encoder with an item table.
"""

from tfbt.models.base import TfbtModel
from tfbt.models.pretrainer import BarlowTwinsPretrainer, encoder_model, normalized_std
from tfbt.models.retrieval import (
    ItemTableRetriever,
    Retriever,
    require_retriever,
    user_vectors,
)
from tfbt.models.sequential import SequentialRecommender

__all__ = ["BarlowTwinsPretrainer", "ItemTableRetriever", "Retriever", "SequentialRecommender",
           "TfbtModel", "encoder_model", "normalized_std", "require_retriever",
           "user_vectors"]
