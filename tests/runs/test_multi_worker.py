"""Multi-worker training: two worker processes on localhost ports, as a user would launch them.

Run as a script, this file is one process of such a job (``_job``): it takes one SGD step of
SASRec and BT-SR and writes the weights, then runs ``tfbt train`` and ``tfbt pretrain``
(library calls with the config the CLI builds). The tests start two of them with ``TF_CONFIG``
(``--strategy multi-worker``) and one without (the one-process reference), each bounded in
time and killed in ``finally``.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tfbt  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300
# The job's model: small enough for 2 CPU cores, dropout 0 so that one step is deterministic.
MODEL = dict(max_len=10, hidden_dim=16, num_blocks=1, dropout=0.0, batch_size=32)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports, index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def environment(tmp_path: Path, **extra) -> dict:
    """The children's environment: this checkout first, no GPU, temporary files under
    ``tmp_path/tmp`` (so that a worker's leftover folder would be seen)."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "CUDA_VISIBLE_DEVICES": "", "TMPDIR": str(tmp_path / "tmp"),
            "TFBT_CLUSTER_TIMEOUT": "120", **extra}


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], env=env, cwd=log.parent,
                            stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def finish(processes, timeout=TIMEOUT_S) -> list[int]:
    deadline = time.monotonic() + timeout
    return [p.wait(timeout=max(1.0, deadline - time.monotonic())) for p in processes]


def kill(processes) -> None:
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def worker_folders(tmp: Path) -> list[str]:
    """The workers' temporary folders left in ``tmp`` (TensorFlow's autograph files of a
    killed process are not ours)."""
    return [p.name for p in tmp.iterdir() if p.name.startswith("tfbt-worker")]


def file_set(folder: Path) -> set[str]:
    """Entries of a run folder, and of its sub-folders one level down (TensorBoard's event
    file names hold the host and time: only its folders are compared)."""
    names = set()
    for entry in folder.iterdir():
        names.add(entry.name)
        if entry.is_dir():
            names.update(f"{entry.name}/{sub.name}" for sub in entry.iterdir() if sub.is_dir())
    return names


@pytest.mark.slow
def test_ci_end_to_end_multi_worker_matches_one_process(tmp_path, synthetic_data):
    data = synthetic_data(160, 40, 10)
    ports = free_ports(2)
    workers, reference = tmp_path / "workers", tmp_path / "reference"
    workers.mkdir()
    reference.mkdir()
    processes = []
    try:
        for index in (0, 1):
            env = environment(tmp_path, TF_CONFIG=tf_config(ports, index))
            processes.append(start([__file__, str(data), "multi-worker", f"run_w{index}"], env,
                                   workers / f"worker{index}.log"))
        processes.append(start([__file__, str(data), "default", "run"], environment(tmp_path),
                               reference / "reference.log"))
        codes = finish(processes)
    finally:
        kill(processes)
    logs = {p.name: p.read_text()[-3000:] for p in [*workers.glob("*.log"),
                                                    *reference.glob("*.log")]}
    assert codes == [0, 0, 0], logs
    # The chief wrote complete run folders, with the same files as one process writes.
    for kind, finished in (("train", "results.json"), ("pretrain", "encoder.keras")):
        chief, alone = workers / f"run_w0_{kind}", reference / f"run_{kind}"
        assert (chief / finished).is_file()
        assert file_set(chief) == file_set(alone), kind
        # No folder from worker 1: neither its --output nor its temporary folders are left.
        assert not (workers / f"run_w1_{kind}").exists()
    assert worker_folders(tmp_path / "tmp") == []
    results = json.loads((workers / "run_w0_train" / "results.json").read_text())
    assert results["epochs_run"] == 2
    assert [e["epoch"] for e in results["validation_curve"]] == [1, 2]
    # One SGD step on the same global batch: the same weights as one process (the next-item
    # loss is averaged over the global batch's positions, Barlow Twins over its pairs).
    for model in ("sasrec", "btsr"):
        split = json.loads((workers / f"run_w0_{model}_step.json").read_text())
        alone = json.loads((reference / f"run_{model}_step.json").read_text())
        assert split["replicas"] == 2 and alone["replicas"] == 1
        assert split["moved"] > 1e-4  # the step changed the weights: the check has teeth
        np.testing.assert_allclose(split["weights"], alone["weights"], atol=1e-5, rtol=0)


@pytest.mark.slow
def test_multi_worker_run_resumes_after_a_worker_is_killed(tmp_path, synthetic_data):
    data = synthetic_data(160, 40, 10)
    ports = free_ports(2)
    output = tmp_path / "run"
    args = ["-m", "tfbt.cli", "train", "--data", str(data), "--output", str(output),
            "--epochs", "3", "--eval-every", "1", "--patience", "5", "--max-len", "10",
            "--hidden-dim", "16", "--num-blocks", "1", "--batch-size", "32",
            "--strategy", "multi-worker"]
    envs = [environment(tmp_path, TF_CONFIG=tf_config(ports, i), TFBT_HEARTBEAT_TIMEOUT="10")
            for i in (0, 1)]
    processes = []
    try:
        processes = [start(args, envs[i], tmp_path / f"first{i}.log") for i in (0, 1)]
        backup = output / "backup" / "training_metadata.json"
        deadline = time.monotonic() + TIMEOUT_S
        while not backup.is_file() and time.monotonic() < deadline:
            assert all(p.poll() is None for p in processes), (
                tmp_path / "first0.log").read_text()[-3000:]
            time.sleep(0.2)
        assert json.loads(backup.read_text())["epoch"] == 1
        os.killpg(processes[1].pid, signal.SIGKILL)  # worker 1 dies during epoch 2
        # The chief notices (its collectives fail) and ends within bounded time, keeping
        # backup/, with one line that says how to resume.
        assert finish(processes[:1], timeout=120) == [3]
        chief_log = (tmp_path / "first0.log").read_text()
        assert "Traceback" not in chief_log
        assert "start every worker again with the same command" in chief_log.splitlines()[-1]
        assert (output / "backup").is_dir()
        processes = [start(args, envs[i], tmp_path / f"second{i}.log") for i in (0, 1)]
        codes = finish(processes)
    finally:
        kill(processes)
    assert codes == [0, 0], (tmp_path / "second0.log").read_text()[-3000:]
    results = json.loads((output / "results.json").read_text())
    history = json.loads((output / "history.json").read_text())
    assert results["epochs_run"] == 3
    assert len(history["loss"]) == 2  # epochs 2 and 3: the restart resumed from epoch 2
    assert [e["epoch"] for e in results["validation_curve"]] == [1, 2, 3]
    assert not (output / "backup").exists()
    assert worker_folders(tmp_path / "tmp") == []


