"""One run's settings, :class:`RunConfig`, and :func:`build`: the model and Solver they make.

    config = preset("cifar10", "best").replace(epochs=20)
    model, solver = build(config, data)        # data: X_train, y_train, X_val, y_val
    solver.train()
    assert RunConfig.from_dict(config.to_dict()) == config

A RunConfig holds every setting that decides what a run computes: the data, the
model, the solver, the evaluation and the seed; not where its files go or how many
threads compute it. Each dataset reads its own data settings (:data:`DATASET_FIELDS`);
the others are None. The same config, data and seed give the same weights, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from twolayer._constraints import (
    FRACTION,
    LEARNING_RATE,
    NON_NEGATIVE,
    POSITIVE,
    SCHEDULES,
    Check,
    Constraint,
    Interval,
    Options,
    problem,
    schedule_problems,
)
from twolayer.datasets.augment import SPEC_FORMS, augment_from_spec
from twolayer.datasets.tta import TTA_VIEWS
from twolayer.model import TwoLayerNet
from twolayer.optim import UPDATE_RULES
from twolayer.solver import Solver

#: The user's own data, read from the path ``data``: a folder of images, a CSV, an npz.
OWN_DATA = ("images", "csv", "npz")
DATASETS = ("spiral", "cifar10", *OWN_DATA)
#: The data settings each dataset reads; every other data setting of a run is None.
DATASET_FIELDS: dict[str, tuple[str, ...]] = {
    "spiral": ("num_per_class", "classes", "noise", "val_fraction", "data_seed"),
    "cifar10": ("data_dir", "num_train", "num_val", "preprocess", "zca_epsilon", "store_dtype"),
    "images": ("data", "image_size", "grayscale", "skip_bad", "val_fraction", "data_seed")
    + ("preprocess", "zca_epsilon", "store_dtype"),
    "csv": ("data", "label_column", "val_fraction", "data_seed", "preprocess"),
    "npz": ("data", "val_fraction", "data_seed", "preprocess", "zca_epsilon", "store_dtype"),
}
#: Settings for which None is a value: data_seed None is the run's seed; patience None
#: never stops early; train_acc_samples None measures the train accuracy on all of it;
#: label_column None is "label", else the CSV's last column; data None (in the presets
#: of the user's own data) is filled in from the command line's PATH; restart_epochs is
#: None unless lr_schedule is cosine_restarts.
NONE_ALLOWED = (
    "data", "data_seed", "label_column", "patience", "train_acc_samples", "restart_epochs"
)  # fmt: skip
TRAIN_KEYS = ("X_train", "y_train", "X_val", "y_val")


@dataclass(frozen=True)
class RunConfig:
    """Every knob of a training run; make one with :func:`preset` and :meth:`replace`.

    data: ``dataset`` ("spiral", "cifar10", or the user's own: "images", "csv", "npz");
    ``data``, the path of the user's folder or file (None for the first two). cifar10:
    ``data_dir`` (the folder holding cifar-10-batches-py/), ``num_train`` (the first
    images of the 50,000), ``num_val`` (the last ones), ``preprocess`` ("zca", "mean"
    or "standardize": per feature), ``zca_epsilon``, ``store_dtype`` (the processed
    images' dtype in memory). spiral: ``num_per_class``, ``classes``, ``noise`` (angle
    noise, rad), ``val_fraction``, ``data_seed`` (seeds the points; None: ``seed``).
    images (see twolayer.datasets.folder): ``image_size`` (S: the centre square resized
    to S x S), ``grayscale``, ``skip_bad`` (leave out unreadable images instead of
    failing), ``val_fraction`` and ``data_seed`` (the stratified validation split, when
    the data has no val/), and the preprocessing settings. csv: ``label_column``
    (None: "label", else the last column), the split settings and ``preprocess``. npz:
    the split, preprocessing and ``store_dtype`` settings.
    model: ``hidden`` (H), ``weight_scale`` (std, or "he" for sqrt(2 / fan_in)),
    ``dtype``, ``label_smoothing``, ``dropout`` and ``input_dropout`` (the probability
    of dropping each hidden unit, each input feature, while training; 0: off), ``reg``
    (L2 strength) and ``reg_as``: "loss" adds the L2 term to the loss (and its curve),
    "weight_decay" adds its gradient in the update rule instead: the same weights, and
    the training loss is the data loss.
    solver: ``optimizer``, ``lr``, ``lr_schedule`` ("cosine", "cosine_restarts" or
    "step"), ``lr_decay`` (per epoch, step schedule), ``warmup_epochs`` (cosine),
    ``restart_epochs`` (cosine_restarts: the epochs between restarts; None for the
    others), ``epochs``, ``batch_size``,
    ``augment`` ("none", or e.g. "flip+translate2" or "flip+translate2+cutout8+noise0.05":
    see twolayer.datasets.augment), ``mixup_alpha`` (mixup: each batch blended with a
    shuffled copy of itself, weights from Beta(alpha, alpha); 0: off), ``ema_decay``
    (weight averaging: evaluate and keep an exponential moving average of the weights,
    updated after each step with this decay; 0: off) and ``ema_start_epoch`` (the epoch,
    1-based, whose first step starts the average), ``patience`` (epochs without a better
    val accuracy before stopping; None: never), ``train_acc_samples`` (training examples
    the per-epoch train accuracy is taken on; None: all).
    evaluation: ``tta`` (test-time views averaged, a key of ``TTA_VIEWS``).
    ``seed`` seeds the weights and the batches (and the spiral's points).
    """

    dataset: str
    data: str | None
    data_dir: str | None
    num_train: int | None
    num_val: int | None
    preprocess: str | None
    zca_epsilon: float | None
    store_dtype: str | None
    num_per_class: int | None
    classes: int | None
    noise: float | None
    val_fraction: float | None
    data_seed: int | None
    image_size: int | None
    grayscale: bool | None
    skip_bad: bool | None
    label_column: str | None
    hidden: int
    weight_scale: float | str
    dtype: str
    label_smoothing: float
    dropout: float
    input_dropout: float
    reg: float
    reg_as: str
    optimizer: str
    lr: float
    lr_schedule: str
    lr_decay: float
    warmup_epochs: float
    restart_epochs: float | None
    epochs: int
    batch_size: int
    augment: str
    mixup_alpha: float
    ema_decay: float
    ema_start_epoch: int
    patience: int | None
    train_acc_samples: int | None
    tta: str
    seed: int

    def __post_init__(self) -> None:
        errors = []
        for name, hint in _HINTS.items():
            value, error = _typed(getattr(self, name), hint)
            if error is not None:
                errors.append(f"{name} {error}")
                continue
            object.__setattr__(self, name, value)  # e.g. an int lr read from JSON -> float
            error = _check_value(name, value)
            if error is not None:
                errors.append(error)
        if not errors:
            errors = _check_run(self)
        if errors:
            raise ValueError("; ".join(errors))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-safe dict, every field included."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """The config ``d`` describes; settings it leaves out are its dataset's defaults.

        Raises ValueError naming any unknown key and any value of the wrong type or range.
        """
        if not isinstance(d, dict):
            raise ValueError(f"run settings must be a JSON object, got {type(d).__name__}")
        if "dataset" not in d:
            raise ValueError(f"run settings need a dataset ({', '.join(DATASETS)})")
        return preset(d["dataset"]).replace(**{k: v for k, v in d.items() if k != "dataset"})

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied (and checked); raises ValueError for unknown keys."""
        unknown = sorted(set(changes) - set(_HINTS))
        errors = []
        if unknown:
            known = ", ".join(_HINTS)
            errors.append(f"unknown run setting(s) {', '.join(unknown)} (known: {known})")
        try:
            config = dataclasses.replace(self, **{k: changes[k] for k in changes if k in _HINTS})
        except ValueError as e:
            errors.append(str(e))
        if errors:
            raise ValueError("; ".join(errors))
        return config


_HINTS: dict[str, Any] = typing.get_type_hints(RunConfig)
_KIND_WORDS = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}


def _typed(value: Any, hint: Any) -> tuple[Any, str | None]:
    """``value`` as the type ``hint`` allows (an int where a float is asked becomes one)."""
    allowed = typing.get_args(hint) or (hint,)
    if value is None:
        return value, None if type(None) in allowed else "must be set, got null"
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value), None
    if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, tuple(allowed)):
        kinds = " or ".join(_KIND_WORDS[t] for t in allowed if t is not type(None))
        return value, f"must be {kinds}, got {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return value, f"must be a finite number, got {value!r}"
    return value, None


