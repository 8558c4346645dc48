"""The top TensorFlow ops of a few steps, from ``tf.profiler`` traces (no TensorBoard needed).

``top_ops(run, logdir)`` profiles ``run()`` with ``tf.profiler.experimental`` and reads the
XPlane trace it writes: on the host plane's ``tf_Compute`` threads every executed op is an
event named ``"<node name>:<op type>"``; durations are summed per op type. Ops on the two
compute threads overlap in time, so a share is of the summed op time, not of wall time.
"""

from __future__ import annotations

import collections
from pathlib import Path

import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2


def top_ops(run, logdir: str | Path, top: int = 15) -> list[dict]:
    """Runs ``run()`` under the profiler; returns the ``top`` op types by summed time.

    Each entry: ``{"op": type, "ms": summed milliseconds, "share": of all op time,
    "count": executions}``.
    """
    logdir = Path(logdir)
    tf.profiler.experimental.start(str(logdir))
    try:
        run()
    finally:
        tf.profiler.experimental.stop()
    traces = sorted(logdir.glob("**/*.xplane.pb"), key=lambda p: p.stat().st_mtime)
    if not traces:
        raise FileNotFoundError(f"op_profile: the profiler wrote no *.xplane.pb under {logdir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(traces[-1].read_bytes())
    picoseconds, counts = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {key: value.name for key, value in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" in name and "::" not in name:
                    op = name.rsplit(":", 1)[1]
                    picoseconds[op] += event.duration_ps
                    counts[op] += 1
    total = sum(picoseconds.values()) or 1
    return [{"op": op, "ms": round(ps / 1e9, 1), "share": round(ps / total, 3),
             "count": counts[op]} for op, ps in picoseconds.most_common(top)]
