"""tfrecords_builder.build (and its CLI): filtering, ordering, remapping, labels, files."""

import hashlib
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfrecords_builder import build as build_module
from tfrecords_builder import cli, schema
from tfrecords_builder.build import BuildError, BuildOptions, build
from tfrecords_builder.raw import RawDataset
from tfrecords_builder.records import read_records

REPO = Path(__file__).resolve().parents[2]


def make_raw(rows, *, items=None, users=None, genre_vocabulary=None, has_timestamps=True,
             source_files=()):
    """rows: (user, item, timestamp) or (user, item, timestamp, rating) tuples, in file order."""
    frame = pd.DataFrame([tuple(r) + (np.nan,) * (4 - len(r)) for r in rows],
                         columns=["user", "item", "timestamp", "rating"])
    frame["timestamp"] = frame["timestamp"].astype(np.int64)
    frame["rating"] = frame["rating"].astype(np.float64)
    return RawDataset(interactions=frame, source_format="test", source_files=list(source_files),
                      has_timestamps=has_timestamps, items=items,
                      genre_vocabulary=genre_vocabulary, users=users)


def read_shards(out_dir):
    """[(shard name, [record dict, ...])] parsed back with tf.data, in file order."""
    meta = schema.Metadata.load(out_dir)
    spec = {schema.USER_ID: tf.io.FixedLenFeature([], tf.int64),
            schema.ITEM_IDS: tf.io.RaggedFeature(tf.int64),
            **{name: tf.io.FixedLenFeature([], tf.int64) for name in meta.labels}}
    if meta.has_timestamps:
        spec[schema.TIMESTAMPS] = tf.io.RaggedFeature(tf.int64)
    shards = []
    for name, path in zip(meta.shards, meta.shard_paths(out_dir)):
        data = tf.data.TFRecordDataset(path, "GZIP" if name.endswith(".gz") else "")
        shards.append((name, [{k: v.numpy().tolist()
                               for k, v in tf.io.parse_single_example(r, spec).items()}
                              for r in data]))
    return shards


def by_user(out_dir):
    """raw user id -> record, with items as raw ids."""
    users = schema.read_vocab(out_dir, schema.USER_VOCAB_FILE)
    items = schema.read_vocab(out_dir)
    out = {}
    for _, records in read_shards(out_dir):
        for rec in records:
            rec["raw_items"] = [items[i - 1] for i in rec[schema.ITEM_IDS]]
            out[users[rec[schema.USER_ID] - 1]] = rec
    return out


def test_ids_are_remapped_in_numeric_order_when_integer(tmp_path):
    raw = make_raw([(10, 300, 1), (2, 40, 2), (33, 5, 3), (2, 300, 4)])
    build(raw, tmp_path / "d", progress=False)
    assert schema.read_vocab(tmp_path / "d", schema.USER_VOCAB_FILE) == ["2", "10", "33"]
    assert schema.read_vocab(tmp_path / "d") == ["5", "40", "300"]
    records = by_user(tmp_path / "d")
    assert records["2"][schema.ITEM_IDS] == [2, 3] and records["2"][schema.USER_ID] == 1
    assert records["10"]["raw_items"] == ["300"]


@pytest.mark.parametrize("ids,expected", [(["b", "a", "c"], ["a", "b", "c"]),
                                          (["10", "9", "100"], ["9", "10", "100"]),
                                          (["x10", "x9", "7"], ["7", "x10", "x9"])])
def test_string_ids_sort_numerically_only_when_all_integers(tmp_path, ids, expected):
    raw = make_raw([(u, "i", t) for t, u in enumerate(ids)])
    build(raw, tmp_path / "d", progress=False)
    assert schema.read_vocab(tmp_path / "d", schema.USER_VOCAB_FILE) == expected


