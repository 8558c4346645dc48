"""Scale: SASRec training steps and full-ranking evaluation on ML-20M-sized and million-item data.

Two synthetic sets (``common.named_dataset``, seed 0, generated once under ``--work``):
``ml20m`` (138,493 users, 26,744 items, ~20M interactions) and ``million`` (200,000 users,
about 1.08M items in the built catalogue, ~6M interactions).

Each loss runs in its own process, so its peak resident memory (``ru_maxrss``) is its own:
build the model (max_len 200, hidden 64, 2 blocks, 1 head, dropout 0.2, batch 128), one
untimed step (tracing), then ``--steps`` timed steps; seconds per epoch are **extrapolated** from
the median step (users / batch steps; the input pipeline excluded), not measured over an epoch.
With ``--eval-batches`` the valid split is then ranked against the whole catalogue for that many
batches of 256 users with ``item_chunk_size`` items at a time (``evaluate_full_ranking``: never
users x items in memory) and the time per user is extrapolated to all users.

    python bench/bench_scale.py --dataset ml20m --losses full,sampled,sce \
        --out bench/results/scale_ml20m.json
    python bench/bench_scale.py --dataset million --losses sce,sampled --eval-batches 4 \
        --out bench/results/scale_million.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from common import DEFAULT_WORK, median, named_dataset, peak_rss_gib, timed, write_report

DATASETS = ("ml20m", "million")
SCE_FIELDS = ("num_buckets", "bucket_size_x", "bucket_size_y")


def sce_buckets(text: str) -> list[int]:
    """``--sce-buckets N_B,B_X,B_Y`` -> three positive ints."""
    values = [int(n) for n in text.split(",")]
    if len(values) != len(SCE_FIELDS) or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive integers n_b,b_x,b_y, got "
                                         f"{text!r}")
    return values


def measure(folder: Path, loss: str, args) -> dict:
    """One loss: timed training steps, then (optionally) chunked full-ranking evaluation."""
    import keras

    from tfbt import data
    from tfbt.evaluation import full_ranking
    from tfbt.runs import train

    metadata = data.load_metadata(folder)
    config = train.TrainConfig(data=str(folder), output="", loss=loss, max_len=200,
                               hidden_dim=64, num_blocks=2, num_heads=1, dropout=0.2,
                               batch_size=args.batch_size, seed=0,
                               **dict(zip(SCE_FIELDS, args.sce_buckets))).resolved()
    keras.utils.set_random_seed(0)
    model = train.build_model(config, metadata)
    batches = list(train.training_dataset(config, metadata).take(args.steps + 1))
    model.train_on_batch(batches[0])
    seconds = [timed(lambda batch=batch: model.train_on_batch(batch))[0]
               for batch in batches[1:]]
    step = median(seconds)
    row = {"loss": loss, "timed_steps": len(seconds), "median_step_s": round(step, 3),
           "epoch_s_extrapolated": round(step * math.ceil(metadata.num_users / args.batch_size)),
           "peak_rss_gib_after_training": round(peak_rss_gib(), 2)}
    if args.eval_batches:
        batches = train.evaluation_dataset(
            train.TrainConfig(**{**config.__dict__, "eval_batch_size": 256}), metadata, "valid")
        batches = batches.take(args.eval_batches)
        results = {}
        elapsed, _ = timed(lambda: results.update(full_ranking(
            model, batches, metadata.num_items, progress=False,
            item_chunk_size=args.item_chunk_size)))
        row.update({"eval_users": results["num_users"], "eval_s": round(elapsed, 2),
                    "eval_s_all_users_extrapolated": round(
                        elapsed * metadata.num_users / results["num_users"]),
                    "item_chunk_size": args.item_chunk_size,
                    "peak_rss_gib_after_eval": round(peak_rss_gib(), 2)})
    row["load_average"] = round(os.getloadavg()[0], 2)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="ml20m")
    parser.add_argument("--losses", default="full,sampled,sce")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per loss")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--eval-batches", type=int, default=0,
                        help="valid batches of 256 users to rank (0 = no evaluation)")
    parser.add_argument("--item-chunk-size", type=int, default=65_536)
    parser.add_argument("--sce-buckets", type=sce_buckets, default=[],
                        help="SCE n_b,b_x,b_y (default: TrainConfig's)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--one-loss", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    folder = named_dataset(args.dataset, args.work)
    if args.one_loss:
        print(json.dumps(measure(folder, args.one_loss, args)), flush=True)
        return 0
    from tfbt import data

    metadata = data.load_metadata(folder)
    rows = []
    for loss in args.losses.split(","):
        child = subprocess.run(
            [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]),
             "--one-loss", loss], capture_output=True, text=True)
        lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
        if child.returncode or not lines:
            raise SystemExit(f"bench_scale: --loss {loss} failed:\n{child.stderr[-3000:]}")
        rows.append(json.loads(lines[-1]))
        print(lines[-1], flush=True)
    report = {"benchmark": "SASRec at scale (steps extrapolated to an epoch)",
              "dataset": args.dataset, "data": str(folder), "num_users": metadata.num_users,
              "num_items": metadata.num_items, "num_interactions": metadata.num_interactions,
              "model": "max_len 200, hidden 64, 2 blocks, 1 head, dropout 0.2",
              "batch_size": args.batch_size,
              "sce_buckets": dict(zip(SCE_FIELDS, args.sce_buckets)) or "TrainConfig defaults",
              "runs": rows}
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
