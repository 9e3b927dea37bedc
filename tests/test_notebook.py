"""The example notebook: committed with its outputs, and it runs top to bottom offline.

The run uses a fresh kernel (nbclient) in a temporary folder, without TWOLAYER_CIFAR10,
so the CIFAR-10 cells use the notebook's synthetic stand-in.
"""

from __future__ import annotations

import re

import nbformat
from nbclient import NotebookClient
from script_helpers import ROOT

NOTEBOOK = ROOT / "examples" / "two_layer_net.ipynb"


def _outputs(nb, kind: str) -> list:
    cells = [c for c in nb.cells if c.cell_type == "code"]
    return [o for c in cells for o in c.outputs if o.output_type == kind]


def _figures(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_notebook_is_committed_with_the_outputs_of_a_run():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert _figures(nb) == 4
    assert not _outputs(nb, "error")


def test_notebook_executes_offline_on_synthetic_data(tmp_path, monkeypatch):
    monkeypatch.delenv("TWOLAYER_CIFAR10", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    stdout = "".join(o.text for o in _outputs(nb, "stream") if o.name == "stdout")
    stderr = "".join(o.text for o in _outputs(nb, "stream") if o.name == "stderr")
    assert "using the synthetic stand-in, not CIFAR-10" in stdout
    errors = [float(e) for e in re.findall(r"\w+ max relative error: (\S+)", stdout)]
    assert len(errors) == 4 and max(errors) < 1e-6  # float64: the backprop is right
    assert "W2 in float32: max relative error" in stdout and "dtype=np.float64" in stderr
    assert "training accuracy on the 50 examples: 1.00" in stdout
    assert float(re.search(r"test accuracy: (\S+)", stdout).group(1)) > 0.3  # chance is 0.1
    assert "8 trials: 8 ok" in stdout
    assert _figures(nb) == 4
    assert (tmp_path / "runs" / "notebook-cifar10" / "report.html").is_file()
    assert (tmp_path / "searches" / "notebook-spiral" / "report.html").is_file()
