"""Validation curves of an α sweep (``tfbt.runs.curves``) from finished runs' results."""

import numpy as np
import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.runs import curves


def fake_run(name, ndcg, coverage, best_epoch, every=1):
    """A sweep row of a finished run: its results.json's validation curve and best epoch."""
    curve = [{"epoch": every * (i + 1), "NDCG@10": n, "coverage@10": c, "HR@10": 2 * n}
             for i, (n, c) in enumerate(zip(ndcg, coverage))]
    return {"run": f"{name}/results.json", "validation_curve": curve, "best_epoch": best_epoch}


def test_curves_average_the_epochs_every_run_validated(tmp_path):
    runs = [fake_run("a", [0.1, 0.2, 0.3], [0.5, 0.6, 0.7], best_epoch=3),
            fake_run("b", [0.3, 0.4], [0.1, 0.2], best_epoch=2)]
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


def test_a_run_without_validation_history_is_named():
    with pytest.raises(ValueError, match="unfinished.*no validation history"):
        curves.validation_curves([fake_run("unfinished", [], [], best_epoch=0)])


def test_sample_std_is_zero_for_one_run():
    np.testing.assert_allclose(curves.sample_std([[1.0, 2.0], [3.0, 6.0]]),
                               [np.std([1, 3], ddof=1), np.std([2, 6], ddof=1)])
    np.testing.assert_array_equal(curves.sample_std([[1.0, 2.0]]), [0.0, 0.0])
