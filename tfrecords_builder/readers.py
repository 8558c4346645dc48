"""Source readers: one function per raw format, each returning a ``RawDataset``.

``read_source(fmt, path, **options)`` picks the reader by name (the CLI's ``--format``). Large
files are parsed by pyarrow (multi-threaded C++); only when that fails is the file re-read line by
line, to name the first bad line in the error. Raw ids stay as the source spells them: int64 when
every id of a column is a canonical integer, str otherwise.

MovieLens 100K and 1M share one age vocabulary (the ML-1M groups): ML-100K gives ages in years,
which are bucketed into those groups so an ``age`` label means the same thing on both.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import inspect
import io
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from tfrecords_builder.raw import RawDataset, quote


class ReaderError(ValueError):
    """A source is missing, malformed, or lacks a required file or column."""


# ML-1M README: age codes -> group labels (ML-100K ages are bucketed into the same groups).
ML1M_AGE_GROUPS = {1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49",
                   50: "50-55", 56: "56+"}
# ML-1M README: occupation codes 0..20 in order.
ML1M_OCCUPATIONS = (
    "other or not specified", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care", "executive/managerial",
    "farmer", "homemaker", "K-12 student", "lawyer", "programmer", "retired", "sales/marketing",
    "scientist", "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed",
    "writer",
)
# ML-1M README genre order; ML-10M adds IMAX, appended after these.
ML1M_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War",
    "Western",
)
NO_GENRES = "(no genres listed)"

_ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}
_KIND_WORDS = {"int": "an integer", "float": "a number", "str": "text"}
_SEP_NAMES = {"\t": "tab", "|": "pipe", ",": "comma", ";": "semicolon", " ": "space",
              None: "whitespace"}
_INT = re.compile(r"\s*-?\d+\s*")
# Multi-character separators ("::") are rewritten to this byte, which text never contains,
# because pyarrow only splits on single characters.
_UNIT_SEP = "\x1f"


# --------------------------------------------------------------------------------------------
# Delimited text: fast path with pyarrow, line-accurate errors on failure.


@dataclasses.dataclass(frozen=True)
class _TextFile:
    """A delimited text file and how to split it, as pyarrow and the error locator both see it.

    ``sep`` None means runs of whitespace. Blank lines are skipped, as pyarrow does.
    """

    path: Path
    sep: str | None
    encoding: str = "utf-8"
    header: bool = False
    quoted: bool = False

    @property
    def sep_name(self) -> str:
        return _SEP_NAMES.get(self.sep, repr(self.sep))

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(1-based first line, fields) of every non-blank record, header included."""
        lines = (line for _, line in decoded_lines(self.path, self.encoding))
        if self.quoted:
            reader = csv.reader(lines, delimiter=self.sep)
            start = 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as err:  # e.g. a field beyond csv's size limit
                    raise ReaderError(f"{self.path} line {reader.line_num}: {err}") from None
                if fields:
                    yield start, fields
                start = reader.line_num + 1
        else:
            for number, line in enumerate(lines, 1):
                line = line.rstrip("\r\n")
                if line:
                    yield number, line.split(self.sep)

    def error_at(self, row: int, message: str) -> ReaderError:
        """An error for data row ``row`` (0-based, header excluded), naming its line."""
        rows = itertools.islice(self.records(), row + self.header, None)
        line = next(rows)[0]
        return ReaderError(f"{self.path} line {line}: {message}")

    def locate_error(self, n_fields: int, typed: dict[int, tuple[str, str]], layout: str,
                     err: Exception) -> ReaderError:
        """Finds the first record with the wrong field count or an unparsable typed field.

        Called only after pyarrow failed on the file; ``typed`` maps a field position to
        (name, kind). Falls back to pyarrow's own message if every line looks right.
        """
        records = self.records()
        if self.header:
            next(records, None)
        empty = True
        for line, fields in records:
            empty = False
            if len(fields) != n_fields:
                return ReaderError(
                    f"{self.path} line {line}: expected {n_fields} {self.sep_name}-separated "
                    f"fields ({layout}), got {len(fields)}")
            for position, (name, kind) in typed.items():
                if not _parses(fields[position], kind):
                    return ReaderError(f"{self.path} line {line}: expected {name} to be "
                                       f"{_KIND_WORDS[kind]}, got {quote(fields[position])}")
        if empty:
            return ReaderError(f"{self.path}: no records found (expected {layout})")
        return ReaderError(f"{self.path}: could not be parsed as {self.sep_name}-separated "
                           f"{layout}: {str(err)[:200]}")

    def header_fields(self) -> list[str]:
        first = next(self.records(), None)
        if first is None:
            raise ReaderError(f"{self.path}: empty file, expected a header line")
        return first[1]


