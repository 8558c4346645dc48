"""Times the full-softmax loss with its gradients, unchunked and in row chunks, and SCE.

One SASRec batch at ML-1M size: P = 21,000 positions (128 users x ~165), N = 3,416 items,
D = 64, random float32 inputs (seed 0). Each setting of ``--chunk-rows`` (0 = all logits at
once) is a traced ``tf.function`` computing ``full_softmax_cross_entropy`` and the gradients for
x and the item table; each ``--sce-buckets`` setting (``N_B:B_X:B_Y``) the same for
``scalable_cross_entropy`` (one bucket draw, fixed seed); the first call (tracing) is not timed,
then ``--repeats`` calls are.

    python bench/bench_full_softmax.py --out bench/results/full_softmax.json
    python bench/bench_full_softmax.py --positions 16600 --items 26744 --chunk-rows 512 \
        --sce-buckets 258:258:512   # one ML-20M-sized batch (128 users x ~130 positions)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

import numpy as np
from common import median, timings, write_report

import tensorflow as tf

from tfbt.losses.next_item import full_softmax_cross_entropy, scalable_cross_entropy


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=21_000)
    parser.add_argument("--items", type=int, default=3_416)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--chunk-rows", default="0,512,1024,2048")
    parser.add_argument("--sce-buckets", default="",
                        help="comma-separated N_B:B_X:B_Y settings of SCE to time too")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = tf.Variable(rng.normal(size=(args.positions, args.dim)).astype(np.float32) * 0.1)
    table = tf.Variable(rng.normal(size=(args.items + 2, args.dim)).astype(np.float32) * 0.1)
    y = tf.constant(rng.integers(1, args.items + 1, size=args.positions).astype(np.int32))
    losses = {f"full, chunk_rows {c}": functools.partial(full_softmax_cross_entropy,
                                                          chunk_rows=int(c))
              for c in filter(None, args.chunk_rows.split(","))}
    for setting in filter(None, args.sce_buckets.split(",")):
        num_buckets, size_x, size_y = (int(n) for n in setting.split(":"))
        losses[f"sce {setting}"] = functools.partial(
            scalable_cross_entropy, num_buckets=num_buckets, bucket_size_x=size_x,
            bucket_size_y=size_y, seed=tf.constant([0, 1]))
    rows = []
    for name, loss_fn in losses.items():
        @tf.function
        def step(loss_fn=loss_fn):
            with tf.GradientTape() as tape:
                loss = loss_fn(x, y, table)
            return loss, tape.gradient(loss, [x, table])

        step()
        seconds = timings(args.repeats, step)
        rows.append({"loss": name, "median_s": round(median(seconds), 3),
                     "seconds": [round(s, 3) for s in seconds],
                     "load_average": round(os.getloadavg()[0], 2)})
        print(json.dumps(rows[-1]), flush=True)
    report = {"benchmark": "next-item loss + gradients", "positions": args.positions,
              "items": args.items, "dim": args.dim, "runs": rows}
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
