"""The command line of ``tfbt experiment liu2025``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from tfbt import cli_types, downstream
from tfbt.data.augment_spec import parse_augmentations
from tfbt.experiments.liu2025.config import MODES, TASKS, ExperimentConfig


def _list(kind, allowed=None):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        values = []
        for item in items:
            try:
                values.append(kind(item))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{text!r}: {item!r} is not a valid {kind.__name__}") from None
        unknown = [v for v in values if allowed and v not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; expected some of "
                                             f"{', '.join(allowed)}")
        return tuple(values)
    return parse


def _augment_spec(text):
    try:
        parse_augmentations(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ExperimentConfig(data="", output="")
    f = d.fit
    add = parser.add_argument
    add("--data", required=True, help="dataset folder from `tfbt build`")
    add("--output", required=True, help="results folder (a rerun resumes it)")
    add("--seeds", type=_list(int), default=d.seeds, help="comma separated (default 0,1,2)")
    add("--fractions", type=_list(cli_types.share), default=d.fractions,
        help="label fractions of the training users, e.g. 0.01,0.05,0.1,0.25,1 or 1%%,5%%")
    add("--modes", type=_list(str, MODES), default=d.modes, help=", ".join(MODES))
    add("--tasks", type=_list(str), default=None,
        help=f"default: next_item and every label the dataset has ({', '.join(TASKS)})")
    add("--encoder-run", help="reuse this `tfbt pretrain` run folder as the main BT encoder "
        "({seed} in the path is replaced by each seed)")
    add("--max-len", type=cli_types.positive_int, default=d.max_len)
    add("--next-item-cuts", type=cli_types.positive_int, default=d.next_item_cuts,
        help="(prefix, next item) training pairs per labelled user")
    add("--next-item-end", choices=sorted(downstream.NEXT_ITEM_ENDS), default=d.next_item_end,
        help="where training and validation users' next-item examples end: last item "
        "(default: validation users scored like test users) or second-to-last item (the "
        "validation target; the earlier default)")
    add("--split-seed", type=cli_types.non_negative_int, default=d.split_seed,
        help="seed of the training/validation/test user split (fixed across seeds)")
    add("--pretrain-augment", type=_augment_spec, default=d.augment)
    add("--pretrain-batch-size", type=cli_types.positive_int, default=d.batch_size)
    add("--pretrain-lambd", type=cli_types.non_negative_float, default=d.lambd)
    add("--lambda-on", choices=("off_diagonal", "on_diagonal"), default=d.lambda_on)
    add("--pretrain-epochs", type=cli_types.positive_int, default=d.pretrain_epochs)
    add("--dual-epochs", type=cli_types.positive_int, default=d.dual_epochs)
    add("--dual-learning-rate", type=cli_types.positive_float, default=d.dual_learning_rate)
    add("--augment", type=_augment_spec, action="append", default=[],
        help="ablation: one pretraining augmentation spec per flag, e.g. segment_mask:0.4")
    add("--batch-sizes", type=_list(cli_types.positive_int), default=(),
        help="ablation: pretraining batch sizes")
    add("--lambd", type=_list(cli_types.non_negative_float), default=(),
        help="ablation: Barlow Twins lambda values")
    add("--ablation-modes", type=_list(str, MODES), default=d.ablation_modes)
    add("--ablation-fractions", type=_list(cli_types.share), default=None,
        help="label fractions of the ablation sections (default: --fractions)")
    add("--ablation-tasks", type=_list(str), default=None,
        help="tasks of the ablation sections (default: --tasks)")
    add("--head-lrs", type=_list(cli_types.positive_float), default=f.head_learning_rates,
        help="head learning rates tried on validation users")
    add("--head-epochs", type=cli_types.positive_int, default=f.head_epochs)
    add("--encoder-epochs", type=cli_types.positive_int, default=f.encoder_epochs)
    add("--patience", type=cli_types.positive_int, default=f.patience)
    add("--hidden-units", type=cli_types.non_negative_int, default=f.hidden_units,
        help="0 = a linear head")
    add("--head-l2s", type=_list(float), default=f.head_l2s,
        help="L2 penalties of the head tried on validation users, strongest first")
    add("--selection-se", type=cli_types.non_negative_float, default=f.selection_se,
        help="keep the simplest candidate (the untrained start, then the strongest L2) within "
             "this many (paired) standard errors of the best validation score (one-standard-error "
             "rule); 0 keeps the best")
    add("--probe", choices=downstream.PROBES, default=f.probe,
        help="frozen heads: adam (learning-rate grid, early stopping) or lbfgs (the standard "
             "linear probe: L-BFGS logistic regression to convergence)")
    add("--next-item-head", type=_list(str, downstream.NEXT_ITEM_HEADS),
        default=d.next_item_heads,
        help="next-item heads, each its own column: dense (one output per item) and/or "
             "item-embeddings (scored against the representation's item embeddings)")


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    fit = dataclasses.replace(
        downstream.FitConfig(), head_learning_rates=args.head_lrs, head_epochs=args.head_epochs,
        encoder_epochs=args.encoder_epochs, patience=args.patience,
        hidden_units=args.hidden_units, head_l2s=args.head_l2s, probe=args.probe,
        selection_se=args.selection_se)
    return ExperimentConfig(
        data=args.data, output=args.output, seeds=args.seeds, fractions=args.fractions,
        modes=args.modes, tasks=args.tasks, max_len=args.max_len,
        next_item_cuts=args.next_item_cuts, next_item_end=args.next_item_end,
        split_seed=args.split_seed,
        encoder_run=args.encoder_run, augment=args.pretrain_augment,
        batch_size=args.pretrain_batch_size, lambd=args.pretrain_lambd,
        lambda_on=args.lambda_on, pretrain_epochs=args.pretrain_epochs,
        dual_epochs=args.dual_epochs, dual_learning_rate=args.dual_learning_rate,
        augment_ablation=tuple(args.augment), batch_size_ablation=args.batch_sizes,
        lambd_ablation=args.lambd, ablation_modes=args.ablation_modes,
        ablation_fractions=args.ablation_fractions, ablation_tasks=args.ablation_tasks,
        next_item_heads=args.next_item_head, fit=fit)


def run(args: argparse.Namespace) -> int:
    from tfbt.experiments.liu2025.experiment import run_experiment  # imports TensorFlow

    try:
        run_experiment(config_from_args(args), log=lambda m: print(m, flush=True))
    except (ValueError, FileNotFoundError) as err:
        print(f"tfbt experiment liu2025: error: {err}", file=sys.stderr)
        return 2
    print(f"results in {Path(args.output) / 'results.md'}")
    return 0
