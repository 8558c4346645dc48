"""Readers for the Beam builder: the log as a PCollection of rows, never in the launcher.

A ``BeamSource`` is what ``run_beam_build`` consumes: the side tables a reader of ``readers``
would return (small: items, users, genres; its ``interactions`` frame stays empty) and a
transform from a pipeline to rows ``(position, user, item, timestamp, rating)``.

Inputs are file patterns on any Beam file system (``data/*.csv``, ``gs://bucket/log-*.parquet``),
matched in the launcher (names only) and read one file per element, each in batches, so a
worker holds one batch at a time. ``position`` is ``file index << 40 | row in file``: it sorts
rows in file order across files, as the local reader's row index does for one file, which is
what timestamp ties, ``dedupe="first"`` and sources without times order by. Sources without
times take ``position`` as their timestamp; it is not written (``has_timestamps`` is False), only
ordered by, as the local reader's row index is.

Raw ids stay text for text formats (the local reader turns a column of canonical integers into
int64): the two give the same vocabularies, because ``build.id_order`` orders integer text
numerically, and neither form reaches a record. Ids are looked up in side tables only for
``yelp``, whose ids are text on both paths.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tfrecords_builder import readers
from tfrecords_builder.raw import RawDataset, quote
from tfrecords_builder.readers import ReaderError

FORMATS = ("table", "yelp", "pair-text", "sequence-text")
FILE_SHIFT = 40  # position = file index << FILE_SHIFT | row in file
_BATCH_ROWS = 65_536
_CSV_BLOCK_BYTES = 8 << 20
_COLUMNS = ("user", "item", "timestamp", "rating")


@dataclasses.dataclass
class BeamSource:
    """A log for ``run_beam_build``.

    Attributes:
      side: everything but the log: format, side tables, ``has_timestamps``;
        ``interactions`` is an empty frame whose columns say whether the source has ratings.
      files: the source files, in position order; their md5 goes into metadata.json.
      rows: pipeline -> PCollection of rows ``(position, user, item, timestamp, rating)``.
    """

    side: RawDataset
    files: list[str]
    rows: Callable[[beam.Pipeline], beam.PCollection]

    @property
    def has_ratings(self) -> bool:
        return "rating" in self.side.interactions.columns


def _empty_log(has_ratings: bool) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=np.int64 if c == "timestamp" else object)
                         for c in _COLUMNS if c != "rating" or has_ratings})


def match_files(pattern: str) -> list[str]:
    """Files matching ``pattern`` (a path or glob on any Beam file system), sorted."""
    try:
        matched = FileSystems.match([pattern])[0].metadata_list
    except (OSError, ValueError) as err:
        raise ReaderError(f"{pattern}: cannot list ({err})") from None
    files = sorted(m.path for m in matched)
    if not files:
        raise ReaderError(f"{pattern}: no file matches")
    return files


def _read_files(files: list[str], read: Callable[[str], Iterator[tuple]]):
    """pipeline -> rows of every file, one file per element (spread over workers)."""
    def rows(pipeline):
        return (pipeline
                | "Files" >> beam.Create(list(enumerate(files)))
                | "SpreadFiles" >> beam.Reshuffle()
                | "ReadFile" >> beam.FlatMap(_positioned, read))
    return rows


def _positioned(indexed_file: tuple[int, str], read) -> Iterator[tuple]:
    """(file index, path) -> rows with ``position`` = file index << FILE_SHIFT | row."""
    index, path = indexed_file
    base = index << FILE_SHIFT
    for row, (user, item, timestamp, rating) in enumerate(read(path)):
        position = base | row
        yield position, user, item, position if timestamp is None else timestamp, rating


def _open(path: str, compressed: bool = True):
    """A binary stream; ``.gz``/``.bz2`` files are decompressed when ``compressed``."""
    return FileSystems.open(path, compression_type=CompressionTypes.AUTO if compressed
                            else CompressionTypes.UNCOMPRESSED)


def _lines(path: str, encoding: str, header: bool = False) -> Iterator[tuple[int, str]]:
    """(1-based number, text without line break) of every line; a bad byte names its line.
    With ``header`` each file's first non-blank line is skipped (as the local reader does)."""
    with _open(path) as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError:
                raise ReaderError(f"{path} line {number}: not valid {encoding} text; give the "
                                  f"file's encoding (tfbt build --encoding)") from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if header and line.strip():
                header = False
                continue
            yield number, line.rstrip("\r\n")


