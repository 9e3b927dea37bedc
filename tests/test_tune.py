"""Hyperparameter search: spaces, a local pool and a Dask cluster, resumption, failures, the CLI."""

from __future__ import annotations

import csv
import json
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fake_cifar import make_fake_cifar10
from script_helpers import SCRIPTS, assert_clean_error, assert_png, call, run

from twolayer.cli.flags import config_changes
from twolayer.cli.main import build_parser
from twolayer.config import RunConfig, preset
from twolayer.runs import load_run_config
from twolayer.search import trials as tune
from twolayer.search.space import (
    PARAMS,
    base_config,
    build_space,
    generate_trials,
    load_space_file,
    make_dimension,
    make_spec,
    train_command,
    trial_config,
)

TUNE = SCRIPTS / "tune.py"
TINY = {"hidden": "8,16", "epochs": "2", "batch_size": "32"}
TINY_FLAGS = ["--hidden", "8,16", "--epochs", "2", "--batch-size", "32"]
SMALL_SPIRAL = {"num_per_class": 30}


def spiral_spec(trials: int = 4, **space: str) -> dict:
    return make_spec(
        "spiral", build_space("spiral", {**TINY, **space}), trials=trials, data=SMALL_SPIRAL
    )


def threads() -> ThreadPoolExecutor:
    """An in-process executor: any concurrent.futures.Executor runs trials."""
    return ThreadPoolExecutor(2)


def csv_rows(out: Path) -> list[dict]:
    with open(out / tune.TRIALS_CSV, newline="") as f:
        return list(csv.DictReader(f))


def parse_train_command(command: str):
    """The settings a `twolayer train` command line gives, as the train parser reads them."""
    argv = shlex.split(command)
    assert argv[:2] == ["twolayer", "train"]
    return build_parser().parse_args(argv[1:])


def command_config(command: str) -> RunConfig:
    """The RunConfig a `twolayer train DATASET ...` command line trains."""
    args = parse_train_command(command)
    return preset(args.dataset).replace(**config_changes(args))


def check_results(out: Path, n: int) -> list[dict]:
    rows = csv_rows(out)
    assert list(rows[0]) == list(tune.RESULT_COLUMNS)
    assert sorted(int(r["index"]) for r in rows) == list(range(n))
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert 0.0 <= float(r["val_acc"]) <= 1.0
        history = json.loads((out / tune.TRIALS_DIR / f"{r['index']}.json").read_text())
        assert len(history["val_acc_history"]) == int(r["epochs"])
    return rows


# -- spaces and trials ---------------------------------------------------------------------


def test_dimensions_parse_ranges_choices_and_reject_nonsense():
    assert make_dimension("lr", "1e-4:1e-2") == {"log": [1e-4, 1e-2]}
    assert make_dimension("hidden", "64,128") == {"choices": [64, 128]}
    assert make_dimension("weight_scale", "he,1e-3") == {"choices": ["he", 1e-3]}
    assert make_dimension("augment", ["none", "flip+translate2"])["choices"][1] == "flip+translate2"
    for name, value in [("lr", "0:1"), ("lr", "1:1e-3"), ("hidden", "64.5"), ("optimizer", "a:b"),
                        ("augment", "flop"), ("lr_schedule", "linear"), ("nope", "1")]:  # fmt: skip
        with pytest.raises(ValueError):
            make_dimension(name, value)


def test_space_files_in_json_and_toml(tmp_path):
    (tmp_path / "s.json").write_text('{"lr": "1e-3:1e-1", "hidden": [8, 16], "batch-size": 32}')
    (tmp_path / "s.toml").write_text('lr = "1e-3:1e-1"\nhidden = [8, 16]\nbatch_size = 32\n')
    expected = {"lr": {"log": [1e-3, 1e-1]}, "hidden": {"choices": [8, 16]},
                "batch_size": {"choices": [32]}}  # fmt: skip
    assert load_space_file(tmp_path / "s.json") == expected
    assert load_space_file(tmp_path / "s.toml") == expected
    (tmp_path / "bad.json").write_text('{"lr": "fast"}')
    with pytest.raises(ValueError, match="lr"):
        load_space_file(tmp_path / "bad.json")


def test_trials_are_deterministic_per_index_and_inside_the_space():
    spec = spiral_spec(trials=30, lr="1e-4:1e-2")
    trials = generate_trials(spec)
    assert trials == generate_trials(spec)
    assert generate_trials(spiral_spec(trials=5, lr="1e-4:1e-2")) == trials[:5]
    assert len({t["seed"] for t in trials}) == 30
    assert all(1e-4 <= t["lr"] <= 1e-2 and t["hidden"] in (8, 16) for t in trials)
    assert generate_trials({**spec, "seed": 1}) != trials


