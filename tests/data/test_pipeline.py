"""The input pipeline: leave-one-out splits, truncation, padding, labels, determinism."""

import numpy as np
import pytest
import tensorflow as tf

from tfbt import data
from tfrecords_builder import schema
from tfrecords_builder.schema import Metadata, MetadataError

SEQUENCES = {  # user -> items
    1: [1, 2, 3, 4, 5, 6],
    2: [7, 8, 9],
    3: [2, 4],  # too short for training and validation, enough for test
    4: [9, 8, 7, 6, 5, 4, 3, 2, 1],
}
GENRE = {1: 0, 2: 1, 3: 1, 4: -1}


def _example(user, items):
    feature = {
        schema.USER_ID: tf.train.Feature(int64_list=tf.train.Int64List(value=[user])),
        schema.ITEM_IDS: tf.train.Feature(int64_list=tf.train.Int64List(value=items)),
        "favorite_genre": tf.train.Feature(int64_list=tf.train.Int64List(value=[GENRE[user]])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture()
def tiny(tmp_path):
    shards = ["data-00000-of-00002.tfrecord", "data-00001-of-00002.tfrecord"]
    for index, shard in enumerate(shards):
        with tf.io.TFRecordWriter(str(tmp_path / shard)) as writer:
            for user, items in SEQUENCES.items():
                if (user - 1) % 2 == index:
                    writer.write(_example(user, items))
    Metadata(num_users=4, num_items=9, num_interactions=20, shards=shards, shard_records=[2, 2],
             labels={"favorite_genre": ["a", "b"]}).save(tmp_path)
    return tmp_path


def _collect(ds):
    rows = {}
    for batch in ds:
        for i, user in enumerate(batch["user_id"].numpy()):
            rows[int(user)] = {k: (v[i].numpy() if not isinstance(v, tf.RaggedTensor)
                                   else v[i].numpy()) for k, v in batch.items()}
    return rows


def test_left_pad_takes_ragged_tensors_and_lists_of_arrays_alike():
    arrays = [np.array([1, 2, 3, 4]), np.array([5]), np.array([], np.int64)]
    np.testing.assert_array_equal(data.left_pad(arrays, 3), [[2, 3, 4], [0, 0, 5], [0, 0, 0]])


def test_left_pad_keeps_most_recent_items():
    padded = data.left_pad(tf.ragged.constant([[1, 2, 3, 4], [5], []]), 3)
    np.testing.assert_array_equal(padded, [[2, 3, 4], [0, 0, 5], [0, 0, 0]])


def test_sequence_mode_drops_the_last_two_items(tiny):
    rows = _collect(data.make_dataset(tiny, mode="sequence", max_len=5, batch_size=3,
                                      labels=["favorite_genre"]))
    assert sorted(rows) == [1, 2, 4]  # user 3 has no training items
    np.testing.assert_array_equal(rows[1]["items"], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(rows[2]["items"], [0, 0, 0, 0, 7])
    np.testing.assert_array_equal(rows[4]["items"], [7, 6, 5, 4, 3])  # truncated to last 5
    assert rows[1]["favorite_genre"] == 0 and rows[4]["favorite_genre"] == -1


def test_next_item_mode_aligns_inputs_with_positives(tiny):
    rows = _collect(data.make_dataset(tiny, mode="next_item", max_len=4, batch_size=8))
    assert sorted(rows) == [1, 4]
    np.testing.assert_array_equal(rows[1]["items"], [0, 1, 2, 3])
    np.testing.assert_array_equal(rows[1]["positives"], [0, 2, 3, 4])
    np.testing.assert_array_equal(rows[4]["items"], [7, 6, 5, 4])
    np.testing.assert_array_equal(rows[4]["positives"], [6, 5, 4, 3])


@pytest.mark.parametrize("split,targets", [("valid", {1: 5, 2: 8, 4: 2}),
                                           ("test", {1: 6, 2: 9, 3: 4, 4: 1})])
def test_eval_mode_holds_out_the_right_target(tiny, split, targets):
    rows = _collect(data.make_dataset(tiny, mode="eval", split=split, max_len=3, batch_size=8))
    assert {u: int(r["target"]) for u, r in rows.items()} == targets
    history = SEQUENCES[1][:-2] if split == "valid" else SEQUENCES[1][:-1]
    np.testing.assert_array_equal(rows[1]["seen"], history)  # untruncated
    np.testing.assert_array_equal(rows[1]["items"], history[-3:])


def test_seeded_shuffle_is_reproducible_and_covers_every_user(tiny):
    def order(seed):
        ds = data.make_dataset(tiny, mode="sequence", max_len=4, batch_size=1, shuffle=True,
                               seed=seed)
        return [int(b["user_id"][0]) for b in ds]

    assert order(3) == order(3)
    assert sorted(order(3)) == [1, 2, 4]


def test_bad_arguments_and_metadata_are_reported(tiny):
    with pytest.raises(ValueError, match="mode"):
        data.make_dataset(tiny, mode="nope")
    with pytest.raises(ValueError, match="split"):
        data.make_dataset(tiny, mode="eval", split="train")
    with pytest.raises(ValueError, match="labels"):
        data.make_dataset(tiny, labels=["gender"])
    (tiny / "data-00001-of-00002.tfrecord").unlink()
    with pytest.raises(MetadataError, match="missing"):
        data.make_dataset(tiny)


def test_truncated_shard_fails_loudly(tiny):
    shard = tiny / "data-00000-of-00002.tfrecord"
    meta = data.load_metadata(tiny)
    meta.shard_bytes = [(tiny / name).stat().st_size for name in meta.shards]
    meta.save(tiny)
    shard.write_bytes(shard.read_bytes()[:-7])
    with pytest.raises(MetadataError, match="data-00000-of-00002.tfrecord.*truncated"):
        data.make_dataset(tiny, mode="sequence", batch_size=1)
    meta.shard_bytes = []
    meta.save(tiny)  # sizes unknown: TensorFlow's own check still stops the read
    with pytest.raises(tf.errors.DataLossError):
        for _ in data.make_dataset(tiny, mode="sequence", batch_size=1):
            pass


def test_item_counts_exclude_held_out_items(tiny):
    counts = data.item_counts(tiny)
    expected = np.zeros(10, dtype=np.int64)
    for items in SEQUENCES.values():
        for item in items[:-2]:
            expected[item] += 1
    np.testing.assert_array_equal(counts, expected)


@pytest.mark.parametrize("mode, split, drop_remainder", [
    ("next_item", "train", False), ("next_item", "train", True), ("eval", "valid", False),
    ("sequence", "train", False)])
def test_batch_count_is_known_before_the_first_epoch(synthetic_data, mode, split,
                                                    drop_remainder):
    """Keras reads the cardinality: a known one shows "N/N" steps in the first epoch."""
    path = synthetic_data(num_users=70, num_items=30, mean_length=12)
    dataset = data.make_dataset(path, mode=mode, split=split, batch_size=16,
                                drop_remainder=drop_remainder)
    expected = 70 // 16 if drop_remainder else 5
    assert int(dataset.cardinality()) == expected
    assert sum(1 for _ in dataset) == expected
    assert int(data.make_dataset(path, batch_size=16, repeat=True).cardinality()) == int(
        tf.data.INFINITE_CARDINALITY)
