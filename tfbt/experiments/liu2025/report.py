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
    split_mode,
    summarize,
    variants,
)


def _cell(entries):
    if not entries:
        return "–"
    entry = entries[0]
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def write_report(output: Path, cells: list[dict], config: ExperimentConfig,
                 stages: dict | None = None) -> None:
    """``results.md`` (one table per section, then where the time went) and one PNG per
    section. ``stages``: seconds per encoder stage (``Results.stages``)."""
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
            label = "–" if fraction is None else f"{fraction * 100:g}%"
            lines.append(f"| {task} / {metric} | {label} | " + " | ".join(values) + " |")
        lines.append("")
        if section == "main":
            lines += _comparisons(rows, [s for s in summary if s["section"] == "reference"])
        if section != "reference":
            references = [s for s in summary if s["section"] == "reference"]
            _plot(output / f"{section}.png", rows, columns, names, title, references)
    lines += _timing(cells, stages or {})
    tmp = output / "results.md.tmp"
    tmp.write_text("\n".join(lines))
    os.replace(tmp, output / "results.md")


def _comparisons(main, references) -> list[str]:
    """The main grid's questions on each task's primary metric, per label fraction: every
    column against the trivial baseline, frozen vs fine-tuned (per next-item head), and BT
    frozen vs dual encoder frozen. "within noise" = the difference is at most the larger of the
    two seed standard deviations."""
    def entry(task, mode, fraction):
        found = [s for s in main if (s["task"], s["metric"], s["mode"], s["fraction"]) ==
                 (task, _primary(task), mode, fraction)]
        return found[0] if found else None

    keys = sorted({(s["task"], s["fraction"]) for s in main},
                  key=lambda k: (_task_order(k[0]), k[1]))
    modes = sorted({s["mode"] for s in main}, key=lambda m: _column_order(None, "main",
                                                                          ("main", m)))
    against = []
    for task, fraction in keys:
        base = [r for r in references if (r["task"], r["metric"]) == (task, _primary(task))
                and r["mode"] in ("majority", "most_popular")]
        if not base:
            continue
        cells = []
        for mode in modes:
            got = entry(task, mode, fraction)
            delta = None if got is None else got["mean"] - base[0]["mean"]
            cells.append("–" if delta is None else f"{delta:+.3f}" + (
                " ▼" if delta < -max(got["std"], base[0]["std"]) else ""))
        against.append(f"| {task} / {_primary(task)} | {fraction * 100:g}% | "
                       f"{base[0]['mode']} {base[0]['mean']:.3f} | " + " | ".join(cells) + " |")
    frozen_vs_tuned, bt_vs_de = [], []
    for task, fraction in keys:
        for head in ("", "/item-embeddings"):
            frozen, tuned, de = (entry(task, f"{m}{head}", fraction)
                                 for m in ("bt_frozen", "bt_finetuned", "dual_encoder_frozen"))
            row = f"| {task} / {_primary(task)} | {fraction * 100:g}% | {head[1:] or 'dense'} | "
            if frozen and tuned:
                frozen_vs_tuned.append(row + f"{_cell([frozen])} | {_cell([tuned])} | "
                                       f"{_winner(frozen, tuned, 'frozen', 'fine-tuned')} |")
            if frozen and de:
                gain = (f"{(frozen['mean'] - de['mean']) / de['mean']:+.0%}" if de["mean"]
                        else "–")
                bt_vs_de.append(row + f"{_cell([frozen])} | {_cell([de])} | "
                                f"{gain} ({_winner(frozen, de, 'BT', 'dual encoder')}) |")
    return (_table("Against the trivial baseline (primary metric, mean difference; ▼ = below "
                   "by more than the seed std)",
                   ["task / metric", "fraction", "baseline", *modes], against)
            + _table("Frozen vs fine-tuned (LP-FT), per label fraction",
                     ["task / metric", "fraction", "head", "frozen", "fine-tuned", "winner"],
                     frozen_vs_tuned)
            + _table("BT frozen vs dual encoder frozen (relative gain of BT)",
                     ["task / metric", "fraction", "head", "BT frozen", "dual encoder frozen",
                      "gain"], bt_vs_de))


def _table(title, header, rows) -> list[str]:
    """A ``###`` section with a Markdown table, or nothing when it has no rows (e.g. the
    dual-encoder comparison of a grid without that mode)."""
    if not rows:
        return []
    return [f"### {title}", "", "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header), *rows, ""]


def _timing(cells, stages) -> list[str]:
    """Seconds per encoder stage and per column (the sum over its cells), largest first."""
    per_cell = {}
    for cell in cells:
        if "seconds" in cell and cell["section"] != "reference":
            key = (cell["section"], cell["variant"], cell["task"], cell["mode"],
                   cell["fraction"], cell["seed"])
            per_cell[key] = cell["seconds"]
    per_mode = {}
    for key, seconds in per_cell.items():
        per_mode[key[3]] = per_mode.get(key[3], 0.0) + seconds
    rows = [(f"stage: {name}", seconds, 1) for name, seconds in stages.items()]
    rows += [(f"cells: {mode}", seconds, sum(k[3] == mode for k in per_cell))
             for mode, seconds in per_mode.items()]
    if not rows:
        return []
    total = sum(seconds for _, seconds, _ in rows)
    lines = ["## Where the time goes", "",
             "Wall-clock seconds (a stage loaded from a cache shows the loading time).", "",
             "| what | runs | seconds | share |", "|---|---|---|---|"]
    for name, seconds, runs in sorted(rows, key=lambda row: -row[1]):
        lines.append(f"| {name} | {runs} | {seconds:.0f} | {seconds / total:.0%} |")
    return lines + [f"| total | | {total:.0f} | |", ""]


def _winner(first, second, first_name, second_name):
    difference = second["mean"] - first["mean"]
    if abs(difference) <= max(first["std"], second["std"]):
        return "within noise"
    return second_name if difference > 0 else first_name


def _primary(task):
    return "recall@10" if task == downstream.NEXT_ITEM else "accuracy"


def _task_order(task):
    return TASKS.index(task) if task in TASKS else len(TASKS)


def _column_order(config, section, column):
    variant, mode = column
    base, head = split_mode(mode)
    mode_rank = (MODES.index(base) if base in MODES else len(MODES), head)
    names = [v.name for v in variants(config) if v.section == section] if config else []
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
        metric = _primary(task)
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
