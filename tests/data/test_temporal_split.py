"""The temporal protocol (BT-SR authors'): the rule on known timestamps, and the pipeline,
popularity and twins built on it from a dataset with timestamps."""

import numpy as np
import pandas as pd
import pytest

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt import data
from tfbt.data import btsr_pairs, splits
from tfrecords_builder.build import build
from tfrecords_builder.raw import RawDataset
from tfrecords_builder.records import read_records

USERS = [1, 2, 3, 4]
SEQUENCES = [[1, 2, 3, 4], [2, 3, 5, 1, 2, 3], [1, 2], [7, 1]]
TIMES = [[1, 2, 3, 4], [1, 2, 3, 9, 10, 11], [5, 6], [8, 12]]
# All 14 timestamps sorted: 1 1 2 2 3 3 4 5 6 8 9 10 11 12; the nearest 0.75 quantile
# (position 9.75 -> 10) is 9.
NO_FILTERS = dict(min_item_count=0, min_user_count=0)


def split(**options):
    return splits.temporal_split(USERS, [np.array(s) for s in SEQUENCES],
                                 [np.array(t) for t in TIMES],
                                 splits.TemporalOptions(quantile=0.75, **options))


def as_lists(sequences):
    return {user: list(items) for user, items in sequences.items()}


def test_cut_training_and_after_cut_sequences():
    part = split(**NO_FILTERS)
    assert part.cut == 9
    # Users 2 and 4 have interactions at or after the cut: they do not train (authors' code).
    assert as_lists(part.train) == {1: [1, 2, 3, 4], 3: [1, 2]}
    # User 4 has one after-cut interaction: nothing to validate and test on.
    assert as_lists(part.eval) == {2: [1, 2, 3]}
    users, histories, targets = part.history_and_target("valid")
    assert users == [2] and [list(h) for h in histories] == [[1]] and list(targets) == [2]
    users, histories, targets = part.history_and_target("test")
    assert [list(h) for h in histories] == [[1, 2]] and list(targets) == [3]


def test_all_users_train_before_the_cut_and_unknown_items_leave_the_evaluation():
    part = split(train_users="all", **NO_FILTERS)
    assert as_lists(part.train) == {1: [1, 2, 3, 4], 2: [2, 3, 5], 3: [1, 2], 4: [7]}
    assert as_lists(part.eval) == {2: [1, 2, 3]}
    # Item 6 never trains, so an after-cut 6 is dropped from the evaluation sequence.
    part = splits.temporal_split([1, 2], [np.array([1, 2, 3]), np.array([1, 6, 2, 3])],
                                 [np.array([1, 2, 3]), np.array([1, 9, 10, 11])],
                                 splits.TemporalOptions(quantile=0.6, **NO_FILTERS))
    assert part.cut == 9 and as_lists(part.eval) == {}


def test_filters_drop_rare_items_then_short_users_before_the_cut():
    part = split(min_item_count=2, min_user_count=3)
    # Items 4, 5, 7 occur once; then users 3 ([1, 2]) and 4 ([1]) are too short. The cut over
    # what is left (1 1 2 2 3 9 10 11) is again 9.
    assert part.cut == 9
    assert as_lists(part.train) == {1: [1, 2, 3]}
    assert as_lists(part.eval) == {2: [1, 2, 3]}


def test_bad_options_and_inputs_are_named():
    with pytest.raises(ValueError, match="quantile"):
        splits.TemporalOptions(quantile=1.0)
    with pytest.raises(ValueError, match="train_users"):
        splits.TemporalOptions(train_users="some")
    with pytest.raises(ValueError, match="user 1 has 2 items and 1 timestamps"):
        splits.temporal_split([1], [np.array([1, 2])], [np.array([1])])
    with pytest.raises(ValueError, match="no user is left"):
        split(min_item_count=100)


@pytest.fixture(scope="module")
def timed(tmp_path_factory):
    """A built dataset with timestamps: 30 users, items named after a cycle."""
    rng = np.random.default_rng(0)
    rows = []
    for user in range(30):
        start = int(rng.integers(0, 50))
        for step in range(int(rng.integers(4, 12))):
            rows.append((f"u{user}", f"i{(user + step) % 9}", start + 7 * step))
    frame = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    frame["rating"] = np.nan
    raw = RawDataset(interactions=frame, source_format="test", source_files=[],
                     has_timestamps=True, items=None, genre_vocabulary=None, users=None)
    out = tmp_path_factory.mktemp("timed") / "dataset"
    build(raw, out, progress=False)
    return out


def test_pipeline_popularity_and_twins_follow_the_temporal_split(timed):
    options = splits.TemporalOptions(quantile=0.8, min_item_count=0, min_user_count=0)
    records = read_records(timed, timestamps=True)
    bounds = list(zip(records.offsets[:-1], records.offsets[1:]))
    expected = splits.temporal_split(records.user_id, [records.items[a:b] for a, b in bounds],
                                     [records.timestamps[a:b] for a, b in bounds], options)
    assert expected.train and expected.eval

    batches = list(data.make_dataset(timed, mode="next_item", batch_size=7, max_len=20,
                                     temporal=options))
    got = {int(u): (list(i[i > 0]), list(p[p > 0])) for b in batches for u, i, p in
           zip(b["user_id"].numpy(), b["items"].numpy(), b["positives"].numpy())}
    assert got == {u: (list(s[:-1]), list(s[1:])) for u, s in expected.train.items()
                   if len(s) >= 2}
    for split_name in ("valid", "test"):
        users, histories, targets = expected.history_and_target(split_name)
        batch = next(iter(data.make_dataset(timed, mode="eval", split=split_name,
                                            batch_size=100, max_len=20, temporal=options)))
        assert batch["user_id"].numpy().tolist() == users
        assert batch["target"].numpy().tolist() == targets.tolist()
        assert [list(s) for s in batch["seen"].numpy()] == [list(h) for h in histories]

    counts = data.item_counts(timed, temporal=options)
    np.testing.assert_array_equal(counts, np.bincount(np.concatenate(list(
        expected.train.values())), minlength=counts.size))
    index = btsr_pairs.TwinIndex.from_dataset(timed, temporal=options)
    assert index.num_occurrences == sum(len(s) >= 2 for s in expected.train.values())
    with pytest.raises(ValueError, match="labels"):
        data.make_dataset(timed, labels=("x",), temporal=options)
