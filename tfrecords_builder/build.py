"""Raw interaction log -> sharded TFRecords + metadata.json, on one machine (pandas/numpy).

The transformation, each step vectorised over the whole log (no Python loop per interaction):

1. rating filter: keep ``rating >= rating_threshold`` (NaN ratings are dropped).
2. chronological order: stable sort by (user, timestamp), so equal timestamps keep file order.
3. dedupe ``"first"``: keep each user-item pair's earliest interaction (the first in the file
   when the file is chronological); ``"keep"`` keeps repeats.
4. k-core: drop users with fewer than ``max(min_user_interactions, min_sequence_length)``
   interactions and items with fewer than ``min_item_interactions``, repeated until nothing
   changes (SASRec/S3Rec preprocessing). The result is the largest sub-log meeting both
   thresholds, whatever order the removals happen in, which is why the Beam pipeline (a
   different removal order) ends in the same place.
5. remap raw ids to 1..U and 1..N in raw-id order (numeric when every id is an integer, so
   pre-remapped data such as Beauty.txt keeps its ids).
6. labels, then one ``tf.train.Example`` per user; user ``u`` goes to shard ``(u - 1) % K``.

Everything both this module and ``beam_pipeline`` need (id order, label rules, record
serialisation, shard assignment, side files, metadata, the staged output folder) is defined
here once, so both paths write the same bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from tfbt.fs import kinds, lock
from tfbt.fs.processes import process_alive
from tfrecords_builder import schema
from tfrecords_builder.raw import RawDataset, quote

DEDUPE_MODES = ("keep", "first")
COMPRESSIONS = (None, "GZIP")
INTERACTIONS_PER_SHARD = 1_000_000
MAX_AUTO_SHARDS = 64
USER_ATTRIBUTES = ("gender", "age", "occupation")  # labels read from raw.users
# Bound on users x genres (and rows x genres) counted at once by `Labeler.user_labels`.
_GENRE_CELLS = 1 << 24
_INTEGER = re.compile(r"-?[0-9]+")
# What the builder writes into a dataset folder: `--overwrite` replaces these and keeps the rest.
_SHARD_NAME = re.compile(r"data-[0-9]{5}-of-[0-9]{5}\.tfrecord(\.gz)?")
_BUILDER_FILES = (schema.METADATA_FILE, schema.USER_VOCAB_FILE, schema.ITEM_VOCAB_FILE,
                  schema.ITEM_INFO_FILE)
# A staging sibling `<out>.tmp-<pid>-<hex>` (or `.old-`): its pid says whether its build lives.
_STAGING = re.compile(r"\.(tmp|old)-(?:([0-9]+)-)?[0-9a-f]+")


class BuildError(ValueError):
    """The build cannot go on: bad options, an unusable log, or an output folder in the way."""


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """What to keep and how to write it; stored in metadata.json's ``options``.

    Attributes:
      min_user_interactions: k-core threshold for users (0 or 1: no user filter).
      min_item_interactions: k-core threshold for items.
      rating_threshold: keep interactions with ``rating >= rating_threshold``; None keeps all.
      dedupe: ``"keep"`` repeated user-item interactions, or ``"first"`` keeps the earliest.
      num_shards: shard count; None = about one per 1M interactions, 1..64.
      compression: None or ``"GZIP"`` (shards then end in ``.tfrecord.gz``).
      min_sequence_length: users with fewer interactions after filtering are dropped (folded
        into the k-core loop, so items stay above their threshold too).
    """

    min_user_interactions: int = 0
    min_item_interactions: int = 0
    rating_threshold: float | None = None
    dedupe: str = "keep"
    num_shards: int | None = None
    compression: str | None = None
    min_sequence_length: int = 1

    def __post_init__(self):
        for name in ("min_user_interactions", "min_item_interactions", "min_sequence_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise BuildError(f"{name} must be an integer >= 0, got {value!r}")
        if self.dedupe not in DEDUPE_MODES:
            raise BuildError(f"dedupe must be one of {DEDUPE_MODES}, got {self.dedupe!r}")
        if self.compression not in COMPRESSIONS:
            raise BuildError(f"compression must be one of {COMPRESSIONS}, got "
                             f"{self.compression!r}")
        if self.num_shards is not None and (not isinstance(self.num_shards, (int, np.integer))
                                            or self.num_shards < 1):
            raise BuildError(f"num_shards must be an integer >= 1 or None, got "
                             f"{self.num_shards!r}")
        if self.rating_threshold is not None and not np.isfinite(self.rating_threshold):
            raise BuildError(f"rating_threshold must be a finite number, got "
                             f"{self.rating_threshold!r}")

    @property
    def min_user_count(self) -> int:
        """The users' k-core threshold: the stricter of the two user minimums."""
        return max(self.min_user_interactions, self.min_sequence_length)

    @property
    def k_core_active(self) -> bool:
        """Whether the k-core step can remove anything (a threshold above 1)."""
        return self.min_user_count > 1 or self.min_item_interactions > 1

    def resolved_num_shards(self, num_interactions: int) -> int:
        if self.num_shards is not None:
            return int(self.num_shards)
        return int(min(MAX_AUTO_SHARDS, max(1, round(num_interactions / INTERACTIONS_PER_SHARD))))


