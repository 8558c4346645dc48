"""BT-SR positive pairs: for each user, another user's sequence with the same next item.

BT-SR (Razvorotnev et al. 2025) pairs sequences by what follows them rather than by random
perturbation (DuoRec's "semantic augmentation" is the same idea). A training example is a user's
training sequence (``items[:-2]`` of the stored sequence under leave-one-out); its last
next-item target is ``t = positives[:, -1]``. Twin policies (``POLICIES``):

* ``last-item`` (the authors' code, the default): the twin is another training user v whose
  training sequence ENDS with t, drawn uniformly over such users; its input is v's sequence
  without that last item.
* ``any-prefix``: any prefix ``s_v[:p]`` of another user's training sequence with
  ``s_v[p] = t`` (p >= 1), drawn uniformly over all such (v, p) occurrences.

A user without a twin (``NO_TWIN``) is paired with itself by default (``self``, the authors'
code: the same sequence encoded twice, the views differ by dropout only), or gets no BT term
(``skip``). Draws are made afresh every epoch.

``TwinIndex`` holds every occurrence once, in NumPy-built CSR form (sorted by item, then user),
as tensors; ``sample`` draws the twins of a whole batch with a handful of vectorised ops
(searchsorted, gather), so it runs inside the ``tf.data`` pipeline. Excluding the user is exact
and O(1): the user's own occurrences of ``t`` are one contiguous run inside the item's block, and
the uniform draw over the other occurrences skips it.

Only training sequences are indexed: validation and test targets never leak into twins.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfbt.data import splits
from tfbt.data.pipeline import training_sequences
from tfbt.data.twin_policies import NO_TWIN, POLICIES
from tfrecords_builder.schema import Metadata


class TwinIndex:
    """Every (user, position) next-item occurrence of the training sequences, by item.

    Args:
      sequences: ``{user_id: training item sequence}`` (user ids in 1..num_users, items in
        1..num_items); sequences shorter than 2 have no occurrence.
      num_users: U.
      num_items: N.
      policy: ``"last-item"`` (only each sequence's last position is an occurrence) or
        ``"any-prefix"`` (every position >= 1).

    Tensors (built once):
      ``flat`` int32 ``[T]``: all training sequences concatenated; ``user_start`` int64
      ``[U + 1]``: where user u's sequence starts in ``flat``; ``keys`` int64 ``[M]``:
      ``item * (U + 1) + user`` per occurrence, sorted; ``positions`` int64 ``[M]``: index in
      ``flat`` of the occurrence (its prefix ends right before it); ``starts`` int64 ``[M]``:
      start of the owner's sequence; ``item_start`` int64 ``[N + 2]``: CSR offsets by item.
    """

    def __init__(self, sequences: dict[int, np.ndarray], num_users: int, num_items: int, *,
                 policy: str = "last-item"):
        if policy not in POLICIES:
            raise ValueError(f"TwinIndex: policy must be one of {POLICIES}, got {policy!r}")
        self.policy = policy
        self.num_users = int(num_users)
        self.num_items = int(num_items)
        lengths = np.zeros(self.num_users + 1, np.int64)
        for user, items in sequences.items():
            if not 1 <= user <= self.num_users:
                raise ValueError(f"TwinIndex: user id {user} outside 1..{self.num_users}")
            lengths[user] = len(items)
        user_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        flat = np.zeros(int(lengths.sum()), np.int32)
        for user, items in sequences.items():
            flat[user_start[user]:user_start[user] + len(items)] = items
        if flat.size and (flat.min() < 1 or flat.max() > self.num_items):
            raise ValueError(f"TwinIndex: item indices must be in 1..{self.num_items}, found "
                             f"{flat.min()}..{flat.max()}")
        owner = np.repeat(np.arange(self.num_users + 1), lengths)
        if policy == "last-item":  # the last position of every sequence of 2+ items
            occurrence = (user_start + lengths - 1)[lengths >= 2]
        else:  # every position >= 1
            occurrence = np.flatnonzero(np.arange(flat.size) > user_start[owner])
        keys = flat[occurrence].astype(np.int64) * (self.num_users + 1) + owner[occurrence]
        order = np.argsort(keys, kind="stable")
        keys, occurrence = keys[order], occurrence[order]
        items_sorted = keys // (self.num_users + 1)
        self.num_occurrences = int(keys.size)
        self.flat = tf.constant(flat)
        self.user_start = tf.constant(user_start, tf.int64)
        self.keys = tf.constant(keys)
        self.positions = tf.constant(occurrence.astype(np.int64))
        self.starts = tf.constant(user_start[owner[occurrence]].astype(np.int64))
        self.item_start = tf.constant(
            np.searchsorted(items_sorted, np.arange(self.num_items + 2)).astype(np.int64))

    @classmethod
    def from_dataset(cls, data_dir: str | os.PathLike, *, metadata: Metadata | None = None,
                     policy: str = "last-item",
                     temporal: splits.TemporalOptions | None = None) -> "TwinIndex":
        """Indexes every user's training sequence of a dataset folder under the protocol
        (leave-one-out, or temporal with ``temporal``)."""
        meta = metadata or Metadata.load(data_dir)
        sequences = training_sequences(data_dir, metadata=meta, temporal=temporal)
        return cls(sequences, meta.num_users, meta.num_items, policy=policy)

    def sample(self, user_id, target, max_len: int, seed):
        """Draws one twin per row.

        Args:
          user_id: int ``[B]`` the users (their own occurrences are never drawn).
          target: int ``[B]`` the item each twin must be followed by (0 = none).
          max_len: width of the twin sequences.
          seed: int ``[2]`` stateless seed.
        Returns:
          ``twin_items`` int32 ``[B, max_len]`` (the last ``max_len`` items of the prefix,
          left-padded with 0; all zeros without a twin) and ``has_twin`` bool ``[B]``.
        """
        user = tf.cast(user_id, tf.int64)
        target = tf.clip_by_value(tf.cast(target, tf.int64), 0, self.num_items + 1)
        block_start = tf.gather(self.item_start, target)
        block_end = tf.gather(self.item_start, tf.minimum(target + 1, self.num_items + 1))
        own_key = target * (self.num_users + 1) + user
        own_start = tf.searchsorted(self.keys[None, :], own_key[None, :], side="left",
                                    out_type=tf.int64)[0]
        own_end = tf.searchsorted(self.keys[None, :], own_key[None, :], side="right",
                                  out_type=tf.int64)[0]
        others = (block_end - block_start) - (own_end - own_start)
        has_twin = tf.logical_and(others > 0, target > 0)

        draw = tf.random.stateless_uniform(tf.shape(user), seed, dtype=tf.float64)
        rank = tf.minimum(tf.cast(draw * tf.cast(others, tf.float64), tf.int64),
                          tf.maximum(others - 1, 0))
        chosen = block_start + rank
        chosen = tf.where(chosen >= own_start, chosen + (own_end - own_start), chosen)
        chosen = tf.where(has_twin, chosen, 0)
        end = tf.gather(self.positions, chosen)                       # prefix = [start, end)
        start = tf.gather(self.starts, chosen)
        columns = end[:, None] + tf.range(-max_len, 0, dtype=tf.int64)[None, :]
        valid = tf.logical_and(columns >= start[:, None], has_twin[:, None])
        twin_items = tf.where(valid, tf.gather(self.flat, tf.maximum(columns, 0)), 0)
        return twin_items, has_twin


def add_twins(dataset: tf.data.Dataset, data_dir: str | os.PathLike | None = None, *,
              max_len: int, seed: int, metadata: Metadata | None = None,
              index: TwinIndex | None = None, policy: str = "last-item",
              no_twin: str = "self",
              temporal: splits.TemporalOptions | None = None) -> tf.data.Dataset:
    """Adds BT-SR twins to next-item training batches.

    Args:
      dataset: batches of ``tfbt.data.make_dataset(mode="next_item")`` (need ``user_id`` and
        ``positives``).
      data_dir: the dataset folder (to build the index; not needed with ``index``).
      max_len: twin width, normally the ``max_len`` of the batches.
      seed: seed of the draws. Each pass over ``dataset`` (each epoch) draws new twins, the
        same ones for the same seed.
      metadata: already loaded metadata.
      index: a prebuilt ``TwinIndex`` (shared by several pipelines; its policy is used).
      policy: twin policy of the index built from ``data_dir`` (``POLICIES``).
      temporal: the temporal protocol's options (``None`` = leave-one-out).
      no_twin: ``"self"`` (a user without a twin is its own twin: ``twin_items`` = its
        ``items``) or ``"skip"`` (no pair).

    Returns:
      The same batches with ``twin_items`` int32 ``[B, max_len]``, ``has_twin`` bool ``[B]``
      (another user was drawn) and ``paired`` bool ``[B]`` (the row has a second view: ``True``
      everywhere with ``self``, ``has_twin`` with ``skip``).
    """
    if no_twin not in NO_TWIN:
        raise ValueError(f"add_twins: no_twin must be one of {NO_TWIN}, got {no_twin!r}")
    if index is None:
        if data_dir is None:
            raise ValueError("add_twins needs data_dir (to index the sequences) or index")
        index = TwinIndex.from_dataset(data_dir, metadata=metadata, policy=policy,
                                       temporal=temporal)
    for key in ("user_id", "positives"):
        if key not in dataset.element_spec:
            raise ValueError(f"add_twins: batches need {key!r} (next_item mode); they have "
                             f"{sorted(dataset.element_spec)}")
    # A random stream re-drawn (deterministically from seed) on every pass: an epoch counter.
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def with_twins(batch, draw):
        twin_items, has_twin = index.sample(batch["user_id"], batch["positives"][:, -1],
                                            max_len, tf.stack([tf.constant(seed, tf.int64), draw]))
        twin_items = tf.cast(twin_items, tf.int32)
        paired = has_twin
        if no_twin == "self":
            twin_items = tf.where(has_twin[:, None], twin_items, tf.cast(batch["items"], tf.int32))
            paired = tf.ones_like(has_twin)
        return {**batch, "twin_items": twin_items, "has_twin": has_twin, "paired": paired}

    twinned = tf.data.Dataset.zip((dataset, draws)).map(
        with_twins, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return twinned.prefetch(tf.data.AUTOTUNE)
