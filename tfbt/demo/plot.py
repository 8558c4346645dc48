"""The figure of ``tfbt demo``: what each stage of the demo showed, in one PNG."""

from __future__ import annotations

from pathlib import Path

PLOT_FILE = "demo.png"


def plot_summary(summary: dict, path: Path) -> None:
    """One PNG of the demo: pretraining loss, probe accuracies, validation curves, test table.

    ``summary``: the content of the demo's ``summary.json`` (so a saved summary can be re-plotted).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    label = {"most_popular": "most popular", "sasrec": "SASRec",
             "btsr": f"BT-SR (α={summary['training']['btsr']['alpha']:g})"}
    figure, ((loss_ax, probe_ax), (curve_ax, table_ax)) = plt.subplots(2, 2, figsize=(12, 8))
    loss = summary["pretraining"]["loss"]
    loss_ax.plot(range(1, len(loss) + 1), loss, "o-")
    loss_ax.set(title="Barlow Twins pretraining (no labels)", xlabel="epoch", ylabel="loss")
    probe = summary["favorite_genre_probe_accuracy"]
    bars = probe_ax.bar(["BT pretrained", "random init"],
                        [probe["bt_pretrained"], probe["random_init"]], color=["C0", "C7"])
    probe_ax.bar_label(bars, fmt="%.3f")
    probe_ax.axhline(probe["chance"], color="k", linestyle=":", label="chance")
    probe_ax.set(title="linear probe of the favourite genre (frozen encoder)",
                 ylabel="test accuracy")
    probe_ax.legend()
    for name, run in summary["training"].items():
        curve = run["validation_NDCG@10"]
        curve_ax.plot(range(1, len(curve) + 1), curve, "o-", label=label[name],
                      color=f"C{list(label).index(name)}")
    curve_ax.axhline(summary["evaluation"]["most_popular_valid_NDCG@10"], color="C0",
                     linestyle=":", label=label["most_popular"])
    curve_ax.set(title="next-item training: validation NDCG@10", xlabel="epoch",
                 ylabel="NDCG@10")
    curve_ax.legend()
    for axis in (loss_ax, curve_ax):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    rows = summary["evaluation"]["rows"]
    metrics, width = ("NDCG@10", "HR@10", "coverage@10"), 0.8 / len(rows)
    for i, (name, row) in enumerate(rows.items()):
        bars = table_ax.bar([m + (i - (len(rows) - 1) / 2) * width for m in range(len(metrics))],
                            [row[m] for m in metrics], width, label=label[name])
        table_ax.bar_label(bars, fmt="%.3f", fontsize=7)
    table_ax.set_xticks(range(len(metrics)), metrics)
    table_ax.set(title="test split: full ranking, seen items removed")
    table_ax.legend()
    figure.suptitle(f"tfbt demo ({summary['size']}: {summary['dataset']['users']} users, "
                    f"{summary['dataset']['items']} items, seed {summary['seed']})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
