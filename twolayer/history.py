"""A run's curves as plain data: what the Solver recorded, per iteration and per epoch.

    history = history_from_solver(solver)     # JSON-safe dict
    table = epoch_table(history)              # per-epoch columns, as in history.csv

A history holds ``loss_history`` and ``lr_history`` (one value per iteration),
``train_acc_history``, ``val_acc_history``, ``val_loss_history`` and
``epoch_time_history`` (one value per epoch, from epoch 1), ``best_val_acc``,
``best_epoch`` and ``iterations_per_epoch``, and ``epoch_0``: the accuracies and
validation loss of the initial weights (``{"train_acc": ..., "val_acc": ...,
"val_loss": ...}``), which the Solver keeps as entry 0 of its lists, as the course
does; None where the run took no epoch 0 (and in histories of twolayer 0.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: The solver's per-iteration and per-epoch curves, saved under the same names.
HISTORY_KEYS = (
    "loss_history",
    "train_acc_history",
    "val_acc_history",
    "val_loss_history",
    "lr_history",
    "epoch_time_history",
)
#: The Solver's lists whose entry 0 is epoch 0 (the initial weights).
EPOCH_ZERO_KEYS = ("train_acc_history", "val_acc_history", "val_loss_history")
CSV_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time")


def history_from_solver(solver: Any) -> dict[str, Any]:
    """The solver's curves as a JSON-safe history dict (epoch 0 moved to ``epoch_0``)."""
    history: dict[str, Any] = {
        key: [float(v) for v in getattr(solver, key)] for key in HISTORY_KEYS
    }
    history["epoch_0"] = None
    if len(history["val_acc_history"]) > len(history["epoch_time_history"]):  # epoch 0 taken
        history["epoch_0"] = {
            k.removesuffix("_history"): history[k].pop(0) for k in EPOCH_ZERO_KEYS
        }
    history["best_val_acc"] = float(solver.best_val_acc)
    history["best_epoch"] = int(solver.best_epoch)
    history["iterations_per_epoch"] = int(solver.iterations_per_epoch)
    return history


def epoch_table(history: Mapping[str, Any]) -> dict[str, list[float]]:
    """Per-epoch columns (:data:`CSV_COLUMNS`), from a history dict.

    ``train_loss`` is the mean of that epoch's iteration losses; ``lr`` is the rate
    of its first iteration (the rate for the whole epoch under the step schedule).
    """
    n = len(history["val_acc_history"])
    per_epoch = max(int(history["iterations_per_epoch"]), 1)
    losses = np.asarray(history["loss_history"], dtype=float)
    train_loss = [float(losses[e * per_epoch : (e + 1) * per_epoch].mean()) for e in range(n)]
    return {
        "epoch": list(range(1, n + 1)),
        "train_loss": train_loss,
        "train_acc": list(history["train_acc_history"][:n]),
        "val_loss": list(history["val_loss_history"][:n]),
        "val_acc": list(history["val_acc_history"][:n]),
        "lr": list(history["lr_history"][::per_epoch][:n]),
        "epoch_time": list(history["epoch_time_history"][:n]),
    }
