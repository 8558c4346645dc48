"""``tfbt frontier``: the accuracy/diversity trade-off of trained runs, lever by lever.

Three levers move a sequential recommender along accuracy (validation NDCG@10) against
diversity (coverage@10, long-tail share@10): BT-SR's α (one run per α), the epoch the
selection rule keeps (``tfbt.evaluation.selection``), and the serving-time popularity penalty
β (``score - β·log(1 + training count)``, ``tfbt.evaluation.ranking``). For runs trained with
``--keep-checkpoints all`` this command replays each selection rule on the stored validations
(training does not depend on the rule, only where it stops; a rule that would stop after the
run's end is cut there), scores each chosen epoch under each β on validation and test, and
per lever (and their combinations):

* traces the validation Pareto front (mean over seeds of NDCG@10 against coverage@10 and
  against long-tail share);
* picks operating points **on validation only**: the configuration with the highest
  validation coverage@10 (or long-tail share) whose validation NDCG@10 is at least a share
  (98%, 90%) of the baseline's (α 0, today's rule, β 0: SASRec as tfbt trains it today);
* reports those points on test, with ratios against the baseline's test metrics.

Writes ``frontier.json``, ``frontier.md`` (the operating points as tables) and
``frontier.png`` (each lever's validation front).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfbt import cli_types
from tfbt.runs import layout

FRONTIER_FILE = "frontier.json"
TABLE_FILE = "frontier.md"
PLOT_FILE = "frontier.png"
DEFAULT_BETAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
DEFAULT_TOLERANCES = (0.01, 0.02, 0.05, 0.1)
DEFAULT_SHARES = (0.98, 0.90)
METRICS = ("NDCG@10", "HR@10", "coverage@10", "long_tail@10", "popularity@10")
DIVERSITY = ("coverage@10", "long_tail@10")
BASELINE_RULE = "ndcg"
# Lever -> which of (alpha, rule, beta) may leave the baseline's value.
LEVERS = {"alpha": ("alpha",), "selection": ("rule",), "beta": ("beta",),
          "alpha+selection": ("alpha", "rule"), "selection+beta": ("rule", "beta"),
          "alpha+selection+beta": ("alpha", "rule", "beta")}


def rules(patience: int, tolerances: Sequence[float] = DEFAULT_TOLERANCES) -> dict:
    """The replayed rules by name: today's, coverage and long-tail within one paired SE, and
    coverage within each relative tolerance (all with the runs' patience)."""
    from tfbt.evaluation import selection

    named = {BASELINE_RULE: selection.Rule("ndcg", patience=patience),
             "coverage-1se": selection.Rule("coverage", se=1.0, patience=patience),
             "long-tail-1se": selection.Rule("long-tail", se=1.0, patience=patience)}
    named.update({f"coverage-{t:g}": selection.Rule("coverage", tolerance=t, patience=patience)
                  for t in tolerances})
    return named


def stored_evaluations(run: Path, monitor: str) -> list:
    """A run's validations with their per-user gains (``validation_ranks/``)."""
    from tfbt.evaluation import selection

    state = layout.read_json(run / layout.VALIDATION_FILE)
    if not state or not state.get("evaluations"):
        raise ValueError(f"{run}: no validation history (a finished `tfbt train` run?)")
    out = []
    for evaluation in state["evaluations"]:
        ranks = run / layout.VALIDATION_RANKS_DIR / f"epoch_{evaluation['epoch']}.npy"
        if not ranks.is_file():
            raise ValueError(f"{run}: {ranks.name} is missing: train with this tfbt version")
        out.append(selection.Evaluation(evaluation["epoch"], evaluation,
                                        selection.user_gains(np.load(ranks), monitor)))
    return out


def checkpoint(run: Path, epoch: int) -> Path:
    return run / layout.CHECKPOINTS_DIR / f"epoch_{epoch}.weights.h5"


def replay_rules(run: Path, named_rules: dict) -> dict:
    """The epoch each rule keeps on ``run``'s stored validations: ``{name: {"epoch",
    "stopped", "cut"}}``. Raises ``ValueError`` when a chosen epoch has no checkpoint."""
    from tfbt.evaluation import selection
    from tfbt.runs.config import TrainConfig

    config = TrainConfig(**layout.read_json(run / layout.CONFIG_FILE))
    evaluations = stored_evaluations(run, config.monitor)
    chosen = {}
    for name, rule in named_rules.items():
        outcome = selection.simulate(evaluations, dataclasses.replace(rule,
                                                                      monitor=config.monitor))
        chosen[name] = {"epoch": outcome.chosen, "stopped": outcome.stopped,
                        "cut": not outcome.stopped_early}
    missing = sorted({c["epoch"] for c in chosen.values()
                      if not checkpoint(run, c["epoch"]).is_file()})
    if missing:
        raise ValueError(f"{run}: no checkpoint of epochs {missing}; train with "
                         f"--keep-checkpoints all")
    return chosen


def score_run(run: Path, chosen: dict, betas: Sequence[float]) -> dict:
    """Evaluates each epoch in ``chosen`` (``replay_rules``) under each β on validation and
    test.

    Returns ``{"run", "alpha", "seed", "rules": chosen, "points": {f"{epoch}/{beta:g}":
    {"valid": {...}, "test": {...}}}}``."""
    from tfbt import data
    from tfbt.evaluation import full_ranking
    from tfbt.runs.config import TrainConfig
    from tfbt.runs.train import build_model, evaluation_dataset

    config = TrainConfig(**layout.read_json(run / layout.CONFIG_FILE)).resolved()
    metadata = data.load_metadata(config.data)
    counts = data.item_counts(config.data, metadata=metadata, temporal=config.temporal_options())
    model = build_model(config, metadata)
    splits = {split: evaluation_dataset(config, metadata, split) for split in ("valid", "test")}
    points = {}
    for epoch in sorted({c["epoch"] for c in chosen.values()}):
        with warnings.catch_warnings():  # the checkpoint's optimizer state is not needed
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            model.load_weights(checkpoint(run, epoch))
        for beta in betas:
            points[f"{epoch}/{beta:g}"] = {split: {
                name: value for name, value in full_ranking(
                    model, dataset, metadata.num_items, item_counts=counts, progress=False,
                    popularity_penalty=beta).items() if name in METRICS}
                for split, dataset in splits.items()}
    return {"run": str(run), "alpha": config.alpha, "seed": config.seed, "rules": chosen,
            "points": points}


def configurations(scored: Sequence[dict], betas: Sequence[float]) -> list[dict]:
    """Every (α, rule, β) with each split's metrics: mean, std and per-seed values."""
    by_alpha: dict[float, list[dict]] = {}
    for run in scored:
        by_alpha.setdefault(run["alpha"], []).append(run)
    out = []
    for alpha, runs in sorted(by_alpha.items()):
        for name, beta in itertools.product(runs[0]["rules"], betas):
            per_seed = [run["points"][f"{run['rules'][name]['epoch']}/{beta:g}"] for run in runs]
            out.append({"alpha": alpha, "rule": name, "beta": float(beta),
                        "seeds": [run["seed"] for run in runs],
                        "epochs": [run["rules"][name]["epoch"] for run in runs],
                        **{split: {metric: _mean_std([p[split][metric] for p in per_seed])
                                   for metric in METRICS if metric in per_seed[0][split]}
                           for split in ("valid", "test")}})
    return out


def _mean_std(values) -> dict:
    values = [float(v) for v in values]
    return {"mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, "values": values}


def lever_members(configs: Sequence[dict], lever: str) -> list[dict]:
    """The configurations a lever reaches: the baseline's α 0 / today's rule / β 0 except in
    the lever's own dimensions."""
    free = LEVERS[lever]
    base = {"alpha": 0.0, "rule": BASELINE_RULE, "beta": 0.0}
    return [c for c in configs if all(c[key] == value for key, value in base.items()
                                      if key not in free)]


def baseline(configs: Sequence[dict]) -> dict:
    found = [c for c in configs if (c["alpha"], c["rule"], c["beta"]) == (0.0, BASELINE_RULE,
                                                                           0.0)]
    if not found:
        raise ValueError("no baseline: the runs need an alpha 0 (SASRec) run and beta 0")
    return found[0]


def front(members: Sequence[dict], diversity: str, split: str = "valid") -> list[dict]:
    """The members on the Pareto front of (NDCG@10, ``diversity``) means on ``split``."""
    from tfbt.evaluation import selection

    points = [(m[split]["NDCG@10"]["mean"], m[split][diversity]["mean"]) for m in members]
    return [members[i] for i in selection.pareto_front(points)]


def operating_point(members: Sequence[dict], floor: float, diversity: str) -> dict | None:
    """The member with the highest validation ``diversity`` (mean over seeds) whose validation
    NDCG@10 mean is at least ``floor``; ties go to the higher NDCG@10. None if none is."""
    eligible = [m for m in members if m["valid"]["NDCG@10"]["mean"] >= floor]
    if not eligible:
        return None
    return max(eligible, key=lambda m: (m["valid"][diversity]["mean"],
                                        m["valid"]["NDCG@10"]["mean"]))


def summarize(configs: Sequence[dict], shares: Sequence[float] = DEFAULT_SHARES) -> dict:
    """Fronts and validation-chosen operating points per lever, with test ratios."""
    base = baseline(configs)
    levers = {}
    for lever in LEVERS:
        members = lever_members(configs, lever)
        picks = []
        for share, diversity in itertools.product(shares, DIVERSITY):
            pick = operating_point(members, share * base["valid"]["NDCG@10"]["mean"], diversity)
            if pick is None:
                continue
            picks.append({"share": share, "maximised": diversity, **_key(pick),
                          "valid": _means(pick["valid"]), "test": _means(pick["test"]),
                          "test_std": {m: v["std"] for m, v in pick["test"].items()},
                          "test_ratio": {m: pick["test"][m]["mean"] / base["test"][m]["mean"]
                                         for m in pick["test"] if base["test"][m]["mean"]}})
        levers[lever] = {"fronts": {d: [_key(m) for m in front(members, d)]
                                    for d in DIVERSITY},
                         "operating_points": picks}
    return {"baseline": {**_key(base), "valid": _means(base["valid"]),
                         "test": _means(base["test"])}, "levers": levers}


def _key(config: dict) -> dict:
    return {"alpha": config["alpha"], "rule": config["rule"], "beta": config["beta"],
            "epochs": config["epochs"]}


def _means(split: dict) -> dict:
    return {metric: value["mean"] for metric, value in split.items()}


def plot(configs: Sequence[dict], summary: dict, path: Path) -> None:
    """Each lever's validation Pareto front: NDCG@10 against coverage@10 and long-tail share,
    with the baseline and the 98% / 90% floors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tfbt.runs.figures import save_figure

    base = baseline(configs)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for axis, diversity in zip(axes, DIVERSITY):
        for lever in LEVERS:
            points = front(lever_members(configs, lever), diversity)
            axis.plot([p["valid"][diversity]["mean"] for p in points],
                      [p["valid"]["NDCG@10"]["mean"] for p in points], "o-", ms=3, label=lever)
        axis.plot(base["valid"][diversity]["mean"], base["valid"]["NDCG@10"]["mean"], "k*",
                  ms=12, label="SASRec, today's selection")
        for share in DEFAULT_SHARES:
            axis.axhline(share * base["valid"]["NDCG@10"]["mean"], color="grey", lw=0.8,
                         ls="--")
        axis.set_xlabel(f"{diversity} (validation, mean over seeds)")
        axis.set_ylabel("NDCG@10 (validation)")
    axes[0].legend(fontsize=7)
    figure.suptitle("accuracy/diversity Pareto front per lever (dashed: 98% and 90% of SASRec)")
    figure.tight_layout()
    save_figure(figure, path)


def frontier(runs: Sequence[str | Path], output: str | Path, *,
             betas: Sequence[float] = DEFAULT_BETAS,
             tolerances: Sequence[float] = DEFAULT_TOLERANCES,
             shares: Sequence[float] = DEFAULT_SHARES, overwrite: bool = False) -> dict:
    """Scores ``runs`` (``tfbt train`` folders trained with ``--keep-checkpoints all``) and
    writes ``output/frontier.json``, ``frontier.md`` and ``frontier.png``; returns the JSON.

    ``output`` is a run folder (``layout.run_folder``): a finished frontier is replaced only
    with ``overwrite``; each run's scores are kept in ``output/backup/`` until the frontier is
    written, so an interrupted call started again with the same arguments scores only the runs
    it had not finished."""
    from tfbt.runs.config import TrainConfig

    runs = [Path(r) for r in runs]
    if not runs:
        raise ValueError("no runs given")
    patience = {TrainConfig(**_finished_run_config(r)).patience for r in runs}
    if len(patience) != 1:
        raise ValueError(f"the runs were trained with different patience {sorted(patience)}")
    named = rules(patience.pop(), tolerances)
    betas = sorted({float(b) for b in betas} | {0.0})
    chosen = [replay_rules(run, named) for run in runs]  # every run's problems before scoring
    settings = {"runs": [str(run.resolve()) for run in runs], "betas": betas,
                "tolerances": sorted(float(t) for t in tolerances),
                "shares": [float(s) for s in shares], "output": str(output)}
    output = Path(output)
    with layout.run_folder(output, settings, finished=(FRONTIER_FILE,), overwrite=overwrite,
                           command="frontier"):
        layout.write_json(output / layout.CONFIG_FILE, settings)
        scored = [_scored_once(run, epochs, betas, output / layout.BACKUP_DIR / f"run_{i}.json",
                               f"{i + 1}/{len(runs)}")
                  for i, (run, epochs) in enumerate(zip(runs, chosen))]
        configs = configurations(scored, betas)
        result = {"rules": {name: rule.describe() for name, rule in named.items()},
                  "betas": betas, "shares": list(shares), "runs": scored,
                  "configurations": configs, **summarize(configs, shares)}
        (output / TABLE_FILE).write_text(markdown(result))
        plot(configs, result, output / PLOT_FILE)
        layout.write_json(output / FRONTIER_FILE, result)  # last: it marks the frontier finished
        shutil.rmtree(output / layout.BACKUP_DIR)
    return result


def _scored_once(run: Path, chosen: dict, betas: Sequence[float], saved: Path,
                 position: str) -> dict:
    """``score_run``, or its result saved in ``saved`` by an interrupted call."""
    scored = layout.read_json(saved)
    if scored is not None:
        print(f"frontier: {position} {run}: scored before the interruption", flush=True)
        return scored
    epochs = sorted({c["epoch"] for c in chosen.values()})
    print(f"frontier: {position} scoring {run}: epochs {epochs} x {len(betas)} betas",
          flush=True)
    scored = score_run(run, chosen, betas)
    layout.write_json(saved, scored)
    return scored


def _finished_run_config(run: Path) -> dict:
    """The config of a finished ``tfbt train`` run; an unfinished run (still training, or
    interrupted) is refused: its validations and checkpoints are still growing."""
    config = layout.read_json(run / layout.CONFIG_FILE)
    if config is None:
        raise ValueError(f"{run}: not a `tfbt train` run folder (no {layout.CONFIG_FILE})")
    if not (run / layout.RESULTS_FILE).is_file():
        raise ValueError(f"{run}: an unfinished run (no {layout.RESULTS_FILE}: still training, "
                         f"or interrupted); finish it with the same `tfbt train` command first")
    return config


def _floats(text: str) -> list[float]:
    return [cli_types.non_negative_float(part) for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", nargs="+", required=True, metavar="RUN",
                        help="`tfbt train` run folders trained with --keep-checkpoints all "
                        "(alpha 0 among them: the baseline), e.g. SWEEP/seed_*/alpha_*")
    parser.add_argument("--output", required=True,
                        help="folder for frontier.json/.md/.png; an interrupted call started "
                        "again with the same arguments resumes; a finished one is refused "
                        "unless --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished frontier in --output")
    parser.add_argument("--betas", type=_floats, default=list(DEFAULT_BETAS),
                        help="popularity penalties to try (0 is always included)")
    parser.add_argument("--tolerances", type=_floats, default=list(DEFAULT_TOLERANCES),
                        help="relative NDCG@10 bands of the coverage rules to replay")


def format_summary(result: dict) -> str:
    """One line per lever and operating point: test metrics and ratios to the baseline."""
    lines = []
    for lever, entry in result["levers"].items():
        for pick in entry["operating_points"]:
            ratio = pick["test_ratio"]
            lines.append(
                f"{lever:22s} >= {pick['share']:.0%} max {pick['maximised']:13s} alpha "
                f"{pick['alpha']:g} {pick['rule']:14s} beta {pick['beta']:<4g} test NDCG@10 "
                f"{ratio['NDCG@10']:.3f}x coverage@10 {ratio['coverage@10']:.3f}x long-tail "
                f"{ratio.get('long_tail@10', float('nan')):.3f}x popularity "
                f"{ratio.get('popularity@10', float('nan')):.3f}x")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The baseline and each lever's operating points as Markdown tables (test: mean ± std
    over seeds, and the ratio of the means to the baseline's)."""
    base = result["baseline"]
    lines = [f"Baseline (alpha 0, rule ndcg, beta 0; epochs {base['epochs']}): valid NDCG@10 "
             f"{base['valid']['NDCG@10']:.4f}; test NDCG@10 {base['test']['NDCG@10']:.4f}, "
             f"coverage@10 {base['test']['coverage@10']:.3f}, long-tail "
             f"{base['test'].get('long_tail@10', float('nan')):.3f}, popularity percentile "
             f"{base['test'].get('popularity@10', float('nan')):.3f}", ""]
    header = ("| lever | NDCG floor | maximised (valid) | alpha | rule | beta | epochs | "
              "valid NDCG@10 | test NDCG@10 | test coverage@10 | test long-tail | "
              "test popularity pct |")
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    for lever, entry in result["levers"].items():
        for pick in entry["operating_points"]:
            test, std, ratio = pick["test"], pick["test_std"], pick["test_ratio"]

            def cell(metric, digits=3):
                if metric not in test:
                    return "n/a"
                return (f"{test[metric]:.{digits}f} ± {std[metric]:.{digits}f} "
                        f"({ratio.get(metric, float('nan')):.2f}x)")
            lines.append(
                f"| {lever} | {pick['share']:.0%} | {pick['maximised']} | {pick['alpha']:g} | "
                f"{pick['rule']} | {pick['beta']:g} | {','.join(map(str, pick['epochs']))} | "
                f"{pick['valid']['NDCG@10']:.4f} | {cell('NDCG@10', 4)} | "
                f"{cell('coverage@10')} | {cell('long_tail@10')} | {cell('popularity@10')} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    try:
        result = frontier(args.runs, args.output, betas=args.betas, tolerances=args.tolerances,
                          overwrite=args.overwrite)
    except (ValueError, FileNotFoundError) as err:
        print(f"tfbt frontier: error: {err}", file=sys.stderr)
        return 2
    print(format_summary(result))
    print(f"frontier in {Path(args.output) / FRONTIER_FILE}, plot in "
          f"{Path(args.output) / PLOT_FILE}")
    return 0

