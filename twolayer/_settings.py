"""The Solver's keyword arguments: their defaults, and their checks with clear errors.

``resolve_settings`` turns the keyword arguments into the Solver's attributes, so
that ``twolayer.solver`` holds only the training loop.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from twolayer._validate import check_positive_int
from twolayer.fast.kernels import DEFAULTS, UPDATE_RULES, get_update_rule

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
}


def resolve_settings(s: dict[str, Any]) -> dict[str, Any]:
    """The Solver's attributes for the settings ``s`` (every key of SOLVER_DEFAULTS).

    Raises ValueError, saying what is wrong, for any setting out of range.
    """
    r = SimpleNamespace()
    r.update_rule = s["update_rule"]
    r._update = get_update_rule(r.update_rule)
    rule_name = next((k for k, f in UPDATE_RULES.items() if f is r._update), None)
    r.augment = s["augment"]  # augment(X_batch, rng) -> X_batch, or None
    if r.augment is not None and not callable(r.augment):
        raise ValueError(f"augment must be a callable (X_batch, rng), got {r.augment!r}")
    # Callables cannot go into a checkpoint: record their names, to be passed again.
    r._custom = {
        "update_rule": None if rule_name else _name(r._update),
        "augment": None if r.augment is None else _name(r.augment),
    }

    r.optim_config = dict(s["optim_config"])
    for key, value in r.optim_config.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"optim_config[{key!r}] must be a number, got {value!r}")
        r.optim_config[key] = value.item() if isinstance(value, np.number) else value
    default_lr = DEFAULTS.get(rule_name, {}).get("learning_rate")
    lr = r.optim_config.get("learning_rate", default_lr)
    if lr is None:
        raise ValueError('a custom update_rule needs optim_config["learning_rate"]')
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"learning_rate must be a finite number > 0, got {lr!r}")
    r._base_lr = float(lr)
    decay = r.optim_config.get("weight_decay", 0.0)
    if not math.isfinite(decay) or decay < 0:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {decay!r}")

    r.batch_size = check_positive_int(s["batch_size"], "batch_size")
    r.num_epochs = check_positive_int(s["num_epochs"], "num_epochs")
    r.print_every = check_positive_int(s["print_every"], "print_every")
    r.eval_batch_size = check_positive_int(s["eval_batch_size"], "eval_batch_size")
    r.num_train_samples, r.num_val_samples, r.patience = (
        None if s[k] is None else check_positive_int(s[k], k)
        for k in ("num_train_samples", "num_val_samples", "patience")
    )
    r.lr_schedule = s["lr_schedule"]
    if r.lr_schedule not in ("step", "cosine"):
        raise ValueError(f'lr_schedule must be "step" or "cosine", got {r.lr_schedule!r}')
    r.lr_decay = float(s["lr_decay"])
    if not math.isfinite(r.lr_decay) or r.lr_decay <= 0:
        raise ValueError(f"lr_decay must be a finite number > 0, got {s['lr_decay']!r}")
    r.warmup_epochs = float(s["warmup_epochs"])
    if not 0 <= r.warmup_epochs <= r.num_epochs:
        raise ValueError(f"warmup_epochs must lie in [0, num_epochs], got {s['warmup_epochs']}")
    if r.lr_schedule == "step" and r.warmup_epochs:
        raise ValueError('warmup_epochs needs lr_schedule="cosine"')
    if r.lr_schedule == "cosine" and r.lr_decay != 1.0:
        raise ValueError('lr_decay applies to lr_schedule="step"; cosine decays on its own')
    r.seed = None if s["seed"] is None else int(s["seed"])
    name = s["checkpoint_name"]
    r.checkpoint_name = None if name is None else os.fspath(name)
    keep = s["keep_checkpoints"]
    r.keep_checkpoints = None if keep is None else check_positive_int(keep, "keep_checkpoints")
    r.verbose = bool(s["verbose"])
    r.progress = bool(s["progress"]) and r.verbose
    r._settings = {
        **{k: getattr(r, k) for k in SOLVER_DEFAULTS if k not in r._custom},
        "update_rule": rule_name,
        "augment": None,
        "progress": bool(s["progress"]),
    }
    return vars(r)


def _name(f: Callable) -> str:
    return getattr(f, "__qualname__", None) or repr(f)


def param_configs(optim_config: dict, params: dict[str, np.ndarray]) -> dict[str, dict]:
    """Each param's own copy of ``optim_config``, without weight decay for the biases."""
    return {
        name: {**optim_config, "weight_decay": 0.0}
        if "weight_decay" in optim_config and np.ndim(w) < 2
        else dict(optim_config)
        for name, w in params.items()
    }
