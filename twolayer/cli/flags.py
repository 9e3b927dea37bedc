"""The command-line flag of each RunConfig setting: added to a parser, read back, written out.

    add_config_flags(parser)                 # --hidden, --lr, ... in argument groups
    changes = config_changes(parser.parse_args(argv))   # only the flags given
    config = preset("spiral").replace(**changes)

A flag is named after its setting (``lr_schedule`` is ``--lr-schedule``), and has no
other name. Its type only parses the text; the value is checked once, by RunConfig.
Its help shows the allowed values and each preset's value, so one parser serves
every dataset.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from twolayer.config import CHOICES, DATASET_FIELDS, OWN_DATA, PRESETS, SWITCHES, flag
from twolayer.datasets.augment import SPEC_FORMS


def _parse(convert: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    """argparse type: ``text`` read as ``what``; the range is RunConfig's to check."""

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None

    parse.__name__ = what  # argparse names the type in its messages
    return parse


whole = _parse(int, "a whole number")
number = _parse(float, "a number")
weight_scale = _parse(lambda text: "he" if text == "he" else float(text), 'a number or "he"')
count_or_all = _parse(lambda text: None if text == "all" else int(text), 'a whole number or "all"')


#: Setting -> (argparse type, help), in the order of the groups below. The types only
#: parse: every value is checked once, by RunConfig (twolayer.config.CONSTRAINTS).
_FLAGS: dict[str, tuple[Callable[[str], Any] | None, str]] = {
    "hidden": (whole, "hidden units"),
    "weight_scale": (weight_scale, 'initial weight std, or "he" for sqrt(2/fan_in)'),
    "dtype": (None, "compute dtype"),
    "label_smoothing": (number, "share of the target spread over all classes"),
    "dropout": (number, "inverted dropout: chance of dropping each hidden unit in training"),
    "input_dropout": (number, "inverted dropout: chance of dropping each input feature"),
    "reg": (number, "L2 strength"),
    "reg_as": (None, "L2 as a loss term, or as weight decay in the update (same weights)"),
    "optimizer": (None, "update rule"),
    "lr": (number, "initial learning rate"),
    "lr_schedule": (
        None,
        "cosine decay to 0, cosine_restarts (a cosine decay every --restart-epochs), or step "
        "(constant unless --lr-decay)",
    ),
    "lr_decay": (number, "per-epoch factor for --lr-schedule step"),
    "warmup_epochs": (number, "linear warm-up from 0 (cosine schedules)"),
    "restart_epochs": (
        number,
        "epochs between the warm restarts of --lr-schedule cosine_restarts",
    ),
    "epochs": (whole, "passes over the training data"),
    "batch_size": (whole, "minibatch size"),
    "augment": (str, SPEC_FORMS),
    "mixup_alpha": (
        number,
        "mixup: blend each batch with a shuffled copy of itself, weights from "
        "Beta(alpha, alpha), e.g. 0.2 (0: off)",
    ),
    "ema_decay": (
        number,
        "weight averaging: evaluate and keep an exponential moving average of the weights, "
        "updated after each step with this decay, e.g. 0.999 (0: off)",
    ),
    "ema_start_epoch": (whole, "the epoch whose first step starts the weight average"),
    "patience": (whole, "stop after this many epochs without a better val accuracy"),
    "train_acc_samples": (count_or_all, 'training examples for the train accuracy, or "all"'),
    "tta": (None, "test-time augmentation: views averaged at evaluation"),
    "seed": (whole, "seeds the weights and batches (and the spiral's points)"),
    "data_dir": (str, "folder holding cifar-10-batches-py/"),
    "num_train": (whole, "training images, the first of the 50,000"),
    "num_val": (whole, "validation images, the last of the 50,000 (CS231n's split)"),
    "preprocess": (None, "ZCA whitening, mean subtraction only, or per-feature standardizing"),
    "zca_epsilon": (number, "ZCA damping, on pixels scaled to [0, 1]"),
    "store_dtype": (None, "dtype the processed images are held in (float16 halves the memory)"),
    "num_per_class": (whole, "points per arm"),
    "classes": (whole, "spiral arms (classes)"),
    "noise": (number, "angle noise (rad)"),
    "val_fraction": (number, "share held out for validation"),
    "data_seed": (whole, "seeds the spiral's points, or the validation split"),
    "image_size": (whole, "side S: each image's centre square is resized to S x S"),
    "grayscale": (None, "decode images to one gray channel instead of RGB"),
    "skip_bad": (None, "leave out (and count) unreadable images instead of stopping"),
    "label_column": (str, "the CSV column holding the labels"),
}
_OWN_TITLE = "PATH data (a folder of images, a .csv or an .npz)"


