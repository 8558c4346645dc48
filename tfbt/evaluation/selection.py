"""Which validated epoch a run keeps, when it stops, and which checkpoints it still needs.

Why: on a plateau of validation NDCG@10, models of equal accuracy differ widely in coverage
(a SASRec's coverage@10 keeps rising for tens of epochs after its NDCG@10 has peaked), so the
epoch picked by "best NDCG@10" sets the diversity of the served model by a few hits. A
coverage-aware rule chooses on that plateau on purpose:

* ``ndcg`` (today's rule): the epoch with the best validation NDCG@10 (strictly better than
  every earlier one); stop after ``patience`` validations without a new best.
* ``coverage`` / ``long-tail``: among the epochs whose NDCG@10 is *indistinguishable* from the
  best's, the one with the highest validation coverage@10 / long-tail share@10. The band is
  ``best - NDCG(e) <= se * SE(best - e)``, SE the paired standard error of the per-user
  NDCG@10 differences over the validation users, or, with ``tolerance``, the stated relative
  band ``NDCG(e) >= (1 - tolerance) * best``. The patience counter restarts at a new best
  *and* at a new chosen epoch, so the run does not stop while the objective still rises
  inside the band.

Checkpoints: only epochs the rule can still choose are kept: the in-band epochs that no other
in-band epoch beats on both NDCG@10 and the objective (for ``ndcg``, the best alone). An epoch
that leaves the band is dropped for good. With a tolerance band this is exact (the best only
rises, so a dominated epoch leaves the band no later than its dominator); with the SE band an
epoch dominated on the means could in principle outlive its dominator by a smaller SE, which
is ignored. ``keep="all"`` keeps every epoch (for ``tfbt frontier``, which replays any rule
offline with ``simulate``: training does not depend on the rule, only the stopping does).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

# --selection name -> the validation metric it maximises inside the band.
OBJECTIVES = {"ndcg": None, "coverage": "coverage@10", "long-tail": "long_tail@10"}
KEEP = ("rule", "all")


@dataclasses.dataclass(frozen=True)
class Rule:
    """A selection rule (see the module docstring).

    Attributes:
      selection: a key of ``OBJECTIVES``.
      monitor: the accuracy metric (``NDCG@k``, ``HR@k`` or ``MRR``: per-user gains come from
        the ranks).
      se: band width in paired standard errors (``tolerance`` None).
      tolerance: relative band instead, e.g. 0.02 for NDCG@10 >= 98% of the best.
      patience: validations without a new best or a new chosen epoch before stopping.
      keep: ``rule`` (the checkpoints the rule can still choose) or ``all``.
    """

    selection: str = "ndcg"
    monitor: str = "NDCG@10"
    se: float = 1.0
    tolerance: float | None = None
    patience: int = 5
    keep: str = "rule"

    def __post_init__(self):
        if self.selection not in OBJECTIVES:
            raise ValueError(f"selection must be one of {tuple(OBJECTIVES)}; got "
                             f"{self.selection!r}")
        if self.keep not in KEEP:
            raise ValueError(f"keep_checkpoints must be one of {KEEP}; got {self.keep!r}")
        if not self.se >= 0 or (self.tolerance is not None and not 0 <= self.tolerance < 1):
            raise ValueError(f"the selection band needs se >= 0 and a tolerance in [0, 1); got "
                             f"se {self.se}, tolerance {self.tolerance}")
        if self.patience < 1:
            raise ValueError(f"patience must be >= 1; got {self.patience}")
        user_gains(np.ones(1, np.int64), self.monitor)  # checks the monitor

    @property
    def objective(self) -> str:
        return OBJECTIVES[self.selection] or self.monitor

    def describe(self) -> dict:
        """What results.json records."""
        band = (None if self.selection == "ndcg" else
                f"{self.monitor} >= (1 - {self.tolerance:g}) x best" if self.tolerance is not None
                else f"best - {self.monitor} <= {self.se:g} paired SE over validation users")
        return {"selection": self.selection, "objective": self.objective, "band": band,
                "patience": self.patience, "keep_checkpoints": self.keep}


def user_gains(ranks, monitor: str) -> np.ndarray:
    """Per-user values of ``monitor`` from 1-based ranks [U] (their mean is the metric)."""
    ranks = np.asarray(ranks, np.float64)
    name, _, k = monitor.partition("@")
    if name == "MRR" and not k:
        return 1.0 / ranks
    if name in ("NDCG", "HR") and k.isdigit():
        hit = ranks <= int(k)
        return np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0) if name == "NDCG" else hit * 1.0
    raise ValueError(f"monitor {monitor!r}: the selection needs NDCG@k, HR@k or MRR")


def paired_se(a, b) -> float:
    """Standard error of the mean of ``a - b`` (paired per user; 0 for fewer than 2 users)."""
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(np.std(diff, ddof=1) / math.sqrt(diff.size)) if diff.size > 1 else 0.0


@dataclasses.dataclass
class Evaluation:
    """One validation: its epoch, mean metrics and per-user gains of the monitor [U]."""

    epoch: int
    metrics: Mapping[str, float]
    gains: np.ndarray


@dataclasses.dataclass(frozen=True)
class Step:
    """What one validation decided: the chosen epoch, the epochs whose checkpoints to keep,
    those to delete (kept earlier, not any more), whether to stop, and the best epoch."""

    chosen: int
    best: int
    keep: frozenset
    drop: frozenset
    stop: bool


class Selector:
    """The rule as a state machine: ``add`` one validation at a time (in epoch order)."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self.evaluations: dict[int, Evaluation] = {}
        self.best: int | None = None
        self.chosen: int | None = None
        self.candidates: set[int] = set()
        self.wait = 0

    def value(self, epoch: int, name: str | None = None) -> float:
        return float(self.evaluations[epoch].metrics[name or self.rule.monitor])

    def in_band(self, epoch: int) -> bool:
        """Whether ``epoch``'s accuracy is indistinguishable from the best's."""
        best, value = self.value(self.best), self.value(epoch)
        if epoch == self.best:
            return True
        if self.rule.tolerance is not None:
            return value >= (1 - self.rule.tolerance) * best
        return best - value <= self.rule.se * paired_se(
            self.evaluations[self.best].gains, self.evaluations[epoch].gains)

    def _key(self, epoch: int) -> tuple:
        # Highest objective, then highest accuracy, then the earliest epoch.
        return (self.value(epoch, self.rule.objective), self.value(epoch), -epoch)

    def add(self, evaluation: Evaluation) -> Step:
        epoch = evaluation.epoch
        if self.evaluations and epoch <= max(self.evaluations):
            raise ValueError(f"validations must come in epoch order; got {epoch} after "
                             f"{max(self.evaluations)}")
        self.evaluations[epoch] = evaluation
        new_best = self.best is None or self.value(epoch) > self.value(self.best)
        if new_best:
            self.best = epoch
        before = set(self.candidates)
        if self.rule.selection == "ndcg":
            candidates = {self.best}
        else:
            band = [e for e in before | {epoch} if self.in_band(e)]
            candidates = {e for e in band if not any(self._dominates(o, e) for o in band)}
        chosen = max(candidates, key=self._key)
        new_chosen = chosen == epoch
        self.chosen, self.candidates = chosen, candidates
        self.wait = 0 if new_best or new_chosen else self.wait + 1
        keep = set(self.evaluations) if self.rule.keep == "all" else candidates
        return Step(chosen=chosen, best=self.best, keep=frozenset(keep),
                    drop=frozenset(before - keep) if self.rule.keep == "rule" else frozenset(),
                    stop=self.wait >= self.rule.patience)

    def _dominates(self, other: int, epoch: int) -> bool:
        a = (self.value(other), self.value(other, self.rule.objective))
        b = (self.value(epoch), self.value(epoch, self.rule.objective))
        return other != epoch and a[0] >= b[0] and a[1] >= b[1] and a != b


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Where a rule replayed on a validation curve stops and what it chooses."""

    chosen: int
    best: int
    stopped: int
    stopped_early: bool


def simulate(evaluations: Iterable[Evaluation], rule: Rule) -> Outcome:
    """Replays ``rule`` on a run's validations (epoch order) as if training had used it.

    Exact for any rule that stops no later than the run did: training does not depend on the
    rule. ``stopped_early`` is False when the curve ran out first (the run's own cap)."""
    selector, step, last = Selector(dataclasses.replace(rule, keep="all")), None, None
    for evaluation in evaluations:
        step, last = selector.add(evaluation), evaluation.epoch
        if step.stop:
            return Outcome(step.chosen, step.best, last, True)
    if step is None:
        raise ValueError("no validations to select from")
    return Outcome(step.chosen, step.best, last, False)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (higher is better),
    sorted by the first coordinate, descending."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1], i))
    front, best_second = [], -math.inf
    for i in order:
        if points[i][1] > best_second:
            front.append(i)
            best_second = points[i][1]
    return front