def test_grid_search_runs_every_combination():
    ranges = {"lr": "1e-3:1e-1", "reg": "1e-4", "hidden": "8,16", "optimizer": "adam,sgd"}
    spec = make_spec("spiral", build_space("spiral", ranges), search="grid", trials=None)
    trials = generate_trials(spec)  # 3 grid points along the lr range by default
    assert len(trials) == 3 * 2 * 2
    assert sorted({t["lr"] for t in trials}) == [1e-3, 1e-2, 1e-1]
    assert len({tuple(t[p] for p in PARAMS) for t in trials}) == 12
    assert len(generate_trials({**spec, "grid_points": 5})) == 5 * 2 * 2


# -- running searches ----------------------------------------------------------------------


def test_search_on_a_local_process_pool_then_resume_and_extend(tmp_path):
    out = tmp_path / "search"
    rows = tune.run_search(spiral_spec(4), out, workers=2, progress=False)
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    first = check_results(out, 4)
    assert len({r["worker"] for r in first}) <= 2
    assert json.loads((out / tune.SEARCH_JSON).read_text())["trials"] == 4

    # Resuming a finished search runs nothing: the rows, timestamps included, stay.
    tune.run_search(spiral_spec(4), out, executor=threads(), progress=False)
    assert csv_rows(out) == first
    # A random search extends: the first trials are kept, only the new ones run.
    tune.run_search(spiral_spec(6), out, executor=threads(), progress=False)
    rows = check_results(out, 6)
    assert rows[:4] == first


def test_a_killed_search_resumes_with_only_the_unfinished_trials(tmp_path):
    out = tmp_path / "search"
    tune.run_search(spiral_spec(4), out, executor=threads(), progress=False)
    lines = (out / tune.TRIALS_CSV).read_text().splitlines(keepends=True)
    # Killed mid-append: two complete rows and half of a third.
    (out / tune.TRIALS_CSV).write_text("".join(lines[:3]) + lines[3][:20])
    kept = {r["index"]: r["finished_at"] for r in csv_rows(out)[:2]}
    tune.run_search(spiral_spec(4), out, executor=threads(), progress=False)
    rows = check_results(out, 4)
    assert len(rows) == 4
    assert {r["index"]: r["finished_at"] for r in rows if r["index"] in kept} == kept


