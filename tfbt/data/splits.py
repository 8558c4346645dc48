"""Leave-one-out: which items of a stored sequence train, validate and test.

Every consumer (the input pipeline, the BT-SR pairs, the downstream users, item popularity)
takes these rules from here, from the one stored copy of each sequence:

* training part: the sequence without its last ``HELD_OUT`` items;
* ``valid``: history = the training part, target = the item after it (second-to-last);
* ``test``: history = all but the last item, target = the last item.
"""

from __future__ import annotations

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
