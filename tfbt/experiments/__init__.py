"""Experiments that reproduce published tables and plots (``tfbt experiment NAME``).

Each experiment module provides ``add_arguments(parser)`` and ``run(args) -> int``; this package
exposes them as sub-commands of one ``experiment`` command (``tfbt.cli`` imports this package
only when ``experiment`` is the command that runs).

* ``liu2025``: Barlow Twins user-sequence pretraining vs the dual encoder across label
  fractions and transfer modes (Liu et al. 2025).
"""

from __future__ import annotations

import argparse
import importlib

EXPERIMENTS = {
    "liu2025": ("tfbt.experiments.liu2025",
                "Liu et al. 2025: BT pretraining vs the dual encoder across label fractions"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds one sub-command per experiment, with that experiment's own arguments."""
    subparsers = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    for name, (module_name, help_text) in EXPERIMENTS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(experiment_run=module.run)


def run(args: argparse.Namespace) -> int:
    """Runs the chosen experiment; returns its exit code."""
    return args.experiment_run(args)