def _data_groups() -> dict[str, tuple[str, ...]]:
    """Each data setting once, under the first dataset that reads it ("data" is PATH)."""
    groups: dict[str, tuple[str, ...]] = {}
    seen = {"data"}
    for dataset, fields in DATASET_FIELDS.items():
        title = _OWN_TITLE if dataset in OWN_DATA else f"{dataset} data"
        new = tuple(f for f in fields if f not in seen)
        seen.update(new)
        groups[title] = groups.get(title, ()) + new
    return groups


_GROUPS = {
    "model": ("hidden", "weight_scale", "dtype", "label_smoothing", "dropout", "input_dropout")
    + ("reg", "reg_as"),
    "training": ("optimizer", "lr", "lr_schedule", "lr_decay", "warmup_epochs", "restart_epochs")
    + ("epochs",)
    + ("batch_size", "augment", "mixup_alpha", "ema_decay", "ema_start_epoch", "patience")
    + ("train_acc_samples", "tta", "seed"),
    **_data_groups(),
}
_DATA_FIELDS = {f for fields in DATASET_FIELDS.values() for f in fields}
#: What a setting's None means, for the help.
_NONE_MEANS = {"patience": "never", "train_acc_samples": "all", "data_seed": "--seed",
               "label_column": "label, else the last"}  # fmt: skip


def _defaults(name: str) -> str:
    """Setting ``name``'s value in each dataset's default preset, and in the other presets
    where it differs: "default: 0.2", or "default: spiral 100; cifar10 512, best 2048"."""

    def show(value: Any) -> str:
        return _NONE_MEANS.get(name, "none") if value is None else str(value)

    values = {}
    for dataset, presets in PRESETS.items():
        if name in _DATA_FIELDS and name not in DATASET_FIELDS[dataset]:
            continue
        default = getattr(presets["default"], name)
        values[dataset] = ", ".join(
            [show(default)]
            + [f"{p} {show(getattr(c, name))}" for p, c in presets.items()
               if getattr(c, name) != default]
        )  # fmt: skip
    if len(set(values.values())) == 1:
        return f"default: {next(iter(values.values()))}"
    return "default: " + "; ".join(f"{dataset} {v}" for dataset, v in values.items())


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Add a flag for every RunConfig setting but the dataset, in argument groups.

    Flags not given are absent from the parsed namespace, so a preset or a saved
    config supplies them.
    """
    for title, names in _GROUPS.items():
        group = parser.add_argument_group(title)
        for name in names:
            convert, text = _FLAGS[name]
            choices = CHOICES.get(name)
            if choices:
                text = f"{text}: {', '.join(map(str, choices))}"
            if name in SWITCHES:
                group.add_argument(
                    flag(name),
                    dest=name,
                    action=argparse.BooleanOptionalAction,
                    default=argparse.SUPPRESS,
                    help=f"{text} ({_defaults(name)})",
                )
                continue
            group.add_argument(
                flag(name),
                dest=name,
                type=convert or str,  # None: the text as given
                default=argparse.SUPPRESS,
                metavar=name.upper(),
                help=f"{text} ({_defaults(name)})",
            )


def config_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The RunConfig settings given on the command line."""
    return {name: getattr(args, name) for name in _FLAGS if hasattr(args, name)}
