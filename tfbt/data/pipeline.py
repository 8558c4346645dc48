"""tf.data input: TFRecord shards -> batched, padded, split tensors.

The pipeline is files -> interleave -> (shuffle) -> batch -> parse a whole batch at once with
``tf.io.RaggedFeature`` -> leave-one-out split -> keep the most recent ``max_len`` items and
left-pad -> prefetch. Parsing after batching keeps the per-record Python/graph overhead out of
the hot path, which is what makes tens of thousands of sequences per second possible on 2 cores.

Leave-one-out (``tfbt.data.splits``) is derived here from the one stored copy of each
sequence. The temporal protocol (``temporal=splits.TemporalOptions(...)``) needs the
timestamps of every interaction, so its split is computed once per dataset and options
(``temporal_split_of``) and the batches are gathered from it in memory; batches have the same
keys under both protocols.

Batches are dicts of tensors (see ``make_dataset``). Item sequences are int32 ``[B, max_len]``,
LEFT-padded with 0 so that the most recent item is always in the last column.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfbt.data import splits
from tfrecords_builder import schema
from tfrecords_builder.records import read_records
from tfrecords_builder.schema import Metadata

MODES = ("sequence", "next_item", "eval")
SPLITS = ("train", "valid", "test")

def load_metadata(data_dir: str | os.PathLike) -> Metadata:
    """Reads and validates ``metadata.json`` of a dataset written by ``tfbt build``."""
    return Metadata.load(data_dir)


def left_pad(sequences, max_len: int) -> tf.Tensor:
    """Keeps the last ``max_len`` items of each row and left-pads with 0.

    Args:
      sequences: int RaggedTensor ``[B, None]``, or a list of B 1-D integer arrays.
      max_len: output width.

    Returns:
      int32 ``[B, max_len]``: row ``b`` ends with its most recent items.
    """
    if not isinstance(sequences, tf.RaggedTensor):
        lengths = [len(row) for row in sequences]
        values = np.concatenate(sequences) if sum(lengths) else np.zeros(0, np.int32)
        sequences = tf.RaggedTensor.from_row_lengths(values.astype(np.int32), lengths)
    recent = sequences[:, -max_len:]
    lengths = tf.cast(recent.row_lengths(), tf.int32)
    rows = tf.cast(recent.value_rowids(), tf.int32)
    position_in_row = tf.range(tf.size(recent.values, out_type=tf.int32)) - tf.gather(
        tf.cast(recent.row_starts(), tf.int32), rows)
    columns = max_len - tf.gather(lengths, rows) + position_in_row
    batch = tf.shape(lengths)[0]
    return tf.scatter_nd(tf.stack([rows, columns], axis=1), tf.cast(recent.values, tf.int32),
                         tf.stack([batch, max_len]))


def _feature_spec(labels: Sequence[str]) -> dict:
    spec = {
        schema.USER_ID: tf.io.FixedLenFeature([], tf.int64),
        schema.ITEM_IDS: tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int32),
    }
    for name in labels:
        spec[name] = tf.io.FixedLenFeature([], tf.int64, default_value=schema.MISSING_LABEL)
    return spec


def _split_batch(parsed: dict, *, mode: str, split: str, max_len: int,
                 labels: Sequence[str], min_length: int) -> dict:
    """Turns a parsed batch of whole sequences into the tensors of one (mode, split)."""
    items = parsed[schema.ITEM_IDS]
    if min_length:
        keep = items.row_lengths() >= min_length
        items = tf.ragged.boolean_mask(items, keep)
        parsed = {k: tf.boolean_mask(v, keep) for k, v in parsed.items() if k != schema.ITEM_IDS}
    out = {"user_id": tf.cast(parsed[schema.USER_ID], tf.int32)}
    if mode == "eval":
        from_end = splits.TARGET_FROM_END[split]
        out.update(_eval_tensors(items[:, :-from_end], tf.gather(
            items, items.row_lengths() - from_end, batch_dims=1), max_len))
    else:
        out.update(_training_tensors(items[:, :-splits.HELD_OUT], mode, max_len))
    for name in labels:
        out[name] = tf.cast(parsed[name], tf.int32)
    return out


def _training_tensors(train_items, mode: str, max_len: int) -> dict:
    """``sequence``/``next_item`` tensors from the training parts (ragged ``[B, None]``)."""
    if mode == "sequence":
        return {"items": left_pad(train_items, max_len)}
    window = train_items[:, -(max_len + 1):]
    return {"items": left_pad(window[:, :-1], max_len), "positives": left_pad(window[:, 1:],
                                                                                max_len)}


def _eval_tensors(history, target, max_len: int) -> dict:
    """``eval`` tensors from the histories (ragged ``[B, None]``) and targets ``[B]``."""
    return {"items": left_pad(history, max_len), "target": tf.cast(target, tf.int32),
            "seen": tf.cast(history, tf.int32)}


@functools.lru_cache(maxsize=4)
def temporal_split_of(data_dir: str, options: splits.TemporalOptions) -> splits.TemporalSplit:
    """The temporal split of a built dataset (read once per folder and options)."""
    records = read_records(data_dir, timestamps=True)
    bounds = list(zip(records.offsets[:-1], records.offsets[1:]))
    return splits.temporal_split(records.user_id, [records.items[a:b] for a, b in bounds],
                                 [records.timestamps[a:b] for a, b in bounds], options)


def training_sequences(data_dir: str | os.PathLike, *, metadata: Metadata | None = None,
                       temporal: splits.TemporalOptions | None = None
                       ) -> dict[int, np.ndarray]:
    """``{user_id: training sequence}`` under the protocol (leave-one-out without
    ``temporal``): what the BT-SR twins and item popularity may see."""
    if temporal is not None:
        return temporal_split_of(str(data_dir), temporal).train
    records = read_records(data_dir, metadata=metadata or load_metadata(data_dir))
    return dict(zip(records.user_id.tolist(), records.rows(drop_last=splits.HELD_OUT)))


def _temporal_dataset(data_dir, *, temporal, mode, split, batch_size, max_len, shuffle, seed,
                      repeat, drop_remainder, deterministic) -> tf.data.Dataset:
    """``make_dataset`` under the temporal protocol: rows gathered from the in-memory split."""
    part = temporal_split_of(str(data_dir), temporal)
    if mode == "eval":
        users, rows, targets = part.history_and_target(split)
    else:
        shortest = splits.MIN_LENGTH[(mode, "train")] - splits.HELD_OUT
        users = sorted(u for u, s in part.train.items() if len(s) >= shortest)
        rows, targets = [part.train[u] for u in users], np.zeros(len(users), np.int64)
    if not users:
        raise ValueError(f"{data_dir}: the temporal split has no {mode}/{split} users")
    table = tf.RaggedTensor.from_row_lengths(
        np.concatenate(rows).astype(np.int32), [len(r) for r in rows])
    user_ids = tf.constant(users, tf.int32)
    targets = tf.constant(targets, tf.int32)

    def gather(index):
        out = {"user_id": tf.gather(user_ids, index)}
        if mode == "eval":
            out.update(_eval_tensors(tf.gather(table, index), tf.gather(targets, index),
                                     max_len))
        else:
            out.update(_training_tensors(tf.gather(table, index), mode, max_len))
        return out

    indices = tf.data.Dataset.range(len(users))
    if shuffle:
        indices = indices.shuffle(len(users), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        indices = indices.repeat()
    batches = indices.batch(batch_size, drop_remainder=drop_remainder).map(
        gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return _finish(batches, deterministic)


def _finish(batches: tf.data.Dataset, deterministic: bool) -> tf.data.Dataset:
    """The options and prefetch every tfbt pipeline ends with.

    tf.data's autotuning is off: with it, destroying an iterator after its last batch can block
    for about a second, and Keras and every evaluation destroy one per pass (measured in
    docs/benchmarks.md). ``AUTOTUNE`` parallelism then means one call per core, and the
    pipeline is still far faster than the model it feeds.
    """
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = False
    # Under MultiWorkerMirroredStrategy every worker runs this pipeline whole and keeps its
    # part of each global batch (sharding by record): the workers take the same number of steps
    # (none waits in a collective for a peer that has run out) and the global batch is the one
    # a single process reads. Sharding by file would skew the steps with unequal shards.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return batches.with_options(options).prefetch(tf.data.AUTOTUNE)


def make_dataset(
    data_dir: str | os.PathLike,
    *,
    mode: str = "sequence",
    split: str = "train",
    batch_size: int = 256,
    max_len: int = 200,
    labels: Sequence[str] = (),
    shuffle: bool = False,
    seed: int | None = None,
    repeat: bool = False,
    drop_remainder: bool = False,
    shuffle_buffer: int = 10_000,
    deterministic: bool | None = None,
    metadata: Metadata | None = None,
    temporal: splits.TemporalOptions | None = None,
    users: Sequence[int] | None = None,
) -> tf.data.Dataset:
    """Builds the input pipeline for one task.

    Args:
      data_dir: folder written by ``tfbt build`` (shards + metadata.json).
      mode: ``"sequence"`` (user sequences, for pretraining and user-level labels; split
        ``train`` only), ``"next_item"`` (inputs and next-item positives at every position;
        split ``train`` only) or ``"eval"`` (history, held-out target and seen items; split
        ``valid`` or ``test``).
      split: ``train``, ``valid`` or ``test``.
      batch_size: records per batch (fewer when some users are too short for the split).
      max_len: the most recent ``max_len`` items are kept.
      labels: label features to attach (names from ``metadata.labels``).
      shuffle: shuffle shard order and records (seeded by ``seed``).
      seed: seed for shuffling; with ``deterministic`` the element order is reproducible.
      repeat: repeat forever (for ``steps_per_epoch`` training).
      drop_remainder: drop the last incomplete batch (static batch size for XLA).
      shuffle_buffer: records held by the shuffle buffer.
      deterministic: force (or relax) deterministic element order; defaults to
        ``seed is not None``.
      metadata: pass an already loaded ``Metadata`` to skip re-reading it.
      users: keep only these user ids (``1..num_users``), e.g. a fraction of the training
        users (``tfbt train --train-fraction``); none: every user. Leave-one-out only.
      temporal: ``splits.TemporalOptions`` for the temporal protocol (needs timestamps; no
        labels); ``None`` = leave-one-out.

    Returns:
      A dataset of dicts. Every mode has ``user_id`` int32 ``[B]`` and ``items`` int32
      ``[B, max_len]``; ``next_item`` adds ``positives`` int32 ``[B, max_len]`` (the item after
      each input position, 0 on padding); ``eval`` adds ``target`` int32 ``[B]`` and ``seen``
      int32 RaggedTensor ``[B, None]`` (the untruncated history). Each requested label is an
      int32 ``[B]`` key (``-1`` when the user has no value).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if (mode, split) not in splits.MIN_LENGTH:
        allowed = sorted(s for m, s in splits.MIN_LENGTH if m == mode)
        raise ValueError(f"mode {mode!r} supports split {allowed}, got {split!r}")
    if max_len < 1 or batch_size < 1:
        raise ValueError(f"max_len and batch_size must be positive, got {max_len}, {batch_size}")
    meta = metadata or load_metadata(data_dir)
    unknown = [name for name in labels if name not in meta.labels]
    if unknown:
        raise ValueError(f"labels {unknown} not in {data_dir}; it has {sorted(meta.labels)}")
    if deterministic is None:
        deterministic = seed is not None
    if temporal is not None:
        if users is not None:
            raise ValueError("users: a user subset is for the leave-one-out protocol only")
        if labels:
            raise ValueError(f"labels {list(labels)}: the temporal protocol has no user labels "
                             f"(use leave-one-out)")
        if not meta.has_timestamps:
            raise ValueError(f"{data_dir}: the temporal split needs timestamps; this dataset "
                             f"has none (metadata.has_timestamps is false)")
        return _temporal_dataset(data_dir, temporal=temporal, mode=mode, split=split,
                                 batch_size=batch_size, max_len=max_len, shuffle=shuffle,
                                 seed=seed, repeat=repeat, drop_remainder=drop_remainder,
                                 deterministic=deterministic)
    compression = meta.options.get("compression") or ""
    required = splits.MIN_LENGTH[(mode, split)]
    min_length = required if meta.shortest_sequence < required else 0

    files = tf.data.Dataset.from_tensor_slices(meta.shard_paths(data_dir))
    if shuffle:
        files = files.shuffle(len(meta.shards), seed=seed, reshuffle_each_iteration=True)
    # Shards are read in turn, in the order a deterministic parallel interleave gives: on few
    # cores the parallel one's reader threads made passes slower and uneven (docs/benchmarks.md).
    # Parsing, the costly part, stays parallel below.
    records = files.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=compression),
        cycle_length=min(len(meta.shards), 8),
    )
    num_records = meta.num_users
    if users is not None:
        records, num_records = _only_users(records, users, meta), len(set(users))
    if shuffle:
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        records = records.repeat()
    spec = _feature_spec(labels)

    def parse_and_split(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        return _split_batch(parsed, mode=mode, split=split, max_len=max_len, labels=labels,
                            min_length=min_length)

    batches = records.batch(batch_size, drop_remainder=drop_remainder)
    batches = batches.map(parse_and_split, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=deterministic)
    if min_length:  # a batch made only of too-short users is dropped, never yielded empty
        batches = batches.filter(lambda batch: tf.shape(batch["items"])[0] > 0)
    elif not repeat:  # one record per user: Keras then shows "7/7", not "1/Unknown", and
        # does not warn that the input "ran out of data" at the end of the first epoch
        batches = batches.apply(tf.data.experimental.assert_cardinality(
            num_records // batch_size if drop_remainder else -(-num_records // batch_size)))
    return _finish(batches, deterministic)


def _only_users(records: tf.data.Dataset, users: Sequence[int], meta: Metadata):
    """The serialized records of ``users`` (ids 1..num_users) only."""
    users = np.asarray(users, np.int64)
    if users.size and (users.min() < 1 or users.max() > meta.num_users):
        raise ValueError(f"users must be ids in 1..{meta.num_users}, got "
                         f"{users.min()}..{users.max()}")
    wanted = np.zeros(meta.num_users + 1, bool)
    wanted[users] = True
    wanted = tf.constant(wanted)
    spec = {schema.USER_ID: tf.io.FixedLenFeature([], tf.int64)}
    return records.filter(
        lambda record: tf.gather(wanted, tf.io.parse_single_example(record, spec)[schema.USER_ID]))


def item_counts(data_dir: str | os.PathLike, *, metadata: Metadata | None = None,
                split: str = "train", temporal: splits.TemporalOptions | None = None
                ) -> np.ndarray:
    """Interaction count of every item index (``[num_items + 1]``, index 0 unused).

    Counts only the part of each sequence that the given split trains on (``train`` excludes
    the validation and test targets), so popularity never leaks held-out items. Under the
    temporal protocol every split counts the training interactions (before the cut).
    """
    meta = metadata or load_metadata(data_dir)
    if temporal is not None:
        sequences = list(training_sequences(data_dir, temporal=temporal).values())
    else:
        sequences = read_records(data_dir, metadata=meta).rows(
            drop_last=splits.UNSEEN_TAIL[split])
    known = np.concatenate(sequences) if sequences else np.zeros(0, np.int64)
    return np.bincount(known, minlength=meta.num_items + 1).astype(np.int64)
