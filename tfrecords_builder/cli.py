"""``tfbt build`` / ``python -m tfrecords_builder``: read a source, write a dataset, print stats.

Imports TensorFlow, Beam and the readers only inside ``run_build`` and ``dataset_statistics``,
so building the parser (``tfbt --help``) stays fast.
"""

from __future__ import annotations

import argparse
import codecs
import os
import sys
from pathlib import Path

from tfbt import cli_types

# CLI flag -> reader keyword (passed only when given: most formats take none of them).
READER_OPTIONS = ("user_col", "item_col", "time_col", "rating_col", "sep", "encoding", "header")
_SEPARATOR_NAMES = {"\\t": "\t", "tab": "\t", "space": " ", "comma": ",", "pipe": "|"}


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``tfbt build`` arguments to ``parser``."""
    from tfrecords_builder.readers import FORMATS

    parser.add_argument("--format", choices=FORMATS, help="source format (required)")
    parser.add_argument("--input", metavar="PATH",
                        help="source file or folder (a MovieLens folder, a text/CSV file, ...; "
                             "required)")
    parser.add_argument("--output", metavar="DIR",
                        help="dataset folder to write (required; must not exist unless "
                             "--overwrite)")
    parser.add_argument("--verify", metavar="DIR",
                        help="instead of building: check a dataset's shards against the "
                             "checksums in its metadata.json")
    filters = parser.add_argument_group("filtering")
    filters.add_argument("--min-user-interactions", type=cli_types.non_negative_int,
                         default=0, metavar="K",
                         help="k-core: drop users with fewer interactions, repeatedly")
    filters.add_argument("--min-item-interactions", type=cli_types.non_negative_int,
                         default=0, metavar="K",
                         help="k-core: drop items with fewer interactions, repeatedly")
    filters.add_argument("--min-sequence-length", type=cli_types.non_negative_int,
                         default=1, metavar="L",
                         help="drop users whose sequence is shorter after filtering")
    filters.add_argument("--rating-threshold", type=cli_types.finite_float,
                         default=None, metavar="R",
                         help="keep only interactions rated >= R (default: keep all)")
    filters.add_argument("--dedupe", choices=("keep", "first"), default="keep",
                         help="repeated user-item interactions: keep them all, or only the "
                              "earliest (default: keep)")
    output = parser.add_argument_group("output")
    output.add_argument("--num-shards", type=cli_types.positive_int, default=None, metavar="K",
                        help="shard count (default: about one per 1M interactions, at most 64)")
    output.add_argument("--compression", choices=("GZIP",), default=None,
                        help="compress shards (default: none)")
    output.add_argument("--overwrite", action="store_true",
                        help="replace an existing dataset folder (the files the builder "
                             "wrote; other files in it are kept)")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    beam = parser.add_argument_group("Apache Beam")
    beam.add_argument("--beam", action="store_true",
                      help="build with the Beam pipeline (same output as the local build)")
    beam.add_argument("--runner", default="DirectRunner", help="Beam runner (with --beam)")
    beam.add_argument("--beam-option", action="append", default=[], metavar="KEY=VALUE",
                      help="a Beam pipeline option, passed on as --KEY=VALUE (repeatable; e.g. "
                           "project=my-project, temp_location=gs://bucket/tmp, "
                           "flink_master=host:8081); everything after `--` is passed on too. "
                           "With --beam, table, yelp, pair-text and sequence-text inputs are "
                           "file patterns on any Beam file system, read by the workers")
    beam.add_argument("pipeline_args", nargs="*", metavar="-- BEAM_ARGS",
                      help="Beam pipeline flags as Beam spells them (after `--`)")
    reader = parser.add_argument_group("reader options (table format; --encoding: text formats)")
    reader.add_argument("--user-col", help="user id column")
    reader.add_argument("--item-col", help="item id column")
    reader.add_argument("--time-col", help="timestamp column (default: row order)")
    reader.add_argument("--rating-col", help="rating column")
    reader.add_argument("--sep", help="field separator (a character, or tab/space/comma/pipe)")
    reader.add_argument("--header", action="store_const", const=True, default=None,
                        help="sequence-text, pair-text: the first line is a header, skip it "
                             "(otherwise every line is data)")
    reader.add_argument("--encoding", type=_encoding,
                        help="text encoding of a sequence-text, pair-text or table source "
                             "(default utf-8; e.g. latin-1)")


def _encoding(name: str) -> str:
    """A text encoding Python knows, by its canonical name."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown text encoding {name!r} (e.g. utf-8, "
                                         f"latin-1, cp1252)") from None


