"""Where and how a run executes: seeding and distribution strategies.

TensorFlow is imported by the functions, so that ``STRATEGIES`` serves ``--help`` at once.

``multi-worker`` (``tf.distribute.MultiWorkerMirroredStrategy``) has two constraints that the
other strategies lack, both handled here: TensorFlow accepts its collective ops only before it
has run any op (so ``tfbt`` creates the strategy first thing, ``start_strategy``, and
``make_strategy`` then returns that one), and a cluster described wrongly (``TF_CONFIG``) or
missing a peer would otherwise fail with a traceback or wait for an hour: ``TF_CONFIG`` is
checked before TensorFlow sees it, and the workers must all have registered within
``CLUSTER_TIMEOUT_S`` seconds (a peer that stops sending heartbeats for ``HEARTBEAT_TIMEOUT_S``
stops the others).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

from tfbt.determinism import set_seed  # noqa: F401  (the run commands seed with it)

STRATEGIES = ("default", "mirrored", "multi-worker")
# Seconds the workers wait for each other at start-up, and without a peer's heartbeat while
# training (the environment variables TFBT_CLUSTER_TIMEOUT, TFBT_HEARTBEAT_TIMEOUT override).
CLUSTER_TIMEOUT_S = 120
HEARTBEAT_TIMEOUT_S = 30

_multi_worker = None  # the process's one MultiWorkerMirroredStrategy, once created
# What a multi-worker command prints on workers other than the chief.
DONE_ELSEWHERE = "this worker is done; the chief (worker 0) wrote the run folder"


class ClusterError(ValueError):
    """``TF_CONFIG`` is missing or malformed, or the cluster could not be formed in time."""


class WorkerLost(KeyboardInterrupt):
    """A peer of a multi-worker run stopped answering during training.

    An interruption, not a failure: like Ctrl-C it leaves the run folder's ``backup/`` in
    place (``tfbt.runs.layout.run_folder``), so starting every worker again with the same
    command resumes from the last finished epoch.
    """


@dataclasses.dataclass(frozen=True)
class Cluster:
    """This process's place in a ``TF_CONFIG`` cluster: ``workers`` (``host:port`` each, the
    chief first when there is a ``chief`` job) and this task's ``index`` among them."""

    workers: tuple[str, ...]
    index: int

    @property
    def is_chief(self) -> bool:
        return self.index == 0


def read_cluster(text: str | None = None) -> Cluster:
    """Parses and checks ``TF_CONFIG`` (``text``, default the environment variable).

    Expected: ``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker",
    "index": i}}`` (a ``chief`` job of one task may come first). Raises ``ClusterError`` with
    one line that says what is wrong.
    """
    text = os.environ.get("TF_CONFIG") if text is None else text
    if not text:
        raise ClusterError("--strategy multi-worker needs the TF_CONFIG environment variable, "
                           "e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", "
                           "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}'")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ClusterError(f"TF_CONFIG is not valid JSON ({err})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ClusterError("TF_CONFIG needs a \"cluster\" object and a \"task\" object")
    unknown = sorted(set(cluster) - {"chief", "worker"})
    if unknown:
        raise ClusterError(f"TF_CONFIG: jobs {unknown} are not used by MultiWorkerMirrored"
                           f"Strategy; give \"worker\" (and at most one \"chief\")")
    jobs = {}
    for job in ("chief", "worker"):
        addresses = cluster.get(job, [])
        if not isinstance(addresses, list) or not all(
                isinstance(a, str) and _is_address(a) for a in addresses):
            raise ClusterError(f"TF_CONFIG: cluster.{job} must be a list of \"host:port\" "
                               f"strings; got {json.dumps(addresses)}")
        jobs[job] = addresses
    if len(jobs["chief"]) > 1:
        raise ClusterError(f"TF_CONFIG: at most one chief; got {len(jobs['chief'])}")
    workers = (*jobs["chief"], *jobs["worker"])
    if not workers:
        raise ClusterError("TF_CONFIG: cluster.worker lists no workers")
    if len(set(workers)) < len(workers):
        raise ClusterError(f"TF_CONFIG: an address appears twice in the cluster: {workers}")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in jobs or not jobs[kind]:
        raise ClusterError(f"TF_CONFIG: task.type must be one of the cluster's jobs "
                           f"{[j for j in jobs if jobs[j]]}; got {kind!r}")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(jobs[kind]):
        raise ClusterError(f"TF_CONFIG: task.index must be an integer in 0..{len(jobs[kind]) - 1}"
                           f" for job {kind!r}; got {index!r}")
    return Cluster(workers, index + (len(jobs["chief"]) if kind == "worker" else 0))