def test_resuming_with_a_different_spec_is_refused(tmp_path):
    out = tmp_path / "search"
    tune.run_search(spiral_spec(2), out, executor=threads(), progress=False)
    with pytest.raises(ValueError, match="different search.*space"):
        tune.run_search(spiral_spec(2, lr="1e-2:1e-1"), out, executor=threads(), progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a search"):
        tune.run_search(spiral_spec(2), tmp_path / "other", executor=threads(), progress=False)


def test_diverging_and_failing_trials_are_recorded_and_the_search_goes_on(tmp_path):
    out = tmp_path / "search"
    # With reg the huge steps blow the weights up (with none, the ReLUs would just die).
    space = {"lr": "0.05,1e6", "reg": "1e-2", "optimizer": "sgd", "hidden": "8"}
    spec = make_spec(
        "spiral", build_space("spiral", {**TINY, **space}), search="grid", trials=None,
        data=SMALL_SPIRAL,
    )  # fmt: skip
    rows = tune.run_search(spec, out, executor=threads(), progress=False)
    status = {r["lr"]: r["status"] for r in rows}
    assert status == {0.05: "ok", 1e6: "diverged"}
    [bad] = [r for r in csv_rows(out) if r["status"] == "diverged"]
    assert "learning rate" in bad["error"]
    assert tune.best_result(rows)["lr"] == 0.05

    trial = {**generate_trials(spec)[0], "hidden": 0}
    result = tune.run_trial(spec, trial)
    assert result["row"]["status"] == "failed"
    assert "hidden must be > 0" in result["row"]["error"]


def test_data_is_loaded_once_per_worker():
    spec = make_spec("spiral", build_space("spiral"), seed=3)
    assert tune._load_data(base_config(spec)) is tune._load_data(base_config(spec))


def test_a_trial_is_a_run_config_on_the_search_data():
    spec = spiral_spec(2)
    trial = generate_trials(spec)[1]
    config = trial_config(spec, trial)
    assert (config.hidden, config.lr, config.seed) == (trial["hidden"], trial["lr"], trial["seed"])
    assert config.lr_schedule == trial["lr_schedule"] and config.num_per_class == 30
    assert config.data_seed == spec["seed"] and config.reg_as == "loss"


def test_cifar10_search_writes_its_best_run_as_a_config_and_a_train_command(tmp_path):
    make_fake_cifar10(tmp_path / "data", n_per_batch=20)
    space = build_space("cifar10", {**TINY, "epochs": "1", "augment": "flip+translate2"})
    spec = make_spec("cifar10", space, trials=2, data={"num_train": 60, "num_val": 20})
    out = tmp_path / "search"
    rows = tune.run_search(spec, out, data_dir=tmp_path / "data", executor=threads(),
                           progress=False)  # fmt: skip
    check_results(out, 2)
    best, command = tune.write_best(out, spec, rows, str(tmp_path / "data"))
    assert (out / tune.BEST_COMMAND).read_text() == command + "\n"
    args = parse_train_command(command)
    assert (args.lr, args.hidden, args.seed) == (best["lr"], best["hidden"], best["seed"])
    assert args.label_smoothing == 0.0  # the train preset has 0.1: it must be explicit
    assert (args.reg_as, args.store_dtype) == ("loss", "float32")  # as the trials trained
    config = load_run_config(out / tune.BEST_CONFIG)
    assert config == trial_config(spec, best, str(tmp_path / "data")) == command_config(command)
    assert config.data_dir == str(tmp_path / "data") and config.augment == "flip+translate2"

    with pytest.raises(FileNotFoundError):  # missing data stops the search
        tune.run_search(spec, tmp_path / "s2", data_dir=tmp_path / "nowhere",
                        executor=threads(), progress=False)  # fmt: skip


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_search_on_a_dask_cluster(tmp_path, processes):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    with distributed.LocalCluster(
        host="127.0.0.1", protocol="tcp", n_workers=1, threads_per_worker=2,
        processes=processes, dashboard_address=None,
    ) as cluster:  # fmt: skip
        rows = tune.run_search(
            spiral_spec(3), tmp_path / "search", scheduler=cluster.scheduler_address,
            progress=False,
        )  # fmt: skip
    assert len(rows) == 3
    check_results(tmp_path / "search", 3)


def test_a_missing_dask_is_one_line_saying_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes the import fail
    result = call(capsys, "tune", "--out", "s", "--scheduler", "tcp://127.0.0.1:8786")
    assert_clean_error(result)
    assert result.stderr.strip().endswith('pip install "twolayer[dask]"')
    assert not (tmp_path / "s").exists()


# -- the command ---------------------------------------------------------------------------


def test_command_end_to_end_prints_the_table_and_a_best_run_that_reruns_exactly(
    tmp_path, monkeypatch, capsys
):
    args = ["spiral", "--trials", "3", "--out", "s", *TINY_FLAGS, "--workers", "1"]
    result = run(TUNE, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "s"
    check_results(out, 3)
    assert "val_acc" in result.stdout and "best: trial" in result.stdout
    assert f"twolayer train --config {Path('s') / tune.BEST_CONFIG}" in result.stdout
    command = (out / tune.BEST_COMMAND).read_text().strip()
    assert command in result.stdout
    parsed = parse_train_command(command)
    best = max(csv_rows(out), key=lambda r: float(r["val_acc"]))
    assert parsed.lr == float(best["lr"]) and parsed.hidden == int(best["hidden"])
    assert parsed.data_seed == 0  # the search's points, not the trial seed's
    assert command_config(command) == load_run_config(out / tune.BEST_CONFIG)
    assert_png(out / "lr_reg.png")
    assert_png(out / "top_trials.png")
    page = (out / "report.html").read_text()
    assert "report.html" in result.stdout and f"trial {best['index']}" in page

    # best_config.json trains the best trial again, to the same curves.
    monkeypatch.chdir(tmp_path)
    rerun = call(capsys, "train", "--config", str(out / tune.BEST_CONFIG), "--out", "b", "--quiet")
    assert rerun.returncode == 0, rerun.stderr
    trial = json.loads((out / tune.TRIALS_DIR / f"{best['index']}.json").read_text())
    again = json.loads((tmp_path / "b" / "history.json").read_text())
    for key in ("loss_history", "val_acc_history", "val_loss_history"):
        assert again[key] == trial[key], key

    # A different space on the same --out is refused in one line.
    assert_clean_error(call(capsys, "tune", *args, "--lr", "1e-2:1e-1"))


@pytest.mark.parametrize(
    "flags",
    [
        ["--lr", "0:1"],
        ["--hidden", "many"],
        ["--search", "grid", "--trials", "3"],
        ["--augment", "flip"],  # the spiral is not an image
        ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
        ["--num-train", "100"],
    ],
)
def test_bad_flags_give_one_error_line(tmp_path, monkeypatch, capsys, flags):
    monkeypatch.chdir(tmp_path)
    assert_clean_error(call(capsys, "tune", "spiral", "--out", "s", *flags))
    assert not (tmp_path / "s").exists()


def test_train_commands_repeat_the_data_settings():
    spec = spiral_spec(1)
    command = train_command(spec, generate_trials(spec)[0])
    assert command.startswith("twolayer train spiral --num-per-class 30 ")
    assert "--data-seed 0" in command and "--hidden " in command  # searched over: 8,16
    assert "--epochs 2" in command  # fixed, but not the train default
    assert "--optimizer" not in command and "--reg-as" not in command  # both the defaults
    spec = make_spec("cifar10", build_space("cifar10"), trials=1, data={"preprocess": "zca"})
    command = train_command(spec, generate_trials(spec)[0], "/data")
    assert "--preprocess zca" in command and "--zca-epsilon 0.1" in command
    assert "--data-dir /data" in command and "--reg-as loss" in command
    with pytest.raises(ValueError, match="exceeds"):
        make_spec("cifar10", build_space("cifar10"), data={"num_train": 49_500})
