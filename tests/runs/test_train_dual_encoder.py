"""`tfbt train-dual-encoder`: the TFRS baseline as a run folder, evaluated and exported like SASRec."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfbt import cli, data
from tfbt.runs import layout
from tfbt.runs.train_dual_encoder import load_model
from tfrecords_builder import schema

TINY = ["--max-len", "8", "--embedding-dim", "8", "--filters", "8", "--batch-size", "64",
        "--epochs", "2", "--eval-batch-size", "256"]


@pytest.fixture(scope="module")
def dataset(synthetic_data):
    return synthetic_data(200, 60, 15)


def test_trains_evaluates_and_exports_from_the_command_line(dataset, tmp_path, capsys):
    from tfbt.evaluation import full_ranking

    run = tmp_path / "dual"
    assert cli.main(["train-dual-encoder", "--data", str(dataset), "--output", str(run),
                     *TINY]) == 0
    assert "test: NDCG@10" in capsys.readouterr().out
    results = json.loads((run / layout.RESULTS_FILE).read_text())
    assert results["model"] == "tfrs_dual_encoder" and results["epochs_run"] == 2
    assert results["test"]["num_users"] == 200 and 0 <= results["test"]["NDCG@10"] <= 1

    # The checkpoint holds the trained towers: the reloaded model scores the test split alike.
    config = json.loads((run / layout.CONFIG_FILE).read_text())
    metadata = data.load_metadata(dataset)
    model = load_model(run, config, metadata)
    again = full_ranking(
        model, data.evaluation_dataset(dataset, "test", batch_size=256, max_len=8),
        metadata.num_items, progress=False)
    assert again["NDCG@10"] == pytest.approx(results["test"]["NDCG@10"], abs=1e-6)

    # A finished run is refused without --overwrite, and nothing is touched.
    assert cli.main(["train-dual-encoder", "--data", str(dataset), "--output", str(run),
                     *TINY]) == 2
    assert "finished run" in capsys.readouterr().err

    root = tmp_path / "saved_models"
    assert cli.main(["export", "--run", str(run), "--kind", "recommender", "--name", "dual",
                     "--root", str(root), "-k", "3"]) == 0
    served = tf.saved_model.load(str(root / "dual" / "1")).signatures["serving_default"]
    vocab = schema.read_vocab(dataset)
    history = vocab[10:14]
    padded = np.array([[0] * 4 + [11, 12, 13, 14]], np.int32)
    scores = (model.user_embeddings(padded).numpy()
              @ model.item_embeddings().numpy()[1:61].T)[0]
    expected = [vocab[i] for i in np.argsort(-scores, kind="stable")
                if vocab[i] not in history][:3]
    out = served(items=tf.constant([history]))
    assert list(out["item_ids"][0].numpy().astype(str)) == expected


def test_bad_flags_are_refused_before_anything_is_written(dataset, tmp_path, capsys):
    run = tmp_path / "dual"
    with pytest.raises(SystemExit) as exit_info:  # refused while parsing (tfbt.cli_types)
        cli.main(["train-dual-encoder", "--data", str(dataset), "--output", str(run),
                  "--learning-rate", "-1"])
    assert exit_info.value.code == 2
    assert "--learning-rate: expected a number > 0, got '-1'" in capsys.readouterr().err
    assert cli.main(["train-dual-encoder", "--data", str(dataset), "--output", str(run),
                     *TINY, "--pooling", "median"]) == 2
    assert "pooling must be one of" in capsys.readouterr().err
    assert not run.exists()
