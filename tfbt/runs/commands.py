"""The commands ``tfbt train``, ``tfbt sweep-alpha`` and ``tfbt pretrain``: arguments -> config ->
recipe -> a short summary.

Their options are generated from ``TrainConfig`` / ``PretrainConfig`` (``tfbt.runs.options``);
only what is not a setting of the run is declared here (the run folder, ``--preset``, the
sweep's α and seeds). Nothing here imports TensorFlow, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from tfbt import cli_types
from tfbt.runs import environment, layout, options, preset, sweep
from tfbt.runs.environment import DONE_ELSEWHERE
from tfbt.runs.config import PretrainConfig, TrainConfig
from tfbt.runs.train import train


def config_from_args(args: argparse.Namespace, **overrides) -> TrainConfig:
    """A ``TrainConfig`` from parsed arguments: the flags given, over the ``--preset``'s
    settings, over the defaults; ``overrides`` win over all."""
    values = options.given(args, TrainConfig)
    if getattr(args, "preset", None):
        values = preset.under_preset(args.preset, values,
                                     [f.name for f in dataclasses.fields(TrainConfig)])
    return TrainConfig(**{**values, **overrides})


def _add_train_options(parser: argparse.ArgumentParser, exclude=()) -> None:
    options.add_options(parser, TrainConfig, exclude=exclude)
    layout.add_run_folder_arguments(parser)
    parser.add_argument("--preset", default=None,
                        help="named settings (" + ", ".join(preset.preset_names()) + ", or a "
                        ".json file; see tfbt/runs/presets/); flags given explicitly override it")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    _add_train_options(parser)


def summary(results: dict) -> str:
    """One line per split: the headline metrics."""
    names = ("NDCG@10", "HR@10", "coverage@10", "effective_rank", "long_tail@10")
    return "\n".join(
        f"{split}: " + " ".join(f"{n} {results[split][n]:.4f}" for n in names
                                if n in results[split])
        for split in ("valid", "test"))


def run_train(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        results = train(config, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"tfbt train: error: {err}", file=sys.stderr)
        return 2
    if not environment.is_chief_process():
        print(DONE_ELSEWHERE)
        return 0
    print(summary(results))
    print(f"results in {Path(args.output) / layout.RESULTS_FILE}, model in "
          f"{Path(args.output) / layout.MODEL_FILE}")
    return 0


def _seeds(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err


def _alphas(text: str) -> list[float]:
    return [cli_types.non_negative_float(part) for part in text.split(",") if part.strip()]


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alphas", type=_alphas, default=list(sweep.DEFAULT_ALPHAS),
                        help="comma-separated BT weights; 0 is SASRec (default "
                        + ",".join(f"{a:g}" for a in sweep.DEFAULT_ALPHAS) + ", on the authors' "
                        "scale; with --bt-form zbontar use values about 50x smaller)")
    parser.add_argument("--seeds", type=_seeds, default=None,
                        help="comma-separated seeds (e.g. 0,1,2): one sweep per seed in "
                        "OUTPUT/seed_<s>/, mean ± std and spectra in OUTPUT (default: --seed, "
                        "one sweep in OUTPUT)")
    _add_train_options(parser, exclude=("model", "alpha"))  # each α picks them


def _value(value) -> str:
    """A metric of a one-seed row, or the mean ± std of a multi-seed row."""
    if isinstance(value, dict):
        return f"{value['mean']:.4f} ± {value['std']:.4f}"
    return f"{value:.4f}"


def run_sweep(args: argparse.Namespace) -> int:
    try:
        seeds = {"seeds": args.seeds} if args.seeds else {}
        table = (sweep.sweep_seeds if seeds else sweep.sweep)(
            config_from_args(args), args.alphas, overwrite=args.overwrite, **seeds)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"tfbt sweep-alpha: error: {err}", file=sys.stderr)
        return 2
    for row in table["rows"]:
        print(f"alpha {row['alpha']:g}: " + " ".join(
            f"{split} NDCG@10 {_value(row[split]['NDCG@10'])} coverage@10 "
            f"{_value(row[split]['coverage@10'])}" for split in ("valid", "test")))
    print(f"table in {Path(args.output) / sweep.SWEEP_FILE}, plot in "
          f"{Path(args.output) / sweep.PLOT_FILE}")
    return 0


def add_pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_options(parser, PretrainConfig)
    layout.add_run_folder_arguments(parser)
    parser.add_argument("--allow-collapse", action="store_true",
                        help="save the encoder even when its representations collapsed "
                        "(default: an error, no encoder saved)")


def run_pretrain(args: argparse.Namespace) -> int:
    from tfbt.runs.pretrain import pretrain  # imports Keras

    config = PretrainConfig(**options.given(args, PretrainConfig))
    try:
        pretrain(config, overwrite=args.overwrite, allow_collapse=args.allow_collapse)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"tfbt pretrain: error: {err}", file=sys.stderr)
        return 2
    if not environment.is_chief_process():
        print(DONE_ELSEWHERE)
        return 0
    print(f"encoder saved to {Path(config.output) / layout.ENCODER_FILE}")
    return 0
