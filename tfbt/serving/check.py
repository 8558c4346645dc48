"""The fresh-process check of ``tfbt export``: does the SavedModel work without tfbt?

Before an export is published, a separate Python process that cannot import tfbt, Keras or
TFRS reloads it with ``tf.saved_model.load`` and runs sample calls through every signature;
the outputs must match what the in-memory ``tfbt.serving.signatures`` module gives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfbt.serving.format import RECOMMEND_K, RECOMMEND_PENALIZED, SERVING_DEFAULT
from tfbt.serving.signatures import RawIdModel

_UNKNOWN_SAMPLE = "__tfbt_unknown_item__"
# What a client must not need: the fresh-process check makes importing these fail.
_NOT_NEEDED = ("tfbt", "keras", "tf_keras", "keras_hub", "tensorflow_recommenders")


class ExportVerificationError(RuntimeError):
    """The SavedModel reloaded in a fresh process does not behave like the in-memory model."""


def sample_calls(vocab: list[str], max_len: int, recommender: bool) -> list[dict]:
    """Inputs that exercise the lookup: unknown ids, padding, truncation, an all-unknown user."""
    rows = [vocab[:max_len + 2] + [_UNKNOWN_SAMPLE], [vocab[-1], _UNKNOWN_SAMPLE, vocab[0]],
            [_UNKNOWN_SAMPLE], [""]]
    width = max(map(len, rows))
    items = [row + [""] * (width - len(row)) for row in rows]
    calls = [{"signature": SERVING_DEFAULT, "inputs": {"items": items}}]
    if recommender:
        calls += [{"signature": RECOMMEND_K, "inputs": {"items": items, "k": k}}
                  for k in (1, len(vocab) + 1)]
        calls.append({"signature": RECOMMEND_PENALIZED,
                      "inputs": {"items": items, "k": 3, "popularity_penalty": 0.5}})
    return calls


# Run as `python -c _RELOAD_SCRIPT EXPORT_DIR BLOCKED_MODULE...`, calls as JSON on stdin.
_RELOAD_SCRIPT = """
import json, sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # importing it now fails: the export must need TensorFlow alone
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])

def spec(tensor):
    return [tensor.dtype.name, tensor.shape.as_list()]

def numpy(tensor):  # strings as UTF-8 text (numpy's astype(str) would decode them as ASCII)
    if tensor.dtype == tf.string:
        return [[b.decode("utf-8") for b in row] for row in tensor.numpy().tolist()]
    return tensor.numpy().tolist()

signatures = {name: {"inputs": {k: spec(v) for k, v in fn.structured_input_signature[1].items()},
                     "outputs": {k: spec(v) for k, v in fn.structured_outputs.items()}}
              for name, fn in model.signatures.items()}
outputs = []
for call in json.load(sys.stdin):
    fn = model.signatures[call["signature"]]
    specs = fn.structured_input_signature[1]
    result = fn(**{k: tf.constant(v, specs[k].dtype) for k, v in call["inputs"].items()})
    outputs.append({k: numpy(v) for k, v in result.items()})
print("\\n" + json.dumps({"signatures": signatures, "outputs": outputs}))
"""


def decode_utf8(values: np.ndarray) -> np.ndarray:
    """A string tensor's bytes as text, any shape (``astype(str)`` decodes as ASCII and fails on
    any other id)."""
    return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(values) if values.size \
        else values.astype(object)


def compare_outputs(expected: list[dict], actual: list[dict], calls: list[dict]) -> None:
    """Raises ``ExportVerificationError`` at the first output that differs (floats: 1e-5)."""
    for call, want, got in zip(calls, expected, actual, strict=True):
        for key, value in want.items():
            value, other = np.asarray(value), np.asarray(got.get(key))
            same = value.shape == other.shape and (
                np.allclose(value, other, rtol=1e-5, atol=1e-6) if value.dtype.kind == "f"
                else (value == other).all())
            if not same:
                raise ExportVerificationError(
                    f"signature {call['signature']} output {key!r} differs after reloading: "
                    f"in memory {value.tolist()}, reloaded {other.tolist()}")


def verify(path, module: RawIdModel, calls: list[dict]) -> dict:
    """Checks the export at ``path`` in a fresh process that cannot import tfbt, Keras or TFRS.

    There ``tf.saved_model.load`` must find every signature of ``module``, and ``calls``
    (``[{"signature", "inputs"}]``) must give the outputs ``module`` gives in memory.
    ``saved_model_cli show --all`` runs alongside when it is installed.

    Returns:
      ``{"signatures": {name: {"inputs"|"outputs": {key: [dtype, shape]}}}, "saved_model_cli":
      its output, or None when it is not installed}``.

    Raises:
      ExportVerificationError: the reload failed, a signature is missing or an output differs.
    """
    signatures = module.signatures()
    expected = [{k: decode_utf8(v.numpy()) if v.dtype == tf.string else v.numpy()
                 for k, v in signatures[call["signature"]](
                     **{k: tf.constant(v) for k, v in call["inputs"].items()}).items()}
                for call in calls]
    path = str(Path(path).resolve())
    print("checking the export in a fresh Python process (TensorFlow alone: loads it and "
          f"compares {len(calls)} sample calls) ...", flush=True)
    options = dict(env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=tempfile.gettempdir(),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reload = subprocess.Popen([sys.executable, "-c", _RELOAD_SCRIPT, path, *_NOT_NEEDED],
                              stdin=subprocess.PIPE, **options)
    cli = shutil.which("saved_model_cli")
    show = subprocess.Popen([cli, "show", "--dir", path, "--all"], **options) if cli else None
    stdout, stderr = reload.communicate(json.dumps(calls), timeout=600)
    cli_output = None
    if show is not None:
        cli_stdout, cli_stderr = show.communicate(timeout=600)
        cli_output = cli_stdout if show.returncode == 0 else (
            f"saved_model_cli failed ({show.returncode}): {cli_stderr[-2000:]}")
    if reload.returncode != 0:
        raise ExportVerificationError(f"{path}: reloading in a fresh process failed:\n"
                                      f"{stderr[-4000:]}")
    reloaded = json.loads(stdout.strip().splitlines()[-1])
    missing = set(signatures) - set(reloaded["signatures"])
    if missing:
        raise ExportVerificationError(f"{path}: signatures {sorted(missing)} missing after "
                                      f"reloading; found {sorted(reloaded['signatures'])}")
    compare_outputs(expected, reloaded["outputs"], calls)
    return {"signatures": reloaded["signatures"], "saved_model_cli": cli_output}
