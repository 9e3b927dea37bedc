"""Running the `twolayer` command for the CLI tests: as `python -m twolayer` or a scripts/
shim in a subprocess, or in this process; and checking what it leaves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from twolayer.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}  # headless
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run(script: Path, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a scripts/ shim with this interpreter and capture its output."""
    return _run([str(script), *args], cwd, timeout)


def twolayer(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m twolayer ARGS`` and capture its output."""
    return _run(["-m", "twolayer", *args], cwd, timeout)


def call(capsys: pytest.CaptureFixture, *args: str) -> subprocess.CompletedProcess:
    """Run ``twolayer ARGS`` in this process (fast: for failures before any training)."""
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["twolayer", *args], code, out, err)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, path


def assert_clean_error(result: subprocess.CompletedProcess) -> None:
    """Exit code 2 and one ``error:`` line on stderr, no traceback."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
