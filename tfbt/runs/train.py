"""``tfbt train``: next-item training of SASRec or BT-SR, judged by full-ranking evaluation.

The model is a ``tfbt.models.sequential.SequentialRecommender``: ``--model sasrec`` is SASRec with a
softmax loss (``--loss full|sampled|sce``); ``--model btsr --alpha A`` adds ``A ·`` Barlow Twins on
twin pairs (``tfbt.data.btsr_pairs``). Every ``--eval-every`` epochs the validation split is ranked against
the whole catalogue (seen items removed); training stops after ``--patience`` evaluations without
a better validation NDCG@10 and the best weights come back. The test split is evaluated once, at
the end, with those weights. Model selection never looks at the test split.

The run folder holds ``model.keras`` (the trained model, best weights), ``results.json`` (valid
and test metrics, config, seed, epochs, wall time), ``config.json``, ``history.json``,
``tensorboard/``, ``validation.json`` and ``best.weights.h5`` (the early-stopping state), and,
while running, ``backup/``: the same command started again resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from tfbt import cli_types, data
from tfbt.data import splits
from tfbt.data import twin_policies as twins
from tfbt.data.catalog import read_catalog
from tfbt.losses import BT_FORMS, LAMBDA_PLACEMENTS, LOSSES, SAMPLERS
from tfbt.runs import environment, layout, preset
from tfrecords_builder import schema

# TensorFlow, Keras and the models are imported by the functions that use them, so that
# `tfbt train --help` (and `tfbt train-dual-encoder`, which reuses these helpers) starts at once.

MODELS = ("sasrec", "btsr")
# BT-SR defaults per --bt-form: the authors' ML-1M α (ssl.lmd) and λ (lmd_sem) on their scale
# (terms divided by D), and on the Zbontar scale the values tuned on Beauty before.
DEFAULT_BTSR_ALPHA = {"authors": 0.2, "zbontar": 0.02}
DEFAULT_LAMBD = {"authors": 0.05, "zbontar": 1.0}
PROTOCOL = ("full ranking over all items, the user's seen items removed, leave-one-out "
            "(valid: second-to-last item, test: last item)")
TEMPORAL_PROTOCOL = ("full ranking over all items, the user's seen items removed, temporal split "
                     "(cut at the {quantile:g} quantile of all timestamps; users with "
                     "interactions after it are evaluated on those only: valid = second-to-"
                     "last, test = last, history = the after-cut items before the target)")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``).

    ``bt_form``: ``"authors"`` (default; ``tfbt.losses.btsr_barlow_twins_loss``, both terms
    divided by D, as in the BT-SR code) or ``"zbontar"`` (``barlow_twins_loss``, not divided:
    the same α then weighs BT D times more). ``alpha``: BT weight; ``None`` means 0 for
    ``sasrec`` and ``DEFAULT_BTSR_ALPHA[bt_form]`` for ``btsr`` (authors: their ML-1M 0.2; their
    other datasets use 0.08-0.25). ``lambd``: the off-diagonal weight; ``None`` means
    ``DEFAULT_LAMBD[bt_form]`` (authors: their ML-1M 0.05, 0.05-0.1 elsewhere; zbontar: 1, which
    on Beauty with α = 0.02 raised coverage@10 and effective rank where λ = 1/64 cut them).
    ``twins``/``no_twin``: see ``tfbt.data.btsr_pairs`` (authors: ``last-item``/``self``).
    ``dropout_pair_weight``: weight of an extra BT term between two dropout passes of every
    sequence (their Kindle setting; 0 = off). ``adam_beta2``: the authors use 0.98.
    ``split``: ``leave-one-out`` or ``temporal`` (``tfbt.data.splits``; the latter with
    ``split_quantile``, ``min_item_count``, ``min_user_count``, ``temporal_train_users``).
    ``length_chunks``: see ``SequentialRecommender``. ``ce_chunk_rows``: the full softmax's
    loss and gradients are computed this many positions at a time
    (``tfbt.losses.next_item.chunked_logsumexp_mean``; the same numbers, without the
    ``[positions, items]`` temporaries); 0 computes all logits at once. With ``jit_compile``
    both are forced to 0: XLA needs static shapes, and it fuses the softmax itself.
    """

    data: str
    output: str
    model: str = "sasrec"
    alpha: float | None = None
    loss: str = "full"
    num_negatives: int = 256
    sampler: str = "uniform"
    num_buckets: int | None = None  # None: the SCE authors' rule (see sce_buckets)
    bucket_size_x: int | None = None
    bucket_size_y: int = 512
    max_len: int = 50
    hidden_dim: int = 64
    num_blocks: int = 2
    num_heads: int = 1
    dropout: float = 0.2
    batch_size: int = 256
    epochs: int = 200
    learning_rate: float = 1e-3
    eval_every: int = 1
    patience: int = 5
    monitor: str = "NDCG@10"
    lambd: float | None = None
    lambda_on: str = "off_diagonal"
    bt_form: str = "authors"
    twins: str = "last-item"
    no_twin: str = "self"
    dropout_pair_weight: float = 0.0
    adam_beta2: float = 0.999
    split: str = "leave-one-out"
    split_quantile: float = 0.95
    min_item_count: int = 5
    min_user_count: int = 20
    temporal_train_users: str = "non-test"
    init_from: str | None = None
    train_fraction: float = 1.0
    seed: int = 0
    strategy: str = "default"
    jit_compile: bool = False
    length_chunks: int = 4
    ce_chunk_rows: int = 512
    eval_batch_size: int = 1024

    def resolved(self) -> "TrainConfig":
        """The config with defaults filled in and checked."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}; got {self.model!r}")
        if self.bt_form not in BT_FORMS:
            raise ValueError(f"bt_form must be one of {BT_FORMS}; got {self.bt_form!r}")
        if self.twins not in twins.POLICIES or self.no_twin not in twins.NO_TWIN:
            raise ValueError(f"twins must be one of {twins.POLICIES} and no_twin one of "
                             f"{twins.NO_TWIN}; got {self.twins!r}, {self.no_twin!r}")
        alpha = self.alpha if self.alpha is not None else (
            0.0 if self.model == "sasrec" else DEFAULT_BTSR_ALPHA[self.bt_form])
        lambd = self.lambd if self.lambd is not None else DEFAULT_LAMBD[self.bt_form]
        if self.split not in splits.PROTOCOLS:
            raise ValueError(f"split must be one of {splits.PROTOCOLS}; got {self.split!r}")
        self.temporal_options()  # checks the temporal settings
        if not 0 < self.train_fraction <= 1:
            raise ValueError(f"--train-fraction must be in (0, 1]; got {self.train_fraction}")
        if self.train_fraction < 1 and self.split != "leave-one-out":
            raise ValueError("--train-fraction is for --split leave-one-out only")
        if self.init_from and self.model != "sasrec":
            raise ValueError(f"--init-from starts SASRec from a BT-pretrained SASRecEncoder; "
                             f"got --model {self.model}")
        if self.model == "sasrec" and alpha != 0:
            raise ValueError(f"--model sasrec has no BT term; got --alpha {alpha} (use --model "
                             f"btsr)")
        if self.model == "btsr" and alpha <= 0:
            raise ValueError(f"--model btsr needs --alpha > 0; got {alpha} (alpha 0 is sasrec)")
        for name in ("epochs", "eval_every", "patience", "batch_size", "eval_batch_size",
                     "max_len", "hidden_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        return dataclasses.replace(self, alpha=float(alpha), lambd=float(lambd),
                                   length_chunks=0 if self.jit_compile else self.length_chunks,
                                   ce_chunk_rows=0 if self.jit_compile else self.ce_chunk_rows)


    def temporal_options(self) -> splits.TemporalOptions | None:
        """The temporal protocol's options, or None under leave-one-out."""
        options = splits.TemporalOptions(self.split_quantile, self.min_item_count,
                                         self.min_user_count, self.temporal_train_users)
        return options if self.split == "temporal" else None

    def protocol(self) -> str:
        """The evaluation protocol in words (stored in results.json)."""
        if self.split == "temporal":
            return TEMPORAL_PROTOCOL.format(quantile=self.split_quantile)
        return PROTOCOL


