"""Every picture of a run or of several, built once as a :class:`~twolayer.report.svg.Chart`:
loss, accuracy and learning rate against epochs, runs overlaid, a model's decision regions.

    charts = run_charts(history)            # [loss, accuracy, learning rate]
    html = figures(charts)                  # inline SVG, for a report
    twolayer.plots.save_chart(charts[0], "loss.png")   # the same chart as a PNG file

Every curve puts epochs on the x axis (iterations as fractions of an epoch), so
runs with different batch sizes or data sizes line up when overlaid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import to_hex
from numpy.typing import ArrayLike

from twolayer.history import epoch_table
from twolayer.report.pictures import class_colors, decision_regions
from twolayer.report.svg import MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, Chart

TRAIN_HEX, VAL_HEX, LR_HEX, BEST_HEX = (
    to_hex("tab:blue"),
    to_hex("tab:orange"),
    "#2ca02c",
    "#d62728",
)
MAX_POINTS = 500  # points per drawn curve: about two per pixel of a chart's width


def smooth(values: ArrayLike, window: int | None = None) -> np.ndarray:
    """Trailing moving average; the first points average what exists so far.

    ``window`` defaults to 2% of the series, which keeps the trend but drops
    minibatch noise.
    """
    v = np.asarray(values, dtype=float)
    if window is None:
        window = max(1, v.size // 50)
    csum = np.concatenate(([0.0], np.cumsum(v)))
    end = np.arange(1, v.size + 1)
    start = np.maximum(0, end - window)
    return (csum[end] - csum[start]) / (end - start)


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


def loss_chart(history: Mapping[str, Any]) -> Chart:
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
    return chart


def accuracy_chart(history: Mapping[str, Any]) -> Chart:
    """Train and validation accuracy per epoch (single view), the best epoch ringed."""
    table = epoch_table(history)
    limits = accuracy_limits(table["train_acc"] + table["val_acc"])
    chart = Chart("Accuracy (single view)", "epoch", "accuracy", ylim=limits)
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
    return chart


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


def lr_chart(history: Mapping[str, Any]) -> Chart:
    """The learning rate of every iteration."""
    lrs = np.asarray(history["lr_history"], dtype=float)
    s = _stride(lrs.size)
    chart = Chart("Learning rate", "epoch", "learning rate", ylim=lr_limits(lrs))
    chart.line(iteration_epochs(history, lrs.size)[::s], lrs[::s], LR_HEX)
    return chart


def run_charts(history: Mapping[str, Any]) -> list[Chart]:
    """The three charts of one run: loss, accuracy, learning rate."""
    return [loss_chart(history), accuracy_chart(history), lr_chart(history)]


def figures(charts: Sequence[Chart]) -> str:
    """Charts side by side (wrapping on a narrow page), as HTML."""
    return '<div class="figures">' + "".join(c.svg() for c in charts) + "</div>"


def overlay_charts(
    histories: Mapping[str, Mapping[str, Any]], *, legend: bool = False
) -> list[Chart]:
    """Several runs' smoothed training loss, validation accuracy and learning rate overlaid.

    Run i is drawn in :func:`run_color` (i); hovering a point names its run. Without
    ``legend`` the charts name no runs (a table beside them says which colour is which).
    """
    loss = Chart("Training loss (moving average)", "epoch", "loss")
    acc = Chart("Validation accuracy (single view)", "epoch", "accuracy")
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
        label = name if legend else None
        acc.line(table["epoch"], table["val_acc"], color, label=label, markers=True, tips=tips)
        accs += table["val_acc"]
        rates += history["lr_history"]
    acc.ylim = accuracy_limits(accs)
    lr.ylim = lr_limits(np.asarray(rates, dtype=float))
    return [loss, acc, lr]


def boundary_chart(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str] | None = None,
    resolution: int = 160,
    width: int = 480,
) -> Chart:
    """The model's class regions over the plane (X (N, 2)), the points coloured by class (y)."""
    X, y = np.asarray(X), np.asarray(y)
    xs, ys, regions = decision_regions(model, X, resolution)
    k = int(max(regions.max(), y.max())) + 1
    palette = np.asarray(class_colors(k))
    tint = 0.7 + 0.3 * palette[regions[::-1]]  # image rows run top-down, ys bottom-up
    names = list(class_names or [])
    acc = float(np.mean(model.predict(X) == y))
    (x0, x1), (y0, y1) = (xs[0], xs[-1]), (ys[0], ys[-1])
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT  # equal scales on both axes
    height = round(MARGIN_TOP + MARGIN_BOTTOM + plot_w * (y1 - y0) / (x1 - x0))
    title = f"Decision regions (accuracy {acc:.4f} on the {y.size} points)"
    chart = Chart(title, "x1", "x2", width=width, height=height, xlim=(x0, x1), ylim=(y0, y1),
                  equal_scales=True)  # fmt: skip
    chart.image(np.clip(tint * 255 + 0.5, 0, 255).astype(np.uint8), (x0, x1), (y0, y1))
    for c in range(k):
        mine = y == c
        if mine.any():
            label = names[c] if c < len(names) else f"class {c}"
            chart.points(X[mine, 0], X[mine, 1], to_hex(palette[c]), label=label, radius=3)
    return chart
