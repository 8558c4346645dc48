"""Downstream tasks: the examples of one task for the three user roles.

Every input is a left-padded item history ``[n, max_len]`` (``tfbt.data`` conventions):

* user classification (``favorite_genre``, ``gender``, ``age``, ``occupation``): input = the
  user's training sequence (``tfbt.data.splits.training_part``, what pretraining saw), target =
  the label; users without the label (-1) are left out;
* ``next_item``: test users predict their last item from everything before it. With
  ``next_item_end="last"`` (the default), training users give their last ``cuts`` (prefix,
  following item) pairs ending at their last item and validation users predict their last
  item, so validation users are scored exactly as test users are. With ``"second-to-last"``
  (the earlier default), training and validation users end at the validation target instead
  and validation inputs are exactly the training parts pretraining saw: on a synthetic log of
  MovieLens-1M size that made validation Recall@10 higher than test by 0.016 on average
  and chose heads that lost to most-popular on test users. Scores are ranked over the whole
  catalogue with the history's items removed; Recall@K = HR@K (one target per user).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfbt.data import left_pad
from tfbt.data.splits import TARGET_FROM_END, training_part
from tfbt.downstream.settings import NEXT_ITEM, NEXT_ITEM_ENDS
from tfbt.downstream.users import Users, UserSplit, label_subset
from tfrecords_builder.schema import MISSING_LABEL

TEST = TARGET_FROM_END["test"]


@dataclasses.dataclass(frozen=True)
class Examples:
    """The examples of one user role of a task.

    Attributes:
      items: int32 ``[n, max_len]`` left-padded input histories.
      targets: int32 ``[n]``: class index, or item index 1..N for ``next_item``.
      rows: int ``[n]`` the user row of each example.
      seen: ``next_item`` only: ``n`` int arrays, each example's whole history (removed from
        the ranking); ``None`` for classification.
    """

    items: np.ndarray
    targets: np.ndarray
    rows: np.ndarray
    seen: tuple[np.ndarray, ...] | None = None

    def __len__(self):
        return len(self.targets)


@dataclasses.dataclass(frozen=True)
class Task:
    """A downstream task: its examples for the training pool, validation and test users.

    ``item_counts`` (``next_item`` only): int ``[num_outputs]``, column j = item j + 1, every
    user's interactions in the training part of their sequence (no validation or test target):
    the popularity that needs no label, which the most-popular baseline ranks by.
    """

    name: str
    num_outputs: int
    train: Examples
    valid: Examples
    test: Examples
    item_counts: np.ndarray | None = None

    @property
    def is_next_item(self) -> bool:
        return self.name == NEXT_ITEM

    @property
    def metrics(self) -> tuple[str, str]:
        """Reported metrics; the first one also picks hyper-parameters on validation users."""
        return ("recall@10", "recall@5") if self.is_next_item else ("accuracy", "macro_f1")

    def log_prior(self, labelled: np.ndarray) -> np.ndarray:
        """float32 ``[num_outputs]``: the log prior a head starts from, add-one smoothed (an
        unseen class or item is unlikely, not impossible).

        Classification: the class frequencies of the ``labelled`` training examples (the
        majority class). Next-item: ``item_counts`` (no label needed), so the untrained head
        ranks exactly as the most-popular baseline.
        """
        if self.is_next_item:
            counts = self.item_counts + 1.0
        else:
            counts = np.bincount(self.train.targets[labelled], minlength=self.num_outputs) + 1.0
        return np.log(counts / counts.sum()).astype(np.float32)

    def labelled(self, fraction: float, seed: int) -> np.ndarray:
        """bool ``[len(train)]``: the training examples of the labelled users for a fraction."""
        return np.isin(self.train.rows, label_subset(np.unique(self.train.rows), fraction,
                                                     seed=seed))


def make_task(users: Users, split: UserSplit, name: str, *, max_len: int, cuts: int = 1,
              next_item_end: str = "last") -> Task:
    """Builds the examples of task ``name`` (``"next_item"`` or a label of ``users``);
    ``next_item_end`` (``NEXT_ITEM_ENDS``): see the module docstring."""
    if name == NEXT_ITEM:
        if next_item_end not in NEXT_ITEM_ENDS:
            raise ValueError(f"next_item_end must be one of {sorted(NEXT_ITEM_ENDS)}, got "
                             f"{next_item_end!r}")
        end = NEXT_ITEM_ENDS[next_item_end]
        known = np.concatenate([training_part(seq) for seq in users.sequences])
        return Task(name, users.num_items,
                    _next_item_examples(users, split.train, max_len, cuts, offset=end),
                    _next_item_examples(users, split.valid, max_len, 1, offset=end),
                    _next_item_examples(users, split.test, max_len, 1, offset=TEST),
                    item_counts=np.bincount(known, minlength=users.num_items + 1)[1:])
    if name not in users.labels:
        raise ValueError(f"unknown task {name!r}: expected {NEXT_ITEM!r} or one of the loaded "
                         f"labels {sorted(users.labels)}")
    roles = []
    for rows in (split.train, split.valid, split.test):
        rows = rows[users.labels[name][rows] != MISSING_LABEL]
        if not len(rows):
            raise ValueError(f"task {name!r}: no user of a split has this label")
        roles.append(Examples(left_pad([training_part(users.sequences[r]) for r in rows],
                                       max_len).numpy(),
                              users.labels[name][rows].astype(np.int32), rows))
    return Task(name, users.num_classes[name], *roles)


def _next_item_examples(users, rows, max_len, cuts, *, offset):
    """Pairs (items[:t], items[t]) for the last ``cuts`` t <= len - offset (t >= 1)."""
    histories, targets, owners = [], [], []
    for row in rows:
        seq = users.sequences[row]
        for t in range(len(seq) - offset, max(len(seq) - offset - cuts, 0), -1):
            histories.append(seq[:t])
            targets.append(seq[t])
            owners.append(row)
    return Examples(left_pad(histories, max_len).numpy(), np.asarray(targets, np.int32),
                    np.asarray(owners), tuple(histories))
