"""Validation curves of an α sweep (``tfbt.runs.curves``) from runs' validation.json."""

import json

import numpy as np
import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.runs import curves, layout


def fake_run(folder, ndcg, coverage, best_epoch, every=1):
    folder.mkdir(parents=True)
    evaluations = [{"epoch": every * (i + 1), "NDCG@10": n, "coverage@10": c, "HR@10": 2 * n}
                   for i, (n, c) in enumerate(zip(ndcg, coverage))]
    (folder / layout.VALIDATION_FILE).write_text(json.dumps(
        {"evaluations": evaluations, "best_epoch": best_epoch, "best": max(ndcg),
         "epochs": len(ndcg) * every, "wait": 0}))
    return folder


def test_curves_average_the_epochs_every_run_validated(tmp_path):
    runs = [fake_run(tmp_path / "a", [0.1, 0.2, 0.3], [0.5, 0.6, 0.7], best_epoch=3),
            fake_run(tmp_path / "b", [0.3, 0.4], [0.1, 0.2], best_epoch=2)]
    table = curves.validation_curves(runs)
    assert table["epoch"] == [1, 2] and table["best_epoch"] == [3, 2]
    np.testing.assert_allclose(table["NDCG@10"]["mean"], [0.2, 0.3])
    np.testing.assert_allclose(table["coverage@10"]["mean"], [0.3, 0.4])
    np.testing.assert_allclose(table["coverage@10"]["std"], [np.std([0.5, 0.1], ddof=1)] * 2)
    single = curves.validation_curves(runs[:1])
    assert single["epoch"] == [1, 2, 3] and single["NDCG@10"]["std"] == [0.0] * 3

    plot = tmp_path / "curves.png"
    curves.plot_curves([{"alpha": 0.0, "curves": table}, {"alpha": 0.2, "curves": single}],
                       plot, "protocol")
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*.tmp.png"))


def test_a_run_without_validation_history_is_named(tmp_path):
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(FileNotFoundError, match="unfinished.*validation.json"):
        curves.validation_curves([tmp_path / "unfinished"])
