"""Batched, stateless augmentations of left-padded item sequences (Liu et al. 2025).

Barlow Twins pretraining needs two random views of every user sequence per step. These ops run
inside ``train_step`` (on the accelerator, inside the compiled step) rather than in ``tf.data``,
so they are written as whole-batch tensor programs: no Python loop over rows, no ``tf.map_fn``,
only element-wise ops, ``argsort`` and ``gather``. They compile under
``tf.function(jit_compile=True)``.

Conventions shared by every op:

* ``items``: integer ``[batch, max_len]``, LEFT-padded with 0: a row's ``n`` real items are
  contiguous at the right end. Every output keeps that layout, padding is never written, and
  the dtype and shape are unchanged. (The layout is a precondition, not checked per batch:
  ``tfbt.data`` produces it.)
* ``seed``: int32/int64 tensor of shape ``[2]``; randomness is ``tf.random.stateless_*``, so one
  seed gives one output. XLA and non-XLA execution draw different numbers from the same seed,
  each of them deterministic.
* Counts are exact per row and rounded half up, computed in float32:
  ``round(r * n) = floor(r * n + 0.5)``, then clipped per op:

  ===============  ==========================================  ==============================
  op               items affected                              why the clip
  ===============  ==========================================  ==============================
  random_mask      ``min(round(ratio * n), n - 1)``            a view never loses every item;
  segment_mask     ``min(round(ratio * n), n - 1)``            a 1-item row is never masked
  crop             ``clip(round(ratio * n), 1, n)``            a crop keeps at least one item
  permute(ratio)   ``min(round(ratio * n), n)``                (block of shuffled items)
  permute(window)  ``min(window, n)``
  ===============  ==========================================  ==============================

  Rows with ``n = 0`` (all padding) come back unchanged from every op.
* Uniform choices: masked positions are uniform without replacement; block starts are uniform
  over the ``n - k + 1`` possible starts; shuffles are uniform permutations.

``SequenceAugmenter`` chains ops, each applied to a random subset of rows, from a spec string such
as ``"crop:0.8@0.5,segment_mask:0.2"`` (see ``parse_augmentations``).
"""

from __future__ import annotations

import numbers

import keras
import tensorflow as tf

from tfbt.data.augment_spec import (  # noqa: F401  (the grammar is part of this module's API)
    AUGMENTATIONS,
    Augmentation,
    augmentation_steps,
    format_augmentations,
    parse_augmentations,
)



def random_mask(items, ratio, mask_id, seed):
    """Replaces ``min(round(ratio * n), n - 1)`` random real items of each row with ``mask_id``.

    Args:
      items: int ``[B, L]`` left-padded item ids.
      ratio: fraction of each row's real items to mask, in [0, 1].
      mask_id: the mask token (``num_items + 1``), a Python int >= 1 (0 is padding).
      seed: int ``[2]`` stateless seed.

    Returns:
      ``[B, L]``, same dtype; masked positions hold ``mask_id``.
    """
    items, lengths, rel = _prepare(items)
    _check_ratio(ratio, "random_mask")
    count = _mask_count(ratio, lengths)
    real = rel >= 0
    keys = tf.where(real, tf.random.stateless_uniform(tf.shape(items), seed), 2.0)
    # Rank of each position's key within its row: real items take ranks 0..n-1 in random order,
    # padding (key 2.0) ranks after them, so "rank < count" picks count real items.
    rank = tf.argsort(tf.argsort(keys, axis=1, stable=True), axis=1, stable=True)
    return tf.where(rank < count[:, None], _mask_value(mask_id, items.dtype), items)


def segment_mask(items, ratio, mask_id, seed):
    """Masks one contiguous block of ``min(round(ratio * n), n - 1)`` real items per row.

    The block start is uniform over the ``n - k + 1`` positions where a block of ``k`` items fits
    inside the real items. Arguments and result as in ``random_mask``.
    """
    items, lengths, rel = _prepare(items)
    _check_ratio(ratio, "segment_mask")
    count = _mask_count(ratio, lengths)
    in_block = _block(rel, _uniform_start(lengths - count, seed), count)
    return tf.where(in_block, _mask_value(mask_id, items.dtype), items)


