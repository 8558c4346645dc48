"""What every benchmark does with its report: print it as JSON and, with ``--out``, write it
atomically (a temporary file, then rename), so an interrupted run never leaves half a file.

The report records ``TF_ENABLE_ONEDNN_OPTS`` as the process saw it: with TensorFlow's oneDNN
kernels off, the same benchmark on the same CPU is up to 2x slower (README "Benchmarks")."""

from __future__ import annotations

import json
import os
from pathlib import Path


def print_and_save(report: dict, out: Path | None) -> None:
    """Prints ``report`` as indented JSON; also writes it to ``out`` when given."""
    report = {**report, "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = out.with_suffix(".tmp")
        temporary.write_text(text + "\n")
        temporary.replace(out)
