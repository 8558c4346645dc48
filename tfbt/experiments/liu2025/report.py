"""The report of ``tfbt experiment liu2025``: ``results.md`` and one PNG per section.

Built from the cells in ``results.json`` (``config.summarize``: mean ± sample std over seeds),
in the shape of the paper's tables: one table per section (the main grid, each ablation, the
references that use no downstream labels), a row per task, metric and label fraction, a column
per transfer mode (or ablation value); the plots show each task's primary metric against the
label fraction.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfbt import downstream
from tfbt.experiments.liu2025.config import (
    ABLATIONS,
    MODES,
    TASKS,
    ExperimentConfig,
    summarize,
    variants,
)


def _cell(entries):
    if not entries:
        return "–"
    entry = entries[0]
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def write_report(output: Path, cells: list[dict], config: ExperimentConfig) -> None:
    """``results.md`` (one table per section) and one PNG per section."""
    summary = summarize(cells)
    seeds = sorted({c["seed"] for c in cells})
    lines = [f"# Liu et al. (2025) transfer experiment on `{config.data}`", "",
             f"Mean ± sample std over seeds {seeds}. Test users only; hyper-parameters chosen "
             f"on validation users. Next-item: Recall@K by full ranking over all items with "
             f"the user's history removed. Fractions: share of the training pool's users whose "
             f"labels the head sees.", ""]
    for section in ("main", *ABLATIONS, "reference"):
        rows = [s for s in summary if s["section"] == section]
        if not rows:
            continue
        columns = sorted({(s["variant"], s["mode"]) for s in rows},
                         key=lambda c: _column_order(config, section, c))
        names = [mode if section in ("main", "reference") else
                 (variant if len({m for _, m in columns}) == 1 else f"{variant} ({mode})")
                 for variant, mode in columns]
        title = {"main": "Main grid", "reference": "References (no downstream labels)"}.get(
            section, f"Ablation: {section} (BT pretraining; other settings as the main grid)")
        lines += [f"## {title}", "", "| task / metric | fraction | " + " | ".join(names) + " |",
                  "|---|---|" + "---|" * len(names)]
        for task, metric, fraction in sorted({(s["task"], s["metric"], s["fraction"])
                                              for s in rows},
                                             key=lambda k: (_task_order(k[0]), k[1],
                                                            k[2] or 0)):
            values = [_cell([s for s in rows if (s["task"], s["metric"], s["fraction"],
                                                 s["variant"], s["mode"]) ==
                             (task, metric, fraction, v, m)]) for v, m in columns]
            label = "–" if fraction is None else f"{fraction:.0%}"
            lines.append(f"| {task} / {metric} | {label} | " + " | ".join(values) + " |")
        lines.append("")
        if section != "reference":
            references = [s for s in summary if s["section"] == "reference"]
            _plot(output / f"{section}.png", rows, columns, names, title, references)
    tmp = output / "results.md.tmp"
    tmp.write_text("\n".join(lines))
    os.replace(tmp, output / "results.md")


def _task_order(task):
    return TASKS.index(task) if task in TASKS else len(TASKS)


def _column_order(config, section, column):
    variant, mode = column
    mode_rank = MODES.index(mode) if mode in MODES else len(MODES)
    names = [v.name for v in variants(config) if v.section == section]
    return (names.index(variant) if variant in names else len(names), mode_rank, mode)


def _plot(path: Path, rows, columns, names, title, references):
    """One panel per task (its primary metric vs label fraction), one line per column; the
    reference rows of that task as dashed horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({s["task"] for s in rows}, key=_task_order)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        metric = "recall@10" if task == downstream.NEXT_ITEM else "accuracy"
        for (variant, mode), name in zip(columns, names):
            points = sorted((s["fraction"], s["mean"], s["std"]) for s in rows
                            if (s["task"], s["metric"], s["variant"], s["mode"]) ==
                            (task, metric, variant, mode))
            if points:
                x, y, err = zip(*points)
                ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
        for line, entry in zip(("--", ":", "-."), [r for r in references
                                                    if (r["task"], r["metric"]) == (task, metric)]):
            ax.axhline(entry["mean"], color="grey", linestyle=line, label=entry["mode"])
        ax.set_xscale("log")
        ax.set_xlabel("label fraction")
        ax.set_ylabel(metric)
        ax.set_title(task)
        ax.grid(alpha=0.3)
    for ax in axes[0]:
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
