"""Times a SASRec model's full-ranking evaluation end to end (``tfbt.evaluation.full_ranking``).

What ``tfbt train`` runs at every validation and at the end: the ``valid`` (or ``test``) split
from the real ``tf.data`` pipeline, the encoder, scores over the whole catalogue, seen items
removed, ranks, top-K and the metrics. Two datasets:

``ml1m`` (synthetic, MovieLens-1M's shape) with max_len 200, and ``beauty`` (Amazon Beauty
5-core) with max_len 50; see ``common.named_dataset``.

The model has the issue's shape (hidden 64, 2 blocks, 1 head), freshly initialised with
``--seed`` (the time does not depend on the weights). Each repeat is one ``full_ranking`` call,
tracing included; the first call is reported apart. The machine may be shared: the JSON records
the load average and the process's CPU seconds (``common.timed``). With ``--profile-dir``, one
more call runs under ``tf.profiler`` and its top op types are added (``op_profile.top_ops``).

    python bench/bench_full_ranking.py --dataset ml1m --out bench/results/full_ranking_ml1m.json

To time another version of the package (the "before" column), put its source first on the path:
``PYTHONPATH=/path/to/old/tree python bench/bench_full_ranking.py ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import keras
from common import DEFAULT_BEAUTY, DEFAULT_WORK, median, named_dataset, timed, write_report
from op_profile import top_ops

from tfbt import data
from tfbt.evaluation import full_ranking
from tfbt.runs import train

DATASETS = {"ml1m": {"max_len": 200}, "beauty": {"max_len": 50}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="ml1m")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="cache for generated or built data")
    parser.add_argument("--beauty", type=Path, default=DEFAULT_BEAUTY)
    parser.add_argument("--split", choices=("valid", "test"), default="valid")
    parser.add_argument("--eval-batch-size", type=int, default=None,
                        help="default: TrainConfig's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile-dir", type=Path,
                        help="profile one more call here; its top ops go into the JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    folder = named_dataset(args.dataset, args.work, args.beauty)
    metadata = data.load_metadata(folder)
    options = {} if args.eval_batch_size is None else {"eval_batch_size": args.eval_batch_size}
    config = train.TrainConfig(data=str(folder), output="", max_len=DATASETS[args.dataset][
        "max_len"], hidden_dim=64, num_blocks=2, num_heads=1, seed=args.seed,
        **options).resolved()
    keras.utils.set_random_seed(args.seed)
    model = train.build_model(config, metadata)
    batches = train.evaluation_dataset(config, metadata, args.split)
    results = {}

    def evaluate():
        results.update(full_ranking(model, batches, metadata.num_items, progress=False))

    load_before = os.getloadavg()[0]
    seconds, cpu_seconds = zip(*(timed(evaluate) for _ in range(args.repeats + 1)))
    profile = None
    if args.profile_dir is not None:
        profile = top_ops(evaluate, args.profile_dir)
    report = {
        "benchmark": "full_ranking (tfbt.evaluation), SASRec hidden 64, 2 blocks, 1 head",
        "dataset": args.dataset, "data": str(folder), "split": args.split,
        "num_users": results["num_users"], "num_items": metadata.num_items,
        "max_len": config.max_len, "eval_batch_size": config.eval_batch_size,
        "seed": args.seed, "first_call_s": round(seconds[0], 3),
        "seconds_per_run": [round(s, 3) for s in seconds[1:]],
        "seconds_median": round(median(seconds[1:]), 3),
        "cpu_seconds_per_run": [round(s, 2) for s in cpu_seconds[1:]],
        "cpu_seconds_median": round(median(cpu_seconds[1:]), 2),
        "NDCG@10": results["NDCG@10"],
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        **({"top_ops": profile} if profile is not None else {}),
    }
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