def run_build(args: argparse.Namespace) -> int:
    """Runs the build described by ``args``; prints statistics. Returns the exit status:
    0, or 2 after printing the error (bad input, nothing left, output in the way)."""
    from tfrecords_builder import readers
    from tfrecords_builder.build import BuildError, BuildOptions, build, check_output_dir
    from tfrecords_builder.schema import MetadataError

    if args.verify:
        return run_verify(args.verify)
    missing = [flag for flag in ("format", "input", "output") if getattr(args, flag) is None]
    if missing:
        print("tfbt build: error: the following arguments are required: "
              + ", ".join(f"--{flag}" for flag in missing), file=sys.stderr)
        return 2
    reader_options = {name: getattr(args, name) for name in READER_OPTIONS
                      if getattr(args, name) is not None}
    if "sep" in reader_options:
        reader_options["sep"] = _SEPARATOR_NAMES.get(reader_options["sep"], reader_options["sep"])
    try:
        options = BuildOptions(
            min_user_interactions=args.min_user_interactions,
            min_item_interactions=args.min_item_interactions,
            rating_threshold=args.rating_threshold, dedupe=args.dedupe,
            num_shards=args.num_shards, compression=args.compression,
            min_sequence_length=args.min_sequence_length)
        if args.beam:
            meta = _run_beam(args, options, reader_options)
            if "://" in args.output:  # the shards are not read back from an object store
                print(f"wrote {args.output}: {meta.num_users:,} users, {meta.num_items:,} "
                      f"items, {meta.num_interactions:,} interactions")
                return 0
        else:
            if args.beam_option or args.pipeline_args:
                raise BuildError("--beam-option and arguments after `--` are Beam pipeline "
                                 "options; add --beam")
            check_output_dir(Path(args.output), args.overwrite)  # before reading a large log
            raw = readers.read_source(args.format, args.input, **reader_options)
            build(raw, args.output, options, progress=not args.quiet, overwrite=args.overwrite)
        stats = dataset_statistics(args.output)
    except (readers.ReaderError, BuildError, MetadataError, OSError) as err:
        print(f"tfbt build: error: {err}", file=sys.stderr)
        return 2
    print(format_statistics(args.output, stats))
    return 0


def beam_pipeline_args(runner: str, options: list[str], extra: list[str]) -> list[str]:
    """The Beam flags of ``--runner``, each ``--beam-option KEY=VALUE`` and those after ``--``."""
    from tfrecords_builder.build import BuildError

    flags = [f"--runner={runner}"]
    for option in options:
        key, equals, value = option.partition("=")
        key = key.lstrip("-")
        if not equals or not key:
            raise BuildError(f"--beam-option expects KEY=VALUE (e.g. temp_location=gs://b/tmp), "
                             f"got {option!r}")
        flags.append(f"--{key}={value}")
    return flags + list(extra)


def _run_beam(args: argparse.Namespace, options, reader_options: dict):
    """Builds with Beam; the formats of ``beam_readers`` are read by the workers."""
    from tfrecords_builder import readers
    from tfrecords_builder.build import BuildError

    flags = beam_pipeline_args(args.runner, args.beam_option, args.pipeline_args)
    try:
        from tfrecords_builder import beam_readers
        from tfrecords_builder.beam_pipeline import run_beam_build
    except ModuleNotFoundError as err:
        raise BuildError(f"--beam needs Apache Beam ({err}); install it with "
                         f"`pip install tfbt[beam]`") from err
    if args.format in beam_readers.FORMATS:
        source = beam_readers.beam_source(args.format, args.input, **reader_options)
    else:
        source = readers.read_source(args.format, args.input, **reader_options)
    return run_beam_build(source, args.output, options, flags, overwrite=args.overwrite)


