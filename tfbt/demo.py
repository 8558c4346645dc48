"""``tfbt demo``: the whole pipeline on the embedded synthetic dataset, in a few minutes on a CPU.

synthetic log -> TFRecords (+ statistics) -> Barlow Twins pretraining -> a linear probe of the
frozen encoder against a randomly initialised one on the planted favourite-genre label.
Everything lands in ``--output`` with a ``summary.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEMO_SIZES = {  # name -> (SyntheticConfig overrides, pretraining epochs)
    "full": (dict(num_users=3000, num_items=800, mean_length=40), 10),
    "small": (dict(num_users=600, num_items=200, mean_length=30), 4),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="tfbt-demo", help="folder for every demo artefact")
    parser.add_argument("--size", choices=sorted(DEMO_SIZES), default="full",
                        help="'small' runs in well under a minute (used by CI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="rebuild the synthetic dataset if the output folder has one")


def _section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def _probe_genre(encoder, data_dir, metadata, max_len, seed) -> float:
    import numpy as np

    from tfbt import data, downstream

    dataset = data.make_dataset(data_dir, max_len=max_len, batch_size=512,
                                labels=["favorite_genre"], metadata=metadata)
    users = downstream.embed_users(encoder, dataset, labels=["favorite_genre"])
    order = np.random.default_rng(seed).permutation(len(users["user_id"]))
    train, test = order[: len(order) // 2], order[len(order) // 2:]
    x, y = users["embeddings"], users["favorite_genre"]
    return downstream.linear_probe(x[train], y[train], x[test], y[test], seed=seed,
                                   num_classes=len(metadata.labels["favorite_genre"]))["accuracy"]


def run(args: argparse.Namespace) -> int:
    import keras

    from tfbt import data, training
    from tfbt.datasets.synthetic import SyntheticConfig, write_synthetic
    from tfbt.models import encoder_model
    from tfbt.pretrain import PretrainConfig, build_pretrainer, pretrain
    from tfrecords_builder.cli import dataset_statistics, format_statistics

    started = time.time()
    output = Path(args.output)
    data_dir = output / "data"
    overrides, epochs = DEMO_SIZES[args.size]
    summary: dict = {"size": args.size, "seed": args.seed}

    _section("1. synthetic interaction log -> TFRecords")
    if args.overwrite or not (data_dir / "metadata.json").is_file():
        write_synthetic(data_dir, SyntheticConfig(seed=args.seed, **overrides),
                        overwrite=args.overwrite)
    stats = dataset_statistics(data_dir)
    print(format_statistics(data_dir, stats))
    summary["dataset"] = {k: stats[k] for k in ("users", "items", "interactions")}
    metadata = data.load_metadata(data_dir)

    _section("2. Barlow Twins pretraining (CNN encoder, segment masking p=0.2)")
    config = PretrainConfig(data=str(data_dir), output=str(output / "pretrain"), max_len=50,
                            batch_size=128, epochs=epochs, learning_rate=2e-3,
                            projector=(256, 256), seed=args.seed)
    encoder, history = pretrain(config, verbose=2)
    summary["pretraining"] = {"epochs": epochs, "final_loss": history["loss"][-1],
                              "embedding_std": history["embedding_std"][-1]}

    _section("3. linear probe: favourite genre from the frozen representation")
    keras.utils.set_random_seed(args.seed)
    untrained = build_pretrainer(config, metadata)
    untrained.build((None, config.max_len))
    probe = {
        "bt_pretrained": _probe_genre(encoder, data_dir, metadata, config.max_len, args.seed),
        "random_init": _probe_genre(encoder_model(untrained.encoder, config.max_len), data_dir,
                                    metadata, config.max_len, args.seed),
    }
    for name, accuracy in probe.items():
        print(f"  {name:<14} accuracy {accuracy:.3f}")
    summary["favorite_genre_probe_accuracy"] = probe

    summary["seconds"] = round(time.time() - started, 1)
    training.write_json(output / "summary.json", summary)
    print(f"\ndone in {summary['seconds']} s; summary in {output / 'summary.json'}")
    return 0
