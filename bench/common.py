"""What every benchmark shares, so that each script is only its measurement.

* datasets: the generated and built data the scripts time (``dataset``, ``synthetic_dataset``,
  ``interaction_log``), cached under ``--work`` so a rerun does not regenerate them;
* the machine a report was taken on (``machine``): timings compare only within one machine;
* timing (``best_of``, ``timings``, ``timed``, ``peak_rss_gib``);
* the report (``write_report``): printed as JSON and, with ``--out``, written atomically (a
  temporary file, then rename), so an interrupted run never leaves half a file.

Run the scripts from a checkout with the package importable (``pip install -e .`` or
``PYTHONPATH=.``); to time another version (a "before" column), put its source first on the
path: ``PYTHONPATH=/tmp/before python bench/SCRIPT.py ...``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from pathlib import Path

import tfbt  # noqa: F401  (first: its environment defaults must precede TensorFlow)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_BEAUTY = SHARED_DATA / "beauty" / "Beauty.txt"
DEFAULT_WORK = Path("/tmp/tfbt-bench")
DATASETS = ("ml1m", "beauty", "ml20m", "million")


# --- datasets ------------------------------------------------------------------------------

def synthetic_dataset(work: Path, users: int, items: int, mean_length: int) -> Path:
    """A ``tfbt.data.synthetic`` dataset (seed 0) of that shape, generated once under ``work``."""
    from tfbt.data.synthetic import SyntheticConfig, write_synthetic

    path = Path(work) / f"synthetic-{users}-{items}-{mean_length}"
    if not (path / "metadata.json").is_file():
        write_synthetic(path, SyntheticConfig(num_users=users, num_items=items,
                                              mean_length=mean_length, seed=0), progress=True)
    return path


def build_beauty(source: Path, out_dir: Path):
    """Amazon Beauty (``Beauty.txt``, one ``user item item ...`` line per user) -> a dataset."""
    from tfrecords_builder import build, readers

    return build.build(readers.read_source("sequence-text", source), out_dir, progress=False)


def named_dataset(name: str, work: Path = DEFAULT_WORK,
                  beauty: Path = DEFAULT_BEAUTY) -> Path:
    """The dataset folder for ``name``, generated or built under ``work`` on first use.

    * ``ml1m``: synthetic with MovieLens-1M's shape (6,040 users, 3,416 items, mean length 165);
    * ``beauty``: Amazon Beauty 5-core (22,363 users x 12,101 items) built from ``beauty``;
    * ``ml20m``: the synthetic ``ml-20m`` preset (138,493 users, 26,744 items, ~20M interactions);
    * ``million``: 200,000 users, 1,100,000 items, mean length 30, within-genre popularity
      exponent 0.2, so that about 1.08M items are drawn at least once (with the default
      exponent 1.1, 100,000 users x 20 built only 190,780 items).
    """
    work = Path(work)
    if name == "ml1m":
        return synthetic_dataset(work, 6_040, 3_416, 165)
    if name == "beauty":
        folder = work / "beauty"
        if not (folder / "metadata.json").is_file():
            if not Path(beauty).is_file():
                raise SystemExit(f"{Path(sys.argv[0]).name}: {beauty} not found; pass --beauty")
            build_beauty(Path(beauty), folder)
        return folder
    if name not in DATASETS:
        raise ValueError(f"named_dataset: unknown {name!r}; expected one of "
                         f"{', '.join(DATASETS)}")
    from tfbt.data.synthetic import SyntheticConfig, preset, write_synthetic

    folder = work / ("scale-ml20m" if name == "ml20m" else "scale-million-items")
    if not (folder / "metadata.json").is_file():
        config = (preset("ml-20m", seed=0) if name == "ml20m" else SyntheticConfig(
            num_users=200_000, num_items=1_100_000, num_genres=20, mean_length=30, zipf=0.2,
            seed=0))
        write_synthetic(folder, config, progress=False)
    return folder


ML20M_TIME_SPAN = (789_652_009, 1_427_784_002)  # first and last ratings.csv timestamps
MIN_PER_USER = 20


def interaction_log(num_users: int, num_items: int, num_interactions: int, shuffle: bool,
                    seed: int = 0):
    """A raw MovieLens-20M-shaped log (a DataFrame: user, item, timestamp, rating), for builders.

    Rows grouped by user as in ratings.csv (``shuffle`` for random order), every user with >= 20
    ratings and a heavy-tailed activity, Zipf-like item popularity (p ~ 1 / rank^0.9), random
    timestamps over ML-20M's time span and ratings 0.5..5.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    if num_interactions < MIN_PER_USER * num_users:
        raise SystemExit(f"--interactions must be >= {MIN_PER_USER} x --users")
    activity = rng.pareto(1.5, num_users) + 1e-9
    extra = rng.multinomial(num_interactions - MIN_PER_USER * num_users, activity / activity.sum())
    users = np.repeat(np.arange(1, num_users + 1), MIN_PER_USER + extra)
    popularity = 1.0 / np.arange(1, num_items + 1) ** 0.9
    item_ids = rng.permutation(num_items) + 1
    items = item_ids[np.searchsorted(np.cumsum(popularity / popularity.sum()),
                                     rng.random(num_interactions), side="right").clip(
                                         max=num_items - 1)]
    frame = pd.DataFrame({
        "user": users.astype(np.int64),
        "item": items.astype(np.int64),
        "timestamp": rng.integers(*ML20M_TIME_SPAN, size=num_interactions, dtype=np.int64),
        "rating": rng.integers(1, 11, size=num_interactions) / 2.0,
    })
    if shuffle:
        frame = frame.iloc[rng.permutation(num_interactions)].reset_index(drop=True)
    return frame


# --- the machine ---------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where a report was taken: CPU, cores, TensorFlow and its oneDNN setting, GPUs, load.

    ``TF_ENABLE_ONEDNN_OPTS`` is recorded as the process saw it: with TensorFlow's oneDNN
    kernels off, the same benchmark on the same CPU ran up to 2x slower (docs/benchmarks.md).
    """
    import tensorflow as tf

    gpus = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
            for gpu in tf.config.list_physical_devices("GPU")]
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "gpus": gpus, "load_average": round(os.getloadavg()[0], 2),
            "tfbt": str(Path(tfbt.__file__).resolve().parent)}


# --- timing --------------------------------------------------------------------------------

def timed(function) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, all threads) of one call of ``function()``.

    On a shared machine contention inflates the CPU seconds far less than the wall time.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - start, time.process_time() - cpu_start


def timings(repeats: int, function) -> list[float]:
    """Wall seconds of each of ``repeats`` calls of ``function()``."""
    return [timed(function)[0] for _ in range(repeats)]


def best_of(repeats: int, function) -> float:
    """The fastest of ``repeats`` calls: the least disturbed by other work on the machine."""
    return min(timings(repeats, function))


def median(values) -> float:
    return statistics.median(values)


def peak_rss_gib() -> float:
    """Peak resident memory of this process (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


# --- the report ----------------------------------------------------------------------------

def write_report(report: dict, out: Path | str | None) -> dict:
    """Adds the command and ``machine()`` to ``report``, prints it as indented JSON and, when
    ``out`` is given, writes it there atomically. Returns the report as written."""
    report = {**report, "command": shlex.join(["python", *sys.argv]), "machine": machine()}
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = out.with_name(out.name + ".tmp")
        temporary.write_text(text + "\n")
        temporary.replace(out)
    return report
