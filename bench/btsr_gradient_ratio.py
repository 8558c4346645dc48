"""How strongly BT-SR's Barlow Twins term pulls against the next-item loss: the ratio of the
gradient norms ``||α ∇BT|| / ||∇CE||`` over the trainable weights, on training batches.

    python bench/btsr_gradient_ratio.py RUN_DIR [RUN_DIR ...] --batches 5

For each finished ``tfbt train`` run (its ``config.json`` and ``model.keras``), the ratio is
measured with the trained weights and with freshly initialised ones (same config), on the first
``--batches`` training batches (twins drawn as in training, dropout on). A ratio far below 1 means
the BT term barely moves the model; far above, it dominates the CE.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from common import write_report

import tensorflow as tf

from tfbt import data
from tfbt.runs import layout
from tfbt.runs.train import TrainConfig, build_model, training_dataset


def ratios(model, batches, alpha: float) -> list[float]:
    out = []
    for step, batch in enumerate(batches):
        with tf.GradientTape(persistent=True) as tape:
            _, values = model.compute_terms(batch, tf.constant([0, step], tf.int64),
                                            training=True)
        weights = model.trainable_variables
        ce = tf.linalg.global_norm([g for g in tape.gradient(values["ce"], weights)
                                    if g is not None])
        bt = tf.linalg.global_norm([g for g in tape.gradient(values["bt"], weights)
                                    if g is not None])
        out.append(float(alpha * bt / ce))
        del tape
    return out


def measure(run_dir: Path, batches: int) -> dict:
    config = TrainConfig(**layout.read_json(run_dir / layout.CONFIG_FILE)).resolved()
    if config.alpha <= 0:
        raise ValueError(f"{run_dir}: alpha is 0 (SASRec): there is no BT term")
    metadata = data.load_metadata(config.data)
    sample = list(training_dataset(config, metadata).take(batches))
    trained, _ = layout.load_trained_model(run_dir)
    fresh = build_model(config, metadata)
    result = {}
    for name, model in (("trained", trained), ("initial", fresh)):
        values = ratios(model, sample, config.alpha)
        result[name] = {"mean": float(np.mean(values)), "values": values}
    return {"alpha": config.alpha, "lambd": config.lambd, "bt_form": config.bt_form,
            "twins": config.twins, "no_twin": config.no_twin, "ratio_bt_over_ce": result}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="finished tfbt train run folders (alpha > 0)")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    write_report({"runs": {run: measure(Path(run), args.batches) for run in args.runs}},
                 args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
