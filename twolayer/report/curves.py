"""A run's curves as charts: loss, accuracy and learning rate against epochs.

Every chart puts epochs on the x axis (iterations as fractions of an epoch), so
runs with different batch sizes or data sizes line up when overlaid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.colors import to_hex

from twolayer.history import epoch_table
from twolayer.plots import TRAIN, VAL, smooth
from twolayer.report.svg import Chart

TRAIN_HEX, VAL_HEX, LR_HEX, BEST_HEX = to_hex(TRAIN), to_hex(VAL), "#2ca02c", "#d62728"
MAX_POINTS = 500  # points per drawn curve: about two per pixel of a chart's width


def run_color(i: int) -> str:
    """The colour of the i-th run in an overlay (matplotlib's C0, C1, ...)."""
    return to_hex(f"C{i % 10}")


def in_epochs(history: Mapping[str, Any], iterations: np.ndarray) -> np.ndarray:
    """Iteration numbers (1-based) as epochs."""
    return iterations / max(int(history["iterations_per_epoch"]), 1)


def iteration_epochs(history: Mapping[str, Any], n: int) -> np.ndarray:
    """Where iterations 1..n fall, in epochs."""
    return in_epochs(history, np.arange(1, n + 1))


def _stride(n: int) -> int:
    return max(1, -(-n // MAX_POINTS))


def envelope(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The centres (1-based positions), minima and maxima of consecutive buckets of
    ``size`` values; a bucket without a finite value gives infinities.
    """
    starts = np.arange(0, values.size, size)
    finite = np.isfinite(values)
    lo = np.minimum.reduceat(np.where(finite, values, np.inf), starts)
    hi = np.maximum.reduceat(np.where(finite, values, -np.inf), starts)
    centres = (starts + 1 + np.minimum(starts + size, values.size)) / 2
    return centres, lo, hi


def loss_chart(history: Mapping[str, Any]) -> str:
    """Minibatch loss (light), its moving average, and the validation loss per epoch."""
    loss = np.asarray(history["loss_history"], dtype=float)
    x = iteration_epochs(history, loss.size)
    s = _stride(loss.size)
    chart = Chart("Loss", "epoch", "loss")
    if s == 1:
        chart.line(x, loss, TRAIN_HEX, label="minibatch", width=1, opacity=0.3)
    else:  # the noise as its range per bucket of iterations: every spike stays visible
        centres, lo, hi = envelope(loss, s)
        chart.band(in_epochs(history, centres), lo, hi, TRAIN_HEX, label="minibatch range")
    chart.line(x[::s], smooth(loss)[::s], TRAIN_HEX, label="moving average")
    table = epoch_table(history)
    tips = [
        f"epoch {e}: val loss {v:.4f}"
        for e, v in zip(table["epoch"], table["val_loss"], strict=True)
    ]
    chart.line(table["epoch"], table["val_loss"], VAL_HEX, label="val", markers=True, tips=tips)
    return chart.svg()


def accuracy_chart(history: Mapping[str, Any]) -> str:
    """Train and validation accuracy per epoch, the best epoch ringed."""
    table = epoch_table(history)
    chart = Chart("Accuracy", "epoch", "accuracy")
    for key, color, name in (("train_acc", TRAIN_HEX, "train"), ("val_acc", VAL_HEX, "val")):
        tips = [
            f"epoch {e}: {name} acc {v:.4f}"
            for e, v in zip(table["epoch"], table[key], strict=True)
        ]
        chart.line(table["epoch"], table[key], color, label=name, markers=True, tips=tips)
    best = int(history.get("best_epoch", 0))
    if 1 <= best <= len(table["val_acc"]):
        acc = table["val_acc"][best - 1]
        label = f"best val {acc:.4f} (epoch {best})"
        chart.points([best], [acc], BEST_HEX, label=label, radius=7, shape="ring", tips=[label])
    return chart.svg(ylim=accuracy_limits(table["train_acc"] + table["val_acc"]))


def accuracy_limits(values: list[float]) -> tuple[float, float] | None:
    """The accuracies' range, widened by 0.05 but kept within [0, 1.02]."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    return max(0.0, float(v.min()) - 0.05), min(1.02, float(v.max()) + 0.05)


def lr_limits(lrs: np.ndarray) -> tuple[float, float]:
    """From 0 to a little above the largest rate."""
    return 0.0, float(np.nanmax(lrs, initial=0.0)) * 1.05 or 1.0


def lr_chart(history: Mapping[str, Any]) -> str:
    """The learning rate of every iteration."""
    lrs = np.asarray(history["lr_history"], dtype=float)
    s = _stride(lrs.size)
    chart = Chart("Learning rate", "epoch", "learning rate")
    chart.line(iteration_epochs(history, lrs.size)[::s], lrs[::s], LR_HEX)
    return chart.svg(ylim=lr_limits(lrs))


def run_charts(history: Mapping[str, Any]) -> str:
    """The three charts of one run, side by side."""
    return (
        '<div class="figures">'
        + loss_chart(history)
        + accuracy_chart(history)
        + lr_chart(history)
        + "</div>"
    )


def overlay_charts(histories: Mapping[str, Mapping[str, Any]]) -> str:
    """Several runs' smoothed training loss, validation accuracy and learning rate overlaid.

    Run i is drawn in :func:`run_color` (i); hovering a point names its run (the
    charts have no legend: the table beside them says which colour is which run).
    """
    loss = Chart("Training loss (moving average)", "epoch", "loss")
    acc = Chart("Validation accuracy", "epoch", "accuracy")
    lr = Chart("Learning rate", "epoch", "learning rate")
    accs, rates = [], []
    for i, (name, history) in enumerate(histories.items()):
        color = run_color(i)
        for chart, key, curve in ((loss, "loss_history", smooth), (lr, "lr_history", None)):
            values = np.asarray(history[key], dtype=float)
            s = _stride(values.size)
            y = curve(values) if curve else values
            chart.line(iteration_epochs(history, values.size)[::s], y[::s], color)
        table = epoch_table(history)
        tips = [
            f"{name}, epoch {e}: val acc {v:.4f}"
            for e, v in zip(table["epoch"], table["val_acc"], strict=True)
        ]
        acc.line(table["epoch"], table["val_acc"], color, markers=True, tips=tips)
        accs += table["val_acc"]
        rates += history["lr_history"]
    return (
        '<div class="figures">'
        + loss.svg()
        + acc.svg(ylim=accuracy_limits(accs))
        + lr.svg(ylim=lr_limits(np.asarray(rates, dtype=float)))
        + "</div>"
    )