def _augment_ok(spec: Any) -> bool:
    try:
        augment_from_spec(spec)
    except ValueError:
        return False
    return True


#: The strongest L2 taken.
MAX_REG = 1e3
#: The one table of each setting's allowed values beyond its type (None, where a
#: setting allows it, is always allowed); the Solver checks its arguments of the same
#: meaning against the same objects (:mod:`twolayer._constraints`).
CONSTRAINTS: dict[str, Constraint] = {
    "dataset": Options(DATASETS),
    "preprocess": Options(("zca", "mean", "standardize")),
    "store_dtype": Options(("float16", "float32")),
    "dtype": Options(("float32", "float64")),
    "reg_as": Options(("loss", "weight_decay")),
    "optimizer": Options(tuple(sorted(UPDATE_RULES))),
    "lr_schedule": SCHEDULES,
    "tta": Options(tuple(TTA_VIEWS)),
    **dict.fromkeys(
        ("num_train", "num_val", "zca_epsilon", "num_per_class", "hidden", "lr_decay")
        + ("image_size", "restart_epochs")
        + ("epochs", "batch_size", "patience", "train_acc_samples", "ema_start_epoch"),
        POSITIVE,
    ),
    "lr": LEARNING_RATE,
    **dict.fromkeys(("noise", "warmup_epochs", "seed", "data_seed", "mixup_alpha"), NON_NEGATIVE),
    # Beyond this the penalty alone decides (or overflows) the loss, whatever the rate.
    "reg": Interval(0, MAX_REG, "both"),
    "classes": Interval(2, None, "left"),
    "val_fraction": Interval(0, 1, "neither"),
    **dict.fromkeys(("label_smoothing", "dropout", "input_dropout", "ema_decay"), FRACTION),
    "weight_scale": Check(lambda v: v == "he" or (not isinstance(v, str) and v > 0), '> 0 or "he"'),
    "augment": Check(_augment_ok, SPEC_FORMS),
}
#: The allowed values of each setting that has a fixed set of them.
CHOICES: dict[str, tuple[Any, ...]] = {
    name: c.values for name, c in CONSTRAINTS.items() if isinstance(c, Options)
}


