"""Keras models trained with ``model.fit``: all share ``TfbtModel``'s seeded step.

* ``BarlowTwinsPretrainer``: Barlow Twins pretraining of a user-sequence encoder.
* ``SequentialRecommender``: SASRec, and BT-SR (SASRec + alpha * Barlow Twins on twin pairs).
"""

from tfbt.models.base import TfbtModel
from tfbt.models.pretrainer import BarlowTwinsPretrainer, encoder_model, normalized_std
from tfbt.models.sequential import SequentialRecommender

__all__ = ["BarlowTwinsPretrainer", "SequentialRecommender", "TfbtModel", "encoder_model",
           "normalized_std"]
