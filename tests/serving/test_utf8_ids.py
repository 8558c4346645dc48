"""Item and user ids are any UTF-8 text end to end: build, export (its assets, the lookup in
the graph and the fresh-process check), the raw SavedModel and `tfbt recommend`; and an export
whose vocabulary asset was edited is refused."""

import csv
import json

import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401
from tfbt import cli, data
from tfbt.data.catalog import read_catalog
from tfbt.runs import train
from tfbt.serving import export
from tfrecords_builder import schema

# Ids with non-ASCII letters, spaces, commas, quotes, a tab and a U+2028 (a line break to
# str.splitlines).
ITEMS = [f"película {i}" for i in range(10)] + [f"a b, c{i}" for i in range(10)] + \
        [f"日本 \"{i}\"" for i in range(10)] + ["x\u2028y", "é", "t\tab"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("utf8")
    rng = np.random.default_rng(0)
    with open(root / "log.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "item_id", "time"])
        for user in range(60):
            for t, item in enumerate(rng.choice(len(ITEMS), 8, replace=False)):
                writer.writerow([f"usuário {user}", ITEMS[item], t])
    assert cli.main(["build", "--format", "table", "--input", str(root / "log.csv"),
                     "--output", str(root / "data"), "--time-col", "time", "--quiet"]) == 0
    assert sorted(schema.read_vocab(root / "data")) == sorted(ITEMS)
    config = train.TrainConfig(data=str(root / "data"), output="", max_len=8, hidden_dim=16,
                               num_blocks=1).resolved()
    model = train.build_model(config, data.load_metadata(root / "data"))
    result = export.export_recommender(model, "m", root=root / "models",
                                       data_dir=root / "data")  # with the fresh-process check
    return root, result.path


def test_the_raw_savedmodel_answers_with_utf8_ids(built):
    _, path = built
    served = tf.saved_model.load(str(path)).signatures["recommend_k"]
    asked = ["película 1", "a b, c2", "x\u2028y", "t\tab"]
    out = served(items=tf.constant([asked]), k=tf.constant(40))
    assert int(out["num_known"][0]) == 4
    ids = [b.decode("utf-8") for b in out["item_ids"][0].numpy() if b]
    assert sorted(ids) == sorted(set(ITEMS) - set(asked))


def test_the_catalogue_reads_raw_ids_with_tabs(tmp_path):
    path = tmp_path / "items.tsv"
    path.write_text("item\traw_id\ttitle\tgenres\n1\tt\tab\tA title\tDrama|War\n",
                    encoding="utf-8")
    catalog = read_catalog(path, 1)
    assert catalog.title_by_raw_id() == {"t\tab": "A title"}
    assert catalog.genres[1] == ("Drama", "War")


def test_recommend_takes_ids_with_spaces_and_commas(built, tmp_path, capsys):
    _, path = built
    assert cli.main(["recommend", "--model", str(path), "--json", "-k", "3",
                     "--items-json", json.dumps(["a b, c2", "日本 \"3\""])]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unknown"] == [] and len(result["recommendations"]) == 3
    assert all(r["item"] in ITEMS for r in result["recommendations"])
    listed = tmp_path / "items.txt"
    listed.write_text("a b, c2\n日本 \"3\"\n", encoding="utf-8")
    assert cli.main(["recommend", "--model", str(path), "--json", "-k", "3",
                     "--items-file", str(listed)]) == 0
    assert json.loads(capsys.readouterr().out) == result
    assert cli.main(["recommend", "--model", str(path), "--items-json", "{\"a\": 1}"]) == 2
    assert "expected a JSON list of strings" in capsys.readouterr().err


def test_an_edited_vocabulary_asset_is_refused(built, tmp_path, capsys):
    _, path = built
    vocab = path / "assets" / schema.ITEM_VOCAB_FILE
    original = vocab.read_bytes()
    try:
        vocab.write_bytes(original.replace("película 1\n".encode(), "película 2\n".encode()))
        assert cli.main(["recommend", "--model", str(path), "--items", "é"]) == 2
        err = capsys.readouterr().err
        assert "item_vocab.txt was changed after the export" in err and err.count("\n") == 1
    finally:
        vocab.write_bytes(original)
