"""A search that cannot start, or loses its Dask scheduler, ends in one error line, and
leaves nothing that blocks the corrected command; odd settings files and variables too."""

from __future__ import annotations

import signal
from concurrent.futures import CancelledError, Future

import pytest
from kill_helpers import kill, start_twolayer, wait_until
from script_helpers import assert_clean_error, call

from twolayer.search import executors

TINY = ["spiral", "--trials", "2", "--hidden", "8", "--epochs", "1"]


@pytest.mark.parametrize("address", ["tls://127.0.0.1:1", "ucx://127.0.0.1:1"])
def test_a_scheduler_address_dask_cannot_use_is_one_line(tmp_path, monkeypatch, capsys, address):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    monkeypatch.chdir(tmp_path)
    result = call(capsys, "tune", *TINY, "--out", "s", "--scheduler", address)
    assert_one_error(result)
    assert f"could not connect to the Dask scheduler at {address}" in result.stderr
    assert not (tmp_path / "s").exists()  # nothing blocks the next command, nor litters
    again = call(capsys, "tune", *TINY, "--trials", "1", "--workers", "1", "--out", "s")
    assert again.returncode == 0, again.stderr


def assert_one_error(result) -> None:
    """Exit code 2 and one error: line, the last (after the trials' progress bar)."""
    assert result.returncode == 2 and "Traceback" not in result.stderr, result
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and result.stderr.rstrip().endswith(lines[0]), result.stderr
    assert lines[0].startswith("error: ")


class LostScheduler:
    """A Dask client whose scheduler is gone: every future is cancelled."""

    def nthreads(self) -> dict:
        return {"worker": 1}

    def get_executor(self) -> LostScheduler:
        return self

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        future.cancel()
        future.set_running_or_notify_cancel()  # as an executor does: waiters see it done
        return future

    def close(self, timeout: float) -> None:
        raise OSError("the scheduler is gone")


def test_a_scheduler_lost_mid_search_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(executors, "require_dask", lambda address: None)
    monkeypatch.setattr(executors, "dask_client", lambda address: LostScheduler())
    result = call(capsys, "tune", *TINY, "--out", "s", "--scheduler", "tcp://127.0.0.1:9")
    assert_one_error(result)
    assert "lost the Dask scheduler at tcp://127.0.0.1:9 mid-search" in result.stderr
    with pytest.raises(CancelledError):
        LostScheduler().submit(None).result()


def test_a_deeply_nested_space_file_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.json").write_text("[" * 100_000 + "]" * 100_000)
    result = call(capsys, "tune", *TINY, "--out", "s", "--space", "space.json")
    assert_clean_error(result)
    assert "space.json is not valid JSON" in result.stderr


def test_a_cache_variable_naming_no_users_home_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TWOLAYER_CACHE", "~nosuchuser_twolayer/x")
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "pets" / name / f"{i}.png").write_bytes(b"")
    result = call(capsys, "train", "pets", "--out", "run")
    assert_clean_error(result)
    assert "TWOLAYER_CACHE='~nosuchuser_twolayer/x' cannot be used" in result.stderr


def test_ctrl_c_of_a_search_prints_no_python_warnings(tmp_path):
    hooks = tmp_path / "hooks"
    child = start_twolayer("tune", *TINY, "--trials", "4", "--workers", "2", "--out", "s",
                           cwd=tmp_path, hook_dir=hooks, block_trials=1)  # fmt: skip
    assert wait_until(lambda: len(list(hooks.glob("trial-*"))) == 2)
    stopped = kill(child, signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    assert "Warning" not in stopped.stderr and "leaked" not in stopped.stderr, stopped.stderr
