"""Evaluation protocols: which interactions train, validate and test.

Two protocols (``PROTOCOLS``):

* ``leave-one-out`` (below): each user's last item is the test target, the one before it the
  validation target, the rest trains; derived on the fly from the one stored copy of each
  sequence.
* ``temporal`` (``temporal_split``, the BT-SR authors' protocol): a global time cut; see there.

Leave-one-out. Every consumer (the input pipeline, the BT-SR pairs, the downstream users, item popularity)
takes these rules from here, from the one stored copy of each sequence:

* training part: the sequence without its last ``HELD_OUT`` items;
* ``valid``: history = the training part, target = the item after it (second-to-last);
* ``test``: history = all but the last item, target = the last item.
"""

from __future__ import annotations

import dataclasses

import numpy as np

PROTOCOLS = ("leave-one-out", "temporal")
TEMPORAL_TRAIN_USERS = ("non-test", "all")

HELD_OUT = 2  # validation target + test target
# Position of each split's target, counted from the end; its history is everything before it.
TARGET_FROM_END = {"valid": 2, "test": 1}
# Items at the end of a sequence that a split must not see in its statistics (popularity):
# training sees neither held-out item, validation may see the validation target.
UNSEEN_TAIL = {"train": HELD_OUT, "valid": TARGET_FROM_END["test"], "test": 0}

# Items a user needs so that a (pipeline mode, split) yields an example.
MIN_LENGTH = {
    ("sequence", "train"): HELD_OUT + 1,  # at least one training item
    ("next_item", "train"): HELD_OUT + 2,  # at least one (input, next item) training pair
    ("eval", "valid"): TARGET_FROM_END["valid"] + 1,  # one history item before the target
    ("eval", "test"): TARGET_FROM_END["test"] + 1,
}
# Users the downstream tasks can use: a training item, a validation and a test target.
MIN_USER_LENGTH = MIN_LENGTH[("sequence", "train")]



def training_part(sequence):
    """The training part of one sequence (a 1-D array): all but its last ``HELD_OUT`` items."""
    return sequence[:-HELD_OUT]


@dataclasses.dataclass(frozen=True)
class TemporalOptions:
    """Settings of the temporal protocol (defaults: the BT-SR authors').

    ``quantile``: the cut is this quantile of all timestamps (nearest observed value).
    ``min_item_count``/``min_user_count``: before splitting, items with fewer interactions
    (over the whole log) and then users with fewer are removed (0 keeps everything; their Beauty setting).
    ``train_users``: ``"non-test"`` (their code: only users with no interaction at or after the
    cut train) or ``"all"`` (every user's interactions before the cut train, as their paper's
    text reads).
    """

    quantile: float = 0.95
    min_item_count: int = 5
    min_user_count: int = 20
    train_users: str = "non-test"

    def __post_init__(self):
        if not 0 < self.quantile < 1:
            raise ValueError(f"temporal split: quantile must be in (0, 1), got {self.quantile}")
        if self.min_item_count < 0 or self.min_user_count < 0:
            raise ValueError(f"temporal split: minimum counts must be >= 0, got "
                             f"{self.min_item_count}, {self.min_user_count}")
        if self.train_users not in TEMPORAL_TRAIN_USERS:
            raise ValueError(f"temporal split: train_users must be one of "
                             f"{TEMPORAL_TRAIN_USERS}, got {self.train_users!r}")


@dataclasses.dataclass(frozen=True)
class TemporalSplit:
    """The outcome of ``temporal_split``: ``train`` ``{user: items}`` (chronological),
    ``eval`` ``{user: items at or after the cut}`` (at least 3, all known to training),
    ``cut`` the cut timestamp."""

    train: dict[int, np.ndarray]
    eval: dict[int, np.ndarray]
    cut: int

    def history_and_target(self, split: str) -> tuple[list[int], list[np.ndarray], np.ndarray]:
        """``(users, histories, targets)`` of ``valid`` or ``test`` over the ``eval`` users:
        as under leave-one-out, but within the after-cut sequence."""
        from_end = TARGET_FROM_END[split]
        users = sorted(self.eval)
        return (users, [self.eval[u][:-from_end] for u in users],
                np.array([self.eval[u][-from_end] for u in users], np.int64))


def temporal_split(user_ids, sequences, timestamps, options: TemporalOptions = TemporalOptions()
                   ) -> TemporalSplit:
    """The BT-SR authors' temporal protocol (their ``data.get_dataset(splitting="temporal")``).

    1. Filters: items with fewer than ``min_item_count`` interactions are removed, then users
       with fewer than ``min_user_count``.
    2. The cut is the ``quantile`` of all remaining timestamps (nearest observed value).
    3. Test users are those with an interaction at or after the cut. Training: the
       interactions before the cut of every other user (``train_users="non-test"``, their code)
       or of every user (``"all"``).
    4. A test user's evaluation sequence holds only its interactions at or after the cut whose
       item occurs in training; the last is the test target, the one before the validation
       target, and the history a prediction is conditioned on is the earlier part of that
       same after-cut sequence (their ``testset_``/``holdout_``). Users with fewer than 3 such
       interactions are not evaluated (no history before the validation target).

    Args:
      user_ids: ``[U]`` user ids; sequences: U chronological item arrays; timestamps: U
        aligned timestamp arrays.
    """
    user_ids = [int(u) for u in user_ids]
    if not (len(user_ids) == len(sequences) == len(timestamps)):
        raise ValueError("temporal_split: user_ids, sequences and timestamps differ in length")
    items_all = np.concatenate(sequences) if sequences else np.zeros(0, np.int64)
    counts = np.bincount(items_all, minlength=1)
    kept = []
    for user, items, times in zip(user_ids, sequences, timestamps):
        if len(items) != len(times):
            raise ValueError(f"temporal_split: user {user} has {len(items)} items and "
                             f"{len(times)} timestamps")
        keep = counts[items] >= options.min_item_count
        if keep.sum() >= max(options.min_user_count, 1):
            kept.append((user, np.asarray(items)[keep], np.asarray(times)[keep]))
    if not kept:
        raise ValueError("temporal_split: no user is left after the filters "
                         f"(items >= {options.min_item_count}, users >= "
                         f"{options.min_user_count} interactions)")
    cut = int(np.quantile(np.concatenate([t for _, _, t in kept]), options.quantile,
                          method="nearest"))
    train, after = {}, {}
    for user, items, times in kept:
        late = times >= cut
        if late.any():
            after[user] = items[late]
        if not late.any() or options.train_users == "all":
            train[user] = items[~late]
    known = np.zeros(counts.size, bool)
    for items in train.values():
        known[items] = True
    evaluated = {}
    for user, items in after.items():
        items = items[known[items]]
        if len(items) >= MIN_LENGTH[("eval", "valid")]:
            evaluated[user] = items
    return TemporalSplit(train={u: s for u, s in train.items() if len(s)}, eval=evaluated,
                         cut=cut)
