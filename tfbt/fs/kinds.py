"""What made a folder: each command refuses another command's work.

A run folder records the command that made it in ``MARKER`` (``{"command": "train"}``); a
dataset is known by its ``metadata.json`` (``tfbt build``), an export by its ``saved_model.pb``
(``tfbt export``, also one or two levels down: ``NAME/VERSION/``). Run folders of a tfbt that
wrote no marker are recognised by their files. ``claim`` refuses a folder made by another
command whatever ``--overwrite`` says: ``--overwrite`` replaces only what the command itself
writes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MARKER = ".tfbt-kind"
# command -> what its folder is, in words.
KINDS = {
    "build": "a dataset",
    "export": "an exported SavedModel",
    "pretrain": "a Barlow Twins pretraining run",
    "train": "a next-item training run",
    "train-dual-encoder": "a dual-encoder run",
    "sweep-alpha": "an alpha sweep",
    "experiment liu2025": "a liu2025 experiment",
    "frontier": "an accuracy/diversity frontier",
}
# Files that tell an unmarked run folder's command (first match wins).
_RUN_FILES = (("encoder.keras", "pretrain"), ("model.keras", "train"),
              ("sweep.json", "sweep-alpha"), ("results.md", "experiment liu2025"),
              ("dual_encoder/weights.index", "train-dual-encoder"),
              ("frontier.json", "frontier"))
# config.json keys that only one command's config has.
_CONFIG_KEYS = (("augment", "pretrain"), ("pairing", "train-dual-encoder"),
                ("fractions", "experiment liu2025"), ("loss", "train"))


# Entries named first when a folder is described: the ones that show what it is.
_TELLING = ("metadata.json", "saved_model.pb", "encoder.keras", "model.keras", "dual_encoder",
            "sweep.json", "results.md", "results.json", "config.json", "backup")


class FolderKindError(ValueError):
    """The folder holds another command's work (or a dataset, or an export)."""


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _is_export(folder: Path) -> bool:
    return any((folder / "saved_model.pb").is_file() or any(folder.glob(pattern))
               for pattern in ("*/saved_model.pb", "*/*/saved_model.pb"))


def made_by(folder: str | os.PathLike) -> str | None:
    """The command that made ``folder`` (a key of ``KINDS``), or None: no such folder, or
    nothing tfbt wrote in it."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    marker = _read_json(folder / MARKER).get("command")
    if marker in KINDS:
        return marker
    if (folder / "metadata.json").is_file():
        return "build"
    if _is_export(folder):
        return "export"
    if "cells" in _read_json(folder / "results.json"):
        return "experiment liu2025"
    for name, command in _RUN_FILES:
        if (folder / name).exists():
            return command
    config = _read_json(folder / "config.json")
    return next((command for key, command in _CONFIG_KEYS if key in config), None)


def describe(folder: str | os.PathLike, command: str) -> str:
    """``KINDS[command]`` with a few of the entries in ``folder`` that show it."""
    names = sorted((name for name in os.listdir(folder) if not name.startswith(".tfbt")),
                   key=lambda name: (name not in _TELLING, _TELLING.index(name)
                                     if name in _TELLING else 0, name))
    shown = ", ".join(names[:4]) + (f", ... ({len(names)} entries)" if len(names) > 4 else "")
    return f"{KINDS[command]} ({shown})" if shown else KINDS[command]


def claim(folder: str | os.PathLike, command: str, *, flag: str = "--output") -> None:
    """Raises ``FolderKindError`` when ``folder`` holds the work of a command other than
    ``command`` (a dataset and an export count as ``build``'s and ``export``'s)."""
    other = made_by(folder)
    if other is None or other == command:
        return
    raise FolderKindError(
        f"{folder} holds {describe(folder, other)}, made by `tfbt {other}`; `tfbt {command}` "
        f"does not write into it (--overwrite replaces only what `tfbt {command}` wrote): "
        f"choose another {flag}")


def mark(folder: str | os.PathLike, command: str) -> None:
    """Records in ``folder`` that ``command`` made it."""
    path = Path(folder) / MARKER
    path.write_text(json.dumps({"command": command}) + "\n", encoding="utf-8")