# --------------------------------------------------------------------------------------------
# Whitespace text.


def _pair_rows(path: str, encoding: str, header: bool) -> Iterator[tuple]:
    for number, line in _lines(path, encoding, header):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ReaderError(f"{path} line {number}: expected 2 whitespace-separated fields "
                              f"(user item), got {len(fields)}")
        yield fields[0], fields[1], None, math.nan


def _sequence_lines(indexed_file: tuple[int, str], encoding: str,
                    header: bool) -> Iterator[tuple[str, tuple]]:
    """(file index, path) -> (user, (position of its first row, path, line, items))."""
    index, path = indexed_file
    row = index << FILE_SHIFT
    for number, line in _lines(path, encoding, header):
        tokens = readers.sequence_tokens(path, number, line)
        if not tokens:
            continue
        yield tokens[0], (row, path, number, tokens[1:])
        row += len(tokens) - 1


def _sequence_rows(group) -> Iterator[tuple]:
    """(user, its lines) -> rows; timestamp = the item's position in the line."""
    user, lines = group
    lines = sorted(lines, key=lambda line: line[0])
    if len(lines) > 1:
        _, path, number, _ = lines[1]
        raise ReaderError(f"{path} line {number}: user {quote(user)} already has a sequence on "
                          f"line {lines[0][2]} of {lines[0][1]}; expected one line per user")
    start, _, _, items = lines[0]
    for k, item in enumerate(items):
        yield start + k, user, item, k, math.nan


def _sequence_source(files: list[str], encoding: str, header: bool):
    def rows(pipeline):
        return (pipeline
                | "Files" >> beam.Create(list(enumerate(files)))
                | "SpreadFiles" >> beam.Reshuffle()
                | "Lines" >> beam.FlatMap(_sequence_lines, encoding, header)
                | "ByUser" >> beam.GroupByKey()
                | "Rows" >> beam.FlatMap(_sequence_rows))
    return rows


# --------------------------------------------------------------------------------------------
# Tables.


@dataclasses.dataclass(frozen=True)
class _Columns:
    user: str
    item: str
    time: str | None
    rating: str | None

    @property
    def wanted(self) -> list[str]:
        return list(dict.fromkeys(c for c in (self.user, self.item, self.time, self.rating)
                                  if c is not None))


def _table_rows(path: str, columns: _Columns, sep: str | None, encoding: str) -> Iterator[tuple]:
    """Rows of one CSV/TSV/Parquet file, read a batch at a time."""
    name = path[:-3] if path.endswith(".gz") else path
    suffix = Path(name).suffix.lower()
    if suffix in readers._PARQUET:
        batches, locate = _parquet_batches(path, columns)
    elif suffix in readers._TABLE_SEPS or sep is not None:
        batches, locate = _csv_batches(path, columns, sep or readers._TABLE_SEPS[suffix],
                                       encoding)
    else:
        raise ReaderError(f"{path}: unknown table type {suffix!r}; expected .csv, .tsv, "
                          f".parquet or .pq (or give sep= for other delimited text)")
    start = 0
    for frame in batches:
        def here(row: int, message: str, start=start) -> ReaderError:
            return locate(start + row, message)
        yield from _table_batch(frame, columns, here)
        start += len(frame)


