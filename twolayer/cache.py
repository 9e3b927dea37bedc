"""twolayer's on-disk caches: their folder, what is in it, the size cap and its eviction.

Two caches share one folder (:func:`cache_dir`), each entry one ``.npz`` file:

    prep-<key>.npz     preprocessed images and the fitted preprocessing (twolayer.prepcache)
    images/<key>.npz   decoded image folders (twolayer.datasets.image_cache)

Both write through :meth:`Cache.store`, which writes the entry atomically and then
evicts the least recently used entries, of either kind, until the cache is within its
cap (``$TWOLAYER_CACHE_MAX``, default :data:`DEFAULT_MAX`). A hit calls
:meth:`Cache.hit`, which sets the entry's modification time to now: that time is its
"last used". The entry just written is never evicted, so one entry larger than the cap
stays (alone) until the next write. Evicting an entry another process is reading is
safe: a file open for reading keeps its contents after it is unlinked (POSIX), and
where the system refuses to remove an open file (Windows) it is skipped. Files in the
folder that are not entries (a user's own, temporary files of live writers) are never
touched.

    cache = open_cache()                      # checks $TWOLAYER_CACHE_MAX, once
    path = cache.entry("prep", key)
    if cache.hit(path): ...read path...
    else: cache.store(path, arrays, about="zca of 49000 images")
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twolayer._io import NPZ_ERRORS, atomic_savez, open_npz, sweep_stale

CACHE_ENV = "TWOLAYER_CACHE"
MAX_ENV = "TWOLAYER_CACHE_MAX"
DEFAULT_MAX = 2 * 1024**3  # bytes: a few CIFAR-10 preprocessing entries

#: Each kind of entry: its subfolder of the cache folder, and the prefix of its file
#: names (the rest is a hex key and ``.npz``).
KINDS: dict[str, tuple[str, str]] = {"prep": ("", "prep-"), "images": ("images", "")}
_ABOUT = "about"  # the member of an entry that says what it holds, for `twolayer cache list`

_UNITS = {"": 1, "b": 1} | {
    f"{letter}{suffix}": base**power
    for power, letter in enumerate("kmgt", start=1)
    for suffix, base in (("", 1024), ("ib", 1024), ("b", 1000))
}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")


def cache_dir() -> Path:
    """The root of twolayer's caches (decoded images, preprocessed arrays):
    ``$TWOLAYER_CACHE``, else ``$XDG_CACHE_HOME/twolayer``, else ``~/.cache/twolayer``."""
    if os.environ.get(CACHE_ENV):
        try:
            return Path(os.environ[CACHE_ENV]).expanduser()
        except RuntimeError as e:  # ~nosuchuser/x: no such user's home to expand to
            raise ValueError(
                f"{CACHE_ENV}={os.environ[CACHE_ENV]!r} cannot be used ({e}); set it to a folder "
                "path, or unset it"
            ) from None
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "twolayer"


def parse_size(text: str) -> int | None:
    """Bytes in a size such as ``2GiB``, ``500M``, ``1.5G``, ``800MB`` or ``1000000``;
    None for ``off`` (no cap). K, M, G, T and KiB... are powers of 1024, KB... of 1000."""
    t = text.strip().lower()
    if t == "off":
        return None
    match = _SIZE.fullmatch(t)
    if match is None or match[2] not in _UNITS:
        raise ValueError(
            f"{MAX_ENV} must be a size such as 2GiB, 500MiB or 0, or off for no cap; got {text!r}"
        )
    return int(float(match[1]) * _UNITS[match[2]])


def cache_max() -> int | None:
    """The cap in bytes from ``$TWOLAYER_CACHE_MAX`` (unset or empty: :data:`DEFAULT_MAX`),
    None for no cap; ValueError for a value that is not a size."""
    text = os.environ.get(MAX_ENV, "")
    return DEFAULT_MAX if not text.strip() else parse_size(text)


def format_size(n: float) -> str:
    """``n`` bytes for people: ``512 B``, ``1.5 KiB``, ``410.2 MiB``, ``2.0 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Entry:
    """One cache entry: its kind (a key of :data:`KINDS`), file, size in bytes, and the
    time it was last written or read (seconds since the epoch)."""

    kind: str
    path: Path
    size: int
    last_used: float


