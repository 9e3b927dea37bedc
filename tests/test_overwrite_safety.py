"""--overwrite clears only a folder that is provably a twolayer run, and only what a run wrote."""

from __future__ import annotations

import os
import time
from pathlib import Path

from script_helpers import assert_clean_error, call

from twolayer.runs import RUN_MARKER

SPIRAL = ["train", "spiral", "--num-per-class", "20", "--hidden", "8", "--epochs", "1", "--quiet"]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_overwrite_refuses_a_project_folder_that_holds_a_config_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "config.json").write_text('{"name": "my project"}')
    (tmp_path / "src" / "main.py").write_text("print('hello')\n")
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = tree(tmp_path)

    refused = call(capsys, *SPIRAL, "--out", ".", "--overwrite")
    assert_clean_error(refused)
    assert "not a run directory" in refused.stderr and RUN_MARKER in refused.stderr
    (tmp_path / ".notes.tmp").write_text("an editor's file, not a run's temporary")
    os.utime(tmp_path / ".notes.tmp", (time.time() - 7200,) * 2)  # old, as a stale one is
    before[".notes.tmp"] = b"an editor's file, not a run's temporary"
    refused = call(capsys, *SPIRAL, "--out", ".", "--overwrite")
    assert_clean_error(refused)
    assert tree(tmp_path) == before  # not even a lock file, and no temporary swept


def test_overwrite_keeps_files_a_run_did_not_write(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert call(capsys, *SPIRAL, "--out", "run").returncode == 0
    assert (tmp_path / "run" / RUN_MARKER).is_file()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    (tmp_path / "run" / "data").mkdir()
    before = tree(tmp_path / "run")

    refused = call(capsys, *SPIRAL, "--out", "run", "--overwrite")
    assert_clean_error(refused)
    assert "notes.txt" in refused.stderr and "data/" in refused.stderr
    assert tree(tmp_path / "run") == before

    (tmp_path / "run" / "notes.txt").unlink()
    (tmp_path / "run" / "data").rmdir()
    again = call(capsys, *SPIRAL, "--hidden", "5", "--out", "run", "--overwrite")
    assert again.returncode == 0, again.stderr
    assert '"hidden": 5' in (tmp_path / "run" / "config.json").read_text()
    assert (tmp_path / "run" / RUN_MARKER).is_file()


def test_a_run_folder_from_before_the_marker_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert call(capsys, *SPIRAL, "--out", "old").returncode == 0
    (tmp_path / "old" / RUN_MARKER).unlink()  # as an older twolayer left it
    refused = call(capsys, *SPIRAL, "--out", "old", "--overwrite")
    assert_clean_error(refused)
    assert (tmp_path / "old" / "model.npz").is_file()
