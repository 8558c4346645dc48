"""Hidden staging folders ``PREFIX.tmp-PID-HEX``: written, then renamed into place.

A writer that is killed leaves its staging folder behind; the pid in the name tells the next
writer (``remove_stale``) whether its owner is gone, so that it is deleted without touching a
live writer's. ``PREFIX.old-PID-HEX`` holds a version being replaced, for the instant between
two renames.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from pathlib import Path

from tfbt.fs.processes import process_alive

_STAGING = re.compile(r"(?P<prefix>.+)\.(?P<kind>tmp|old)-(?P<pid>[0-9]+)-[0-9a-f]+")
# What `tfbt export` staged in before its names carried a pid: `.VERSION.RANDOM.tmp`.
_LEGACY = re.compile(r"\.[0-9]+\.[A-Za-z0-9_]+\.tmp")


def make(parent: Path, prefix: str) -> Path:
    """Creates the empty folder ``parent/PREFIX.tmp-PID-HEX`` (readable by all, as a model
    served by another user must be) and returns it."""
    folder = parent / f"{prefix}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o755)
    return folder


def old_name(folder: Path) -> Path:
    """The ``.old-`` sibling name of a staging folder."""
    return folder.with_name(folder.name.replace(".tmp-", ".old-", 1))


def remove_stale(parent: Path, *, legacy: bool = True) -> list[Path]:
    """Deletes the staging folders in ``parent`` whose writer is gone and says so on stderr.

    An ``.old-`` folder is deleted only when the version it held is back in place (its
    ``PREFIX`` without the leading dot exists); otherwise it is reported, never deleted: it is
    that version. ``legacy`` also deletes the pid-less staging folders of older tfbt exports
    (call it only while holding the folder's lock: no live writer can own them).
    """
    removed = []
    for entry in sorted(parent.iterdir()) if parent.is_dir() else ():
        match = _STAGING.fullmatch(entry.name)
        if not entry.is_dir() or not (match or (legacy and _LEGACY.fullmatch(entry.name))):
            continue
        if match and process_alive(int(match["pid"])):
            continue
        if match and match["kind"] == "old" and not (parent / match["prefix"].lstrip(".")).exists():
            print(f"{entry} holds {parent / match['prefix'].lstrip('.')}, which a killed writer "
                  f"was replacing: rename it back", file=sys.stderr)
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
        print(f"removed {entry}, left by a writer that did not finish", file=sys.stderr)
    return removed
