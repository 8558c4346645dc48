"""`tfbt train` and `tfbt sweep-alpha` end to end on a tiny synthetic dataset."""

import argparse
import dataclasses
import json
import warnings

import keras
import numpy as np
import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.runs import layout
from tfbt import data
from tfbt.evaluation import full_ranking
from tfbt.runs import commands, sweep, train

SMALL = dict(max_len=8, hidden_dim=16, num_blocks=1, batch_size=64, eval_batch_size=256,
             length_chunks=1, eval_every=1)


@pytest.fixture(scope="module")
def tiny(synthetic_data):
    return synthetic_data(200, 60, 12)


TRAIN, SWEEP = commands.add_train_arguments, commands.add_sweep_arguments


def parse(add_arguments, argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_sweep_trains_each_alpha_and_writes_table_plot_and_runs(tiny, tmp_path):
    config = train.TrainConfig(data=str(tiny), output=str(tmp_path / "sweep"), epochs=1,
                               **SMALL)
    table = sweep.sweep(config, [0.5, 0], verbose=0)
    assert [row["alpha"] for row in table["rows"]] == [0.0, 0.5]
    assert json.loads((tmp_path / "sweep" / sweep.SWEEP_FILE).read_text()) == table
    assert (tmp_path / "sweep" / sweep.PLOT_FILE).read_bytes()[:4] == b"\x89PNG"
    for row in table["rows"]:
        assert set(row["test"]) == set(sweep.COLUMNS) and row["epochs_run"] == 1

    run = tmp_path / "sweep" / "alpha_0.5"
    results = json.loads((run / layout.RESULTS_FILE).read_text())
    assert results["config"]["model"] == "btsr" and results["seed"] == 0
    for split in ("valid", "test"):
        for k in (5, 10, 20):
            assert 0 <= results[split][f"NDCG@{k}"] <= results[split][f"HR@{k}"] <= 1
        for key in ("MRR", "coverage@10", "effective_rank", "long_tail@10", "popularity@10",
                    "calibration_kl@10"):  # synthetic items have genres
            assert key in results[split]
    assert results["best_epoch"] == 1 and results["wall_time_s"] > 0
    # The saved model is the evaluated one.
    model = keras.models.load_model(run / layout.MODEL_FILE)
    config = train.TrainConfig(data=str(tiny), output=str(run), **SMALL)
    meta = data.load_metadata(tiny)
    again = full_ranking(model, train.evaluation_dataset(config, meta, "valid"),
                         meta.num_items, progress=False)
    assert again["NDCG@10"] == pytest.approx(results["valid"]["NDCG@10"])


def test_sweep_over_seeds_reports_mean_std_and_spectra_and_resumes(tiny, tmp_path):
    config = train.TrainConfig(data=str(tiny), output=str(tmp_path / "sweep"), epochs=1,
                               **SMALL)
    table = sweep.sweep_seeds(config, [0, 0.2], seeds=[3, 4], verbose=0)
    assert table["seeds"] == [3, 4] and [row["alpha"] for row in table["rows"]] == [0.0, 0.2]
    for row in table["rows"]:
        per_seed = [json.loads(open(run).read()) for run in row["runs"]]
        assert [r["seed"] for r in per_seed] == [3, 4]
        values = [r["test"]["NDCG@10"] for r in per_seed]
        assert row["test"]["NDCG@10"] == {"mean": pytest.approx(np.mean(values)),
                                          "std": pytest.approx(np.std(values, ddof=1)),
                                          "values": values}
        spectrum = row["spectrum"]["mean"]
        assert len(spectrum) == SMALL["hidden_dim"] and spectrum[0] == pytest.approx(1.0)
        assert spectrum == sorted(spectrum, reverse=True)
        curves = row["curves"]  # one epoch, so the curve is each run's only validation
        assert curves["epoch"] == [1] and curves["best_epoch"] == [1, 1]
        valid = row["valid"]["coverage@10"]
        assert curves["coverage@10"]["mean"] == [pytest.approx(valid["mean"])]
    for name in (sweep.PLOT_FILE, sweep.SPECTRUM_PLOT_FILE, sweep.CURVES_PLOT_FILE):
        assert (tmp_path / "sweep" / name).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "sweep" / "seed_4" / "alpha_0.2" / "spectrum.json").is_file()
    # Everything is finished: a second call trains nothing and gives the same table.
    assert sweep.sweep_seeds(config, [0, 0.2], seeds=[3, 4], verbose=0) == table
    # A run made before a setting existed counts when the setting is asked at its default.
    results_file = tmp_path / "sweep" / "seed_3" / "alpha_0.2" / layout.RESULTS_FILE
    results = json.loads(results_file.read_text())
    del results["config"]["min_user_count"]
    results_file.write_text(json.dumps(results))
    run = train.TrainConfig(**{**dataclasses.asdict(config), "model": "btsr", "alpha": 0.2,
                               "seed": 3, "output": str(results_file.parent)})
    assert sweep.finished_run(run) is not None
    assert sweep.finished_run(dataclasses.replace(run, min_user_count=3)) is None
    args = parse(SWEEP, ["--data", "d", "--output", "o", "--seeds", "0,1,2"])
    assert args.seeds == [0, 1, 2] and args.alphas == list(sweep.DEFAULT_ALPHAS)


