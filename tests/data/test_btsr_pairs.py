"""BT-SR twins: same next item, never the user, only training data, seeded, new every epoch;
the authors' last-item policy with its self fallback, and today's any-prefix/skip."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt import data
from tfbt.data import btsr_pairs as twins
from tfrecords_builder import schema
from tfrecords_builder.schema import Metadata

HELD_OUT = 9  # every user's validation and test item: must never reach a twin
SEQUENCES = {  # user -> stored sequence; training part = all but the last two items
    1: [1, 2, 3, 4, HELD_OUT, HELD_OUT],   # target 4
    2: [5, 4, 2, 3, HELD_OUT, HELD_OUT],   # target 3
    3: [2, 4, 6, HELD_OUT, HELD_OUT],      # target 6: nobody else has 6 -> no twin
    4: [7, 3, 4, 8, HELD_OUT, HELD_OUT],   # target 8: unique -> no twin
    5: [4, 1, 4, HELD_OUT, HELD_OUT],      # target 4 (and its first 4 has no prefix)
}
# Prefixes followed by item 4 in the training parts, by owner.
PREFIXES_BEFORE_4 = {1: (1, 2, 3), 2: (5,), 3: (2,), 4: (7, 3), 5: (4, 1)}
PREFIXES_BEFORE_3 = {1: (1, 2), 4: (7,)}  # user 2's own (5, 4, 2) is excluded for user 2


@pytest.fixture()
def tiny(tmp_path):
    shard = "data-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(tmp_path / shard)) as writer:
        for user, items in SEQUENCES.items():
            feature = {schema.USER_ID: tf.train.Feature(int64_list=tf.train.Int64List(
                value=[user])), schema.ITEM_IDS: tf.train.Feature(
                    int64_list=tf.train.Int64List(value=items))}
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feature)).SerializeToString())
    Metadata(num_users=5, num_items=9, num_interactions=sum(map(len, SEQUENCES.values())),
             shards=[shard], shard_records=[5]).save(tmp_path)
    return tmp_path


def unpad(row):
    return tuple(int(i) for i in row if i != 0)


def draw(index, users, targets, seed, max_len=4):
    twin_items, has_twin = index.sample(tf.constant(users), tf.constant(targets), max_len,
                                        tf.constant(seed, tf.int64))
    return twin_items.numpy(), has_twin.numpy()


def test_twins_are_other_users_prefixes_followed_by_the_target(tiny):
    index = twins.TwinIndex.from_dataset(tiny, policy="any-prefix")
    seen = collections.defaultdict(collections.Counter)
    for step in range(200):
        twin_items, has_twin = draw(index, [1, 5, 2, 3, 4], [4, 4, 3, 6, 8], [0, step])
        np.testing.assert_array_equal(has_twin, [True, True, True, False, False])
        np.testing.assert_array_equal(twin_items[3:], 0)
        for user, row in zip((1, 5, 2), twin_items):
            seen[user][unpad(row)] += 1
    assert set(seen[1]) == {p for u, p in PREFIXES_BEFORE_4.items() if u != 1}
    assert set(seen[5]) == {p for u, p in PREFIXES_BEFORE_4.items() if u != 5}
    assert set(seen[2]) == set(PREFIXES_BEFORE_3.values())
    assert min(seen[1].values()) > 25  # about uniform: 50 expected for each of 4


def test_twins_are_left_padded_and_truncated_to_max_len(tiny):
    index = twins.TwinIndex.from_dataset(tiny, policy="any-prefix")
    for step in range(50):
        twin_items, _ = draw(index, [5], [4], [1, step], max_len=2)
        row = twin_items[0].tolist()
        assert row in ([2, 3], [0, 5], [0, 2], [7, 3])  # (1, 2, 3) keeps its last two items
        assert HELD_OUT not in row


def test_has_twin_is_false_exactly_when_no_other_user_has_the_target(tiny):
    index = twins.TwinIndex.from_dataset(tiny, policy="any-prefix")
    users = [1, 1, 1, 1, 1, 1, 1, 1]
    targets = [1, 2, 3, 4, 5, 6, 7, 8]
    # Item -> users with it at a position >= 1 of their training part.
    followers = {1: {5}, 2: {1, 2}, 3: {1, 2, 4}, 4: {1, 2, 3, 4, 5}, 5: set(), 6: {3},
                 7: set(), 8: {4}}
    _, has_twin = draw(index, users, targets, [2, 2])
    np.testing.assert_array_equal(has_twin, [bool(followers[t] - {1}) for t in targets])


def test_add_twins_is_seeded_and_changes_every_epoch(tiny):
    def epochs(seed, count):
        ds = data.make_dataset(tiny, mode="next_item", batch_size=8, max_len=4)
        ds = twins.add_twins(ds, tiny, max_len=4, seed=seed, policy="any-prefix",
                             no_twin="skip")
        return [[(int(u), unpad(t)) for b in ds
                 for u, t in zip(b["user_id"].numpy(), b["twin_items"].numpy())]
                for _ in range(count)]

    first = epochs(3, 6)
    assert first == epochs(3, 6)
    assert len({tuple(e) for e in first}) > 1
    for epoch in first:
        for user, twin in epoch:
            target = SEQUENCES[user][-3]
            if user in (3, 4):
                assert twin == ()
            else:
                owners = {u for u, p in (PREFIXES_BEFORE_4 if target == 4
                                         else PREFIXES_BEFORE_3).items() if p == twin}
                assert owners and user not in owners


def test_add_twins_adds_typed_keys_and_rejects_other_batches(tiny):
    ds = twins.add_twins(data.make_dataset(tiny, mode="next_item", batch_size=8, max_len=4),
                         tiny, max_len=4, seed=0)
    batch = next(iter(ds))
    assert batch["twin_items"].dtype == tf.int32 and batch["twin_items"].shape[1] == 4
    assert batch["has_twin"].dtype == tf.bool
    with pytest.raises(ValueError, match="positives"):
        twins.add_twins(data.make_dataset(tiny, mode="sequence", max_len=4), tiny, max_len=4,
                        seed=0)
    with pytest.raises(ValueError, match="user id"):
        twins.TwinIndex({7: np.array([1, 2])}, num_users=5, num_items=9)


# Training parts ending with item 4: users 1 (1, 2, 3 | 4) and 5 (4, 1 | 4); with 3: user 2.
def test_last_item_twins_are_other_users_ending_with_the_target(tiny):
    index = twins.TwinIndex.from_dataset(tiny)  # the default policy: last-item
    assert index.policy == "last-item" and index.num_occurrences == 5
    rows = collections.Counter()
    for step in range(100):
        twin_items, has_twin = draw(index, [1, 5, 2, 3, 4], [4, 4, 3, 6, 8], [0, step])
        np.testing.assert_array_equal(has_twin, [True, True, False, False, False])
        rows[unpad(twin_items[0]), unpad(twin_items[1])] += 1
    assert set(rows) == {((4, 1), (1, 2, 3))}  # each has exactly one other user ending in 4


def test_last_item_draw_is_uniform_over_users(tmp_path):
    sequences = {u: np.array([u + 1, 9]) for u in range(1, 5)}  # four users ending with 9
    sequences[5] = np.array([1, 9, 9, 9, 9, 9, 3, 9])            # many 9s but one last item
    index = twins.TwinIndex(sequences, num_users=5, num_items=9)
    counts = collections.Counter()
    for step in range(400):
        twin_items, _ = draw(index, [1], [9], [7, step], max_len=8)
        counts[unpad(twin_items[0])] += 1
    assert set(counts) == {(3,), (4,), (5,), (1, 9, 9, 9, 9, 9, 3)}
    assert min(counts.values()) > 70  # 100 expected each; any-prefix would favour user 5


def test_self_fallback_pairs_users_without_a_twin_with_their_own_sequence(tiny):
    ds = twins.add_twins(data.make_dataset(tiny, mode="next_item", batch_size=8, max_len=4),
                         tiny, max_len=4, seed=1)
    for batch in ds:
        np.testing.assert_array_equal(batch["paired"], True)
        alone = ~batch["has_twin"].numpy()
        np.testing.assert_array_equal(batch["twin_items"].numpy()[alone],
                                      batch["items"].numpy()[alone])
        assert sorted(batch["user_id"].numpy()[alone]) == [2, 3, 4]
    skip = twins.add_twins(data.make_dataset(tiny, mode="next_item", batch_size=8, max_len=4),
                           tiny, max_len=4, seed=1, no_twin="skip")
    for batch in skip:
        np.testing.assert_array_equal(batch["paired"], batch["has_twin"])
    with pytest.raises(ValueError, match="no_twin"):
        twins.add_twins(ds, tiny, max_len=4, seed=0, no_twin="drop")
    with pytest.raises(ValueError, match="policy"):
        twins.TwinIndex({1: np.array([1, 2])}, num_users=5, num_items=9, policy="random")
