"""Sequence augmentations: layout, exact counts, randomness, XLA, and the augmenter layer."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf  # noqa: E402

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.data import augment
from tfbt.data.augment import Augmentation, SequenceAugmenter, parse_augmentations

MASK = 99
MAX_LEN = 12
LENGTHS = [0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 12]
SEED = tf.constant([7, 11], tf.int32)
OTHER_SEED = tf.constant([8, 11], tf.int32)


def batch(lengths=LENGTHS, max_len=MAX_LEN, seed=0):
    """Left-padded rows of distinct items (1..50), so positions can be traced by value."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((len(lengths), max_len), np.int32)
    for row, n in zip(rows, lengths):
        if n:
            row[max_len - n:] = rng.permutation(50)[:n] + 1
    return rows


def rounded(ratio, n):
    """The documented rounding: floor(ratio * n + 0.5) in float32."""
    return int(np.floor(np.float32(ratio) * np.float32(n) + np.float32(0.5)))


def mask_count(ratio, n):
    return min(rounded(ratio, n), max(n - 1, 0))


def compiled(op, xla=False, **kwargs):
    """op with kwargs bound, as `f(items, seed) -> np.ndarray`, XLA-compiled if asked."""
    fn = functools.partial(op, **kwargs)
    if xla:
        fn = tf.function(fn, jit_compile=True, autograph=False)
    return lambda items, seed=SEED: fn(tf.constant(items), seed=seed).numpy()


def run(op, items, seed=SEED, xla=False, **kwargs):
    return compiled(op, xla, **kwargs)(items, seed)


def real(row):
    return row[row != 0]


def assert_left_padded(out):
    for row in out:
        n = np.count_nonzero(row)
        assert np.all(row[:len(row) - n] == 0) and np.all(row[len(row) - n:] != 0), row


def check_mask(items, out, expected_count, contiguous):
    assert out.shape == items.shape and out.dtype == items.dtype
    assert_left_padded(out)
    for before, after in zip(items, out):
        n = np.count_nonzero(before)
        changed = np.flatnonzero(before != after)
        assert np.all(after[changed] == MASK)
        assert np.all(before[:len(before) - n] == after[:len(before) - n])  # padding untouched
        assert len(changed) == expected_count(n), (before, after)
        if contiguous and len(changed):
            assert changed[-1] - changed[0] + 1 == len(changed), after


@pytest.mark.parametrize("xla", [False, True])
@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.2, 0.5, 0.6, 1.0])
def test_random_mask_masks_exactly_the_documented_count(ratio, xla):
    items = batch()
    out = run(augment.random_mask, items, xla=xla, ratio=ratio, mask_id=MASK)
    check_mask(items, out, lambda n: mask_count(ratio, n), contiguous=False)


@pytest.mark.parametrize("xla", [False, True])
@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.2, 0.5, 0.6, 1.0])
def test_segment_mask_masks_one_contiguous_block(ratio, xla):
    items = batch()
    out = run(augment.segment_mask, items, xla=xla, ratio=ratio, mask_id=MASK)
    check_mask(items, out, lambda n: mask_count(ratio, n), contiguous=True)


def test_rounding_is_half_up_and_masks_never_cover_a_whole_row():
    assert [rounded(0.5, 3), rounded(0.1, 5), rounded(0.25, 2), rounded(0.2, 7)] == [2, 1, 1, 1]
    items = batch(lengths=[3, 5, 2, 4, 1])
    counts = lambda out: np.count_nonzero(out == MASK, axis=1).tolist()  # noqa: E731
    assert counts(run(augment.random_mask, items, ratio=0.5, mask_id=MASK)) == [2, 3, 1, 2, 0]
    assert counts(run(augment.segment_mask, items, ratio=1.0, mask_id=MASK)) == [2, 4, 1, 3, 0]
    assert counts(run(augment.random_mask, batch([5]), ratio=0.1, mask_id=MASK)) == [1]


@pytest.mark.parametrize("xla", [False, True])
def test_permute_shuffles_the_real_items_only(xla):
    items = batch()
    out = run(augment.permute, items, xla=xla)
    assert_left_padded(out)
    np.testing.assert_array_equal(items == 0, out == 0)
    for before, after in zip(items, out):
        assert sorted(real(before)) == sorted(real(after))
    assert not np.array_equal(items[-2:], out[-2:])


@pytest.mark.parametrize("xla", [False, True])
@pytest.mark.parametrize("window, ratio, block", [(3, None, lambda n: min(3, n)),
                                                  (None, 0.4, lambda n: min(rounded(0.4, n), n))])