def _is_address(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def start_strategy(name: str):
    """Creates the strategy ``name`` now, before TensorFlow runs its first op (what
    ``multi-worker`` requires); later ``make_strategy(name)`` calls return it."""
    return make_strategy(name)


def make_strategy(name: str = "default"):
    """``default`` (one device), ``mirrored`` (all local GPUs) or ``multi-worker``.

    ``multi-worker`` reads the cluster from the ``TF_CONFIG`` environment variable, e.g.
    ``{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker",
    "index": 0}}``, set differently on each host; every host runs the same command. It is
    created once per process, before TensorFlow runs any op (``start_strategy``). Barlow
    Twins statistics are computed over the global batch in every case.

    Returns:
      a ``tf.distribute.Strategy``.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return _multi_worker_strategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")


def _multi_worker_strategy():
    global _multi_worker
    if _multi_worker is not None:
        return _multi_worker
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    import tensorflow as tf

    cluster = read_cluster()
    if context.context()._context_handle is not None:
        raise ClusterError("--strategy multi-worker: TensorFlow already ran operations in this "
                           "process; create the strategy first (tfbt.runs.environment."
                           "start_strategy('multi-worker') before anything else)")
    timeout = _seconds("TFBT_CLUSTER_TIMEOUT", CLUSTER_TIMEOUT_S)
    unreachable = (f"tfbt: error: worker {cluster.index} of {len(cluster.workers)} could not form "
                   f"the cluster {', '.join(cluster.workers)} within {timeout:g} s: start every "
                   f"worker (the same command on each host, its own task index in TF_CONFIG) "
                   f"and check the addresses and ports (TFBT_CLUSTER_TIMEOUT sets the wait)")
    # Configured here rather than by the strategy so that a lost peer is noticed in bounded
    # time (its heartbeats stop).
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=f"/job:{_jobs()[0][0]}/replica:0/task:0",
        cluster_register_timeout_in_ms=int(timeout * 1000),
        heartbeat_timeout_in_ms=int(
            _seconds("TFBT_HEARTBEAT_TIMEOUT", HEARTBEAT_TIMEOUT_S) * 1000),
        shutdown_barrier_timeout_in_ms=int(timeout * 1000),
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name=job, num_tasks=count)
                          for job, count in _jobs()])
    # A missing peer leaves TensorFlow waiting inside C++, holding the GIL, for far longer
    # than the register timeout: no Python thread or signal handler runs meanwhile, so a
    # watchdog process ends this one with one line instead. Nothing has been written yet.
    watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()),
                                 str(timeout), unreachable])
    try:
        _multi_worker = tf.distribute.MultiWorkerMirroredStrategy()
    except (tf.errors.OpError, RuntimeError) as err:
        raise ClusterError(f"{unreachable.removeprefix('tfbt: error: ')} ({first_line(err)})"
                           ) from None
    finally:
        watchdog.kill()
        watchdog.wait()
    return _multi_worker


# argv: pid, seconds, message. Kills pid after the seconds unless killed first (or pid ends).
_WATCHDOG = """
import os, signal, sys, time
pid, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    time.sleep(0.2)
    if os.getppid() != pid:
        sys.exit(0)
sys.stderr.write(sys.argv[3] + "\\n")
sys.stderr.flush()
os.kill(pid, signal.SIGKILL)
"""


def _jobs() -> list[tuple[str, int]]:
    """``[(job, tasks)]`` of ``TF_CONFIG``, the chief's job first (it leads coordination)."""
    cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
    return [(job, len(cluster[job])) for job in ("chief", "worker") if cluster.get(job)]


def _seconds(variable: str, default: float) -> float:
    text = os.environ.get(variable)
    try:
        value = float(text) if text else default
    except ValueError:
        raise ClusterError(f"{variable} must be a number of seconds; got {text!r}") from None
    if value <= 0:
        raise ClusterError(f"{variable} must be positive; got {text!r}")
    return value


def first_line(err: Exception) -> str:
    message = getattr(err, "message", None) or str(err)
    return message.strip().splitlines()[0] if message.strip() else type(err).__name__


def cluster_or_none(strategy) -> Cluster | None:
    """The ``Cluster`` of a multi-worker ``strategy``; ``None`` for a one-process one."""
    if _multi_worker is None or strategy is not _multi_worker:
        return None
    return read_cluster()


def is_chief_process() -> bool:
    """Whether this process writes run folders: no multi-worker strategy, or its chief."""
    return _multi_worker is None or read_cluster().is_chief