def _check_value(name: str, value: Any) -> str | None:
    if value is None or name not in CONSTRAINTS:
        return None
    return problem(name, value, CONSTRAINTS[name])


def check_setting(name: str, value: Any) -> Any:
    """``value`` as setting ``name`` takes it (an int where a float is asked becomes
    one), or ValueError saying what is wrong, as :class:`RunConfig` checks it."""
    if name not in _HINTS:
        raise ValueError(f"unknown run setting {name!r}; known: {', '.join(_HINTS)}")
    value, error = _typed(value, _HINTS[name])
    if error is not None:
        raise ValueError(f"{name} {error}")
    error = _check_value(name, value)
    if error is not None:
        raise ValueError(error)
    return value


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _check_run(c: RunConfig) -> list[str]:
    """What no single setting shows: data settings of another dataset, schedules."""
    errors = []
    own = DATASET_FIELDS[c.dataset]
    foreign = []  # said in one sentence, however many
    # Each name once: "data" is a field of several datasets.
    for name in dict.fromkeys(("data", *(f for fields in DATASET_FIELDS.values() for f in fields))):
        value = getattr(c, name)
        if name not in own and value is not None:
            foreign.append((name, repr(value)))
        elif name in own and value is None and name not in NONE_ALLOWED:
            errors.append(f"{name} must be set for {c.dataset}")
    if foreign:
        names, values = (_and(list(v)) for v in zip(*foreign, strict=True))
        are = (
            f"is not a {c.dataset} setting"
            if len(foreign) == 1
            else f"are not {c.dataset} settings"
        )
        them = "it" if len(foreign) == 1 else "them"
        errors.insert(0, f"{names} {are} (leave {them} out), got {values}")
    if c.dataset in ("spiral", "csv"):  # an npz's rows may be images: checked on loading
        errors += [
            f'{name} must be "none" for {c.dataset} data (its rows are not images), got {value!r}'
            for name, value in (("augment", c.augment), ("tta", c.tta))
            if value != "none"
        ]
    errors += schedule_problems(
        c.lr_schedule, c.lr_decay, c.warmup_epochs, c.restart_epochs, c.epochs
    )
    if not c.ema_decay and c.ema_start_epoch != 1:
        errors.append(
            f"ema_start_epoch {c.ema_start_epoch} without ema_decay: no weights are averaged; "
            "give ema_decay (e.g. 0.999) too, or drop ema_start_epoch"
        )
    if c.ema_decay and c.ema_start_epoch > c.epochs:
        errors.append(
            f"ema_start_epoch {c.ema_start_epoch} is after the last epoch ({c.epochs}): "
            "the weights would never be averaged"
        )
    return errors