def test_sequences_are_chronological_with_file_order_for_ties(tmp_path):
    raw = make_raw([(1, "a", 5), (2, "z", 1), (1, "b", 1), (1, "c", 5), (1, "d", 3),
                    (1, "e", 5), (2, "y", 0)])
    build(raw, tmp_path / "d", progress=False)
    records = by_user(tmp_path / "d")
    assert records["1"]["raw_items"] == ["b", "d", "a", "c", "e"]
    assert records["1"][schema.TIMESTAMPS] == [1, 3, 5, 5, 5]
    assert records["2"]["raw_items"] == ["y", "z"]


# Users 1, 2 share items 10, 11 (a 2-core). A chain 3:a | 4:a,b | 5:b,c | 6:c,11 hangs off it:
# each pass removes only its end (user 3, then item a, then user 4, ...), so a single pass, or
# any fixed small number of passes, leaves part of the chain.
CHAIN = [(1, 10, 1), (1, 11, 2), (2, 10, 3), (2, 11, 4), (3, 20, 5), (4, 20, 6), (4, 21, 7),
         (5, 21, 8), (5, 22, 9), (6, 22, 10), (6, 11, 11)]


def test_k_core_repeats_until_stable(tmp_path):
    meta = build(make_raw(CHAIN), tmp_path / "d",
                 BuildOptions(min_user_interactions=2, min_item_interactions=2), progress=False)
    assert (meta.num_users, meta.num_items, meta.num_interactions) == (2, 2, 4)
    assert schema.read_vocab(tmp_path / "d", schema.USER_VOCAB_FILE) == ["1", "2"]
    assert schema.read_vocab(tmp_path / "d") == ["10", "11"]


def _reference_k_core(rows, min_user, min_item):
    """Removes one violating row group at a time until none is left (slow, obviously right)."""
    rows = list(rows)
    while True:
        users = pd.Series([r[0] for r in rows]).value_counts()
        items = pd.Series([r[1] for r in rows]).value_counts()
        kept = [r for r in rows if users[r[0]] >= min_user and items[r[1]] >= min_item]
        if len(kept) == len(rows):
            return kept
        rows = kept


@pytest.mark.parametrize("seed", range(4))
def test_k_core_matches_a_reference_on_random_logs(tmp_path, seed):
    rng = np.random.default_rng(seed)
    rows = [(int(u), int(i), t) for t, (u, i) in enumerate(
        zip(rng.integers(0, 40, 300), rng.zipf(1.6, 300) % 60))]
    expected = _reference_k_core(rows, 4, 3)
    options = BuildOptions(min_user_interactions=4, min_item_interactions=3)
    if not expected:
        with pytest.raises(BuildError):
            build(make_raw(rows), tmp_path / "d", options, progress=False)
        return
    build(make_raw(rows), tmp_path / "d", options, progress=False)
    got = sorted((int(u), int(i)) for u, rec in by_user(tmp_path / "d").items()
                 for i in rec["raw_items"])
    assert got == sorted((u, i) for u, i, _ in expected)


def test_min_sequence_length_drops_short_users_and_keeps_items_k_core(tmp_path):
    meta = build(make_raw(CHAIN), tmp_path / "d",
                 BuildOptions(min_item_interactions=2, min_sequence_length=2), progress=False)
    assert (meta.num_users, meta.num_interactions, meta.shortest_sequence) == (2, 4, 2)


def test_rating_threshold_keeps_ratings_at_or_above(tmp_path):
    raw = make_raw([(1, "a", 1, 1.0), (1, "b", 2, 4.0), (1, "c", 3, 5.0), (1, "d", 4, 3.5),
                    (1, "e", 5, np.nan)])
    build(raw, tmp_path / "d", BuildOptions(rating_threshold=4.0), progress=False)
    assert by_user(tmp_path / "d")["1"]["raw_items"] == ["b", "c"]


def test_rating_threshold_without_ratings_is_an_error(tmp_path):
    with pytest.raises(BuildError, match="no ratings"):
        build(make_raw([(1, "a", 1)]), tmp_path / "d", BuildOptions(rating_threshold=3),
              progress=False)