def sce_buckets(config: TrainConfig, metadata) -> tuple[int, int]:
    """SCE's ``(n_b, b_x)``: the config's, or by default ``sce_bucket_size`` of the batch and
    the dataset's mean training positions per user (mean length less the two held-out items,
    at most ``max_len``)."""
    from tfbt.losses.next_item import sce_bucket_size

    positions = min(config.max_len, max(1.0, metadata.num_interactions / metadata.num_users
                                        - splits.HELD_OUT))
    default = sce_bucket_size(config.batch_size, positions)
    return (config.num_buckets or default, config.bucket_size_x or default)


def build_model(config: TrainConfig, metadata, item_counts=None):
    """The compiled, built ``SequentialRecommender`` for a resolved ``config`` on the dataset
    of ``metadata``."""
    import keras

    from tfbt.layers.encoders import SASRecEncoder
    from tfbt.losses.next_item import NextItemLoss
    from tfbt.models.sequential import SequentialRecommender

    encoder = SASRecEncoder(metadata.vocab_size, config.max_len, hidden_dim=config.hidden_dim,
                            num_blocks=config.num_blocks, num_heads=config.num_heads,
                            dropout=config.dropout)
    num_buckets, bucket_size_x = sce_buckets(config, metadata)
    loss = NextItemLoss(config.loss, num_items=metadata.num_items,
                        num_negatives=config.num_negatives, sampler=config.sampler,
                        num_buckets=num_buckets, bucket_size_x=bucket_size_x,
                        bucket_size_y=config.bucket_size_y, ce_chunk_rows=config.ce_chunk_rows)
    model = SequentialRecommender(encoder, loss, alpha=config.alpha, lambd=config.lambd,
                                  lambda_on=config.lambda_on, seed=config.seed,
                                  length_chunks=config.length_chunks, bt_form=config.bt_form,
                                  dropout_pair_weight=config.dropout_pair_weight)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate,
                                                  beta_2=config.adam_beta2),
                  jit_compile=config.jit_compile)
    model.build((None, config.max_len))
    if item_counts is not None:
        loss.set_item_counts(item_counts)
    return model