@pytest.mark.slow
def test_same_seed_same_metrics(tiny, tmp_path):
    # Twins, dropout, shuffling and initialisation are all seeded.
    config = train.TrainConfig(data=str(tiny), model="btsr", alpha=0.5, epochs=2,
                               output=str(tmp_path / "first"), **SMALL)
    first = train.train(config, verbose=0)
    second = train.train(train.TrainConfig(**{**first["config"],
                                              "output": str(tmp_path / "second")}), verbose=0)
    assert second["valid"] == first["valid"] and second["test"] == first["test"]


def test_xla_full_softmax_trains_with_static_shapes(tiny, tmp_path):
    # --jit-compile turns the length chunks and the row-chunked softmax off (both are dynamic).
    config = train.TrainConfig(data=str(tiny), output=str(tmp_path / "run"), epochs=1,
                               jit_compile=True, **{**SMALL, "length_chunks": 4})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = train.train(config, verbose=0)
    assert not [w for w in caught if "jit_compile" in str(w.message)]  # XLA really ran
    assert (results["config"]["length_chunks"], results["config"]["ce_chunk_rows"]) == (0, 0)
    assert np.isfinite(results["valid"]["NDCG@10"])


def test_early_stopping_counts_evaluations_without_improvement(tiny, tmp_path):
    config = train.TrainConfig(data=str(tiny), output=str(tmp_path / "run"), epochs=20,
                               patience=1, learning_rate=0.0, **SMALL)
    results = train.train(config, verbose=0)
    # Nothing changes with a zero learning rate: the first evaluation stays the best.
    assert results["best_epoch"] == 1 and results["epochs_run"] == 2
    curve = [e["NDCG@10"] for e in results["validation_curve"]]
    assert len(curve) == 2 and len(set(curve)) == 1


@pytest.mark.parametrize("argv,message", [
    (["--model", "sasrec", "--alpha", "0.5"], "btsr"),
    (["--model", "btsr", "--alpha", "0"], "alpha > 0"),
])
def test_bad_arguments_exit_2_with_a_message(tiny, tmp_path, capsys, argv, message):
    args = parse(TRAIN, ["--data", str(tiny), "--output", str(tmp_path / "r"), *argv])
    assert commands.run_train(args) == 2
    assert message in capsys.readouterr().err


def test_cli_arguments_map_onto_the_config(tiny, tmp_path):
    args = parse(TRAIN, ["--data", str(tiny), "--output", "out", "--model", "btsr", "--alpha",
                         "0.3", "--loss", "sce", "--bucket-size-y", "32", "--dropout", "0.5",
                         "--seed", "7"])
    config = commands.config_from_args(args).resolved()
    assert (config.model, config.alpha, config.loss, config.bucket_size_y, config.dropout,
            config.seed) == ("btsr", 0.3, "sce", 32, 0.5, 7)
    assert (config.lambd, config.bt_form, config.twins, config.no_twin) == (
        0.05, "authors", "last-item", "self")
    zbontar = commands.config_from_args(parse(TRAIN, [
        "--data", "d", "--output", "o", "--model", "btsr", "--bt-form", "zbontar", "--twins",
        "any-prefix", "--no-twin", "skip", "--dropout-pair-weight", "0.1"])).resolved()
    assert (zbontar.alpha, zbontar.lambd, zbontar.twins, zbontar.no_twin,
            zbontar.dropout_pair_weight) == (0.02, 1.0, "any-prefix", "skip", 0.1)
    assert parse(SWEEP, ["--data", "d", "--output", "o", "--alphas", "0,0.25"]).alphas == [0.0,
                                                                                         0.25]
    with pytest.raises(ValueError, match="distinct"):
        sweep.sweep(train.TrainConfig(data=str(tiny), output=str(tmp_path)), [0.1, 0.1])