def permute(items, seed, window=None, ratio=None):
    """Shuffles the real items of each row, or one random contiguous block of them.

    With neither ``window`` nor ``ratio`` the whole real part of every row is shuffled. Otherwise
    one contiguous block of ``k`` real items (``k = min(window, n)`` or
    ``min(round(ratio * n), n)``) at a uniformly random start is shuffled and everything outside
    it stays in place (the "item reorder" of CL4SRec): a local perturbation that keeps most of
    the order. Blocks with ``k <= 1`` leave the row unchanged.

    Args:
      items: int ``[B, L]`` left-padded item ids.
      seed: int ``[2]`` stateless seed.
      window: block length in items (int >= 1), or None.
      ratio: block length as a fraction of each row's real items, or None. At most one of
        ``window`` and ``ratio`` may be given.

    Returns:
      ``[B, L]``, same dtype: each row a permutation of its input row.
    """
    items, lengths, rel = _prepare(items)
    if window is not None and ratio is not None:
        raise ValueError(f"permute: give window or ratio, not both (got window={window!r}, "
                         f"ratio={ratio!r})")
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 1:
            raise ValueError(f"permute: window must be an int >= 1, got {window!r}")
        count = tf.minimum(tf.constant(int(window), tf.int32), lengths)
    elif ratio is not None:
        _check_ratio(ratio, "permute")
        count = tf.minimum(_round_half_up(ratio, lengths), lengths)
    else:
        count = lengths
    start_seed, order_seed = tf.unstack(tf.random.split(seed, 2))
    start = _uniform_start(lengths - count, start_seed)
    in_block = _block(rel, start, count)
    keys = tf.where(in_block, tf.random.stateless_uniform(tf.shape(items), order_seed), 2.0)
    # The first `count` entries of `order` are the block's positions in random order; the block's
    # i-th position takes the item from order[i], every other position keeps its own item.
    order = tf.argsort(keys, axis=1, stable=True)
    offset = tf.clip_by_value(rel - start[:, None], 0, tf.shape(items)[1] - 1)
    positions = tf.broadcast_to(tf.range(tf.shape(items)[1])[None, :], tf.shape(items))
    source = tf.where(in_block, tf.gather(order, offset, batch_dims=1), positions)
    return tf.gather(items, source, batch_dims=1)


def crop(items, ratio, seed):
    """Keeps one random contiguous run of ``clip(round(ratio * n), 1, n)`` real items per row.

    The run's start is uniform over the positions where it fits; the result is re-left-padded
    (the kept items move to the right end, everything before them becomes 0).

    Args:
      items: int ``[B, L]`` left-padded item ids.
      ratio: fraction of each row's real items to keep, in [0, 1].
      seed: int ``[2]`` stateless seed.

    Returns:
      ``[B, L]``, same dtype.
    """
    items, lengths, rel = _prepare(items)
    _check_ratio(ratio, "crop")
    count = tf.minimum(tf.maximum(_round_half_up(ratio, lengths), 1), lengths)
    start = _uniform_start(lengths - count, seed)
    max_len = tf.shape(items)[1]
    # Output position j (among the last `count`) takes input position j - (items after the run).
    after = (lengths - start - count)[:, None]
    positions = tf.range(max_len)[None, :]
    source = tf.clip_by_value(positions - after, 0, max_len - 1)
    keep = positions >= (max_len - count)[:, None]
    return tf.where(keep, tf.gather(items, source, batch_dims=1), tf.zeros_like(items))


