"""Times full-ranking evaluation at Amazon Beauty's size.

22,363 users ranked over 12,101 items with random D=64 item embeddings and a mean-pooling user
encoder. Sequence lengths follow Beauty (``common.DEFAULT_BEAUTY`` when present, else
4 + geometric(0.2), mean 9); item ids are random. Batches have the evaluation format of the brief
(``items`` left-padded [B, L] int32, ``target`` [B], ``seen`` ragged, ``user_id`` [B]) and come
from a ``tf.data`` pipeline, so input cost is included in the time.

Each timed run is one ``evaluate_full_ranking`` call, ``tf.function`` tracing included (every call
traces afresh). Prints JSON and writes it to ``--out`` if given.

    python bench/bench_evaluate.py --out runs/bench_evaluate.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import DEFAULT_BEAUTY, median, timed, write_report

import tensorflow as tf

from tfbt.evaluation.ranking import evaluate_full_ranking

BEAUTY_USERS = 22_363
BEAUTY_ITEMS = 12_101


def sequence_lengths(path: Path, num_users: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Full sequence lengths (history + test target) per user, and where they came from."""
    if path.is_file():
        lengths = np.array([len(line.split()) - 1 for line in path.read_text().splitlines()
                            if line.strip()])
        if lengths.size != num_users:
            lengths = rng.choice(lengths, size=num_users)
        return lengths, str(path)
    # 5-core-like stand-in: at least 5 items, mean 9.
    return 4 + rng.geometric(0.2, size=num_users), "4 + geometric(0.2), mean 9 (no Beauty.txt)"


def make_dataset(lengths: np.ndarray, num_items: int, max_len: int, batch_size: int,
                 rng: np.random.Generator) -> tf.data.Dataset:
    """Leave-one-out test batches: history = all but the last item, target = the last item."""
    sequences = rng.integers(1, num_items + 1, size=int(lengths.sum()), dtype=np.int32)
    row_splits = np.concatenate([[0], np.cumsum(lengths)])
    ends = row_splits[1:] - 1                       # index of each user's target
    history = tf.RaggedTensor.from_row_lengths(np.delete(sequences, ends), lengths - 1)
    offsets = np.arange(-max_len, 0)[None, :] + ends[:, None]   # last max_len history positions
    valid = offsets >= row_splits[:-1, None]
    items = np.where(valid, sequences[np.clip(offsets, 0, None)], 0).astype(np.int32)
    features = {"items": items, "target": sequences[ends], "seen": history,
                "user_id": np.arange(1, lengths.size + 1, dtype=np.int32)}
    return tf.data.Dataset.from_tensor_slices(features).batch(batch_size).prefetch(
        tf.data.AUTOTUNE)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=BEAUTY_USERS)
    parser.add_argument("--items", type=int, default=BEAUTY_ITEMS)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beauty", type=Path, default=DEFAULT_BEAUTY,
                        help="Beauty.txt, read only for its sequence lengths")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    lengths, lengths_from = sequence_lengths(args.beauty, args.users, rng)
    dataset = make_dataset(lengths, args.items, args.max_len, args.batch_size, rng)
    table = tf.constant(rng.normal(size=(args.items + 2, args.dim)).astype(np.float32))

    def user_encoder(items):
        """Mean of the history's item embeddings (padding excluded): [B, L] -> [B, D]."""
        mask = tf.cast(items > 0, tf.float32)[..., None]
        pooled = tf.reduce_sum(tf.gather(table, items) * mask, axis=1)
        return pooled / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)

    results = {}

    def evaluate():
        results.update(evaluate_full_ranking(user_encoder, table, dataset, num_items=args.items,
                                             progress=False))

    seconds = [timed(evaluate)[0] for _ in range(args.repeats)]

    report = {
        "benchmark": "evaluate_full_ranking",
        "protocol": "full ranking over all items, seen items removed, leave-one-out (test)",
        "num_users": results["num_users"], "num_items": args.items, "dim": args.dim,
        "max_len": args.max_len, "batch_size": args.batch_size,
        "mean_history_length": float(np.mean(lengths - 1)), "lengths_from": lengths_from,
        "seconds_per_run": [round(s, 3) for s in seconds],
        "seconds_median": round(median(seconds), 3),
        "users_per_second": round(results["num_users"] / median(seconds)),
        "metrics": {k: v for k, v in results.items() if k != "num_users"},
    }
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
