"""`tfbt recommend`: recommendations from an exported model with plain TensorFlow."""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt import data
from tfbt.runs import train
from tfbt.serving import client as recommend
from tfbt.serving import export
from tfrecords_builder import schema

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exports(dataset, tmp_path_factory):
    """A SASRec recommender (initial weights: ranking quality is not the point here) exported
    as version 1 and 2 of "sasrec", and its encoder as "encoder"."""
    config = train.TrainConfig(data=str(dataset), output="", max_len=8, hidden_dim=16,
                               num_blocks=1).resolved()
    model = train.build_model(config, data.load_metadata(dataset))
    root = tmp_path_factory.mktemp("exports")
    options = dict(root=root, data_dir=dataset, verify_export=False)
    for _ in range(2):
        export.export_recommender(model, "sasrec", **options)
    export.export_encoder(model, "encoder", **options)
    return root


@pytest.fixture(scope="module")
def served(exports):
    return tf.saved_model.load(str(exports / "sasrec" / "1")).signatures["recommend_k"]


def recommend_cli(argv, capsys):
    parser = argparse.ArgumentParser()
    recommend.add_arguments(parser)
    parser.set_defaults(run=recommend.run)  # as tfbt.cli does
    args = parser.parse_args(argv)
    code = args.run(args)
    out, err = capsys.readouterr()
    return code, out, err


def expected_top(served, items, k):
    out = served(items=tf.constant([items]), k=tf.constant(k))
    ids = out["item_ids"][0].numpy().astype(str)
    return [(i, float(s)) for i, s in zip(ids, out["scores"][0].numpy()) if i]


def test_table_with_titles_matches_the_signature(exports, served, vocab, capsys):
    history = [vocab[4], vocab[9], vocab[17]]
    code, out, err = recommend_cli(["--model", str(exports / "sasrec" / "1"), "--items",
                                    ",".join(history), "-k", "4"], capsys)
    assert code == 0 and err == ""
    header, *rows = out.strip().splitlines()
    assert header.split() == ["rank", "item", "score", "title"]
    expected = expected_top(served, history, 4)
    titles = {line.split("\t")[1]: line.split("\t")[2]
              for line in (exports / "sasrec" / "1" / "assets" / "items.tsv").read_text()
              .splitlines()[1:]}
    assert len(rows) == 4
    for rank, (row, (item, score)) in enumerate(zip(rows, expected), 1):
        fields = row.split(maxsplit=3)
        assert fields[:2] == [str(rank), item] and fields[3] == titles[item]
        assert float(fields[2]) == pytest.approx(score, abs=1e-4)
        assert item not in history


def test_unknown_items_are_reported_and_ignored(exports, vocab, capsys):
    model = str(exports / "sasrec" / "1")
    code, clean, _ = recommend_cli(["--model", model, "--items", f"{vocab[1]} {vocab[2]}",
                                    "--json"], capsys)
    assert code == 0
    code, noisy, err = recommend_cli(["--model", model, "--items",
                                      f"zzz,{vocab[1]}, {vocab[2]},999999", "--json"], capsys)
    assert code == 0 and err == ""
    clean, noisy = json.loads(clean), json.loads(noisy)
    assert noisy["unknown"] == ["zzz", "999999"]
    assert noisy["recommendations"] == clean["recommendations"]
    assert len(clean["recommendations"]) == 10  # the default k
    code, _, err = recommend_cli(["--model", model, "--items", f"zzz,{vocab[1]}"], capsys)
    assert code == 0 and "ignored 1 unknown item(s): zzz" in err


def test_all_unknown_items_exit_1_or_fall_back_to_popular(exports, dataset, capsys):
    model = str(exports / "sasrec")  # the model folder: its highest version is used
    code, out, err = recommend_cli(["--model", model, "--items", "nope,never"], capsys)
    assert code == 1 and out == ""
    assert "none of the 2 items is in the model's catalogue" in err
    assert "--fallback-popular" in err
    code, out, _ = recommend_cli(["--model", model, "--items", "nope", "--fallback-popular",
                                  "-k", "3", "--json"], capsys)
    result = json.loads(out)
    counts = data.item_counts(dataset, split="test")
    top = np.argsort(-counts[1:], kind="stable")[:3] + 1
    vocab = schema.read_vocab(dataset)
    assert code == 0 and result["fallback"] == "popular"
    assert [r["item"] for r in result["recommendations"]] == [vocab[i - 1] for i in top]
    assert [r["score"] for r in result["recommendations"]] == [counts[i] for i in top]


def test_k_variants(exports, served, vocab, capsys):
    model = str(exports / "sasrec" / "2")
    history = vocab[:5]
    for k, expected in ((1, 1), (7, 7), (1000, 60 - len(history))):
        code, out, _ = recommend_cli(["--model", model, "--items", ",".join(history), "-k",
                                      str(k), "--json"], capsys)
        items = [r["item"] for r in json.loads(out)["recommendations"]]
        assert code == 0 and len(items) == expected
        assert items == [i for i, _ in expected_top(served, history, k)]
        assert not set(items) & set(history)


