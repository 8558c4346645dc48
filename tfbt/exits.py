"""How a ``tfbt`` command ends: ordinary conditions as one line and a conventional exit code.

* Ctrl-C (SIGINT) -> 130 and SIGTERM -> 143 (128 + the signal), after the command's own
  cleanup: SIGTERM is raised as ``Terminated``, a ``KeyboardInterrupt``, so a run folder keeps
  exactly what an interrupted run keeps (its ``backup/``, from which the same command resumes).
* An OS error (read-only, not a folder, no space, permission; also TensorFlow's file errors that
  carry one) -> ``tfbt CMD: error: PATH: REASON``, exit 1.
* A folder made by another command, or being written by another process -> exit 2.

``exit_process`` ends the process without running the C++ destructors of TensorFlow's thread
pools: their threads, still running at interpreter exit, could abort it with ``terminate called
without an active exception`` (exit 134) after the command had already answered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys

from tfbt.fs.kinds import FolderKindError
from tfbt.fs.lock import FolderBusyError

INTERRUPTED = 128 + signal.SIGINT   # 130
TERMINATED = 128 + signal.SIGTERM   # 143
OS_ERROR = 1
REFUSED = 2
# Commands whose interrupted work the same command resumes.
RESUMABLE = frozenset({"pretrain", "train", "sweep-alpha", "experiment"})
# Reasons in TensorFlow's error messages that are the operating system's, not a bug.
_OS_REASONS = ("No space left on device", "Read-only file system", "Permission denied",
               "Not a directory", "Disk quota exceeded", "Is a directory")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the same cleanup runs."""


def _terminate(signum, frame):
    raise Terminated


def os_error_message(err: BaseException) -> str | None:
    """``PATH: REASON`` for an ``OSError`` or a TensorFlow error caused by one; else None."""
    if isinstance(err, OSError):
        if err.strerror and err.filename is not None:
            return f"{err.filename}: {err.strerror}"
        return str(err).splitlines()[0][:300] if str(err) else type(err).__name__
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(err, tf.errors.OpError):
        reason = next((r for r in _OS_REASONS if r in err.message), None)
        if reason:
            return err.message.strip().splitlines()[0][:300]
    return None


def run_command(name: str, run, args) -> int:
    """``run(args)``, its exit code, with the endings above."""
    handler = None
    with contextlib.suppress(ValueError):  # not the main thread: leave SIGTERM alone
        handler = signal.signal(signal.SIGTERM, _terminate)
    try:
        return run(args)
    except KeyboardInterrupt as err:
        how = "stopped by SIGTERM" if isinstance(err, Terminated) else "interrupted"
        resume = "; run the same command again to resume" if name in RESUMABLE else ""
        print(f"\ntfbt {name}: {how}{resume}", file=sys.stderr)
        return TERMINATED if isinstance(err, Terminated) else INTERRUPTED
    except (FolderKindError, FolderBusyError) as err:
        print(f"tfbt {name}: error: {err}", file=sys.stderr)
        return REFUSED
    except Exception as err:
        message = os_error_message(err)
        if message is None:
            raise
        print(f"tfbt {name}: error: {message}", file=sys.stderr)
        return OS_ERROR
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


def exit_process(code: int) -> None:
    """Flushes what the command wrote (standard streams, logging handlers), then ends the
    process at once with ``code``."""
    for handler in logging.getLogger().handlers + logging.getLogger("tfbt").handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
