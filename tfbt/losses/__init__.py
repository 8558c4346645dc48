"""Losses: Barlow Twins, and next-item losses (full softmax, sampled with log-Q, SCE)."""

from tfbt.losses.barlow_twins import (
           BT_FORMS,
           LAMBDA_PLACEMENTS,
           BarlowTwinsTerms,
           barlow_twins_loss,
           btsr_barlow_twins_loss,
)
from tfbt.losses.next_item import LOSSES, SAMPLERS, NextItemLoss

__all__ = ["BT_FORMS", "LAMBDA_PLACEMENTS", "LOSSES", "SAMPLERS", "BarlowTwinsTerms",
           "NextItemLoss", "barlow_twins_loss", "btsr_barlow_twins_loss"]
