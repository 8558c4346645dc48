"""``tfbt sweep-alpha``: BT-SR's accuracy/diversity dial, one training run per α.

Every run uses the same data, seed and settings; α = 0 is SASRec, α > 0 BT-SR. Each run is a
full ``tfbt train`` (early stopping on validation NDCG@10, test evaluated once) in
``OUTPUT/alpha_<α>/``; a run folder that already holds the finished results of the same settings
is reused, so an interrupted sweep resumes run by run (and a separate SASRec run of the same
settings copied to ``alpha_0`` serves as the α = 0 point). The sweep writes
``sweep.json`` (one row per α: valid/test NDCG@10, HR@10, coverage@10, effective rank, long-tail
share, epochs, wall time) and ``sweep.png`` (NDCG@10 against coverage@10 with the points labelled
by α, and effective rank against α).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tfbt.runs import callbacks, environment, layout
from tfbt.runs.train import TrainConfig, add_common_arguments, config_from_args, train

SWEEP_FILE = "sweep.json"
PLOT_FILE = "sweep.png"
COLUMNS = ("NDCG@10", "HR@10", "coverage@10", "effective_rank", "long_tail@10")


def run_folder(output: str | Path, alpha: float) -> Path:
    return Path(output) / f"alpha_{alpha:g}"


def finished_run(config: TrainConfig) -> dict | None:
    """The results of a finished run of exactly ``config`` in its folder (any earlier path),
    or None: an interrupted sweep skips what is done."""
    path = Path(config.output) / layout.RESULTS_FILE
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    wanted = dataclasses.asdict(config.resolved())
    done = dict(results.get("config", {}))
    ignored = ("output",) if wanted["alpha"] > 0 else ("output", "lambd", "lambda_on")  # no BT
    for key in ignored:
        wanted.pop(key)
        done.pop(key, None)
    return results if done == wanted else None


def sweep(config: TrainConfig, alphas: Sequence[float], *, verbose="auto") -> dict:
    """Trains one run per α (``config``'s model and alpha are replaced) and tabulates them.

    Returns the table written to ``config.output/sweep.json``:
    ``{"protocol", "seed", "data", "rows": [{"alpha", "valid": {...}, "test": {...},
    "epochs_run", "best_epoch", "wall_time_s", "run"}, ...]}``.
    """
    alphas = [float(a) for a in alphas]
    if not alphas or min(alphas) < 0 or len(set(alphas)) != len(alphas):
        raise ValueError(f"alphas must be distinct values >= 0; got {alphas}")
    output = Path(config.output)
    rows = []
    for alpha in sorted(alphas):
        run = dataclasses.replace(config, model="sasrec" if alpha == 0 else "btsr", alpha=alpha,
                                  output=str(run_folder(output, alpha)))
        results = finished_run(run)
        if results is None:
            print(f"sweep-alpha: alpha={alpha:g} -> {run.output}", flush=True)
            results = train(run, verbose=verbose)
        else:
            print(f"sweep-alpha: alpha={alpha:g}: reusing the finished run in {run.output}",
                  flush=True)
        rows.append({
            "alpha": alpha,
            "valid": {name: results["valid"].get(name) for name in COLUMNS},
            "test": {name: results["test"].get(name) for name in COLUMNS},
            "epochs_run": results["epochs_run"],
            "best_epoch": results["best_epoch"],
            "wall_time_s": results["wall_time_s"],
            "run": str(Path(run.output) / layout.RESULTS_FILE),
        })
    table = {"protocol": results["protocol"], "seed": config.seed, "data": str(config.data),
             "rows": rows}
    layout.write_json(output / SWEEP_FILE, table)
    plot(table, output / PLOT_FILE)
    return table


def plot(table: dict, path: Path, split: str = "test") -> None:
    """NDCG@10 vs coverage@10 (points labelled by α) and effective rank vs α, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table["rows"]
    alphas = [row["alpha"] for row in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    coverage = [row[split]["coverage@10"] for row in rows]
    ndcg = [row[split]["NDCG@10"] for row in rows]
    left.plot(coverage, ndcg, "o-")
    for alpha, x, y in zip(alphas, coverage, ndcg):
        left.annotate(f"α={alpha:g}", (x, y), textcoords="offset points", xytext=(5, 5))
    left.set_xlabel(f"coverage@10 ({split})")
    left.set_ylabel(f"NDCG@10 ({split})")
    left.set_title("accuracy vs diversity")
    right.plot(alphas, [row[split]["effective_rank"] for row in rows], "o-")
    right.set_xlabel("α")
    right.set_ylabel("effective rank of user embeddings")
    right.set_title("spectrum flatness")
    figure.suptitle("BT-SR α sweep (full ranking, seen items removed, leave-one-out)")
    figure.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    figure.savefig(tmp, dpi=120)
    plt.close(figure)
    tmp.replace(path)


def _alphas(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alphas", type=_alphas, default=[0.0, 0.005, 0.02, 0.05],
                        help="comma-separated BT weights; 0 is SASRec (default 0,0.005,0.02,"
                        "0.05: the BT loss is ~50x the CE in gradient norm, and alpha 0.1 "
                        "already stalled SASRec's learning on Beauty)")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        table = sweep(config_from_args(args), args.alphas)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"tfbt sweep-alpha: error: {err}", file=sys.stderr)
        return 2
    for row in table["rows"]:
        print(f"alpha {row['alpha']:g}: " + " ".join(
            f"{split} NDCG@10 {row[split]['NDCG@10']:.4f} coverage@10 "
            f"{row[split]['coverage@10']:.4f}" for split in ("valid", "test")))
    print(f"table in {Path(args.output) / SWEEP_FILE}, plot in {Path(args.output) / PLOT_FILE}")
    return 0
