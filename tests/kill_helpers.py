"""Killing subprocesses at controlled points, for the tests of what a kill leaves behind.

A child announces that it reached the point by creating a marker file and then
waits; the test waits for the marker (never for a guessed time) and signals it.

    child = start_python(code, cwd=tmp_path)
    wait_for_file(marker, child)
    kill(child, signal.SIGKILL)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TIMEOUT_S = 60  # generous: the machine may be busy; nothing here waits this long normally


def start_python(code: str, *args: str, cwd: Path) -> subprocess.Popen:
    """Run ``python -c code args...`` in the background, headless, capturing its output."""
    return start([sys.executable, "-c", code, *args], cwd=cwd)


def start(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_file(path: Path, child: subprocess.Popen, timeout: float = TIMEOUT_S) -> None:
    """Return once ``path`` exists; fail if ``child`` exits first or the timeout passes."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            out, err = child.communicate()
            raise AssertionError(f"exited {child.returncode} before {path} appeared:\n{out}{err}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)


def kill(child: subprocess.Popen, sig: int = signal.SIGKILL) -> subprocess.CompletedProcess:
    """Send ``sig``, wait for the exit and return what the child printed."""
    child.send_signal(sig)
    out, err = child.communicate(timeout=TIMEOUT_S)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True  # no /proc (macOS): os.kill's answer stands
    return state != "Z"


def dead_pid() -> int:
    """The id of a process that has just exited (ids are reused only after a wrap-around)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def wait_until(condition, timeout: float = TIMEOUT_S) -> bool:
    """Poll ``condition()`` until true or the timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
