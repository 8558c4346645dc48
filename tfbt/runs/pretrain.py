"""``tfbt pretrain``: Barlow Twins pretraining of a user-sequence encoder (Liu et al. 2025).

Writes a run folder: ``encoder.keras`` (the encoder alone, ``items [B, max_len] -> [B, D]``,
for downstream tasks), ``config.json``, ``history.json``, ``tensorboard/`` and, while running,
``backup/`` so that a killed run started again with the same arguments resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import keras

from tfbt import cli_types, data
from tfbt.data.augment import SequenceAugmenter
from tfbt.layers import ProjectorMLP
from tfbt.layers.encoders import build_encoder
from tfbt.models import BarlowTwinsPretrainer, encoder_model
from tfbt.runs import environment, layout
from tfbt.runs.callbacks import run_callbacks, stopped_on_nan


@dataclasses.dataclass
class PretrainConfig:
    """Everything that defines a pretraining run (saved as ``config.json``).

    ``encoder_args`` go to the encoder's constructor (``CNNEncoder`` / ``SASRecEncoder``).
    ``lambd``/``lambda_on``: see ``tfbt.losses.barlow_twins_loss``. ``augment`` uses the
    grammar of ``tfbt.data.augment.parse_augmentations``. ``length_chunks``: see
    ``BarlowTwinsPretrainer`` (forced to 0 with ``jit_compile``: static shapes).
    """

    data: str
    output: str
    encoder: str = "cnn"
    encoder_args: dict = dataclasses.field(default_factory=dict)
    augment: str = "segment_mask:0.2"
    max_len: int = 200
    batch_size: int = 128
    epochs: int = 10
    steps_per_epoch: int | None = None
    learning_rate: float = 1e-3
    lambd: float = 0.0051
    lambda_on: str = "off_diagonal"
    projector: tuple[int, ...] = (256, 256)
    seed: int = 0
    strategy: str = "default"
    jit_compile: bool = False
    length_chunks: int = 4


def build_pretrainer(config: PretrainConfig, metadata) -> BarlowTwinsPretrainer:
    """The compiled pretrainer for ``config`` on a dataset described by ``metadata``."""
    encoder_args = dict(config.encoder_args)
    if config.encoder == "sasrec":
        encoder_args.setdefault("return_sequences", False)
    encoder = build_encoder(config.encoder, metadata.vocab_size, config.max_len, **encoder_args)
    model = BarlowTwinsPretrainer(
        encoder,
        SequenceAugmenter(config.augment, mask_id=metadata.mask_id),
        ProjectorMLP(config.projector),
        lambd=config.lambd, lambda_on=config.lambda_on, seed=config.seed,
        length_chunks=0 if config.jit_compile else config.length_chunks)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  jit_compile=config.jit_compile)
    return model


def pretrain(config: PretrainConfig, *, overwrite: bool = False, callbacks=(),
             verbose="auto") -> tuple[keras.Model, dict]:
    """Runs pretraining; returns the encoder model and the training history.

    The encoder is saved to ``output/encoder.keras``. The folder follows ``layout.run_folder``:
    a finished run there is refused unless ``overwrite``; a run interrupted before the end
    resumes from its last finished epoch when called again with the same config; a run that
    fails removes what it created.
    """
    with layout.run_folder(config.output, dataclasses.asdict(config),
                           finished=(layout.ENCODER_FILE,), overwrite=overwrite):
        return _pretrain(config, callbacks=callbacks, verbose=verbose)


def _pretrain(config: PretrainConfig, *, callbacks, verbose) -> tuple[keras.Model, dict]:
    """``pretrain`` in a prepared run folder."""
    output = Path(config.output)
    metadata = data.load_metadata(config.data)
    metadata.verify_shards(config.data)  # flipped bytes: a clear error now, not mid-training
    if metadata.num_users < config.batch_size:
        raise ValueError(f"{config.data} has {metadata.num_users} users, fewer than one batch "
                         f"of {config.batch_size}; lower --batch-size")
    environment.set_seed(config.seed, deterministic=not config.jit_compile)
    layout.write_json(output / layout.CONFIG_FILE, dataclasses.asdict(config))
    dataset = data.make_dataset(
        config.data, mode="sequence", batch_size=config.batch_size, max_len=config.max_len,
        shuffle=True, seed=config.seed, repeat=config.steps_per_epoch is not None,
        drop_remainder=True, metadata=metadata)
    with environment.make_strategy(config.strategy).scope():
        model = build_pretrainer(config, metadata)
        model.build((None, config.max_len))
    history = model.fit(
        dataset, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch, verbose=verbose,
        shuffle=False,  # the dataset shuffles itself (Keras would warn that it ignores True)
        callbacks=[*run_callbacks(output, monitor_collapse=True), *callbacks])
    if stopped_on_nan(history):
        raise FloatingPointError(
            f"pretraining stopped: the loss became NaN/inf ({history.history['loss'][-1]}); "
            f"lower --learning-rate or --lambd")
    encoder = encoder_model(model.encoder, config.max_len)
    encoder.save(output / layout.ENCODER_FILE)
    layout.write_json(output / layout.HISTORY_FILE, history.history)
    return encoder, history.history


def _key_value(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = PretrainConfig(data="", output="")
    parser.add_argument("--data", required=True, help="dataset folder from `tfbt build`")
    layout.add_run_folder_arguments(parser)
    parser.add_argument("--encoder", choices=("cnn", "sasrec"), default=defaults.encoder)
    parser.add_argument("--encoder-arg", action="append", type=_key_value, default=[],
                        metavar="KEY=VALUE", help="encoder constructor argument (JSON value), "
                        "e.g. embedding_dim=64 or dilation_rates=[1,2]; repeatable")
    parser.add_argument("--augment", default=defaults.augment,
                        help="augmentations: name[:ratio][@probability], comma separated "
                        "(random_mask, segment_mask, permute, crop)")
    parser.add_argument("--max-len", type=cli_types.positive_int, default=defaults.max_len)
    parser.add_argument("--batch-size", type=cli_types.positive_int, default=defaults.batch_size)
    parser.add_argument("--epochs", type=cli_types.positive_int, default=defaults.epochs)
    parser.add_argument("--steps-per-epoch", type=cli_types.positive_int, default=None)
    parser.add_argument("--learning-rate", type=cli_types.positive_float,
                        default=defaults.learning_rate)
    parser.add_argument("--lambd", type=cli_types.non_negative_float, default=defaults.lambd,
                        help="Barlow Twins weight (see --lambda-on)")
    parser.add_argument("--lambda-on", choices=("off_diagonal", "on_diagonal"),
                        default=defaults.lambda_on)
    parser.add_argument("--projector", default=",".join(map(str, defaults.projector)),
                        help="projector MLP widths, comma separated")
    parser.add_argument("--seed", type=cli_types.non_negative_int, default=defaults.seed)
    parser.add_argument("--strategy", choices=environment.STRATEGIES, default=defaults.strategy)
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile steps with XLA (seeded, but without op determinism, "
                        "which Keras does not combine with XLA)")
    parser.add_argument("--length-chunks", type=cli_types.non_negative_int,
                        default=defaults.length_chunks,
                        help="encode the views as this many length-sorted chunks (0 = whole)")


def run(args: argparse.Namespace) -> int:
    config = PretrainConfig(
        data=args.data, output=args.output, encoder=args.encoder,
        encoder_args=dict(args.encoder_arg), augment=args.augment, max_len=args.max_len,
        batch_size=args.batch_size, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
        learning_rate=args.learning_rate, lambd=args.lambd, lambda_on=args.lambda_on,
        projector=tuple(int(u) for u in args.projector.split(",")), seed=args.seed,
        strategy=args.strategy, jit_compile=args.jit_compile,
        length_chunks=args.length_chunks)
    try:
        pretrain(config, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"tfbt pretrain: error: {err}", file=sys.stderr)
        return 2
    print(f"encoder saved to {Path(config.output) / layout.ENCODER_FILE}")
    return 0