def test_local_permute_only_reorders_one_block(window, ratio, block, xla):
    items = batch(lengths=[0, 1, 2, 5, 12] * 40, seed=3)
    out = run(augment.permute, items, xla=xla, window=window, ratio=ratio)
    np.testing.assert_array_equal(items == 0, out == 0)
    changed_rows = 0
    for before, after in zip(items, out):
        changed = np.flatnonzero(before != after)
        if len(changed):
            changed_rows += 1
            span = slice(changed[0], changed[-1] + 1)
            assert changed[-1] - changed[0] + 1 <= block(np.count_nonzero(before)), after
            assert sorted(before[span]) == sorted(after[span])
    assert changed_rows > 50  # 3 of the 5 lengths have a block of >= 2 items


@pytest.mark.parametrize("xla", [False, True])
@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.5, 0.8, 1.0])
def test_crop_keeps_a_contiguous_run_re_left_padded(ratio, xla):
    items = batch()
    out = run(augment.crop, items, xla=xla, ratio=ratio)
    assert out.dtype == items.dtype
    assert_left_padded(out)
    for before, after in zip(items, out):
        n, kept = np.count_nonzero(before), real(after)
        assert len(kept) == min(max(rounded(ratio, n), 1), n)
        source = real(before)
        starts = [i for i in range(n - len(kept) + 1)
                  if np.array_equal(source[i:i + len(kept)], kept)]
        assert len(starts) == 1, (before, after)


@pytest.mark.parametrize("op, kwargs", [
    (augment.random_mask, dict(ratio=0.5, mask_id=MASK)),
    (augment.segment_mask, dict(ratio=0.5, mask_id=MASK)),
    (augment.permute, {}),
    (augment.permute, dict(window=4)),
    (augment.crop, dict(ratio=0.5)),
])
@pytest.mark.parametrize("xla", [False, True])
def test_same_seed_same_output_other_seed_other_output(op, kwargs, xla):
    items = batch(lengths=[12] * 16, seed=5)
    fn = compiled(op, xla, **kwargs)
    first = fn(items)
    np.testing.assert_array_equal(first, fn(items))
    assert not np.array_equal(first, fn(items, OTHER_SEED))
    assert not all(np.array_equal(first[0], row) for row in first[1:])  # rows draw separately


def test_empty_and_single_item_rows_survive_every_op():
    items = np.array([[0, 0, 0], [0, 0, 4], [0, 0, 0]], np.int64)
    for op, kwargs in [(augment.random_mask, dict(ratio=1.0, mask_id=MASK)),
                       (augment.segment_mask, dict(ratio=1.0, mask_id=MASK)),
                       (augment.permute, {}), (augment.permute, dict(window=2)),
                       (augment.crop, dict(ratio=0.0)), (augment.crop, dict(ratio=1.0))]:
        out = run(op, items, **kwargs)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, items, err_msg=f"{op.__name__} {kwargs}")


def frequencies(values, size):
    return np.bincount(values, minlength=size) / len(values)


def test_choices_are_uniform():
    rows = 4000
    items = np.tile(np.arange(1, 11, dtype=np.int32), (rows, 1))  # n = 10, no padding
    masked = run(augment.random_mask, items, ratio=0.3, mask_id=MASK) == MASK
    np.testing.assert_allclose(masked.mean(axis=0), 0.3, atol=0.04)
    segment = run(augment.segment_mask, items, ratio=0.3, mask_id=MASK) == MASK
    np.testing.assert_allclose(frequencies(segment.argmax(axis=1), 8), 1 / 8, atol=0.03)
    cropped = run(augment.crop, items, ratio=0.3)[:, -3]  # first kept item = start + 1
    np.testing.assert_allclose(frequencies(cropped - 1, 8), 1 / 8, atol=0.03)
    shuffled = run(augment.permute, items)
    np.testing.assert_allclose(frequencies((shuffled == 1).argmax(axis=1), 10), 0.1, atol=0.03)


def test_bad_arguments_are_rejected():
    items = batch()
    with pytest.raises(ValueError, match="random_mask: ratio must be in"):
        augment.random_mask(items, 1.5, MASK, SEED)
    with pytest.raises(ValueError, match="crop: ratio"):
        augment.crop(items, -0.1, SEED)
    with pytest.raises(ValueError, match="mask_id must be an int >= 1"):
        augment.segment_mask(items, 0.2, 0, SEED)
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        augment.permute(items, SEED, window=0)
    with pytest.raises(ValueError, match="not both"):
        augment.permute(items, SEED, window=2, ratio=0.5)
    with pytest.raises(ValueError, match=r"integer \[batch, max_len\].*float32"):
        augment.crop(items.astype(np.float32), 0.5, SEED)


