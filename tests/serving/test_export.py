"""`tfbt export`: SavedModels with raw-id lookup, checked in a fresh process, versioned, atomic."""

import argparse
import json
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt import data
from tfbt.data.synthetic import SyntheticConfig, write_synthetic
from tfbt.runs import layout, train
from tfbt.runs.layout import load_encoder
from tfbt.runs.pretrain import PretrainConfig, pretrain
from tfbt.serving import check as export_check
from tfbt.serving import commands, export

MAX_LEN = 8
K = 5
# The TF Serving REST body documented in docs/cli.md (its `curl -d '...'` line).
README_REQUEST = re.search(
    r"curl -d '(\{\"instances\".*\})'",
    (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text())[1]


@pytest.fixture(scope="module")
def sasrec_run(dataset, tmp_path_factory):
    """A finished `tfbt train` run folder (one epoch of a tiny SASRec)."""
    output = tmp_path_factory.mktemp("runs") / "sasrec"
    train.train(train.TrainConfig(data=str(dataset), output=str(output), epochs=1,
                                  max_len=MAX_LEN, hidden_dim=16, num_blocks=1, batch_size=64,
                                  eval_batch_size=256, length_chunks=1), verbose=0)
    return output


@pytest.fixture(scope="module")
def bt_run(dataset, tmp_path_factory):
    """A finished `tfbt pretrain` run folder (one epoch of a tiny CNN encoder)."""
    output = tmp_path_factory.mktemp("runs") / "bt"
    pretrain(PretrainConfig(data=str(dataset), output=str(output), epochs=1, max_len=MAX_LEN,
                            batch_size=64, projector=(32, 32),
                            encoder_args={"embedding_dim": 16, "filters": 16}), verbose=0)
    return output


@pytest.fixture(scope="module")
def sasrec_export(sasrec_run, tmp_path_factory):
    """The recommender export, checked by the exporter in a fresh process."""
    root = tmp_path_factory.mktemp("exports") / "saved_models"
    return export.export_recommender(sasrec_run, "sasrec", root=root, k=K)


@pytest.fixture(scope="module")
def served(sasrec_export):
    return tf.saved_model.load(str(sasrec_export.path))


def indices(vocab, raw_ids):
    index = {raw: i for i, raw in enumerate(vocab, 1)}
    return [index[raw] for raw in raw_ids]


def left_padded(rows, width=MAX_LEN):
    return np.array([[0] * (width - len(row)) + row[-width:] for row in rows], np.int32)


def tf_serving_request(body: str, signature) -> dict:
    """Parses a TF Serving REST body as the server does: the row format ("instances": one
    object per example, each named input stacked into a batch) or the columnar format
    ("inputs": one value per named input)."""
    request = json.loads(body)
    specs = signature.structured_input_signature[1]
    if "instances" in request:
        return {name: tf.constant([example[name] for example in request["instances"]],
                                  spec.dtype) for name, spec in specs.items()}
    return {name: tf.constant(request["inputs"][name], spec.dtype)
            for name, spec in specs.items()}


def export_cli(argv):
    """Runs `tfbt export ARGV` the way tfbt.cli does (the function rides in args.run)."""
    parser = argparse.ArgumentParser()
    commands.add_export_arguments(parser)
    parser.set_defaults(run=commands.run_export)
    args = parser.parse_args(argv)
    return args.run(args)


def test_recommender_export_layout_assets_and_fresh_process_check(sasrec_export, sasrec_run,
                                                                   dataset):
    assert sasrec_export.version == 1
    assert sasrec_export.path == sasrec_export.path.parent / "1"
    assert [p.name for p in sasrec_export.path.parent.iterdir()] == ["1"]  # no temp folders
    signatures = sasrec_export.verification["signatures"]
    assert signatures["serving_default"] == {
        "inputs": {"items": ["string", [None, None]]},
        "outputs": {"item_ids": ["string", [None, K]], "scores": ["float32", [None, K]],
                    "num_known": ["int32", [None]]}}
    assert signatures["recommend_k"]["inputs"] == {"items": ["string", [None, None]],
                                                   "k": ["int32", []]}
    cli = sasrec_export.verification["saved_model_cli"]
    if cli is not None:  # saved_model_cli is installed
        print(cli)
        for text in ("signature_def['serving_default']", "signature_def['recommend_k']",
                     "inputs['items']", "inputs['k']", "outputs['item_ids']", "DT_STRING"):
            assert text in cli

    assets = sasrec_export.path / "assets"
    assert sorted(p.name for p in assets.iterdir()) == [
        "item_counts.tsv", "item_vocab.txt", "items.tsv", "tfbt.json"]
    info = json.loads((assets / "tfbt.json").read_text())
    results = json.loads((sasrec_run / layout.RESULTS_FILE).read_text())
    assert info["kind"] == "recommender" and info["version"] == 1 and info["k"] == K
    assert info["tfbt_version"] == tfbt.__version__ and info["exported_at"]
    assert info["config"] == json.loads((sasrec_run / "config.json").read_text())
    assert info["metrics"] == {"valid": results["valid"], "test": results["test"]}
    assert info["dataset"]["num_items"] == 60 and info["max_len"] == MAX_LEN
    assert info["signatures"] == signatures
    counts = [int(line.split("\t")[2])
              for line in (assets / "item_counts.tsv").read_text().splitlines()[1:]]
    meta = data.load_metadata(dataset)
    assert len(counts) == meta.num_items and sum(counts) == meta.num_interactions


def test_recommendations_are_the_models_top_unseen_items(served, sasrec_run, vocab):
    model = keras.models.load_model(sasrec_run / layout.MODEL_FILE, compile=False)
    histories = [vocab[3:6], vocab[10:10 + MAX_LEN + 4], vocab[-2:]]
    users = model.user_embeddings(left_padded([indices(vocab, h) for h in histories]))
    scores = np.asarray(users) @ np.asarray(model.item_embeddings())[1:61].T     # [B, N]
    width = max(map(len, histories))
    items = tf.constant([h + [""] * (width - len(h)) for h in histories])
    out = served.signatures["serving_default"](items=items)
    for row, history in enumerate(histories):
        ranked = [i for i in np.argsort(-scores[row], kind="stable")
                  if vocab[i] not in history][:K]
        assert list(out["item_ids"][row].numpy().astype(str)) == [vocab[i] for i in ranked]
        np.testing.assert_allclose(out["scores"][row], scores[row, ranked], rtol=1e-5)
    # The whole untruncated history is excluded, not only the last max_len items.
    everything = served.signatures["recommend_k"](items=items[1:2], k=tf.constant(100))
    ids = everything["item_ids"][0].numpy().astype(str)
    assert len(ids) == 60 and set(ids[:60 - len(histories[1])]) == set(vocab) - set(
        histories[1])
    assert list(ids[60 - len(histories[1]):]) == [""] * len(histories[1])
    assert np.isneginf(everything["scores"][0, 60 - len(histories[1]):]).all()
    assert list(everything["num_known"].numpy()) == [len(histories[1])]


def test_unknown_ids_are_dropped_and_k_is_an_input(served, vocab):
    clean = tf.constant([[vocab[0], vocab[1], vocab[2]]])
    noisy = tf.constant([["nope", vocab[0], "", vocab[1], "x y", vocab[2], ""]])
    serve = served.signatures["serving_default"]
    a, b = serve(items=clean), serve(items=noisy)
    assert list(b["num_known"].numpy()) == [3]
    assert (a["item_ids"].numpy() == b["item_ids"].numpy()).all()
    np.testing.assert_allclose(a["scores"], b["scores"])
    recommend_k = served.signatures["recommend_k"]
    for k in (1, 3, K):
        top = recommend_k(items=noisy, k=tf.constant(k))
        assert top["item_ids"].shape == (1, k)
        assert (top["item_ids"].numpy() == b["item_ids"].numpy()[:, :k]).all()
    with pytest.raises(tf.errors.InvalidArgumentError, match="k must be >= 1"):
        recommend_k(items=noisy, k=tf.constant(0))
    unknown = serve(items=tf.constant([["nope", ""], ["", ""]]))
    assert list(unknown["num_known"].numpy()) == [0, 0]  # no error, the client decides
    assert unknown["item_ids"].shape == (2, K)


def test_readme_tf_serving_request_maps_onto_the_signatures(served, vocab):
    serve = served.signatures["serving_default"]
    # The README's body, verbatim: MovieLens ids, unknown to this synthetic catalogue.
    outputs = serve(**tf_serving_request(README_REQUEST, serve))
    assert list(outputs["num_known"].numpy()) == [0] and outputs["item_ids"].shape == (1, K)
    # The same body with ids this model knows gives what a direct call gives.
    body = README_REQUEST
    for movielens, synthetic in zip(("1193", "661", "914"), vocab[:3]):
        body = body.replace(f'"{movielens}"', f'"{synthetic}"')
    outputs = serve(**tf_serving_request(body, serve))
    direct = serve(items=tf.constant([vocab[:3] + [""]]))
    assert (outputs["item_ids"].numpy() == direct["item_ids"].numpy()).all()
    # The columnar format carries recommend_k's scalar k.
    columnar = json.dumps({"signature_name": "recommend_k",
                           "inputs": {"items": [vocab[:3]], "k": 3}})
    recommend_k = served.signatures[json.loads(columnar)["signature_name"]]
    top3 = recommend_k(**tf_serving_request(columnar, recommend_k))
    assert (top3["item_ids"].numpy() == direct["item_ids"].numpy()[:, :3]).all()


def test_encoder_export_through_the_cli(bt_run, vocab, tmp_path, capsys):
    root = tmp_path / "saved_models"
    code = export_cli(["--run", str(bt_run), "--kind", "encoder", "--name", "bt", "--root",
                       str(root)])
    out = capsys.readouterr().out
    assert code == 0 and str(root / "bt" / "1") in out and "serving_default(items" in out
    # The slow stages say that they are working.
    assert "writing the SavedModel (encoder" in out and "in a fresh Python process" in out
    served = tf.saved_model.load(str(root / "bt" / "1"))
    assert list(served.signatures) == ["serving_default"]
    serve = served.signatures["serving_default"]
    encoder = load_encoder(bt_run)
    long = vocab[:MAX_LEN + 3]  # only the most recent MAX_LEN are kept
    expected = np.asarray(encoder(left_padded([indices(vocab, long),
                                               indices(vocab, vocab[7:9])])))
    noisy = [long[:2] + ["unknown"] + long[2:], ["", vocab[7], "?", vocab[8]] + [""] * 8]
    width = max(map(len, noisy))
    result = serve(items=tf.constant([row + [""] * (width - len(row)) for row in noisy]))
    np.testing.assert_allclose(result["embedding"], expected, rtol=1e-5, atol=1e-6)
    assert list(result["num_known"].numpy()) == [MAX_LEN + 3, 2]
    info = json.loads((root / "bt" / "1" / "assets" / "tfbt.json").read_text())
    assert info["kind"] == "encoder" and info["metrics"] is None and info["k"] is None
    # An existing version is refused, before any work.
    code = export_cli(["--run", str(bt_run), "--kind", "encoder", "--name", "bt", "--root",
                       str(root), "--version", "1"])
    assert code == 2 and "exists; pass --overwrite" in capsys.readouterr().err


def test_dual_encoder_export_scores_queries_against_candidates(dataset, vocab, tmp_path):
    from tfbt.baselines import DualEncoder
    from tfbt.models import user_vectors

    model = DualEncoder(62, embedding_dim=8, filters=8)
    with pytest.raises(ValueError, match="no weights"):
        export.export_recommender(model, "de", root=tmp_path, data_dir=dataset,
                                  max_len=MAX_LEN)
    model.encode(tf.zeros([1, MAX_LEN], tf.int32))
    with pytest.raises(ValueError, match="max_len"):
        export.export_recommender(model, "de", root=tmp_path, data_dir=dataset)
    # The fresh-process check proves that serving it needs neither tf-keras nor TFRS; as a
    # Retriever it is exported as a recommender without being told.
    result = export.export_model(model, tmp_path / "de", data_dir=dataset, max_len=MAX_LEN, k=3)
    assert set(result.verification["signatures"]) == {"serving_default", "recommend_k",
                                                      "recommend_penalized"}
    history = vocab[20:24]
    query = user_vectors(model, left_padded([indices(vocab, history)]))
    scores = (query @ np.asarray(model.item_embeddings())[1:61].T)[0]
    ranked = [i for i in np.argsort(-scores, kind="stable") if vocab[i] not in history][:3]
    out = tf.saved_model.load(str(result.path)).signatures["serving_default"](
        items=tf.constant([history]))
    assert list(out["item_ids"][0].numpy().astype(str)) == [vocab[i] for i in ranked]
    np.testing.assert_allclose(out["scores"][0], scores[ranked], rtol=1e-5)


def test_versions_count_up_and_overwrite_replaces(bt_run, dataset, tmp_path):
    root = tmp_path / "saved_models"
    encoder = load_encoder(bt_run)

    def write(**kwargs):
        return export.export_encoder(encoder, "m", root=root, data_dir=dataset,
                                     verify_export=False, **kwargs)

    assert [write().version, write().version, write(version=7).version,
            write().version] == [1, 2, 7, 8]
    stamp = (root / "m" / "2" / "assets" / "tfbt.json").read_text()
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        write(version=2)
    assert (root / "m" / "2" / "assets" / "tfbt.json").read_text() == stamp
    assert write(version=2, overwrite=True).version == 2
    assert (root / "m" / "2" / "assets" / "tfbt.json").read_text() != stamp
    assert sorted(p.name for p in (root / "m").iterdir()) == ["1", "2", "7", "8"]


def test_a_failed_export_leaves_nothing_behind(bt_run, dataset, tmp_path, monkeypatch):
    root = tmp_path / "saved_models"
    encoder = load_encoder(bt_run)
    export.export_encoder(encoder, "m", root=root, data_dir=dataset, verify_export=False)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}

    def fail(*args, **kwargs):
        raise export.ExportVerificationError("reloaded outputs differ")

    monkeypatch.setattr(export, "verify", fail)
    with pytest.raises(export.ExportVerificationError):  # replacing version 1 fails
        export.export_encoder(encoder, "m", root=root, data_dir=dataset, version=1,
                              overwrite=True)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert [p.name for p in (root / "m").iterdir()] == ["1"]
    with pytest.raises(export.ExportVerificationError):
        export.export_encoder(encoder, "m", root=tmp_path / "new_root", data_dir=dataset)
    assert not (tmp_path / "new_root").exists()


