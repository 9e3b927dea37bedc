"""Killing subprocesses at controlled points, for the tests of what a kill leaves behind.

A child announces that it reached the point by creating a marker file and then
waits; the test waits for the marker (never for a guessed time) and signals it.

    child = start_python(code, cwd=tmp_path)
    wait_for_file(marker, child)
    kill(child, signal.SIGKILL)

or runs `twolayer` with hooks that pause it at a chosen point (tests/hooks.py):

    child = start_twolayer("train", "spiral", cwd=tmp_path, hook_dir=hooks, pause_after_step=3)
    wait_for_file(hooks / "paused", child)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HOOKS = Path(__file__).with_name("hooks.py")
TIMEOUT_S = 60  # generous: the machine may be busy; nothing here waits this long normally


def start_python(code: str, *args: str, cwd: Path) -> subprocess.Popen:
    """Run ``python -c code args...`` in the background, headless, capturing its output."""
    return start([sys.executable, "-c", code, *args], cwd=cwd)


def start_twolayer(*args: str, cwd: Path, hook_dir: Path, **hooks: object) -> subprocess.Popen:
    """Run ``twolayer ARGS`` through tests/hooks.py with ``hooks`` (pause_after_step=3 ->
    HOOK_PAUSE_AFTER_STEP=3); its markers go to ``hook_dir``."""
    hook_dir.mkdir(parents=True, exist_ok=True)
    env = {f"HOOK_{k.upper()}": str(v) for k, v in hooks.items()}
    return start([sys.executable, str(HOOKS), *args], cwd=cwd, HOOK_DIR=str(hook_dir), **env)


def start(argv: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", **env}
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(child: subprocess.Popen) -> subprocess.CompletedProcess:
    """Wait for ``child`` to exit and return what it printed."""
    out, err = child.communicate(timeout=TIMEOUT_S)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


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
