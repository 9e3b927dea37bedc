"""What a search tries: spaces, specs, the trials they give, and each trial as a RunConfig.

A space maps each tunable setting (:data:`PARAMS`) to a *dimension*, a JSON-safe
dict: ``{"choices": [64, 128]}`` or ``{"log": [1e-4, 1e-2]}`` (log-uniform between
the bounds; numeric settings only). Dimensions are written the same way on the
command line and in a space file:

    "1e-4:1e-2"   log range        "64,128"   choices        "adam"   one fixed value

A space file (JSON, or TOML on Python >= 3.11) holds one such entry per setting,
e.g. ``{"lr": "1e-4:1e-2", "hidden": [64, 128], "optimizer": "adam"}``.

Trials are flat dicts ``{"index", "seed", <every PARAMS name>}``. Trial ``i`` draws
its settings and its training seed from ``SeedSequence(seed, spawn_key=(i,))``, so a
trial depends only on the search seed and its index: a rerun regenerates the same
list, and raising the number of random trials keeps the earlier ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from twolayer.config import OWN_DATA, RunConfig, check_setting, config_argv, preset

Dimension = dict[str, list[Any]]
Space = dict[str, Dimension]
Trial = dict[str, Any]


#: Tunable settings (RunConfig's names) -> whether a log range is allowed (numbers).
#: Each value is checked by RunConfig's table (:func:`twolayer.config.check_setting`).
PARAMS: dict[str, bool] = {
    "lr": True,
    "reg": True,
    "hidden": True,
    "batch_size": True,
    "epochs": True,
    "optimizer": False,
    "lr_schedule": False,
    "augment": False,
    "weight_scale": False,
    "label_smoothing": False,
}
#: Values a search allows beyond the table's: not cosine_restarts, whose period is a
#: setting a trial does not vary.
SEARCHED_SCHEDULES = ("cosine", "step")


def _parse(name: str, value: Any) -> Any:
    """One value of search setting ``name``, checked as the run's setting."""
    value = check_setting(name, value)
    if name == "lr_schedule" and value not in SEARCHED_SCHEDULES:
        raise ValueError(f"a search's lr_schedule is cosine or step, got {value!r}")
    return value


#: The space searched when neither a flag nor a space file says otherwise.
_SPACES: dict[str, Space] = {
    "spiral": {
        "lr": {"log": [1e-3, 1e-1]},
        "reg": {"log": [1e-6, 1e-2]},
        "hidden": {"choices": [50, 100]},
        "batch_size": {"choices": [16]},
        "epochs": {"choices": [30]},
        "optimizer": {"choices": ["adam"]},
        "lr_schedule": {"choices": ["cosine"]},
        "augment": {"choices": ["none"]},
        "weight_scale": {"choices": ["he"]},
        "label_smoothing": {"choices": [0.0]},
    },
    "cifar10": {
        "lr": {"log": [1e-4, 1e-2]},
        "reg": {"log": [1e-5, 1e-2]},
        "hidden": {"choices": [100, 200]},
        "batch_size": {"choices": [200]},
        "epochs": {"choices": [5]},
        "optimizer": {"choices": ["adam"]},
        "lr_schedule": {"choices": ["cosine"]},
        "augment": {"choices": ["none"]},
        "weight_scale": {"choices": ["he"]},
        "label_smoothing": {"choices": [0.0]},
    },
}
_SPACES["table"] = {
    **_SPACES["spiral"],
    "lr": {"log": [1e-4, 1e-2]},
    "reg": {"log": [1e-5, 1e-2]},
    "hidden": {"choices": [64, 256]},
    "batch_size": {"choices": [32]},
    "epochs": {"choices": [30]},
}
#: The space searched when neither a flag nor a space file says otherwise, per dataset:
#: the user's images as CIFAR-10, CSV and npz files as tables.
DEFAULT_SPACES: dict[str, Space] = {
    "spiral": _SPACES["spiral"],
    "cifar10": _SPACES["cifar10"],
    "images": _SPACES["cifar10"],
    "csv": _SPACES["table"],
    "npz": _SPACES["table"],
}