def test_the_check_catches_different_outputs():
    calls = [{"signature": "serving_default", "inputs": {"items": [["1"]]}}]
    expected = [{"item_ids": np.array([["3", "4"]]), "scores": np.array([[0.5, 0.25]])}]
    same = {"item_ids": [["3", "4"]], "scores": [[0.5, 0.25]]}
    export_check.compare_outputs(expected, [same], calls)
    for changed in ({"item_ids": [["4", "3"]], "scores": [[0.5, 0.25]]},
                    {"item_ids": [["3", "4"]], "scores": [[0.5, 0.2]]},
                    {"item_ids": [["3"]], "scores": [[0.5]]}):
        with pytest.raises(export.ExportVerificationError, match="differs after reloading"):
            export_check.compare_outputs(expected, [changed], calls)


def test_untrained_mismatched_and_unscorable_models_are_refused(sasrec_run, bt_run, dataset,
                                                                tmp_path):
    root = tmp_path / "saved_models"
    unfinished = tmp_path / "unfinished"
    (unfinished / "backup").mkdir(parents=True)
    shutil.copy(sasrec_run / "config.json", unfinished)
    with pytest.raises(ValueError, match="no trained model.*unfinished run"):
        export.export_recommender(unfinished, "m", root=root)
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        export.export_recommender(tmp_path / "missing", "m", root=root)
    other = tmp_path / "other"
    write_synthetic(other, SyntheticConfig(num_users=50, num_items=40, mean_length=8),
                    progress=False)
    with pytest.raises(ValueError, match="vocabulary of 62 .* but .* has num_items="):
        export.export_recommender(sasrec_run, "m", root=root, data_dir=other)
    with pytest.raises(ValueError, match="without an item scorer.*--kind encoder"):
        export.export_recommender(bt_run, "m", root=root)
    with pytest.raises(ValueError, match="plain folder name"):
        export.export_recommender(sasrec_run, "../m", root=root)
    with pytest.raises(ValueError, match="k must be >= 1"):
        export.export_recommender(sasrec_run, "m", root=root, k=0)
    assert not root.exists()