def test_parse_augmentations_grammar():
    spec = " crop:0.8@0.5, segment_mask:0.2,permute@0.1 ,permute:0.25,random_mask:1"
    assert parse_augmentations(spec) == [
        Augmentation("crop", 0.8, 0.5), Augmentation("segment_mask", 0.2, 1.0),
        Augmentation("permute", None, 0.1), Augmentation("permute", 0.25, 1.0),
        Augmentation("random_mask", 1.0, 1.0)]
    assert parse_augmentations("  ") == []
    assert parse_augmentations(augment.format_augmentations(parse_augmentations(spec))) == \
        parse_augmentations(spec)


@pytest.mark.parametrize("spec, message", [
    ("crop:0.5,shuffle", r"'shuffle'.*unknown name 'shuffle'.*random_mask, segment_mask"),
    ("crop", r"'crop'.*needs a ratio"),
    ("segment_mask:1.2", r"'segment_mask:1.2'.*ratio must be a number in \[0, 1\]"),
    ("permute@-0.5", r"'permute@-0.5'.*probability must be"),
    ("crop:abc", r"'crop:abc'.*ratio 'abc' is not a number"),
    ("crop:", r"'crop:'.*ratio '' is not a number"),
    ("permute@", r"'permute@'.*probability '' is not a number"),
    ("crop:0.5,,permute", r"augmentation ''.*unknown name"),
])
def test_parse_errors_name_the_token(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_augmentations(spec)


def test_augmenter_accepts_triples_and_validates_them():
    layer = SequenceAugmenter([("segment_mask", 0.2, 1.0), ["permute", None, 0.5]], mask_id=MASK)
    assert layer.augmentations == (Augmentation("segment_mask", 0.2, 1.0),
                                   Augmentation("permute", None, 0.5))
    with pytest.raises(ValueError, match="crop.*ratio must be"):
        SequenceAugmenter([("crop", 2.0, 1.0)], mask_id=MASK)
    with pytest.raises(ValueError, match="triple"):
        SequenceAugmenter(["crop:0.5"], mask_id=MASK)
    with pytest.raises(ValueError, match="mask_id must be an int >= 1"):
        SequenceAugmenter("crop:0.5", mask_id=0)


def test_augmenter_row_probabilities():
    items = batch(lengths=[10] * 4000, seed=6)
    never = SequenceAugmenter("segment_mask:0.5@0, permute@0", mask_id=MASK)
    np.testing.assert_array_equal(never(items, SEED).numpy(), items)
    always = SequenceAugmenter("segment_mask:0.5@1", mask_id=MASK)
    np.testing.assert_array_equal(np.count_nonzero(always(items, SEED).numpy() == MASK, axis=1), 5)
    sometimes = SequenceAugmenter("segment_mask:0.5@0.3", mask_id=MASK)
    hit = np.count_nonzero(sometimes(items, SEED).numpy() == MASK, axis=1)
    assert set(hit.tolist()) == {0, 5}
    assert abs(np.mean(hit == 5) - 0.3) < 0.04


@pytest.mark.parametrize("xla", [False, True])
def test_augmenter_applies_steps_in_order(xla):
    items = batch()
    layer = SequenceAugmenter("crop:0.5,random_mask:0.5,permute:0.5@0.5", mask_id=MASK)
    call = tf.function(layer, jit_compile=True) if xla else layer
    out = call(tf.constant(items), SEED).numpy()
    assert_left_padded(out)
    np.testing.assert_array_equal(out, call(tf.constant(items), SEED).numpy())
    for before, after in zip(items, out):
        kept = min(max(rounded(0.5, np.count_nonzero(before)), 1), np.count_nonzero(before))
        assert np.count_nonzero(after) == kept
        assert np.count_nonzero(after == MASK) == mask_count(0.5, kept)
        assert set(real(after)) - {MASK} <= set(real(before))


def test_augmenter_config_round_trips():
    layer = SequenceAugmenter("crop:0.8@0.5,segment_mask:0.2,permute@0.25", mask_id=MASK,
                              name="views")
    config = layer.get_config()
    assert config["augmentations"] == [["crop", 0.8, 0.5], ["segment_mask", 0.2, 1.0],
                                       ["permute", None, 0.25]]
    copy = SequenceAugmenter.from_config(config)
    assert copy.get_config() == config
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(restored, SequenceAugmenter) and restored.get_config() == config
    items = tf.constant(batch())
    np.testing.assert_array_equal(restored(items, SEED).numpy(), layer(items, SEED).numpy())
