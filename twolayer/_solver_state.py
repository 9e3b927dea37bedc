"""The Solver's state as plain data, for checkpoints that resume a run exactly.

:class:`SolverState` gives :class:`twolayer.solver.Solver` its ``state_dict()``,
``load_state_dict(state)``, ``save_checkpoint(path)`` and ``Solver.resume(path, model,
data, **overrides)``, and writes the checkpoints of a run's epochs. The state is a
nested dict of NumPy arrays and JSON values, with the parts in ``STATE_KEYS`` (and
``averages``, the weight average, None when there is none); :mod:`twolayer.checkpoint`
writes such a dict to a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from twolayer import checkpoint
from twolayer._io import reading
from twolayer._settings import SOLVER_DEFAULTS, check_optim_config, param_configs
from twolayer.history import HISTORY_KEYS

if TYPE_CHECKING:
    from twolayer.averaging import WeightAverage

S = TypeVar("S", bound="SolverState")

#: The parts of ``Solver.state_dict()``.
STATE_KEYS = ("settings", "custom", "data", "params", "best_params", "optim", "history", "state")


class SolverState:
    """The state methods of :class:`twolayer.solver.Solver`, which this is mixed into."""

    # The Solver's attributes and methods that these read, for the type checker.
    model: Any
    X_train: np.ndarray
    X_val: np.ndarray
    optim_config: dict[str, Any]
    optim_configs: dict[str, dict[str, Any]]
    weight_average: WeightAverage
    learning_rate: float
    rng: np.random.Generator
    patience: int | None
    checkpoint_name: str | None
    keep_checkpoints: int | None
    _last_params: dict[str, np.ndarray] | None

    if TYPE_CHECKING:

        def __init__(self, model: Any, data: dict[str, np.ndarray], **kwargs: Any) -> None: ...
        def _set_lr(self, lr: float) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly: NumPy arrays and JSON values.

        The arrays are copies, so training on leaves the dict as it was. ``settings``
        holds the keyword arguments, but a callable (a custom update_rule, augment)
        cannot be stored: ``custom`` records its name, to be passed again on resume.
        on_epoch_end watches the run without being part of it, and is left out.
        """
        params = self._last_params if self._last_params is not None else self.model.params
        custom = {
            k: callable_name(getattr(self, k))
            for k in ("update_rule", "augment")
            if callable(getattr(self, k))
        }
        settings = {k: getattr(self, k) for k in SOLVER_DEFAULTS if k != "on_epoch_end"}
        settings.update(dict.fromkeys(custom), optim_config=dict(self.optim_config))
        return {
            "settings": settings,
            "custom": custom,
            "data": data_shape(self.X_train, self.X_val),
            "params": {k: w.copy() for k, w in params.items()},
            "best_params": {k: w.copy() for k, w in self.best_params.items()},
            "averages": self.weight_average.state(),
            "optim": {k: optim_state(k, c) for k, c in self.optim_configs.items()},
            "history": {k: np.array(getattr(self, k), dtype=np.float64) for k in HISTORY_KEYS},
            "state": {
                "epoch": self.epoch,
                "t": self.t,
                "pos": self._pos,
                "perm": None if self._perm is None else self._perm.copy(),
                "learning_rate": float(self.learning_rate),
                "rng": self.rng.bit_generator.state,
                "best_val_acc": float(self.best_val_acc),
                "best_val_loss": float(self.best_val_loss),
                "best_epoch": self.best_epoch,
                "epochs_since_best": self._epochs_since_best,
                "epoch_elapsed": self._epoch_elapsed,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the run that ``state`` (from :meth:`state_dict`) describes.

        The settings stay this Solver's own: ``Solver.resume`` builds one from the
        saved settings. Raises ValueError, before changing anything, if ``state`` is
        incomplete, or was saved for other data or for params of other names or shapes.
        """
        check_state(state, data_shape(self.X_train, self.X_val), self.model.params)
        params = self.model.params
        s = state["state"]
        for k in params:
            params[k] = state["params"][k].copy()
        self._last_params = None
        self.best_params = {k: state["best_params"][k].copy() for k in params}
        self.weight_average.load(state.get("averages"))  # older checkpoints have none
        self.optim_configs = {
            k: {key: v.copy() if isinstance(v, np.ndarray) else v for key, v in c.items()}
            for k, c in state["optim"].items()
        }
        self._set_lr(s["learning_rate"])
        self.rng.bit_generator.state = s["rng"]
        self.epoch, self.t, self._pos = s["epoch"], s["t"], s["pos"]
        self._perm = None if s["perm"] is None else s["perm"].copy()
        self.best_val_acc, self.best_val_loss = s["best_val_acc"], s["best_val_loss"]
        self.best_epoch = s["best_epoch"]
        self._epochs_since_best = s["epochs_since_best"]
        self._epoch_elapsed = s["epoch_elapsed"]
        # patience may have changed since the state was saved
        self.stopped_early = self.patience is not None and self._epochs_since_best >= self.patience
        for k in HISTORY_KEYS:
            setattr(self, k, np.asarray(state["history"][k], dtype=np.float64).tolist())

    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Write :meth:`state_dict` to ``path`` (.npz), atomically."""
        return checkpoint.save(self.state_dict(), path)

    def _save_epoch_checkpoint(self) -> None:
        """Write ``{checkpoint_name}_epoch_{epoch}.npz`` if the run keeps checkpoints, and
        delete the interrupt's checkpoint it supersedes and any beyond keep_checkpoints."""
        if self.checkpoint_name is None or self.keep_checkpoints == 0:
            return
        self.save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.npz")
        Path(f"{self.checkpoint_name}_interrupted.npz").unlink(missing_ok=True)
        if self.keep_checkpoints is not None:
            old = self.epoch - self.keep_checkpoints
            Path(f"{self.checkpoint_name}_epoch_{old}.npz").unlink(missing_ok=True)

    def _interrupt_path(self) -> Path:
        """Where an interrupted run's checkpoint goes."""
        if self.checkpoint_name is not None:
            return Path(f"{self.checkpoint_name}_interrupted.npz")
        return Path(tempfile.gettempdir()) / f"twolayer_{os.getpid()}_interrupted.npz"

    @classmethod
    def resume(
        cls: type[S],
        path: str | os.PathLike,
        model: Any,
        data: dict[str, np.ndarray],
        *,
        state: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> S:
        """A Solver restored from a checkpoint, ready for ``train()`` to continue the run.

        ``model`` must have params of the checkpoint's shapes (they are overwritten)
        and ``data`` must be the same data. ``overrides`` replace saved settings, e.g.
        ``num_epochs=20``; a custom ``update_rule`` or ``augment`` must be passed again,
        and ``on_epoch_end`` too if wanted. Optimizer state, including the current
        learning rate, comes from the checkpoint; entries of an overriding
        ``optim_config`` replace its values. ``state``: the checkpoint's dict, already
        read (a finished run's final state, completed from its model file); ``path``
        then only names it in messages.
        """
        if state is None:
            state = checkpoint.load(path)
        with reading(path, "checkpoint"):  # a damaged file: one error naming it
            settings = resume_settings(state, overrides, path)
        try:
            solver = cls(model, data, **settings)
        except (ValueError, TypeError) as e:
            raise ValueError(f"resuming from {path}: {e}") from None
        with reading(path, "checkpoint"):
            try:
                solver.load_state_dict(state)
            except ValueError as e:
                raise ValueError(f"{path}: {e}") from None
        new = {k: solver.optim_config[k] for k in overrides.get("optim_config", {})}
        for name, config in param_configs(new, model.params).items():
            solver.optim_configs[name].update(config)  # biases: still no weight decay
        if "learning_rate" in new:
            solver._set_lr(new["learning_rate"])
        return solver


def resume_settings(
    state: dict[str, Any], overrides: dict[str, Any], path: str | os.PathLike
) -> dict[str, Any]:
    """The Solver keyword arguments of a saved run (``Solver.state_dict()``), overridden.

    Entries of an overriding ``optim_config`` replace the saved ones; a custom
    ``update_rule`` or ``augment`` (saved by name only) must be among ``overrides``.
    """
    if not {"settings", "custom"} <= state.keys():
        raise ValueError(f"{path} is a twolayer checkpoint but not of a Solver")
    for key, name in state["custom"].items():
        if key not in overrides:
            raise ValueError(
                f"{path} was trained with a custom {key} ({name}), which a checkpoint cannot "
                f"store; pass it again: Solver.resume(path, model, data, {key}=...)"
            )
    settings = {**state["settings"], **overrides}
    if "optim_config" in overrides:
        new = check_optim_config(overrides["optim_config"])
        settings["optim_config"] = {**state["settings"]["optim_config"], **new}
    return settings


def data_shape(X_train: np.ndarray, X_val: np.ndarray) -> dict[str, Any]:
    """What a saved state must match: the sizes of the splits and the examples' shape."""
    return {
        "n_train": int(X_train.shape[0]),
        "n_val": int(X_val.shape[0]),
        "x_shape": [int(d) for d in X_train.shape[1:]],
    }


def optim_state(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """A copy of param ``name``'s optimizer config, as arrays and JSON scalars."""
    state: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("_"):  # a custom rule's caches (the built-in rules keep none)
            continue
        if isinstance(value, np.ndarray):
            state[key] = value.copy()
        elif isinstance(value, np.generic):
            state[key] = value.item()
        elif value is None or isinstance(value, (bool, int, float, str)):
            state[key] = value
        else:
            raise TypeError(
                f"optimizer state {name}[{key!r}] is a {type(value).__name__}; a checkpoint "
                "holds only arrays and JSON scalars"
            )
    return state


def check_state(
    state: dict[str, Any], shape: dict[str, Any], params: dict[str, np.ndarray]
) -> None:
    """Raise unless ``state`` is a complete Solver state for data of ``shape`` and ``params``."""
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"not a Solver state: it lacks {', '.join(missing)}")
    if state["data"] != shape:
        raise ValueError(
            f"the run was trained on data {state['data']}, but this data is {shape}; "
            "pass the same data"
        )
    for group in ("params", "best_params", "optim"):
        if state[group].keys() != params.keys():
            raise ValueError(
                f"the saved {group} are {sorted(state[group])}, the model's params "
                f"{sorted(params)}; build the model as for the saved run"
            )
    averages = state.get("averages")
    if averages is not None and averages.keys() != params.keys():
        raise ValueError(
            f"the saved averages are of {sorted(averages)}, the model's params {sorted(params)}"
        )
    for group in ("params", "best_params", "averages"):
        for k, w in (state.get(group) or {}).items():
            w, model_w = np.asarray(w), params[k]
            if (w.shape, w.dtype) != (model_w.shape, model_w.dtype):
                raise ValueError(
                    f"the saved {k} is {w.dtype} {w.shape}, the model's {model_w.dtype} "
                    f"{model_w.shape}; build the model as for the saved run"
                )


def callable_name(f: Callable) -> str:
    """``module.qualname`` of ``f``, to tell a user which callable to pass again."""
    name = getattr(f, "__qualname__", None) or repr(f)
    module = getattr(f, "__module__", None)
    return f"{module}.{name}" if module else name
