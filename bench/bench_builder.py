"""Times ``build.build`` end to end on an ML-20M-sized log, and on the real datasets if present.

The synthetic log has MovieLens-20M's shape: 20M rows, 138,493 users, 26,744 items, rows grouped
by user as in ratings.csv (``--shuffle`` for a log in random order), every user with >= 20
ratings and a heavy-tailed activity, Zipf-like item popularity (p ~ 1 / rank^0.9), random
timestamps over ML-20M's time span and ratings 0.5..5. Generating it is not timed; the timed part
is ``build()`` from the DataFrame to the renamed output folder (filtering, sorting, remapping,
labels, serialisation, writing, md5 of the source files). Peak RSS is the process's
``ru_maxrss``, so it includes the input DataFrame.

    python bench/bench_builder.py                     # full size, ~2 minutes
    python bench/bench_builder.py --interactions 1000000 --users 7000 --items 5000

Prints JSON and writes it to ``--out`` (default bench/results/builder.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tfbt  # noqa: E402,F401  (before TensorFlow: sets TF_USE_LEGACY_KERAS)
from tfrecords_builder.build import BuildOptions, build  # noqa: E402
from tfrecords_builder.raw import RawDataset  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ML20M_TIME_SPAN = (789_652_009, 1_427_784_002)  # first and last ratings.csv timestamps
MIN_PER_USER = 20


def synthetic_log(num_users: int, num_items: int, num_interactions: int, shuffle: bool,
                  seed: int = 0) -> pd.DataFrame:
    """An ML-20M-shaped log: columns user, item, timestamp, rating (see module docstring)."""
    rng = np.random.default_rng(seed)
    if num_interactions < MIN_PER_USER * num_users:
        raise SystemExit(f"--interactions must be >= {MIN_PER_USER} x --users")
    activity = rng.pareto(1.5, num_users) + 1e-9
    extra = rng.multinomial(num_interactions - MIN_PER_USER * num_users, activity / activity.sum())
    users = np.repeat(np.arange(1, num_users + 1), MIN_PER_USER + extra)
    popularity = 1.0 / np.arange(1, num_items + 1) ** 0.9
    item_ids = rng.permutation(num_items) + 1
    items = item_ids[np.searchsorted(np.cumsum(popularity / popularity.sum()),
                                     rng.random(num_interactions), side="right").clip(
                                         max=num_items - 1)]
    frame = pd.DataFrame({
        "user": users.astype(np.int64),
        "item": items.astype(np.int64),
        "timestamp": rng.integers(*ML20M_TIME_SPAN, size=num_interactions, dtype=np.int64),
        "rating": rng.integers(1, 11, size=num_interactions) / 2.0,
    })
    if shuffle:
        frame = frame.iloc[rng.permutation(num_interactions)].reset_index(drop=True)
    return frame


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB on Linux


def timed_build(raw: RawDataset, options: BuildOptions) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        meta = build(raw, Path(tmp) / "dataset", options, progress=False)
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in (Path(tmp) / "dataset").iterdir())
    return {"seconds": round(seconds, 2), "peak_rss_gib": round(_peak_rss_gib(), 2),
            "users": meta.num_users, "items": meta.num_items,
            "interactions": meta.num_interactions, "shards": len(meta.shards),
            "output_mib": round(size / 2 ** 20, 1), "options": meta.options}


def real_datasets() -> dict:
    """ml-100k and beauty from ../shared/data with default options, when present."""
    sources = {"ml-100k": ("movielens-100k", SHARED_DATA / "ml-100k"),
               "beauty": ("sequence-text", SHARED_DATA / "beauty" / "Beauty.txt")}
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
    frame = synthetic_log(args.users, args.items, args.interactions, args.shuffle)
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
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
