"""The builder on Apache Beam: the transformation of ``build.build``, the same output bytes.

Input. The pipeline starts from the ``RawDataset`` a reader returned: its interaction DataFrame
enters as a PCollection of rows ``(position, user, item, timestamp, rating)`` (``beam.Create``
over chunks of the frame). Re-reading the source files with Beam IO would give a second parser
for every format, with its own errors and its own idea of file order (``position`` decides
timestamp ties and which repeat ``dedupe="first"`` keeps); one parser keeps both paths equal by
construction. What Beam adds at scale is everything after the read: filtering, the k-core
shuffles, grouping rows into users, serialising and writing shards. A log too big for one
machine's memory needs only a reader that yields this row PCollection instead of a DataFrame.

k-core. Beam graphs have no loops, so "remove violators until stable" runs as one small
pipeline per round, driven from here: each round groups the surviving rows by user, drops users
below the threshold, groups by item, drops items below theirs, writes the survivors and their
count; rounds stop when a round removes nothing. The largest sub-log meeting both thresholds is
unique, so this removal order ends where ``build``'s does.

Output. Records are keyed by ``build.shard_of``, grouped per shard, sorted by user index and
written with ``build.write_shard``; vocabularies, items.tsv and metadata.json come from the same
``build`` functions, so the folder is byte-for-byte what ``build.build`` writes. Intermediate rows
and counts go under the staged output folder: ``out_dir`` must be on a file system this process
and the workers share (always true for the DirectRunner and other local runners).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions

from tfrecords_builder import build as local
from tfrecords_builder import schema
from tfrecords_builder.raw import RawDataset

POSITION, USER, ITEM, TIMESTAMP, RATING = range(5)
_ROWS_PER_ELEMENT = 50_000


def _rows(chunk) -> list[tuple]:
    """(start, DataFrame slice) -> rows ``(position, user, item, timestamp, rating)``."""
    start, frame = chunk
    ratings = (frame["rating"].tolist() if "rating" in frame.columns
               else [math.nan] * len(frame))
    return list(zip(range(start, start + len(frame)), frame["user"].tolist(),
                    frame["item"].tolist(), frame["timestamp"].tolist(), ratings))


def _chronological_key(row: tuple) -> tuple:
    return row[TIMESTAMP], row[POSITION]


def _earliest(rows) -> tuple:
    """CombineFn body for ``dedupe="first"``: the pair's earliest row (file order for ties)."""
    return min(rows, key=_chronological_key)


def _keep_groups(group, minimum: int):
    rows = list(group[1])
    return rows if len(rows) >= minimum else []


def _drop_below(rows, field: int, minimum: int, name: str):
    """Rows whose ``field`` value (user or item) has at least ``minimum`` rows."""
    return (rows
            | f"By{name}" >> beam.Map(lambda row: (row[field], row))
            | f"Group{name}" >> beam.GroupByKey()
            | f"Keep{name}" >> beam.FlatMap(_keep_groups, minimum))


def _vocabulary(rows, field: int, name: str):
    return (rows
            | f"{name}Ids" >> beam.Map(lambda row: row[field])
            | f"{name}Distinct" >> beam.Distinct()
            | f"{name}List" >> beam.combiners.ToList()
            | f"{name}Order" >> beam.Map(local.ordered_ids))


def _index(vocab: list) -> dict:
    return {raw_id: index for index, raw_id in enumerate(vocab, 1)}


def _user_record(group, user_index: dict, item_index: dict, genre_matrix,
                 labeler: local.Labeler, num_shards: int, has_timestamps: bool):
    """(raw user, rows) -> (shard, (user index, sequence length, serialised Example))."""
    raw_user, rows = group
    rows = sorted(rows, key=_chronological_key)
    user = user_index[raw_user]
    items = np.asarray([item_index[row[ITEM]] for row in rows], np.int64)
    labels = labeler.user_labels([raw_user], items, np.asarray([0, len(items)]), genre_matrix)
    record = local.serialize_user(
        user, items, [row[TIMESTAMP] for row in rows] if has_timestamps else None,
        {name: int(values[0]) for name, values in labels.items()})
    return local.shard_of(user, num_shards), (user, len(items), record)


