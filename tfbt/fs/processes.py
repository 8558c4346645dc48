"""Whether a process still runs: what tells a killed writer's leftovers from a live one's."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """True when process ``pid`` exists (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