_NO_DATA: dict[str, Any] = dict.fromkeys(f for fields in DATASET_FIELDS.values() for f in fields)
_SPIRAL = RunConfig(
    **{**_NO_DATA, "dataset": "spiral", "num_per_class": 100, "classes": 3, "noise": 0.2,
       "val_fraction": 0.2},
    hidden=100, weight_scale="he", dtype="float32", label_smoothing=0.0, dropout=0.0,
    input_dropout=0.0, reg=1e-5, reg_as="loss", optimizer="adam", lr=0.05,
    lr_schedule="cosine", lr_decay=1.0, warmup_epochs=0.0, restart_epochs=None, epochs=50,
    batch_size=16,
    augment="none", mixup_alpha=0.0, ema_decay=0.0, ema_start_epoch=1, patience=None,
    train_acc_samples=None, tta="none", seed=0,
)  # fmt: skip
_CIFAR10 = _SPIRAL.replace(
    **{**_NO_DATA, "dataset": "cifar10", "data_dir": "data", "num_train": 49_000,
       "num_val": 1_000, "preprocess": "zca", "zca_epsilon": 0.1, "store_dtype": "float16"},
    # hidden 512, adam 1e-3 cosine, L2 as weight decay, smoothing, flips and 2 px shifts.
    hidden=512, label_smoothing=0.1, reg=5e-4, reg_as="weight_decay", lr=1e-3, epochs=10,
    batch_size=200, augment="flip+translate2", train_acc_samples=1000, tta="flip+translate1",
)  # fmt: skip
# The user's images: CIFAR-10's recipe, 10% of the training images held out (stratified).
_IMAGES = _CIFAR10.replace(
    **{**_NO_DATA, "dataset": "images", "image_size": 32, "grayscale": False, "skip_bad": False,
       "val_fraction": 0.1, "preprocess": "zca", "zca_epsilon": 0.1, "store_dtype": "float16"},
)  # fmt: skip
# Tables: standardized features; hidden 256, adam 3e-3, reg 1e-3, 100 epochs of 32 rows,
# 20% held out (about the best of a few recipes on scikit-learn's small tables).
_TABLE = _SPIRAL.replace(
    **{**_NO_DATA, "dataset": "csv", "val_fraction": 0.2, "preprocess": "standardize"},
    hidden=256, lr=3e-3, reg=1e-3, epochs=100, batch_size=32,
)  # fmt: skip
_NPZ = _TABLE.replace(dataset="npz", zca_epsilon=0.1, store_dtype="float32")
#: Named runs per dataset (``twolayer train cifar10 --preset best``); "default" is the default.
PRESETS: dict[str, dict[str, RunConfig]] = {
    "spiral": {"default": _SPIRAL},
    "cifar10": {
        "default": _CIFAR10,
        "best": _CIFAR10.replace(hidden=2048, epochs=60, reg=1e-4, tta="flip+grid2"),
        "quick": _CIFAR10.replace(hidden=256, epochs=3, preprocess="mean"),
    },
    "images": {
        "default": _IMAGES,
        "best": _IMAGES.replace(hidden=2048, epochs=60, reg=1e-4, tta="flip+grid2"),
    },
    "csv": {"default": _TABLE},
    "npz": {"default": _NPZ},
}


def preset(dataset: str, name: str = "default") -> RunConfig:
    """The preset ``name`` of ``dataset``; raises ValueError naming the known ones."""
    if dataset not in PRESETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if name not in PRESETS[dataset]:
        known = ", ".join(PRESETS[dataset])
        raise ValueError(f"{dataset} has no preset {name!r}; its presets: {known}")
    return PRESETS[dataset][name]


