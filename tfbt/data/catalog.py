"""The item catalogue: titles and genres from a dataset's (or an export's) ``items.tsv``.

``tfbt build`` writes ``items.tsv`` when the source has item titles or genres: a header line,
then ``item<TAB>raw_id<TAB>title<TAB>genres`` per item (index 1..N, genres joined by ``|``;
a raw id may itself hold tabs, titles and genres do not).
This module is its one reader; it needs nothing beyond the standard library, so the serving
client can use it too.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tfrecords_builder.schema import ITEM_INFO_FILE

_COLUMNS = 4


@dataclasses.dataclass(frozen=True)
class ItemCatalog:
    """Titles and genres by item index (entry 0, padding, is empty).

    Attributes:
      raw_ids: ``[N + 1]`` raw item ids.
      titles: ``[N + 1]`` titles (``""`` where the source had none).
      genres: ``[N + 1]`` lists of genre names.
    """

    raw_ids: tuple[str, ...]
    titles: tuple[str, ...]
    genres: tuple[tuple[str, ...], ...]

    def title_by_raw_id(self) -> dict[str, str]:
        """``{raw_id: title}`` for the items that have a title."""
        return {raw: title for raw, title in zip(self.raw_ids, self.titles) if title}


def read_catalog(path: str | os.PathLike, num_items: int) -> ItemCatalog:
    """Reads ``items.tsv``; a malformed line raises ``ValueError`` naming the file and line.

    Args:
      path: the ``items.tsv`` file.
      num_items: N, the catalogue size (item indices must lie in 1..N).
    """
    path = Path(path)
    raw_ids, titles = [""] * (num_items + 1), [""] * (num_items + 1)
    genres: list[tuple[str, ...]] = [()] * (num_items + 1)
    with open(path, encoding="utf-8") as lines:
        next(lines, None)  # header
        for line_number, line in enumerate(lines, 2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < _COLUMNS or not fields[0].isdigit() or not (
                    1 <= int(fields[0]) <= num_items):
                raise ValueError(f"{path}:{line_number}: expected 'item<TAB>raw_id<TAB>title"
                                 f"<TAB>genres' with item in 1..{num_items}")
            index = int(fields[0])
            # Titles and genres hold no tab (the builder writes them as spaces), a raw id may.
            raw_ids[index], titles[index] = "\t".join(fields[1:-2]), fields[-2]
            genres[index] = tuple(g for g in fields[-1].split("|") if g)
    return ItemCatalog(tuple(raw_ids), tuple(titles), tuple(genres))


def item_genres(data_dir: str | os.PathLike, metadata) -> tuple[tuple[str, ...], ...] | None:
    """Item genres from a dataset folder's ``items.tsv`` (entry i = item i), or None when its
    ``metadata`` says it has none (what full-ranking calibration metrics take)."""
    if not metadata.item_genres:
        return None
    return read_catalog(Path(data_dir) / ITEM_INFO_FILE, metadata.num_items).genres