def test_batch_mode_writes_one_json_line_per_user(exports, vocab, tmp_path, capsys):
    batch = tmp_path / "users.txt"
    batch.write_text(f"{vocab[0]},{vocab[1]}\nunknown\n{vocab[5]} {vocab[6]}  {vocab[7]}\n")
    model = str(exports / "sasrec" / "1")
    code, out, _ = recommend_cli(["--model", model, "--batch", str(batch), "-k", "2"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1  # one user has no known item
    assert [line["items"] for line in lines] == [vocab[:2], ["unknown"], vocab[5:8]]
    assert [len(line.get("recommendations", [])) for line in lines] == [2, 0, 2]
    assert "error" in lines[1]
    code, out, _ = recommend_cli(["--model", model, "--batch", str(batch), "-k", "2",
                                  "--fallback-popular"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and lines[1]["fallback"] == "popular"


@pytest.mark.parametrize("argv, message", [
    (["--batch", "{empty}"], "empty batch file"),
    (["--batch", "{missing}"], "cannot read the batch file"),
])
def test_bad_input_exits_2(exports, tmp_path, capsys, argv, message):
    (tmp_path / "empty.txt").write_text("")
    paths = {name: str(tmp_path / f"{name}.txt") for name in ("empty", "missing")}
    argv = ["--model", str(exports / "sasrec" / "1")] + [a.format(**paths) for a in argv]
    code, out, err = recommend_cli(argv, capsys)
    assert code == 2 and out == "" and message in err


def test_models_that_cannot_recommend_are_refused(exports, tmp_path, capsys):
    code, _, err = recommend_cli(["--model", str(exports / "encoder" / "1"), "--items", "1"],
                                 capsys)
    assert code == 2 and "encoder export without the recommend_k signature" in err
    code, _, err = recommend_cli(["--model", str(tmp_path), "--items", "1"], capsys)
    assert code == 2 and "not a model exported by `tfbt export`" in err


def test_runs_with_tensorflow_alone(exports, vocab):
    """The client side needs neither Keras nor the model code."""
    code = ("import sys\n"
            "for name in ('keras', 'tf_keras', 'keras_hub', 'tensorflow_recommenders'):\n"
            "    sys.modules[name] = None\n"
            "from tfbt.serving import client as recommend\n"
            "print(recommend.Recommender(sys.argv[1]).recommend([sys.argv[2:]], 3)[0])\n")
    result = subprocess.run([sys.executable, "-c", code, str(exports / "sasrec" / "1"),
                             vocab[0], vocab[1]], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "'recommendations': [{'rank': 1" in result.stdout


def test_batch_file_with_bytes_that_are_not_utf8_names_line_and_byte(tmp_path):
    path = tmp_path / "users.txt"
    path.write_bytes(b"1,2\n3 \xe94\n")
    with pytest.raises(recommend.UsageError, match=r"users.txt:2: byte 6 \(b'\\xe9'\) is not "
                                                   r"UTF-8"):
        recommend.read_batch(path)
    path.write_bytes("\ufeff1,2\n3 4\n".encode())
    assert recommend.read_batch(path) == [["1", "2"], ["3", "4"]]


def test_empty_history_gets_the_signatures_popular_fallback(exports, served, dataset, capsys):
    counts = data.item_counts(dataset, split="test")
    top = np.argsort(-counts[1:], kind="stable")[:3] + 1
    vocab = schema.read_vocab(dataset)
    out = served(items=tf.constant([[""], ["never-seen"]]), k=tf.constant(3))
    assert list(out["num_known"].numpy()) == [0, 0]  # how a client tells the fallback
    for row in range(2):
        assert list(out["item_ids"][row].numpy().astype(str)) == [vocab[i - 1] for i in top]
        assert list(out["scores"][row].numpy()) == [counts[i] for i in top]
    model = str(exports / "sasrec" / "1")
    code, out, err = recommend_cli(["--model", model, "--items", "", "--fallback-popular",
                                    "-k", "3", "--json"], capsys)
    result = json.loads(out)
    assert code == 0 and result["fallback"] == "popular" and result["items"] == []
    assert [r["item"] for r in result["recommendations"]] == [vocab[i - 1] for i in top]
    code, out, err = recommend_cli(["--model", model, "--items", " , "], capsys)
    assert code == 1 and out == "" and "no items (an empty history); use --fallback-popular" in err


def test_blank_batch_line_is_an_empty_history_not_a_bad_file(exports, vocab, tmp_path, capsys):
    batch = tmp_path / "users.txt"
    batch.write_text(f"{vocab[0]},{vocab[1]}\n\n{vocab[2]}\n")
    model = str(exports / "sasrec" / "1")
    code, out, _ = recommend_cli(["--model", model, "--batch", str(batch), "-k", "2"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(lines) == 3
    assert [len(line.get("recommendations", [])) for line in lines] == [2, 0, 2]
    assert lines[1]["items"] == [] and "empty history" in lines[1]["error"]
    code, out, _ = recommend_cli(["--model", model, "--batch", str(batch), "-k", "2",
                                  "--fallback-popular"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and lines[1]["fallback"] == "popular"
    assert len(lines[1]["recommendations"]) == 2


def test_truncated_variables_say_the_export_is_damaged(exports, tmp_path, capsys):
    damaged = tmp_path / "damaged" / "1"
    shutil.copytree(exports / "sasrec" / "1", damaged)
    (variables,) = (damaged / "variables").glob("variables.data-*")
    variables.write_bytes(variables.read_bytes()[:variables.stat().st_size // 2])
    code, out, err = recommend_cli(["--model", str(damaged), "--items", "1"], capsys)
    assert code == 2 and out == ""
    assert f"tfbt recommend: error: {damaged}: the export is damaged" in err
    assert "export the model again" in err and "Traceback" not in err
