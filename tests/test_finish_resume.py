"""A run stopped after its last epoch (in the final evaluation, TTA, model file, plots) can
be finished by --resume; status.json says where a run stood; SIGTERM there says so.

Each run is stopped at a controlled point (tests/hooks.py), never after a guessed time.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from fake_cifar import make_fake_cifar10
from kill_helpers import kill, start_twolayer, wait_for_file
from script_helpers import assert_clean_error, call

from twolayer import TwoLayerNet
from twolayer.runs import partial_note

SPIRAL = ["train", "spiral", "--num-per-class", "20", "--hidden", "8", "--batch-size", "16"]


def status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def epochs_in(run_dir: Path) -> int:
    return len(json.loads((run_dir / "history.json").read_text())["val_acc_history"])


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    make_fake_cifar10(root, n_per_batch=24)
    return root


def cifar(root: Path, *args: str) -> list[str]:
    return ["train", "cifar10", "--data-dir", str(root), "--no-download", "--preprocess",
            "mean", "--num-train", "100", "--num-val", "20", "--hidden", "8", "--batch-size",
            "50", "--quiet", *args]  # fmt: skip


def test_a_run_killed_while_saving_its_model_is_finished_by_resume(tmp_path, capsys):
    hooks = tmp_path / "hooks"
    child = start_twolayer(*SPIRAL, "--epochs", "3", "--out", "run", cwd=tmp_path,
                           hook_dir=hooks, stall_write="model.npz")  # fmt: skip
    wait_for_file(hooks / "writing", child)
    kill(child, signal.SIGKILL)
    run = tmp_path / "run"
    assert not (run / "model.npz").exists()
    left = status(run)
    assert (left["state"], left["epoch"], left["epochs"]) == ("running", 3, 3)

    resumed = call(capsys, "train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert "val accuracy:" in resumed.stdout
    assert status(run)["state"] == "finished" and epochs_in(run) == 3
    assert TwoLayerNet.load(run / "model.npz").hidden_dim == 8
    assert not (run / "checkpoint_interrupted.npz").exists()
    assert not (run / ".checkpoint_finishing.npz").exists()

    again = call(capsys, "train", "--resume", str(run))
    assert_clean_error(again)
    # Finished, it keeps its final state: more epochs train it further.
    assert "has finished its 3 epochs; to train it further" in again.stderr


def test_sigterm_while_finishing_says_so_and_resume_finishes(cifar_root, tmp_path, capsys):
    hooks = tmp_path / "hooks"
    child = start_twolayer(*cifar(cifar_root, "--epochs", "2"), "--out", "run", cwd=tmp_path,
                           hook_dir=hooks, stall_write="model.npz")  # fmt: skip
    wait_for_file(hooks / "writing", child)
    stopped = kill(child, signal.SIGTERM)
    assert stopped.returncode == 130, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert (
        "interrupted after epoch 2 of 2, while finishing; resume with: twolayer train --resume run"
        in stopped.stdout
    )
    run = tmp_path / "run"
    assert (status(run)["state"], status(run)["epoch"]) == ("interrupted", 2)
    assert list(run.glob(".model.npz.*.tmp")) == []

    resumed = call(capsys, "train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert status(run)["state"] == "finished" and (run / "model.npz").is_file()
    assert epochs_in(run) == 2


def test_status_follows_the_epochs_of_an_image_run(cifar_root, tmp_path):
    hooks = tmp_path / "hooks"
    child = start_twolayer(*cifar(cifar_root, "--epochs", "3"), "--out", "run", cwd=tmp_path,
                           hook_dir=hooks, pause_after_epoch=2)  # fmt: skip
    wait_for_file(hooks / "paused", child)
    kill(child, signal.SIGKILL)
    assert (status(tmp_path / "run")["state"], status(tmp_path / "run")["epoch"]) == (
        "running",
        2,
    )
    # The note on a killed run gives the epoch it reached, not the one it started at.
    assert "after epoch 2 of 3" in partial_note(tmp_path / "run")


def test_resume_with_fewer_epochs_than_done_names_both_counts(cifar_root, tmp_path, capsys):
    trained = call(capsys, *cifar(cifar_root, "--epochs", "4", "--out", str(tmp_path / "r")))
    assert trained.returncode == 0, trained.stderr
    refused = call(capsys, "train", "--resume", str(tmp_path / "r"), "--epochs", "2")
    assert_clean_error(refused)
    assert "has done 4 epochs, more than --epochs 2" in refused.stderr
    assert "--epochs 14" in refused.stderr
