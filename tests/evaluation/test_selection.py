"""The model-selection rules: today's best-NDCG rule, the coverage-aware band, stopping and the
checkpoints each rule still needs."""

import numpy as np
import pytest

from tfbt.evaluation import selection
from tfbt.evaluation.selection import Evaluation, Rule, Selector, simulate


def curve(points, users=400, seed=0):
    """Validations with the given (NDCG@10, coverage@10) means; per-user gains drawn around
    them with a shared per-user part, so neighbouring epochs are strongly paired."""
    rng = np.random.default_rng(seed)
    base = rng.random(users)
    out = []
    for epoch, (ndcg, coverage) in enumerate(points, start=1):
        gains = base + 0.05 * rng.standard_normal(users)
        gains = gains - gains.mean() + ndcg
        out.append(Evaluation(epoch, {"NDCG@10": float(gains.mean()), "coverage@10": coverage,
                                      "long_tail@10": coverage / 2}, gains))
    return out


# NDCG peaks at epoch 3, then a plateau where coverage keeps rising, then a drop.
PLATEAU = [(0.05, 0.10), (0.09, 0.20), (0.100, 0.25), (0.099, 0.30), (0.0995, 0.35),
           (0.098, 0.40), (0.080, 0.50), (0.079, 0.52), (0.078, 0.53), (0.077, 0.54)]


def test_ndcg_rule_is_todays_early_stopping():
    outcome = simulate(curve(PLATEAU), Rule("ndcg", patience=2))
    assert (outcome.chosen, outcome.best, outcome.stopped) == (3, 3, 5)
    assert outcome.stopped_early


def test_coverage_rule_picks_the_most_covering_epoch_inside_the_band_and_keeps_going():
    outcome = simulate(curve(PLATEAU), Rule("coverage", tolerance=0.05, patience=2))
    # Epochs 3-6 are within 5% of the best (0.100); epoch 6 covers most. Patience restarts at
    # every new chosen epoch, so the run goes on until epoch 8 (two validations after 6).
    assert (outcome.chosen, outcome.best, outcome.stopped) == (6, 3, 8)
    # long-tail share: the same order here.
    assert simulate(curve(PLATEAU), Rule("long-tail", tolerance=0.05, patience=2)).chosen == 6


def test_se_band_is_paired_and_scales_with_se():
    evaluations = curve(PLATEAU)
    # The shared per-user part makes the paired SE small (about 0.0025 here): the 0.002 drop
    # of epoch 6 is within one SE; the 0.02 drop of epoch 7 is not.
    se = selection.paired_se(evaluations[2].gains, evaluations[5].gains)
    assert 0.001 < se < 0.004
    assert simulate(evaluations, Rule("coverage", se=1.0, patience=3)).chosen == 6
    assert simulate(evaluations, Rule("coverage", se=0.0, patience=3)).chosen == 3


def test_keeps_only_the_checkpoints_the_rule_can_still_choose():
    selector = Selector(Rule("coverage", tolerance=0.05, patience=10))
    kept = set()
    for evaluation in curve(PLATEAU):
        step = selector.add(evaluation)
        kept = (kept | {evaluation.epoch}) & step.keep
        kept -= step.drop
        assert step.chosen in step.keep and step.best in step.keep
    # The best (3) and the in-band epochs not beaten on both NDCG and coverage: 5 beats 4, 6
    # is the most covering; 1, 2 and 7-10 are out of the band.
    assert kept == {3, 5, 6}
    assert Selector(Rule("ndcg")).add(curve(PLATEAU)[0]).keep == {1}
    every = Selector(Rule("coverage", tolerance=0.05, keep="all"))
    assert [every.add(e).keep for e in curve(PLATEAU)[:2]][-1] == {1, 2}


def test_user_gains_average_to_the_metric():
    ranks = np.array([1, 3, 10, 11, 500])
    assert selection.user_gains(ranks, "NDCG@10").mean() == pytest.approx(
        np.mean([1, 1 / np.log2(4), 1 / np.log2(11), 0, 0]))
    assert selection.user_gains(ranks, "HR@10").tolist() == [1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match="NDCG@k, HR@k or MRR"):
        Rule(monitor="coverage@10")


@pytest.mark.parametrize("kwargs", [dict(selection="diverse"), dict(tolerance=1.5),
                                    dict(se=-1.0), dict(patience=0), dict(keep="some")])
def test_bad_rules_are_refused(kwargs):
    with pytest.raises(ValueError):
        Rule(**kwargs)


def test_pareto_front():
    points = [(0.10, 0.2), (0.09, 0.3), (0.095, 0.25), (0.08, 0.3), (0.10, 0.1)]
    assert selection.pareto_front(points) == [0, 2, 1]