# -- from settings to command-line flags -----------------------------------------------------

#: Settings that are on or off: --grayscale / --no-grayscale.
SWITCHES = ("grayscale", "skip_bad")


def flag(name: str) -> str:
    """The flag of setting ``name``: ``lr_schedule`` -> ``--lr-schedule``."""
    return "--" + name.replace("_", "-")


def config_argv(config: RunConfig, names: Iterable[str]) -> list[str]:
    """Flags that set ``names`` to their values in ``config`` (a value None is left out):
    ``config_argv(config, ["hidden", "lr"])`` is ``["--hidden", "100", "--lr", "0.05"]``."""
    argv = []
    for name in names:
        value = getattr(config, name)
        if name in SWITCHES and value is not None:
            argv.append(flag(name) if value else "--no-" + flag(name)[2:])
        elif value is not None:
            argv += [flag(name), str(value)]
    return argv


# -- from settings to a model and a Solver ---------------------------------------------------


def num_classes(data: dict[str, Any]) -> int:
    """``len(data["class_names"])`` when the data names its classes, else the largest label + 1."""
    if "class_names" in data:
        return len(data["class_names"])
    return int(max(np.max(data["y_train"]), np.max(data["y_val"]))) + 1


def solver_settings(config: RunConfig) -> dict[str, Any]:
    """The Solver keyword arguments ``config`` decides (all but ``augment``'s function)."""
    optim_config = {"learning_rate": config.lr}
    if config.reg_as == "weight_decay":
        optim_config["weight_decay"] = config.reg
    return {
        "update_rule": config.optimizer,
        "optim_config": optim_config,
        "lr_schedule": config.lr_schedule,
        "lr_decay": config.lr_decay,
        "warmup_epochs": config.warmup_epochs,
        "restart_epochs": config.restart_epochs,
        "num_epochs": config.epochs,
        "batch_size": config.batch_size,
        "patience": config.patience,
        "num_train_samples": config.train_acc_samples,
        "mixup_alpha": config.mixup_alpha,
        "ema_decay": config.ema_decay,
        "ema_start_epoch": config.ema_start_epoch,
        "seed": config.seed,
    }


def build(
    config: RunConfig,
    data: dict[str, Any],
    *,
    checkpoint: Any = None,
    state: dict[str, Any] | None = None,
    **solver_extras: Any,
) -> tuple[TwoLayerNet, Solver]:
    """A fresh TwoLayerNet and a Solver for it, as ``config`` says, on ``data``.

    ``data`` holds ``X_train`` (N, ...), ``y_train`` (N,), ``X_val``, ``y_val`` (and
    optionally ``class_names``); the input size D and the number of classes C come
    from it. ``solver_extras`` are Solver keyword arguments that do not change the
    result (``verbose``, ``checkpoint_name``, ``on_epoch_end``, ...). With
    ``checkpoint``, the Solver continues that checkpoint's run (``Solver.resume``) for
    ``config.epochs`` epochs in all; its other settings are the checkpoint's. ``state``:
    the checkpoint's dict when it is already read (``checkpoint`` then names it).
    """
    clash = sorted(set(solver_extras) & {*solver_settings(config), "augment"})
    if clash:
        raise ValueError(f"set {', '.join(clash)} through the RunConfig, not as a Solver extra")
    model = TwoLayerNet(
        input_dim=math.prod(np.shape(data["X_train"])[1:]),
        hidden_dim=config.hidden,
        num_classes=num_classes(data),
        weight_scale=config.weight_scale,
        reg=config.reg if config.reg_as == "loss" else 0.0,
        dtype=config.dtype,
        seed=config.seed,
        label_smoothing=config.label_smoothing,
        dropout=config.dropout,
        input_dropout=config.input_dropout,
    )
    train_data = {k: data[k] for k in TRAIN_KEYS}
    augment = augment_from_spec(config.augment)
    if checkpoint is not None:
        # The run goes on as it was saved; its number of epochs alone may grow (or shrink).
        solver = Solver.resume(
            checkpoint, model, train_data, state=state, augment=augment,
            num_epochs=config.epochs, **solver_extras,
        )  # fmt: skip
        return model, solver
    solver = Solver(model, train_data, **solver_settings(config), augment=augment, **solver_extras)
    return model, solver