# --------------------------------------------------------------------------------------------
# Steps shared with the Beam pipeline.


def check_interactions(raw: RawDataset, options: BuildOptions) -> None:
    """Raises ``BuildError`` when ``raw.interactions`` cannot be built with ``options``."""
    df = raw.interactions
    missing = [c for c in ("user", "item", "timestamp") if c not in df.columns]
    if missing:
        raise BuildError(f"{raw.source_format} interactions lack column(s) {missing}; "
                         f"they have {list(df.columns)}")
    for column in ("user", "item", "timestamp"):
        null = df[column].isna().to_numpy()
        if null.any():
            row = int(np.argmax(null))
            raise BuildError(f"{raw.source_format} interactions, row {row} (0-based): {column} "
                             f"is missing")
    if not pd.api.types.is_integer_dtype(df["timestamp"].dtype):
        raise BuildError(f"{raw.source_format} interactions: timestamp must be int64, got "
                         f"{df['timestamp'].dtype}")
    if options.rating_threshold is not None and (
            "rating" not in df.columns or df["rating"].isna().all()):
        raise BuildError(f"rating_threshold={options.rating_threshold} but the "
                         f"{raw.source_format} source has no ratings")


def filter_steps(options: BuildOptions) -> list[str]:
    """Names of the filtering steps that run, in order (for the empty-result message)."""
    steps = ["read"]
    if options.rating_threshold is not None:
        steps.append(f"rating >= {options.rating_threshold}")
    if options.dedupe == "first":
        steps.append("dedupe first")
    if options.k_core_active:
        steps.append(f"k-core (users >= {options.min_user_count}, "
                     f"items >= {options.min_item_interactions})")
    return steps


def check_not_empty(counts: Sequence[int], options: BuildOptions) -> None:
    """Raises ``BuildError`` with the count after each step when the last count is zero."""
    if counts[-1] == 0:
        trail = ", ".join(f"{step}: {count:,}"
                          for step, count in zip(filter_steps(options), counts))
        raise BuildError(f"no interactions left after filtering: {trail}")


def id_order(ids: Sequence | np.ndarray) -> np.ndarray:
    """Permutation that puts distinct raw ids in index order.

    Numeric when every id is an integer (int dtype, or text like ``"42"``; equal values such as
    ``"7"``/``"07"`` then go by text), else by text.
    """
    values = np.asarray(ids)
    if values.dtype.kind in "iu":
        return np.argsort(values, kind="stable")
    text = [str(v) for v in values]
    if all(_INTEGER.fullmatch(t) for t in text):
        return np.asarray(sorted(range(len(text)), key=lambda k: (int(text[k]), text[k])),
                          dtype=np.int64)
    return np.argsort(np.asarray(text, dtype=object), kind="stable")


def ordered_ids(ids: Iterable) -> list:
    """Distinct raw ids (as given, types kept) in index order: line i of a vocab file is entry i."""
    values = list(ids)
    return [values[k] for k in id_order(values)]


def shard_of(user_index: int | np.ndarray, num_shards: int) -> int | np.ndarray:
    """Shard of a 1-based user index: users go round-robin, so shards have equal record counts."""
    return (user_index - 1) % num_shards


def shard_names(num_shards: int, compression: str | None) -> list[str]:
    suffix = ".tfrecord.gz" if compression == "GZIP" else ".tfrecord"
    return [f"data-{k:05d}-of-{num_shards:05d}{suffix}" for k in range(num_shards)]


