"""Named training presets (``tfbt train --preset btsr-ml1m``): settings shipped as JSON files.

Each file in ``tfbt/runs/presets/`` holds ``name``, ``description``, ``source`` (where every value
comes from: the paper's repository and config file, and what is our own assumption) and
``settings`` (``TrainConfig`` fields). A preset fills the fields its file names; flags given
explicitly on the command line override it, and fields it does not name keep their defaults.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PRESET_DIR = Path(__file__).with_name("presets")
EXPLICIT = "_explicit_flags"  # namespace attribute: the dests set from the command line


def preset_names() -> list[str]:
    """The shipped presets' names."""
    return sorted(path.stem for path in PRESET_DIR.glob("*.json"))


def load_preset(name: str, fields) -> dict:
    """The ``settings`` of a preset (a shipped name or a JSON file path), checked against
    ``fields`` (the ``TrainConfig`` field names)."""
    path = Path(name) if name.endswith(".json") else PRESET_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"--preset {name}: no such preset; shipped: {', '.join(preset_names())}"
                         f" (or give a .json file)")
    try:
        settings = json.loads(path.read_text())["settings"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: expected a JSON object with a \"settings\" object ({err})")
    unknown = sorted(set(settings) - set(fields))
    if unknown or "data" in settings or "output" in settings:
        raise ValueError(f"{path}: settings {unknown or ['data/output']} are not training "
                         f"options (known: {', '.join(sorted(set(fields) - {'data', 'output'}))})")
    return settings


def track_explicit_flags(parser: argparse.ArgumentParser) -> None:
    """Makes every option of ``parser`` record, when it appears on the command line, its dest in
    ``namespace._explicit_flags`` (argparse calls an action only for flags actually given)."""
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        base = type(action)
        if getattr(base, "_records_explicit", False):
            continue

        def record(self, parser, namespace, values, option_string=None, _base=base):
            explicit = set(getattr(namespace, EXPLICIT, set()))
            setattr(namespace, EXPLICIT, explicit | {self.dest})
            _base.__call__(self, parser, namespace, values, option_string)

        action.__class__ = type(base.__name__, (base,), {"__call__": record,
                                                         "_records_explicit": True})


def explicit_flags(args: argparse.Namespace) -> set[str]:
    """The dests given on the command line (all of them when the parser did not track)."""
    return getattr(args, EXPLICIT, set(vars(args)))
