"""Barlow Twins pretraining throughput (sequences/s) for the CNN and SASRec encoders.

    python bench/bench_pretrain.py --out bench/results/pretrain_cpu.json

For each encoder x batch size x XLA setting, runs ``model.fit`` for one warm-up epoch (tracing,
compilation) and one timed epoch of ``--steps`` steps, fed by the real TFRecord pipeline, then
the same with one cached batch repeated (no input work). The input-wait share is
``1 - cached_time / pipeline_time``: the fraction of a step spent waiting for data.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import keras
from common import DEFAULT_WORK, synthetic_dataset, write_report
from op_profile import top_ops

from tfbt import data
from tfbt.runs.pretrain import PretrainConfig, build_pretrainer


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def timed_epoch(model, dataset, steps: int) -> float:
    timer = EpochTimer()
    model.fit(dataset, epochs=2, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    return timer.seconds


def measure(data_dir: Path, encoder: str, batch_size: int, jit: bool, args) -> dict:
    metadata = data.load_metadata(data_dir)
    config = PretrainConfig(data=str(data_dir), output="", encoder=encoder,
                            encoder_args={"embedding_dim": 64} if encoder == "cnn" else {},
                            max_len=args.max_len, batch_size=batch_size, jit_compile=jit)
    pipeline = data.make_dataset(data_dir, batch_size=batch_size, max_len=args.max_len,
                                 shuffle=True, seed=0, repeat=True, drop_remainder=True,
                                 metadata=metadata)
    cached = pipeline.take(1).cache().repeat()
    results = {}
    for name, dataset in (("pipeline", pipeline), ("cached_batch", cached)):
        keras.utils.set_random_seed(0)
        model = build_pretrainer(config, metadata)
        model.build((None, args.max_len))
        results[name] = timed_epoch(model, dataset, args.steps)
    sequences = args.steps * batch_size
    profile = None
    if args.profile_dir is not None:  # the last model (cached batch): compute only
        profile = top_ops(lambda: model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0),
                          Path(args.profile_dir) / f"{encoder}_{batch_size}_{int(jit)}")
    return {
        "encoder": encoder, "batch_size": batch_size, "xla": jit,
        "sequences_per_second": round(sequences / results["pipeline"], 1),
        "sequences_per_second_cached": round(sequences / results["cached_batch"], 1),
        "input_wait_share": round(max(0.0, 1 - results["cached_batch"] / results["pipeline"]), 3),
        **({"top_ops": profile} if profile is not None else {}),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="cache for generated data")
    parser.add_argument("--encoders", default="cnn,sasrec")
    parser.add_argument("--batch-sizes", default="128,1024")
    parser.add_argument("--xla", default="off,on")
    parser.add_argument("--shape", default="50000,10000,100",
                        help="synthetic set: users,items,mean length")
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", default=None)
    parser.add_argument("--profile-dir", default=None,
                        help="also profile 3 cached-batch steps per run; top ops in the JSON")
    args = parser.parse_args(argv)
    data_dir = synthetic_dataset(args.work, *(int(n) for n in args.shape.split(",")))
    report = {"benchmark": "bt_pretraining", "data": str(data_dir), "max_len": args.max_len,
              "embedding_dim": 64, "steps": args.steps, "runs": []}
    grid = itertools.product(args.encoders.split(","),
                             [int(b) for b in args.batch_sizes.split(",")],
                             [x == "on" for x in args.xla.split(",")])
    for encoder, batch_size, jit in grid:
        row = measure(data_dir, encoder, batch_size, jit, args)
        print(json.dumps(row), flush=True)
        report["runs"].append(row)
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
