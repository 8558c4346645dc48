"""The users of the downstream protocol: whole sequences and labels, and their split.

* ``load_users``: every usable user's whole chronological sequence and labels, row-aligned.
* ``split_users``: a seeded partition into a training pool, validation users and test users
  (disjoint; the same for every label fraction and transfer mode).
* ``label_subset``: the labelled part of the training pool for a label fraction (nested: for
  one seed the 1% users are among the 5% users, and so on).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from tfbt.data import load_metadata, read_records
from tfbt.data.splits import MIN_USER_LENGTH


@dataclasses.dataclass(frozen=True)
class Users:
    """Every usable user's whole chronological sequence and labels, row-aligned.

    Attributes:
      user_id: int ``[U]`` dataset user indices.
      sequences: ``U`` int32 arrays, all of each user's items in order (at least ``MIN_USER_LENGTH``).
      labels: label name -> int ``[U]`` class index (``-1`` when missing).
      num_classes: label name -> vocabulary size.
      num_items: catalogue size N (items are 1..N).
    """

    user_id: np.ndarray
    sequences: tuple[np.ndarray, ...]
    labels: dict[str, np.ndarray]
    num_classes: dict[str, int]
    num_items: int


def load_users(data_dir: str | os.PathLike, labels: Sequence[str] = (), *,
               metadata=None) -> Users:
    """Reads every user with at least ``MIN_USER_LENGTH`` items and the requested labels."""
    meta = metadata or load_metadata(data_dir)
    records = read_records(data_dir, metadata=meta, labels=labels)
    keep = records.lengths >= MIN_USER_LENGTH
    if not keep.any():
        raise ValueError(f"{data_dir}: no user has the {MIN_USER_LENGTH} items the downstream "
                         f"tasks need (training sequence, validation and test targets)")
    sequences = records.rows()
    return Users(
        user_id=records.user_id[keep],
        sequences=tuple(seq.astype(np.int32) for seq, kept in zip(sequences, keep) if kept),
        labels={name: values[keep] for name, values in records.labels.items()},
        num_classes={name: len(meta.labels[name]) for name in labels},
        num_items=meta.num_items)


@dataclasses.dataclass(frozen=True)
class UserSplit:
    """Disjoint sorted user rows: the training pool (labels come from here), validation users
    (early stopping and hyper-parameter choice) and test users (reported metrics)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def split_users(num_users: int, *, valid_fraction: float = 0.1, test_fraction: float = 0.2,
                seed: int = 0) -> UserSplit:
    """A seeded partition of ``num_users`` rows; the same ``seed`` gives the same split."""
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value}")
    num_test = int(round(test_fraction * num_users))
    num_valid = int(round(valid_fraction * num_users))
    if min(num_test, num_valid, num_users - num_test - num_valid) < 1:
        raise ValueError(f"{num_users} users cannot be split into non-empty training, validation "
                         f"({valid_fraction}) and test ({test_fraction}) parts")
    order = np.random.default_rng(seed).permutation(num_users)
    return UserSplit(train=np.sort(order[num_test + num_valid:]),
                     valid=np.sort(order[num_test:num_test + num_valid]),
                     test=np.sort(order[:num_test]))


def label_subset(rows: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """The labelled users of a label fraction: the first ``max(1, round(fraction * n))`` of a
    ``seed``-ed permutation of ``rows``, so subsets are nested across fractions for one seed."""
    if not 0 < fraction <= 1:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}")
    order = np.random.default_rng(seed).permutation(np.asarray(rows))
    return np.sort(order[:max(1, int(round(fraction * len(order))))])
