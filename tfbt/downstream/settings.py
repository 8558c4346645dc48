"""The downstream settings: task and head names, and how heads are trained and chosen
(``FitConfig``), apart from the training itself (``tfbt.downstream.protocol``, ``tasks``) so that
a command line can show them without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses

from tfbt.data.splits import TARGET_FROM_END

NEXT_ITEM = "next_item"  # the next-item task's name (the others are user labels)
# Where the training and validation users' next-item examples end (items from the end).
NEXT_ITEM_ENDS = {"second-to-last": TARGET_FROM_END["valid"], "last": TARGET_FROM_END["test"]}
PROBES = ("adam", "lbfgs")
NEXT_ITEM_HEADS = ("dense", "item-embeddings")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """How heads are trained and chosen (on validation users only).

    Attributes:
      head_learning_rates: Adam learning rates tried for a head on fixed features.
      head_l2s: L2 penalties of the head's kernels tried (with every learning rate), strongest
        first: on a tie of the validation metric the earlier one is kept.
      scratch_learning_rates: those tried for a randomly initialised encoder with its head.
      finetune_scale: fine-tuning learning rate = the chosen head learning rate times this.
      head_epochs / encoder_epochs: epoch caps (early stopping on validation loss picks the
        epoch, restoring its weights) without / with a trainable encoder.
      patience: epochs without validation-loss improvement before stopping.
      batch_size: training batch size.
      min_steps_per_epoch: an epoch is one pass over the labelled examples but at least this
        many batches (a 1% label fraction may be a single batch), so early stopping checks the
        validation loss at a sensible pace.
      hidden_units, dropout: the head's shape (see ``DownstreamHead``).
      probe: how frozen heads are fitted: ``adam`` (the epochs and learning rates above) or
        ``lbfgs`` (a linear head by L-BFGS logistic regression, ``lbfgs_iterations`` at most).
      next_item_head: ``dense`` (a ``DownstreamHead`` with one output per item) or
        ``item-embeddings`` (an ``ItemEmbeddingHead`` on the encoder's item embeddings).
      selection_se: candidates are ordered simplest first (the untrained start, then the
        strongest L2 penalty); the first whose validation score is within this many standard
        errors of the best one's is kept (the one-standard-error rule, the error of the paired
        per-user difference; 0 keeps the best). With about 100 validation users one hit moves
        Recall@10 by 0.01, so the best of a dozen candidates is often only the luckiest
        (docs/benchmarks.md, "Measurements behind code choices").
    """

    head_learning_rates: tuple[float, ...] = (1e-3, 1e-2)
    scratch_learning_rates: tuple[float, ...] = (1e-3,)
    finetune_scale: float = 0.1
    head_epochs: int = 200
    encoder_epochs: int = 30
    patience: int = 5
    batch_size: int = 64
    min_steps_per_epoch: int = 10
    hidden_units: int = 0
    dropout: float = 0.0
    head_l2s: tuple[float, ...] = (1e-2, 1e-3, 0.0)
    probe: str = "adam"
    lbfgs_iterations: int = 300
    next_item_head: str = "dense"
    selection_se: float = 1.0

    def __post_init__(self):
        if self.probe not in PROBES:
            raise ValueError(f"probe must be one of {PROBES}, got {self.probe!r}")
        if self.next_item_head not in NEXT_ITEM_HEADS:
            raise ValueError(f"next_item_head must be one of {NEXT_ITEM_HEADS}, got "
                             f"{self.next_item_head!r}")
        if self.probe == "lbfgs" and self.hidden_units:
            raise ValueError("the L-BFGS probe is linear: it needs hidden_units=0, got "
                             f"{self.hidden_units}")
        if self.selection_se < 0:
            raise ValueError(f"selection_se must be >= 0, got {self.selection_se}")
        if not self.head_l2s or min(self.head_l2s) < 0:
            raise ValueError(f"head_l2s must be a non-empty list of values >= 0, got "
                             f"{self.head_l2s}")
