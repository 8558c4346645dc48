"""Input-pipeline throughput: sequences per second from TFRecords to padded batches.

    python bench/bench_pipeline.py --out bench/results/pipeline.json

Builds (once, cached in --work) a synthetic dataset, then times full passes of
``tfbt.data.make_dataset`` for each mode. The first pass warms the file cache and is not counted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import DEFAULT_WORK, median, synthetic_dataset, write_report

from tfbt import data


def sequences_per_second(data_dir: Path, *, mode: str, split: str, batch_size: int,
                         max_len: int, passes: int) -> float:
    dataset = data.make_dataset(data_dir, mode=mode, split=split, batch_size=batch_size,
                                max_len=max_len, shuffle=mode != "eval", seed=0)
    for _ in dataset:  # warm-up pass
        pass
    rates = []
    for _ in range(passes):
        start, count = time.perf_counter(), 0
        for batch in dataset:
            count += int(batch["items"].shape[0])
        rates.append(count / (time.perf_counter() - start))
    return median(rates)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="cache for generated data")
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--mean-length", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    data_dir = synthetic_dataset(args.work, args.users, args.items, args.mean_length)
    meta = data.load_metadata(data_dir)
    result = {
        "benchmark": "input_pipeline", "data": str(data_dir), "users": meta.num_users,
        "interactions": meta.num_interactions, "batch_size": args.batch_size,
        "max_len": args.max_len, "sequences_per_second": {},
    }
    for mode, split in (("sequence", "train"), ("next_item", "train"), ("eval", "test")):
        result["sequences_per_second"][mode] = round(sequences_per_second(
            data_dir, mode=mode, split=split, batch_size=args.batch_size, max_len=args.max_len,
            passes=args.passes))
    write_report(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
