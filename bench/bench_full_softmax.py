"""Times the full-softmax loss with its gradients, unchunked and in row chunks.

One SASRec batch at ML-1M size: P = 21,000 positions (128 users x ~165), N = 3,416 items,
D = 64, random float32 inputs (seed 0). Each setting of ``--chunk-rows`` (0 = all logits at
once) is a traced ``tf.function`` computing ``full_softmax_cross_entropy`` and the gradients for
x and the item table; the first call (tracing) is not timed, then ``--repeats`` calls are.

    python bench/bench_full_softmax.py --out bench/results/full_softmax.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import tfbt  # noqa: F401  (first: its environment defaults must precede TensorFlow)
import tensorflow as tf

from tfbt.losses.next_item import full_softmax_cross_entropy

from report_io import print_and_save


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=21_000)
    parser.add_argument("--items", type=int, default=3_416)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--chunk-rows", default="0,512,1024,2048")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = tf.Variable(rng.normal(size=(args.positions, args.dim)).astype(np.float32) * 0.1)
    table = tf.Variable(rng.normal(size=(args.items + 2, args.dim)).astype(np.float32) * 0.1)
    y = tf.constant(rng.integers(1, args.items + 1, size=args.positions).astype(np.int32))
    rows = []
    for chunk_rows in (int(value) for value in args.chunk_rows.split(",")):
        @tf.function
        def step(chunk_rows=chunk_rows):
            with tf.GradientTape() as tape:
                loss = full_softmax_cross_entropy(x, y, table, chunk_rows=chunk_rows)
            return loss, tape.gradient(loss, [x, table])

        step()
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - start)
        rows.append({"chunk_rows": chunk_rows, "median_s": round(statistics.median(seconds), 3),
                     "seconds": [round(s, 3) for s in seconds],
                     "load_average": round(os.getloadavg()[0], 2)})
        print(json.dumps(rows[-1]), flush=True)
    report = {"benchmark": "full softmax CE + gradients", "positions": args.positions,
              "items": args.items, "dim": args.dim, "cpus": os.cpu_count(),
              "tensorflow": tf.__version__, "runs": rows}
    print_and_save(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