def test_popularity_penalty_moves_the_ranking_and_is_exact_at_zero(served, sasrec_export, vocab,
                                                                   dataset, capsys):
    from tfbt.serving import client

    histories = [vocab[3:6], vocab[10:10 + MAX_LEN + 4], [""] * 3]
    items = tf.constant([h + [""] * (MAX_LEN + 4 - len(h)) for h in histories])
    k = tf.constant(20)
    plain = served.signatures["recommend_k"](items=items, k=k)
    zero = served.signatures["recommend_penalized"](items=items, k=k,
                                                    popularity_penalty=tf.constant(0.0))
    for key in plain:  # beta 0: today's output, bit for bit
        assert np.array_equal(plain[key].numpy(), zero[key].numpy())
    counts = data.item_counts(dataset, split="test")
    index = {raw: i for i, raw in enumerate(vocab, 1)}
    strong = served.signatures["recommend_penalized"](items=items, k=k,
                                                      popularity_penalty=tf.constant(5.0))

    def mean_count(out, row):
        return np.mean([counts[index[i]] for i in out["item_ids"][row].numpy().astype(str)])

    for row in range(2):  # a strong penalty recommends less popular items
        assert mean_count(strong, row) < mean_count(plain, row)
    # The popular fallback of a user with no known item is not penalised.
    assert np.array_equal(strong["item_ids"][2].numpy(), plain["item_ids"][2].numpy())
    recommender = client.Recommender(sasrec_export.path)
    assert recommender.recommend([histories[0]], 20, popularity_penalty=5.0)[0][
        "recommendations"][0]["item"] == strong["item_ids"][0, 0].numpy().decode()
