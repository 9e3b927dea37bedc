"""The spiral and plot scripts end to end in subprocesses, and twolayer.cli."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

import pytest
from script_helpers import SCRIPTS, assert_clean_error, assert_png, run

from twolayer.cli.args import nonnegative_float, positive_float, positive_int, run_main

TRAIN = SCRIPTS / "train_spiral.py"
PLOT = SCRIPTS / "plot_run.py"
TINY = ["--num-per-class", "20", "--hidden", "8", "--epochs", "3", "--batch-size", "16"]
PNGS = ("loss.png", "accuracy.png", "lr.png", "decision_boundary.png")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One tiny training run, written under a fresh working directory's runs/."""
    cwd = tmp_path_factory.mktemp("spiral")
    result = run(TRAIN, *TINY, "--seed", "1", cwd=cwd)
    assert result.returncode == 0, result.stderr
    [run_dir] = (cwd / "runs").iterdir()
    return run_dir, result


def test_train_spiral_writes_a_complete_run(trained):
    run_dir, result = trained
    assert run_dir.name.startswith("spiral-")
    for name in ("config.json", "history.json", "history.csv", "model.npz", *PNGS):
        assert (run_dir / name).is_file(), name
    for name in PNGS:
        assert_png(run_dir / name)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["hidden"] == 8 and config["seed"] == 1 and config["version"]
    assert len((run_dir / "history.csv").read_text().splitlines()) == 1 + 3

    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"train accuracy: [01]\.\d{4}", lines[-2])
    assert re.fullmatch(r"val accuracy: [01]\.\d{4}", lines[-1])
    assert any(run_dir.name in line for line in lines[-4:])


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
        ["--val-fraction", "1.5"],  # passes argparse, fails in spiral_splits: run_main's path
    ],
)
def test_train_spiral_bad_flags_fail_cleanly(flags, tmp_path):
    assert_clean_error(run(TRAIN, *TINY, *flags, cwd=tmp_path))


def test_plot_run_redraws_and_compares(trained, tmp_path):
    run_dir, _ = trained
    (run_dir / "loss.png").unlink()
    result = run(PLOT, str(run_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_png(run_dir / "loss.png")

    result = run(
        PLOT, str(run_dir), str(run_dir.parent / ".." / "runs" / run_dir.name), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert_png(tmp_path / "compare.png")


def test_plot_run_rejects_non_run_dirs(trained, tmp_path):
    assert_clean_error(run(PLOT, str(tmp_path), cwd=tmp_path))
    assert_clean_error(run(PLOT, str(trained[0]), str(tmp_path / "missing"), cwd=tmp_path))
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
