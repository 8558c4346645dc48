"""The command ``tfbt export``: its arguments and a printed summary of the export.

The export itself is ``tfbt.serving.export``, imported when the command runs (it needs
TensorFlow), so that ``tfbt export --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from tfbt import cli_types
from tfbt.serving.format import DEFAULT_ROOT, KINDS


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    # dest: `tfbt.cli` keeps the subcommand's function in args.run.
    parser.add_argument("--run", dest="run_dir", required=True, metavar="RUN_DIR",
                        help="run folder of `tfbt train` (model.keras), `tfbt pretrain` "
                             "(encoder.keras) or `tfbt train-dual-encoder` (dual_encoder/)")
    parser.add_argument(
        "--kind", choices=KINDS, required=True,
        help="encoder: raw item ids -> user embedding (a pretrain or train run). recommender: "
             "raw item ids -> top-K unseen raw item ids and scores, from a `tfbt train` run "
             "(SASRec / BT-SR) or a `tfbt train-dual-encoder` run; a BT encoder (pretrain) run "
             "has no item scorer")
    parser.add_argument("--name", required=True, help="model name (the folder under --root)")
    parser.add_argument("--version", type=cli_types.positive_int, default=None,
                        help="version folder (default: one above the highest existing)")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="export root (default: %(default)s)")
    parser.add_argument("--k", "-k", type=cli_types.positive_int, default=10,
                        help="recommender: number of recommendations of serving_default (the "
                             "recommend_k signature takes k as an input; default: %(default)s)")
    parser.add_argument("--data", default=None,
                        help="dataset the run was trained on (default: the run's config.json)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing version folder")


def run_export(args: argparse.Namespace) -> int:
    from tfbt.serving.check import ExportVerificationError  # imports TensorFlow
    from tfbt.serving.export import export_encoder, export_recommender

    export = export_encoder if args.kind == "encoder" else export_recommender
    extra = {} if args.kind == "encoder" else {"k": args.k}
    try:
        result = export(args.run_dir, args.name, root=args.root, version=args.version,
                        overwrite=args.overwrite, data_dir=args.data, **extra)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"tfbt export: error: {err}", file=sys.stderr)
        return 2
    except ExportVerificationError as err:
        print(f"tfbt export: error: the export failed its check in a fresh process and was "
              f"not written: {err}", file=sys.stderr)
        return 1
    print(f"exported {args.kind} {args.run_dir} to {result.path} (checked in a fresh process)")
    for name, signature in result.verification["signatures"].items():
        inputs = ", ".join(f"{k}: {t} {s}" for k, (t, s) in signature["inputs"].items())
        outputs = ", ".join(f"{k}: {t} {s}" for k, (t, s) in signature["outputs"].items())
        print(f"  {name}({inputs}) -> {outputs}")
    return 0