def training_users(config: TrainConfig, metadata):
    """The user ids whose sequences train (``--train-fraction``: a ``config.seed``-ed subset,
    nested across fractions), or None for all; every user is still validated and tested."""
    if config.train_fraction >= 1:
        return None
    import numpy as np

    from tfbt.downstream.users import label_subset

    return label_subset(np.arange(1, metadata.num_users + 1), config.train_fraction,
                        seed=config.seed)


def training_dataset(config: TrainConfig, metadata):
    """Shuffled next-item batches (with twins for BT-SR), seeded by ``config.seed``."""
    dataset = data.make_dataset(config.data, mode="next_item", batch_size=config.batch_size,
                                max_len=config.max_len, shuffle=True, seed=config.seed,
                                drop_remainder=config.jit_compile, metadata=metadata,
                                temporal=config.temporal_options(),
                                users=training_users(config, metadata))
    if config.alpha > 0:
        from tfbt.data import btsr_pairs

        dataset = btsr_pairs.add_twins(dataset, config.data, max_len=config.max_len,
                                  seed=config.seed, metadata=metadata, policy=config.twins,
                                  no_twin=config.no_twin, temporal=config.temporal_options())
    return dataset


def evaluation_dataset(config: TrainConfig, metadata, split: str):
    """Evaluation batches (history, target, seen) of the ``valid`` or ``test`` split."""
    return data.make_dataset(config.data, mode="eval", split=split,
                             batch_size=config.eval_batch_size, max_len=config.max_len,
                             metadata=metadata, temporal=config.temporal_options())


def load_item_genres(data_dir, metadata) -> tuple[tuple[str, ...], ...] | None:
    """Item genres from the dataset's catalogue (entry i = item i), or None without genres."""
    if not metadata.item_genres:
        return None
    return read_catalog(Path(data_dir) / schema.ITEM_INFO_FILE, metadata.num_items).genres


def full_ranking(model, dataset, num_items, **kwargs) -> dict:
    """``evaluate_full_ranking`` of a ``SequentialRecommender`` (scores ``u · Eᵀ``)."""
    from tfbt.evaluation.ranking import evaluate_full_ranking

    return evaluate_full_ranking(model.user_embeddings, model.item_embeddings, dataset,
                                 num_items=num_items, **kwargs)


