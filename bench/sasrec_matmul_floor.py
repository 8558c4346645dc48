"""How fast a SASRec full-softmax epoch can be on this CPU: its matmul FLOPs over the measured
matmul rate, in float32 and bfloat16.

A SASRec training epoch with the full softmax is mostly matmuls: the loss's logits and their
two gradients (``3 · 2 · positions · vocab · D``) and, per block, the Q/K/V/output and
feed-forward projections (``3 · 2 · tokens · 6 · D²``, forward and backward) and attention's
scores and weighted values (``3 · 2 · 2 · Σ n² · D``: the square the code computes, not the
causal half). The count uses each training sequence's real length (no padding), so it is a lower
bound on the work of a step. Dividing by the rate this CPU reaches on the loss's own matmul
shape gives the time an epoch needs with every element-wise op free: if that is already near a
target, no kernel fusion can reach it, only fewer FLOPs or faster arithmetic.

The rates: ``[rows, D] × [D, vocab]`` (the logits), and ``[vocab, rows] × [rows, D]`` (the
catalogue's gradient), each in float32 and in bfloat16 (where the CPU has bf16 dot products,
oneDNN uses them), plus the cost of casting a ``[rows, vocab]`` float32 tensor to bfloat16,
which a float32 softmax between bf16 matmuls pays twice per chunk.

    python bench/sasrec_matmul_floor.py --work /tmp/tfbt-bench
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from common import DEFAULT_BEAUTY, DEFAULT_WORK, best_of, named_dataset, write_report

import tensorflow as tf

from tfbt import data
from tfbt.data import splits
from tfrecords_builder.records import read_records


def epoch_flops(lengths: np.ndarray, vocab: int, dim: int, blocks: int) -> dict:
    """Matmul FLOPs of one training epoch (forward + backward), from the input lengths."""
    tokens = float(lengths.sum())
    return {"loss_logits": 2 * tokens * vocab * dim,
            "loss_gradients": 2 * 2 * tokens * vocab * dim,
            "projections": blocks * 3 * 2 * tokens * 6 * dim * dim,
            "attention": blocks * 3 * 2 * 2 * float(np.square(lengths).sum()) * dim}


def best_seconds(function, *args, repeats: int) -> float:
    """Best of ``repeats`` calls of a ``tf.function`` (traced and warmed first)."""
    function(*args).numpy()
    return best_of(repeats, lambda: function(*args).numpy())


def matmul_rates(rows: int, vocab: int, dim: int, repeats: int) -> dict:
    """GFLOP/s of the loss's two matmul shapes per dtype, and the float32 -> bf16 cast time.

    Each timed function ends in a max over its output so that nothing large is copied out;
    the max over the ``[rows, vocab]`` logits is timed alone and subtracted.
    """
    x = tf.random.normal([rows, dim])
    table = tf.random.normal([vocab, dim])
    probabilities = tf.random.uniform([rows, vocab])
    logits = tf.function(lambda x, t: tf.reduce_max(tf.matmul(x, t, transpose_b=True)))
    catalogue_gradient = tf.function(lambda p, x: tf.reduce_max(tf.matmul(p, x, transpose_a=True)))
    cast = tf.function(lambda p: tf.reduce_max(tf.cast(p, tf.bfloat16)))
    flops = 2 * rows * vocab * dim
    rates = {}
    for dtype in (tf.float32, tf.bfloat16):
        reduction = best_seconds(tf.function(tf.reduce_max), tf.cast(probabilities, dtype),
                                 repeats=repeats)
        seconds = (best_seconds(logits, tf.cast(x, dtype), tf.cast(table, dtype),
                                repeats=repeats) - reduction,
                   best_seconds(catalogue_gradient, tf.cast(probabilities, dtype),
                                tf.cast(x, dtype), repeats=repeats))
        rates[dtype.name] = {"logits_gflops": flops / seconds[0] / 1e9,
                             "catalogue_gradient_gflops": flops / seconds[1] / 1e9,
                             "seconds": seconds}
    rates["cast_to_bfloat16_s"] = best_seconds(cast, probabilities, repeats=repeats)
    return rates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("ml1m", "beauty"), default="ml1m")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--beauty", type=Path, default=DEFAULT_BEAUTY)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--rows", type=int, default=21_000,
                        help="positions in the timed matmuls (about one batch of 128 at ML-1M)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    data_dir = named_dataset(args.dataset, args.work, args.beauty)
    metadata = data.load_metadata(data_dir)
    sequences = read_records(data_dir, metadata=metadata).rows(
        drop_last=splits.UNSEEN_TAIL["train"])
    lengths = np.minimum([len(s) - 1 for s in sequences], args.max_len)
    vocab = metadata.num_items + 2
    flops = epoch_flops(lengths, vocab, args.hidden, args.blocks)
    rates = matmul_rates(args.rows, vocab, args.hidden, args.repeats)
    total = sum(flops.values())
    floor = {}
    for dtype in ("float32", "bfloat16"):
        logits, gradient = (rates[dtype][f"{shape}_gflops"] * 1e9
                            for shape in ("logits", "catalogue_gradient"))
        # The encoder's small matmuls at the faster of the two rates: a lower bound.
        floor[dtype] = (flops["loss_logits"] / logits + flops["loss_gradients"] / gradient
                        + (flops["projections"] + flops["attention"]) / max(logits, gradient))
    write_report({
        "benchmark": "SASRec full-softmax epoch: matmul FLOPs over the measured matmul rate",
        "data": str(data_dir), "users": metadata.num_users, "vocab": vocab,
        "positions_per_epoch": int(lengths.sum()), "max_len": args.max_len,
        "hidden": args.hidden, "blocks": args.blocks,
        "epoch_tflop": {name: value / 1e12 for name, value in flops.items()} | {
            "total": total / 1e12},
        "matmul_rates": rates, "epoch_floor_s": floor,
    }, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
