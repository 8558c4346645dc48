"""What the BT-SR twin draw costs per epoch, and how many users get a twin, per policy.

    python bench/bench_btsr_twins.py --data /tmp/h11/ml100k /tmp/h11/beauty \
        --out bench/results/btsr_twins.json

For each dataset: the seconds to build the ``TwinIndex`` (once per run), and one epoch of the
shuffled ``next_item`` pipeline without twins and with ``add_twins`` for each policy (the
median of ``--passes`` epochs after a warm-up epoch); the difference is the price of the draw
per epoch. ``twin_rate``: the share of training users whose last target has a twin (the rest
are self-paired or skipped). Timings are wall-clock on a shared machine: compare them within
one run of this script.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from common import median, write_report

from tfbt import data
from tfbt.data import btsr_pairs


def epoch_seconds(dataset, passes: int) -> tuple[float, float]:
    """Median seconds of one full pass (after a warm-up pass), and the mean of has_twin."""
    for _ in dataset:
        pass
    times, rates = [], []
    for _ in range(passes):
        start = time.perf_counter()
        for batch in dataset:
            if "has_twin" in batch:
                rates.append(batch["has_twin"].numpy())
        times.append(time.perf_counter() - start)
    rate = float(np.concatenate(rates).mean()) if rates else float("nan")
    return median(times), rate


def bench(data_dir: Path, *, batch_size: int, max_len: int, passes: int) -> dict:
    metadata = data.load_metadata(data_dir)

    def pipeline():
        return data.make_dataset(data_dir, mode="next_item", batch_size=batch_size,
                                 max_len=max_len, shuffle=True, seed=0, metadata=metadata)

    plain, _ = epoch_seconds(pipeline(), passes)
    out = {"num_users": metadata.num_users, "num_items": metadata.num_items,
           "epoch_without_twins_s": round(plain, 4), "policies": {}}
    for policy in btsr_pairs.POLICIES:
        start = time.perf_counter()
        index = btsr_pairs.TwinIndex.from_dataset(data_dir, metadata=metadata, policy=policy)
        built = time.perf_counter() - start
        seconds, rate = epoch_seconds(btsr_pairs.add_twins(pipeline(), max_len=max_len, seed=0,
                                                           index=index), passes)
        out["policies"][policy] = {"index_build_s": round(built, 4),
                                   "occurrences": index.num_occurrences,
                                   "epoch_with_twins_s": round(seconds, 4),
                                   "draw_cost_per_epoch_s": round(seconds - plain, 4),
                                   "twin_rate": round(rate, 4)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True, help="dataset folders")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args(argv)
    results = {"batch_size": args.batch_size, "max_len": args.max_len,
               "datasets": {str(path): bench(Path(path), batch_size=args.batch_size,
                                             max_len=args.max_len, passes=args.passes)
                            for path in args.data}}
    write_report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
