"""Losses: Barlow Twins, and next-item losses (full softmax, sampled with log-Q, SCE).

The option names (``tfbt.losses.names``) load at once; the losses themselves load TensorFlow on
first use, so that the command line can list the options without it.
"""

import importlib

from tfbt.losses.names import BT_FORMS, LAMBDA_PLACEMENTS, LOSSES, SAMPLERS

_LAZY = {
    "BarlowTwinsTerms": "tfbt.losses.barlow_twins",
    "barlow_twins_loss": "tfbt.losses.barlow_twins",
    "btsr_barlow_twins_loss": "tfbt.losses.barlow_twins",
    "NextItemLoss": "tfbt.losses.next_item",
}

__all__ = ["BT_FORMS", "LAMBDA_PLACEMENTS", "LOSSES", "SAMPLERS", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfbt.losses' has no attribute {name!r}")
