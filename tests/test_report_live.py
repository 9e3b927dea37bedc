"""Every run writes its history and page as it goes: a SIGKILLed spiral, table or image run
keeps its curves; rows of numbers are rewritten at most every ROWS_LIVE_SECONDS.

The kills are paced by the marker files of tests/hooks.py, never by a sleep.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from kill_helpers import kill, start_twolayer, wait_for_file
from test_report import _solver

from twolayer import TwoLayerNet
from twolayer.datasets import spiral_splits
from twolayer.report import live_report_callback
from twolayer.runs import load_history, save_config


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))


def _data(root: Path, kind: str) -> list[str]:
    """The train arguments of a small run on ``kind`` data (written under ``root``)."""
    rng = np.random.default_rng(0)
    if kind == "spiral":
        return ["spiral", "--epochs", "30"]
    if kind == "table":
        lines = ["a,b,label"] + [f"{x:.3f},{y:.3f},{'pq'[i % 2]}" for i, (x, y) in
                                 enumerate(rng.normal(size=(60, 2)))]  # fmt: skip
        (root / "t.csv").write_text("\n".join(lines) + "\n")
        return [str(root / "t.csv"), "--epochs", "30"]
    images = rng.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8)
    np.savez(root / "i.npz", X=images, y=np.array(["a", "b"] * 20))
    return [str(root / "i.npz"), "--preprocess", "mean", "--epochs", "5", "--batch-size", "10"]


@pytest.mark.parametrize("kind, epoch", [("spiral", 1), ("table", 1), ("images", 2)])
def test_a_killed_run_keeps_its_curves(tmp_path, kind, epoch):
    """SIGKILL right after epoch ``epoch`` ended: history and live page hold that epoch (the
    first epoch is always written; images write every epoch)."""
    args = [*_data(tmp_path, kind), "--hidden", "8", "--quiet", "--out", str(tmp_path / "run")]
    hooks = tmp_path / "hooks"
    child = start_twolayer("train", *args, cwd=tmp_path, hook_dir=hooks, pause_after_epoch=epoch)
    wait_for_file(hooks / "paused", child)
    result = kill(child, signal.SIGKILL)
    assert result.returncode == -signal.SIGKILL
    run_dir = tmp_path / "run"
    history = load_history(run_dir)
    assert len(history["val_acc_history"]) == epoch
    assert len(history["loss_history"]) == epoch * history["iterations_per_epoch"]
    assert len((run_dir / "history.csv").read_text().splitlines()) == 1 + epoch
    html = (run_dir / "report.html").read_text()
    total = json.loads((run_dir / "config.json").read_text())["run"]["epochs"]
    assert f"Training: epoch {epoch} of {total}" in html and html.rstrip().endswith("</html>")
    assert not (run_dir / "model.npz").exists()  # it was killed before the end


def test_rows_are_rewritten_at_most_every_min_seconds(tmp_path):
    """With ``min_seconds`` the files follow the first epoch, then only epochs ending at
    least that long after the last write (a clock stands in for the time)."""
    data = spiral_splits(10, 3, 0.2, 0.2, seed=0)
    solver = _solver(TwoLayerNet(2, 8, 3, weight_scale="he", seed=0), data, 0.05, 8)
    save_config(tmp_path, {"run": {}})
    times = iter([0.0, 0.4, 0.9, 1.1, 1.5, 2.05, 2.2])
    live = live_report_callback(tmp_path, min_seconds=1.0, clock=lambda: next(times))
    written = []
    for k in range(1, 8):
        solver.num_epochs = k
        solver.train()
        live(solver)
        written.append(len(load_history(tmp_path)["val_acc_history"]))
    # writes at 0.0 (epoch 1), 1.1 (epoch 4) and 2.2 (epoch 7): each >= 1 s after the last
    assert written == [1, 1, 1, 4, 4, 4, 7]
    assert "Training: epoch 7 of 7" in (tmp_path / "report.html").read_text()