def _scalar(text: str) -> Any:
    """A command-line value as a number when it reads as one, else as the string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_value(name: str, text: str) -> Any:
    """One value of setting ``name`` from its text (as in trials.csv), validated."""
    return _parse(name, _scalar(text))


def make_dimension(name: str, value: Any) -> Dimension:
    """Validate one setting's range: a ``"lo:hi"`` / ``"a,b"`` string, a list, a scalar.

    A dict already in dimension form (``{"log": [lo, hi]}`` or ``{"choices": [...]}``)
    is checked and returned normalized. Raises ValueError naming the setting.
    """
    if name not in PARAMS:
        raise ValueError(f"unknown search setting {name!r}; known: {', '.join(PARAMS)}")
    numeric = PARAMS[name]
    parse = partial(_parse, name)
    if isinstance(value, str):
        value = value.strip()
        if ":" in value:
            value = {"log": [_scalar(v) for v in value.split(":")]}
        else:
            value = {"choices": [_scalar(v.strip()) for v in value.split(",")]}
    elif isinstance(value, list):
        value = {"choices": value}
    elif not isinstance(value, dict):
        value = {"choices": [value]}
    try:
        if set(value) == {"choices"} and isinstance(value["choices"], list) and value["choices"]:
            return {"choices": list(dict.fromkeys(parse(v) for v in value["choices"]))}
        if set(value) == {"log"} and isinstance(value["log"], list) and len(value["log"]) == 2:
            if not numeric:
                raise ValueError("takes choices (a,b,c), not a range")
            lo, hi = (parse(v) for v in value["log"])
            if lo <= 0:
                raise ValueError(f"a log range starts above 0, got {lo}:{hi}")
            if lo > hi:
                raise ValueError(f"range {lo}:{hi} is empty; write it low:high")
            return {"log": [lo, hi]}
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    raise ValueError(f'{name}: expected "low:high", "a,b,c", a list or one value, got {value!r}')


def load_space_file(path: str | os.PathLike) -> Space:
    """The space in a JSON or TOML file, validated."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not a text file ({e})") from None
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # the same parser, as a package (a dependency on these Pythons)
            import tomli as tomllib
        try:
            raw = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as e:
            raise ValueError(f"{path} is not valid TOML ({e})") from None
    else:
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:  # RecursionError: nested too deep
            raise ValueError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path} should hold an object mapping settings to ranges")
    try:
        return {k.replace("-", "_"): make_dimension(k.replace("-", "_"), v) for k, v in raw.items()}
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def build_space(dataset: str, *layers: Space) -> Space:
    """The default space of ``dataset`` overridden by each of ``layers`` in turn."""
    if dataset not in DEFAULT_SPACES:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DEFAULT_SPACES)}")
    space = dict(DEFAULT_SPACES[dataset])
    for layer in layers:
        space.update({k: make_dimension(k, v) for k, v in layer.items()})
    return {k: space[k] for k in PARAMS}


def _is_int(name: str) -> bool:
    return name in ("hidden", "batch_size", "epochs")


def _snap(name: str, value: float) -> float | int:
    """A value drawn from a log range, rounded: ints to whole, floats to 3 digits."""
    return int(round(value)) if _is_int(name) else float(f"{value:.3g}")


def trial_streams(seed: int, index: int) -> tuple[np.random.Generator, int]:
    """Trial ``index``'s sampling generator and training seed, from the search seed."""
    sample, train = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
    return np.random.default_rng(sample), int(train.generate_state(1)[0])