def test_malformed_tf_config_is_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tfbt.cli", "train", "--data", str(tmp_path), "--output",
         str(tmp_path / "run"), "--strategy", "multi-worker"],
        env={**environment(tmp_path), "TF_CONFIG": '{"cluster": {"worker": ["localhost:1"]}, '
             '"task": {"type": "worker", "index": 3}}'},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tfbt train: error: TF_CONFIG: task.index must be an integer in 0..0 for job "
        "'worker'; got 3"]
    assert not (tmp_path / "run").exists()


def test_sweep_alpha_refuses_multi_worker_at_once(tmp_path, synthetic_data):
    done = subprocess.run(
        [sys.executable, "-m", "tfbt.cli", "sweep-alpha", "--data", str(synthetic_data(
            160, 40, 10)), "--output", str(tmp_path / "sweep"), "--strategy", "multi-worker"],
        env=environment(tmp_path, TF_CONFIG=tf_config(free_ports(2), 0)),
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tfbt sweep-alpha: error: sweep-alpha runs in one process; for several hosts, run "
        "`tfbt train --strategy multi-worker` once per alpha"]
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_unreachable_peer_is_one_line_error_in_bounded_time(tmp_path):
    ports = free_ports(2)  # nobody listens on the second one
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tfbt.cli", "pretrain", "--data", str(tmp_path), "--output",
         str(tmp_path / "run"), "--strategy", "multi-worker"],
        env=environment(tmp_path, TF_CONFIG=tf_config(ports, 0), TFBT_CLUSTER_TIMEOUT="5"),
        capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 90
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not form the cluster" in lines[0], done.stderr[-2000:]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text, message", [
    ("{", "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"worker": ["host1"]}, "task": {"type": "worker", "index": 0}}',
     "must be a list of \"host:port\" strings"),
    ('{"cluster": {"ps": ["a:1"], "worker": ["a:2"]}, "task": {"type": "worker"}}',
     "jobs ['ps'] are not used"),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}',
     "appears twice"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
     "task.type must be one of"),
    ("", "needs the TF_CONFIG environment variable"),
])
def test_read_cluster_names_what_is_wrong(text, message):
    from tfbt.runs.environment import ClusterError, read_cluster

    with pytest.raises(ClusterError, match=None) as caught:
        read_cluster(text)
    assert message in str(caught.value)


def test_read_cluster_puts_the_chief_first():
    from tfbt.runs.environment import read_cluster

    text = ('{"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"]}, '
            '"task": {"type": "worker", "index": 1}}')
    cluster = read_cluster(text)
    assert cluster.workers == ("c:1", "w:1", "w:2") and cluster.index == 2
    assert not cluster.is_chief


def _job(data: str, strategy_name: str, name: str) -> None:
    """One process of a job: an SGD step of SASRec and BT-SR, then ``train`` and ``pretrain``;
    every file goes to the working directory, named after ``name``."""
    import keras

    from tfbt.runs import environment

    strategy = environment.start_strategy(strategy_name)
    from tfbt import data as tfbt_data
    from tfbt.runs import pretrain, train, workers

    metadata = tfbt_data.load_metadata(data)
    for model_name, alpha in (("sasrec", None), ("btsr", 0.2)):
        config = train.TrainConfig(data=data, output="", model=model_name, alpha=alpha,
                                   strategy=strategy_name, **MODEL).resolved()
        environment.set_seed(0)
        with strategy.scope():
            model = train.build_model(config, metadata)
            model.compile(optimizer=keras.optimizers.SGD(0.5))
        before = np.concatenate([w.ravel() for w in model.get_weights()])
        model.fit(train.training_dataset(config, metadata), epochs=1, steps_per_epoch=1,
                  verbose=0)
        after = np.concatenate([w.ravel() for w in model.get_weights()])
        if workers.is_chief(strategy):
            Path(f"{name}_{model_name}_step.json").write_text(json.dumps({
                "replicas": strategy.num_replicas_in_sync, "weights": after.tolist(),
                "moved": float(np.abs(after - before).max())}))
    train.train(train.TrainConfig(data=data, output=f"{name}_train", epochs=2,
                                  strategy=strategy_name, **MODEL), verbose=0)
    pretrain.pretrain(pretrain.PretrainConfig(data=data, output=f"{name}_pretrain", epochs=1,
                                              max_len=10, batch_size=32, projector=(16,),
                                              encoder_args={"embedding_dim": 16, "filters": 16},
                                              strategy=strategy_name), verbose=0)


if __name__ == "__main__":
    _job(*sys.argv[1:])
