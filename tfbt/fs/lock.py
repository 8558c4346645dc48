"""One writer per folder: an exclusive ``fcntl.flock`` on a lock file for the life of a command.

The kernel drops a ``flock`` when its process dies, however it dies, so a killed writer's lock
is free at once; the file it leaves behind holds its pid and command and is taken over by the
next writer. A live holder is named in the error a second writer gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".tfbt-lock"


class FolderBusyError(RuntimeError):
    """Another live process is writing the same folder."""


def _holder(fd: int) -> str:
    """``process PID (`COMMAND`, since TIME)`` from a lock file's content, as far as it says."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("time", 0)))
    command = str(info.get("command", ""))[:120]
    return f"process {info['pid']} (`{command}`, since {since})"


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Holds an exclusive lock on the file ``path`` (created if needed; removed on release).

    ``what`` names the locked thing in the error (``FolderBusyError``) raised at once when a
    live process holds the lock. A lock file whose holder died is simply taken over.
    """
    path = Path(path)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderBusyError(f"{what} is being written by {holder}; wait for it to "
                                  f"finish or stop it") from None
        try:  # the holder before us may have removed the file between our open and lock
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "time": time.time(),
                                  "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)  # releases the lock
