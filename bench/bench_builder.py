"""Times ``build.build`` end to end on an ML-20M-sized log, and on the real datasets if present.

The synthetic log has MovieLens-20M's shape (``common.interaction_log``: 20M rows, 138,493
users, 26,744 items, grouped by user as in ratings.csv; ``--shuffle`` for random order).
Generating it is not timed; the timed part is ``build()`` from the DataFrame to the renamed
output folder (filtering, sorting, remapping, labels, serialisation, writing, md5 of the source
files). Peak RSS is the process's
``ru_maxrss``, so it includes the input DataFrame.

    python bench/bench_builder.py                     # full size, ~2 minutes
    python bench/bench_builder.py --interactions 1000000 --users 7000 --items 5000

Prints JSON and writes it to ``--out`` (default bench/results/builder.json).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import DEFAULT_BEAUTY, SHARED_DATA, interaction_log, peak_rss_gib, write_report

from tfrecords_builder.build import BuildOptions, build
from tfrecords_builder.raw import RawDataset


def timed_build(raw: RawDataset, options: BuildOptions) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        meta = build(raw, Path(tmp) / "dataset", options, progress=False)
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in (Path(tmp) / "dataset").iterdir())
    return {"seconds": round(seconds, 2), "peak_rss_gib": round(peak_rss_gib(), 2),
            "users": meta.num_users, "items": meta.num_items,
            "interactions": meta.num_interactions, "shards": len(meta.shards),
            "output_mib": round(size / 2 ** 20, 1), "options": meta.options}


def real_datasets() -> dict:
    """ml-100k and beauty from ../shared/data with default options, when present."""
    sources = {"ml-100k": ("movielens-100k", SHARED_DATA / "ml-100k"),
               "beauty": ("sequence-text", DEFAULT_BEAUTY)}
    found = {name: src for name, src in sources.items() if src[1].exists()}
    if not found:
        return {}
    from tfrecords_builder.readers import read_source

    results = {}
    for name, (fmt, path) in found.items():
        start = time.perf_counter()
        raw = read_source(fmt, path)
        read_seconds = time.perf_counter() - start
        results[name] = {"source": str(path), "read_seconds": round(read_seconds, 2),
                         **timed_build(raw, BuildOptions())}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=138_493)
    parser.add_argument("--items", type=int, default=26_744)
    parser.add_argument("--interactions", type=int, default=20_000_000)
    parser.add_argument("--shuffle", action="store_true",
                        help="rows in random order instead of grouped by user")
    parser.add_argument("--min-user-interactions", type=int, default=5)
    parser.add_argument("--min-item-interactions", type=int, default=5)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "builder.json")
    args = parser.parse_args()

    # The real datasets first: their RSS stays below the synthetic run's peak.
    real = real_datasets()
    start = time.perf_counter()
    frame = interaction_log(args.users, args.items, args.interactions, args.shuffle)
    generate_seconds = time.perf_counter() - start
    raw = RawDataset(interactions=frame, source_format="synthetic", source_files=[])
    options = BuildOptions(min_user_interactions=args.min_user_interactions,
                           min_item_interactions=args.min_item_interactions)
    report = {
        "synthetic": {"shape": {"users": args.users, "items": args.items,
                                "interactions": args.interactions,
                                "row_order": "shuffled" if args.shuffle else "grouped by user"},
                      "generate_seconds_untimed": round(generate_seconds, 2),
                      "input_gib": round(frame.memory_usage(deep=True).sum() / 2 ** 30, 2),
                      **timed_build(raw, options)},
        **real,
    }
    write_report(report, args.out)


if __name__ == "__main__":
    main()
