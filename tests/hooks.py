"""Run the `twolayer` command with hooks that stop it at a chosen point, for kill tests.

    python tests/hooks.py train spiral --out run     # hooks from the environment

The hooks are read from environment variables, so that a search's worker processes,
which inherit the environment and import this module to run a hooked trial, see them:

    HOOK_DIR                where the markers below are created
    HOOK_PAUSE_AFTER_STEP   N: after the N-th training step, create HOOK_DIR/paused and
                            wait until HOOK_DIR/go exists (send signals meanwhile)
    HOOK_PAUSE_AFTER_EPOCH  K: the same, after epoch K ended (its checkpoint written)
    HOOK_STALL_WRITE        a glob: an atomic write of a file of that name writes all of
                            it, creates HOOK_DIR/writing and waits to be killed, unrenamed
    HOOK_KILL_TRIALS        I,J: search trials I and J SIGKILL their worker process
    HOOK_BLOCK_TRIALS       1: every search trial creates HOOK_DIR/trial-<pid>, then waits
    HOOK_BLOCK_DECODE       1: every chunk of images a decode worker takes creates
                            HOOK_DIR/decoding-<pid>, then waits

Nothing waits on a guessed time: each pause ends when the test says so, or is killed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from twolayer import _io
from twolayer.datasets import images
from twolayer.search import trials
from twolayer.solver import Solver

WAIT_LIMIT_S = 120  # a forgotten pause ends the process instead of hanging a test run
_run_trial = trials.run_trial
_step = Solver.step
_end_epoch = Solver._end_epoch
_atomic_write = _io.atomic_write


def _marker(name: str) -> Path:
    return Path(os.environ["HOOK_DIR"]) / name


def _pause() -> None:
    _marker("paused").touch()
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not _marker("go").exists():
        if time.monotonic() > deadline:
            os._exit(99)
        time.sleep(0.01)


def run_trial(spec: dict, trial: dict, data_dir: str = "data") -> dict:
    """A search trial, unless the hooks say it kills its worker or blocks."""
    if str(trial["index"]) in os.environ.get("HOOK_KILL_TRIALS", "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("HOOK_BLOCK_TRIALS"):
        _marker(f"trial-{os.getpid()}").touch()
        time.sleep(WAIT_LIMIT_S)
        os._exit(99)
    return _run_trial(spec, trial, data_dir)


def block_decode(*args: Any) -> Any:
    """A decode worker's chunk that never ends (the worker waits to be ended)."""
    _marker(f"decoding-{os.getpid()}").touch()
    time.sleep(WAIT_LIMIT_S)
    os._exit(99)


def install() -> None:
    """Patch what the environment asks for (in this process; workers use run_trial)."""
    env = os.environ
    if "HOOK_PAUSE_AFTER_STEP" in env:
        after = int(env["HOOK_PAUSE_AFTER_STEP"])

        def step(self: Solver) -> float:
            loss = _step(self)
            if self.t == after:
                _pause()
            return loss

        Solver.step = step
    if "HOOK_PAUSE_AFTER_EPOCH" in env:
        epoch = int(env["HOOK_PAUSE_AFTER_EPOCH"])

        def end_epoch(self: Solver) -> None:
            _end_epoch(self)
            if self.epoch == epoch:
                _pause()

        Solver._end_epoch = end_epoch
    if "HOOK_STALL_WRITE" in env:
        pattern = env["HOOK_STALL_WRITE"]

        def atomic_write(path: Any, write: Any) -> Path:
            if not fnmatch(Path(path).name, pattern):
                return _atomic_write(path, write)

            def stalled(f: Any) -> None:
                write(f)
                f.flush()
                _marker("writing").touch()
                time.sleep(WAIT_LIMIT_S)
                os._exit(99)

            return _atomic_write(path, stalled)

        _io.atomic_write = atomic_write
    if "HOOK_BLOCK_DECODE" in env:
        images._decode_chunk = block_decode
    if "HOOK_KILL_TRIALS" in env or "HOOK_BLOCK_TRIALS" in env:
        trials.run_trial = run_trial


if __name__ == "__main__":
    import hooks  # this file under its module name, which spawned workers import too

    hooks.install()
    from twolayer.cli.main import main

    sys.exit(main(sys.argv[1:]))
