"""The Beam readers (file patterns read on workers) build the same bytes as the local readers."""

import json

import numpy as np
import pandas as pd
import pytest

import tfbt  # noqa: F401  (before TensorFlow)

pytest.importorskip("apache_beam")

from tests.builder.test_beam_pipeline import assert_same_folders  # noqa: E402
from tfrecords_builder import readers  # noqa: E402
from tfrecords_builder.beam_pipeline import run_beam_build  # noqa: E402
from tfrecords_builder.beam_readers import beam_source  # noqa: E402
from tfrecords_builder.build import BuildError, BuildOptions, build  # noqa: E402
from tfrecords_builder.readers import ReaderError  # noqa: E402

OPTIONS = BuildOptions(dedupe="first", num_shards=2)  # k-core: test_beam_pipeline


def random_log(seed: int, n: int = 2000) -> pd.DataFrame:
    """Repeats, timestamp ties, skewed users and items, ratings."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user_id": rng.integers(1, 120, n) // rng.integers(1, 3, n) + 1,
        "item_id": rng.zipf(1.4, n) % 200 + 1,
        "ts": rng.integers(1_000_000_000, 1_000_000_040, n),
        "rating": rng.integers(1, 6, n).astype(float),
    })


def write_yelp(folder, log):
    reviews = folder / "review.json"
    dates = pd.to_datetime(log["ts"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    reviews.write_text("".join(
        json.dumps({"user_id": f"u{u}", "business_id": f"b{i}", "stars": s, "date": d,
                    "text": "..."}) + "\n"
        for u, i, s, d in zip(log["user_id"], log["item_id"], log["rating"], dates)))
    (folder / "business.json").write_text("".join(
        json.dumps({"business_id": f"b{i}", "name": f"Place {i}",
                    "categories": ["Food, Bars", "Bars", None][i % 3]}) + "\n"
        for i in range(1, 201)))
    return reviews, {}


def write_source(folder, fmt, log):
    """Writes ``log`` in ``fmt``; returns (path, reader options)."""
    if fmt == "csv":
        path = folder / "log.csv"
        log.assign(note="a, \"quoted\" note").to_csv(path, index=False)
        return path, {"time_col": "ts", "rating_col": "rating"}
    if fmt == "tsv-iso-times":
        path = folder / "log.tsv"
        log.assign(ts=pd.to_datetime(log["ts"], unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
                   ).to_csv(path, sep="\t", index=False)
        return path, {"time_col": "ts"}
    if fmt == "parquet-row-order":
        path = folder / "log.parquet"
        log.assign(user_id="u" + log["user_id"].astype(str)).to_parquet(path, row_group_size=500)
        return path, {"rating_col": "rating"}
    if fmt == "yelp":
        return write_yelp(folder, log)
    if fmt == "pair-text":
        path = folder / "pairs.txt"
        path.write_text("".join(f"{u} {i}\n" for u, i in zip(log["user_id"], log["item_id"])))
        return path, {}
    path = folder / "sequences.txt"
    lines = log.groupby("user_id", sort=False)["item_id"].apply(
        lambda items: " ".join(map(str, items)))
    path.write_text("".join(f"{u}\t{items}\n\n" for u, items in lines.items()))
    return path, {}


READER = {"csv": "table", "tsv-iso-times": "table", "parquet-row-order": "table",
          "yelp": "yelp", "pair-text": "pair-text", "sequence-text": "sequence-text"}


@pytest.mark.parametrize("fmt", list(READER))
def test_beam_reader_builds_the_same_bytes_as_the_local_reader(tmp_path, fmt):
    path, options = write_source(tmp_path, fmt, random_log(0))
    local = build(readers.read_source(READER[fmt], path, **options), tmp_path / "local",
                  OPTIONS, progress=False)
    beam = run_beam_build(beam_source(READER[fmt], path, **options), tmp_path / "beam", OPTIONS)
    assert beam == local
    assert local.num_users > 50 and local.num_interactions > 500
    assert_same_folders(tmp_path / "local", tmp_path / "beam")


def test_a_pattern_over_several_files_reads_them_in_name_order(tmp_path):
    """Two CSV files (rows in file-name order, with timestamp ties between the files) build
    what the local builder builds from their concatenation, sources aside."""
    log = random_log(1)
    (tmp_path / "parts").mkdir()
    log.iloc[1000:].to_csv(tmp_path / "parts" / "b.csv", index=False)
    log.iloc[:1000].to_csv(tmp_path / "parts" / "a.csv", index=False)
    log.to_csv(tmp_path / "whole.csv", index=False)
    options = {"time_col": "ts", "rating_col": "rating"}
    local = build(readers.read_source("table", tmp_path / "whole.csv", **options),
                  tmp_path / "local", OPTIONS, progress=False)
    beam = run_beam_build(beam_source("table", str(tmp_path / "parts" / "*.csv"), **options),
                          tmp_path / "beam", OPTIONS)
    assert [s["path"] for s in beam.sources] == [str(tmp_path / "parts" / n)
                                                 for n in ("a.csv", "b.csv")]
    beam.sources = local.sources
    assert beam == local
    (tmp_path / "beam" / "metadata.json").unlink()
    (tmp_path / "local" / "metadata.json").unlink()
    assert_same_folders(tmp_path / "local", tmp_path / "beam")


@pytest.mark.parametrize("fmt,content,message", [
    ("pair-text", "1 2\n3\n", r"pairs\.txt line 2: expected 2 whitespace-separated fields"),
    ("sequence-text", "1 2 3\n2 5\n1 4\n", r"line 3: user '1' already has a sequence on line 1"),
    ("table", "user_id,item_id,rating\n1,2,5\n1,3,x\n", r"line 3: expected rating to be a "
                                                         r"number, got 'x'"),
])
def test_a_malformed_file_names_its_line(tmp_path, fmt, content, message):
    path = tmp_path / ("pairs.txt" if fmt == "pair-text" else "log.csv")
    path.write_text(content)
    options = {"rating_col": "rating"} if fmt == "table" else {}
    with pytest.raises(ReaderError, match=message):
        run_beam_build(beam_source(fmt, path, **options), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_bad_patterns_and_options_are_refused_before_any_pipeline(tmp_path):
    with pytest.raises(ReaderError, match=r"no file matches"):
        beam_source("table", str(tmp_path / "*.csv"))
    with pytest.raises(ReaderError, match=r"has no Beam reader"):
        beam_source("movielens-1m", str(tmp_path))
    with pytest.raises(ReaderError, match=r"does not take option\(s\) \['sep'\]"):
        beam_source("pair-text", str(tmp_path), sep=",")
    (tmp_path / "pairs.txt").write_text("1 2\n")
    with pytest.raises(BuildError, match=r"pair-text source has no ratings"):
        run_beam_build(beam_source("pair-text", tmp_path / "pairs.txt"), tmp_path / "out",
                       BuildOptions(rating_threshold=3))


def test_beam_options_are_passed_on_as_beam_flags():
    from tfrecords_builder.cli import beam_pipeline_args

    assert beam_pipeline_args("FlinkRunner", ["flink_master=host:8081", "--parallelism=4"],
                              ["--environment_type=LOOPBACK"]) == [
        "--runner=FlinkRunner", "--flink_master=host:8081", "--parallelism=4",
        "--environment_type=LOOPBACK"]
    with pytest.raises(BuildError, match=r"--beam-option expects KEY=VALUE .* got 'project'"):
        beam_pipeline_args("DirectRunner", ["project"], [])


def test_beam_options_without_beam_are_an_error(tmp_path, capsys):
    from tfrecords_builder import cli

    path, _ = write_source(tmp_path, "pair-text", random_log(0, n=50))
    assert cli.main(["--format", "pair-text", "--input", str(path), "--output",
                     str(tmp_path / "out"), "--", "--direct_num_workers=2"]) == 2
    assert capsys.readouterr().err == ("tfbt build: error: --beam-option and arguments after "
                                       "`--` are Beam pipeline options; add --beam\n")


def test_a_worker_error_reported_as_text_becomes_one_line():
    """Multi-process and remote runners report a worker's exception as its traceback's text."""
    from tfrecords_builder.beam_pipeline import _worker_error

    err = RuntimeError("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
                       "tfrecords_builder.readers.ReaderError: a.csv line 3: expected rating to "
                       "be a number, got 'x' [while running 'ReadFile']\n\n")
    cause = _worker_error(err)
    assert type(cause) is ReaderError
    assert str(cause) == "a.csv line 3: expected rating to be a number, got 'x'"
    assert _worker_error(RuntimeError("worker lost")) is None


@pytest.mark.slow
def test_cli_on_the_direct_runner_with_two_worker_processes(tmp_path, capsys):
    """``tfbt build --beam`` with two worker processes builds the local builder's bytes; the
    options reach Beam through --beam-option and after ``--``."""
    from tfrecords_builder import cli

    log = random_log(2)
    (tmp_path / "parts").mkdir()
    log.iloc[:900].to_csv(tmp_path / "parts" / "part-0.csv", index=False)
    log.iloc[900:].to_csv(tmp_path / "parts" / "part-1.csv", index=False)
    log.to_csv(tmp_path / "whole.csv", index=False)
    common = ["--format", "table", "--time-col", "ts", "--rating-col", "rating",
              "--dedupe", "first", "--num-shards", "3", "--compression", "GZIP"]
    assert cli.main([*common, "--input", str(tmp_path / "whole.csv"), "--output",
                     str(tmp_path / "local")]) == 0
    assert cli.main([*common, "--input", str(tmp_path / "parts" / "part-*.csv"), "--output",
                     str(tmp_path / "beam"), "--beam",
                     "--beam-option", "direct_running_mode=multi_processing",
                     "--", "--direct_num_workers=2"]) == 0
    local = json.loads((tmp_path / "local" / "metadata.json").read_text())
    beam = json.loads((tmp_path / "beam" / "metadata.json").read_text())
    assert len(beam.pop("sources")) == 2 and len(local.pop("sources")) == 1
    assert beam == local
    (tmp_path / "beam" / "metadata.json").unlink()
    (tmp_path / "local" / "metadata.json").unlink()
    assert_same_folders(tmp_path / "local", tmp_path / "beam")


@pytest.mark.parametrize("fmt", ["pair-text", "sequence-text"])
def test_header_is_skipped_as_the_local_reader_skips_it(tmp_path, fmt):
    path, _ = write_source(tmp_path, fmt, random_log(2))
    path.write_text("user items\n" + path.read_text())
    local = build(readers.read_source(fmt, path, header=True), tmp_path / "local", OPTIONS,
                  progress=False)
    beam = run_beam_build(beam_source(fmt, path, header=True), tmp_path / "beam", OPTIONS)
    assert beam == local
    assert_same_folders(tmp_path / "local", tmp_path / "beam")
