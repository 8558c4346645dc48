"""``tfbt train-dual-encoder``: the TFRS two-tower baseline as a run folder, like ``tfbt train``.

Trains ``tfbt.baselines.train_dual_encoder`` (CNN query tower, item-embedding candidate tower,
in-batch softmax) on the training split, then ranks the whole catalogue with its retrieval
scores (query tower · candidate table, the user's seen items removed) on the valid and test
splits, under the leave-one-out protocol of ``tfbt train``, so the numbers sit beside SASRec's.
The run folder holds ``config.json``, ``dual_encoder/`` (the towers' checkpoint),
``history.json`` and ``results.json``; ``tfbt export --kind recommender`` serves it.

This module imports TensorFlow only when a run starts (``--help`` stays instant); tf.keras stays
inside ``tfbt.baselines``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from tfbt import cli_types
from tfbt.runs import layout, preflight


@dataclasses.dataclass
class DualEncoderConfig:
    """A dual-encoder run (saved as ``config.json``); ``embedding_dim``, ``filters``,
    ``pooling`` and ``dropout`` are the query tower's (``CNNQueryTower``)."""

    data: str
    output: str
    max_len: int = 50
    embedding_dim: int = 64
    filters: int = 64
    pooling: str = "mean"
    dropout: float = 0.1
    epochs: int = 10
    batch_size: int = 256
    learning_rate: float = 1e-3
    pairing: str = "random"
    temperature: float | None = None
    sampling_correction: bool = False
    seed: int = 0
    eval_batch_size: int = 1024

    def encoder_config(self) -> dict:
        return {"embedding_dim": self.embedding_dim, "filters": self.filters,
                "pooling": self.pooling, "dropout": self.dropout}

    def checked(self) -> "DualEncoderConfig":
        """Raises ``ValueError`` naming the first flag out of range (``pooling`` and ``pairing``
        are checked by ``tfbt.baselines``, before training starts)."""
        for name in ("max_len", "embedding_dim", "filters", "epochs", "batch_size",
                     "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1; got "
                                 f"{getattr(self, name)}")
        if not 0 < self.learning_rate < float("inf"):
            raise ValueError(f"--learning-rate must be a positive number; got "
                             f"{self.learning_rate}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"--dropout must be in [0, 1); got {self.dropout}")
        if self.temperature is not None and not 0 < self.temperature < float("inf"):
            raise ValueError(f"--temperature must be a positive number; got {self.temperature}")
        return self


def load_model(run_dir, config: dict, metadata):
    """The trained ``DualEncoder`` of a run folder (``config``: its ``config.json``)."""
    from tfbt.baselines import load_dual_encoder

    fields = {f.name for f in dataclasses.fields(DualEncoderConfig)}
    run = DualEncoderConfig(**{k: v for k, v in config.items() if k in fields})
    return load_dual_encoder(Path(run_dir) / layout.DUAL_ENCODER_DIR / "weights",
                             metadata.vocab_size, run.max_len, **run.encoder_config())


def train(config: DualEncoderConfig, *, overwrite: bool = False, verbose="auto") -> dict:
    """Trains, evaluates valid and test by full ranking, writes the run folder; returns the
    results (also in ``output/results.json``)."""
    from tfbt import data
    from tfbt.baselines import save_dual_encoder, train_dual_encoder
    from tfbt.data.catalog import item_genres
    from tfbt.evaluation import full_ranking
    from tfbt.runs.config import PROTOCOL

    config = config.checked()
    output = Path(config.output)
    metadata = data.load_metadata(config.data)
    preflight.check_dual_encoder(config, metadata)
    with layout.run_folder(output, dataclasses.asdict(config),
                           finished=(layout.DUAL_ENCODER_DIR, layout.RESULTS_FILE),
                           overwrite=overwrite, command="train-dual-encoder"):
        started = time.time()
        layout.write_json(output / layout.CONFIG_FILE, dataclasses.asdict(config))
        model = train_dual_encoder(
            config.data, max_len=config.max_len, epochs=config.epochs,
            batch_size=config.batch_size, learning_rate=config.learning_rate, seed=config.seed,
            pairing=config.pairing, temperature=config.temperature,
            sampling_correction=config.sampling_correction, verbose=verbose,
            **config.encoder_config())
        train_seconds = time.time() - started
        evaluation = dict(progress=False,
                          item_counts=data.item_counts(config.data, metadata=metadata),
                          item_genres=item_genres(config.data, metadata))

        def ranked(split):
            batches = data.evaluation_dataset(config.data, split, max_len=config.max_len,
                                              batch_size=config.eval_batch_size,
                                              metadata=metadata)
            return full_ranking(model, batches, metadata.num_items, **evaluation)

        results = {
            "config": dataclasses.asdict(config),
            "model": "tfrs_dual_encoder",
            "seed": config.seed,
            "data": {"path": str(config.data), "num_users": metadata.num_users,
                     "num_items": metadata.num_items,
                     "num_interactions": metadata.num_interactions},
            "protocol": PROTOCOL,
            "scores": "query tower . candidate tower (retrieval scores)",
            "epochs_run": len(model.history.history.get("epoch_loss", [])),
            "train_time_s": round(train_seconds, 1),
            "valid": ranked("valid"),
            "test": ranked("test"),
        }
        results["wall_time_s"] = round(time.time() - started, 1)
        save_dual_encoder(model, output / layout.DUAL_ENCODER_DIR / "weights")
        layout.write_json(output / layout.HISTORY_FILE, model.history.history)
        layout.write_json(output / layout.RESULTS_FILE, results)
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = DualEncoderConfig(data="", output="")
    parser.add_argument("--data", required=True, help="dataset folder from `tfbt build`")
    layout.add_run_folder_arguments(parser)
    parser.add_argument("--max-len", type=cli_types.positive_int, default=defaults.max_len,
                        help="the most recent items that form the query")
    parser.add_argument("--embedding-dim", type=cli_types.positive_int,
                        default=defaults.embedding_dim,
                        help="query tower item embedding size")
    parser.add_argument("--filters", type=cli_types.positive_int, default=defaults.filters,
                        help="query tower Conv1D filters (= the representation size)")
    parser.add_argument("--pooling", default=defaults.pooling,
                        help="query tower pooling over real positions: mean, max or last")
    parser.add_argument("--dropout", type=cli_types.fraction, default=defaults.dropout,
                        help="query tower dropout")
    parser.add_argument("--epochs", type=cli_types.positive_int, default=defaults.epochs,
                        help="passes over the users (one pair per user per pass)")
    parser.add_argument("--batch-size", type=cli_types.positive_int, default=defaults.batch_size,
                        help="pairs per batch: 1 positive + batch_size - 1 in-batch negatives")
    parser.add_argument("--learning-rate", type=cli_types.positive_float,
                        default=defaults.learning_rate,
                        help="Adam learning rate")
    parser.add_argument("--pairing", default=defaults.pairing,
                        help="random: a fresh cut point per user and epoch; last: the whole "
                             "prefix and its last next item")
    parser.add_argument("--temperature", type=cli_types.positive_float,
                        default=defaults.temperature,
                        help="softmax temperature (none = 1)")
    parser.add_argument("--sampling-correction", action="store_true",
                        help="logQ-correct the in-batch softmax with training frequencies")
    parser.add_argument("--seed", type=cli_types.non_negative_int, default=defaults.seed,
                        help="weights, shuffling and cut points")
    parser.add_argument("--eval-batch-size", type=cli_types.positive_int,
                        default=defaults.eval_batch_size,
                        help="users per full-ranking batch")


def run(args: argparse.Namespace) -> int:
    from tfbt.runs.layout import RESULTS_FILE
    from tfbt.runs.commands import summary

    fields = {f.name for f in dataclasses.fields(DualEncoderConfig)}
    config = DualEncoderConfig(**{k: v for k, v in vars(args).items() if k in fields})
    try:
        results = train(config, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError) as err:
        print(f"tfbt train-dual-encoder: error: {err}", file=sys.stderr)
        return 2
    print(summary(results))
    print(f"results in {Path(args.output) / RESULTS_FILE}; export it with `tfbt export --run "
          f"{args.output} --kind recommender --name NAME`")
    return 0