def run_verify(directory: str) -> int:
    """``tfbt build --verify DIR``: 0 when every shard matches its checksum and the records in
    them match ``metadata.json`` (users, interactions, item and user ids), else 2."""
    import time

    from tfrecords_builder.schema import Metadata, MetadataError

    started = time.perf_counter()
    try:
        meta = Metadata.load(directory)
        meta.verify_shards(directory)
        dataset_statistics(directory)  # the counts and ids in the shards against metadata.json
    except MetadataError as err:
        print(f"tfbt build: error: {err}", file=sys.stderr)
        return 2
    if not meta.shard_crc32:
        print(f"{directory}: built without shard checksums (an older build): sizes and "
              f"contents checked, not checksums; rebuild to add them")
        return 0
    size = sum(meta.shard_bytes)
    print(f"{directory}: {len(meta.shards)} shards, {size:,} bytes, checksums match, "
          f"{meta.num_users:,} users and {meta.num_interactions:,} interactions as in "
          f"metadata.json ({time.perf_counter() - started:.2f} s)")
    return 0


def dataset_statistics(out_dir: str | os.PathLike) -> dict:
    """Counts read back from a written dataset's shards (not trusted from metadata.json).

    Returns:
      ``{"users", "items", "interactions", "density", "sequence_length": {"min", "median",
      "mean", "max"}, "labels": {name: {"classes": {class: users}, "missing": users}}}``.

    Raises:
      MetadataError: metadata.json is invalid or disagrees with the shards.
    """
    import numpy as np

    from tfrecords_builder import schema
    from tfrecords_builder.records import read_records

    meta = schema.Metadata.load(out_dir)
    records = read_records(out_dir, metadata=meta, labels=list(meta.labels))
    lengths = records.lengths  # read_records checked the item ids against num_items
    problems = []
    if len(lengths) != meta.num_users:
        problems.append(f"{len(lengths)} records but num_users={meta.num_users}")
    if lengths.sum() != meta.num_interactions:
        problems.append(f"{lengths.sum()} interactions but num_interactions="
                        f"{meta.num_interactions}")
    if records.items.size and records.items.max() != meta.num_items:  # the builder uses all
        problems.append(f"the largest item id is {records.items.max()} but num_items="
                        f"{meta.num_items}")
    users = np.sort(records.user_id)
    if len(users) == meta.num_users and not np.array_equal(users, np.arange(1, len(users) + 1)):
        problems.append(f"user ids are not 1..{meta.num_users}")
    if problems:
        raise schema.MetadataError(f"{out_dir}: shards disagree with metadata.json: "
                                   + "; ".join(problems))

    label_counts = {}
    for name, vocab in meta.labels.items():
        values = records.labels[name]
        counts = np.bincount(values[values >= 0], minlength=len(vocab))
        label_counts[name] = {"classes": dict(zip(vocab, counts.tolist())),
                              "missing": int((values < 0).sum())}
    empty = not len(lengths)
    return {
        "users": meta.num_users, "items": meta.num_items,
        "interactions": meta.num_interactions,
        "density": meta.num_interactions / max(meta.num_users * meta.num_items, 1),
        "sequence_length": {
            "min": 0 if empty else int(lengths.min()),
            "median": 0.0 if empty else float(np.median(lengths)),
            "mean": 0.0 if empty else float(lengths.mean()),
            "max": 0 if empty else int(lengths.max())},
        "labels": label_counts,
    }


def format_statistics(out_dir: str | os.PathLike, stats: dict, verb: str = "wrote") -> str:
    """``dataset_statistics`` as the text the CLI prints, headed by ``verb`` (what happened to
    the dataset: "wrote", or "reused" for one built before)."""
    length = stats["sequence_length"]
    lines = [f"{verb} {out_dir}",
             f"  users         {stats['users']:,}",
             f"  items         {stats['items']:,}",
             f"  interactions  {stats['interactions']:,}",
             f"  sequence len  min {length['min']}, median {length['median']:g}, "
             f"mean {length['mean']:.2f}, max {length['max']}",
             f"  density       {stats['density']:.4%}"]
    for name, label in stats["labels"].items():
        used = sorted(((c, n) for c, n in label["classes"].items() if n), key=lambda kv: -kv[1])
        lines.append(f"  label {name} ({len(label['classes'])} classes, {len(used)} used, "
                     f"{label['missing']:,} users missing): "
                     + ", ".join(f"{cls} {count:,}" for cls, count in used))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m tfrecords_builder ARGS``."""
    parser = argparse.ArgumentParser(
        prog="python -m tfrecords_builder",
        description="Raw interaction logs -> sharded TFRecords + metadata.json "
                    "(the same as `tfbt build`).")
    add_build_arguments(parser)
    return run_build(parser.parse_args(argv))