@keras.saving.register_keras_serializable(package="tfbt")
class SequenceAugmenter(keras.layers.Layer):
    """Applies a chain of augmentations, each to a random subset of rows, in order.

    For step ``(name, ratio, probability)`` every row independently gets the augmented version
    with probability ``probability`` and keeps its current value otherwise; the next step starts
    from the result. All steps are computed for the whole batch and selected with ``tf.where``
    (no per-row control flow, so it compiles with XLA).

    Call with ``items`` int ``[B, L]`` (left-padded) and ``seed`` int ``[2]``; returns
    ``[B, L]``. For the two views of a Barlow Twins step call it twice with different seeds
    (e.g. from ``tf.random.split``).

    Args:
      augmentations: a spec string for ``parse_augmentations``, or a sequence of
        ``(name, ratio, probability)`` tuples.
      mask_id: the mask token used by ``random_mask`` and ``segment_mask`` (``num_items + 1``).
    """

    def __init__(self, augmentations, mask_id: int, **kwargs):
        super().__init__(**kwargs)
        steps = augmentation_steps(augmentations)
        _check_mask_id(mask_id)
        self._steps = tuple(steps)
        self.mask_id = int(mask_id)

    @property
    def augmentations(self) -> tuple[Augmentation, ...]:
        return self._steps

    def call(self, items, seed):
        items = tf.convert_to_tensor(items)
        if not self._steps:
            return items
        seeds = tf.random.split(seed, 2 * len(self._steps))
        rows = tf.shape(items)[:1]
        for i, step in enumerate(self._steps):
            augmented = _apply(step, items, self.mask_id, seeds[2 * i])
            chosen = tf.random.stateless_uniform(rows, seeds[2 * i + 1]) < step.probability
            items = tf.where(chosen[:, None], augmented, items)
        return items

    def get_config(self):
        config = super().get_config()
        config.update(augmentations=[list(step) for step in self._steps], mask_id=self.mask_id)
        return config


def _apply(step: Augmentation, items, mask_id, seed):
    if step.name == "random_mask":
        return random_mask(items, step.ratio, mask_id, seed)
    if step.name == "segment_mask":
        return segment_mask(items, step.ratio, mask_id, seed)
    if step.name == "crop":
        return crop(items, step.ratio, seed)
    return permute(items, seed, ratio=step.ratio)


def _check_ratio(ratio, op: str):
    if isinstance(ratio, numbers.Real) and not 0 <= ratio <= 1:
        raise ValueError(f"{op}: ratio must be in [0, 1], got {ratio!r}")


def _prepare(items):
    """Returns (items, real lengths [B], position relative to the first real item [B, L])."""
    items = tf.convert_to_tensor(items)
    if not items.dtype.is_integer or items.shape.rank != 2:
        raise ValueError(f"items must be an integer [batch, max_len] tensor, got "
                         f"{items.dtype.name} {items.shape}")
    lengths = tf.reduce_sum(tf.cast(items != 0, tf.int32), axis=1)
    max_len = tf.shape(items)[1]
    rel = tf.range(max_len)[None, :] - (max_len - lengths)[:, None]  # real items: 0..n-1
    return items, lengths, rel


def _round_half_up(ratio, lengths):
    product = tf.cast(ratio, tf.float32) * tf.cast(lengths, tf.float32)
    return tf.cast(tf.floor(product + 0.5), tf.int32)


def _mask_count(ratio, lengths):
    return tf.minimum(_round_half_up(ratio, lengths), tf.maximum(lengths - 1, 0))


def _uniform_start(max_start, seed):
    """Uniform int in [0, max_start] per row (max_start int32 [B], >= 0)."""
    draw = tf.random.stateless_uniform(tf.shape(max_start), seed)
    start = tf.cast(tf.floor(draw * tf.cast(max_start + 1, tf.float32)), tf.int32)
    return tf.minimum(start, max_start)


def _block(rel, start, count):
    """bool [B, L]: real positions start..start+count-1 (relative to the first real item)."""
    return (rel >= start[:, None]) & (rel < (start + count)[:, None])


def _check_mask_id(mask_id):
    if isinstance(mask_id, bool) or not isinstance(mask_id, numbers.Integral) or mask_id < 1:
        raise ValueError(f"mask_id must be an int >= 1 (0 is padding), got {mask_id!r}")


def _mask_value(mask_id, dtype):
    _check_mask_id(mask_id)
    return tf.cast(mask_id, dtype)
