"""The run folder: what every tfbt command writes where, and how it is written.

A run folder (``tfbt pretrain`` / ``tfbt train`` ``--output``) holds:

* ``config.json``: what was asked (the command's config);
* ``backup/``: ``keras.callbacks.BackupAndRestore`` while the run is unfinished; the same
  command started again resumes at the epoch where it stopped;
* ``tensorboard/``, ``history.json``: curves;
* the result: ``encoder.keras`` (pretraining) or ``model.keras`` and ``results.json``
  (next-item training), plus ``validation.json``, ``validation_ranks/`` and ``checkpoints/`` (model selection);
  ``dual_encoder/`` and ``results.json`` (``tfbt train-dual-encoder``).

This module owns those names; the exporter and the commands import them from here, and the one
rule for reusing a folder (``run_folder``): another command's folder (another run, a dataset, an
export: ``tfbt.fs.kinds``) is refused, one process writes it at a time (``tfbt.fs.lock``), a
finished run is refused unless ``overwrite``, an unfinished one is resumed only with the
arguments it was started with, and a run that fails takes away what it created.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from tfbt.fs import kinds, lock

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
BACKUP_DIR = "backup"
TENSORBOARD_DIR = "tensorboard"
ENCODER_FILE = "encoder.keras"
MODEL_FILE = "model.keras"
RESULTS_FILE = "results.json"
VALIDATION_FILE = "validation.json"
BEST_WEIGHTS_FILE = "best.weights.h5"  # runs before checkpoints/: the chosen epoch's weights
CHECKPOINTS_DIR = "checkpoints"  # epoch_<e>.weights.h5: the epochs the selection can still choose
VALIDATION_RANKS_DIR = "validation_ranks"  # epoch_<e>.npy: each validation's per-user ranks
DUAL_ENCODER_DIR = "dual_encoder"  # `tfbt train-dual-encoder`: the towers' TF checkpoint
# Everything a run writes into its folder: what `--overwrite` replaces (other files stay).
RUN_FILES = (CONFIG_FILE, HISTORY_FILE, BACKUP_DIR, TENSORBOARD_DIR, ENCODER_FILE, MODEL_FILE,
             RESULTS_FILE, VALIDATION_FILE, BEST_WEIGHTS_FILE, DUAL_ENCODER_DIR, CHECKPOINTS_DIR,
             VALIDATION_RANKS_DIR, kinds.MARKER)


class RunFolderError(ValueError):
    """The run folder holds a run this command must not replace or resume."""


def add_run_folder_arguments(parser) -> None:
    """``--output`` and ``--overwrite``, worded once for every command that writes a run folder
    (the rule itself is ``run_folder``)."""
    parser.add_argument("--output", required=True,
                        help="run folder: an unfinished run there resumes if started with the "
                        "same arguments; a finished one is refused unless --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a finished run (or start an unfinished one afresh); "
                        "files of your own in the folder are kept")


def write_json(path: Path, payload) -> None:
    """Writes JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=float) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or ``None`` if there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


def load_encoder(run_dir: str | os.PathLike):
    """Loads ``encoder.keras`` (a ``keras.Model``) from a pretraining run folder (or the file
    itself)."""
    import keras

    import tfbt.layers  # noqa: F401  (registers the layers saved models refer to)

    path = Path(run_dir)
    path = path / ENCODER_FILE if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no pretrained encoder; run `tfbt pretrain` first")
    return keras.models.load_model(path)


def load_trained_model(run: str | os.PathLike):
    """``(model, file)``: a run folder's ``model.keras`` (``tfbt train``) or, failing that,
    its ``encoder.keras`` (``tfbt pretrain``). A damaged file raises ``ValueError`` naming it."""
    import keras

    import tfbt.layers  # noqa: F401  (registers the layers saved models refer to)
    import tfbt.models  # noqa: F401  (registers the models saved in model.keras)

    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: no such run folder")
    for name in (MODEL_FILE, ENCODER_FILE):
        if (run / name).is_file():
            try:
                return keras.models.load_model(run / name, compile=False), run / name
            except Exception as err:  # a truncated or foreign file: say which one
                raise ValueError(f"{run / name}: cannot load the model ({err})") from err
    unfinished = (f" ({BACKUP_DIR}/ holds an unfinished run: finish it first)"
                  if (run / BACKUP_DIR).is_dir() else "")
    raise ValueError(f"{run}: no trained model: expected {MODEL_FILE} (`tfbt train`) or "
                     f"{ENCODER_FILE} (`tfbt pretrain`){unfinished}")


