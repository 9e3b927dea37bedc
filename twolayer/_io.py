"""Atomic file writes: a crash or Ctrl-C mid-write never leaves a half-written file.

Every writer goes to a temporary file in the destination's folder and renames it
into place; the rename is atomic on POSIX and Windows, so readers see the old
file or the new one, never a mixture. A temporary name carries its writer's
process id (``.model.npz.<pid>-<random>.tmp``), so that what a killed process
left behind can be told from what a live one is writing: :func:`sweep_stale`
removes the former.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from twolayer._memory import available_bytes, format_bytes

#: Age after which a temporary file or folder without a process id (written by an
#: older version, or with another naming) counts as abandoned.
UNOWNED_MAX_AGE_S = 3600

_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}
_OWNED = re.compile(r"\.(\d+)-[0-9a-f]{8}(\.tmp)?$")


def owned_name(stem: str, suffix: str = "") -> str:
    """``{stem}.{pid}-{8 hex}{suffix}``: a fresh name that says which process made it."""
    return f"{stem}.{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def is_stale(path: Path) -> bool:
    """Whether ``path``, named by :func:`owned_name`, was left by a process that is gone.

    A name without a process id counts as stale once older than UNOWNED_MAX_AGE_S.
    """
    match = _OWNED.search(path.name)
    if match is not None:
        return not _alive(int(match[1]))
    try:
        return time.time() - path.lstat().st_mtime > UNOWNED_MAX_AGE_S
    except FileNotFoundError:
        return False


def sweep_stale(folder: str | os.PathLike, pattern: str = ".*.tmp") -> list[Path]:
    """Delete the files and folders matching ``pattern`` in ``folder`` left by dead processes.

    Returns what was removed. Those of live processes (a concurrent writer) are kept.
    """
    removed = []
    for path in sorted(Path(folder).glob(pattern)):
        if not is_stale(path):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def make_owned_dir(parent: str | os.PathLike, stem: str) -> Path:
    """Create and return a fresh folder ``parent/{owned_name(stem)}``, private to its owner."""
    while True:
        path = Path(parent) / owned_name(stem)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # 32 random bits: only by a rare coincidence
            continue
        return path


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(f)`` on a temporary binary file, then rename it to ``path``.

    An OSError names ``path``, not the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / owned_name(f".{path.name}", ".tmp")
    try:
        # Created with the mode any new file gets (0666 less the umask), from the start.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        # Name the file the caller asked for, not the temporary one (nor nothing, for a
        # full disk); errors of ``write`` itself, e.g. a failed download, stay as they are.
        ours = e.filename is not None and os.fspath(e.filename) == os.fspath(tmp)
        if ours or (e.filename is None and e.errno in _WRITE_ERRNOS):
            raise OSError(e.errno, e.strerror, os.fspath(path)) from e
        raise
    return path


def atomic_savez(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` to an uncompressed ``.npz`` at ``path`` atomically."""
    # savez takes the arrays as keywords: mypy cannot tell that none is named allow_pickle
    return atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


# -- reading: every file the project reads goes through these, so that a damaged or
# foreign file is one clear error naming it, never a traceback from deep inside.

# What np.load and reading its members raise for a file that is not a sound .npz:
# an empty file (EOFError), a truncated or damaged zip (BadZipFile, also on a bad
# CRC when a member is read), pickled or malformed data (ValueError).
NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)
# What code interpreting a file's parsed content raises when the content is not what
# it should be: a missing key, a value of the wrong type or shape, JSON nested too
# deeply to parse.
_CONTENT_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"


def open_npz(path: str | os.PathLike, what: str) -> np.lib.npyio.NpzFile:
    """Open an ``.npz`` without pickle (use it as a context manager), with clear errors.

    ``what`` names the file for the messages, e.g. "model file" or "checkpoint".
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_NPY_MAGIC))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    if magic.startswith(_NPY_MAGIC):
        raise ValueError(f"{path} is a .npy array, not a .npz {what}")
    if not magic.startswith(_ZIP_MAGIC):
        # np.load would try it as a pickle and talk of allow_pickle: say what it is.
        why = "it is empty" if not magic else "it is not a zip archive"
        raise ValueError(f"{path} is not a readable .npz {what}: {why} (damaged, or foreign)")
    try:
        npz = np.load(path, allow_pickle=False)
        sizes = _npz_sizes(npz)
    except NPZ_ERRORS as e:
        raise ValueError(f"{path} is not a readable .npz {what} ({e})") from None
    try:
        check_npz_sizes(sizes, path, what)
    except ValueError:
        npz.close()
        raise
    return npz


def _npz_sizes(npz: np.lib.npyio.NpzFile) -> dict[str, tuple[tuple[int, ...], int, int]]:
    """Each array's shape, bytes claimed by its header, and bytes its member holds."""
    sizes = {}
    assert npz.zip is not None  # open until the NpzFile is closed
    for info in npz.zip.infolist():
        if not info.filename.endswith(".npy"):
            continue
        with npz.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = getattr(np.lib.format, f"read_array_header_{version[0]}_{version[1]}")
            shape, _, dtype = read_header(member)
            held = info.file_size - member.tell()
        if not dtype.hasobject:  # object arrays are refused by np.load, without pickle
            sizes[info.filename[: -len(".npy")]] = (shape, math.prod(shape) * dtype.itemsize, held)
    return sizes


def check_npz_sizes(
    sizes: Mapping[str, tuple[tuple[int, ...], int, int]], path: str | os.PathLike, what: str
) -> None:
    """Refuse, before anything is read, an ``.npz`` whose arrays would not fit in memory
    (a compressed file can expand a thousandfold) or whose array headers claim more
    elements than the file holds (a damaged or forged header)."""
    for name, (shape, claimed, held) in sizes.items():
        if claimed > held:
            raise ValueError(
                f"{path} is a damaged {what}: its array {name} claims shape {shape} "
                f"({format_bytes(claimed)}) but holds {format_bytes(held)}"
            )
    total = sum(claimed for _, claimed, _ in sizes.values())
    available = available_bytes()
    if available is not None and total > available:
        raise ValueError(
            f"{path} expands to {format_bytes(total)} of arrays, more than the "
            f"{format_bytes(available)} of memory available: too large to load (or a "
            "decompression bomb)"
        )


def read_npz(path: str | os.PathLike, what: str) -> dict[str, np.ndarray]:
    """Every member of an ``.npz``, read without pickle, with clear errors.

    Raises FileNotFoundError or ValueError (naming ``path`` and ``what``) for a
    missing, empty, truncated or corrupt file.
    """
    with open_npz(path, what) as f:
        try:
            return {k: f[k] for k in f.files}
        except NPZ_ERRORS as e:
            raise ValueError(f"{path} is a truncated or corrupt {what} ({e})") from None


def read_json(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; ValueError naming the file if it is not one."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"{path} is not a valid JSON {what} ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold a JSON object, got {type(data).__name__}")
    return data


@contextmanager
def reading(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Turn errors raised while interpreting ``path``'s content into one ValueError naming it.

    with reading(path, "model file"):
        config = json.loads(str(arrays["config_json"]))   # KeyError -> ValueError
    """
    try:
        yield
    except _CONTENT_ERRORS as e:
        detail = f"{type(e).__name__}: {e}" if isinstance(e, KeyError) else str(e)
        if str(path) in detail:  # already a message about this file
            raise ValueError(detail) from None
        raise ValueError(f"{path} is not a twolayer {what}, or is damaged ({detail})") from None
