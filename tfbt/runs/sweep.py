"""``tfbt sweep-alpha``: BT-SR's accuracy/diversity dial, one training run per α and seed.

With ``--seeds 0,1,2`` the per-seed sweep below runs once per seed in ``OUTPUT/seed_<s>/``
(``sweep_seeds``), and ``OUTPUT/sweep.json`` holds every metric's mean ± std over the seeds per
α, ``OUTPUT/sweep.png`` NDCG@10 against coverage@10 with error bars and the effective rank
against α, ``OUTPUT/spectrum.png`` / ``spectrum.json`` the singular-value spectrum of the
test users' embeddings per α (``tfbt.runs.spectrum``), and ``OUTPUT/curves.png`` validation
coverage@10 per epoch and against validation NDCG@10 per α (``tfbt.runs.curves``: whether α
moves the trade-off or only the stopping epoch). α is on the scale of ``--bt-form``
(default: the BT-SR authors', terms divided by D; their α is 0.08-0.25).

Every run uses the same data, seed and settings; α = 0 is SASRec, α > 0 BT-SR. Each run is a
full ``tfbt train`` (early stopping on validation NDCG@10, test evaluated once) in
``OUTPUT/alpha_<α>/``; a run folder that already holds the finished results of the same settings
is reused, so an interrupted sweep resumes run by run (and a separate SASRec run of the same
settings copied to ``alpha_0`` serves as the α = 0 point); a finished run of other settings is
refused unless ``--overwrite``, which retrains every α. The sweep writes
``sweep.json`` (one row per α: valid/test NDCG@10, HR@10, coverage@10, effective rank, long-tail
share, epochs, wall time) and ``sweep.png`` (NDCG@10 against coverage@10 with the points labelled
by α, and effective rank against α).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfbt.fs import kinds
from tfbt.runs import layout
from tfbt.runs.config import TrainConfig
from tfbt.runs.curves import plot_curves, sample_std, validation_curves
from tfbt.runs.figures import save_figure, sweep_title
from tfbt.runs.train import train

SWEEP_FILE = "sweep.json"
PLOT_FILE = "sweep.png"
COLUMNS = ("NDCG@10", "HR@10", "coverage@10", "effective_rank", "long_tail@10")
DEFAULT_ALPHAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)  # the authors' scale (--bt-form authors)
SPECTRUM_PLOT_FILE = "spectrum.png"
CURVES_PLOT_FILE = "curves.png"
# Settings that only shape the BT term: an α = 0 (SASRec) run is the same run whatever they are.
BT_ONLY = ("lambd", "lambda_on", "bt_form", "twins", "no_twin")


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
    ignored = ("output",) if wanted["alpha"] > 0 else ("output", *BT_ONLY)
    # A setting added to TrainConfig after a run was made, asked at its default, is what that
    # run did: the run still counts.
    defaults = {field.name: field.default for field in dataclasses.fields(TrainConfig)}
    done.update({key: wanted[key] for key in wanted.keys() - done.keys()
                 if key in defaults and wanted[key] == defaults[key]})
    for key in ignored:
        wanted.pop(key)
        done.pop(key, None)
    return results if done == wanted else None


def sweep(config: TrainConfig, alphas: Sequence[float], *, overwrite: bool = False,
          verbose="auto") -> dict:
    """Trains one run per α (``config``'s model and alpha are replaced) and tabulates them.

    A finished run of the same settings is reused unless ``overwrite`` (which retrains it).

    Returns the table written to ``config.output/sweep.json``:
    ``{"protocol", "seed", "data", "rows": [{"alpha", "valid": {...}, "test": {...},
    "epochs_run", "best_epoch", "wall_time_s", "validation_curve", "run"}, ...]}``.
    """
    if config.strategy == "multi-worker":
        raise ValueError("sweep-alpha runs in one process; for several hosts, run `tfbt train "
                         "--strategy multi-worker` once per alpha")
    alphas = [float(a) for a in alphas]
    if not alphas or min(alphas) < 0 or len(set(alphas)) != len(alphas):
        raise ValueError(f"alphas must be distinct values >= 0; got {alphas}")
    output = Path(config.output)
    kinds.claim(output, "sweep-alpha")
    output.mkdir(parents=True, exist_ok=True)
    kinds.mark(output, "sweep-alpha")
    rows = []
    for alpha in sorted(alphas):
        run = dataclasses.replace(config, model="sasrec" if alpha == 0 else "btsr", alpha=alpha,
                                  output=str(run_folder(output, alpha)))
        results = None if overwrite else finished_run(run)
        if results is None:
            print(f"sweep-alpha: alpha={alpha:g} -> {run.output}", flush=True)
            results = train(run, overwrite=overwrite, verbose=verbose)
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
            "validation_curve": results["validation_curve"],
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
    sweep_title(figure, table["protocol"])
    figure.tight_layout()
    save_figure(figure, path)


def seed_folder(output: str | Path, seed: int) -> Path:
    return Path(output) / f"seed_{seed}"


def sweep_seeds(config: TrainConfig, alphas: Sequence[float], *, seeds: Sequence[int],
                verbose="auto", **sweep_options) -> dict:
    """``sweep`` once per seed (in ``OUTPUT/seed_<s>/``), then mean ± std over the seeds.

    Returns the table written to ``config.output/sweep.json``: ``{"protocol", "seeds",
    "data", "rows": [{"alpha", "valid": {metric: {"mean", "std", "values"}}, "test": {...},
    "spectrum": {"mean", "std"} (singular values of the test users' embeddings, each run's
    divided by its largest), "curves": validation NDCG@10 and coverage@10 per epoch
    (``tfbt.runs.curves``), "runs": [...]}, ...]}``; ``std`` is the sample std (0 for one
    seed). ``OUTPUT/curves.png`` plots the curves. Finished runs are reused, as in ``sweep``.
    """
    from tfbt.runs.spectrum import run_spectrum

    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers; got {seeds}")
    output = Path(config.output)
    tables = [sweep(dataclasses.replace(config, seed=seed, output=str(seed_folder(output, seed))),
                    alphas, verbose=verbose, **sweep_options) for seed in seeds]
    rows = []
    for per_seed in zip(*(table["rows"] for table in tables)):
        spectra = []
        for row in per_seed:
            values = np.asarray(run_spectrum(Path(row["run"]).parent))
            spectra.append(values / values[0])
        rows.append({
            "alpha": per_seed[0]["alpha"],
            **{split: {name: _mean_std([row[split][name] for row in per_seed])
                       for name in COLUMNS if per_seed[0][split].get(name) is not None}
               for split in ("valid", "test")},
            "spectrum": {"mean": np.mean(spectra, axis=0).tolist(),
                         "std": sample_std(spectra).tolist()},
            "epochs_run": [row["epochs_run"] for row in per_seed],
            "curves": validation_curves(per_seed),
            "runs": [row["run"] for row in per_seed],
        })
    table = {"protocol": tables[0]["protocol"], "seeds": seeds, "data": str(config.data),
             "rows": rows}
    layout.write_json(output / SWEEP_FILE, table)
    plot_seeds(table, output / PLOT_FILE, output / SPECTRUM_PLOT_FILE)
    plot_curves(rows, output / CURVES_PLOT_FILE, table["protocol"])
    return table


def _mean_std(values) -> dict:
    values = [float(v) for v in values]
    return {"mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, "values": values}


def plot_seeds(table: dict, path: Path, spectrum_path: Path, split: str = "test") -> None:
    """``path``: NDCG@10 vs coverage@10 (mean ± std, labelled by α) and effective rank vs α;
    ``spectrum_path``: the normalised singular values per α (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table["rows"]
    alphas = [row["alpha"] for row in rows]
    seeds = len(table["seeds"])

    def stat(name, key):
        return [row[split][name][key] for row in rows]

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.errorbar(stat("coverage@10", "mean"), stat("NDCG@10", "mean"),
                  xerr=stat("coverage@10", "std"), yerr=stat("NDCG@10", "std"), fmt="o-",
                  capsize=3)
    for alpha, x, y in zip(alphas, stat("coverage@10", "mean"), stat("NDCG@10", "mean")):
        left.annotate(f"α={alpha:g}", (x, y), textcoords="offset points", xytext=(5, 5))
    left.set_xlabel(f"coverage@10 ({split})")
    left.set_ylabel(f"NDCG@10 ({split})")
    left.set_title(f"accuracy vs diversity (mean ± std, {seeds} seeds)")
    right.errorbar(alphas, stat("effective_rank", "mean"), yerr=stat("effective_rank", "std"),
                   fmt="o-", capsize=3)
    right.set_xlabel("α")
    right.set_ylabel("effective rank of user embeddings")
    right.set_title("spectrum flatness")
    sweep_title(figure, table["protocol"])
    figure.tight_layout()
    save_figure(figure, path)

    figure, axis = plt.subplots(figsize=(5, 4))
    for row in rows:
        mean = np.asarray(row["spectrum"]["mean"])
        axis.plot(np.arange(1, mean.size + 1), mean, label=f"α={row['alpha']:g}")
    axis.set_yscale("log")
    axis.set_xlabel("index")
    axis.set_ylabel("singular value / largest")
    axis.set_title(f"user-embedding spectrum ({split} users, mean of {seeds} seeds)")
    axis.legend()
    figure.tight_layout()
    save_figure(figure, spectrum_path)
