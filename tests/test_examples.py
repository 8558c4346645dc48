"""The scripts in examples/: short, only tfbt + Keras, and each runs on tiny synthetic data.

The SASRec, BT-SR and dual-encoder examples must score exactly what the matching `tfbt` command
scores with the same seed and settings (both run the same library code): each is run in its own
process, as a user runs it, and the validation and test NDCG@10 are compared for equality.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
ALLOWED_IMPORTS = {"tfbt", "keras", "sys", "argparse", "tempfile"}
# example -> the `tfbt` command that trains the same model (its other flags at their defaults)
SAME_AS_COMMAND = {
    "train_sasrec_with_fit.py": ["train", "--model", "sasrec"],
    "train_btsr_with_fit.py": ["train", "--model", "btsr"],
    "train_dual_encoder.py": ["train-dual-encoder"],
}
EPOCHS = "2"


@pytest.fixture(scope="module")
def dataset(synthetic_data):
    return synthetic_data(200, 60, 15)


def run(args, cwd) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_examples_are_short_scripts_on_tfbt_and_keras_alone():
    assert {path.name for path in EXAMPLES} >= {*SAME_AS_COMMAND, "downstream_probe.py"}
    for path in EXAMPLES:
        source = path.read_text()
        assert len(source.splitlines()) <= 60, f"{path.name} is over 60 lines"
        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module.split(".")[0])
        assert imported <= ALLOWED_IMPORTS, f"{path.name} imports {imported - ALLOWED_IMPORTS}"


@pytest.mark.slow
@pytest.mark.parametrize("example", sorted(SAME_AS_COMMAND))
def test_example_scores_exactly_what_the_command_scores(example, dataset, tmp_path):
    printed = run([str(ROOT / "examples" / example), str(dataset), EPOCHS], tmp_path)
    example_scores = {split: float(re.search(rf"^{split}: NDCG@10 (\S+)", printed, re.M)[1])
                      for split in ("valid", "test")}
    run(["-m", "tfbt.cli", *SAME_AS_COMMAND[example], "--data", str(dataset), "--output",
         str(tmp_path / "run"), "--epochs", EPOCHS, "--seed", "0"], tmp_path)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert example_scores == {split: results[split]["NDCG@10"] for split in ("valid", "test")}


@pytest.mark.slow
@pytest.mark.parametrize("example, args", [
    ("downstream_probe.py", ["{data}", "2", "favorite_genre"]),
    ("pretrain_with_fit.py", ["--data", "{data}", "--epochs", "1"]),
])
def test_example_runs(example, args, dataset, tmp_path):
    printed = run([str(ROOT / "examples" / example),
                   *(arg.format(data=dataset) for arg in args)], tmp_path)
    assert printed.strip()
