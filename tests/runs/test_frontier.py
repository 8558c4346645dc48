"""`tfbt frontier`: levers, fronts and validation-chosen operating points on tiny runs."""

import argparse
import dataclasses
import json

import numpy as np
import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.runs import frontier, train

SMALL = dict(max_len=8, hidden_dim=16, num_blocks=1, batch_size=64, eval_batch_size=256,
             length_chunks=1, eval_every=1, epochs=3, patience=2, keep_checkpoints="all")


def config(alpha, rule, beta, ndcg, coverage, long_tail=0.5):
    def split(n, c, t):
        return {"NDCG@10": {"mean": n, "std": 0.0}, "coverage@10": {"mean": c, "std": 0.0},
                "long_tail@10": {"mean": t, "std": 0.0}}
    return {"alpha": alpha, "rule": rule, "beta": beta, "epochs": [1],
            "valid": split(ndcg, coverage, long_tail),
            "test": split(ndcg * 0.9, coverage * 1.1, long_tail)}


CONFIGS = [config(0.0, "ndcg", 0.0, 0.100, 0.30), config(0.0, "ndcg", 0.5, 0.095, 0.45),
           config(0.0, "ndcg", 1.0, 0.080, 0.60), config(0.0, "coverage-1se", 0.0, 0.099, 0.40),
           config(0.0, "coverage-1se", 0.5, 0.0985, 0.55), config(0.2, "ndcg", 0.0, 0.101, 0.33),
           config(0.2, "coverage-1se", 0.5, 0.099, 0.62)]


def test_each_lever_moves_only_its_own_dimensions():
    members = {lever: {(c["alpha"], c["rule"], c["beta"]) for c in
                       frontier.lever_members(CONFIGS, lever)} for lever in frontier.LEVERS}
    assert members["beta"] == {(0.0, "ndcg", 0.0), (0.0, "ndcg", 0.5), (0.0, "ndcg", 1.0)}
    assert members["alpha"] == {(0.0, "ndcg", 0.0), (0.2, "ndcg", 0.0)}
    assert (0.2, "coverage-1se", 0.5) in members["alpha+selection+beta"]
    assert (0.2, "coverage-1se", 0.5) not in members["selection+beta"]


def test_operating_points_are_chosen_on_validation_with_test_ratios():
    summary = frontier.summarize(CONFIGS, shares=(0.98, 0.90))
    picks = {(lever, p["share"], p["maximised"]): p
             for lever, entry in summary["levers"].items() for p in entry["operating_points"]}
    # beta alone: 0.095 < 98% of 0.100, so at 98% only the baseline itself qualifies.
    assert picks[("beta", 0.98, "coverage@10")]["beta"] == 0.0
    assert picks[("beta", 0.90, "coverage@10")]["beta"] == 0.5
    combined = picks[("selection+beta", 0.98, "coverage@10")]
    assert (combined["rule"], combined["beta"]) == ("coverage-1se", 0.5)
    assert combined["test_ratio"]["coverage@10"] == pytest.approx(0.55 / 0.30)
    assert picks[("alpha+selection+beta", 0.98, "coverage@10")]["alpha"] == 0.2
    # The front drops dominated points: (0.095, 0.45) is beaten by (0.0985, 0.55).
    fronts = summary["levers"]["selection+beta"]["fronts"]["coverage@10"]
    assert {(f["rule"], f["beta"]) for f in fronts} == {
        ("ndcg", 0.0), ("coverage-1se", 0.0), ("coverage-1se", 0.5), ("ndcg", 1.0)}


@pytest.mark.slow
def test_frontier_on_tiny_runs_writes_json_and_png(synthetic_data, tmp_path, capsys):
    tiny = synthetic_data(200, 60, 12)
    runs = []
    for alpha in (0.0, 0.5):
        run = tmp_path / f"alpha_{alpha:g}"
        train.train(train.TrainConfig(data=str(tiny), output=str(run),
                                      model="btsr" if alpha else "sasrec", alpha=alpha,
                                      **SMALL), verbose=0)
        runs.append(str(run))
    parser = argparse.ArgumentParser()
    frontier.add_arguments(parser)
    args = parser.parse_args(["--runs", *runs, "--output", str(tmp_path / "f"), "--betas",
                              "0.5", "--tolerances", "0.1"])
    assert frontier.run(args) == 0
    result = json.loads((tmp_path / "f" / frontier.FRONTIER_FILE).read_text())
    assert (tmp_path / "f" / frontier.PLOT_FILE).read_bytes()[:4] == b"\x89PNG"
    assert "| alpha+selection+beta | 98% |" in (tmp_path / "f" / frontier.TABLE_FILE).read_text()
    assert result["betas"] == [0.0, 0.5]
    assert set(result["rules"]) == {"ndcg", "coverage-1se", "long-tail-1se", "coverage-0.1"}
    # 2 alphas x 4 rules x 2 betas, each a mean over the one seed.
    assert len(result["configurations"]) == 16
    base = result["baseline"]
    sasrec = json.loads((tmp_path / "alpha_0" / "results.json").read_text())
    assert base["valid"]["NDCG@10"] == pytest.approx(
        {e["epoch"]: e for e in sasrec["validation_curve"]}[base["epochs"][0]]["NDCG@10"])
    for entry in result["levers"].values():
        for pick in entry["operating_points"]:
            assert pick["valid"]["NDCG@10"] >= pick["share"] * base["valid"]["NDCG@10"]
    assert "alpha+selection+beta" in capsys.readouterr().out
    args = parser.parse_args(["--runs", str(tmp_path / "nothing"), "--output",
                              str(tmp_path / "g")])
    assert frontier.run(args) == 2
    assert "not a `tfbt train` run folder" in capsys.readouterr().err