def _table_batch(frame: pd.DataFrame, columns: _Columns, locate) -> Iterator[tuple]:
    """One batch of a table -> (user, item, timestamp or None, rating), as ``read_table``."""
    users = readers._require_ids(frame[columns.user], locate, columns.user).tolist()
    items = readers._require_ids(frame[columns.item], locate, columns.item).tolist()
    if columns.rating is None:
        ratings = [math.nan] * len(frame)
    else:
        ratings = pd.to_numeric(frame[columns.rating], errors="coerce")
        bad = (ratings.isna() & frame[columns.rating].notna()).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise locate(row, f"expected {columns.rating} to be a number, got "
                              f"{frame[columns.rating].iloc[row]!r}")
        ratings = ratings.astype(np.float64).tolist()
    if columns.time is None:
        times = [None] * len(frame)
    else:
        times = readers._seconds(_typed_times(frame[columns.time]), locate,
                                 columns.time).tolist()
    return zip(users, items, times, ratings)


def _typed_times(values: pd.Series) -> pd.Series:
    """CSV times, read as text, typed as pyarrow would type the whole column: numbers when
    every non-empty value is one (an empty one is missing), else text."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values
    values = values.mask(values == "")
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().sum() == values.notna().sum() else values


def _parquet_batches(path: str, columns: _Columns):
    def locate(row: int, message: str) -> ReaderError:
        return ReaderError(f"{path} row {row + 1}: {message}")

    def batches():
        with _open(path, compressed=False) as f:
            table = pq.ParquetFile(f)
            missing = [c for c in columns.wanted if c not in table.schema_arrow.names]
            if missing:
                raise ReaderError(f"{path}: missing column(s) {missing}; the file has "
                                  f"{table.schema_arrow.names}")
            for batch in table.iter_batches(_BATCH_ROWS, columns=columns.wanted):
                yield batch.to_pandas()
    return batches(), locate


def _csv_batches(path: str, columns: _Columns, sep: str, encoding: str):
    """Ids and times as text (times are parsed per batch by ``readers._seconds``), ratings as
    float64 (empty -> NaN)."""
    local = Path(path) if FileSystems.get_scheme(path) is None and not path.endswith(".gz") \
        else None
    text = readers._TextFile(local or Path(path), sep, encoding=encoding, header=True,
                             quoted=True)

    def locate(row: int, message: str) -> ReaderError:
        return text.error_at(row, message) if local else ReaderError(
            f"{path} data row {row + 1}: {message}")

    def batches():
        with _open(path) as f:
            header = next(csv.reader([io.TextIOWrapper(f, encoding=encoding).readline()
                                      .lstrip("\ufeff")], delimiter=sep), [])
        missing = [c for c in columns.wanted if c not in header]
        if missing:
            raise ReaderError(f"{path}: missing column(s) {missing}; the header has {header}")
        kinds = {c: pa.string() for c in columns.wanted} | (
            {columns.rating: pa.float64()} if columns.rating else {})
        with _open(path) as f:
            try:
                reader = pacsv.open_csv(
                    f, read_options=pacsv.ReadOptions(encoding=encoding,
                                                      block_size=_CSV_BLOCK_BYTES),
                    parse_options=pacsv.ParseOptions(delimiter=sep),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=columns.wanted, column_types=kinds,
                        strings_can_be_null=False))
                for batch in reader:
                    yield batch.to_pandas()
            except pa.ArrowInvalid as err:
                if local is None:
                    raise ReaderError(f"{path}: could not be parsed as {text.sep_name}-"
                                      f"separated text: {err}") from None
                typed = {header.index(columns.rating): (columns.rating, "float")} \
                    if columns.rating else {}
                raise text.locate_error(len(header), typed, sep.join(header), err) from None
    return batches(), locate


# --------------------------------------------------------------------------------------------
# Yelp.


def _yelp_rows(path: str) -> Iterator[tuple]:
    """Reviews of one JSON-lines file, parsed ``_BATCH_ROWS`` lines at a time by pyarrow."""
    lines = ((number, line) for number, line in _lines(path, "utf-8") if line.strip())
    while True:
        batch = list(itertools.islice(lines, _BATCH_ROWS))
        if not batch:
            return
        yield from _yelp_batch(path, batch)


def _yelp_batch(path: str, batch: list[tuple[int, str]]) -> Iterator[tuple]:
    def locate(row: int, message: str) -> ReaderError:
        return ReaderError(f"{path} line {batch[row][0]}: {message}")

    data = "\n".join(line for _, line in batch).encode()
    try:
        table = pajson.read_json(io.BytesIO(data), parse_options=pajson.ParseOptions(
            explicit_schema=readers._REVIEW_SCHEMA, unexpected_field_behavior="ignore"))
        table.validate(full=True)
    except pa.ArrowInvalid as err:
        raise _locate_json_error(path, batch, err) from None
    reviews = table.to_pandas()
    for name in ("user_id", "business_id", "date"):
        missing = reviews[name].isna().to_numpy()
        if missing.any():
            raise locate(int(np.argmax(missing)), f"missing field {name!r}")
    times = pd.to_datetime(reviews["date"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    if times.isna().any():
        row = int(np.argmax(times.isna().to_numpy()))
        raise locate(row, f"expected date as 'YYYY-MM-DD HH:MM:SS', got "
                          f"{reviews['date'].iloc[row]!r}")
    seconds = ((times - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
    return zip(reviews["user_id"].tolist(), reviews["business_id"].tolist(), seconds.tolist(),
               reviews["stars"].astype(np.float64).tolist())


def _locate_json_error(path: str, batch: list[tuple[int, str]], err: Exception) -> ReaderError:
    errors = (readers.json_line_error(path, number, line, readers._REVIEW_SCHEMA)
              for number, line in batch)
    return next((e for e in errors if e is not None),
                ReaderError(f"{path}: could not be parsed as JSON lines: {err}"))


# --------------------------------------------------------------------------------------------
# Dispatch.


def beam_source(fmt: str, pattern: str, **options) -> BeamSource:
    """The ``BeamSource`` of ``fmt`` (one of ``FORMATS``) over the files matching ``pattern``.

    ``options`` are those of the local reader (``readers.read_source``); raises
    ``ReaderError`` for an unknown format or option, or a pattern that matches nothing.
    """
    if fmt not in FORMATS:
        raise ReaderError(f"format {fmt!r} has no Beam reader; the Beam builder reads "
                          f"{', '.join(FORMATS)} as file patterns (other formats are read "
                          f"whole by the local reader)")
    readers.check_reader_options(fmt, options)
    files = match_files(str(pattern))
    encoding = options.get("encoding", "utf-8")
    header = bool(options.get("header"))  # sequence-text, pair-text: skip each file's first line
    has_times, has_ratings = True, True
    if fmt == "table":
        columns = _Columns(options.get("user_col", "user_id"), options.get("item_col", "item_id"),
                           options.get("time_col"), options.get("rating_col"))
        rows = _read_files(files, lambda path: _table_rows(path, columns, options.get("sep"),
                                                           encoding))
        has_times, has_ratings = columns.time is not None, columns.rating is not None
    elif fmt == "pair-text":
        rows = _read_files(files, lambda path: _pair_rows(path, encoding, header))
        has_times = has_ratings = False
    elif fmt == "sequence-text":
        rows = _sequence_source(files, encoding, header)
        has_times = has_ratings = False
    else:
        rows = _read_files(files, _yelp_rows)
    side = RawDataset(interactions=_empty_log(has_ratings), source_format=fmt, source_files=[],
                      has_timestamps=has_times)
    if fmt == "yelp":
        business = readers.yelp_business(Path(files[0]) if len(files) == 1 else None,
                                         options.get("business_path"))
        if business is not None:
            files = [*files, str(business.path)]
            side.items, side.genre_vocabulary = business.items, business.genre_vocabulary
    return BeamSource(side=side, files=files, rows=rows)
