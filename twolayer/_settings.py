"""The Solver's keyword arguments: their defaults, and checks of them and of the data.

Pure functions, each failing with a clear ValueError: they take values and return
them checked and normalized, so that the Solver's ``__init__`` reads as one line
per setting.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from twolayer import fast, optim
from twolayer._constraints import (
    FRACTION,
    LEARNING_RATE,
    NON_NEGATIVE,
    POSITIVE,
    SCHEDULES,
    check,
    is_number,
    schedule_problems,
)
from twolayer._validate import check_finite, check_labels, check_positive_int

DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")

#: Keyword arguments of :class:`Solver` and their defaults (CS231n's, plus the additions).
SOLVER_DEFAULTS: dict[str, Any] = {
    "update_rule": "sgd",
    "optim_config": {},
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "keep_checkpoints": None,
    "print_every": 10,
    "verbose": True,
    "seed": None,
    "progress": True,
    "lr_schedule": "step",
    "warmup_epochs": 0.0,
    "augment": None,
    "eval_batch_size": 1000,
    "patience": None,
    "on_epoch_end": None,
    "ema_decay": None,
    "ema_start_epoch": 1,
    "mixup_alpha": None,
    "restart_epochs": None,
}


def check_data(data: dict[str, np.ndarray], model: Any) -> tuple[Any, ...]:
    """``X_train, y_train, X_val, y_val`` from ``data``, checked against the model, and
    the number of classes the model scores."""
    missing = [k for k in DATA_KEYS if k not in data]
    if missing:
        raise ValueError(f"data is missing {', '.join(missing)}; it needs {', '.join(DATA_KEYS)}")
    X_train, y_train, X_val, y_val = (np.asarray(data[k]) for k in DATA_KEYS)
    for name, X in (("X_train", X_train), ("X_val", X_val)):
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"{name} must have shape (N, ...) with N >= 1, got {X.shape}")
        check_finite(X, name)
    # The number of classes comes from the model's own output, so any model fits.
    num_classes = np.shape(model.loss(X_train[:1]))[1]
    check_labels(y_train, num_classes, n=X_train.shape[0], name="y_train")
    check_labels(y_val, num_classes, n=X_val.shape[0], name="y_val")
    return X_train, y_train, X_val, y_val, num_classes


def loss_takes_rng(model: Any) -> bool:
    """Whether ``model.loss`` takes an ``rng`` keyword (for dropout masks, say)."""
    try:
        return "rng" in inspect.signature(model.loss).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False


def positive_int_or_none(value: Any, name: str) -> int | None:
    """None, or ``value`` as a positive int."""
    return None if value is None else check_positive_int(value, name)


def count_or_none(value: Any, name: str) -> int | None:
    """None, or ``value`` as an int >= 0."""
    if value is None or (value == 0 and not isinstance(value, bool)):
        return None if value is None else 0
    return check_positive_int(value, name)


def callable_or_none(f: Any, name: str, signature: str) -> Callable | None:
    """None, or ``f`` if it is callable."""
    if f is not None and not callable(f):
        raise ValueError(f"{name} must be a callable {signature}, got {f!r}")
    return f


def positive_or_off(value: Any, name: str) -> float | None:
    """None (for None or 0: off), or ``value`` as a float (``ema_decay`` in [0, 1),
    ``mixup_alpha`` >= 0, as the run's settings of the same names)."""
    if value is None or (is_number(value) and value == 0):
        return None
    return float(check(name, value, _OFF_OR[name]))


_OFF_OR = {"ema_decay": FRACTION, "mixup_alpha": NON_NEGATIVE}


def check_optim_config(optim_config: Any) -> dict[str, float]:
    """A copy of ``optim_config``, whose values must be numbers (NumPy ones become Python's)."""
    if not isinstance(optim_config, dict):
        raise ValueError(f"optim_config must be a dict of numbers, got {optim_config!r}")
    checked = {}
    for key, value in optim_config.items():
        if not is_number(value):
            raise ValueError(f"optim_config[{key!r}] must be a number, got {value!r}")
        checked[key] = value.item() if isinstance(value, np.number) else value
    check("weight_decay", checked.get("weight_decay", 0.0), NON_NEGATIVE)
    return checked


def initial_learning_rate(optim_config: dict[str, float], rule: Callable) -> float:
    """``optim_config["learning_rate"]``, or the default of a built-in ``rule``.

    The built-in rules are twolayer.fast's kernels and twolayer.optim's reference rules.
    """
    builtin = {
        f: name for rules in (fast.UPDATE_RULES, optim.UPDATE_RULES) for name, f in rules.items()
    }
    default = optim.DEFAULTS.get(builtin.get(rule, ""), {}).get("learning_rate")
    lr = optim_config.get("learning_rate", default)
    if lr is None:
        raise ValueError('a custom update_rule needs optim_config["learning_rate"]')
    return float(check("learning_rate", lr, LEARNING_RATE))


def positive_float(value: Any, name: str) -> float:
    """``value`` as a float, raising unless it is a finite number > 0."""
    return float(check(name, value, POSITIVE))


def check_warmup(warmup_epochs: Any) -> float:
    """``warmup_epochs`` as a float, raising unless it is >= 0 (the schedule's rules:
    :func:`check_schedule`)."""
    return float(check("warmup_epochs", warmup_epochs, NON_NEGATIVE))


def check_schedule(
    lr_schedule: Any,
    lr_decay: float,
    warmup_epochs: float,
    restart_epochs: Any,
    num_epochs: int,
) -> float | None:
    """Raise unless the learning-rate schedule's settings fit together, by the run's rules
    (:func:`twolayer._constraints.schedule_problems`); return ``restart_epochs`` as a
    float (None unless the schedule is "cosine_restarts")."""
    check("lr_schedule", lr_schedule, SCHEDULES)
    if restart_epochs is not None:
        restart_epochs = positive_float(restart_epochs, "restart_epochs")
    problems = schedule_problems(lr_schedule, lr_decay, warmup_epochs, restart_epochs, num_epochs)
    if problems:
        raise ValueError("; ".join(problems))
    return restart_epochs


def param_configs(optim_config: dict, params: dict[str, np.ndarray]) -> dict[str, dict]:
    """Each param's own copy of ``optim_config``, without weight decay for the biases."""
    return {
        name: {**optim_config, "weight_decay": 0.0}
        if "weight_decay" in optim_config and np.ndim(w) < 2
        else dict(optim_config)
        for name, w in params.items()
    }
