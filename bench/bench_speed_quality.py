"""Does a speed option keep the accuracy? Valid NDCG@10 after a fixed number of epochs.

Trains SASRec (full CE unless a setting says otherwise, hidden 64, 2 blocks, 1 head, max_len
200, dropout 0.2, batch 128) with ``tfbt.runs.train.train`` on the synthetic ML-100K-shaped set
(943 users, 1,682 items, mean length 106; ``tfbt.data.synthetic``, seed 0) for ``--epochs``
epochs, once per setting and seed, and reports the validation NDCG@10 (one validation, after
the last epoch; the test split is not looked at here) and the training time. Settings are
``TrainConfig`` overrides. ``--shape USERS,ITEMS,MEAN_LENGTH`` uses another synthetic set (seed
0), e.g. MovieLens-1M's ``6040,3416,165``, where a full-CE epoch is long enough for the
cheaper losses to matter.

    python bench/bench_speed_quality.py --settings "ce_chunk_rows=0;ce_chunk_rows=1024" \
        --out bench/results/speed_quality.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from common import DEFAULT_WORK, synthetic_dataset, write_report

from tfbt.runs import train


def parse_setting(text: str) -> dict:
    """``"name=value,name=value"`` -> overrides; values are JSON (numbers, true/false)."""
    overrides = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        try:
            overrides[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name.strip()] = value
    return overrides


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="ce_chunk_rows=0;ce_chunk_rows=1024",
                        help="';'-separated settings, each 'field=value,...' of TrainConfig")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--shape", default="943,1682,106",
                        help="synthetic set: users,items,mean length (default ML-100K's)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    users, items, mean_length = (int(n) for n in args.shape.split(","))
    folder = synthetic_dataset(args.work, users, items, mean_length)
    report = {"benchmark": "valid NDCG@10 after a fixed number of epochs", "data": str(folder),
              "epochs": args.epochs, "settings": []}
    for text in args.settings.split(";"):
        overrides = parse_setting(text)
        runs = []
        for seed in (int(s) for s in args.seeds.split(",")):
            with tempfile.TemporaryDirectory() as output:
                config = train.TrainConfig(
                    data=str(folder), output=output, max_len=200, hidden_dim=64, num_blocks=2,
                    num_heads=1, dropout=0.2, batch_size=128, epochs=args.epochs,
                    eval_every=args.epochs, patience=1, seed=seed, **overrides)
                results = train.train(config, verbose=0)
            runs.append({"seed": seed, "valid_NDCG@10": round(results["valid"]["NDCG@10"], 5),
                         "train_time_s": results["train_time_s"],
                         "load_average": round(os.getloadavg()[0], 2)})
            print(json.dumps({"setting": text, **runs[-1]}), flush=True)
        ndcg = [run["valid_NDCG@10"] for run in runs]
        report["settings"].append({"setting": text, "runs": runs,
                                   "mean_valid_NDCG@10": round(statistics.mean(ndcg), 5)})
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
