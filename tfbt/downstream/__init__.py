"""Using learned user representations downstream (Liu et al. 2025).

* ``users``: load users, split them into training pool / validation / test, label fractions.
* ``tasks``: the examples of each task (next item, user labels) for each user role.
* ``protocol``: frozen, fine-tuned (LP-FT) and from-scratch heads, chosen on validation users.
* ``probes``: the quick linear probe of a pretrained encoder.
* ``logistic``: L-BFGS multinomial logistic regression (the standard SSL linear probe).
"""

from tfbt.downstream.logistic import fit_softmax_regression, minimize_lbfgs
from tfbt.downstream.probes import embed_users, linear_probe, macro_f1, probe_label
from tfbt.downstream.protocol import (
                                      NEXT_ITEM_HEADS,
                                      PROBES,
                                      FitConfig,
                                      Outcome,
                                      evaluate_task,
                                      item_embedding_table,
                                      next_item_scores,
                                      train_finetuned,
                                      train_frozen,
                                      train_scratch,
)
from tfbt.downstream.tasks import NEXT_ITEM, NEXT_ITEM_ENDS, Examples, Task, make_task
from tfbt.downstream.users import (
                                      Users,
                                      UserSplit,
                                      label_subset,
                                      load_users,
                                      split_users,
)

__all__ = ["NEXT_ITEM", "NEXT_ITEM_ENDS", "NEXT_ITEM_HEADS", "PROBES", "Examples", "FitConfig",
           "Outcome", "Task", "UserSplit", "Users", "embed_users", "evaluate_task",
           "fit_softmax_regression", "item_embedding_table", "label_subset", "linear_probe",
           "load_users", "macro_f1", "make_task", "minimize_lbfgs", "next_item_scores",
           "probe_label", "split_users", "train_finetuned", "train_frozen", "train_scratch"]