def test_temporal_split_trains_and_evaluates_after_the_cut(tiny, tmp_path):
    config = train.TrainConfig(data=str(tiny), output=str(tmp_path / "run"), model="btsr",
                               epochs=1, split="temporal", split_quantile=0.8,
                               min_item_count=0, min_user_count=0, **SMALL)
    results = train.train(config, verbose=0)
    assert "temporal" in results["protocol"] and "0.8 quantile" in results["protocol"]
    options = train.TrainConfig(**results["config"]).temporal_options()
    users, _, _ = data.pipeline.temporal_split_of(str(tiny), options).history_and_target("test")
    assert results["test"]["num_users"] == len(users) < 200
    with pytest.raises(ValueError, match="split must be one of"):
        train.TrainConfig(data="d", output="o", split="random").resolved()
    with pytest.raises(ValueError, match="quantile"):
        train.TrainConfig(data="d", output="o", split="temporal", split_quantile=2).resolved()


def test_presets_fill_defaults_and_explicit_flags_win(tmp_path):
    from tfbt.runs import preset

    assert {"btsr-ml1m", "btsr-beauty", "btsr-beauty-loo", "btsr-kindle"} <= set(
        preset.preset_names())
    for name in preset.preset_names():
        text = json.loads((preset.PRESET_DIR / f"{name}.json").read_text())
        assert text["name"] == name and "barlow_twins_sasrec" in text["source"]
        train.TrainConfig(data="d", output="o", **text["settings"]).resolved()
    config = commands.config_from_args(parse(TRAIN, [
        "--data", "d", "--output", "o", "--preset", "btsr-ml1m"])).resolved()
    assert (config.model, config.alpha, config.lambd, config.batch_size, config.dropout,
            config.max_len, config.patience, config.adam_beta2, config.split) == (
        "btsr", 0.2, 0.05, 256, 0.1, 200, 30, 0.98, "temporal")
    # Explicit flags win, also when they repeat the default value and come before --preset.
    config = commands.config_from_args(parse(TRAIN, [
        "--data", "d", "--output", "o", "--dropout", "0.2", "--preset", "btsr-ml1m",
        "--alpha", "0.05", "--split", "leave-one-out"])).resolved()
    assert (config.dropout, config.alpha, config.split, config.batch_size) == (
        0.2, 0.05, "leave-one-out", 256)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"settings": {"alpha": 0.1, "colour": "red"}}))
    with pytest.raises(ValueError, match="colour"):
        commands.config_from_args(parse(TRAIN, ["--data", "d", "--output", "o", "--preset",
                                             str(bad)]))
    with pytest.raises(ValueError, match="btsr-ml1m"):
        commands.config_from_args(parse(TRAIN, ["--data", "d", "--output", "o", "--preset", "x"]))


def test_item_genres_are_read_from_items_tsv(tiny):
    from tfbt.data.catalog import item_genres

    genres = item_genres(tiny, data.load_metadata(tiny))
    assert genres[0] == () and len(genres) == 61
    assert all(g and all(name.startswith("genre_") for name in g) for g in genres[1:])
    assert np.mean([len(g) for g in genres[1:]]) < 2


def test_sce_buckets_follow_the_authors_rule_unless_set():
    """n_b = b_x ≈ 2·sqrt(batch × mean training positions), capped by max_len; flags win."""
    from types import SimpleNamespace

    from tfbt.models.builders import sce_buckets

    ml1m_shaped = SimpleNamespace(num_interactions=996_753, num_users=6_040)  # 165 per user
    assert sce_buckets(ml1m_shaped, batch_size=128, max_len=200) == (289, 289)  # 2·sqrt(128 × 163)
    assert sce_buckets(ml1m_shaped, batch_size=128, max_len=50) == (160, 160)   # 2·sqrt(128 × 50)
    assert sce_buckets(ml1m_shaped, batch_size=128, max_len=200, num_buckets=64,
                       bucket_size_x=32) == (64, 32)
