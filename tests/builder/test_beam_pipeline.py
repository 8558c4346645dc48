"""The Beam pipeline (DirectRunner) writes the same bytes as build.build."""

import numpy as np
import pandas as pd
import pytest

import tfbt  # noqa: F401  (before TensorFlow)

pytest.importorskip("apache_beam")

from tfrecords_builder import beam_pipeline  # noqa: E402
from tfrecords_builder.beam_pipeline import run_beam_build  # noqa: E402
from tfrecords_builder.build import BuildError, BuildOptions, build  # noqa: E402
from tfrecords_builder.raw import RawDataset  # noqa: E402

GENRES = ["Drama", "Action", "Comedy", "Horror"]
k_core_round = beam_pipeline._k_core_round


def random_raw(seed: int, num_users: int = 300, string_ids: bool = False,
               has_timestamps: bool = True) -> RawDataset:
    """A log with repeats, timestamp ties, skewed activity and items, ratings, genres (some
    items without) and user attributes (some missing)."""
    rng = np.random.default_rng(seed)
    n = num_users * 12
    users = rng.integers(1, num_users + 1, n) // rng.integers(1, 3, n) + 1
    frame = pd.DataFrame({
        "user": users,
        "item": rng.zipf(1.4, n) % 300 + 1,
        "timestamp": rng.integers(0, 40, n).astype(np.int64),
        "rating": rng.integers(1, 6, n).astype(np.float64),
    })
    item_ids = np.unique(frame["item"])
    genres = [sorted(set(rng.choice(GENRES, rng.integers(0, 3)).tolist())) for _ in item_ids]
    items_table = pd.DataFrame({"title": [f"Item {i}" for i in item_ids], "genres": genres},
                               index=pd.Index(item_ids, name="item")).iloc[5:]
    users_table = pd.DataFrame({"gender": rng.choice(["F", "M", ""], num_users),
                                "age": rng.choice(["18-24", "25-34", "56+"], num_users)},
                               index=pd.Index(np.arange(1, num_users + 1), name="user"))
    if string_ids:
        frame["user"] = "u" + frame["user"].astype(str)
        frame["item"] = "i" + frame["item"].astype(str)
        items_table.index = "i" + items_table.index.astype(str)
        users_table.index = "u" + users_table.index.astype(str)
    return RawDataset(interactions=frame, source_format="test", source_files=[],
                      has_timestamps=has_timestamps, items=items_table,
                      genre_vocabulary=GENRES, users=users_table)


def assert_same_folders(a, b):
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("raw,options,min_rounds", [
    (random_raw(0), BuildOptions(min_user_interactions=5, min_item_interactions=3,
                                 rating_threshold=2, dedupe="first", num_shards=3,
                                 compression="GZIP"), 3),
    (random_raw(1, string_ids=True, has_timestamps=False), BuildOptions(min_sequence_length=8),
     2),
], ids=["k-core-gzip", "string-ids"])
def test_beam_writes_the_same_bytes_as_build(tmp_path, monkeypatch, raw, options, min_rounds):
    rounds = []
    monkeypatch.setattr(beam_pipeline, "_k_core_round",
                        lambda *args: rounds.append(1) or k_core_round(*args))
    local = build(raw, tmp_path / "local", options, progress=False)
    beam = run_beam_build(raw, tmp_path / "beam", options, ["--runner=DirectRunner"])
    assert beam == local
    assert local.labels.keys() == {"favorite_genre", "gender", "age"}
    assert local.num_users > 100 and local.num_interactions < len(raw.interactions)
    # rounds that remove something, then one that removes nothing
    assert len(rounds) >= min_rounds
    assert_same_folders(tmp_path / "local", tmp_path / "beam")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beam", "local"]


def test_beam_reports_an_empty_result_like_build(tmp_path):
    raw = random_raw(2, num_users=20)
    options = BuildOptions(min_user_interactions=10 ** 6)
    with pytest.raises(BuildError) as local_error:
        build(raw, tmp_path / "local", options, progress=False)
    with pytest.raises(BuildError) as beam_error:
        run_beam_build(raw, tmp_path / "beam", options)
    assert str(beam_error.value) == str(local_error.value)
    assert list(tmp_path.iterdir()) == []
