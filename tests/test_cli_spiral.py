"""`twolayer train spiral` and `twolayer plot` end to end, as `python -m twolayer` and as the
scripts/ shims, and twolayer.cli.args."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from script_helpers import SCRIPTS, assert_clean_error, assert_png, call, run, twolayer

from twolayer import TwoLayerNet
from twolayer.cli.args import nonnegative_float, positive_float, positive_int, run_main

TRAIN = SCRIPTS / "train_spiral.py"
PLOT = SCRIPTS / "plot_run.py"
TINY = ["--num-per-class", "20", "--hidden", "8", "--epochs", "3", "--batch-size", "16"]
PNGS = ("loss.png", "accuracy.png", "lr.png", "decision_boundary.png")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One tiny training run, written under a fresh working directory's runs/."""
    cwd = tmp_path_factory.mktemp("spiral")
    result = twolayer("train", "spiral", *TINY, "--seed", "1", cwd=cwd)
    assert result.returncode == 0, result.stderr
    [run_dir] = (cwd / "runs").iterdir()
    return run_dir, result


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "model.npz") as f:
        return {k: f[k] for k in f.files}


def test_train_spiral_writes_a_complete_run(trained):
    run_dir, result = trained
    assert run_dir.name.startswith("spiral-")
    for name in ("config.json", "history.json", "history.csv", "model.npz", *PNGS):
        assert (run_dir / name).is_file(), name
    for name in PNGS:
        assert_png(run_dir / name)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["run"]["hidden"] == 8 and config["run"]["seed"] == 1 and config["version"]
    assert config["run"]["dataset"] == "spiral" and config["examples"] == {"train": 48, "val": 12}
    assert len((run_dir / "history.csv").read_text().splitlines()) == 1 + 3

    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("spiral: 48 train / 12 val points, 3 classes; hidden 8")
    assert re.fullmatch(r"train accuracy: [01]\.\d{4}", lines[-2])
    assert re.fullmatch(r"val accuracy: [01]\.\d{4}", lines[-1])
    assert any(run_dir.name in line for line in lines[-4:])


def test_config_reruns_a_run_exactly_and_flags_override_it(trained, tmp_path, monkeypatch, capsys):
    run_dir, result = trained
    again = run(TRAIN, "--config", str(run_dir / "config.json"), "--out", "again", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-2:] == result.stdout.splitlines()[-2:]
    first, second = weights(run_dir), weights(tmp_path / "again")
    assert first.keys() == second.keys()
    for k in first:
        assert np.array_equal(first[k], second[k]), k
    saved = json.loads((tmp_path / "again" / "config.json").read_text())["run"]
    assert saved == json.loads((run_dir / "config.json").read_text())["run"]

    monkeypatch.chdir(tmp_path)
    more = call(capsys, "train", "--config", str(run_dir), "--epochs", "4", "--out", "more")
    assert more.returncode == 0, more.stderr
    saved = json.loads((tmp_path / "more" / "config.json").read_text())["run"]
    assert saved["epochs"] == 4 and saved["hidden"] == 8 and saved["seed"] == 1


def test_accuracy_levers_reach_the_config_and_the_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    levers = ["--dropout", "0.3", "--input-dropout", "0.1", "--ema-decay", "0.9",
              "--ema-start-epoch", "2", "--mixup-alpha", "0.2", "--lr-schedule", "cosine_restarts",
              "--restart-epochs", "1.5"]  # fmt: skip
    first = call(capsys, "train", "spiral", *TINY, *levers, "--out", "a", "--quiet")
    assert first.returncode == 0, first.stderr
    saved = json.loads((tmp_path / "a" / "config.json").read_text())["run"]
    assert (saved["dropout"], saved["input_dropout"]) == (0.3, 0.1)
    assert (saved["ema_decay"], saved["ema_start_epoch"], saved["mixup_alpha"]) == (0.9, 2, 0.2)
    assert (saved["lr_schedule"], saved["restart_epochs"]) == ("cosine_restarts", 1.5)
    model = TwoLayerNet.load(tmp_path / "a" / "model.npz")
    assert (model.dropout, model.input_dropout) == (0.3, 0.1)
    again = call(capsys, "train", "--config", "a", "--out", "b", "--quiet")
    assert again.returncode == 0, again.stderr
    first_weights, second_weights = weights(tmp_path / "a"), weights(tmp_path / "b")
    for k in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(first_weights[k], second_weights[k]), k


def test_train_spiral_out_and_quiet(tmp_path):
    result = run(TRAIN, *TINY, "--out", "here", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "here" / "model.npz").is_file()
    assert len(result.stdout.strip().splitlines()) == 4  # where (2 lines) and the accuracies


@pytest.mark.parametrize(
    "flags",
    [
        ["--lr", "-1"],
        ["--lr", "nan"],
        ["--hidden", "0"],
        ["--optimizer", "nesterov"],
        ["--val-fraction", "1.5"],  # passes argparse, fails in RunConfig: run_main's path
        ["--augment", "flip"],  # the spiral's points are not images
        ["--num-train", "100"],  # a cifar10 setting
        ["--preset", "best"],  # a cifar10 preset
        ["--lr-decay", "0.5"],  # needs the step schedule
        ["--dropout", "1"],
        ["--input-dropout", "-0.1"],
        ["--ema-decay", "1"],
        ["--mixup-alpha", "-1"],
        ["--lr-schedule", "cosine_restarts"],  # without --restart-epochs
        ["--restart-epochs", "2"],  # without cosine_restarts
        ["--ema-decay", "0.9", "--ema-start-epoch", "4"],  # after the last of 3 epochs
    ],
)
def test_train_spiral_bad_flags_fail_cleanly(flags, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert_clean_error(call(capsys, "train", "spiral", *TINY, *flags))
    assert not (tmp_path / "runs").exists()


def test_plot_run_redraws_and_compares(trained, tmp_path):
    run_dir, _ = trained
    (run_dir / "loss.png").unlink()
    result = run(PLOT, str(run_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_png(run_dir / "loss.png")

    other = str(run_dir.parent / ".." / "runs" / run_dir.name)
    result = twolayer("plot", str(run_dir), other, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_png(tmp_path / "compare.png")


def test_plot_run_rejects_non_run_dirs(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert_clean_error(call(capsys, "plot", str(tmp_path)))
    assert_clean_error(call(capsys, "plot", str(trained[0]), str(tmp_path / "missing")))
    assert_clean_error(call(capsys, "plot", str(trained[0]), "--out", "x.png"))
    assert not (tmp_path / "compare.png").exists()


def test_argument_types():
    assert positive_int("3") == 3 and positive_float("1e-3") == 1e-3
    assert nonnegative_float("0") == 0.0
    for parse, text in [
        (positive_int, "0"),
        (positive_int, "1.5"),
        (positive_float, "0"),
        (positive_float, "inf"),
        (nonnegative_float, "-0.1"),
        (nonnegative_float, "nan"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(repr(text))):
            parse(text)


def test_run_main_exit_codes(capsys):
    def fails(argv):
        raise FileNotFoundError(2, "No such file or directory", "data/x.npz")

    def interrupted(argv):
        raise KeyboardInterrupt

    assert run_main(fails) == 2
    assert capsys.readouterr().err == "error: No such file or directory: data/x.npz\n"
    assert run_main(interrupted) == 130
    assert run_main(lambda argv: None) == 0
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        run_main(lambda argv: 1 / 0)
