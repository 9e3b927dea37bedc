"""A search survives what kills its workers and what damages its files, keeps a second search
out of its folder, leaves no worker behind when killed, and refuses up front what could not
finish (a huge grid, a net larger than memory)."""

from __future__ import annotations

import csv
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import hooks
import pytest
from kill_helpers import alive, kill, start_twolayer, wait_until
from script_helpers import assert_clean_error, call

from twolayer.cli import tune
from twolayer.search import trials as search
from twolayer.search.executors import run_trials
from twolayer.search.space import build_space, make_spec

TINY = {"hidden": "8", "epochs": "2", "batch_size": "32"}
TUNE = ["tune", "spiral", "--hidden", "8", "--epochs", "2", "--batch-size", "32"]


def spec(trials: int = 4) -> dict:
    return make_spec("spiral", build_space("spiral", TINY), trials=trials,
                     data={"num_per_class": 20})  # fmt: skip


def rows_of(out) -> list[dict]:
    with open(out / search.TRIALS_CSV, newline="") as f:
        return list(csv.DictReader(f))


class CountingExecutor(ThreadPoolExecutor):
    """Threads that record how many trials were submitted and not yet finished, at most."""

    def __init__(self) -> None:
        super().__init__(2)
        self.submitted, self.pending, self.most = 0, 0, 0
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self.submitted += 1
            self.pending += 1
            self.most = max(self.most, self.pending)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, future) -> None:
        with self._lock:
            self.pending -= 1


# -- 6. a trial that kills its worker --------------------------------------------------------


def test_a_trial_that_kills_its_worker_twice_is_recorded_as_failed(tmp_path, monkeypatch):
    monkeypatch.setattr(search, "run_trial", hooks.run_trial)
    monkeypatch.setenv("HOOK_KILL_TRIALS", "1")  # the spawned workers read it
    out = tmp_path / "s"
    rows = search.run_search(spec(4), out, workers=2, progress=False)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok", "ok"]
    assert "worker process died each of the 2 times" in rows[1]["error"]
    saved = rows_of(out)
    assert len(saved) == 4

    # A rerun does not run it again: it is recorded.
    executor = CountingExecutor()
    search.run_search(spec(4), out, executor=executor, progress=False)
    assert executor.submitted == 0 and rows_of(out) == saved


def test_a_dask_worker_killed_by_a_trial_is_a_failed_trial(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    import dask

    monkeypatch.setattr(search, "run_trial", hooks.run_trial)
    monkeypatch.setenv("HOOK_KILL_TRIALS", "0")
    # Two deaths make a task bad; one task per worker thread, so that only the trial that
    # runs is blamed for a death, not one queued behind it.
    config = {
        "distributed.scheduler.allowed-failures": 1,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(config):
        with distributed.LocalCluster(
            host="127.0.0.1", n_workers=1, threads_per_worker=1, processes=True,
            dashboard_address=None,
        ) as cluster:  # fmt: skip
            rows = search.run_search(
                spec(2), tmp_path / "s", scheduler=cluster.scheduler_address, progress=False
            )
    assert [r["status"] for r in rows] == ["failed", "ok"]
    assert "Dask worker died" in rows[0]["error"]


# -- 7, 12. one search per folder; its workers end with it ----------------------------------


def test_a_killed_search_leaves_no_workers_and_a_second_one_is_kept_out(tmp_path, capsys):
    marks = tmp_path / "hooks"
    first = start_twolayer(*TUNE, "--trials", "4", "--workers", "2", "--out", "s", cwd=tmp_path,
                           hook_dir=marks, block_trials=1)  # fmt: skip
    assert wait_until(lambda: len(list(marks.glob("trial-*"))) == 2)
    workers = [int(p.name.split("-")[1]) for p in marks.glob("trial-*")]
    try:
        second = call(capsys, *TUNE, "--trials", "4", "--out", str(tmp_path / "s"))
        assert_clean_error(second)
        assert f"is in use by another search (pid {first.pid})" in second.stderr

        kill(first, signal.SIGKILL)
        assert wait_until(lambda: not any(alive(pid) for pid in workers), timeout=30)
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- 11. bounded work ------------------------------------------------------------------------


def test_trials_are_submitted_in_bounded_windows():
    executor = CountingExecutor()
    outcomes = list(run_trials(lambda t: t["index"], ({"index": i} for i in range(40)),
                               workers=2, executor=executor))  # fmt: skip
    assert sorted(o for _, o in outcomes) == list(range(40))
    assert executor.submitted == 40 and executor.most <= 4


def never_search(*args, **kwargs):
    raise AssertionError("the search started: it should have been refused")


def test_a_huge_grid_needs_yes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tune, "run_search", never_search)
    grid = ["--search", "grid", "--grid-points", "10", "--lr", "1e-4:1", "--reg", "1e-6:1",
            "--hidden", "1:1000", "--batch-size", "1:1000", "--epochs", "1:1000",
            "--out", "s"]  # fmt: skip
    result = call(capsys, *TUNE, *grid)
    assert_clean_error(result)
    assert "the grid has 100,000 points (10 x 10 x 10 x 10 x 10)" in result.stderr
    assert "--yes" in result.stderr and not (tmp_path / "s").exists()


def test_a_net_too_large_for_memory_is_refused_with_an_estimate(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tune, "run_search", never_search)
    for args in (
        ["train", "spiral", "--hidden", "99999999999", "--out", "r"],
        [*TUNE, "--hidden", "99999999999", "--out", "s"],
    ):
        result = call(capsys, *args)
        assert_clean_error(result)
        assert "hidden 99999999999 needs about" in result.stderr
        assert "is available; lower" in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- 5, 12. damaged search files -------------------------------------------------------------


def test_a_damaged_trials_csv_header_is_repaired_not_rerun(tmp_path):
    out = tmp_path / "s"
    search.run_search(spec(3), out, executor=ThreadPoolExecutor(2), progress=False)
    saved = rows_of(out)
    lines = (out / search.TRIALS_CSV).read_bytes().split(b"\n")
    (out / search.TRIALS_CSV).write_bytes(b"\n".join([b"ind\xffex,sta", *lines[1:]]))
    executor = CountingExecutor()
    rows = search.run_search(spec(3), out, executor=executor, progress=False)
    assert executor.submitted == 0 and len(rows) == 3 and rows_of(out) == saved


def test_damaged_search_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = [*TUNE, "--trials", "2", "--out", "s"]
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "search.json").write_text("[1]")
    result = call(capsys, *args)
    assert_clean_error(result)
    assert "s/search.json should hold a JSON object" in result.stderr

    (tmp_path / "s" / "search.json").unlink()
    same = make_spec("spiral", build_space("spiral", TINY), trials=2)  # as the flags say
    search.run_search(same, "s", executor=ThreadPoolExecutor(2), progress=False)
    (tmp_path / "s" / "trials" / "0.json").write_text('{"loss_history": 3}')
    again = call(capsys, *args)  # nothing to run; the plots leave out the damaged curve
    assert again.returncode == 0, again.stderr
    assert "warning: left out of top_trials.png" in again.stderr
    assert "trials/0.json" in again.stderr