@pytest.mark.parametrize("dedupe,items,times", [("keep", ["x", "y", "x"], [1, 3, 5]),
                                                 ("first", ["x", "y"], [1, 3])])
def test_dedupe(tmp_path, dedupe, items, times):
    raw = make_raw([(1, "x", 5), (1, "y", 3), (1, "x", 1), (2, "x", 2)])
    build(raw, tmp_path / "d", BuildOptions(dedupe=dedupe), progress=False)
    record = by_user(tmp_path / "d")["1"]
    assert record["raw_items"] == items and record[schema.TIMESTAMPS] == times


GENRE_ITEMS = pd.DataFrame(
    {"title": ["One", "Two", "Three\twith tab"],
     "genres": [["Action"], ["Drama"], ["Action", "Comedy"]]},
    index=pd.Index([1, 2, 3], name="item"))


def test_favorite_genre_counts_each_interaction_and_breaks_ties_by_vocabulary(tmp_path):
    raw = make_raw([(1, 1, 1), (1, 2, 2),              # Action 1, Drama 1: tie -> Drama first
                    (2, 1, 1), (2, 3, 2),              # Action 2, Comedy 1
                    (3, 4, 1),                         # item 4 has no genres -> missing
                    (4, 2, 1), (4, 1, 2), (4, 1, 3)],  # repeats count: Action 2, Drama 1
                   items=GENRE_ITEMS, genre_vocabulary=["Drama", "Action", "Comedy"])
    meta = build(raw, tmp_path / "d", progress=False)
    assert meta.labels["favorite_genre"] == ["Drama", "Action", "Comedy"]
    labels = {u: r["favorite_genre"] for u, r in by_user(tmp_path / "d").items()}
    assert labels == {"1": 0, "2": 1, "3": schema.MISSING_LABEL, "4": 1}


def test_genre_vocabulary_defaults_to_sorted_names(tmp_path):
    raw = make_raw([(1, 1, 1), (1, 2, 2)], items=GENRE_ITEMS)
    meta = build(raw, tmp_path / "d", progress=False)
    assert meta.labels["favorite_genre"] == ["Action", "Comedy", "Drama"]
    assert by_user(tmp_path / "d")["1"]["favorite_genre"] == 0  # tie: Action before Drama


def test_items_tsv_has_one_row_per_item_index(tmp_path):
    raw = make_raw([(1, 3, 1), (1, 1, 2), (1, 9, 3)], items=GENRE_ITEMS)
    meta = build(raw, tmp_path / "d", progress=False)
    assert meta.item_titles and meta.item_genres
    assert (tmp_path / "d" / schema.ITEM_INFO_FILE).read_text().splitlines() == [
        "item\traw_id\ttitle\tgenres", "1\t1\tOne\tAction", "2\t3\tThree with tab\tAction|Comedy",
        "3\t9\t\t"]


def test_user_labels_missing_become_minus_one(tmp_path):
    users = pd.DataFrame({"gender": ["M", "F", None], "occupation": ["writer", "", "artist"]},
                         index=pd.Index([1, 2, 3], name="user"))
    raw = make_raw([(1, "a", 1), (2, "a", 2), (3, "a", 3), (4, "a", 4)], users=users)
    meta = build(raw, tmp_path / "d", progress=False)
    assert meta.labels == {"gender": ["F", "M"], "occupation": ["artist", "writer"]}
    got = {u: (r["gender"], r["occupation"]) for u, r in by_user(tmp_path / "d").items()}
    assert got == {"1": (1, 1), "2": (0, -1), "3": (-1, 0), "4": (-1, -1)}


def test_no_side_tables_means_no_labels_and_no_items_tsv(tmp_path):
    meta = build(make_raw([(1, "a", 1)], has_timestamps=False), tmp_path / "d", progress=False)
    assert meta.labels == {} and not meta.has_timestamps
    assert not (tmp_path / "d" / schema.ITEM_INFO_FILE).exists()
    record = read_shards(tmp_path / "d")[0][1][0]
    assert set(record) == {schema.USER_ID, schema.ITEM_IDS}


