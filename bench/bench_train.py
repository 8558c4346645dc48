"""Times SASRec / BT-SR training steps on Amazon Beauty: full, sampled and SCE losses, ± XLA.

Beauty (``common.DEFAULT_BEAUTY``, 22,363 users, 12,101 items) is built into a temporary
folder (or pass ``--data`` with a folder from ``tfbt build``). The model is the issue's setting:
max_len 50, hidden 64, 2 blocks, 1 head, dropout 0.5, Adam 1e-3. For each configuration the
training batches come from the real ``tf.data`` pipeline (twins included for BT-SR), the first
step (tracing / XLA compilation) is timed on its own, and then ``--steps`` steps are timed; the
epoch time is the median step time times the number of batches in an epoch (input pipeline
excluded: it produces an epoch in about a second).

The machine may be shared: the JSON records the load average before and after each
configuration, so numbers taken under load can be told apart.

    python bench/bench_train.py --out runs/bench_train.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import keras
from common import (DEFAULT_BEAUTY, DEFAULT_WORK, build_beauty, median, named_dataset, timed,
                    write_report)
from op_profile import top_ops

from tfbt import data
from tfbt.runs import train

DEFAULT_CONFIGS = ("sasrec:full", "sasrec:sampled", "sasrec:sce", "btsr:full",
                   "sasrec:full:xla", "sasrec:sce:xla")


def time_configuration(data_dir: str, metadata, spec: str, *, batch_size: int, steps: int,
                       length_chunks: int, max_len: int = 50, dropout: float = 0.5,
                       ce_chunk_rows: int | None = None, profile_dir: Path | None = None) -> dict:
    """Builds the model for ``model:loss[:xla]`` and times its training steps.

    With ``profile_dir``, three more steps run under ``tf.profiler`` and the top op types are
    added to the result (``op_profile.top_ops``).
    """
    model_name, loss, *flags = spec.split(":")
    jit = "xla" in flags
    config = train.TrainConfig(
        data=data_dir, output="", model=model_name, alpha=0.5 if model_name == "btsr" else None,
        loss=loss, max_len=max_len, hidden_dim=64, num_blocks=2, num_heads=1, dropout=dropout,
        batch_size=batch_size, jit_compile=jit, length_chunks=length_chunks,
        **({} if ce_chunk_rows is None else {"ce_chunk_rows": ce_chunk_rows})).resolved()
    keras.backend.clear_session()  # each configuration starts from an empty Keras state
    model = train.build_model(config, metadata)
    batches = list(train.training_dataset(config, metadata).take(steps + 1))
    load_before = os.getloadavg()[0]
    first_step, _ = timed(lambda: model.train_on_batch(batches[0]))
    times, cpu_times = zip(*(timed(lambda batch=batch: model.train_on_batch(batch))
                             for batch in batches[1:]))
    cores_busy = sum(cpu_times) / sum(times)
    step = median(times)
    batches_per_epoch = (metadata.num_users // batch_size if jit
                         else math.ceil(metadata.num_users / batch_size))
    profile = None
    if profile_dir is not None:
        def profiled_steps():
            for batch in batches[1:4]:
                model.train_on_batch(batch)

        profile = top_ops(profiled_steps, Path(profile_dir) / spec.replace(":", "_"))
    return {
        "config": spec, "model": model_name, "loss": loss, "xla": jit,
        "length_chunks": config.length_chunks, "ce_chunk_rows": config.ce_chunk_rows,
        "batch_size": batch_size,
        "first_step_s": round(first_step, 2), "timed_steps": len(times),
        "median_step_s": round(step, 4),
        "sequences_per_s": round(batch_size / step, 1),
        "cores_busy": round(cores_busy, 2),
        "epoch_s": round(step * batches_per_epoch, 1),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        **({"top_ops": profile} if profile is not None else {}),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="dataset folder from `tfbt build` (default: build "
                        "Beauty.txt into a temporary folder)")
    parser.add_argument("--ml1m", action="store_true",
                        help="instead: the synthetic ML-1M-shaped set (common.named_dataset: "
                        "6,040 users, 3,416 items, mean length 165) under --work")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--ce-chunk-rows", type=int, help="default: TrainConfig's")
    parser.add_argument("--profile-dir", type=Path,
                        help="also profile 3 steps per configuration; top ops in the JSON")
    parser.add_argument("--beauty", type=Path, default=DEFAULT_BEAUTY)
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                        help="comma-separated model:loss[:xla] (model sasrec|btsr, loss "
                        "full|sampled|sce)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per configuration")
    parser.add_argument("--xla-steps", type=int, default=5, help="timed steps with XLA")
    parser.add_argument("--length-chunks", type=int, default=4)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.ml1m:
            data_dir = str(named_dataset("ml1m", args.work))
            source = data_dir
        elif args.data:
            data_dir = args.data
            source = data_dir
        else:
            if not args.beauty.is_file():
                print(f"bench_train: {args.beauty} not found; pass --data or --beauty",
                      file=sys.stderr)
                return 2
            data_dir = str(Path(tmp) / "beauty")
            build_beauty(args.beauty, Path(data_dir))
            source = str(args.beauty)
        metadata = data.load_metadata(data_dir)
        counts = data.item_counts(data_dir, metadata=metadata)
        results = []
        for spec in args.configs.split(","):
            steps = args.xla_steps if spec.endswith(":xla") else args.steps
            result = time_configuration(data_dir, metadata, spec, batch_size=args.batch_size,
                                        steps=steps, length_chunks=args.length_chunks,
                                        max_len=args.max_len, dropout=args.dropout,
                                        ce_chunk_rows=args.ce_chunk_rows,
                                        profile_dir=args.profile_dir)
            print(json.dumps(result), flush=True)
            results.append(result)
    report = {
        "benchmark": "SASRec / BT-SR training step (tfbt.models.sequential.SequentialRecommender)",
        "data": source, "num_users": metadata.num_users, "num_items": metadata.num_items,
        "training_positions_per_epoch": int(counts.sum() - metadata.num_users),
        "model": f"max_len {args.max_len}, hidden 64, 2 blocks, 1 head, dropout "
                 f"{args.dropout}, Adam 1e-3",
        "results": results,
    }
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
