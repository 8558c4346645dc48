"""Singular-value spectrum of a trained run's user embeddings (BT-SR's "flatter spectrum").

Barlow Twins decorrelates the representation dimensions, which should spread the user
embeddings' variance over more directions: a flatter spectrum, a higher effective rank
(``tfbt.evaluation.metrics.effective_rank`` is a one-number summary of the same spectrum).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfbt import data
from tfbt.runs import layout

SPECTRUM_FILE = "spectrum.json"


def user_embeddings(run_dir: str | Path, split: str = "test") -> np.ndarray:
    """``[num_users, D]``: the last-position representations of ``split``'s users (their
    evaluation histories), from the run's ``model.keras`` and ``config.json``."""
    from tfbt.runs.train import (  # tfbt.runs.train imports Keras
        TrainConfig,
        evaluation_dataset,
    )

    config = TrainConfig(**layout.read_json(Path(run_dir) / layout.CONFIG_FILE))
    model, _ = layout.load_trained_model(run_dir)
    metadata = data.load_metadata(config.data)
    return np.concatenate([model.user_embeddings(batch["items"]).numpy()
                           for batch in evaluation_dataset(config, metadata, split)])


def run_spectrum(run_dir: str | Path, split: str = "test") -> list[float]:
    """The singular values (descending) of ``user_embeddings(run_dir, split)``, computed once
    and kept in the run folder's ``spectrum.json``."""
    path = Path(run_dir) / SPECTRUM_FILE
    stored = layout.read_json(path)
    if stored and stored.get("split") == split:
        return stored["singular_values"]
    values = np.linalg.svd(user_embeddings(run_dir, split).astype(np.float64), compute_uv=False)
    layout.write_json(path, {"split": split, "singular_values": values.tolist()})
    return values.tolist()
