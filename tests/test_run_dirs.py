"""A run directory holds one run; resume follows the run wherever it is; interrupts (Ctrl-C,
SIGTERM) and kills leave a run that resumes, marked as partial; divergence is caught.

Kills and signals come at controlled points (tests/hooks.py pauses the command and waits
for the test), never after a guessed time.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import make_fake_cifar10
from kill_helpers import finish, kill, start_twolayer, wait_for_file
from script_helpers import assert_clean_error, call

from twolayer import Solver, TwoLayerNet, checkpoint
from twolayer.cli.main import main
from twolayer.datasets import spiral_splits
from twolayer.runs import STATUS_FILE, latest_checkpoint, partial_note
from twolayer.solver import DivergenceError

SPIRAL = ["train", "spiral", "--num-per-class", "20", "--hidden", "8", "--batch-size", "16"]
TINY = ["--num-train", "100", "--num-val", "20", "--hidden", "8", "--batch-size", "50"]


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    make_fake_cifar10(root, n_per_batch=24)
    return root


@pytest.fixture(scope="module")
def spiral_run(tmp_path_factory) -> Path:
    """A finished spiral run of 4 epochs (copy it before changing it)."""
    path = tmp_path_factory.mktemp("spiral") / "whole"
    assert main([*SPIRAL, "--epochs", "4", "--quiet", "--out", str(path)]) == 0
    return path


def cifar(root: Path, *args: str) -> list[str]:
    return ["train", "cifar10", "--data-dir", str(root), "--no-download", "--preprocess", "mean",
            *TINY, "--quiet", *args]  # fmt: skip


def run_config(run_dir: Path) -> dict:
    return json.loads((run_dir / "config.json").read_text())["run"]


def status(run_dir: Path) -> dict:
    return json.loads((run_dir / STATUS_FILE).read_text())


def epochs_in(run_dir: Path) -> int:
    return len(json.loads((run_dir / "history.json").read_text())["val_acc_history"])


# -- 1, 10. one run per directory; what a kill mid-write leaves is swept ----------------


def test_a_used_run_directory_is_refused_and_overwrite_starts_afresh(
    spiral_run, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(spiral_run, "x")
    before = {p.name: p.read_bytes() for p in Path("x").iterdir()}
    (tmp_path / "x" / "checkpoint_epoch_9.npz").write_bytes(b"left by the first run")

    refused = call(capsys, *SPIRAL, "--hidden", "5", "--out", "x")
    assert_clean_error(refused)
    assert "x already holds" in refused.stderr and "--overwrite" in refused.stderr
    assert {p.name: p.read_bytes() for p in Path("x").iterdir()} == {
        **before,
        "checkpoint_epoch_9.npz": b"left by the first run",
    }

    assert call(capsys, *SPIRAL, "--hidden", "5", "--epochs", "2", "--out", "x",
                "--overwrite").returncode == 0  # fmt: skip
    assert run_config(Path("x"))["hidden"] == 5
    assert TwoLayerNet.load("x/model.npz").hidden_dim == 5
    assert not Path("x/checkpoint_epoch_9.npz").exists()
    assert status(Path("x"))["state"] == "finished"

    Path("mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a run")
    refused = call(capsys, *SPIRAL, "--out", "mine", "--overwrite")
    assert_clean_error(refused)
    assert "not a run directory" in refused.stderr and Path("mine/notes.txt").exists()


def test_two_processes_cannot_share_a_run_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    hooks = tmp_path / "hooks"
    first = start_twolayer(*SPIRAL, "--epochs", "2", "--out", "x", cwd=tmp_path, hook_dir=hooks,
                           pause_after_step=1)  # fmt: skip
    wait_for_file(hooks / "paused", first)
    for args in ([*SPIRAL, "--out", "x", "--overwrite"], ["train", "--resume", "x"]):
        refused = call(capsys, *args)
        assert_clean_error(refused)
        assert f"x is in use by another run (pid {first.pid})" in refused.stderr
    kill(first, signal.SIGKILL)
    assert run_config(tmp_path / "x")["hidden"] == 8  # the first run's, untouched


def test_a_killed_run_resumes_itself_not_the_run_it_replaced(
    spiral_run, cifar_root, tmp_path, capsys
):
    shutil.copytree(spiral_run, tmp_path / "x")  # a finished run, then another one in its place
    hooks = tmp_path / "hooks"
    # The other run is killed while it writes its third epoch's checkpoint.
    second = start_twolayer(*cifar(cifar_root, "--hidden", "12", "--epochs", "4"), "--out", "x",
                            "--overwrite", cwd=tmp_path, hook_dir=hooks,
                            stall_write="checkpoint_epoch_3.npz")  # fmt: skip
    wait_for_file(hooks / "writing", second)
    kill(second, signal.SIGKILL)
    assert status(tmp_path / "x")["state"] == "running"  # what a killed run looks like
    assert not (tmp_path / "x" / "model.npz").exists()  # the replaced run's is gone
    [left] = (tmp_path / "x").glob(".checkpoint_epoch_3.npz.*.tmp")

    resumed = call(capsys, "train", "--resume", str(tmp_path / "x"))
    assert resumed.returncode == 0, resumed.stderr
    assert "checkpoint_epoch_2.npz" in resumed.stdout
    assert TwoLayerNet.load(tmp_path / "x" / "model.npz").hidden_dim == 12
    assert run_config(tmp_path / "x")["hidden"] == 12 and epochs_in(tmp_path / "x") == 4
    assert not left.exists() and list((tmp_path / "x").glob(".*.tmp")) == []  # swept


# -- 2, 3, 9. resume follows the run, from its newest checkpoint; SIGTERM is Ctrl-C --------


def test_sigterm_then_resume_from_elsewhere_after_the_run_and_its_data_moved(
    cifar_root, tmp_path, capsys
):
    (tmp_path / "a").mkdir()
    shutil.copytree(cifar_root, tmp_path / "a" / "data")
    hooks = tmp_path / "hooks"
    child = start_twolayer(*cifar("data", "--epochs", "3", "--out", "runs/x"),
                           cwd=tmp_path / "a", hook_dir=hooks, pause_after_step=3)  # fmt: skip
    wait_for_file(hooks / "paused", child)
    child.send_signal(signal.SIGTERM)
    (hooks / "go").touch()
    stopped = finish(child)
    assert stopped.returncode == 130, stopped.stderr
    assert "Interrupted by SIGTERM" in stopped.stdout
    assert "after epoch 1 of 3; resume with: twolayer train --resume runs/x" in stopped.stdout
    assert status(tmp_path / "a" / "runs" / "x")["state"] == "interrupted"

    # The run and its data move; it resumes from another directory, further (--epochs)
    # and with the data where --data-dir says (without, the error says to pass it).
    moved = shutil.move(tmp_path / "a" / "runs" / "x", tmp_path / "moved")
    shutil.move(tmp_path / "a" / "data", tmp_path / "data2")
    elsewhere = tmp_path / "b"
    elsewhere.mkdir()
    lost = call_in(elsewhere, capsys, "train", "--resume", str(moved), "--epochs", "4")
    assert_clean_error(lost)
    assert "pass --data-dir" in lost.stderr
    resumed = call_in(elsewhere, capsys, "train", "--resume", str(moved), "--epochs", "4",
                      "--data-dir", str(tmp_path / "data2"))  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "checkpoint_interrupted.npz" in resumed.stdout
    # Finished: the checkpoints have gone, the compact final state stays.
    assert [p.name for p in moved.glob("checkpoint*")] == []
    assert (moved / "final_state.npz").is_file() and not (moved / "preprocess.npz").exists()
    assert list(elsewhere.iterdir()) == []  # nothing written where it was resumed from
    assert run_config(moved)["data_dir"] == str(tmp_path / "data2")
    assert run_config(moved)["epochs"] == 4 and status(moved)["state"] == "finished"
    history = json.loads((moved / "history.json").read_text())
    assert len(history["loss_history"]) == 4 * history["iterations_per_epoch"]  # none redone

    finished = call_in(elsewhere, capsys, "train", "--resume", str(moved))
    assert_clean_error(finished)
    assert "has finished its 4 epochs" in finished.stderr and "--epochs" in finished.stderr


def test_resume_picks_the_checkpoint_with_the_most_steps(tmp_path, capsys):
    # A stale interrupted checkpoint, as a restored backup or an earlier version leaves
    # it beside newer epoch checkpoints, must not win: the step inside decides.
    for name, step in [("interrupted", 3), ("epoch_2", 4), ("epoch_3", 6)]:
        checkpoint.save({"state": {"t": step}}, tmp_path / f"checkpoint_{name}.npz")
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint_epoch_3.npz"
    (tmp_path / "checkpoint_epoch_3.npz").write_bytes(b"PK\x03\x04 cut short")
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint_epoch_2.npz"
    assert "skipped a damaged checkpoint" in capsys.readouterr().err


def call_in(cwd: Path, capsys, *args: str):
    with pytest.MonkeyPatch.context() as m:
        m.chdir(cwd)
        return call(capsys, *args)


# -- 9. the spiral resumes; flags that would change a run are refused ------------------------


def test_ctrl_c_on_the_spiral_checkpoints_in_its_run_and_resumes_to_the_same_weights(
    spiral_run, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    hooks = tmp_path / "hooks"
    child = start_twolayer(*SPIRAL, "--epochs", "4", "--out", "cut", cwd=tmp_path,
                           hook_dir=hooks, pause_after_step=5)  # fmt: skip
    wait_for_file(hooks / "paused", child)
    child.send_signal(signal.SIGINT)
    (hooks / "go").touch()
    stopped = finish(child)
    assert stopped.returncode == 130
    assert "resume with: twolayer train --resume cut" in stopped.stdout
    assert "Solver.resume" not in stopped.stdout
    assert (tmp_path / "cut" / "checkpoint_interrupted.npz").is_file()
    assert not (tmp_path / "cut" / "model.npz").exists()
    assert status(tmp_path / "cut")["state"] == "interrupted"
    assert "the run in cut was interrupted after epoch 1 of 4" in partial_note("cut")

    refused = call(capsys, "train", "--resume", "cut", "--hidden", "9", "--out", "y")
    assert_clean_error(refused)
    assert "drop --hidden, --out" in refused.stderr

    assert call(capsys, "train", "--resume", "cut").returncode == 0
    whole, cut = (TwoLayerNet.load(d / "model.npz") for d in (spiral_run, tmp_path / "cut"))
    for k in whole.params:
        assert np.array_equal(whole.params[k], cut.params[k]), k
    assert not (tmp_path / "cut" / "checkpoint_interrupted.npz").exists()


def test_a_run_killed_before_any_checkpoint_says_how_to_start_again(tmp_path, capsys):
    hooks = tmp_path / "hooks"
    child = start_twolayer(*SPIRAL, "--out", "x", cwd=tmp_path, hook_dir=hooks,
                           pause_after_step=1)  # fmt: skip
    wait_for_file(hooks / "paused", child)
    kill(child, signal.SIGKILL)
    result = call_in(tmp_path, capsys, "train", "--resume", "x")
    assert_clean_error(result)
    assert "x has no checkpoint to resume from" in result.stderr
    assert "--out x --overwrite" in result.stderr


# -- 4. a non-finite validation loss is divergence -------------------------------------------


def test_a_non_finite_validation_loss_is_divergence(tmp_path, monkeypatch, capsys):
    data = spiral_splits(20, 3, 0.2, 0.2, 0)
    net = TwoLayerNet(input_dim=2, hidden_dim=8, num_classes=3, weight_scale="he", reg=0.01)
    # One step per epoch: its loss is finite, but the update blows the weights up.
    solver = Solver(net, data, update_rule="sgd", optim_config={"learning_rate": 1e30},
                    batch_size=1000, num_epochs=1, verbose=False)  # fmt: skip
    with np.errstate(all="ignore"), pytest.raises(DivergenceError, match="validation loss"):
        solver.train()
    assert solver.best_epoch == 0 and all(np.isfinite(w).all() for w in net.params.values())
    assert math.isfinite(solver.loss_history[0])

    monkeypatch.chdir(tmp_path)
    result = call(capsys, *SPIRAL, "--optimizer", "sgd", "--lr", "1e30", "--reg", "0.01",
                  "--batch-size", "1000", "--epochs", "1", "--out", "x")  # fmt: skip
    assert_clean_error(result)
    assert "validation loss became" in result.stderr
    assert not (tmp_path / "x" / "model.npz").exists() and status(tmp_path / "x")["state"] == (
        "diverged"
    )