def _write_shard(group, directory: str, names: Sequence[str], compression: str | None):
    """(shard, records) -> (shard, record count, shortest sequence or None)."""
    shard, values = group
    records = sorted(v for v in values if v is not None)
    count = local.write_shard(os.path.join(directory, names[shard]),
                              (record for _, _, record in records), compression)
    return shard, count, min((length for _, length, _ in records), default=None)


def _save_count(pcoll, path: Path, name: str) -> None:
    _ = (pcoll
         | f"Count{name}" >> beam.combiners.Count.Globally()
         | f"Save{name}" >> beam.Map(lambda n: Path(path).write_text(str(n))))


def _save_rows(rows, prefix: Path) -> None:
    """Rows between pipelines as JSON lines: keeps int/str ids and NaN ratings apart, and needs
    no extra package (Beam's TFRecord IO wants a CRC32C library)."""
    _ = (rows
         | "EncodeRows" >> beam.Map(json.dumps)
         | "SaveRows" >> beam.io.WriteToText(str(prefix)))


def _load_rows(pipeline, prefix: Path):
    return (pipeline
            | "LoadRows" >> beam.io.ReadFromText(f"{prefix}*")
            | "DecodeRows" >> beam.Map(lambda line: tuple(json.loads(line))))


def _prepare(pipeline, raw: RawDataset, options: local.BuildOptions, work: Path) -> None:
    """Rows -> rating filter -> dedupe, saved with a count after each step."""
    frame = raw.interactions
    chunks = [(start, frame.iloc[start:start + _ROWS_PER_ELEMENT])
              for start in range(0, len(frame), _ROWS_PER_ELEMENT)]
    rows = pipeline | "Chunks" >> beam.Create(chunks) | "Rows" >> beam.FlatMap(_rows)
    _save_count(rows, work / "count-0", "Read")
    step = 1
    if options.rating_threshold is not None:
        rows = rows | "Rating" >> beam.Filter(
            lambda row, threshold: row[RATING] >= threshold, options.rating_threshold)
        _save_count(rows, work / f"count-{step}", "Rated")
        step += 1
    if options.dedupe == "first":
        rows = (rows
                | "ByPair" >> beam.Map(lambda row: ((row[USER], row[ITEM]), row))
                | "Earliest" >> beam.CombinePerKey(_earliest)
                | "PairRows" >> beam.Values())
        _save_count(rows, work / f"count-{step}", "Deduped")
    _save_rows(rows, work / "rows-0")


def _k_core_round(pipeline, options: local.BuildOptions, source: Path, target: Path,
                  count: Path) -> None:
    """One round: drop users, then items, below their thresholds."""
    rows = _load_rows(pipeline, source)
    if options.min_user_count > 1:
        rows = _drop_below(rows, USER, options.min_user_count, "User")
    if options.min_item_interactions > 1:
        rows = _drop_below(rows, ITEM, options.min_item_interactions, "Item")
    _save_count(rows, count, "Kept")
    _save_rows(rows, target)


def _k_core(run, options: local.BuildOptions, work: Path, kept: int) -> tuple[Path, int]:
    """Runs rounds until one removes nothing; returns the survivors' prefix and count."""
    rows, round_ = work / "rows-0", 0
    while kept:
        round_ += 1
        target, count = work / f"rows-{round_}", work / f"kcore-count-{round_}"
        run(_k_core_round, options, rows, target, count)
        rows, previous, kept = target, kept, _read_count(count)
        if kept == previous:
            break
    return rows, kept


def _read_count(path: Path) -> int:
    return int(path.read_text())


