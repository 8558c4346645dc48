"""The Colab notebooks in colab/: committed clean, and each one runs end to end in smoke mode.

Each notebook's first code cell (tagged "parameters") gets ``SMOKE_TEST = True``,
``INSTALL = False`` and ``WORK_DIR = <tmp>`` appended; the notebook then builds a tiny synthetic
dataset instead of downloading and runs every step with tiny sizes. Executing them needs a
Jupyter kernel of this interpreter (ipykernel, from the dev extra); a kernelspec for it is
written to a temporary folder, so nothing has to be installed beforehand and a ``python3``
kernel of another interpreter cannot be picked by mistake.
"""

import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

COLAB = Path(__file__).resolve().parents[2] / "colab"
NOTEBOOKS = ("quickstart", "liu2025_reproduction", "btsr_alpha_dial")
KERNEL = "tfbt-notebook-tests"
SMOKE_K = 7


def read(name):
    return nbformat.read(COLAB / f"{name}.ipynb", as_version=4)


def parameters_cell(nb):
    return next(cell for cell in nb.cells if cell.cell_type == "code")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_clean_with_a_parameters_cell(name):
    nb = read(name)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        f"{name}.ipynb has stored outputs: clear them before committing")
    first = parameters_cell(nb)
    assert "parameters" in first.metadata.get("tags", [])
    for variable in ("SMOKE_TEST = False", "INSTALL = True", "WORK_DIR = "):
        assert variable in first.source
    assert f"colab/{name}.ipynb" in nb.cells[0].source  # its own "Open in Colab" badge


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory, monkeypatch_module):
    pytest.importorskip("ipykernel")
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("jupyter")
    install(kernel_name=KERNEL, display_name="tfbt tests", prefix=str(prefix))
    spec = prefix / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    info = json.loads(spec.read_text())
    info["argv"][0] = sys.executable  # this interpreter, whatever the install wrote
    spec.write_text(json.dumps(info))
    monkeypatch_module.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    return KERNEL


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def execute(name, work, kernel_name, **extra):
    """Runs the notebook in smoke mode with ``work`` as WORK_DIR and cwd; returns it executed."""
    nb = read(name)
    overrides = dict(SMOKE_TEST=True, INSTALL=False, WORK_DIR=str(work), **extra)
    cell = parameters_cell(nb)
    cell.source += "\n# injected by tests/test_notebooks.py\n" + "\n".join(
        f"{key} = {value!r}" for key, value in overrides.items())
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()
    return nb


def tagged_output(nb, tag):
    (cell,) = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    return "".join(output.get("text", "") for output in cell.outputs
                   if output.output_type == "stream" and output.name == "stdout")


@pytest.mark.slow
def test_quickstart(tmp_path, kernel_name):
    nb = execute("quickstart", tmp_path, kernel_name, K=SMOKE_K)

    # The Python API end to end: fit with its history plot, export, a recommendation.
    (fit,) = [c for c in nb.cells if "fit" in c.metadata.get("tags", [])]
    assert any("image/png" in output.get("data", {}) for output in fit.outputs)
    export = tmp_path / "saved_models" / "btsr" / "1"
    assert (export / "saved_model.pb").is_file()
    assert json.loads((export / "assets" / "tfbt.json").read_text())["k"] == SMOKE_K
    # K ranked rows: rank, raw id, score.
    table = tagged_output(nb, "recommend")
    rows = [line for line in table.splitlines() if re.match(r"\s*\d+\s+\S+\s+-?\d+\.\d+", line)]
    assert [int(row.split()[0]) for row in rows] == list(range(1, SMOKE_K + 1)), table


@pytest.mark.slow
def test_liu2025_reproduction(tmp_path, kernel_name):
    execute("liu2025_reproduction", tmp_path, kernel_name)

    output = tmp_path / "liu2025"
    payload = json.loads((output / "results.json").read_text())
    main = [cell for cell in payload["cells"] if cell["section"] == "main"]
    assert {(c["task"], c["mode"], c["fraction"]) for c in main} == {
        (task, mode, fraction) for task in ("next_item", "favorite_genre")
        for mode in ("bt_frozen", "dual_encoder_frozen") for fraction in (0.1, 1.0)}
    assert all(0 <= c["value"] <= 1 for c in payload["cells"])
    assert "| task / metric | fraction | bt_frozen | dual_encoder_frozen |" in (
        output / "results.md").read_text()
    assert (output / "main.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_btsr_alpha_dial(tmp_path, kernel_name):
    nb = execute("btsr_alpha_dial", tmp_path, kernel_name)

    output = tmp_path / "sweep-smoke"
    table = json.loads((output / "sweep.json").read_text())
    alphas = [row["alpha"] for row in table["rows"]]
    runs = sorted(float(p.name.removeprefix("alpha_")) for p in output.glob("alpha_*"))
    assert alphas == runs and len(alphas) >= 2 and alphas[0] == 0.0  # one row per alpha
    assert all(set(row["test"]) >= {"NDCG@10", "coverage@10"} for row in table["rows"])
    assert (output / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert re.search(r"pick alpha = [\d.]+", printed), printed