def test_users_go_round_robin_to_shards_in_ascending_order(tmp_path):
    raw = make_raw([(u, u % 3, u) for u in range(1, 8)])
    meta = build(raw, tmp_path / "d", BuildOptions(num_shards=3, compression="GZIP"),
                 progress=False)
    assert meta.shards == [f"data-0000{k}-of-00003.tfrecord.gz" for k in range(3)]
    shards = read_shards(tmp_path / "d")
    assert [[r[schema.USER_ID] for r in recs] for _, recs in shards] == [[1, 4, 7], [2, 5], [3, 6]]
    assert build_module.shard_of(np.arange(1, 8), 3).tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_auto_shard_count():
    assert BuildOptions().resolved_num_shards(10) == 1
    assert BuildOptions().resolved_num_shards(20_000_263) == 20
    assert BuildOptions().resolved_num_shards(10 ** 9) == 64
    assert BuildOptions(num_shards=5).resolved_num_shards(10) == 5


def test_metadata_agrees_with_shards(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(int(u), int(i), t) for t, (u, i) in enumerate(
        zip(rng.integers(0, 50, 600), rng.integers(0, 80, 600)))]
    source = tmp_path / "source.txt"
    source.write_text("anything\n")
    raw = make_raw(rows, source_files=[source])
    meta = build(raw, tmp_path / "d", BuildOptions(num_shards=4, min_item_interactions=3),
                 progress=False)
    assert schema.Metadata.load(tmp_path / "d") == meta
    shards = read_shards(tmp_path / "d")
    lengths = [len(r[schema.ITEM_IDS]) for _, recs in shards for r in recs]
    assert meta.shard_records == [len(recs) for _, recs in shards]
    assert meta.num_users == len(lengths) == len(schema.read_vocab(tmp_path / "d",
                                                                   schema.USER_VOCAB_FILE))
    assert meta.num_interactions == sum(lengths) and meta.shortest_sequence == min(lengths)
    items = {i for _, recs in shards for r in recs for i in r[schema.ITEM_IDS]}
    assert items == set(range(1, meta.num_items + 1))
    assert meta.num_items == len(schema.read_vocab(tmp_path / "d"))
    assert meta.sources == [{"path": str(source), "md5": hashlib.md5(b"anything\n").hexdigest()}]
    assert meta.options["min_item_interactions"] == 3 and meta.options["resolved_num_shards"] == 4


def test_dataset_statistics_reads_the_shards(tmp_path):
    users = pd.DataFrame({"gender": ["M", "F"]}, index=pd.Index([1, 2]))
    raw = make_raw([(1, "a", 1), (1, "b", 2), (1, "c", 3), (2, "a", 1), (3, "b", 1)],
                   users=users)
    build(raw, tmp_path / "d", progress=False)
    stats = cli.dataset_statistics(tmp_path / "d")
    assert (stats["users"], stats["items"], stats["interactions"]) == (3, 3, 5)
    assert stats["sequence_length"] == {"min": 1, "median": 1.0, "mean": 5 / 3, "max": 3}
    assert stats["density"] == pytest.approx(5 / 9)
    assert stats["labels"] == {"gender": {"classes": {"F": 1, "M": 1}, "missing": 1}}


def test_dataset_statistics_catches_metadata_that_lies(tmp_path):
    meta = build(make_raw([(1, "a", 1), (1, "b", 2)]), tmp_path / "d", progress=False)
    meta.num_interactions = 3
    meta.save(tmp_path / "d")
    with pytest.raises(schema.MetadataError, match="2 interactions but num_interactions=3"):
        cli.dataset_statistics(tmp_path / "d")


def _leftovers(parent: Path):
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def _raise(*args):
    raise RuntimeError("disk full")


