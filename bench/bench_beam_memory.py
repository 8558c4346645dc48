"""Peak memory of the launching process: the local (pandas) builder vs the Beam builder.

An ML-20M-sized table (default 20M rows, 138,493 users, 26,744 items; rows grouped by user,
every user with >= 20 rows, heavy-tailed activity, Zipf-like item popularity, random times and
ratings 0.5..5; seed 0) is written as ``--files`` CSV files, a million rows at a time, then
built twice, each build in its own process that reports its own peak RSS (``ru_maxrss`` of
RUSAGE_SELF, so no child counts) and wall time:

* local: ``readers.read_table`` on each file, the frames concatenated, ``build.build``;
* beam: ``beam_readers.beam_source("table", "<dir>/*.csv")`` and ``run_beam_build`` on the
  PortableRunner, submitted to Beam's Python job service (the runner: it holds the shuffles)
  with SDK workers from a worker pool, both separate processes started here, as a cluster's
  would be. Their peak RSS (sampled with psutil, process trees) is reported apart: it is the
  "cluster", not the launcher.

Both builds use the same options; the two dataset folders are compared byte for byte.

    nice python bench/bench_beam_memory.py                      # 20M rows
    nice python bench/bench_beam_memory.py --rows 2000000 --users 13849 --items 2674

Prints JSON and writes it to ``--out`` (default bench/results/beam_memory.json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from common import peak_rss_gib, write_report

import tfrecords_builder

ML20M_TIME_SPAN = (789_652_009, 1_427_784_002)
MIN_PER_USER = 20
CHUNK_ROWS = 1_000_000
READER_OPTIONS = {"user_col": "userId", "item_col": "movieId", "time_col": "timestamp",
                  "rating_col": "rating"}


def write_log(folder: Path, rows: int, users: int, items: int, files: int, seed: int = 0):
    """Writes the synthetic log as ``files`` CSV files of whole users, ``CHUNK_ROWS`` at a time
    (memory: a chunk plus per-user counts)."""
    rng = np.random.default_rng(seed)
    if rows < MIN_PER_USER * users:
        raise SystemExit(f"--rows must be >= {MIN_PER_USER} x --users")
    activity = rng.pareto(1.5, users) + 1e-9
    counts = MIN_PER_USER + rng.multinomial(rows - MIN_PER_USER * users,
                                            activity / activity.sum())
    popularity = np.cumsum(1.0 / np.arange(1, items + 1) ** 0.9)
    popularity /= popularity[-1]
    item_ids = rng.permutation(items) + 1
    bounds = np.searchsorted(np.cumsum(counts), np.linspace(0, rows, files + 1)[1:-1])
    for index, block in enumerate(np.split(np.arange(users), bounds)):
        with pacsv.CSVWriter(folder / f"ratings-{index:03d}.csv", pa.schema(
                [("userId", pa.int64()), ("movieId", pa.int64()), ("rating", pa.float64()),
                 ("timestamp", pa.int64())])) as writer:
            ends = np.cumsum(counts[block])
            for chunk in np.split(block, np.searchsorted(ends, np.arange(
                    CHUNK_ROWS, ends[-1] if len(ends) else 0, CHUNK_ROWS))):
                n = int(counts[chunk].sum())
                writer.write_table(pa.table({
                    "userId": np.repeat(chunk + 1, counts[chunk]),
                    "movieId": item_ids[np.searchsorted(popularity, rng.random(n)).clip(
                        max=items - 1)],
                    "rating": rng.integers(1, 11, n) / 2.0,
                    "timestamp": rng.integers(*ML20M_TIME_SPAN, size=n)}))


def child(kind: str, data: Path, out: Path, options: dict, pipeline_args: list[str]) -> None:
    """One build in this process; prints its own JSON report."""
    from tfrecords_builder.build import BuildOptions, build

    build_options = BuildOptions(**options)
    start = time.perf_counter()
    if kind == "local":
        import pandas as pd

        from tfrecords_builder.raw import RawDataset
        from tfrecords_builder.readers import read_table

        parts = [read_table(path, **READER_OPTIONS) for path in sorted(data.glob("*.csv"))]
        raw = RawDataset(interactions=pd.concat([p.interactions for p in parts],
                                                ignore_index=True),
                         source_format="table", source_files=[p.source_files[0] for p in parts])
        del parts
        meta = build(raw, out, build_options, progress=False)
    else:
        from tfrecords_builder.beam_pipeline import run_beam_build
        from tfrecords_builder.beam_readers import beam_source

        meta = run_beam_build(beam_source("table", str(data / "*.csv"), **READER_OPTIONS), out,
                              build_options, pipeline_args)
    print(json.dumps({"seconds": round(time.perf_counter() - start, 1),
                      "peak_rss_mib": round(peak_rss_gib() * 1024),
                      "users": meta.num_users, "items": meta.num_items,
                      "interactions": meta.num_interactions, "shards": len(meta.shards)}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


class PeakRss:
    """Samples the summed RSS of some processes and their descendants every 0.5 s; kills them
    past ``limit`` bytes (a shared machine must not run out of memory)."""

    def __init__(self, pids: list[int], limit: int):
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak, self.limit, self.killed = 0, limit, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            total = 0
            for process in self.processes:
                with contextlib.suppress(psutil.Error):
                    for p in [process, *process.children(recursive=True)]:
                        with contextlib.suppress(psutil.Error):
                            total += p.memory_info().rss
            self.peak = max(self.peak, total)
            if total > self.limit and not self.killed:
                self.killed = True
                for process in self.processes:
                    with contextlib.suppress(psutil.Error):
                        process.kill()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak / 2 ** 20)


@contextlib.contextmanager
def beam_services(rss_limit: int):
    """A Python job service and an SDK worker pool on free localhost ports; yields the
    pipeline flags that submit to them and a sampler of their memory."""
    package_root = Path(tfrecords_builder.__file__).resolve().parents[1]  # for the workers
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join([str(package_root), os.environ.get("PYTHONPATH", "")])}
    job_port, pool_port = _free_port(), _free_port()
    with tempfile.TemporaryFile("w+") as log:
        services = [subprocess.Popen(
            [sys.executable, "-m", module, flag], env=env, stdout=log, stderr=log)
            for module, flag in (
                ("apache_beam.runners.portability.local_job_service_main", f"--port={job_port}"),
                ("apache_beam.runners.worker.worker_pool_main", f"--service_port={pool_port}"))]
        try:
            for port in (job_port, pool_port):
                deadline = time.time() + 120
                while socket.socket().connect_ex(("localhost", port)) != 0:
                    if time.time() > deadline:
                        log.seek(0)
                        raise SystemExit(f"Beam services did not start:\n{log.read()}")
                    time.sleep(0.5)
            # job_server_timeout also bounds the launcher's job-state stream: past it, a
            # running job is reported failed (DEADLINE_EXCEEDED)
            yield ([f"--job_endpoint=localhost:{job_port}", "--runner=PortableRunner",
                    "--job_server_timeout=86400",
                    "--environment_type=EXTERNAL", f"--environment_config=localhost:{pool_port}"],
                   PeakRss([s.pid for s in services], rss_limit))
        finally:
            for service in services:
                service.terminate()
            for service in services:
                service.wait(timeout=60)


def run_child(kind: str, data: Path, out: Path, options: dict,
              pipeline_args: list[str] | None = None) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--data", str(data), "--dataset", str(out),
         "--options", json.dumps(options), "--pipeline-args", json.dumps(pipeline_args or [])],
        capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{kind} build failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def same_folders(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=138_493)
    parser.add_argument("--items", type=int, default=26_744)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--min-user-interactions", type=int, default=0)
    parser.add_argument("--min-item-interactions", type=int, default=0)
    parser.add_argument("--services-limit-gib", type=float, default=10.0,
                        help="stop the Beam job service and workers past this much memory")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the log and the datasets (default: a temporary one)")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "beam_memory.json")
    parser.add_argument("--child", choices=("local", "beam"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--options", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline-args", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.dataset, json.loads(args.options),
              json.loads(args.pipeline_args))
        return

    options = {"min_user_interactions": args.min_user_interactions,
               "min_item_interactions": args.min_item_interactions}
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        tmp = Path(tmp)
        data = tmp / "log"
        data.mkdir()
        start = time.perf_counter()
        write_log(data, args.rows, args.users, args.items, args.files)
        report = {"log": {"rows": args.rows, "users": args.users, "items": args.items,
                          "files": args.files, "seed": 0,
                          "csv_mib": round(sum(f.stat().st_size for f in data.iterdir())
                                           / 2 ** 20),
                          "generate_seconds": round(time.perf_counter() - start, 1)},
                  "options": options}
        report["local"] = run_child("local", data, tmp / "local", options)
        print(json.dumps(report), file=sys.stderr, flush=True)
        with beam_services(int(args.services_limit_gib * 2 ** 30)) as (pipeline_args, services):
            try:
                report["beam"] = run_child("beam", data, tmp / "beam", options, pipeline_args)
            finally:
                if services.killed:
                    print(f"the job service and workers passed --services-limit-gib "
                          f"{args.services_limit_gib} and were stopped", file=sys.stderr)
            report["beam"]["job_service_and_workers_peak_rss_mib"] = services.stop()
        report["same_bytes"] = same_folders(tmp / "local", tmp / "beam")
    report["nice"] = os.nice(0)
    write_report(report, args.out)


if __name__ == "__main__":
    main()
