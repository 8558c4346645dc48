"""Loading TensorFlow for the command line without its start-up noise.

While TensorFlow's shared libraries load, before its logging reads ``TF_CPP_MIN_LOG_LEVEL``,
they print "All log messages before absl::InitializeLog() ...", "Could not find cuda drivers"
(twice, one per library) and the CPU-feature notice straight to file descriptor 2. ``tfbt``
(``tfbt.cli``) imports TensorFlow through ``import_tensorflow`` so that these lines are dropped
and anything else written meanwhile (a real error) is passed on. A user who set
``TF_CPP_MIN_LOG_LEVEL`` sees everything.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import tempfile

import tfbt

STARTUP_NOISE = re.compile(
    r"absl::InitializeLog\(\)|cudart_stub\.cc|cuda_platform\.cc|cpu_feature_guard\.cc"
    r"|^To enable the following instructions|oneDNN custom operations")


@contextlib.contextmanager
def start_up_lines_dropped():
    """Captures file descriptor 2 and writes back every line but ``STARTUP_NOISE``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not STARTUP_NOISE.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_tensorflow() -> None:
    """Imports TensorFlow (once), quietly unless the user chose a TF log level."""
    if "tensorflow" in sys.modules or tfbt.USER_SET_TF_LOG_LEVEL:
        return
    with start_up_lines_dropped():
        importlib.import_module("tensorflow")
