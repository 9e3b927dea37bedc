"""One process per folder: a lock file that keeps a second run out of a run directory, or a
second search out of a search directory.

    with lock_folder(run_dir, "run"):   # FolderInUseError if another process holds it
        ...

The lock is an OS file lock (``flock``; ``msvcrt.locking`` on Windows) on
``folder/.lock``, so it is released when its process ends, however it ends: a
killed run never leaves its folder locked. The file holds the holder's pid, for
the message; it stays in place (removing it would let two processes lock two
different files of the same name).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

LOCK_FILE = ".lock"
#: Written first into every run directory (by twolayer.runs): the proof that a folder is one.
RUN_MARKER = ".twolayer-run"


class FolderInUseError(OSError):
    """Another live process holds the folder's lock."""


def _try_lock(fd: int) -> bool:
    try:
        if sys.platform == "win32":
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError, or PermissionError from msvcrt
        return False
    return True


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return f"pid {text}" if text.isdigit() else "a process whose pid it did not record"


@contextmanager
def lock_folder(folder: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold ``folder``'s lock for the ``with`` block; ``what`` ("run", "search") is for messages.

    Raises FolderInUseError, naming the holder's pid, if another process holds it.
    """
    folder = Path(folder)
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _try_lock(fd):
            raise FolderInUseError(
                f"{folder} is in use by another {what} ({_holder(path)}); wait for it to end "
                "or stop it, or use another folder"
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield folder
    finally:
        os.close(fd)  # releases the lock
