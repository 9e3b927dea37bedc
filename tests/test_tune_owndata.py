"""`twolayer tune DATA` on the user's own data (a CSV, an image folder): it runs, resumes
and writes best_config.json, whose run trains again to the trial's curves; and files
written by version 0.3 (a run's config.json, a search directory) load or are refused
in one line."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from script_helpers import assert_clean_error, call

from twolayer import Classifier
from twolayer.config import preset
from twolayer.runs import load_run_config
from twolayer.search import trials

TINY = ["--hidden", "8", "--epochs", "2", "--batch-size", "16", "--workers", "1"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def write_table(path: Path) -> Path:
    rng = np.random.default_rng(0)
    lines = ["a,b,kind"]
    for k, name in enumerate(("ant", "bee")):
        lines += [f"{x:.3f},{y:.3f},{name}" for x, y in rng.normal(2 * k, 0.5, (20, 2))]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_images(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    for name, colour in {"red": (200, 30, 30), "blue": (30, 30, 200)}.items():
        (folder / name).mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(rng.normal(colour, 40, (9, 9, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i}.png")
    return folder


def tune(capsys, *args: str):
    result = call(capsys, "tune", *args)
    assert result.returncode == 0, result.stderr
    return result


def rows(out: Path) -> list[str]:
    return (out / trials.TRIALS_CSV).read_text().splitlines()[1:]


def test_tune_a_csv_runs_resumes_and_its_best_run_trains_again(capsys, tmp_path):
    table = write_table(tmp_path / "t.csv")
    args = [str(table), "--label-column", "kind", "--trials", "2", *TINY, "--out", "s"]
    first = tune(capsys, *args)
    assert "best: trial" in first.stdout and len(rows(tmp_path / "s")) == 2
    config = load_run_config(tmp_path / "s" / trials.BEST_CONFIG)
    assert (config.dataset, config.data, config.label_column) == ("csv", str(table), "kind")
    assert config.data_seed == 0  # every trial on the search's split
    command = (tmp_path / "s" / trials.BEST_COMMAND).read_text()
    assert shlex.split(command)[:3] == ["twolayer", "train", str(table)]

    again = tune(capsys, *args)  # resumed: nothing left to run
    assert len(rows(tmp_path / "s")) == 2 and "2 trials: 2 ok" in again.stdout
    tune(capsys, *args[:4], "3", *args[5:])  # more random trials: the first two kept
    assert len(rows(tmp_path / "s")) == 3

    best = json.loads((tmp_path / "s" / trials.BEST_CONFIG).read_text())["search"]["trial"]
    rerun = call(capsys, "train", "--config", "s/best_config.json", "--out", "b", "--quiet")
    assert rerun.returncode == 0, rerun.stderr
    trial = json.loads((tmp_path / "s" / trials.TRIALS_DIR / f"{best}.json").read_text())
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history["val_acc_history"] == trial["val_acc_history"]
    assert history["loss_history"] == trial["loss_history"]


def test_tune_an_image_folder_runs_resumes_and_writes_its_best_config(capsys, tmp_path):
    folder = write_images(tmp_path / "pics")
    args = [str(folder), "--image-size", "8", "--trials", "2", *TINY, "--out", "s"]
    tune(capsys, *args)
    config = load_run_config(tmp_path / "s" / trials.BEST_CONFIG)
    assert (config.dataset, config.image_size, config.preprocess) == ("images", 8, "mean")
    before = rows(tmp_path / "s")
    again = tune(capsys, *args)
    assert rows(tmp_path / "s") == before and "best: trial" in again.stdout
    # Data flags of another kind of data are refused in one line.
    assert_clean_error(call(capsys, "tune", str(folder), "--label-column", "x", "--out", "t"))
    assert_clean_error(call(capsys, "tune", "nowhere.csv", "--out", "t"))


#: A spiral run's config.json as twolayer 0.3.0 wrote it.
CONFIG_0_3 = """{"run": {"dataset": "spiral", "data": null, "data_dir": null, "num_train": null,
"num_val": null, "preprocess": null, "zca_epsilon": null, "store_dtype": null,
"num_per_class": 100, "classes": 3, "noise": 0.2, "val_fraction": 0.2, "data_seed": null,
"image_size": null, "grayscale": null, "skip_bad": null, "label_column": null, "hidden": 100,
"weight_scale": "he", "dtype": "float32", "label_smoothing": 0.0, "dropout": 0.0,
"input_dropout": 0.0, "reg": 1e-05, "reg_as": "loss", "optimizer": "adam", "lr": 0.05,
"lr_schedule": "cosine", "lr_decay": 1.0, "warmup_epochs": 0.0, "restart_epochs": null,
"epochs": 50, "batch_size": 16, "augment": "none", "mixup_alpha": 0.0, "ema_decay": 0.0,
"ema_start_epoch": 1, "patience": null, "train_acc_samples": null, "tta": "none",
"seed": 0}, "model": {"input_dim": 2, "hidden_dim": 100, "num_classes": 3}, "version": "0.3.0"}"""


def test_a_0_3_config_loads_and_reruns(capsys, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(CONFIG_0_3)
    assert load_run_config(tmp_path / "old") == preset("spiral")
    assert Classifier.from_config(load_run_config(tmp_path / "old")).get_params()["lr"] == 0.05
    result = call(capsys, "train", "--config", "old/config.json", "--epochs", "2", "--out", "r")
    assert result.returncode == 0, result.stderr


def test_a_0_3_search_is_refused_in_one_line(capsys, tmp_path):
    (tmp_path / "s").mkdir()
    space = {"schedule": {"choices": ["cosine"]}, "lr": {"log": [0.001, 0.1]}}
    spec = {"dataset": "spiral", "search": "random", "trials": 2, "grid_points": 3, "seed": 0}
    (tmp_path / "s" / "search.json").write_text(json.dumps({**spec, "space": space}))
    result = call(capsys, "tune", "spiral", "--out", "s", *TINY)
    assert_clean_error(result)
    assert "made by twolayer 0.3" in result.stderr
