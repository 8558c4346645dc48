"""Validation curves of an α sweep: accuracy and coverage epoch by epoch, per α.

A sweep's table compares each α at its own best validation epoch, and coverage@10 of a
SASRec-style model keeps rising with training long after NDCG@10 has peaked. So an α that only
moves the stopping epoch looks like a point further along the accuracy/diversity trade-off.
The curves separate the two: if the BT term really trades accuracy for diversity, an α > 0
reaches more coverage than SASRec at the same epoch and at the same validation NDCG@10 (the
comparison the BT-SR authors make with their "same NDCG" baselines); if its curves lie on
SASRec's, the dial is the stopping epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfbt.runs.figures import save_figure, sweep_title

CURVE_METRICS = ("NDCG@10", "coverage@10")


def sample_std(values) -> np.ndarray:
    """The sample std over the first axis (runs or seeds); zeros for a single run."""
    values = np.asarray(values)
    return np.std(values, axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1:])


def validation_curves(runs: Sequence[dict]) -> dict:
    """Mean ± std over runs (one per seed) of each validation, epoch by epoch.

    Only epochs that every run validated are kept (the shortest run ends the curve).

    Args:
      runs: each run's ``"validation_curve"`` and ``"best_epoch"`` (from its results.json, as
        ``tfbt.runs.sweep.sweep`` keeps them in its rows) and ``"run"`` (its name in errors).
    Returns:
      ``{"epoch": [e, ...], "best_epoch": [per run], metric: {"mean": [...], "std": [...]}}``
      for each of ``CURVE_METRICS``; ``std`` is the sample std (0 for one run).
    """
    by_epoch = []
    for run in runs:
        if not run.get("validation_curve"):
            raise ValueError(f"{run['run']}: no validation history (is this a finished "
                             "`tfbt train` run?)")
        by_epoch.append({e["epoch"]: e for e in run["validation_curve"]})
    epochs = sorted(set.intersection(*(set(evaluations) for evaluations in by_epoch)))
    curves = {"epoch": epochs, "best_epoch": [run["best_epoch"] for run in runs]}
    for metric in CURVE_METRICS:
        values = np.array([[evaluations[epoch][metric] for epoch in epochs]
                           for evaluations in by_epoch])
        curves[metric] = {"mean": values.mean(axis=0).tolist(),
                          "std": sample_std(values).tolist()}
    return curves


def plot_curves(rows: Sequence[dict], path: Path, protocol: str) -> None:
    """Validation coverage@10 against the epoch, and against validation NDCG@10, per α.

    Args:
      rows: ``[{"alpha": α, "curves": validation_curves(...)}, ...]``.
      path: the PNG to write.
      protocol: the sweep's protocol (the figure's title).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_epoch, by_accuracy) = plt.subplots(1, 2, figsize=(10, 4))
    for row in rows:
        curves, label = row["curves"], f"α={row['alpha']:g}"
        coverage = np.asarray(curves["coverage@10"]["mean"])
        line, = by_epoch.plot(curves["epoch"], coverage, label=label)
        by_epoch.fill_between(curves["epoch"], coverage - curves["coverage@10"]["std"],
                              coverage + curves["coverage@10"]["std"], alpha=0.15,
                              color=line.get_color())
        by_accuracy.plot(curves["NDCG@10"]["mean"], coverage, ".-", label=label,
                         color=line.get_color(), markersize=3)
        for best in curves["best_epoch"]:  # each seed's chosen epoch
            if best in curves["epoch"]:
                at = curves["epoch"].index(best)
                by_accuracy.plot(curves["NDCG@10"]["mean"][at], coverage[at], "o",
                                 color=line.get_color())
    by_epoch.set_xlabel("epoch")
    by_epoch.set_ylabel("validation coverage@10 (mean ± std)")
    by_epoch.set_title("coverage while training")
    by_epoch.legend()
    by_accuracy.set_xlabel("validation NDCG@10 (mean over seeds)")
    by_accuracy.set_ylabel("validation coverage@10")
    by_accuracy.set_title("coverage at equal accuracy (dots: chosen epochs)")
    sweep_title(figure, protocol)
    figure.tight_layout()
    save_figure(figure, path)
