"""The Solver in a Jupyter kernel, as the course uses it: no warning at import, no text
bars, the course's printed lines; and the epoch-0 entry of the histories in runs and
checkpoints (also those twolayer 0.3 wrote)."""

from __future__ import annotations

import warnings

import nbformat
import numpy as np
from nbclient import NotebookClient
from solver_helpers import QUIET, blobs, net

from twolayer import Solver, checkpoint
from twolayer.history import history_from_solver

CELLS = [
    # The course's cell order: import, then train with print_every, then its plot's data.
    "import warnings\nwarnings.simplefilter('always')\nimport twolayer\n"
    "from twolayer.datasets import get_CIFAR10_data\nfrom twolayer import Solver, TwoLayerNet",
    "import numpy as np\nrng = np.random.default_rng(0)\n"
    "X = rng.standard_normal((200, 12)); y = (X[:, 0] > 0).astype(int)\n"
    "data = {'X_train': X[:150], 'y_train': y[:150], 'X_val': X[150:], 'y_val': y[150:]}\n"
    "model = TwoLayerNet(input_dim=12, hidden_dim=20, num_classes=2, seed=0)\n"
    "solver = Solver(model, data, num_epochs=3, batch_size=10, print_every=7,\n"
    "                update_rule='sgd', optim_config={'learning_rate': 0.1}, seed=0)\n"
    "solver.train()",
    "print(len(solver.train_acc_history), len(solver.val_acc_history))",
]


def _run_notebook(tmp_path) -> list:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return [c.outputs for c in nb.cells]


def _text(outputs: list, name: str) -> str:
    return "".join(o.text for o in outputs if o.output_type == "stream" and o.name == name)


def test_in_a_notebook_the_solver_prints_as_the_course_does(tmp_path):
    imports, training, lengths = _run_notebook(tmp_path)
    assert imports == []  # no TqdmWarning, nothing at all, even with every warning shown
    assert _text(training, "stderr") == ""  # no text bars
    note, *lines = _text(training, "stdout").splitlines()
    assert note.startswith("update rule ")  # what runs the update, said first
    # 15 iterations per epoch, 45 in all: reported at 1, 8, 15, ..., 43 (every 7th).
    iterations = [line for line in lines if line.startswith("(Iteration ")]
    assert [int(line.split()[1]) for line in iterations] == list(range(1, 46, 7))
    assert all(line.split(") loss: ")[0].endswith(" / 45") for line in iterations)
    epochs = [line for line in lines if line.startswith("(Epoch ")]
    assert [line.split(")")[0] for line in epochs] == [f"(Epoch {k} / 3" for k in range(4)]
    for line in epochs:  # exactly the course's format: nothing after val_acc
        assert line.split(") ", 1)[1].count(";") == 1
        float(line.rsplit("val_acc: ", 1)[1])
    assert lines[0].startswith("(Epoch 0 / 3)") and lines[1].startswith("(Iteration 1 / 45)")
    assert _text(lengths, "stdout") == "4 4\n"  # num_epochs + 1, as the course plots them


def test_in_a_terminal_the_bar_and_the_longer_epoch_line_stay(capsys):
    solver = Solver(net(), blobs(), num_epochs=2, batch_size=50, seed=0, progress=True)
    solver.train()
    captured = capsys.readouterr()
    assert "epoch 1/2" in captured.err  # tqdm's bar, on stderr
    epochs = [line for line in captured.out.splitlines() if line.startswith("(Epoch ")]
    assert epochs[0].startswith("(Epoch 0 / 2) train acc: ") and "val_loss" not in epochs[0]
    assert "; val_loss: " in epochs[1] and "; lr: " in epochs[1]


def test_import_twolayer_warns_nothing():
    import importlib

    import twolayer.solver

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(twolayer.solver)


def test_epoch_zero_is_taken_before_any_update_and_leaves_the_run_as_it_was():
    solver = Solver(net(), blobs(), num_epochs=2, batch_size=50, num_train_samples=100, **QUIET)
    initial = {k: v.copy() for k, v in solver.model.params.items()}
    solver.train()
    check = Solver(net(), blobs(), num_epochs=1, batch_size=50, num_train_samples=100, **QUIET)
    check.model.params = initial
    acc, loss = check._evaluate(check.X_val, check.y_val, None, 1000, np.random.default_rng(0))
    assert (solver.val_acc_history[0], solver.val_loss_history[0]) == (acc, loss)
    # The run's own draws are those of a run without epoch 0: its first epoch steps
    # through the same batches as a Solver of the same seed stepped by hand.
    by_hand = Solver(net(), blobs(), num_epochs=2, batch_size=50, num_train_samples=100, **QUIET)
    for _ in range(solver.iterations_per_epoch):
        by_hand.step()
    assert by_hand.loss_history == solver.loss_history[: solver.iterations_per_epoch]


def test_history_files_keep_per_epoch_lists_and_name_epoch_zero():
    solver = Solver(net(), blobs(), num_epochs=3, batch_size=50, **QUIET)
    solver.train()
    history = history_from_solver(solver)
    assert history["val_acc_history"] == solver.val_acc_history[1:]
    assert len(history["train_acc_history"]) == len(history["epoch_time_history"]) == 3
    assert history["epoch_0"] == {
        "train_acc": solver.train_acc_history[0],
        "val_acc": solver.val_acc_history[0],
        "val_loss": solver.val_loss_history[0],
    }


def test_a_checkpoint_of_twolayer_0_3_resumes_without_epoch_zero(tmp_path):
    run = {"num_epochs": 3, "batch_size": 50, **QUIET}
    solver = Solver(net(), blobs(), **run)
    solver.num_epochs = 2
    solver.train()
    state = solver.state_dict()
    for key in ("train_acc_history", "val_acc_history", "val_loss_history"):
        state["history"][key] = state["history"][key][1:]  # as 0.3 wrote it: epochs 1, 2
    path = checkpoint.save(state, tmp_path / "old.npz")
    resumed = Solver.resume(path, net(), blobs(), num_epochs=3)
    resumed.train()
    assert len(resumed.val_acc_history) == len(resumed.epoch_time_history) == 3
    assert resumed.val_acc_history[:2] == solver.val_acc_history[1:]
    assert history_from_solver(resumed)["epoch_0"] is None
