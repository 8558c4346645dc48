"""The in-memory form every reader returns and the builder consumes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd


@dataclasses.dataclass
class RawDataset:
    """Interaction log plus optional side information, as read from a source.

    Attributes:
      interactions: one row per interaction with columns ``user``, ``item`` (raw ids, int64 or
        str), ``timestamp`` (int64; the position in the file when the source has no times) and
        ``rating`` (float64, NaN when the source has no ratings). Rows of one user with equal
        timestamps keep their file order.
      source_format: name of the reader (``movielens-100k``, ``sequence-text``, ...).
      source_files: every file read, for checksums in metadata.json.
      has_timestamps: whether ``timestamp`` holds real times.
      items: optional, indexed by raw item id: ``title`` (str) and/or ``genres`` (list of str).
      genre_vocabulary: the source's genre order (used as label vocabulary), if it has genres.
      users: optional, indexed by raw user id: any of ``gender``, ``age``, ``occupation`` (str).
    """

    interactions: pd.DataFrame
    source_format: str
    source_files: list[Path]
    has_timestamps: bool = True
    items: pd.DataFrame | None = None
    genre_vocabulary: list[str] | None = None
    users: pd.DataFrame | None = None


QUOTE_LIMIT = 80  # characters of an input value an error message repeats


def quote(value, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, shortened to its first ``limit`` characters (and the length) when
    longer: an error names the bad value without repeating a 50 MB token."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(value)
    return f"{text[:limit]!r}... ({len(text):,} characters)"