def train(config: TrainConfig, *, overwrite: bool = False, callbacks=(),
          verbose="auto") -> dict:
    """Trains, selects the epoch by validation, evaluates the test split; returns the results.

    The results dict is also written to ``output/results.json`` and the model to
    ``output/model.keras``. The folder follows ``layout.run_folder``: a finished run there is
    refused unless ``overwrite``, an unfinished one resumes only with the same config, and a
    run that fails removes what it created.
    """
    started = time.time()
    config = config.resolved()
    with layout.run_folder(config.output, dataclasses.asdict(config),
                           finished=(layout.MODEL_FILE, layout.RESULTS_FILE),
                           overwrite=overwrite) as resume:
        return _train(config, resume=resume, started=started, callbacks=callbacks,
                      verbose=verbose)


def _train(config: TrainConfig, *, resume: bool, started: float, callbacks, verbose) -> dict:
    """``train`` in a prepared run folder (``resume``: continue its ``backup/``)."""
    output = Path(config.output)
    metadata = data.load_metadata(config.data)
    metadata.verify_shards(config.data)  # flipped bytes: a clear error now, not mid-training
    environment.set_seed(config.seed, deterministic=not config.jit_compile)
    layout.write_json(output / layout.CONFIG_FILE, dataclasses.asdict(config))
    counts = data.item_counts(config.data, metadata=metadata,
                              temporal=config.temporal_options())
    genres = load_item_genres(config.data, metadata)
    with environment.make_strategy(config.strategy).scope():
        model = build_model(config, metadata, item_counts=counts)
    if config.init_from:
        from tfbt.runs.init_from import initialize_from_pretraining

        initialize_from_pretraining(model.encoder, config.init_from, config.data)
    from tfbt.runs.callbacks import (
        FullRankingEarlyStopping,
        run_callbacks,
        stopped_on_nan,
    )

    validation = evaluation_dataset(config, metadata, "valid")
    early_stopping = FullRankingEarlyStopping(
        validation, num_items=metadata.num_items, state_dir=output, every=config.eval_every,
        patience=config.patience, monitor=config.monitor, resume=resume)
    history = model.fit(
        training_dataset(config, metadata), epochs=config.epochs, verbose=verbose, shuffle=False,
        callbacks=[early_stopping, *run_callbacks(output), *callbacks])
    if stopped_on_nan(history):
        raise FloatingPointError(
            f"training stopped: the loss became NaN/inf ({history.history['loss'][-1]}); "
            f"lower --learning-rate or --alpha")
    train_seconds = time.time() - started
    if early_stopping.state["best_epoch"] is None:
        raise ValueError(f"no validation evaluation ran: --epochs {config.epochs} is below "
                         f"--eval-every {config.eval_every}")
    evaluation = dict(num_items=metadata.num_items, item_counts=counts, item_genres=genres,
                      progress=False)
    valid = full_ranking(model, validation, **evaluation)
    test = full_ranking(model, evaluation_dataset(config, metadata, "test"), **evaluation)
    model.save(output / layout.MODEL_FILE)
    results = {
        "config": dataclasses.asdict(config),
        "seed": config.seed,
        "data": {"path": str(config.data), "num_users": metadata.num_users,
                 "num_items": metadata.num_items,
                 "num_interactions": metadata.num_interactions,
                 "sources": metadata.sources},
        "protocol": config.protocol(),
        "epochs_run": early_stopping.state["epochs"],
        "best_epoch": early_stopping.state["best_epoch"],
        "wall_time_s": round(time.time() - started, 1),
        "train_time_s": round(train_seconds, 1),
        "valid": valid,
        "test": test,
        "validation_curve": early_stopping.state["evaluations"],
    }
    layout.write_json(output / layout.HISTORY_FILE, history.history)
    layout.write_json(output / layout.RESULTS_FILE, results)
    return results


def _train_fraction(text: str) -> float:
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 < value <= 1:
        raise ValueError(text)
    return value