def test_error_while_writing_leaves_nothing(tmp_path, monkeypatch):
    calls = itertools.count()

    def failing(*args):
        if next(calls) == 2:
            raise RuntimeError("disk full")
        return original(*args)

    original = build_module.serialize_user
    monkeypatch.setattr(build_module, "serialize_user", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        build(make_raw([(u, "a", u) for u in range(5)]), tmp_path / "d", progress=False)
    assert not (tmp_path / "d").exists() and _leftovers(tmp_path) == []


def test_existing_output_is_refused_or_replaced(tmp_path, monkeypatch):
    out = tmp_path / "d"
    build(make_raw([(1, "a", 1)]), out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(BuildError, match="already exists"):
        build(make_raw([(1, "a", 1), (2, "b", 2)]), out, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    with monkeypatch.context() as patch:
        patch.setattr(build_module, "write_side_files", _raise)
        with pytest.raises(RuntimeError, match="disk full"):
            build(make_raw([(1, "a", 1), (2, "b", 2)]), out, progress=False, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _leftovers(tmp_path) == []

    meta = build(make_raw([(1, "a", 1), (2, "b", 2)]), out, progress=False, overwrite=True)
    assert meta.num_users == 2 and schema.Metadata.load(out).num_users == 2
    assert _leftovers(tmp_path) == []


def test_overwrite_refuses_a_folder_that_is_not_a_dataset(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("keep me")
    with pytest.raises(BuildError, match="not a dataset"):
        build(make_raw([(1, "a", 1)]), tmp_path / "home", progress=False, overwrite=True)
    assert (tmp_path / "home" / "notes.txt").read_text() == "keep me"


def test_empty_after_filtering_reports_each_step(tmp_path):
    raw = make_raw([(1, "a", 1, 5.0), (1, "a", 2, 5.0), (2, "b", 3, 1.0)])
    options = BuildOptions(rating_threshold=4, dedupe="first", min_user_interactions=2)
    with pytest.raises(BuildError) as err:
        build(raw, tmp_path / "d", options, progress=False)
    assert str(err.value) == ("no interactions left after filtering: read: 3, rating >= 4: 2, "
                              "dedupe first: 1, k-core (users >= 2, items >= 0): 0")
    assert not (tmp_path / "d").exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("change,message", [
    (lambda df: df.drop(columns="item"), r"lack column\(s\) \['item'\]"),
    (lambda df: df.assign(user=[1, None]), r"row 1 \(0-based\): user is missing"),
    (lambda df: df.assign(timestamp=[1.5, 2.0]), "timestamp must be int64"),
])
def test_bad_interactions_are_named(tmp_path, change, message):
    raw = make_raw([(1, "a", 1), (2, "b", 2)])
    raw.interactions = change(raw.interactions)
    with pytest.raises(BuildError, match=message):
        build(raw, tmp_path / "d", progress=False)


def test_bad_options_are_rejected():
    with pytest.raises(BuildError, match="dedupe"):
        BuildOptions(dedupe="last")
    with pytest.raises(BuildError, match="compression"):
        BuildOptions(compression="ZLIB")
    with pytest.raises(BuildError, match="num_shards"):
        BuildOptions(num_shards=0)


def test_unknown_genre_is_named(tmp_path):
    raw = make_raw([(1, 1, 1)], items=GENRE_ITEMS, genre_vocabulary=["Action", "Drama"])
    with pytest.raises(BuildError, match=r"item 3 has genre\(s\) \['Comedy'\]"):
        build(raw, tmp_path / "d", progress=False)


def test_movielens_100k_unfiltered(tmp_path, shared_data):
    ratings = pd.read_csv(shared_data / "ml-100k" / "u.data", sep="\t",
                          names=["user", "item", "rating", "timestamp"])
    raw = RawDataset(interactions=ratings, source_format="movielens-100k",
                     source_files=[shared_data / "ml-100k" / "u.data"])
    meta = build(raw, tmp_path / "d", progress=False)
    assert (meta.num_users, meta.num_items, meta.num_interactions) == (943, 1682, 100_000)
    assert meta.sources[0]["md5"] == "6e47046882bad158b0efbb84cd5cb987"


def test_beauty_keeps_its_ids(tmp_path, shared_data):
    rows = [(int(user), int(item), position)
            for line in (shared_data / "beauty" / "Beauty.txt").read_text().splitlines()
            for user, *items in [line.split()] for position, item in enumerate(items)]
    raw = RawDataset(interactions=pd.DataFrame(rows, columns=["user", "item", "timestamp"]),
                     source_format="sequence-text", source_files=[], has_timestamps=False)
    meta = build(raw, tmp_path / "d", progress=False)
    assert (meta.num_users, meta.num_items, meta.num_interactions) == (22_363, 12_101, 198_502)
    assert schema.read_vocab(tmp_path / "d") == [str(i) for i in range(1, 12_102)]
    assert schema.read_vocab(tmp_path / "d", schema.USER_VOCAB_FILE) == [
        str(u) for u in range(1, 22_364)]


def test_cli_builds_and_prints_statistics(tmp_path, capsys):
    pytest.importorskip("tfrecords_builder.readers")
    source = tmp_path / "log.csv"
    source.write_text("u,i,t\n1,a,3\n1,b,1\n2,a,2\n")
    code = cli.main(["--format", "table", "--input", str(source), "--output",
                     str(tmp_path / "d"), "--user-col", "u", "--item-col", "i",
                     "--time-col", "t", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "users         2" in out and "interactions  3" in out
    assert by_user(tmp_path / "d")["1"]["raw_items"] == ["b", "a"]


def test_cli_malformed_input_exits_2_with_the_line(tmp_path):
    pytest.importorskip("tfrecords_builder.readers")
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "u.data").write_text("1\t2\t5\t100\n1\t3\t4\n")
    result = subprocess.run(
        [sys.executable, "-m", "tfrecords_builder", "--format", "movielens-100k",
         "--input", str(tmp_path / "ml"), "--output", str(tmp_path / "d")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr and "u.data line 2" in result.stderr
    assert not (tmp_path / "d").exists()


def test_overwrite_replaces_only_what_the_builder_wrote(tmp_path):
    out = tmp_path / "d"
    build(make_raw([(1, "a", 1), (2, "b", 2)]), out, BuildOptions(num_shards=2), progress=False)
    (out / "notes.txt").write_text("keep me")
    (out / "plots").mkdir()
    (out / "plots" / "a.png").write_bytes(b"png")
    meta = build(make_raw([(1, "a", 1)]), out, progress=False, overwrite=True)
    assert meta.shards == ["data-00000-of-00001.tfrecord"]
    assert sorted(p.name for p in out.iterdir()) == [
        "data-00000-of-00001.tfrecord", "item_vocab.txt", "metadata.json", "notes.txt", "plots",
        "user_vocab.txt"]  # the old two shards are gone, the user's files are not
    assert (out / "notes.txt").read_text() == "keep me"
    assert (out / "plots" / "a.png").read_bytes() == b"png"
    assert _leftovers(tmp_path) == []


def test_staging_folders_of_killed_builds_are_removed_and_reported(tmp_path, capsys):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # a pid whose process is gone
    dead = tmp_path / f"d.tmp-{finished.pid}-0badc0de"
    dead.mkdir()
    (dead / "data-00000-of-00001.tfrecord").write_bytes(b"half")
    alive = tmp_path / f"d.tmp-{os.getpid()}-c0ffee00"  # a build still running
    alive.mkdir()
    other = tmp_path / f"other.tmp-{finished.pid}-0badc0de"  # another output's: not ours
    other.mkdir()
    build(make_raw([(1, "a", 1)]), tmp_path / "d", progress=False)
    assert not dead.exists() and alive.is_dir() and other.is_dir()
    err = capsys.readouterr().err
    assert f"removed {dead}" in err and f"process {finished.pid} is gone" in err


def test_flipped_shard_bytes_fail_verification_with_rebuild(tmp_path, capsys):
    out = tmp_path / "d"
    meta = build(make_raw([(u, "a", u) for u in range(1, 30)]), out, progress=False)
    shard = out / meta.shards[0]
    assert meta.shard_crc32 == [schema.shard_checksum(shard)]
    assert cli.main(["--verify", str(out)]) == 0
    assert "checksums match" in capsys.readouterr().out
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    loaded = schema.Metadata.load(out)  # same size: opening stays cheap and passes
    with pytest.raises(schema.MetadataError, match=f"{shard}: .*damaged, rebuild the dataset"):
        loaded.verify_shards(out)
    assert cli.main(["--verify", str(out)]) == 2
    assert "damaged, rebuild" in capsys.readouterr().err
    # A dataset written before checksums still opens and verifies by size only.
    loaded.shard_crc32 = []
    loaded.save(out)
    schema.Metadata.load(out).verify_shards(out)


@pytest.mark.parametrize("num_items", [1, 5])
def test_num_items_that_disagrees_with_the_vocabulary_is_refused(tmp_path, num_items):
    out = tmp_path / "d"
    meta = build(make_raw([(1, "a", 1), (1, "b", 2), (2, "c", 1)]), out, progress=False)
    meta.num_items = num_items
    meta.save(out)
    with pytest.raises(schema.MetadataError,
                       match=f"num_items is {num_items} but item_vocab.txt lists 3 items"):
        schema.Metadata.load(out)


def test_item_ids_beyond_num_items_are_refused_where_the_shards_are_read(tmp_path):
    out = tmp_path / "d"
    meta = build(make_raw([(1, "a", 1), (1, "b", 2), (2, "c", 1)]), out, progress=False)
    meta.num_items = 2  # metadata and vocabulary agree with each other, not with the shards
    meta.save(out)
    (out / schema.ITEM_VOCAB_FILE).write_text("a\nb\n")
    with pytest.raises(schema.MetadataError, match=r"the shards hold item ids 1..3, outside "
                                                   r"1..2 \(num_items in metadata.json\); "
                                                   r"rebuild the dataset"):
        read_records(out)
    # The bytes are intact, but --verify reads the records too.
    assert cli.main(["--verify", str(out)]) == 2


@pytest.mark.parametrize("field, value, message", [
    ("num_interactions", 4, "3 interactions but num_interactions=4"),
    ("num_items", 4, "the largest item id is 3 but num_items=4")])
def test_verify_checks_metadata_against_the_records(tmp_path, capsys, field, value, message):
    out = tmp_path / "d"
    meta = build(make_raw([(1, "a", 1), (1, "b", 2), (2, "c", 1)]), out, progress=False)
    setattr(meta, field, value)
    meta.save(out)  # checksums and sizes still match: only the counts lie
    if field == "num_items":
        (out / schema.ITEM_VOCAB_FILE).write_text("a\nb\nc\nd\n")
    assert cli.main(["--verify", str(out)]) == 2
    err = capsys.readouterr().err
    assert "shards disagree with metadata.json" in err and message in err


def test_cli_encoding_option_is_checked_and_passed_to_text_readers(tmp_path, capsys):
    source = tmp_path / "seq.txt"
    source.write_bytes("1 café thé\n2 thé\n".encode("latin-1"))
    assert cli.main(["--format", "sequence-text", "--input", str(source), "--output",
                     str(tmp_path / "d"), "--encoding", "latin-1", "--quiet"]) == 0
    assert schema.read_vocab(tmp_path / "d") == ["café", "thé"]
    with pytest.raises(SystemExit):
        cli.main(["--format", "sequence-text", "--input", str(source), "--output",
                  str(tmp_path / "e"), "--encoding", "klingon"])
    assert "argument --encoding: unknown text encoding 'klingon'" in capsys.readouterr().err
