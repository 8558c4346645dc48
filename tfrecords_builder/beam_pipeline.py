"""The builder on Apache Beam: the transformation of ``build.build``, the same output bytes.

Input. The pipeline starts from a ``beam_readers.BeamSource``: a transform that yields rows
``(position, user, item, timestamp, rating)`` and the source's side tables. The readers of
``beam_readers`` read file patterns on any Beam file system one file per element, so the
launching process never holds the log; a ``RawDataset`` that a local reader returned (the
MovieLens formats) enters through ``beam.Create`` over chunks of its frame instead.
``position`` orders rows as the file does: it decides timestamp ties and which repeat
``dedupe="first"`` keeps.

k-core. Beam graphs have no loops, so "remove violators until stable" runs as one small
pipeline per round, driven from here: each round groups the surviving rows by user, drops users
below the threshold, groups by item, drops items below theirs, writes the survivors and their
count; rounds stop when a round removes nothing. The largest sub-log meeting both thresholds is
unique, so this removal order ends where ``build``'s does.

Output. Records are keyed by ``build.shard_of``, grouped per shard, sorted by user index and
written with ``build.write_shard``; vocabularies, items.tsv and metadata.json come from the same
``build`` functions, so the folder is byte-for-byte what ``build.build`` writes. The launcher
reads back only counts, per-shard statistics and the sources' md5 (``beam_files``: any Beam
file system). Intermediate rows go under the staged output folder, which the launcher and the
workers must share (a ``gs://`` folder on Dataflow; any local folder on the DirectRunner).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions

from tfrecords_builder import beam_files as files
from tfrecords_builder import build as local
from tfrecords_builder import schema
from tfrecords_builder.beam_readers import BeamSource
from tfrecords_builder.raw import RawDataset
from tfrecords_builder.readers import ReaderError

POSITION, USER, ITEM, TIMESTAMP, RATING = range(5)
_ROWS_PER_ELEMENT = 50_000
# An error a worker raised, as remote runners report it: the last "ReaderError: ..." line.
_WORKER_ERROR = re.compile(r"^(?:\w+\.)*(ReaderError|BuildError): (.*?)"
                           r"(?: \[while running '[^']*'\])?$", re.M)


def _rows(chunk) -> list[tuple]:
    """(start, DataFrame slice) -> rows ``(position, user, item, timestamp, rating)``."""
    start, frame = chunk
    ratings = (frame["rating"].tolist() if "rating" in frame.columns
               else [math.nan] * len(frame))
    return list(zip(range(start, start + len(frame)), frame["user"].tolist(),
                    frame["item"].tolist(), frame["timestamp"].tolist(), ratings))


def from_raw(raw: RawDataset) -> BeamSource:
    """A ``BeamSource`` over a log a local reader has read (``beam.Create`` over its chunks)."""
    frame = raw.interactions

    def rows(pipeline):
        chunks = [(start, frame.iloc[start:start + _ROWS_PER_ELEMENT])
                  for start in range(0, len(frame), _ROWS_PER_ELEMENT)]
        return pipeline | "Chunks" >> beam.Create(chunks) | "Rows" >> beam.FlatMap(_rows)

    return BeamSource(side=raw, files=[str(p) for p in raw.source_files], rows=rows)


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
    """(shard, records) -> (shard, record count, shortest sequence or None, bytes, CRC-32)."""
    shard, values = group
    records = sorted(v for v in values if v is not None)
    path = files.join(directory, names[shard])
    count = local.write_shard(path, (record for _, _, record in records), compression)
    return (shard, count, min((length for _, length, _ in records), default=None),
            *files.checksums(path))


def _save(pcoll, path: str, name: str) -> None:
    """Writes a single-element PCollection's value as JSON to ``path``."""
    _ = pcoll | f"Save{name}" >> beam.Map(lambda value: files.write_text(path, json.dumps(value)))


def _load(path: str):
    return json.loads(files.read_text(path))


def _save_count(pcoll, path: str, name: str) -> None:
    _save(pcoll | f"Count{name}" >> beam.combiners.Count.Globally(), path, name)