_train_fraction.__name__ = "fraction in (0, 1] (or a percentage such as 5%)"


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``tfbt train`` and ``tfbt sweep-alpha`` (all but model/alpha)."""
    defaults = TrainConfig(data="", output="")
    parser.add_argument("--data", required=True, help="dataset folder from `tfbt build`")
    layout.add_run_folder_arguments(parser)
    parser.add_argument("--loss", choices=LOSSES, default=defaults.loss,
                        help="next-item loss: full softmax, sampled softmax or Scalable CE")
    parser.add_argument("--num-negatives", type=cli_types.positive_int,
                        default=defaults.num_negatives,
                        help="sampled softmax with --sampler uniform: negatives per step")
    parser.add_argument("--sampler", choices=SAMPLERS, default=defaults.sampler,
                        help="sampled softmax negatives (in_batch is log-Q corrected)")
    parser.add_argument("--num-buckets", type=cli_types.positive_int,
                        default=defaults.num_buckets,
                        help="SCE n_b (default: the SCE authors' rule, about 2 * sqrt(batch * "
                             "mean training positions per user))")
    parser.add_argument("--bucket-size-x", type=cli_types.positive_int,
                        default=defaults.bucket_size_x,
                        help="SCE b_x: output positions per bucket (default: as n_b)")
    parser.add_argument("--bucket-size-y", type=cli_types.positive_int,
                        default=defaults.bucket_size_y,
                        help="SCE b_y: items per bucket")
    parser.add_argument("--max-len", type=cli_types.positive_int, default=defaults.max_len)
    parser.add_argument("--hidden-dim", type=cli_types.positive_int, default=defaults.hidden_dim)
    parser.add_argument("--num-blocks", type=cli_types.positive_int, default=defaults.num_blocks)
    parser.add_argument("--num-heads", type=cli_types.positive_int, default=defaults.num_heads)
    parser.add_argument("--dropout", type=cli_types.fraction, default=defaults.dropout,
                        help="0.2 for MovieLens, 0.5 for sparse Amazon data")
    parser.add_argument("--batch-size", type=cli_types.positive_int, default=defaults.batch_size)
    parser.add_argument("--epochs", type=cli_types.positive_int,
                        default=defaults.epochs, help="at most")
    parser.add_argument("--learning-rate", type=cli_types.positive_float,
                        default=defaults.learning_rate)
    parser.add_argument("--eval-every", type=cli_types.positive_int, default=defaults.eval_every,
                        help="epochs between full-ranking validations")
    parser.add_argument("--patience", type=cli_types.positive_int, default=defaults.patience,
                        help="validations without improvement before stopping")
    parser.add_argument("--lambd", type=cli_types.non_negative_float, default=defaults.lambd,
                        help="Barlow Twins off-diagonal weight (their lmd_sem; default "
                        + ", ".join(f"{f} {v:g}" for f, v in DEFAULT_LAMBD.items()) + ")")
    parser.add_argument("--lambda-on", choices=LAMBDA_PLACEMENTS, default=defaults.lambda_on,
                        help="--bt-form zbontar only: the term lambd weighs")
    parser.add_argument("--bt-form", choices=BT_FORMS, default=defaults.bt_form,
                        help="authors: BT-SR code (unbiased std, terms / D; alpha 0.08-0.25); "
                        "zbontar: not divided by D (alpha D times smaller)")
    parser.add_argument("--twins", choices=twins.POLICIES, default=defaults.twins,
                        help="last-item: another user whose sequence ends with the same item "
                        "(authors); any-prefix: any prefix of any user followed by it")
    parser.add_argument("--no-twin", choices=twins.NO_TWIN, default=defaults.no_twin,
                        help="a user without a twin: self = paired with itself (views differ "
                        "by dropout; authors), skip = no BT term")
    parser.add_argument("--dropout-pair-weight", type=cli_types.non_negative_float,
                        default=defaults.dropout_pair_weight,
                        help="weight of an extra BT term between two dropout passes of every "
                        "sequence (their Kindle setting; 0 = off)")
    parser.add_argument("--adam-beta2", type=cli_types.fraction, default=defaults.adam_beta2,
                        help="Adam beta_2 (the BT-SR code uses 0.98)")
    parser.add_argument("--split", choices=splits.PROTOCOLS, default=defaults.split,
                        help="leave-one-out, or temporal (the BT-SR authors': a global time "
                        "cut; needs a dataset built with timestamps)")
    parser.add_argument("--split-quantile", type=cli_types.fraction,
                        default=defaults.split_quantile,
                        help="--split temporal: the cut is this quantile of all timestamps")
    parser.add_argument("--min-item-count", type=cli_types.non_negative_int,
                        default=defaults.min_item_count,
                        help="--split temporal: items with fewer interactions are removed")
    parser.add_argument("--min-user-count", type=cli_types.non_negative_int,
                        default=defaults.min_user_count,
                        help="--split temporal: then users with fewer interactions")
    parser.add_argument("--temporal-train-users", choices=splits.TEMPORAL_TRAIN_USERS,
                        default=defaults.temporal_train_users,
                        help="--split temporal: non-test = only users without after-cut "
                        "interactions train (authors' code); all = every user before the cut")
    parser.add_argument("--init-from", default=defaults.init_from, metavar="RUN",
                        help="--model sasrec: start from the encoder of this `tfbt pretrain "
                        "--encoder sasrec` run (same architecture and item vocabulary)")
    parser.add_argument("--train-fraction", type=_train_fraction,
                        default=defaults.train_fraction,
                        help="train on this share of the users (seeded, nested; e.g. 0.01 or "
                        "1%%); validation and test use every user")
    parser.add_argument("--seed", type=cli_types.non_negative_int, default=defaults.seed)
    parser.add_argument("--strategy", choices=environment.STRATEGIES, default=defaults.strategy)
    parser.add_argument("--ce-chunk-rows", type=cli_types.non_negative_int,
                        default=defaults.ce_chunk_rows,
                        help="--loss full: positions per chunk of the softmax (0 = all at once)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile steps with XLA (static shapes: slower on CPU; seeded, but "
                        "without op determinism, which Keras does not combine with XLA)")
    parser.add_argument("--length-chunks", type=cli_types.non_negative_int,
                        default=defaults.length_chunks,
                        help="encode each batch as this many length-sorted chunks")
    parser.add_argument("--eval-batch-size", type=cli_types.positive_int,
                        default=defaults.eval_batch_size)
    parser.add_argument("--preset", default=None,
                        help="named settings (" + ", ".join(preset.preset_names()) + ", or a "
                        ".json file; see tfbt/runs/presets/); flags given explicitly override it")
    preset.track_explicit_flags(parser)


def config_from_args(args: argparse.Namespace, **overrides) -> TrainConfig:
    """A ``TrainConfig`` from parsed arguments (fields the parser lacks keep defaults).

    With ``--preset``, the preset's settings replace the defaults of the flags not given
    explicitly; explicit flags and ``overrides`` win.
    """
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {name: value for name, value in vars(args).items() if name in fields}
    if getattr(args, "preset", None):
        given = preset.explicit_flags(args)
        values.update({name: value for name, value in preset.load_preset(args.preset,
                                                                         fields).items()
                       if name not in given})
    return TrainConfig(**{**values, **overrides})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=MODELS, default="sasrec",
                        help="sasrec (alpha 0) or btsr (CE + alpha * Barlow Twins)")
    parser.add_argument("--alpha", type=cli_types.non_negative_float, default=None,
                        help="BT weight for btsr (default " + ", ".join(
                            f"{f} {v:g}" for f, v in DEFAULT_BTSR_ALPHA.items()) + ")")
    add_common_arguments(parser)


def summary(results: dict) -> str:
    """One line per split: the headline metrics."""
    names = ("NDCG@10", "HR@10", "coverage@10", "effective_rank", "long_tail@10")
    return "\n".join(
        f"{split}: " + " ".join(f"{n} {results[split][n]:.4f}" for n in names
                                if n in results[split])
        for split in ("valid", "test"))


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        results = train(config, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"tfbt train: error: {err}", file=sys.stderr)
        return 2
    print(summary(results))
    print(f"results in {Path(args.output) / layout.RESULTS_FILE}, model in "
          f"{Path(args.output) / layout.MODEL_FILE}")
    return 0
