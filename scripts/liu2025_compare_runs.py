"""Side by side: the primary metric of several `tfbt experiment liu2025` runs of the same grid
(e.g. one setting changed), with how often the untrained start was kept.

Usage: python scripts/liu2025_compare_runs.py LABEL=RESULTS_DIR [LABEL=RESULTS_DIR ...]
Prints a Markdown table: per task, label fraction and mode, mean ± std over seeds of each run
(accuracy, or Recall@10 for next item), and per run "kept" = cells (of all seeds) where no
trained candidate beat the untrained start on validation users (needs results.json written by
a tfbt that records ``kept_start``; "?" otherwise).
"""
import json
import sys
from pathlib import Path


def _metric(task):
    return "recall@10" if task == "next_item" else "accuracy"


def _load(path):
    results = json.loads((Path(path) / "results.json").read_text())
    means, kept = {}, {}
    for row in results["summary"]:
        if row["section"] == "main" and row["metric"] == _metric(row["task"]):
            means[row["task"], row["fraction"], row["mode"]] = row
    for cell in results["cells"]:
        key = cell["task"], cell["fraction"], cell["mode"]
        if key in means and cell["metric"] == means[key]["metric"]:
            kept.setdefault(key, []).append(cell.get("kept_start"))
    return means, kept


def _kept(flags):
    return "?" if not flags or None in flags else f"{sum(flags)}/{len(flags)}"


def main(arguments):
    if not arguments or any("=" not in a for a in arguments):
        sys.exit(__doc__)
    runs = [(label, *_load(path)) for label, path in (a.split("=", 1) for a in arguments)]
    keys = sorted(runs[0][1])  # (task, fraction, mode)
    print("| task / metric | fraction | mode | " + " | ".join(
        f"{label} | kept" for label, *_ in runs) + " |")
    print("|---|---|---|" + "---|---|" * len(runs))
    for key in keys:
        cells = []
        for _, means, kept in runs:
            row = means.get(key)
            cells.append("–" if row is None else f"{row['mean']:.3f} ± {row['std']:.3f}")
            cells.append(_kept(kept.get(key)))
        task, fraction, mode = key
        print(f"| {task} / {_metric(task)} | {fraction * 100:g}% | {mode} | "
              + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