def _save_rows(rows, prefix: str) -> None:
    """Rows between pipelines as JSON lines: keeps int/str ids and NaN ratings apart, and needs
    no extra package (Beam's TFRecord IO wants a CRC32C library)."""
    _ = (rows
         | "EncodeRows" >> beam.Map(json.dumps)
         | "SaveRows" >> beam.io.WriteToText(prefix))


def _load_rows(pipeline, prefix: str):
    return (pipeline
            | "LoadRows" >> beam.io.ReadFromText(f"{prefix}*")
            | "DecodeRows" >> beam.Map(lambda line: tuple(json.loads(line))))


def _source_md5(indexed_path) -> tuple[int, dict]:
    index, path = indexed_path
    with files.open_raw(path) as f:
        return index, {"path": path, "md5": local.stream_md5(f)}


def _prepare(pipeline, source: BeamSource, options: local.BuildOptions, work: str) -> None:
    """Rows -> rating filter -> dedupe, saved with a count after each step; the sources' md5."""
    _save(pipeline
          | "SourceFiles" >> beam.Create(list(enumerate(source.files)))
          | "Md5" >> beam.Map(_source_md5)
          | "Md5List" >> beam.combiners.ToList()
          | "Md5Order" >> beam.Map(lambda sums: [s for _, s in sorted(sums)]),
          files.join(work, "sources"), "Sources")
    rows = source.rows(pipeline)
    _save_count(rows, files.join(work, "count-0"), "Read")
    step = 1
    if options.rating_threshold is not None:
        rows = rows | "Rating" >> beam.Filter(
            lambda row, threshold: row[RATING] >= threshold, options.rating_threshold)
        _save_count(rows, files.join(work, f"count-{step}"), "Rated")
        step += 1
    if options.dedupe == "first":
        rows = (rows
                | "ByPair" >> beam.Map(lambda row: ((row[USER], row[ITEM]), row))
                | "Earliest" >> beam.CombinePerKey(_earliest)
                | "PairRows" >> beam.Values())
        _save_count(rows, files.join(work, f"count-{step}"), "Deduped")
    _save_rows(rows, files.join(work, "rows-0"))


def _k_core_round(pipeline, options: local.BuildOptions, source: str, target: str,
                  count: str) -> None:
    """One round: drop users, then items, below their thresholds."""
    rows = _load_rows(pipeline, source)
    if options.min_user_count > 1:
        rows = _drop_below(rows, USER, options.min_user_count, "User")
    if options.min_item_interactions > 1:
        rows = _drop_below(rows, ITEM, options.min_item_interactions, "Item")
    _save_count(rows, count, "Kept")
    _save_rows(rows, target)


def _k_core(run, options: local.BuildOptions, work: str, kept: int) -> tuple[str, int]:
    """Runs rounds until one removes nothing; returns the survivors' prefix and count."""
    rows, round_ = files.join(work, "rows-0"), 0
    while kept:
        round_ += 1
        target, count = files.join(work, f"rows-{round_}"), files.join(work, f"kcore-{round_}")
        run(_k_core_round, options, rows, target, count)
        rows, previous, kept = target, kept, _load(count)
        if kept == previous:
            break
    return rows, kept


def _write(pipeline, side: RawDataset, options: local.BuildOptions, labeler: local.Labeler,
           rows_prefix: str, out: str, stats_path: str, num_shards: int) -> None:
    """Final rows -> vocabularies, side files, per-user records, shards; the item count and
    shard stats to ``stats_path``."""
    item_table, has_timestamps = side.items, side.has_timestamps  # not `side`: smaller closures
    rows = _load_rows(pipeline, rows_prefix)
    users = _vocabulary(rows, USER, "User")
    items = _vocabulary(rows, ITEM, "Item")

    def side_files(_, user_vocab, item_vocab) -> int:
        files.write_with(out, lambda folder: local.write_side_files(
            folder, user_vocab, item_vocab, item_table))
        return len(item_vocab)

    num_items = (pipeline
                 | "Once" >> beam.Create([None])
                 | "SideFiles" >> beam.Map(side_files, beam.pvalue.AsSingleton(users),
                                           beam.pvalue.AsSingleton(items)))
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
    shards = ((records, every_shard)
              | "AllShards" >> beam.Flatten()
              | "GroupShard" >> beam.GroupByKey()
              | "Write" >> beam.Map(_write_shard, out, names, options.compression)
              | "Stats" >> beam.combiners.ToList())
    _save(num_items | "WithShards" >> beam.Map(
        lambda n, stats: {"num_items": n, "shards": sorted(stats)},
        beam.pvalue.AsSingleton(shards)), stats_path, "Stats")