def serialize_user(user_index: int, item_ids: Sequence[int] | np.ndarray,
                   timestamps: Sequence[int] | np.ndarray | None,
                   labels: Mapping[str, int]) -> bytes:
    """One user's ``tf.train.Example`` (the schema.py contract), deterministically serialised.

    Args:
      user_index: 1..U.
      item_ids: [n] chronological item indices 1..N.
      timestamps: [n] aligned with ``item_ids``, or None when the source has no times.
      labels: label name -> class index (``schema.MISSING_LABEL`` when unknown).
    """
    def ints(values) -> tf.train.Feature:
        values = values.tolist() if isinstance(values, np.ndarray) else values
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    feature = {schema.USER_ID: ints([int(user_index)]), schema.ITEM_IDS: ints(item_ids)}
    if timestamps is not None:
        feature[schema.TIMESTAMPS] = ints(timestamps)
    for name, value in labels.items():
        feature[name] = ints([int(value)])
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)


def write_shard(path: str | os.PathLike, records: Iterable[bytes],
                compression: str | None) -> int:
    """Writes ``records`` in order to one TFRecord file; returns how many."""
    count = 0
    with tf.io.TFRecordWriter(str(path), options=compression or "") as writer:
        for record in records:
            writer.write(record)
            count += 1
    return count


