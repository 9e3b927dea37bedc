"""Solver checkpoints: all the state needed to continue a run bit for bit, in one ``.npz``.

Arrays are npz members: ``param/{name}``, ``best/{name}``, ``optim/{name}/{key}``
(optimizer state such as ``m``), ``perm`` (the current epoch's order, if one is
under way) and ``history/{name}`` (float64). Everything else (settings, counters,
optimizer scalars, the generator's ``bit_generator.state``) is one JSON string in
``meta_json``. Nothing is pickled, and files are written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twolayer._io import atomic_savez, open_npz
from twolayer._settings import param_configs

if TYPE_CHECKING:
    from twolayer.solver import Solver

FORMAT = "twolayer-solver-checkpoint/1"
HISTORIES = ("loss", "lr", "train_acc", "val_acc", "val_loss", "epoch_time")


def save(solver: Solver, params: dict[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Write ``solver``'s state, with ``params`` as the current weights, to ``path``."""
    arrays: dict[str, np.ndarray] = {}
    optim: dict[str, dict[str, Any]] = {}
    for name, w in params.items():
        arrays[f"param/{name}"] = w
        arrays[f"best/{name}"] = solver.best_params[name]
        scalars, keys = {}, []
        for key, value in solver.optim_configs[name].items():
            if key.startswith("_"):  # a custom rule's caches (the built-in rules keep none)
                continue
            if isinstance(value, np.ndarray):
                arrays[f"optim/{name}/{key}"] = value
                keys.append(key)
            elif isinstance(value, np.generic):
                scalars[key] = value.item()
            elif value is None or isinstance(value, (bool, int, float, str)):
                scalars[key] = value
            else:
                raise TypeError(
                    f"optimizer state {name}[{key!r}] is a {type(value).__name__}; a checkpoint "
                    "holds only arrays and JSON scalars"
                )
        optim[name] = {"scalars": scalars, "arrays": keys}
    if solver._perm is not None:
        arrays["perm"] = solver._perm
    for h in HISTORIES:
        arrays[f"history/{h}"] = np.asarray(getattr(solver, f"{h}_history"), dtype=np.float64)
    meta = {
        "format": FORMAT,
        "settings": solver._settings,
        "custom": solver._custom,
        "params": list(params),
        "optim": optim,
        "data": {
            "n_train": solver.X_train.shape[0],
            "n_val": solver.X_val.shape[0],
            "x_shape": list(solver.X_train.shape[1:]),
        },
        "state": {
            "epoch": solver.epoch,
            "t": solver.t,
            "pos": solver._pos,
            "learning_rate": solver.learning_rate,
            "best_val_acc": solver.best_val_acc,
            "best_val_loss": solver.best_val_loss,
            "best_epoch": solver.best_epoch,
            "epochs_since_best": solver._epochs_since_best,
            "epoch_elapsed": solver._epoch_elapsed,
            "rng": solver.rng.bit_generator.state,
        },
    }
    arrays["meta_json"] = np.array(json.dumps(meta))
    return atomic_savez(path, arrays)


def load(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON metadata and the arrays of a checkpoint written by :func:`save`."""
    with open_npz(path, "checkpoint") as f:
        arrays = {k: f[k] for k in f.files}
    meta_json = arrays.pop("meta_json", None)
    meta = None if meta_json is None else json.loads(str(meta_json))
    if meta is None or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a twolayer Solver checkpoint (format {FORMAT})")
    return meta, arrays


def resume_settings(
    meta: dict[str, Any], overrides: dict[str, Any], path: str | os.PathLike
) -> dict[str, Any]:
    """The Solver keyword arguments of the checkpointed run, updated by ``overrides``."""
    for key, name in meta["custom"].items():
        if name is not None and key not in overrides:
            raise ValueError(
                f"{path} was trained with a custom {key} ({name}), which a checkpoint cannot "
                f"store; pass it again: Solver.resume(path, model, data, {key}=...)"
            )
    return {**meta["settings"], **overrides}


def restore(
    solver: Solver,
    meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
    optim_overrides: dict[str, Any],
    path: str | os.PathLike,
) -> None:
    """Put the checkpointed state into a freshly built ``solver``."""
    data = meta["data"]
    found = {
        "n_train": solver.X_train.shape[0],
        "n_val": solver.X_val.shape[0],
        "x_shape": list(solver.X_train.shape[1:]),
    }
    if found != data:
        raise ValueError(f"{path} was trained on data {data}, not {found}; pass the same data")
    model_params = solver.model.params
    names = meta["params"]
    if set(names) != set(model_params):
        raise ValueError(f"{path} has params {sorted(names)}, the model {sorted(model_params)}")
    for name in names:
        w = arrays[f"param/{name}"]
        if w.shape != model_params[name].shape:
            raise ValueError(
                f"{path}: {name} has shape {w.shape} but the model's is {model_params[name].shape}"
            )
        model_params[name] = w
    solver.best_params = {name: arrays[f"best/{name}"] for name in names}
    overrides = param_configs(optim_overrides, model_params)  # biases: no weight decay
    solver.optim_configs = {
        name: {
            **meta["optim"][name]["scalars"],
            **overrides[name],
            **{key: arrays[f"optim/{name}/{key}"] for key in meta["optim"][name]["arrays"]},
        }
        for name in names
    }
    state = meta["state"]
    solver._set_lr(float(optim_overrides.get("learning_rate", state["learning_rate"])))
    solver.rng.bit_generator.state = state["rng"]
    solver.epoch, solver.t, solver._pos = state["epoch"], state["t"], state["pos"]
    solver._perm = arrays.get("perm")
    solver.best_val_acc = state["best_val_acc"]
    solver.best_val_loss = state["best_val_loss"]
    solver.best_epoch = state["best_epoch"]
    solver._epochs_since_best = state["epochs_since_best"]
    solver._epoch_elapsed = state["epoch_elapsed"]
    solver.stopped_early = (
        solver.patience is not None and solver._epochs_since_best >= solver.patience
    )
    for h in HISTORIES:
        setattr(solver, f"{h}_history", arrays[f"history/{h}"].tolist())
