"""A data set's fingerprint: one hash per split, so that a resumed run can tell its own
data from other data of the same size.

    fp = data_fingerprint(data)          # {"train": "sha256:...", "val": ..., "test": ...}
    changed_splits(recorded, fp)         # ["train"] when the training data is not the same

A split's hash covers its features X (N, ...) and labels y (N,): their dtypes, shapes
and bytes, as loaded (before any preprocessing), so that swapped labels, a replaced
image or an edited CSV cell all give another hash. The class names, when the data has
them, are hashed too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test")


def array_digest(*arrays: np.ndarray) -> str:
    """``sha256:<hex>`` of the arrays' dtypes, shapes and bytes, in order."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.data.cast("B"))
    return f"sha256:{digest.hexdigest()}"


def data_fingerprint(data: Mapping[str, Any]) -> dict[str, str]:
    """The hash of each split in ``data`` (``X_train``, ``y_train``, ...) and of its
    ``class_names``, if any."""
    fp = {s: array_digest(data[f"X_{s}"], data[f"y_{s}"]) for s in SPLITS if f"X_{s}" in data}
    if "class_names" in data:
        names = json.dumps([str(n) for n in data["class_names"]]).encode()
        fp["classes"] = f"sha256:{hashlib.sha256(names).hexdigest()}"
    return fp


def changed_splits(recorded: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """The parts (splits, class names) whose hash differs, or that only one side has."""
    return [k for k in (*SPLITS, "classes") if recorded.get(k) != now.get(k)]