def random_trial(space: Space, seed: int, index: int) -> Trial:
    """Trial ``index`` of a random search: settings drawn independently from ``space``."""
    rng, trial_seed = trial_streams(seed, index)
    trial: Trial = {"index": index, "seed": trial_seed}
    for name in PARAMS:  # a fixed order, so the draws are reproducible
        dim = space[name]
        if "log" in dim:
            lo, hi = dim["log"]
            trial[name] = _snap(name, math.exp(rng.uniform(math.log(lo), math.log(hi))))
        else:
            trial[name] = dim["choices"][rng.integers(len(dim["choices"]))]
    return trial


def grid_values(name: str, dim: Dimension, points: int) -> list[Any]:
    """The values a grid takes along one dimension: a log range gives ``points`` steps."""
    if "choices" in dim:
        return list(dim["choices"])
    lo, hi = dim["log"]
    return list(dict.fromkeys(_snap(name, v) for v in np.geomspace(lo, hi, points)))


def grid_axes(spec: dict[str, Any]) -> list[list[Any]]:
    """The values of each setting (in :data:`PARAMS` order) that a grid search combines."""
    return [grid_values(name, spec["space"][name], spec["grid_points"]) for name in PARAMS]


def _grid_trial(axes: list[list[Any]], seed: int, index: int) -> Trial:
    """Trial ``index`` of a grid: the index read as a number whose last digit, in the
    base of the last axis, picks the last setting (as itertools.product orders them)."""
    values, rest = [], index
    for axis in reversed(axes):
        rest, k = divmod(rest, len(axis))
        values.append(axis[k])
    trial: Trial = {"index": index, "seed": trial_streams(seed, index)[1]}
    trial.update(zip(PARAMS, reversed(values), strict=True))
    return trial


#: Data settings per dataset, and their defaults (CIFAR-10's ``data_dir`` is where, not
#: what, so it is passed beside the spec and may change between resumptions; the
#: path of the user's data, ``data``, is in the spec). Images are searched mean-
#: subtracted unless ``preprocess`` says zca, as CIFAR-10 is.
DATA_DEFAULTS: dict[str, dict[str, Any]] = {
    "spiral": {"num_per_class": 100, "classes": 3, "noise": 0.2, "val_fraction": 0.2},
    "cifar10": {"num_train": 10_000, "num_val": 1_000, "preprocess": "mean", "zca_epsilon": 0.1},
    "images": {"data": None, "image_size": 32, "grayscale": False, "skip_bad": False}
    | {"val_fraction": 0.1, "preprocess": "mean", "zca_epsilon": 0.1},
    "csv": {"data": None, "label_column": None, "val_fraction": 0.2, "preprocess": "standardize"},
    "npz": {"data": None, "val_fraction": 0.2, "preprocess": "standardize", "zca_epsilon": 0.1},
}
CIFAR10_TRAIN_IMAGES = 50_000


