"""What a killed process leaves (temporary files, extraction folders) is swept at the next
start, never what a live process is writing; write errors name the real file."""

from __future__ import annotations

import errno
import os
import signal
import time

import pytest
from fake_cifar import make_fake_cifar10
from kill_helpers import dead_pid, kill, start_python, wait_for_file

from twolayer._io import UNOWNED_MAX_AGE_S, atomic_write, owned_name, sweep_stale
from twolayer.datasets import download_cifar10
from twolayer.datasets.download import FOLDER_NAME, TARBALL_NAME

# Writes half of a file atomically, says so through a marker, then waits to be killed.
STALLED_WRITE = """
import sys, time
from pathlib import Path
from twolayer._io import atomic_write
def write(f):
    f.write(b"half")
    f.flush()
    Path(sys.argv[2]).touch()
    time.sleep(600)
atomic_write(sys.argv[1], write)
"""


def test_a_write_killed_midway_leaves_a_temp_file_the_next_start_sweeps(tmp_path):
    target, marker = tmp_path / "model.npz", tmp_path / "writing"
    child = start_python(STALLED_WRITE, str(target), str(marker), cwd=tmp_path)
    wait_for_file(marker, child)
    kill(child, signal.SIGKILL)
    [left] = tmp_path.glob(".model.npz.*.tmp")
    assert str(child.pid) in left.name and not target.exists()
    # The temporary file had the mode of any new file from its creation on, not 0600.
    (tmp_path / "plain").touch()
    assert left.stat().st_mode == (tmp_path / "plain").stat().st_mode

    live = tmp_path / owned_name(".history.json", ".tmp")  # this process: still writing
    live.touch()
    assert sweep_stale(tmp_path) == [left]
    assert not left.exists() and live.exists()


def test_unowned_temp_files_are_swept_only_once_old(tmp_path):
    legacy = tmp_path / ".model.npz.k3j_x9ab.tmp"  # tempfile.mkstemp's naming, no pid
    legacy.touch()
    assert sweep_stale(tmp_path) == []
    old = time.time() - UNOWNED_MAX_AGE_S - 60
    os.utime(legacy, (old, old))
    assert sweep_stale(tmp_path) == [legacy]


# Extracts a tarball with download_cifar10, stopping inside the extraction.
STALLED_EXTRACT = """
import sys, tarfile, time
from pathlib import Path
from twolayer.datasets import download_cifar10
def extractall(self, *args, **kwargs):
    Path(sys.argv[2]).touch()
    time.sleep(600)
tarfile.TarFile.extractall = extractall
download_cifar10(sys.argv[1], md5=None, progress=False)
"""


def test_an_extraction_killed_midway_is_swept_by_the_next_download(tmp_path):
    root, marker = tmp_path / "data", tmp_path / "extracting"
    make_fake_cifar10(root, n_per_batch=2, tarball=True)
    child = start_python(STALLED_EXTRACT, str(root), str(marker), cwd=tmp_path)
    wait_for_file(marker, child)
    kill(child, signal.SIGKILL)
    [left] = root.glob(".cifar-10-extract.*")
    assert left.is_dir() and str(child.pid) in left.name
    other = root / owned_name(".cifar-10-extract")  # a live process extracting right now
    other.mkdir()

    assert download_cifar10(root, md5=None, progress=False) == root / FOLDER_NAME
    assert not left.exists() and other.is_dir()


def test_a_partial_tarball_of_a_dead_download_is_swept(tmp_path):
    root = tmp_path / "data"
    make_fake_cifar10(root, n_per_batch=2)
    partial = root / f".{TARBALL_NAME}.{dead_pid()}-0123abcd.tmp"
    partial.write_bytes(b"\x1f\x8b half a tarball")
    download_cifar10(root, progress=False)  # the extracted folder is there: no download
    assert not partial.exists()


def test_a_wrong_md5_names_the_command_line_flag(tmp_path):
    root = tmp_path / "data"
    make_fake_cifar10(root, n_per_batch=2, tarball=True)
    with pytest.raises(ValueError, match="use it as is with --skip-md5"):
        download_cifar10(root, progress=False)


def test_write_errors_name_the_real_file_not_the_temporary_one(tmp_path):
    target = tmp_path / "model.npz"
    target.mkdir()
    (target / "inside").touch()  # a non-empty folder: the rename fails
    with pytest.raises(OSError) as info:
        atomic_write(target, lambda f: f.write(b"x"))
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)

    def disk_full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "history.json", disk_full)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(
        tmp_path / "history.json"
    )

    def offline(f):
        raise ConnectionError("the server sent 3 of 9 bytes")

    with pytest.raises(ConnectionError, match="3 of 9"):  # the writer's own errors pass through
        atomic_write(tmp_path / "tarball", offline)
    assert list(tmp_path.glob(".*.tmp")) == []
