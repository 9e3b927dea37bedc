"""A resumed run trains on its own data only: the run records a fingerprint of each split,
and a resume on other data of the same size is refused, naming what changed.

Runs stop at a controlled step (tests/hooks.py) and are stopped there by SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
from kill_helpers import finish, start_twolayer, wait_for_file
from PIL import Image
from script_helpers import assert_clean_error, call

from twolayer.resume import FINGERPRINT_KEY


def write_csv(path: Path, flip: bool = False) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    rows = np.c_[X, 1 - y if flip else y]
    np.savetxt(path, rows, delimiter=",", header="a,b,c,label", comments="", fmt="%.6f")
    return path


def stopped_run(tmp_path: Path, *args: str) -> Path:
    """A run stopped by SIGTERM at its second step, as `twolayer train ARGS` left it."""
    hooks = tmp_path / "hooks"
    child = start_twolayer("train", *args, "--out", "run", "--quiet", cwd=tmp_path,
                           hook_dir=hooks, pause_after_step=2)  # fmt: skip
    wait_for_file(hooks / "paused", child)
    child.send_signal(signal.SIGTERM)
    (hooks / "go").touch()
    assert finish(child).returncode == 130
    return tmp_path / "run"


def test_resume_on_a_csv_with_swapped_labels_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = write_csv(tmp_path / "data.csv")
    run = stopped_run(tmp_path, "data.csv", "--epochs", "3", "--batch-size", "8")
    recorded = json.loads((run / "config.json").read_text())[FINGERPRINT_KEY]
    assert set(recorded) == {"train", "val", "classes"}

    write_csv(data, flip=True)  # the same rows and size, every label swapped
    refused = call(capsys, "train", "--resume", "run")
    assert_clean_error(refused)
    assert "training data and validation data differ from what run was trained on" in (
        refused.stderr
    )
    assert json.loads((run / "status.json").read_text())["state"] == "interrupted"

    write_csv(data)
    resumed = call(capsys, "train", "--resume", "run")
    assert resumed.returncode == 0, resumed.stderr


def test_resume_on_an_image_folder_whose_files_were_replaced_is_refused(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)

    def fill() -> None:
        for name in ("cat", "dog"):
            (tmp_path / "pets" / name).mkdir(parents=True, exist_ok=True)
            for i in range(10):
                pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "pets" / name / f"{i}.png")

    fill()
    args = ["pets", "--epochs", "2", "--image-size", "8", "--batch-size", "4", "--hidden", "8"]
    run = stopped_run(tmp_path, *args)
    fill()  # other images under the same names
    refused = call(capsys, "train", "--resume", str(run))
    assert_clean_error(refused)
    assert "training data" in refused.stderr and "--config" in refused.stderr


def test_a_run_from_before_fingerprints_resumes_with_a_note(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "data.csv")
    run = stopped_run(tmp_path, "data.csv", "--epochs", "2", "--batch-size", "8")
    config = json.loads((run / "config.json").read_text())
    del config[FINGERPRINT_KEY]
    (run / "config.json").write_text(json.dumps(config))
    resumed = call(capsys, "train", "--resume", os.fspath(run))
    assert resumed.returncode == 0, resumed.stderr
    assert "recorded no fingerprint of its data" in resumed.stderr
    assert FINGERPRINT_KEY in json.loads((run / "config.json").read_text())  # checked next time