def _worker_error(err: Exception) -> Exception | None:
    """The ``ReaderError``/``BuildError`` behind a failed pipeline, without Beam's additions
    (the step name; on other runners, the worker's traceback), else None."""
    errors = {"ReaderError": ReaderError, "BuildError": local.BuildError}
    found = _WORKER_ERROR.findall(str(err))
    if isinstance(err, tuple(errors.values())) or found:
        name, message = found[-1] if found else (type(err).__name__, str(err))
        return errors[name](message)
    return None


def _check_ratings(source: BeamSource, options: local.BuildOptions) -> None:
    """``build.check_interactions``: on the frame of a local reader, else on what the reader
    says of its ratings (the rows are not here)."""
    if not source.side.interactions.empty:
        local.check_interactions(source.side, options)
    elif options.rating_threshold is not None and not source.has_ratings:
        raise local.BuildError(f"rating_threshold={options.rating_threshold} but the "
                               f"{source.side.source_format} source has no ratings")


def run_beam_build(source: BeamSource | RawDataset, out_dir: str,
                   options: local.BuildOptions = local.BuildOptions(),
                   pipeline_args: Sequence[str] | None = None, *,
                   overwrite: bool = False) -> schema.Metadata:
    """``build.build`` on Beam; writes the same folder, byte for byte.

    Args:
      source: a ``beam_readers.beam_source`` (read by the workers), or what a local reader
        returned.
      out_dir: the dataset folder, local or on a Beam file system (``gs://...``); staged under
        a temporary sibling, moved into place at the end.
      options: filtering and output options.
      pipeline_args: Beam pipeline flags, e.g. ``["--runner=DirectRunner"]``.
      overwrite: replace an existing dataset folder.

    Raises:
      BuildError: as ``build.build``.
      ReaderError: a worker found the source malformed.
    """
    out_dir = str(out_dir)
    if isinstance(source, RawDataset):
        source = from_raw(source)
    files.check_output(out_dir, overwrite)
    _check_ratings(source, options)
    labeler = local.Labeler(source.side)

    def run(stage, *args) -> None:
        try:
            with beam.Pipeline(options=PipelineOptions(list(pipeline_args or []))) as pipeline:
                stage(pipeline, *args)
        except Exception as err:
            cause = _worker_error(err)
            if cause is None:
                raise
            raise cause from None

    with files.staged_output(out_dir, overwrite) as tmp:
        work = files.join(tmp, "_beam")
        run(_prepare, source, options, work)
        steps_before_k_core = len(local.filter_steps(options)) - options.k_core_active
        counts = [_load(files.join(work, f"count-{k}")) for k in range(steps_before_k_core)]
        if counts[0] == 0:
            raise ReaderError(f"{', '.join(source.files)}: no interactions found")
        rows = files.join(work, "rows-0")
        if options.k_core_active:
            rows, kept = _k_core(run, options, work, counts[-1])
            counts.append(kept)
        local.check_not_empty(counts, options)
        num_shards = options.resolved_num_shards(counts[-1])
        run(_write, source.side, options, labeler, rows, tmp, files.join(work, "stats"),
            num_shards)
        stats = _load(files.join(work, "stats"))
        sources = _load(files.join(work, "sources"))
        files.delete_folder(work)
        shards = stats["shards"]
        meta = local.make_metadata(
            source.side, options, tmp, num_items=stats["num_items"],
            num_interactions=counts[-1],
            shortest_sequence=min(s for _, _, s, _, _ in shards if s is not None),
            shards=local.shard_names(num_shards, options.compression),
            shard_records=[count for _, count, _, _, _ in shards], labels=labeler.vocabularies,
            shard_sums=[(size, crc) for _, _, _, size, crc in shards], sources=sources)
        files.write_with(tmp, meta.save)
    return meta
