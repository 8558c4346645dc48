"""`tfbt train --selection`: the coverage-aware rule in a real run, its checkpoints and record."""

import json

import numpy as np
import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.evaluation import selection
from tfbt.runs import commands, layout, train

SMALL = dict(max_len=8, hidden_dim=16, num_blocks=1, batch_size=64, eval_batch_size=256,
             length_chunks=1, eval_every=1)


@pytest.fixture(scope="module")
def tiny(synthetic_data):
    return synthetic_data(200, 60, 12)


def replay(run, rule):
    """The rule replayed on a finished run's stored validations."""
    state = json.loads((run / layout.VALIDATION_FILE).read_text())
    return selection.simulate([selection.Evaluation(
        e["epoch"], e, selection.user_gains(
            np.load(run / layout.VALIDATION_RANKS_DIR / f"epoch_{e['epoch']}.npy"), rule.monitor))
        for e in state["evaluations"]], rule)


def test_coverage_selection_keeps_its_candidates_and_records_the_rule(tiny, tmp_path):
    run = tmp_path / "run"
    config = train.TrainConfig(data=str(tiny), output=str(run), epochs=6, patience=6,
                               selection="coverage", selection_tolerance=0.5, **SMALL)
    results = train.train(config, verbose=0)
    rule = config.resolved().selection_rule()
    assert results["selection"]["selection"] == "coverage"
    assert results["selection"]["band"].startswith("NDCG@10 >= (1 - 0.5)")
    outcome = replay(run, rule)
    assert results["best_epoch"] == results["selection"]["chosen_epoch"] == outcome.chosen
    assert results["selection"]["best_monitor_epoch"] == outcome.best
    curve = {e["epoch"]: e for e in results["validation_curve"]}
    # The chosen epoch is the most covering one within 50% of the best NDCG@10.
    best = curve[outcome.best]["NDCG@10"]
    band = [e for e in curve.values() if e["NDCG@10"] >= 0.5 * best]
    assert curve[outcome.chosen]["coverage@10"] == max(e["coverage@10"] for e in band)
    assert "long_tail@10" in curve[1]
    # The evaluated model is the chosen epoch's: its validation matches that epoch's.
    assert results["valid"]["NDCG@10"] == pytest.approx(curve[outcome.chosen]["NDCG@10"])
    kept = {int(p.name.split("_")[1].split(".")[0])
            for p in (run / layout.CHECKPOINTS_DIR).iterdir()}
    assert outcome.chosen in kept and outcome.best in kept
    assert len(kept) < 6 or len(band) == 6


def test_keep_all_keeps_every_validation_and_ndcg_rule_only_the_best(tiny, tmp_path):
    every = train.train(train.TrainConfig(
        data=str(tiny), output=str(tmp_path / "all"), epochs=3, keep_checkpoints="all",
        **SMALL), verbose=0)
    assert len(list((tmp_path / "all" / layout.CHECKPOINTS_DIR).iterdir())) == 3
    assert every["selection"]["selection"] == "ndcg"
    train.train(train.TrainConfig(data=str(tiny), output=str(tmp_path / "best"), epochs=3,
                                  **SMALL), verbose=0)
    assert len(list((tmp_path / "best" / layout.CHECKPOINTS_DIR).iterdir())) == 1


def test_selection_flags_map_onto_the_config(tiny, tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    commands.add_train_arguments(parser)
    args = parser.parse_args(["--data", str(tiny), "--output", str(tmp_path / "r"),
                              "--selection", "long-tail", "--selection-se", "2",
                              "--keep-checkpoints", "all"])
    config = commands.config_from_args(args)
    assert (config.selection, config.selection_se, config.keep_checkpoints) == (
        "long-tail", 2.0, "all")
    with pytest.raises(SystemExit):
        parser.parse_args(["--data", "d", "--output", "o", "--selection-tolerance", "1.5"])
    assert "[0, 1)" in capsys.readouterr().err
    args = parser.parse_args(["--data", str(tiny), "--output", str(tmp_path / "r"),
                              "--selection", "diverse"])
    assert commands.run_train(args) == 2
    assert "selection must be one of ('ndcg', 'coverage', 'long-tail')" in (
        capsys.readouterr().err)