def _comparable(config: dict) -> dict:
    """``config`` as JSON would store it (tuples as lists), without the folder's own path."""
    return {k: v for k, v in json.loads(json.dumps(config, default=float)).items()
            if k != "output"}


def config_differences(saved: dict, config: dict) -> list[str]:
    """``"name: saved -> asked"`` for every argument (but ``output``) that differs."""
    saved, config = _comparable(saved), _comparable(config)
    return [f"{k}: {saved.get(k)!r} -> {config.get(k)!r}"
            for k in sorted(saved.keys() | config.keys()) if saved.get(k) != config.get(k)]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def prepare_run_folder(output: str | os.PathLike, config: dict, *, finished: Sequence[str],
                       overwrite: bool = False) -> bool:
    """Decides what a run does with ``output`` before it writes anything; returns whether it
    resumes.

    * no folder, or no run in it: a fresh run;
    * a finished run (any of the ``finished`` files): ``RunFolderError`` unless ``overwrite``,
      which removes the run's files (``RUN_FILES``) and keeps whatever else the folder holds;
    * an unfinished run (``backup/``): resumed when its ``config.json`` equals ``config``
      (``output`` aside); otherwise ``RunFolderError`` naming the differing arguments, unless
      ``overwrite``;
    * ``config.json`` alone (a run that failed before its first epoch ended): a fresh run.
    """
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise RunFolderError(f"{output} exists and is not a folder")
    done = [name for name in finished if (output / name).exists()]
    if done and not overwrite:
        raise RunFolderError(f"{output} holds a finished run ({', '.join(done)}); pass "
                             f"--overwrite to replace it, or choose another --output")
    if (output / BACKUP_DIR).is_dir() and not overwrite:
        differences = config_differences(read_json(output / CONFIG_FILE) or {}, config)
        if differences:
            raise RunFolderError(
                f"{output} holds an unfinished run started with other arguments ("
                + "; ".join(differences) + "): rerun with the same arguments to resume it, or "
                "pass --overwrite to start afresh")
        return True
    if overwrite:
        for name in RUN_FILES:
            _remove(output / name)
    return False


@contextlib.contextmanager
def run_folder(output: str | os.PathLike, config: dict, *, finished: Sequence[str],
               overwrite: bool = False, command: str) -> Iterator[bool]:
    """``prepare_run_folder`` under the folder's lock, then runs the block; yields whether the
    run resumes.

    Before anything is written, a folder made by another command (``tfbt.fs.kinds``: another
    run, a dataset, an export) is refused whatever ``overwrite`` says, and a folder that another
    live process is writing is refused naming it (``tfbt.fs.lock``). The folder then records
    ``command`` as its maker.

    When the block raises an ``Exception`` what it created is removed: the folder itself if it
    did not exist before, else the entries that are new in it. An interrupted run
    (``KeyboardInterrupt``, a kill) keeps its ``backup/`` so that the same command resumes it.
    """
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise RunFolderError(f"{output} exists and is not a folder")
    kinds.claim(output, command)
    existed = output.is_dir()
    output.mkdir(parents=True, exist_ok=True)
    try:
        with _writer_lock(output):
            resume = prepare_run_folder(output, config, finished=finished, overwrite=overwrite)
            before = set(os.listdir(output))
            kinds.mark(output, command)
            try:
                yield resume
            except Exception:
                for name in set(os.listdir(output)) - before - {lock.LOCK_FILE}:
                    _remove(output / name)
                raise
    except lock.FolderBusyError:
        raise  # the folder is the other process's now: leave it
    except Exception:
        if not existed and output.is_dir() and not (set(os.listdir(output)) - {lock.LOCK_FILE}):
            shutil.rmtree(output, ignore_errors=True)
        raise


def _writer_lock(output: Path):
    """The run folder's lock (a multi-worker cluster's other workers write temporary folders:
    ``tfbt.runs.workers``)."""
    return lock.exclusive(output / lock.LOCK_FILE, f"run folder {output}")
