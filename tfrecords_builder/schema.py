"""The data contract between the builder and everything downstream.

One ``tf.train.Example`` per user:

* ``user_id``: int64, the user's index (1..num_users, raw ids in ``user_vocab.txt``).
* ``item_ids``: int64 list, chronological, item indices 1..num_items
  (0 is padding, ``num_items + 1`` the mask token; raw ids in ``item_vocab.txt``).
* ``timestamps``: int64 list aligned with ``item_ids`` (only when the source has times).
* one int64 scalar per label (``favorite_genre``, ``gender``, ...): an index into that
  label's vocabulary in ``metadata.json``, or ``MISSING_LABEL`` when the user has none.

``metadata.json`` sits beside the shards; every size downstream is read from it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from pathlib import Path
from typing import Any

BUILDER_VERSION = "1.0.0"
METADATA_FILE = "metadata.json"
ITEM_VOCAB_FILE = "item_vocab.txt"
USER_VOCAB_FILE = "user_vocab.txt"
ITEM_INFO_FILE = "items.tsv"

USER_ID = "user_id"
ITEM_IDS = "item_ids"
TIMESTAMPS = "timestamps"
PAD_ID = 0
MISSING_LABEL = -1
KNOWN_LABELS = ("favorite_genre", "gender", "age", "occupation")
_CHECKSUM_BLOCK = 1 << 20


def shard_checksum(path: str | os.PathLike) -> int:
    """CRC-32 of a file's bytes, read in 1 MiB blocks (``Metadata.shard_crc32``)."""
    with open(path, "rb") as f:
        return stream_checksum(f)


def stream_checksum(f) -> int:
    """CRC-32 of what is left of a binary stream (``shard_checksum`` of a file opened by any
    file system layer)."""
    crc = 0
    for block in iter(lambda: f.read(_CHECKSUM_BLOCK), b""):
        crc = zlib.crc32(block, crc)
    return crc


class MetadataError(ValueError):
    """metadata.json is missing, malformed, or does not match the shards beside it."""


@dataclasses.dataclass
class Metadata:
    """Everything a consumer needs to know about a built dataset.

    Attributes:
      num_users: number of users (= number of records).
      num_items: catalogue size; item indices run 1..num_items.
      num_interactions: total length of all sequences.
      shards: shard file names, relative to the dataset folder.
      shard_records: number of records in each shard, aligned with ``shards``.
      shard_bytes: size of each shard file, so a truncated or replaced shard is caught when
        the dataset is opened rather than mid-training (empty: not checked).
      shard_crc32: CRC-32 of each shard file (``shard_checksum``), so flipped bytes are caught
        by ``verify_shards`` (``tfbt build --verify``, the start of training) rather than as a
        ``DataLossError`` mid-training (empty: a dataset built before checksums).
      labels: label name -> vocabulary (the stored int is an index into it).
      has_timestamps: whether records carry ``timestamps``.
      split: default split protocol for consumers (``leave_one_out``).
      source_format: the reader that produced the data (``movielens-100k``, ...).
      sources: ``[{"path": ..., "md5": ...}]`` of every file read.
      options: the build options (filters, dedupe, shard count, ...).
      shortest_sequence: length of the shortest stored sequence (0 when unknown), so the input
        pipeline can skip per-batch filtering when every user is long enough.
      item_titles: whether ``items.tsv`` has titles (for printing recommendations).
      item_genres: whether ``items.tsv`` has genres (for calibration metrics).
      builder_version: ``BUILDER_VERSION`` of the writer.
    """

    num_users: int
    num_items: int
    num_interactions: int
    shards: list[str]
    shard_records: list[int]
    shard_bytes: list[int] = dataclasses.field(default_factory=list)
    shard_crc32: list[int] = dataclasses.field(default_factory=list)
    labels: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    has_timestamps: bool = False
    split: str = "leave_one_out"
    source_format: str = ""
    sources: list[dict[str, str]] = dataclasses.field(default_factory=list)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    shortest_sequence: int = 0
    item_titles: bool = False
    item_genres: bool = False
    builder_version: str = BUILDER_VERSION

    @property
    def mask_id(self) -> int:
        """Reserved item index used by masking augmentations."""
        return self.num_items + 1

    @property
    def vocab_size(self) -> int:
        """Embedding-table size: padding, items 1..N and the mask token."""
        return self.num_items + 2

    def save(self, directory: str | os.PathLike) -> None:
        path = Path(directory) / METADATA_FILE
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "Metadata":
        """Reads and checks ``metadata.json``; raises ``MetadataError`` with the reason."""
        path = Path(directory) / METADATA_FILE
        if not path.is_file():
            raise MetadataError(f"{path}: not found; is {directory} a folder written by `tfbt build`?")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise MetadataError(f"{path}: not valid JSON ({err})") from err
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        missing = required - raw.keys()
        if missing:
            raise MetadataError(f"{path}: missing fields {sorted(missing)}")
        meta = cls(**{k: v for k, v in raw.items() if k in names})
        if len(meta.shards) != len(meta.shard_records):
            raise MetadataError(f"{path}: {len(meta.shards)} shards but "
                                f"{len(meta.shard_records)} shard_records entries")
        if sum(meta.shard_records) != meta.num_users:
            raise MetadataError(f"{path}: shard_records sum to {sum(meta.shard_records)}, "
                                f"expected num_users={meta.num_users}")
        for index, shard in enumerate(meta.shards):
            shard_path = Path(directory) / shard
            if not shard_path.is_file():
                raise MetadataError(f"{path}: shard {shard} listed but missing from {directory}")
            size = shard_path.stat().st_size
            if meta.shard_bytes and size != meta.shard_bytes[index]:
                raise MetadataError(
                    f"{shard_path}: {size} bytes, but {METADATA_FILE} records "
                    f"{meta.shard_bytes[index]}; the shard is truncated or was replaced, "
                    f"rebuild the dataset")
        vocab_path = Path(directory) / ITEM_VOCAB_FILE
        if vocab_path.is_file():
            with open(vocab_path, "rb") as f:
                vocab_items = sum(1 for _ in f)
            if vocab_items != meta.num_items:
                raise MetadataError(
                    f"{path}: num_items is {meta.num_items} but {ITEM_VOCAB_FILE} lists "
                    f"{vocab_items} items; metadata.json was edited or comes from another "
                    f"build, rebuild the dataset")
        return meta

    def verify_shards(self, directory: str | os.PathLike) -> None:
        """Checks every shard against ``shard_crc32`` (reads all their bytes: about as long as
        one pass over the data); raises ``MetadataError`` naming a damaged shard. A dataset
        built before checksums passes unchecked."""
        for shard, expected in zip(self.shards, self.shard_crc32):
            shard_path = Path(directory) / shard
            if shard_checksum(shard_path) != expected:
                raise MetadataError(f"{shard_path}: the bytes do not match the checksum in "
                                    f"{METADATA_FILE}; the shard is damaged, rebuild the dataset")

    def shard_paths(self, directory: str | os.PathLike) -> list[str]:
        return [str(Path(directory) / s) for s in self.shards]


def read_vocab(directory: str | os.PathLike, name: str = ITEM_VOCAB_FILE) -> list[str]:
    """Raw ids in index order: line ``i`` holds the raw id of index ``i + 1``.

    Read as UTF-8 and split on ``\\n`` alone, as TensorFlow's lookup reads the file
    (``str.splitlines`` would also split ids at characters such as U+2028 or U+0085)."""
    lines = Path(directory, name).read_text(encoding="utf-8").split("\n")
    return lines[:-1] if lines[-1] == "" else lines
