"""The ``tfbt`` command line: one subcommand per stage of the pipeline.

Each subcommand has a command module that provides a function that adds its arguments to a
parser and one that runs it (``run(args) -> int``, the exit code); the work itself is in the
library, which the run function imports. Modules are imported only when their subcommand runs,
and no command module imports TensorFlow, so ``--help`` answers without loading it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import tfbt  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from tfbt import exits, startup

# name -> (module, its add-arguments function, its run function, help).
SUBCOMMANDS = {
    "build": ("tfrecords_builder.cli", "add_build_arguments", "run_build",
              "raw interaction logs -> sharded TFRecords"),
    "download": ("tfrecords_builder.download", "add_download_arguments", "run_download",
                 "download a MovieLens dataset from GroupLens"),
    "pretrain": ("tfbt.runs.commands", "add_pretrain_arguments", "run_pretrain",
                 "Barlow Twins pretraining of a user-sequence encoder (Liu et al. 2025)"),
    "train": ("tfbt.runs.commands", "add_train_arguments", "run_train",
              "next-item training: SASRec baseline or BT-SR (Razvorotnev et al. 2025)"),
    "train-dual-encoder": ("tfbt.runs.train_dual_encoder", "add_arguments", "run",
                           "the TFRS dual-encoder baseline (two towers, in-batch softmax), "
                           "evaluated like `tfbt train`"),
    "sweep-alpha": ("tfbt.runs.commands", "add_sweep_arguments", "run_sweep",
                    "train BT-SR for several alphas; table and plot of accuracy vs coverage"),
    "frontier": ("tfbt.runs.frontier", "add_arguments", "run",
                 "accuracy vs coverage of trained runs per lever (alpha, epoch selection, "
                 "popularity penalty): fronts and operating points chosen on validation"),
    "experiment": ("tfbt.experiments", "add_arguments", "run",
                   "reproduce a paper's experiment (liu2025: frozen vs fine-tuned, scarce labels)"),
    "export": ("tfbt.serving.commands", "add_export_arguments", "run_export",
               "export an encoder or recommender as a SavedModel for TF Serving"),
    "recommend": ("tfbt.serving.client", "add_arguments", "run",
                  "top-K recommendations from an exported recommender SavedModel"),
    "demo": ("tfbt.demo", "add_arguments", "run",
             "the end-to-end demo on the embedded synthetic dataset"),
}
WITHOUT_TENSORFLOW = frozenset({"download"})
# Commands that train under --strategy multi-worker (tfbt.runs.workers); the others refuse it.
MULTI_WORKER = frozenset({"train", "pretrain"})


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfbt", description="Barlow Twins user-sequence representations and sequential "
        "recommendation for TensorFlow/Keras.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, add_arguments, run, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text,
                                    formatter_class=DefaultsHelpFormatter)
        if name == chosen:
            if name not in WITHOUT_TENSORFLOW and not {"-h", "--help"} & set(argv):
                startup.import_tensorflow()  # before the module, which may import it
            module = importlib.import_module(module_name)
            getattr(module, add_arguments)(sub)
            _show_defaults(sub)
            sub.set_defaults(run=getattr(module, run))
    return parser


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Ends an option's help with "(default: X)" unless the help already speaks of its default;
    required options have none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.required or "default" in text.lower():
            return text
        return super()._get_help_string(action)


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Gives every optional option without a help text one, so that its default shows
    (argparse prints nothing, not even the default, for an option with no help)."""
    for action in parser._actions:
        if (action.option_strings and not action.help and not action.required
                and action.default != argparse.SUPPRESS):
            action.help = "default: %(default)s"


def main(argv: list[str] | None = None) -> int:
    """Runs ``tfbt ARGV``; returns the exit code. As the program itself (``argv`` None) it
    ends the process with that code (``tfbt.exits.exit_process``)."""
    as_program = argv is None
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from tfbt.runs import environment

    if getattr(args, "strategy", None) == "multi-worker" and args.command in MULTI_WORKER:
        try:  # before the command runs any TensorFlow op, as the strategy requires
            environment.start_strategy("multi-worker")
        except environment.ClusterError as err:
            print(f"tfbt {args.command}: error: {err}", file=sys.stderr)
            return 2

    def run(args):
        try:
            return args.run(args)
        except environment.WorkerLost as err:
            print(f"tfbt {args.command}: error: {err}", file=sys.stderr)
            return 3

    code = exits.run_command(args.command, run, args)
    if as_program:
        exits.exit_process(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
