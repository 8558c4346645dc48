"""Full-ranking evaluation of a recommender (any ``tfbt.models.Retriever``) in one call.

* ``full_ranking(model, dataset, num_items)``: ``evaluate_full_ranking`` of the model's user
  vectors against its item table, on batches you built.
* ``evaluate(model, dataset_dir, split=...)``: the same on a dataset folder's ``valid`` or
  ``test`` split, with the popularity and calibration metrics ``tfbt train`` reports.
"""

from __future__ import annotations

import os

import tensorflow as tf

from tfbt import data
from tfbt.data.catalog import item_genres
from tfbt.data.datasets import evaluation_dataset, temporal_options
from tfbt.evaluation.ranking import evaluate_full_ranking
from tfbt.models.retrieval import require_retriever


def full_ranking(model, dataset, num_items: int, **kwargs) -> dict:
    """``evaluate_full_ranking(model.user_embeddings, model.item_embeddings(), dataset, ...)``.

    Args:
      model: a ``Retriever`` (SASRec / BT-SR, the dual encoder, ``ItemTableRetriever``).
      dataset: evaluation batches (``tfbt.data.evaluation_dataset``).
      num_items: catalogue size N.
      **kwargs: ``evaluate_full_ranking``'s options (``ks``, ``item_counts``, ``progress``, ...).
    """
    model = require_retriever(model, "full-ranking evaluation")
    return evaluate_full_ranking(model.user_embeddings, model.item_embeddings(), dataset,
                                 num_items=num_items, **kwargs)


def evaluate(model, dataset, split: str = "test", *, protocol="leave-one-out",
             max_len: int | None = None, batch_size: int = 1024, num_items: int | None = None,
             progress: bool = False, **kwargs) -> dict:
    """Ranks the whole catalogue for every user of a split; returns the metrics dict.

    Args:
      model: a ``Retriever``.
      dataset: a folder written by ``tfbt build`` (its ``split`` is read under ``protocol``,
        and ``popularity@k``, ``long_tail@k`` and, with genres, ``calibration_kl@k`` come from
        its training counts and catalogue), or evaluation batches (then pass ``num_items``).
      split: ``"valid"`` or ``"test"`` (a folder only).
      protocol: ``"leave-one-out"``, ``"temporal"`` or a ``tfbt.data.splits.TemporalOptions``.
      max_len: input width (default: the model's ``max_len``).
      batch_size: users per batch.
      num_items: catalogue size (default: the folder's).
      progress: show a progress bar.
      **kwargs: more ``evaluate_full_ranking`` options (``ks``, ``filter_seen``, ...).

    Returns:
      ``{"num_users", "MRR", "HR@k", "NDCG@k", "coverage@k", "effective_rank", ...}``.
    """
    if isinstance(dataset, tf.data.Dataset):
        if num_items is None:
            raise ValueError("evaluate: pass num_items with a tf.data.Dataset (or give the "
                             "dataset folder)")
        return full_ranking(model, dataset, num_items, progress=progress, **kwargs)
    if not isinstance(dataset, (str, os.PathLike)):
        raise TypeError(f"evaluate: dataset must be a dataset folder or a tf.data.Dataset; got "
                        f"{type(dataset).__name__}")
    max_len = max_len if max_len is not None else getattr(model, "max_len", None)
    if max_len is None:
        raise ValueError(f"evaluate: pass max_len ({type(model).__name__} does not say its "
                         f"input width)")
    metadata = data.load_metadata(dataset)
    batches = evaluation_dataset(dataset, split, protocol=protocol, max_len=max_len,
                                 batch_size=batch_size, metadata=metadata)
    options = {"item_counts": data.item_counts(dataset, metadata=metadata,
                                               temporal=temporal_options(protocol)),
               "item_genres": item_genres(dataset, metadata), **kwargs}
    return full_ranking(model, batches, num_items or metadata.num_items, progress=progress,
                        **options)
