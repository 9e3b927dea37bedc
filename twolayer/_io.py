"""Atomic file writes: a crash or Ctrl-C mid-write never leaves a half-written file.

Every writer goes to a temporary file in the destination's folder and renames it
into place; the rename is atomic on POSIX and Windows, so readers see the old
file or the new one, never a mixture.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; the files written here are
# ordinary outputs, so they get the permissions any new file would.
_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(f)`` on a temporary binary file, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_savez(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` to an uncompressed ``.npz`` at ``path`` atomically."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


# What np.load and reading its members raise for a file that is not a sound .npz:
# an empty file (EOFError), a truncated or damaged zip (BadZipFile, also on a bad
# CRC when a member is read), pickled or malformed data (ValueError).
_NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)


def open_npz(path: str | os.PathLike, what: str) -> np.lib.npyio.NpzFile:
    """Open an ``.npz`` without pickle (use it as a context manager), with clear errors.

    ``what`` names the file for the messages, e.g. "model file" or "checkpoint".
    """
    try:
        f = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    except _NPZ_ERRORS as e:
        raise ValueError(f"{path} is not a readable .npz {what} ({e})") from None
    if not isinstance(f, np.lib.npyio.NpzFile):  # a lone .npy array
        raise ValueError(f"{path} is a .npy array, not a .npz {what}")
    return f


def read_npz(path: str | os.PathLike, what: str) -> dict[str, np.ndarray]:
    """Every member of an ``.npz``, read without pickle, with clear errors.

    Raises FileNotFoundError or ValueError (naming ``path`` and ``what``) for a
    missing, empty, truncated or corrupt file.
    """
    with open_npz(path, what) as f:
        try:
            return {k: f[k] for k in f.files}
        except _NPZ_ERRORS as e:
            raise ValueError(f"{path} is a truncated or corrupt {what} ({e})") from None


CACHE_ENV = "TWOLAYER_CACHE"


def cache_dir() -> Path:
    """The root of twolayer's caches (decoded images, preprocessed arrays):
    ``$TWOLAYER_CACHE``, else ``$XDG_CACHE_HOME/twolayer``, else ``~/.cache/twolayer``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "twolayer"