def _clean_field(value) -> str:
    """A TSV cell: missing -> empty, tabs and line breaks -> spaces."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return re.sub(r"[\t\r\n]", " ", str(value))


def item_info_flags(items: pd.DataFrame | None) -> tuple[bool, bool]:
    """(has titles, has genres) of ``raw.items``: whether items.tsv is written, what it holds."""
    columns = () if items is None else items.columns
    return "title" in columns, "genres" in columns


def write_side_files(directory: str | os.PathLike, user_vocab: Sequence, item_vocab: Sequence,
                     items: pd.DataFrame | None) -> None:
    """user_vocab.txt, item_vocab.txt and, when ``items`` (``raw.items``) has titles or genres,
    items.tsv."""
    directory = Path(directory)
    for name, vocab in ((schema.USER_VOCAB_FILE, user_vocab), (schema.ITEM_VOCAB_FILE, item_vocab)):
        text = [str(v) for v in vocab]
        bad = next((t for t in text if "\n" in t or "\r" in t), None)
        if bad is not None:
            raise BuildError(f"raw id {quote(bad)} contains a line break; it cannot go in {name}")
        (directory / name).write_text("".join(t + "\n" for t in text), encoding="utf-8")
    has_titles, has_genres = item_info_flags(items)
    if not (has_titles or has_genres):
        return
    info = items.reindex(pd.Index(np.asarray(item_vocab)))
    titles = info["title"] if has_titles else [None] * len(info)
    genres = info["genres"] if has_genres else [None] * len(info)
    lines = ["item\traw_id\ttitle\tgenres\n"]
    for index, (raw_id, title, item_genres) in enumerate(zip(item_vocab, titles, genres), 1):
        joined = "|".join(_clean_field(g) for g in _genre_list(item_genres, raw_id))
        lines.append(f"{index}\t{raw_id}\t{_clean_field(title)}\t{joined}\n")
    (directory / schema.ITEM_INFO_FILE).write_text("".join(lines), encoding="utf-8")


def make_metadata(raw: RawDataset, options: BuildOptions, directory: Path, *, num_items: int,
                  num_interactions: int, shortest_sequence: int, shards: list[str],
                  shard_records: list[int], labels: dict[str, list[str]],
                  shard_sums: Sequence[tuple[int, int]] | None = None,
                  sources: list[dict] | None = None) -> schema.Metadata:
    """The metadata of shards already written to ``directory`` (their sizes are recorded).

    ``shard_sums`` (bytes, CRC-32 per shard) and ``sources`` (path, md5 per source file), when
    given, replace reading the shards and ``raw.source_files`` here (the Beam builder computes
    them on its workers, where the files are).
    """
    has_titles, has_genres = item_info_flags(raw.items)
    if shard_sums is None:
        shard_sums = [((Path(directory) / name).stat().st_size,
                       schema.shard_checksum(Path(directory) / name)) for name in shards]
    if sources is None:
        sources = [{"path": str(p), "md5": _md5(p)} for p in raw.source_files]
    return schema.Metadata(
        num_users=int(sum(shard_records)), num_items=int(num_items),
        num_interactions=int(num_interactions), shards=shards,
        shard_records=[int(n) for n in shard_records],
        shard_bytes=[int(size) for size, _ in shard_sums],
        shard_crc32=[int(crc) for _, crc in shard_sums],
        labels=labels,
        has_timestamps=bool(raw.has_timestamps), source_format=raw.source_format,
        sources=sources,
        options={**{k: v.item() if isinstance(v, np.generic) else v
                    for k, v in dataclasses.asdict(options).items()},
                 "resolved_num_shards": len(shards)},
        shortest_sequence=int(shortest_sequence),
        item_titles=has_titles, item_genres=has_genres)


def _md5(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return stream_md5(f)


def stream_md5(f) -> str:
    """Hex md5 of what is left of a binary stream (a source file, on any file system)."""
    digest = hashlib.md5()
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def check_output_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuses an existing ``out_dir`` unless ``overwrite``, and never replaces a non-dataset."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise BuildError(f"{out_dir} exists and is not a folder")
    try:
        kinds.claim(out_dir, "build")
    except kinds.FolderKindError as err:
        raise BuildError(str(err)) from None
    if not overwrite:
        raise BuildError(f"{out_dir} already exists; pass overwrite=True (--overwrite) to "
                         f"replace it")
    if any(out_dir.iterdir()) and not (out_dir / schema.METADATA_FILE).is_file():
        raise BuildError(f"refusing to replace {out_dir}: it is not empty and has no "
                         f"{schema.METADATA_FILE}, so it is not a dataset written by this builder")


def is_builder_file(name: str) -> bool:
    """Whether a dataset folder's entry ``name`` is one the builder writes."""
    return name in _BUILDER_FILES or bool(_SHARD_NAME.fullmatch(name))


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Deletes the ``<out_dir>.tmp-<pid>-*`` / ``.old-<pid>-*`` siblings whose build process is
    gone (a killed build), says so on stderr, and returns them.

    Nothing is deleted when a stale ``.old-`` sibling exists but ``out_dir`` does not (the build
    was killed while swapping folders: that sibling is the previous dataset), and a sibling
    without a pid (an older builder's) is only reported: their owners cannot be told.
    """
    stale, unknown = [], []
    for sibling in sorted(out_dir.parent.glob(f"{glob.escape(out_dir.name)}.*-*")):
        match = _STAGING.fullmatch(sibling.name[len(out_dir.name):])
        if not match or not sibling.is_dir():
            continue
        if match.group(2) is None:
            unknown.append(sibling)
        elif not process_alive(int(match.group(2))):
            stale.append(sibling)
    for sibling in unknown:
        print(f"tfbt build: {sibling} was left by an interrupted build; delete it if no build "
              f"of {out_dir} is running", file=sys.stderr)
    previous = [s for s in stale if s.name.startswith(f"{out_dir.name}.old-")]
    if previous and not out_dir.exists():
        print(f"tfbt build: a build was killed while replacing {out_dir}: the previous dataset "
              f"is in {previous[0]} (rename it back); nothing was deleted", file=sys.stderr)
        return []
    for sibling in stale:
        shutil.rmtree(sibling, ignore_errors=True)
        print(f"tfbt build: removed {sibling}, left by a build that did not finish (process "
              f"{_STAGING.fullmatch(sibling.name[len(out_dir.name):]).group(2)} is gone)",
              file=sys.stderr)
    return stale


def _staging_name(out_dir: Path, kind: str) -> Path:
    return out_dir.with_name(f"{out_dir.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


@contextlib.contextmanager
def staged_output(out_dir: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yields an empty sibling ``<out_dir>.tmp-<pid>-<random>`` that becomes ``out_dir`` on
    success.

    On any error the temporary folder is deleted and ``out_dir`` is left as it was. With
    ``overwrite`` the old folder is renamed away, the entries the builder did not write
    (``is_builder_file``: a user's own files) are moved into the new one, the new one is
    renamed in, then the old deleted. A second build of the same ``out_dir`` is refused while
    this one runs (``tfbt.fs.lock``, on the hidden sibling ``.<name>.tfbt-lock``); staging
    folders of builds that were killed are removed first (``remove_stale_staging``).
    """
    out_dir = Path(os.path.abspath(out_dir))  # a name to put beside, even for "."
    check_output_dir(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with lock.exclusive(out_dir.with_name(f".{out_dir.name}{lock.LOCK_FILE}"),
                        f"dataset {out_dir}"):
        remove_stale_staging(out_dir)
        with _staged(out_dir, overwrite) as tmp:
            yield tmp


@contextlib.contextmanager
def _staged(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """``staged_output`` once its lock is held."""
    tmp = _staging_name(out_dir, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        check_output_dir(out_dir, overwrite)
        if out_dir.exists():
            old = _staging_name(out_dir, "old")
            out_dir.rename(old)
            moved = []
            try:
                for name in sorted(os.listdir(old)):
                    if not is_builder_file(name):
                        (old / name).rename(tmp / name)
                        moved.append(name)
                tmp.rename(out_dir)
            except BaseException:
                for name in moved:
                    (tmp / name).rename(old / name)
                old.rename(out_dir)
                raise
            shutil.rmtree(old)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------
# Labels.


def _genre_list(value, item) -> list[str]:
    """An item's genres as a list; missing (None/NaN) -> []."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(g) for g in value]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    raise BuildError(f"items[{quote(item)}].genres must be a list of genre names, got {quote(value)}")


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value == "" or (
        isinstance(value, float) and np.isnan(value))


class Labeler:
    """The label rules of the data contract, built once from the source's side tables.

    * ``favorite_genre``: the most frequent genre over the user's whole sequence; every
      interaction adds one to each genre of its item (repeats of an item count again); ties go
      to the earlier genre in the vocabulary (``raw.genre_vocabulary``, else sorted names).
    * ``gender``, ``age``, ``occupation``: the user's value from ``raw.users``; vocabulary in
      ``id_order`` (numeric for integer codes, else alphabetical).

    Users without a value (no genres on any item, not in ``raw.users``, empty cell) get
    ``schema.MISSING_LABEL``.
    """

    def __init__(self, raw: RawDataset):
        self.vocabularies: dict[str, list[str]] = {}
        self._genres = None
        if raw.items is not None and "genres" in raw.items.columns:
            _check_unique_index(raw.items, "items")
            lists = {item: _genre_list(g, item) for item, g in raw.items["genres"].items()}
            if raw.genre_vocabulary is not None:
                vocab = [str(g) for g in raw.genre_vocabulary]
            else:
                vocab = sorted({g for genres in lists.values() for g in genres})
            code = {g: k for k, g in enumerate(vocab)}
            for item, genres in lists.items():
                unknown = [g for g in genres if g not in code]
                if unknown:
                    raise BuildError(f"item {quote(item)} has genre(s) {unknown} missing from the "
                                     f"genre vocabulary {vocab}")
            self._genres = pd.Series({item: sorted({code[g] for g in genres})
                                      for item, genres in lists.items()}, dtype=object)
            self.vocabularies["favorite_genre"] = vocab
        self._user_codes = None
        attributes = [name for name in USER_ATTRIBUTES
                      if raw.users is not None and name in raw.users.columns]
        if attributes:
            _check_unique_index(raw.users, "users")
            codes = {}
            for name in attributes:
                values = [None if _is_missing(v) else str(v) for v in raw.users[name]]
                vocab = ordered_ids({v for v in values if v is not None})
                code = {v: k for k, v in enumerate(vocab)}
                codes[name] = [schema.MISSING_LABEL if v is None else code[v] for v in values]
                self.vocabularies[name] = vocab
            self._user_codes = pd.DataFrame(codes, index=raw.users.index, dtype=np.int64)

    def genre_matrix(self, item_vocab: Sequence) -> np.ndarray | None:
        """bool [N + 1, G]: row j says which genres item index j has (row 0 = padding)."""
        if self._genres is None:
            return None
        matrix = np.zeros((len(item_vocab) + 1, len(self.vocabularies["favorite_genre"])), bool)
        found = self._genres.reindex(pd.Index(np.asarray(item_vocab)))
        for row, codes in enumerate(found, 1):
            if isinstance(codes, list):
                matrix[row, codes] = True
        return matrix

    def user_labels(self, user_vocab: Sequence, items: np.ndarray, offsets: np.ndarray,
                    genre_matrix: np.ndarray | None) -> dict[str, np.ndarray]:
        """Labels of a batch of B users, each an int64 array [B].

        Args:
          user_vocab: [B] the users' raw ids.
          items: [n] item indices 1..N of all B users, user by user.
          offsets: int64 [B + 1]; user b's items are ``items[offsets[b]:offsets[b + 1]]``.
          genre_matrix: ``genre_matrix(item_vocab)``.
        """
        labels = {}
        if genre_matrix is not None:
            labels["favorite_genre"] = _favorite_genres(items, np.asarray(offsets), genre_matrix)
        if self._user_codes is not None:
            found = self._user_codes.reindex(pd.Index(np.asarray(user_vocab)))
            for name in found.columns:
                labels[name] = found[name].fillna(schema.MISSING_LABEL).to_numpy(np.int64)
        return labels


def _check_unique_index(table: pd.DataFrame, name: str) -> None:
    duplicated = table.index.duplicated()
    if duplicated.any():
        raise BuildError(f"raw.{name} lists id {quote(table.index[duplicated][0])} more than once")


def _favorite_genres(items: np.ndarray, offsets: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """int64 [B]: argmax of per-user genre counts (first genre wins ties), -1 with no genres.

    Counted densely in blocks of users so that blocks stay under ``_GENRE_CELLS`` cells.
    """
    num_users, num_genres = len(offsets) - 1, matrix.shape[1]
    out = np.full(num_users, schema.MISSING_LABEL, np.int64)
    limit = max(1, _GENRE_CELLS // max(num_genres, 1))
    lo = 0
    while lo < num_users:
        end_row = np.searchsorted(offsets, offsets[lo] + limit, side="right") - 1
        hi = int(min(num_users, lo + limit, max(lo + 1, end_row)))
        rows = items[offsets[lo]:offsets[hi]]
        owner = np.repeat(np.arange(hi - lo), np.diff(offsets[lo:hi + 1]))
        hit_row, hit_genre = np.nonzero(matrix[rows])
        counts = np.bincount(owner[hit_row] * num_genres + hit_genre,
                             minlength=(hi - lo) * num_genres).reshape(hi - lo, num_genres)
        best = counts.argmax(axis=1)
        has_any = counts[np.arange(hi - lo), best] > 0
        out[lo:hi] = np.where(has_any, best, schema.MISSING_LABEL)
        lo = hi
    return out


# --------------------------------------------------------------------------------------------
# The local path.


@dataclasses.dataclass
class Sequences:
    """Every user's chronological sequence, in CSR form.

    Attributes:
      user_vocab: [U] raw id of user index u + 1.
      item_vocab: [N] raw id of item index i + 1.
      offsets: int64 [U + 1]; user u + 1 owns rows ``offsets[u]:offsets[u + 1]``.
      items: int64 [n] item indices 1..N.
      timestamps: int64 [n].
      step_counts: interactions left after each of ``filter_steps(options)``.
    """

    user_vocab: np.ndarray
    item_vocab: np.ndarray
    offsets: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray
    step_counts: list[int]


def _ordered_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes [n] int64, vocab [V]) with codes ranking the raw ids in ``id_order``."""
    codes, uniques = pd.factorize(values)
    uniques = np.asarray(uniques)
    order = id_order(uniques)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order]


def _chronological(users: np.ndarray, timestamps: np.ndarray, num_users: int) -> np.ndarray:
    """Stable argsort by (user, timestamp): one int64 key when it fits, else lexsort."""
    if len(users) == 0:
        return np.zeros(0, np.int64)
    low, high = int(timestamps.min()), int(timestamps.max())
    span = high - low + 1
    if num_users * span < 2 ** 63:
        return np.argsort(users * span + (timestamps - low), kind="stable")
    return np.lexsort((timestamps, users))


def _k_core(users: np.ndarray, items: np.ndarray, min_user: int, min_item: int) -> np.ndarray:
    """Rows (indices) of the largest sub-log where users have >= min_user rows and items
    >= min_item, by removing violators until none is left."""
    keep = np.arange(len(users))
    while True:
        ok = np.ones(len(keep), bool)
        if min_user > 1:
            ok &= np.bincount(users)[users] >= min_user
        if min_item > 1:
            ok &= np.bincount(items)[items] >= min_item
        if ok.all():
            return keep
        keep, users, items = keep[ok], users[ok], items[ok]


def sequences(raw: RawDataset, options: BuildOptions) -> Sequences:
    """Filters, orders and remaps ``raw.interactions`` (steps 1-5 of the module docstring)."""
    check_interactions(raw, options)
    df = raw.interactions
    users, user_ids = _ordered_codes(df["user"])
    items, item_ids = _ordered_codes(df["item"])
    timestamps = df["timestamp"].to_numpy(np.int64)
    counts = [len(df)]
    if options.rating_threshold is not None:
        rows = np.flatnonzero(df["rating"].to_numpy(np.float64) >= options.rating_threshold)
        users, items, timestamps = users[rows], items[rows], timestamps[rows]
        counts.append(len(rows))
    order = _chronological(users, timestamps, len(user_ids))
    users, items, timestamps = users[order], items[order], timestamps[order]
    del order
    if options.dedupe == "first":
        pair = users * len(item_ids) + items
        by_pair = np.argsort(pair, kind="stable")  # stable: the earliest of a pair comes first
        sorted_pair = pair[by_pair]
        repeat = np.zeros(len(pair), bool)
        repeat[by_pair[1:]] = sorted_pair[1:] == sorted_pair[:-1]
        del pair, by_pair, sorted_pair
        rows = np.flatnonzero(~repeat)
        users, items, timestamps = users[rows], items[rows], timestamps[rows]
        counts.append(len(rows))
    if options.k_core_active:
        rows = _k_core(users, items, options.min_user_count, options.min_item_interactions)
        users, items, timestamps = users[rows], items[rows], timestamps[rows]
        counts.append(len(rows))
    check_not_empty(counts, options)

    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    present = np.zeros(len(item_ids), bool)
    present[items] = True
    item_index = np.cumsum(present)  # raw-order code -> 1..N
    return Sequences(user_vocab=user_ids[users[starts]], item_vocab=item_ids[present],
                     offsets=np.r_[starts, len(users)].astype(np.int64),
                     items=item_index[items], timestamps=timestamps, step_counts=counts)


def build(raw: RawDataset, out_dir: str | os.PathLike, options: BuildOptions = BuildOptions(),
          *, progress: bool = True, overwrite: bool = False) -> schema.Metadata:
    """Writes ``raw`` as a dataset folder (shards, vocabularies, items.tsv, metadata.json).

    Args:
      raw: what a reader returned.
      out_dir: the dataset folder; written under a temporary sibling name, renamed at the end.
      options: filtering and output options.
      progress: show a tqdm bar over users while writing.
      overwrite: replace an existing dataset folder's builder files (other files in it are
        kept; otherwise an existing ``out_dir`` is an error).

    Returns:
      The metadata written to ``out_dir/metadata.json``.

    Raises:
      BuildError: bad input, nothing left after filtering, or ``out_dir`` in the way.
    """
    out_dir = Path(out_dir)
    check_output_dir(out_dir, overwrite)
    labeler = Labeler(raw)
    seqs = sequences(raw, options)
    num_users, num_items = len(seqs.user_vocab), len(seqs.item_vocab)
    labels = labeler.user_labels(seqs.user_vocab, seqs.items, seqs.offsets,
                                 labeler.genre_matrix(seqs.item_vocab))
    labels = {name: values.tolist() for name, values in labels.items()}
    num_shards = options.resolved_num_shards(len(seqs.items))
    names = shard_names(num_shards, options.compression)
    offsets = seqs.offsets.tolist()

    def records(shard: int, bar) -> Iterator[bytes]:
        for u in range(shard, num_users, num_shards):  # 0-based: user index u + 1
            lo, hi = offsets[u], offsets[u + 1]
            yield serialize_user(u + 1, seqs.items[lo:hi],
                                 seqs.timestamps[lo:hi] if raw.has_timestamps else None,
                                 {name: values[u] for name, values in labels.items()})
            bar.update()

    with staged_output(out_dir, overwrite) as tmp:
        with tqdm(total=num_users, desc=f"writing {out_dir.name}", unit="user",
                  disable=not progress) as bar:
            shard_records = [write_shard(tmp / name, records(k, bar), options.compression)
                             for k, name in enumerate(names)]
        write_side_files(tmp, seqs.user_vocab, seqs.item_vocab, raw.items)
        meta = make_metadata(raw, options, tmp, num_items=num_items,
                             num_interactions=len(seqs.items),
                             shortest_sequence=np.diff(seqs.offsets).min(), shards=names,
                             shard_records=shard_records, labels=labeler.vocabularies)
        meta.save(tmp)
    return meta
