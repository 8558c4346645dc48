"""Full-ranking evaluation (seen items removed, batched), its metrics and its Keras callback.

* ``evaluate(model, dataset_dir, split=...)``: the metrics of any ``tfbt.models.Retriever``.
* ``FullRankingEarlyStopping``: validation, early stopping and best weights inside ``fit``.
* ``evaluate_full_ranking`` / ``evaluate_scores``: the protocol on user vectors or scores.
"""

import importlib

_LAZY = {
    **dict.fromkeys(("evaluate_full_ranking", "evaluate_scores", "most_popular_baseline"),
                    "tfbt.evaluation.ranking"),
    **dict.fromkeys(("evaluate", "full_ranking"), "tfbt.evaluation.retrieval"),
    "FullRankingEarlyStopping": "tfbt.evaluation.callbacks",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfbt.evaluation' has no attribute {name!r}")
