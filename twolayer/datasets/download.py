"""Fetching CIFAR-10: download with an MD5 check, then safe extraction into place.

Nothing partial is ever left behind: the tarball streams into a temporary file that is
renamed into place only once its MD5 matches, and the archive is unpacked into a
temporary folder whose ``cifar-10-batches-py`` is renamed into place at the end. Those
temporaries carry their process id, and the next call sweeps those of a killed process.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PureWindowsPath
from typing import BinaryIO

from tqdm import tqdm

from twolayer._io import atomic_write, make_owned_dir, sweep_stale

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER_NAME = "cifar-10-batches-py"
TARBALL_NAME = "cifar-10-python.tar.gz"

_EXTRACT_STEM = ".cifar-10-extract"
_CHUNK = 1 << 20
_TIMEOUT_S = 60


def where_to_put(root: str | os.PathLike) -> str:
    """Say where a manually fetched copy of CIFAR-10 must go for ``root``."""
    root = Path(root)
    return (
        f"download {CIFAR10_URL} yourself and put it at {root / TARBALL_NAME}, "
        f"or put its extracted folder at {root / FOLDER_NAME}"
    )


def file_md5(path: str | os.PathLike) -> str:
    """Hex MD5 digest of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download_cifar10(
    root: str | os.PathLike = "data",
    url: str = CIFAR10_URL,
    md5: str | None = CIFAR10_MD5,
    progress: bool = True,
) -> Path:
    """Make sure ``root/cifar-10-batches-py`` exists, downloading it if needed; return its path.

    An extracted folder already in ``root`` is returned as is. Otherwise an existing
    ``root/cifar-10-python.tar.gz`` is used instead of downloading; either way the tarball
    must match ``md5`` (pass ``md5=None`` to accept a tarball that is not the official
    release, e.g. one you built yourself). Raises ``ConnectionError`` when the download
    fails, ``ValueError`` for an MD5 mismatch or a corrupt or unsafe archive.
    """
    root = Path(root)
    # What a download or extraction killed midway left: only that of processes now gone.
    sweep_stale(root, f"{_EXTRACT_STEM}.*")
    sweep_stale(root, f".{TARBALL_NAME}.*.tmp")
    target = root / FOLDER_NAME
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tarball = root / TARBALL_NAME
    if tarball.is_file():
        if md5 is not None and (actual := file_md5(tarball)) != md5:
            raise ValueError(
                f"{tarball} differs from the official CIFAR-10 release (MD5 {actual}, "
                f"expected {md5}); delete it to download a fresh copy, or use it as is with "
                "--skip-md5 (md5=None in download_cifar10)"
            )
    else:
        _fetch(url, tarball, md5, progress)
    return _extract(tarball, root)


def _fetch(url: str, tarball: Path, md5: str | None, progress: bool) -> None:
    """Stream ``url`` to ``tarball`` via a temporary file, keeping it only if the MD5 matches."""

    def write(f: BinaryIO) -> None:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            digest = hashlib.md5(usedforsecurity=False)
            size = 0
            with tqdm(
                total=total, unit="B", unit_scale=True, desc="CIFAR-10", disable=not progress
            ) as bar:
                while chunk := response.read(_CHUNK):
                    f.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
        if total is not None and size != total:
            raise ConnectionError(f"the server sent {size} of {total} bytes")
        if md5 is not None and digest.hexdigest() != md5:
            raise ValueError(
                f"the file downloaded from {url} has MD5 {digest.hexdigest()}, expected "
                f"{md5}; it was deleted. Try again, or {where_to_put(tarball.parent)}"
            )

    try:
        atomic_write(tarball, write)  # deletes the temporary file on any error
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
        # HTTPError's str has the status code; a bare URLError's reason is the socket error.
        reason = exc if isinstance(exc, urllib.error.HTTPError) else getattr(exc, "reason", exc)
        raise ConnectionError(
            f"could not download CIFAR-10 from {url} ({reason}); {where_to_put(tarball.parent)}"
        ) from exc


def _check_member(member: tarfile.TarInfo, tarball: Path) -> None:
    """Refuse anything but plain files and folders that stay inside the destination."""
    name = member.name
    if member.issym() or member.islnk():
        kind = "a link"  # CIFAR-10 has none, so refuse them all rather than judge targets
    elif not (member.isfile() or member.isdir()):
        kind = "a device, FIFO or other special file"
    elif PureWindowsPath(name).anchor or ".." in PureWindowsPath(name).parts:
        # Windows rules are the strict superset: "/x", "C:x" and "\\x" all have an anchor,
        # and both "/" and "\\" separate parts.
        kind = "a path outside the destination"
    else:
        return
    raise ValueError(
        f"{tarball} contains an unsafe member {name!r} ({kind}); nothing was extracted. "
        f"The official CIFAR-10 tarball holds only plain files: delete {tarball} and "
        f"download it again from {CIFAR10_URL}"
    )


def _extract(tarball: Path, root: Path) -> Path:
    """Unpack ``tarball`` into a temporary folder in ``root``, then rename its folder into place."""
    tmp = make_owned_dir(root, _EXTRACT_STEM)
    try:
        try:
            with tarfile.open(tarball, "r:*") as tar:
                members = tar.getmembers()
                # Every member is checked before anything is written, on every Python; the
                # "data" filter (3.10.12+, 3.11.4+, 3.12) then also drops unsafe permissions.
                for member in members:
                    _check_member(member, tarball)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:
                    tar.extractall(tmp, members=members)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ValueError(
                f"{tarball} is truncated or corrupt ({exc}); delete it and run again to "
                "download a fresh copy"
            ) from exc
        extracted = tmp / FOLDER_NAME
        if not extracted.is_dir():
            raise ValueError(
                f"{tarball} has no {FOLDER_NAME}/ folder: it is not the CIFAR-10 python "
                f"version; delete it and download {CIFAR10_URL}"
            )
        target = root / FOLDER_NAME
        os.replace(extracted, target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
