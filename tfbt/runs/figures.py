"""Writing the sweep's figures: a wrapped protocol title and an atomic PNG write."""

from __future__ import annotations

import textwrap
from pathlib import Path


def sweep_title(figure, protocol: str) -> None:
    """The protocol as the figure title, wrapped (it is a sentence, longer than the figure)."""
    figure.suptitle(textwrap.fill(f"BT-SR α sweep: {protocol}", 110), fontsize=9)


def save_figure(figure, path: Path) -> None:
    """Writes ``figure`` to ``path`` through a temporary file (no half-written PNG), closes it."""
    import matplotlib.pyplot as plt

    tmp = path.with_name(path.name + ".tmp.png")
    figure.savefig(tmp, dpi=120)
    plt.close(figure)
    tmp.replace(path)