@dataclass(frozen=True)
class Cache:
    """The cache folder ``root`` and its cap ``max_bytes`` (None: no cap)."""

    root: Path
    max_bytes: int | None

    def entry(self, kind: str, key: str) -> Path:
        """The file of the ``kind`` entry named by ``key`` (a hex digest)."""
        folder, prefix = KINDS[kind]
        return self.root / folder / f"{prefix}{key}.npz"

    def hit(self, path: Path) -> bool:
        """Whether entry ``path`` exists; if so it becomes the most recently used."""
        try:
            os.utime(path)
        except FileNotFoundError:
            return False
        except OSError:  # a cache someone else owns, read-only: usable, but not touched
            return path.is_file()
        return True

    def store(self, path: Path, arrays: Mapping[str, np.ndarray], about: str) -> Path:
        """Write entry ``path`` atomically (``about`` says what it holds), then evict.

        Raises OSError when the entry cannot be written.
        """
        sweep_stale(path.parent)  # what killed writers left
        atomic_savez(path, {**arrays, _ABOUT: np.array(about)})
        self.evict(keep=path)
        return path

    def entries(self) -> list[Entry]:
        """Every entry, most recently used first. OSError if the folder cannot be read."""
        found = []
        for kind, (folder, prefix) in KINDS.items():
            pattern = re.compile(re.escape(prefix) + r"[0-9a-f]+\.npz")
            try:
                names = os.scandir(self.root / folder)
            except FileNotFoundError:
                continue
            with names:
                for item in names:
                    if not pattern.fullmatch(item.name) or not item.is_file(follow_symlinks=False):
                        continue
                    try:
                        st = item.stat(follow_symlinks=False)
                    except FileNotFoundError:  # evicted by another process meanwhile
                        continue
                    path = Path(item.path)
                    found.append(Entry(kind, path, st.st_size, st.st_mtime_ns / 1e9))
        return sorted(found, key=lambda e: (e.last_used, e.path.name), reverse=True)

    def evict(self, keep: Path | None = None) -> list[Entry]:
        """Remove the least recently used entries but ``keep`` until the total is within
        the cap; returns those removed."""
        if self.max_bytes is None:
            return []
        entries = self.entries()
        total = sum(e.size for e in entries)
        removed = []
        for e in reversed(entries):  # oldest first
            if total <= self.max_bytes:
                break
            if e.path != keep and _remove(e.path):
                total -= e.size
                removed.append(e)
        return removed

    def clear(self, kind: str | None = None, older_than_s: float | None = None) -> list[Entry]:
        """Remove every entry (of ``kind``; last used more than ``older_than_s`` seconds
        ago), and what killed writers left; returns the entries removed."""
        now = time.time()
        removed = []
        for e in self.entries():
            if kind is not None and e.kind != kind:
                continue
            if older_than_s is not None and now - e.last_used <= older_than_s:
                continue
            if _remove(e.path):
                removed.append(e)
        for folder, _ in KINDS.values():
            if (self.root / folder).is_dir():
                sweep_stale(self.root / folder)
        return removed


def open_cache(root: str | os.PathLike | None = None) -> Cache:
    """The cache in ``root`` (default :func:`cache_dir`) with the cap of
    ``$TWOLAYER_CACHE_MAX``; ValueError if that is not a size."""
    return Cache(Path(root) if root is not None else cache_dir(), cache_max())


def describe(entry: Entry) -> str:
    """What ``entry`` holds, as its writer said; or why that is not known."""
    try:
        with open_npz(entry.path, "cache entry") as f:
            if _ABOUT not in f.files:
                return "(not recorded: written by twolayer 0.3 or older)"
            return str(f[_ABOUT])
    except FileNotFoundError:
        return "(removed meanwhile)"
    except NPZ_ERRORS:
        return "(unreadable: damaged; it is rebuilt when next needed)"


def _remove(path: Path) -> bool:
    """Whether ``path`` is gone: removed now, or by another process first."""
    try:
        path.unlink(missing_ok=True)
    except OSError:  # e.g. open in another process on Windows, or not ours to delete
        return False
    return True