def fake_run(folder, alpha, seed, data):
    """A `tfbt train` folder as `--keep-checkpoints all` leaves it (epochs 1-3), with empty
    checkpoint files: enough for the rule replay; scoring is faked by the caller."""
    folder.mkdir(parents=True)
    cfg = train.TrainConfig(data=str(data), output=str(folder), alpha=alpha, seed=seed,
                            model="btsr" if alpha else "sasrec", **SMALL)
    (folder / "config.json").write_text(json.dumps(dataclasses.asdict(cfg)))
    (folder / "results.json").write_text("{}")
    evaluations = [{"epoch": e, "NDCG@10": 0.1 - 0.01 * (e == 3), "coverage@10": 0.1 * e,
                    "long_tail@10": 0.1 * e} for e in (1, 2, 3)]
    (folder / "validation.json").write_text(json.dumps({"evaluations": evaluations}))
    for sub in ("validation_ranks", "checkpoints"):
        (folder / sub).mkdir()
    for e in (1, 2, 3):
        np.save(folder / "validation_ranks" / f"epoch_{e}.npy", np.array([1, 2, 50, 3]))
        (folder / "checkpoints" / f"epoch_{e}.weights.h5").write_bytes(b"")
    return folder


def fake_score_run(calls, interrupt_at=None):
    def score_run(run, chosen, betas):
        calls.append(str(run))
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        points = {f"{c['epoch']}/{b:g}": {split: {"NDCG@10": 0.1 - 0.02 * b,
                                                  "coverage@10": 0.1 * c["epoch"] + b,
                                                  "long_tail@10": 0.5, "popularity@10": 0.8}
                                          for split in ("valid", "test")}
                  for c in chosen.values() for b in betas}
        alpha = 0.2 if "alpha_0.2" in str(run) else 0.0
        return {"run": str(run), "alpha": alpha, "seed": 0, "rules": chosen, "points": points}
    return score_run


def test_an_interrupted_frontier_resumes_and_a_finished_one_is_kept(tmp_path, monkeypatch,
                                                                      capsys):
    runs = [str(fake_run(tmp_path / f"alpha_{a:g}", a, 0, tmp_path / "data")) for a in (0, 0.2)]
    out = tmp_path / "f"
    calls = []
    monkeypatch.setattr(frontier, "score_run", fake_score_run(calls, interrupt_at=2))
    with pytest.raises(KeyboardInterrupt):
        frontier.frontier(runs, out, betas=[0.5])
    assert not (out / frontier.FRONTIER_FILE).exists()
    assert (out / "backup" / "run_0.json").is_file()
    # Other arguments do not resume it: the run it started is named, nothing is replaced.
    with pytest.raises(ValueError, match="betas"):
        frontier.frontier(runs, out, betas=[0.3])
    monkeypatch.setattr(frontier, "score_run", fake_score_run(calls))
    result = frontier.frontier(runs, out, betas=[0.5])
    assert calls == [runs[0], runs[1], runs[1]]  # run 0 was scored once
    assert "scored before the interruption" in capsys.readouterr().out
    assert not (out / "backup").exists()
    assert json.loads((out / frontier.FRONTIER_FILE).read_text())["betas"] == result["betas"]
    finished = (out / frontier.FRONTIER_FILE).read_bytes()
    with pytest.raises(ValueError, match="finished run"):
        frontier.frontier(runs, out, betas=[0.5])
    assert (out / frontier.FRONTIER_FILE).read_bytes() == finished
    frontier.frontier(runs, out, betas=[0.5, 1.0], overwrite=True)
    assert json.loads((out / frontier.FRONTIER_FILE).read_text())["betas"] == [0.0, 0.5, 1.0]


def test_frontier_refuses_to_write_into_a_training_run(tmp_path, monkeypatch):
    runs = [str(fake_run(tmp_path / f"alpha_{a:g}", a, 0, tmp_path / "data")) for a in (0, 0.2)]
    monkeypatch.setattr(frontier, "score_run", fake_score_run([]))
    before = sorted(p.name for p in (tmp_path / "alpha_0").iterdir())
    with pytest.raises(ValueError, match="made by `tfbt train`"):
        frontier.frontier(runs, runs[0], betas=[0.5], overwrite=True)
    assert sorted(p.name for p in (tmp_path / "alpha_0").iterdir()) == before


def test_a_missing_checkpoint_is_named_before_any_run_is_scored(tmp_path, monkeypatch):
    runs = [str(fake_run(tmp_path / f"alpha_{a:g}", a, 0, tmp_path / "data")) for a in (0, 0.2)]
    (tmp_path / "alpha_0.2" / "checkpoints" / "epoch_3.weights.h5").unlink()
    calls = []
    monkeypatch.setattr(frontier, "score_run", fake_score_run(calls))
    with pytest.raises(ValueError, match=r"alpha_0.2: no checkpoint of epochs \[3\]"):
        frontier.frontier(runs, tmp_path / "f", betas=[0.5])
    assert calls == [] and not (tmp_path / "f").exists()


def test_an_unfinished_run_is_refused_before_any_run_is_scored(tmp_path, monkeypatch):
    runs = [str(fake_run(tmp_path / f"alpha_{a:g}", a, 0, tmp_path / "data")) for a in (0, 0.2)]
    (tmp_path / "alpha_0.2" / "results.json").unlink()  # still training
    calls = []
    monkeypatch.setattr(frontier, "score_run", fake_score_run(calls))
    with pytest.raises(ValueError, match=r"alpha_0.2: an unfinished run \(no results.json"):
        frontier.frontier(runs, tmp_path / "f", betas=[0.5])
    assert calls == [] and not (tmp_path / "f").exists()
