"""The decode cache: decoded image arrays kept on disk so a second run skips decoding.

An entry is an uncompressed ``.npz`` (the images (M, S, S, C) uint8 and the indices
of unreadable files) named by a hash of the file list (absolute paths, sizes and
modification times) and the decode settings (image size, grayscale). Changing,
adding, removing or touching any image gives a new key, so a stale entry is never
read. Entries are written atomically, so an interrupted run leaves no half-written file, and the
temporary files of writers killed mid-write are swept when the next entry is stored.

The folder is ``images/`` in the cache folder of :mod:`twolayer.cache`
(``$TWOLAYER_CACHE``, default ``~/.cache/twolayer``), which caps the caches' size and
evicts the least recently used entries; it is safe to delete at any time.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from twolayer._io import open_npz
from twolayer.cache import open_cache
from twolayer.datasets.images import decode_images

_FORMAT = "twolayer decoded images v2"  # change when the decoding itself changes


def cache_key(paths: Sequence[str | os.PathLike[str]], image_size: int, grayscale: bool) -> str:
    """A hash of the files (absolute path, size, mtime) and the decode settings."""
    digest = hashlib.sha256(f"{_FORMAT}\n{image_size}\n{bool(grayscale)}\n".encode())
    for path in (os.fspath(p) for p in paths):
        st = os.stat(path) if os.path.exists(path) else os.lstat(path)  # a broken link too
        path = path if os.path.isabs(path) else os.path.abspath(path)
        line = f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


def _read_entry(path: Path, n: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """The entry at ``path`` if it is whole and fits ``n`` files of ``shape``; else None."""
    if not path.is_file():
        return None
    try:
        with open_npz(path, "decode cache entry") as f:
            images, bad = f["images"], f["bad"]
    except Exception:  # any damage (not a zip, a short member, ...) means: decode again
        return None
    fits = (
        images.dtype == np.uint8
        and images.shape == (n - bad.size, *shape)
        and bad.dtype.kind == "i"
        and bad.ndim == 1
        and (bad.size == 0 or (bad.min() >= 0 and bad.max() < n))
    )
    return (images, bad) if fits else None


def _about(paths: Sequence[str | os.PathLike], image_size: int, channels: int) -> str:
    """What an entry holds, for ``twolayer cache list``: "120 images of /data/pets, ..."."""
    try:
        where = f" of {os.path.commonpath([os.path.abspath(p) for p in paths])}"
    except ValueError:  # no paths, or on several Windows drives
        where = ""
    return f"{len(paths)} images{where}, decoded to {image_size}x{image_size}x{channels}"


def decode_cached(
    paths: Sequence[str | os.PathLike],
    image_size: int = 32,
    grayscale: bool = False,
    skip_bad: bool = False,
    cache: bool = True,
    folder: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~twolayer.datasets.images.decode_images`, read from the cache when it can be.

    ``folder`` overrides the cache folder (default :func:`twolayer.cache.cache_dir`;
    the entry goes in its ``images/``); ``cache=False`` neither reads nor writes it.
    An entry that recorded unreadable files is used only with ``skip_bad``; without
    it the files are decoded again so the error names the file. A cache that cannot
    be written is a warning, not an error: the run goes on with the decoded arrays.
    """
    if not cache:
        return decode_images(paths, image_size, grayscale, skip_bad, workers, progress)
    disk = open_cache(folder)
    entry = disk.entry("images", cache_key(paths, image_size, grayscale))
    channels = 1 if grayscale else 3
    if disk.hit(entry):
        hit = _read_entry(entry, len(paths), (image_size, image_size, channels))
        if hit is not None and (skip_bad or hit[1].size == 0):
            return hit
    images, bad = decode_images(paths, image_size, grayscale, skip_bad, workers, progress)
    try:
        disk.store(entry, {"images": images, "bad": bad}, _about(paths, image_size, channels))
    except OSError as e:
        print(
            f"warning: could not write the decode cache {entry} ({e}); decoding again next time",
            file=sys.stderr,
        )
    return images, bad
