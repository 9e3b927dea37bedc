"""The `twolayer` command itself: its help, its entry points, where settings come from, threads."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from script_helpers import ROOT, SCRIPTS, assert_clean_error, call, run, twolayer

from twolayer.config import RunConfig
from twolayer.fast import threads

COMMANDS = ("train", "predict", "export", "plot", "report", "tune", "bench", "cache")


def test_help_lists_every_command(tmp_path):
    result = twolayer("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\w", result.stdout, re.M), command
    assert result.stdout.startswith("usage: twolayer ")


def test_train_help_lists_the_datasets_and_a_flag_for_every_setting(capsys):
    result = call(capsys, "train", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # as one line: argparse wraps the help
    assert "what to learn: spiral, cifar10, or the PATH of a folder of images" in text
    for name in RunConfig.__dataclass_fields__:
        if name not in ("dataset", "data"):  # the positional DATA
            assert re.search(f"--{name.replace('_', '-')}[ ,]", result.stdout), name
    for flag in ("--preset", "--config", "--resume", "--out", "--threads", "--no-download"):
        assert flag in result.stdout
    assert "--schedule " not in result.stdout  # one name per setting: --lr-schedule
    assert "hidden units (default: spiral 100; cifar10 512, best 2048, quick 256; " in text


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--hidden", "0"], "hidden must be > 0, got 0"),
        (["--lr", "-1"], "lr must be > 0, got -1.0"),
        (["--dropout", "1"], "dropout must lie in [0, 1), got 1.0"),
        (["--optimizer", "lbfgs"], "optimizer must be one of adam, "),
        (["--hidden", "many"], "argument --hidden: must be a whole number, got 'many'"),
    ],
)
def test_flag_values_are_checked_by_the_run_settings_table(capsys, flags, message):
    result = call(capsys, "train", "spiral", *flags, "--out", "never")
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not Path("never").exists()


@pytest.mark.parametrize("command", COMMANDS[1:])
def test_every_command_has_help(capsys, command):
    result = call(capsys, command, "--help")
    assert result.returncode == 0 and f"usage: twolayer {command}" in result.stdout


def test_the_installed_command_is_declared_and_importable():
    text = (ROOT / "pyproject.toml").read_text()
    [target] = re.findall(r'^twolayer = "([\w.]+:\w+)"$', text, re.M)
    module, function = target.split(":")
    assert callable(getattr(importlib.import_module(module), function))
    for dependency in ('"threadpoolctl>=3"', '"pillow>=9.1"'):
        assert dependency in text.split("[project.optional-dependencies]")[0]


def test_every_script_is_a_shim_onto_the_command(tmp_path):
    for script in SCRIPTS.glob("*.py"):
        assert len(script.read_text().splitlines()) < 10, script
    result = run(SCRIPTS / "train_cifar10.py", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "usage: twolayer train" in result.stdout


def test_usage_mistakes_are_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.json").write_text('{"run": {"dataset": "spiral", "hiden": 3}}')
    (tmp_path / "x.json").write_text('{"lr": 0.1}')
    for args, words in [
        ([], "required"),
        (["train"], "say what to train"),
        (["train", "cifar10", "--config", "c.json"], "hiden"),
        (["train", "--config", "x.json"], 'no "run" settings'),
        (["train", "--config", "missing.json"], "missing.json"),
        (["train", "--config", "c.json", "--preset", "best"], "drop --preset"),
        (["train", "--resume", ".", "--hidden", "3"], "drop --hidden"),
        (["train", "--resume", ".", "--out", "x"], "drop --out"),
        (["fly"], "invalid choice"),
    ]:
        result = call(capsys, *args)
        assert_clean_error(result)
        assert words in result.stderr, (args, result.stderr)
    assert not (tmp_path / "runs").exists()


def test_a_config_of_another_dataset_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.json").write_text('{"run": {"dataset": "spiral"}}')
    result = call(capsys, "train", "cifar10", "--config", "c.json")
    assert_clean_error(result)
    assert "c.json is a spiral run, not cifar10" in result.stderr


def test_the_command_loads_neither_matplotlib_nor_torch_until_needed():
    code = (
        "import sys, twolayer.cli.main; "
        "assert not {'matplotlib', 'torch'} & set(sys.modules), sorted(sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


@pytest.mark.parametrize("preset, expected", [(None, "4"), ("8", "8")])
def test_importing_twolayer_lets_idle_openblas_threads_sleep(preset, expected):
    env = {k: v for k, v in os.environ.items() if k != threads.IDLE_TIMEOUT_VAR}
    if preset is not None:
        env[threads.IDLE_TIMEOUT_VAR] = preset
    code = f"import os, twolayer; print(os.environ[{threads.IDLE_TIMEOUT_VAR!r}])"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == expected, result.stderr


def test_child_env_sets_the_blas_variables_only_while_it_lasts(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with threads.child_env(1):
        assert all(os.environ[k] == "1" for k in threads.BLAS_ENV_VARS)
    assert os.environ["OMP_NUM_THREADS"] == "3" and "OPENBLAS_NUM_THREADS" not in os.environ


def test_blas_threads_limits_and_restores():
    from threadpoolctl import threadpool_info

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    with threads.blas_threads(1):
        assert blas_threads() == {1}
    assert blas_threads() == before
    assert threads.available_cores() >= 1