def make_spec(
    dataset: str,
    space: Space,
    *,
    search: str = "random",
    trials: int | None = 20,
    grid_points: int = 3,
    seed: int = 0,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A validated, JSON-safe search spec; ``space`` comes from :func:`build_space`.

    ``trials`` is the number of random trials; a grid runs all of its points (pass
    None). ``data`` overrides :data:`DATA_DEFAULTS` of the dataset.
    """
    if dataset not in DATA_DEFAULTS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATA_DEFAULTS)}")
    if search not in ("random", "grid"):
        raise ValueError(f'search must be "random" or "grid", got {search!r}')
    if search == "random" and (not isinstance(trials, int) or trials <= 0):
        raise ValueError(f"a random search needs trials > 0, got {trials!r}")
    if search == "grid" and trials is not None:
        raise ValueError("a grid search runs every point of its grid; leave trials unset")
    unknown = sorted(set(data or {}) - set(DATA_DEFAULTS[dataset]))
    if unknown:
        raise ValueError(f"unknown data setting(s) for {dataset}: {', '.join(unknown)}")
    data = {**DATA_DEFAULTS[dataset], **(data or {})}
    data = {name: check_setting(name, value) for name, value in data.items()}
    if dataset in OWN_DATA and data["data"] is None:
        raise ValueError(f"a search on {dataset} data needs its path (data)")
    if dataset == "cifar10":
        _check_cifar10(data)
    if dataset in ("spiral", "csv") and space["augment"] != {"choices": ["none"]}:
        raise ValueError(
            f"{dataset} data is searched with augment none only: its rows are not images"
        )
    spec = {
        "dataset": dataset,
        "search": search,
        "trials": trials,
        "grid_points": grid_points,
        "seed": seed,
        "space": space,
        "data": data,
    }
    return json.loads(json.dumps(spec))  # tuples -> lists, as search.json will hold it


def _check_cifar10(data: dict[str, Any]) -> None:
    if data["num_train"] + data["num_val"] > CIFAR10_TRAIN_IMAGES:
        raise ValueError(
            f"num_train {data['num_train']} + num_val {data['num_val']} exceeds the "
            f"{CIFAR10_TRAIN_IMAGES} CIFAR-10 training images"
        )
    if data["preprocess"] not in ("mean", "zca"):
        raise ValueError(f"preprocess must be mean or zca, got {data['preprocess']!r}")


def trial_maker(spec: dict[str, Any]) -> tuple[int, Callable[[int], Trial]]:
    """The number of trials of ``spec``, and a function making trial ``index`` of them.

    A trial depends only on the spec and its index, so trials are made one at a time,
    as they are needed: a grid of a million points is never a list of a million dicts.
    """
    if spec["search"] == "grid":
        axes = grid_axes(spec)
        return math.prod(len(a) for a in axes), partial(_grid_trial, axes, spec["seed"])
    return spec["trials"], partial(random_trial, spec["space"], spec["seed"])


def generate_trials(spec: dict[str, Any]) -> list[Trial]:
    """The spec's trials, always the same list for the same spec."""
    n, make = trial_maker(spec)
    return [make(index) for index in range(n)]


def base_config(spec: dict[str, Any], data_dir: str | os.PathLike = "data") -> RunConfig:
    """The run every trial of ``spec`` starts from: its dataset's default run on the
    search's data (spiral points and the validation split drawn from the search seed;
    CIFAR-10 images from ``data_dir``; images held in float32), with L2 as a loss term."""
    data = dict(spec["data"])
    dataset = spec["dataset"]
    if dataset in ("spiral", *OWN_DATA):
        data["data_seed"] = spec["seed"]  # one split for every trial
    if dataset == "cifar10":
        data["data_dir"] = os.fspath(data_dir)
    if dataset in ("cifar10", "images", "npz"):
        data["store_dtype"] = "float32"
    return preset(dataset).replace(**data, reg_as="loss")


def trial_config(
    spec: dict[str, Any], trial: Trial, data_dir: str | os.PathLike = "data"
) -> RunConfig:
    """The run of one trial: :func:`base_config` with the trial's settings and seed."""
    settings = {k: trial[k] for k in PARAMS}
    return base_config(spec, data_dir).replace(**settings, seed=trial["seed"])


def train_command(spec: dict[str, Any], row: dict, data_dir: str | os.PathLike = "data") -> str:
    """A `twolayer train` command that reruns ``row``'s trial exactly, its data included.

    It names the settings the search varied, the data settings, the seed, and any
    other setting that is not the train command's default.
    """
    config = trial_config(spec, row, data_dir)
    default = preset(spec["dataset"])
    varied = [k for k, dim in spec["space"].items() if "log" in dim or len(dim["choices"]) > 1]
    always = {*varied, *spec["data"], "data_dir"} - {"data"}  # the path is DATA
    names = [
        f.name
        for f in dataclasses.fields(RunConfig)
        if f.name not in ("dataset", "data", "seed")
        and (f.name in always or getattr(config, f.name) != getattr(default, f.name))
    ]
    source = spec["data"]["data"] if spec["dataset"] in OWN_DATA else spec["dataset"]
    argv = ["twolayer", "train", source, *config_argv(config, [*names, "seed"])]
    return shlex.join(argv)
