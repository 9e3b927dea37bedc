"""Build small fake CIFAR-10 folders and tarballs in the exact official format, for tests.

The files are what the real release holds, only shorter: protocol-2 pickles of dicts with
byte-string keys, ``data`` an (n, 3072) uint8 array of 1024 red, 1024 green and 1024 blue
values per row. Import it from any test: ``from fake_cifar import make_fake_cifar10``.
"""

from __future__ import annotations

import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np

FOLDER_NAME = "cifar-10-batches-py"
TARBALL_NAME = "cifar-10-python.tar.gz"
LABEL_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer",
               b"dog", b"frog", b"horse", b"ship", b"truck"]  # fmt: skip


def write_batch(
    path: Path, data: np.ndarray, labels: list[int], str_keys: bool = False, protocol: int = 2
) -> None:
    """Pickle one batch like the official files (bytes keys, protocol 2) unless told otherwise."""
    batch = {
        b"batch_label": path.name.encode(),
        b"labels": list(labels),
        b"data": data,
        b"filenames": [f"{path.name}_{i:05d}.png".encode() for i in range(len(labels))],
    }
    if str_keys:
        batch = {k.decode(): v for k, v in batch.items()}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


def make_fake_cifar10(
    root: Path, n_per_batch: int = 20, seed: int = 0, tarball: bool = False
) -> Path:
    """Write a fake ``root/cifar-10-batches-py`` with five training batches and a test batch.

    Each batch has ``n_per_batch`` random images with labels cycling through all ten
    classes (in shuffled order). Returns the folder, or with ``tarball=True`` only
    ``root/cifar-10-python.tar.gz`` holding it (the folder itself is removed).
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    folder = root / FOLDER_NAME
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = rng.permutation(np.arange(n_per_batch) % 10).tolist()
        write_batch(folder / name, data, labels)
    meta = {b"label_names": LABEL_NAMES, b"num_cases_per_batch": n_per_batch, b"num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    if not tarball:
        return folder
    path = root / TARBALL_NAME
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=FOLDER_NAME)
    shutil.rmtree(folder)
    return path
