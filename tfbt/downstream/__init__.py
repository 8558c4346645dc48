"""Using learned user representations downstream (Liu et al. 2025).

* ``users``: load users, split them into training pool / validation / test, label fractions.
* ``tasks``: the examples of each task (next item, user labels) for each user role.
* ``protocol``: frozen, fine-tuned (LP-FT) and from-scratch heads, chosen on validation users.
* ``probes``: the quick linear probe of a pretrained encoder.
* ``logistic``: L-BFGS multinomial logistic regression (the standard SSL linear probe).
* ``settings``: ``FitConfig``, how heads are trained and chosen.

The names of ``tasks``, ``users``, ``probes`` and ``protocol`` load TensorFlow on first use, so that a command line can
list the settings without it.
"""

import importlib

from tfbt.downstream.logistic import fit_softmax_regression, minimize_lbfgs
from tfbt.downstream.settings import NEXT_ITEM, NEXT_ITEM_ENDS, NEXT_ITEM_HEADS, PROBES, FitConfig

_LAZY = {
    **dict.fromkeys(("Examples", "Task", "make_task"), "tfbt.downstream.tasks"),
    **dict.fromkeys(("Users", "UserSplit", "label_subset", "load_users", "split_users"),
                    "tfbt.downstream.users"),
    **dict.fromkeys(("embed_users", "linear_probe", "macro_f1", "probe_label"),
                    "tfbt.downstream.probes"),
    **dict.fromkeys(("Outcome", "evaluate_task", "item_embedding_table", "next_item_scores",
                     "train_finetuned", "train_frozen", "train_scratch"),
                    "tfbt.downstream.protocol"),
}

__all__ = ["NEXT_ITEM", "NEXT_ITEM_ENDS", "NEXT_ITEM_HEADS", "PROBES", "Examples", "FitConfig",
           "Outcome", "Task", "UserSplit", "Users", "embed_users", "evaluate_task",
           "fit_softmax_regression", "item_embedding_table", "label_subset", "linear_probe",
           "load_users", "macro_f1", "make_task", "minimize_lbfgs", "next_item_scores",
           "probe_label", "split_users", "train_finetuned", "train_frozen", "train_scratch"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfbt.downstream' has no attribute {name!r}")
