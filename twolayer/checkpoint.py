"""Checkpoint files: a nested dict of NumPy arrays and JSON values in one ``.npz``.

    checkpoint.save({"params": {"W1": W1}, "state": {"epoch": 3}}, "run.npz")
    state = checkpoint.load("run.npz")       # the same nested dict back

Each array becomes an npz member named by its keys joined with "/" (``params/W1``);
everything else (numbers, strings, None, lists, the dicts themselves) is one JSON
string in the member ``__json__``, together with the format name. Files are written
atomically and read with pickle disabled. The dict's key order is not kept.

This module knows nothing about what the dict holds: the Solver's state is
``Solver.state_dict()``, saved by ``Solver.save_checkpoint``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from twolayer._io import NPZ_ERRORS, atomic_savez, open_npz, read_npz

FORMAT = "twolayer-checkpoint/2"
JSON_MEMBER = "__json__"


def save(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` (.npz) atomically; returns the path.

    ``state``: a dict with non-empty string keys without "/", whose values are NumPy
    arrays, JSON values (None, bool, int, float, str, lists of them) or such dicts.
    Raises ValueError for a bad key, TypeError for a value of another type.
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _split(state, (), arrays)
    if JSON_MEMBER in arrays:
        raise ValueError(f"the key {JSON_MEMBER!r} is reserved for the checkpoint's JSON")
    arrays[JSON_MEMBER] = np.array(json.dumps({"format": FORMAT, "tree": tree}))
    return atomic_savez(path, arrays)


def _split(node: Any, keys: tuple[str, ...], arrays: dict[str, np.ndarray] | None) -> Any:
    """``node`` as JSON, its arrays moved into ``arrays`` (None: no arrays allowed here)."""
    if isinstance(node, dict):
        tree = {}
        for key, value in node.items():
            if not isinstance(key, str) or not key or "/" in key:
                where = "/".join(keys) or "the top level"
                raise ValueError(
                    f"checkpoint keys must be non-empty strings without '/'; got {key!r} in {where}"
                )
            if isinstance(value, np.ndarray) and arrays is not None:
                arrays["/".join((*keys, key))] = value
            else:
                tree[key] = _split(value, (*keys, key), arrays)
        return tree
    if isinstance(node, (list, tuple)):
        # An array's member is named by its dict keys, so lists hold JSON values only.
        return [_split(value, (*keys, str(i)), None) for i, value in enumerate(node)]
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    raise TypeError(
        f"{'/'.join(keys)} is a {type(node).__name__}; a checkpoint holds NumPy arrays "
        "(as dict values) and JSON values: None, bool, int, float, str, lists and dicts"
    )


def load_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON part of the dict that :func:`save` wrote (everything but the arrays),
    read without reading the arrays. Raises as :func:`load` does."""
    with open_npz(path, "checkpoint") as f:
        if JSON_MEMBER not in f.files:
            raise ValueError(f"{path} is not a twolayer checkpoint")
        try:
            meta_json = f[JSON_MEMBER]
        except NPZ_ERRORS as e:
            raise ValueError(f"{path} is a truncated or corrupt checkpoint ({e})") from None
    return _parse_meta(meta_json, path)


def load(path: str | os.PathLike) -> dict[str, Any]:
    """The nested dict that :func:`save` wrote to ``path``.

    Raises FileNotFoundError for a missing file and ValueError, naming the file, for
    an empty, truncated, corrupt or foreign one.
    """
    arrays = read_npz(path, "checkpoint")
    meta_json = arrays.pop(JSON_MEMBER, None)
    if meta_json is None:
        old = "meta_json" in arrays  # the first format, before checkpoints were plain dicts
        hint = " (it has an older format, which this version cannot read)" if old else ""
        raise ValueError(f"{path} is not a twolayer checkpoint{hint}")
    tree = _parse_meta(meta_json, path)
    for name, array in arrays.items():
        *parents, key = name.split("/")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise ValueError(f"{path} is a corrupt checkpoint: member {name} has no place")
        node[key] = array
    return tree


def _parse_meta(meta_json: np.ndarray, path: str | os.PathLike) -> dict[str, Any]:
    try:
        meta = json.loads(str(meta_json))
        tree = meta["tree"]
        fmt = meta["format"]
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{path} is a corrupt checkpoint: unreadable JSON ({e})") from None
    if fmt != FORMAT:
        raise ValueError(f"{path} has checkpoint format {fmt!r}; this version reads {FORMAT!r}")
    if not isinstance(tree, dict):
        raise ValueError(f"{path} is a corrupt checkpoint: its JSON is not an object")
    return tree