def _write(pipeline, raw: RawDataset, options: local.BuildOptions, labeler: local.Labeler,
           rows_prefix: Path, out: Path, stats_path: Path, num_shards: int) -> None:
    """Final rows -> vocabularies, side files, per-user records, shards; shard stats to
    ``stats_path``."""
    item_table, has_timestamps = raw.items, raw.has_timestamps  # not `raw`: no log in closures
    rows = _load_rows(pipeline, rows_prefix)
    users = _vocabulary(rows, USER, "User")
    items = _vocabulary(rows, ITEM, "Item")
    _ = (pipeline
         | "Once" >> beam.Create([None])
         | "SideFiles" >> beam.Map(
             lambda _, user_vocab, item_vocab: local.write_side_files(
                 out, user_vocab, item_vocab, item_table),
             beam.pvalue.AsSingleton(users), beam.pvalue.AsSingleton(items)))
    names = local.shard_names(num_shards, options.compression)
    records = (rows
               | "ByUser" >> beam.Map(lambda row: (row[USER], row))
               | "GroupUser" >> beam.GroupByKey()
               | "Record" >> beam.Map(
                   _user_record,
                   user_index=beam.pvalue.AsSingleton(users | "UserIndex" >> beam.Map(_index)),
                   item_index=beam.pvalue.AsSingleton(items | "ItemIndex" >> beam.Map(_index)),
                   genre_matrix=beam.pvalue.AsSingleton(
                       items | "Genres" >> beam.Map(labeler.genre_matrix)),
                   labeler=labeler, num_shards=num_shards, has_timestamps=has_timestamps))
    every_shard = pipeline | "Shards" >> beam.Create([(k, None) for k in range(num_shards)])
    _ = ((records, every_shard)
         | "AllShards" >> beam.Flatten()
         | "GroupShard" >> beam.GroupByKey()
         | "Write" >> beam.Map(_write_shard, str(out), names, options.compression)
         | "Stats" >> beam.combiners.ToList()
         | "SaveStats" >> beam.Map(
             lambda stats: stats_path.write_text(json.dumps(sorted(stats)))))


def run_beam_build(raw: RawDataset, out_dir: str | os.PathLike,
                   options: local.BuildOptions = local.BuildOptions(),
                   pipeline_args: Sequence[str] | None = None, *,
                   overwrite: bool = False) -> schema.Metadata:
    """``build.build`` on Beam; writes the same folder, byte for byte.

    Args:
      raw: what a reader returned.
      out_dir: the dataset folder (staged under a temporary sibling, renamed at the end).
      options: filtering and output options.
      pipeline_args: Beam pipeline flags, e.g. ``["--runner=DirectRunner"]``.
      overwrite: replace an existing dataset folder.

    Raises:
      BuildError: as ``build.build``.
    """
    out_dir = Path(out_dir)
    local.check_output_dir(out_dir, overwrite)
    local.check_interactions(raw, options)
    labeler = local.Labeler(raw)

    def run(stage, *args) -> None:
        with beam.Pipeline(options=PipelineOptions(list(pipeline_args or []))) as pipeline:
            stage(pipeline, *args)

    with local.staged_output(out_dir, overwrite) as tmp:
        work = tmp / "_beam"
        work.mkdir()
        run(_prepare, raw, options, work)
        steps_before_k_core = len(local.filter_steps(options)) - options.k_core_active
        counts = [_read_count(work / f"count-{k}") for k in range(steps_before_k_core)]
        rows = work / "rows-0"
        if options.k_core_active:
            rows, kept = _k_core(run, options, work, counts[-1])
            counts.append(kept)
        local.check_not_empty(counts, options)
        num_shards = options.resolved_num_shards(counts[-1])
        run(_write, raw, options, labeler, rows, tmp, work / "shards.json", num_shards)
        stats = json.loads((work / "shards.json").read_text())
        shutil.rmtree(work)
        meta = local.make_metadata(
            raw, options, tmp, num_items=len(schema.read_vocab(tmp)), num_interactions=counts[-1],
            shortest_sequence=min(s for _, _, s in stats if s is not None),
            shards=local.shard_names(num_shards, options.compression),
            shard_records=[count for _, count, _ in stats], labels=labeler.vocabularies)
        meta.save(tmp)
    return meta