def decoded_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(1-based number, text with its line break) of every line of ``path``.

    Raises ``ReaderError`` naming the line and byte offset of the first bytes that are not
    valid ``encoding``, instead of a ``UnicodeDecodeError`` with neither. A UTF-8 byte-order
    mark is skipped, as pyarrow does.
    """
    offset = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise ReaderError(
                    f"{path} line {number}, byte {offset + err.start}: "
                    f"{raw[err.start:err.end]!r} is not valid {encoding} text; give the file's "
                    f"encoding (tfbt build --encoding, e.g. latin-1, for sequence-text, "
                    f"pair-text and table) or convert it to {encoding}") from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            offset += len(raw)
            yield number, line


def _parses(value: str, kind: str) -> bool:
    if kind == "int":
        return _INT.fullmatch(value) is not None
    if kind == "float":
        try:
            float(value)
        except ValueError:
            return False
    return True


def _arrow_source(file: _TextFile):
    """The file itself, or its bytes with a multi-character separator made single."""
    if file.sep is not None and len(file.sep) > 1:
        return io.BytesIO(file.path.read_bytes().replace(file.sep.encode(), _UNIT_SEP.encode()))
    return file.path


def _read_fixed(file: _TextFile, fields: Sequence[tuple[str, str]],
                layout: str | None = None) -> pd.DataFrame:
    """Reads a header-less file whose every line has exactly ``fields`` (name, kind).

    Empty fields are errors, not nulls: MovieLens files have no missing values.
    """
    names = [name for name, _ in fields]
    delimiter = file.sep if len(file.sep) == 1 else _UNIT_SEP
    try:
        table = pacsv.read_csv(
            _arrow_source(file),
            read_options=pacsv.ReadOptions(column_names=names, encoding=file.encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: _ARROW_TYPES[kind] for name, kind in fields},
                null_values=[], strings_can_be_null=False))
    except pa.ArrowInvalid as err:
        typed = {i: field for i, field in enumerate(fields) if field[1] != "str"}
        raise file.locate_error(len(fields), typed, layout or " ".join(names), err) from None
    return table.to_pandas()


def _read_columns(file: _TextFile, columns: dict[str, str | None],
                  strict: bool) -> pd.DataFrame:
    """Reads the named columns of a CSV file with a header; other columns are skipped.

    ``columns`` maps a name to its kind, or None to let pyarrow infer the type. ``strict``: empty
    fields are errors rather than nulls. Raises ``ReaderError`` naming any column the header lacks.
    """
    header = file.header_fields()
    missing = [name for name in columns if name not in header]
    if missing:
        raise ReaderError(f"{file.path}: missing column(s) {missing}; the header has {header}")
    try:
        table = pacsv.read_csv(
            file.path,
            read_options=pacsv.ReadOptions(encoding=file.encoding),
            parse_options=pacsv.ParseOptions(delimiter=file.sep),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(columns),
                column_types={name: _ARROW_TYPES[kind] for name, kind in columns.items() if kind},
                strings_can_be_null=False, **({"null_values": []} if strict else {})))
    except pa.ArrowInvalid as err:
        typed = {header.index(name): (name, kind) for name, kind in columns.items()
                 if kind and kind != "str"}
        raise file.locate_error(len(header), typed, file.sep.join(header), err) from None
    return table.to_pandas()


# --------------------------------------------------------------------------------------------
# Shared conversions.


def _as_ids(values: Sequence) -> np.ndarray:
    """Raw ids: int64 when every value is a canonical integer ("7", not "007"), else str
    (an object array)."""
    if pd.api.types.is_integer_dtype(getattr(values, "dtype", None)):
        return np.asarray(values, dtype=np.int64)
    text = pa.array(values, type=pa.string(), from_pandas=True)
    try:
        numbers = pc.cast(text, pa.int64())
    except pa.ArrowInvalid:
        return np.asarray(values, dtype=object)
    if pc.all(pc.equal(pc.cast(numbers, pa.string()), text)).as_py():
        return numbers.to_numpy()
    return np.asarray(values, dtype=object)


def _require_ids(values: pd.Series, locate: Callable[[int, str], ReaderError],
                 column: str) -> pd.Series:
    """``values`` unchanged, after checking that no id is null or blank."""
    blank = values.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(values.dtype):
        blank = blank | values.astype(str).str.strip().eq("").to_numpy()
    if blank.any():
        raise locate(int(np.argmax(blank)), f"empty {column}")
    return values


def _seconds(values: pd.Series, locate: Callable[[int, str], ReaderError],
             column: str) -> np.ndarray:
    """Unix seconds (int64) from integer/float times, datetimes or ISO-8601 strings."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy(np.int64)
    if pd.api.types.is_float_dtype(values.dtype):
        times = values.where(np.isfinite(values))
    elif isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        times = values
    else:  # text: unix times or ISO dates, whichever reads more rows (a bad row makes a
        # column of unix times text, and the bad row is the one to name)
        dates = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
        numbers = pd.to_numeric(values, errors="coerce")
        numbers = numbers.where(np.isfinite(numbers))
        times = numbers if numbers.notna().sum() > dates.notna().sum() else dates
    if times.isna().any():
        row = int(np.argmax(times.isna().to_numpy()))
        value = values.iloc[row]
        raise locate(row, f"expected {column} to be a unix time or an ISO-8601 date, got "
                          f"{'an empty field' if pd.isna(value) else quote(value)}")
    if pd.api.types.is_float_dtype(times.dtype):
        return np.floor(times.to_numpy()).astype(np.int64)
    if times.dt.tz is not None:
        times = times.dt.tz_convert(None)
    return ((times - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def _interactions(where: Path, user, item, timestamp, rating=None) -> pd.DataFrame:
    """The ``RawDataset.interactions`` frame; ``rating`` None means the source has none."""
    frame = pd.DataFrame({
        "user": np.asarray(user), "item": np.asarray(item),
        "timestamp": np.asarray(timestamp, dtype=np.int64),
        "rating": (np.full(len(timestamp), np.nan) if rating is None
                   else np.asarray(rating, dtype=np.float64)),
    })
    if frame.empty:
        raise ReaderError(f"{where}: no interactions found")
    return frame


def _check_unique(ids: pd.Series, locate: Callable[[int, str], ReaderError], what: str) -> None:
    """Side tables are indexed by raw id: a second row for one id is an error."""
    repeated = ids.duplicated().to_numpy()
    if repeated.any():
        row = int(np.argmax(repeated))
        raise locate(row, f"{what} {quote(ids.tolist()[row])} appears twice; expected one row per "
                          f"{what}")


def _split_genres(genres: pd.Series, sep: str) -> list[list[str]]:
    """Per item, its genre names (stripped; empty and "(no genres listed)" dropped)."""
    return [[g for g in map(str.strip, text.split(sep)) if g and g != NO_GENRES]
            if isinstance(text, str) else [] for text in genres]


def _side_file(folder: Path, name: str, read: list[Path]) -> Path | None:
    """``folder/name`` if it exists (and records it as read), else None."""
    path = folder / name
    if path.is_file():
        read.append(path)
        return path
    return None


def _require_folder(path: Path, required: str) -> Path:
    if not path.exists():
        raise ReaderError(f"{path}: not found; expected the dataset folder holding {required}")
    if not path.is_dir():
        raise ReaderError(f"{path}: not a folder; expected the dataset folder holding {required}")
    if not (path / required).is_file():
        raise ReaderError(f"{path / required}: required file not found")
    return path / required


def _warn_missing(path: Path, lost: str) -> None:
    """Says on stderr that an optional side file is absent and what the dataset loses."""
    print(f"tfbt build: warning: {path} not found: {lost}", file=sys.stderr)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise ReaderError(f"{path}: file not found")


# --------------------------------------------------------------------------------------------
# MovieLens.


def read_movielens_100k(path: str | Path) -> RawDataset:
    """ML-100K folder: ``u.data`` (required), ``u.item``, ``u.genre``, ``u.user`` (optional).

    Genres come from ``u.item``'s flags named in ``u.genre`` order (``unknown`` included);
    without ``u.genre`` items get titles only. Ages are bucketed into the ML-1M groups.
    """
    path = Path(path)
    data = _require_folder(path, "u.data")
    read = [data]
    ratings = _read_fixed(
        _TextFile(data, "\t"),
        [("user", "int"), ("item", "int"), ("rating", "float"), ("timestamp", "int")])
    raw = RawDataset(
        interactions=_interactions(data, ratings["user"], ratings["item"], ratings["timestamp"],
                                   ratings["rating"]),
        source_format="movielens-100k", source_files=read)

    genre_path = _side_file(path, "u.genre", read)
    if genre_path is not None:
        raw.genre_vocabulary = _read_100k_genres(genre_path)
    item_path = _side_file(path, "u.item", read)
    if item_path is not None:
        raw.items = _read_100k_items(item_path, raw.genre_vocabulary)
    else:
        _warn_missing(path / "u.item", "items get no titles or genres, users no "
                                       "favorite_genre label")
    user_path = _side_file(path, "u.user", read)
    if user_path is not None:
        raw.users = _read_100k_users(user_path)
    return raw


def _read_100k_genres(path: Path) -> list[str]:
    file = _TextFile(path, "|", encoding="latin-1")
    table = _read_fixed(file, [("name", "str"), ("index", "int")])
    order = np.argsort(table["index"].to_numpy(), kind="stable")
    if not np.array_equal(table["index"].to_numpy()[order], np.arange(len(table))):
        raise ReaderError(f"{path}: genre indices must be 0..{len(table) - 1} without gaps, got "
                          f"{sorted(table['index'].tolist())}")
    return table["name"].to_numpy()[order].tolist()


def _read_100k_items(path: Path, genres: list[str] | None) -> pd.DataFrame:
    file = _TextFile(path, "|", encoding="latin-1")
    if genres is None:
        first = next(file.records(), (0, []))[1]
        flag_names = [f"flag{i}" for i in range(max(len(first) - 5, 0))]
    else:
        flag_names = list(genres)
    fields = ([("item", "int"), ("title", "str"), ("release", "str"), ("video_release", "str"),
               ("url", "str")] + [(name, "int") for name in flag_names])
    layout = f"id|title|release|video_release|url|{len(flag_names)} genre flags"
    table = _read_fixed(file, fields, layout)
    _check_unique(table["item"], file.error_at, "item")
    items = pd.DataFrame({"title": table["title"].to_numpy()},
                         index=pd.Index(table["item"].to_numpy(), name="item"))
    if genres is not None:
        flags = table.iloc[:, 5:].to_numpy()
        bad = ~np.isin(flags, (0, 1))
        if bad.any():
            row = int(np.argmax(bad.any(axis=1)))
            raise file.error_at(row, f"genre flags must be 0 or 1, got {flags[row].tolist()}")
        names = np.asarray(genres, dtype=object)
        items["genres"] = [names[row.astype(bool)].tolist() for row in flags]
    return items


def _age_group(ages: np.ndarray) -> np.ndarray:
    """Years -> ML-1M age group label (1 "Under 18", 18 "18-24", ..., 56 "56+")."""
    bounds = sorted(ML1M_AGE_GROUPS)
    labels = np.asarray([ML1M_AGE_GROUPS[b] for b in bounds])
    return labels[np.clip(np.searchsorted(bounds, ages, side="right") - 1, 0, None)]


def _read_100k_users(path: Path) -> pd.DataFrame:
    file = _TextFile(path, "|", encoding="latin-1")
    table = _read_fixed(file, [("user", "int"), ("age", "int"), ("gender", "str"),
                               ("occupation", "str"), ("zip", "str")])
    _check_unique(table["user"], file.error_at, "user")
    return pd.DataFrame({"gender": table["gender"].to_numpy(str),
                         "age": _age_group(table["age"].to_numpy()),
                         "occupation": table["occupation"].to_numpy(str)},
                        index=pd.Index(table["user"].to_numpy(), name="user"))


def read_movielens_1m(path: str | Path) -> RawDataset:
    """ML-1M or ML-10M folder: ``ratings.dat`` (required), ``movies.dat``, ``users.dat``.

    Files are ``::``-separated Latin-1. Genre vocabulary: the README's 18 genres, then any
    others found (ML-10M's IMAX) alphabetically. Age and occupation codes become their labels.
    """
    path = Path(path)
    data = _require_folder(path, "ratings.dat")
    read = [data]
    ratings = _read_fixed(
        _TextFile(data, "::", encoding="latin-1"),
        [("UserID", "int"), ("MovieID", "int"), ("Rating", "float"), ("Timestamp", "int")],
        "UserID::MovieID::Rating::Timestamp")
    raw = RawDataset(
        interactions=_interactions(data, ratings["UserID"], ratings["MovieID"],
                                   ratings["Timestamp"], ratings["Rating"]),
        source_format="movielens-1m", source_files=read)
    movies_path = _side_file(path, "movies.dat", read)
    if movies_path is not None:
        file = _TextFile(movies_path, "::", encoding="latin-1")
        movies = _read_fixed(file, [("MovieID", "int"), ("Title", "str"), ("Genres", "str")],
                             "MovieID::Title::Genres")
        _check_unique(movies["MovieID"], file.error_at, "movie")
        raw.items = _movie_items(movies["MovieID"], movies["Title"], movies["Genres"])
        found = set(itertools.chain.from_iterable(raw.items["genres"]))
        raw.genre_vocabulary = list(ML1M_GENRES) + sorted(found - set(ML1M_GENRES))
    else:
        _warn_missing(path / "movies.dat", "items get no titles or genres, users no "
                                           "favorite_genre label")
    users_path = _side_file(path, "users.dat", read)
    if users_path is not None:
        raw.users = _read_1m_users(users_path)
    return raw


def _movie_items(ids: pd.Series, titles: pd.Series, genres: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"title": titles.to_numpy(str), "genres": _split_genres(genres, "|")},
                        index=pd.Index(ids.to_numpy(), name="item"))


def _read_1m_users(path: Path) -> pd.DataFrame:
    file = _TextFile(path, "::", encoding="latin-1")
    table = _read_fixed(file, [("UserID", "int"), ("Gender", "str"), ("Age", "int"),
                               ("Occupation", "int"), ("Zip", "str")],
                        "UserID::Gender::Age::Occupation::Zip-code")
    _check_unique(table["UserID"], file.error_at, "user")
    ages = table["Age"].map(ML1M_AGE_GROUPS)
    if ages.isna().any():
        row = int(np.argmax(ages.isna().to_numpy()))
        raise file.error_at(row, f"unknown age code {table['Age'].iloc[row]}; expected one of "
                                 f"{sorted(ML1M_AGE_GROUPS)}")
    codes = table["Occupation"].to_numpy()
    bad = (codes < 0) | (codes >= len(ML1M_OCCUPATIONS))
    if bad.any():
        row = int(np.argmax(bad))
        raise file.error_at(row, f"unknown occupation code {codes[row]}; expected 0.."
                                 f"{len(ML1M_OCCUPATIONS) - 1}")
    return pd.DataFrame({"gender": table["Gender"].to_numpy(str),
                         "age": ages.to_numpy(str),
                         "occupation": np.asarray(ML1M_OCCUPATIONS)[codes]},
                        index=pd.Index(table["UserID"].to_numpy(), name="user"))


def read_movielens_20m(path: str | Path) -> RawDataset:
    """ML-20M/25M/32M folder: ``ratings.csv`` (required) and ``movies.csv`` (optional).

    Genre vocabulary: every genre found, alphabetically, without "(no genres listed)".
    """
    path = Path(path)
    data = _require_folder(path, "ratings.csv")
    read = [data]
    ratings = _read_columns(_TextFile(data, ",", header=True, quoted=True),
                            {"userId": "int", "movieId": "int", "rating": "float",
                             "timestamp": "int"}, strict=True)
    raw = RawDataset(
        interactions=_interactions(data, ratings["userId"], ratings["movieId"],
                                   ratings["timestamp"], ratings["rating"]),
        source_format="movielens-20m", source_files=read)
    movies_path = _side_file(path, "movies.csv", read)
    if movies_path is not None:
        file = _TextFile(movies_path, ",", header=True, quoted=True)
        movies = _read_columns(file, {"movieId": "int", "title": "str", "genres": "str"},
                               strict=True)
        _check_unique(movies["movieId"], file.error_at, "movie")
        raw.items = _movie_items(movies["movieId"], movies["title"], movies["genres"])
        raw.genre_vocabulary = sorted(set(itertools.chain.from_iterable(raw.items["genres"])))
    return raw


# --------------------------------------------------------------------------------------------
# Generic formats.


def sequence_tokens(path, number: int, line: str) -> list[str]:
    """A ``sequence-text`` line's ids (user first; ``[]`` for a blank line), or a
    ``ReaderError`` naming the line when it has a NUL byte or no item."""
    if "\x00" in line:
        raise ReaderError(f"{path} line {number}: contains a NUL byte (at character "
                          f"{line.index(chr(0)) + 1}); expected whitespace-separated ids")
    tokens = line.split()
    if len(tokens) == 1:
        raise ReaderError(f"{path} line {number}: expected a user id followed by at least one "
                          f"item id, got 1 field")
    return tokens

def read_sequence_text(path: str | Path, encoding: str = "utf-8",
                       header: bool = False) -> RawDataset:
    """One line per user, ``user item item ...`` in chronological order (Beauty.txt), in
    ``encoding``; with ``header`` the first non-blank line is a header and skipped.

    Any line of two or more ids is data, whatever its ids look like: a first line of words
    among integer ids is read as data, with a warning that ``header`` skips it.
    The source has no times or ratings: ``timestamp`` is the item's position in its line.
    """
    path = Path(path)
    _require_file(path)
    users, lengths, items = [], [], []
    first_line = {}
    skip = header
    for number, line in decoded_lines(path, encoding):
        if skip and line.strip():
            skip = False
            continue
        tokens = sequence_tokens(path, number, line)
        if not tokens:
            continue
        if tokens[0] in first_line:
            raise ReaderError(f"{path} line {number}: user {quote(tokens[0])} already has a sequence on "
                              f"line {first_line[tokens[0]]}; expected one line per user")
        first_line[tokens[0]] = number
        users.append(tokens[0])
        lengths.append(len(tokens) - 1)
        items.extend(tokens[1:])
    if not header:
        _warn_header(path, users, items, lengths[0] if lengths else 0, first_line)
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return RawDataset(
        interactions=_interactions(path, np.repeat(_as_ids(users), lengths), _as_ids(items),
                                   np.arange(len(items)) - starts),
        source_format="sequence-text", source_files=[path], has_timestamps=False)


def _warn_header(path: Path, users: list[str], items: list[str], first_length: int,
                 first_line: dict[str, int]) -> None:
    """Warns when the first record holds words while every other id is an integer: perhaps a
    header line ("user_id item_ids"), read as a user with one item per word."""
    if len(users) < 2:
        return
    first = [users[0], *items[:first_length]]
    rest = np.concatenate([_as_ids(users[1:]), _as_ids(items[first_length:])])
    if rest.dtype.kind == "i" and _as_ids(first).dtype.kind != "i":
        print(f"warning: {path} line {first_line[users[0]]} ({quote(' '.join(first))}) holds "
              f"words while every other id is an integer; it is read as data (user "
              f"{quote(users[0])} with {first_length} item(s)); if it is a header, pass "
              f"--header to skip it", file=sys.stderr)


def read_pair_text(path: str | Path, encoding: str = "utf-8", header: bool = False
                   ) -> RawDataset:
    """One interaction per line, ``user item`` separated by whitespace, in chronological order,
    in ``encoding``; with ``header`` the first line is a header and skipped.

    ``timestamp`` is the interaction's position in the file.
    """
    path = Path(path)
    _require_file(path)
    file = _TextFile(path, None, encoding=encoding, header=header)
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, engine="c",
                            quoting=csv.QUOTE_NONE, encoding=encoding,
                            skiprows=1 if header else 0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise file.locate_error(2, {}, "user item", err) from None
    if table.shape[1] != 2 or table.isna().any().any():
        raise file.locate_error(2, {}, "user item", ValueError("wrong field count"))
    return RawDataset(
        interactions=_interactions(path, _as_ids(table[0]), _as_ids(table[1]),
                                   np.arange(len(table))),
        source_format="pair-text", source_files=[path], has_timestamps=False)


_TABLE_SEPS = {".csv": ",", ".tsv": "\t"}
_PARQUET = (".parquet", ".pq")


def read_table(path: str | Path, user_col: str = "user_id", item_col: str = "item_id",
               time_col: str | None = None, rating_col: str | None = None,
               sep: str | None = None, encoding: str = "utf-8") -> RawDataset:
    """A CSV/TSV (with header, in ``encoding``) or Parquet table with one interaction per row.

    Times may be unix seconds, datetimes or ISO-8601 strings; without ``time_col`` the row order
    is the chronology. Ratings may be empty (NaN) but not text.
    """
    path = Path(path)
    _require_file(path)
    suffix = path.suffix.lower()
    wanted = [c for c in (user_col, item_col, time_col, rating_col) if c is not None]
    if suffix in _PARQUET:
        available = pq.read_schema(path).names
        missing = [c for c in wanted if c not in available]
        if missing:
            raise ReaderError(f"{path}: missing column(s) {missing}; the file has {available}")
        table = pq.read_table(path, columns=list(dict.fromkeys(wanted))).to_pandas()

        def locate(row: int, message: str) -> ReaderError:
            return ReaderError(f"{path} row {row + 1}: {message}")
    elif suffix in _TABLE_SEPS or sep is not None:
        file = _TextFile(path, sep or _TABLE_SEPS[suffix], encoding=encoding, header=True,
                         quoted=True)
        kinds = {c: None for c in wanted} | {user_col: "str", item_col: "str"}
        table = _read_columns(file, kinds, strict=False)
        locate = file.error_at
    else:
        raise ReaderError(f"{path}: unknown table type {suffix!r}; expected .csv, .tsv, .parquet "
                          f"or .pq (or give sep= for other delimited text)")

    if rating_col is None:
        rating = None
    else:
        rating = pd.to_numeric(table[rating_col], errors="coerce")
        bad = (rating.isna() & table[rating_col].notna()).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise locate(row, f"expected {rating_col} to be a number, got "
                              f"{quote(table[rating_col].iloc[row])}")
    timestamp = (np.arange(len(table)) if time_col is None
                 else _seconds(table[time_col], locate, time_col))
    return RawDataset(
        interactions=_interactions(path, _as_ids(_require_ids(table[user_col], locate, user_col)),
                                   _as_ids(_require_ids(table[item_col], locate, item_col)),
                                   timestamp, rating),
        source_format="table", source_files=[path], has_timestamps=time_col is not None)


_REVIEW_SCHEMA = pa.schema([("user_id", pa.string()), ("business_id", pa.string()),
                            ("stars", pa.float64()), ("date", pa.string())])
_BUSINESS_SCHEMA = pa.schema([("business_id", pa.string()), ("name", pa.string()),
                              ("categories", pa.string())])


def _read_json_lines(path: Path, schema: pa.Schema, required: Sequence[str]) -> pd.DataFrame:
    """Reads the ``schema`` fields of a JSON-lines file; ``required`` fields may not be null."""
    try:
        table = pajson.read_json(path, parse_options=pajson.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore"))
        table.validate(full=True)  # strings that are not UTF-8 (pyarrow does not check them)
    except pa.ArrowInvalid as err:
        raise _locate_json_error(path, schema, err) from None
    table = table.to_pandas()
    for name in required:
        missing = table[name].isna().to_numpy()
        if missing.any():
            row = int(np.argmax(missing))
            raise _json_error(path, row, f"missing field {name!r}")
    return table


def _json_lines(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in decoded_lines(path):
        if line.strip():
            yield number, line


def _json_error(path: Path, row: int, message: str) -> ReaderError:
    """An error for record ``row`` (0-based) of a JSON-lines file, naming its line."""
    line = next(itertools.islice(_json_lines(path), row, None))[0]
    return ReaderError(f"{path} line {line}: {message}")


def json_line_error(path, number: int, line: str, schema: pa.Schema) -> ReaderError | None:
    """What is wrong with JSON line ``number`` against ``schema`` (None: nothing)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as bad:
        return ReaderError(f"{path} line {number}: not valid JSON ({bad.msg})")
    if not isinstance(record, dict):
        return ReaderError(f"{path} line {number}: expected a JSON object")
    for field in schema:
        value, text = record.get(field.name), pa.types.is_string(field.type)
        if value is not None and not isinstance(value, str if text else (int, float)):
            return ReaderError(f"{path} line {number}: expected {field.name} to be "
                               f"{'text' if text else 'a number'}, got {quote(value)}")
    return None


def _locate_json_error(path: Path, schema: pa.Schema, err: Exception) -> ReaderError:
    errors = (json_line_error(path, number, line, schema) for number, line in _json_lines(path))
    return next((e for e in errors if e is not None),
                ReaderError(f"{path}: could not be parsed as JSON lines: {err}"))


def read_yelp(path: str | Path, business_path: Path | str | None = None) -> RawDataset:
    """Yelp reviews (JSON lines: ``user_id``, ``business_id``, ``stars``, ``date``).

    Business names and categories (titles and genres) come from ``business_path``, by default a
    ``business.json`` or the review file's name with "review" -> "business" beside it, if present.
    """
    path = Path(path)
    _require_file(path)
    reviews = _read_json_lines(path, _REVIEW_SCHEMA, ("user_id", "business_id", "date"))
    times = pd.to_datetime(reviews["date"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    if times.isna().any():
        row = int(np.argmax(times.isna().to_numpy()))
        raise _json_error(path, row, f"expected date as 'YYYY-MM-DD HH:MM:SS', got "
                                     f"{quote(reviews['date'].iloc[row])}")
    raw = RawDataset(
        interactions=_interactions(
            path, reviews["user_id"].to_numpy(object), reviews["business_id"].to_numpy(object),
            ((times - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy(np.int64),
            reviews["stars"]),
        source_format="yelp", source_files=[path])

    business = yelp_business(path, business_path)
    if business is not None:
        raw.source_files.append(business.path)
        raw.items, raw.genre_vocabulary = business.items, business.genre_vocabulary
    return raw


@dataclasses.dataclass
class YelpBusiness:
    """Yelp's business file as item side information: names (titles) and categories (genres)."""

    path: Path
    items: pd.DataFrame
    genre_vocabulary: list[str]


def yelp_business(path: Path | None, business_path: Path | str | None) -> YelpBusiness | None:
    """Reads ``business_path``, by default a ``business.json`` or the review file ``path``'s
    name with "review" -> "business" beside it, if present (None: no such file)."""
    if business_path is None and path is not None:
        candidates = [path.with_name(path.name.replace("review", "business")),
                      path.with_name("business.json")]
        business_path = next((c for c in candidates if c != path and c.is_file()), None)
    elif business_path is not None and not Path(business_path).is_file():
        raise ReaderError(f"{business_path}: business file not found")
    if business_path is None:
        return None
    business_path = Path(business_path)
    business = _read_json_lines(business_path, _BUSINESS_SCHEMA, ("business_id",))
    _check_unique(business["business_id"], functools.partial(_json_error, business_path),
                  "business")
    genres = _split_genres(business["categories"], ",")
    items = pd.DataFrame({"title": business["name"].fillna("").to_numpy(str),
                          "genres": genres},
                         index=pd.Index(business["business_id"].to_numpy(str), name="item"))
    return YelpBusiness(business_path, items, sorted(set(itertools.chain.from_iterable(genres))))


# --------------------------------------------------------------------------------------------
# Dispatch.

_READERS: dict[str, Callable[..., RawDataset]] = {
    "movielens-100k": read_movielens_100k,
    "movielens-1m": read_movielens_1m,
    "movielens-10m": read_movielens_1m,
    "movielens-20m": read_movielens_20m,
    "movielens-25m": read_movielens_20m,
    "movielens-32m": read_movielens_20m,
    "sequence-text": read_sequence_text,
    "pair-text": read_pair_text,
    "table": read_table,
    "yelp": read_yelp,
}
FORMATS = tuple(_READERS)


def read_source(fmt: str, path: str | Path, **options) -> RawDataset:
    """Reads ``path`` with the reader for ``fmt`` (one of ``FORMATS``).

    ``options`` are the reader's keyword arguments (``user_col=`` ... for ``table``); the
    returned dataset's ``source_format`` is ``fmt``.
    """
    check_reader_options(fmt, options)
    return dataclasses.replace(_READERS[fmt](Path(path), **options), source_format=fmt)


def check_reader_options(fmt: str, options: dict) -> None:
    """Raises ``ReaderError`` for an unknown format or an option its reader does not take."""
    reader = _READERS.get(fmt)
    if reader is None:
        raise ReaderError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    accepted = [name for name in inspect.signature(reader).parameters if name != "path"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ReaderError(f"format {fmt!r} does not take option(s) {unknown}; it takes "
                          f"{accepted if accepted else 'no options'}")
