"""Figures for training runs: curves, decision boundaries, weights, confusion matrices.

Optional, and never imported by ``twolayer`` itself, so the core works without
matplotlib ever loading. Figures are built as ``matplotlib.figure.Figure``
objects, not through pyplot: they render with the Agg backend whether or not
there is a display, never open a window, and need no closing. Only
:func:`show_pngs` touches pyplot. Every PNG is written atomically.

The ``plot_*(history, ax)`` functions draw into an Axes you supply, from a history
dict (see :mod:`twolayer.history`), as do ``draw_decision_boundary`` and
``draw_lr_reg``; the other
``plot_*`` write a PNG to ``path``; ``weight_grid`` and ``visualize_grid`` (CS231n's)
return images as arrays.
"""

from __future__ import annotations

import io
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from twolayer._io import atomic_write
from twolayer._validate import check_labels
from twolayer.history import epoch_table

DPI = 110
TRAIN, VAL = "tab:blue", "tab:orange"
LOSS_PNG, ACCURACY_PNG, LR_PNG = "loss.png", "accuracy.png", "lr.png"


def _figure(ncols: int = 1, width: float = 6.4, height: float = 4.2) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width * ncols, height), dpi=DPI, layout="constrained")
    return fig, list(np.atleast_1d(fig.subplots(1, ncols)))


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    # Render fully in memory first, so a failed render leaves no file behind.
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def _style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)


def smooth(values: Sequence[float], window: int | None = None) -> np.ndarray:
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


def plot_loss(history: dict[str, Any], ax: Axes, *, epoch_axis: bool = True) -> None:
    """Training loss per iteration: raw in a light colour, smoothed on top.

    With ``epoch_axis``, a top axis counts epochs.
    """
    loss = np.asarray(history["loss_history"], dtype=float)
    it = np.arange(1, loss.size + 1)
    ax.plot(it, loss, color=TRAIN, alpha=0.25, linewidth=0.8, label="minibatch loss")
    ax.plot(it, smooth(loss), color=TRAIN, linewidth=2, label="moving average")
    if epoch_axis:
        _add_epoch_axis(ax, history)
    _style(ax, "Training loss", "iteration", "loss")


def _add_epoch_axis(ax: Axes, history: dict[str, Any]) -> None:
    """A top x axis in epochs over an axis in iterations."""
    per_epoch = int(history["iterations_per_epoch"])
    top = ax.secondary_xaxis("top", functions=(lambda i: i / per_epoch, lambda e: e * per_epoch))
    top.set_xlabel("epoch")


def plot_epoch_loss(history: dict[str, Any], ax: Axes) -> None:
    """Mean training loss and validation loss per epoch."""
    table = epoch_table(history)
    ax.plot(table["epoch"], table["train_loss"], "o-", color=TRAIN, label="train (epoch mean)")
    ax.plot(table["epoch"], table["val_loss"], "s-", color=VAL, label="val")
    _style(ax, "Loss per epoch", "epoch", "loss")


def plot_accuracy(history: dict[str, Any], ax: Axes) -> None:
    """Train and validation accuracy per epoch, with the best validation epoch marked."""
    table = epoch_table(history)
    ax.plot(table["epoch"], table["train_acc"], "o-", color=TRAIN, label="train")
    ax.plot(table["epoch"], table["val_acc"], "s-", color=VAL, label="val")
    if table["val_acc"]:
        # The Solver's choice (ties broken by val loss); older histories lack it.
        best = history.get("best_epoch", 1 + int(np.nanargmax(table["val_acc"]))) - 1
        label = f"best val {table['val_acc'][best]:.4f}"
        ax.plot(
            table["epoch"][best], table["val_acc"][best], "*", color="tab:red", ms=14, label=label
        )
    ax.set_ylim(top=min(1.02, ax.get_ylim()[1]))
    _style(ax, "Accuracy", "epoch", "accuracy")


def plot_lr(history: dict[str, Any], ax: Axes, *, epoch_axis: bool = True) -> None:
    """The learning rate of every iteration."""
    lrs = history["lr_history"]
    ax.plot(np.arange(1, len(lrs) + 1), lrs, color="tab:green")
    ax.set_ylim(bottom=0)
    if epoch_axis:
        _add_epoch_axis(ax, history)
    _style(ax, "Learning rate", "iteration", "learning rate")


def save_run_plots(run_dir: str | os.PathLike, history: dict[str, Any]) -> list[Path]:
    """Write ``loss.png`` (iteration and epoch losses), ``accuracy.png`` and ``lr.png``."""
    run_dir = Path(run_dir)
    fig, (ax_it, ax_ep) = _figure(ncols=2)
    plot_loss(history, ax_it)
    plot_epoch_loss(history, ax_ep)
    paths = [_save(fig, run_dir / LOSS_PNG)]
    for name, plot in ((ACCURACY_PNG, plot_accuracy), (LR_PNG, plot_lr)):
        fig, (ax,) = _figure()
        plot(history, ax)
        paths.append(_save(fig, run_dir / name))
    return paths


def decision_regions(
    model: Any, X: np.ndarray, resolution: int = 300
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's predicted class over a grid covering the points ``X`` (N, 2), 10% padded.

    Returns the grid's x coordinates (R,), y coordinates (R,) and labels (R, R), row i
    at y[i]; ``model`` needs ``predict`` (e.g. a TwoLayerNet).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"a decision boundary needs 2-D points, X of shape (N, 2); got {X.shape}")
    pad = 0.1 * max(np.ptp(X, axis=0).max(), 1e-6)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    regions = model.predict(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    return xs, ys, regions


def class_colors(num_classes: int) -> list[tuple[float, float, float]]:
    """One colour per class (tab10, repeated past ten), as RGB in [0, 1]."""
    tab10 = colormaps["tab10"].colors
    return [tab10[i % len(tab10)] for i in range(num_classes)]


def draw_decision_boundary(
    model: Any, X: np.ndarray, y: np.ndarray, ax: Axes, *, resolution: int = 300
) -> None:
    """Draw the model's class regions over the plane into ``ax``, points coloured by class.

    ``X`` must be (N, 2) and ``y`` (N,); ``model`` needs ``predict``.
    """
    y = np.asarray(y)
    xs, ys, regions = decision_regions(model, X, resolution)
    num_classes = int(max(regions.max(), y.max())) + 1
    colors = ListedColormap(class_colors(num_classes))
    levels = np.arange(num_classes + 1) - 0.5
    ax.contourf(xs, ys, regions, levels=levels, cmap=colors, alpha=0.3)
    ax.scatter(
        X[:, 0],
        X[:, 1],
        c=y,
        cmap=colors,
        vmin=-0.5,
        vmax=num_classes - 0.5,
        s=18,
        edgecolors="black",
        linewidths=0.4,
    )
    acc = float(np.mean(model.predict(X) == y))
    ax.set_title(f"Decision regions\naccuracy {acc:.4f} on the {y.size} points shown")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")


def plot_decision_boundary(
    model: Any, X: np.ndarray, y: np.ndarray, path: str | os.PathLike, *, resolution: int = 300
) -> Path:
    """Write :func:`draw_decision_boundary`'s figure to ``path``."""
    fig, (ax,) = _figure(width=5.6, height=5.2)
    draw_decision_boundary(model, X, y, ax, resolution=resolution)
    return _save(fig, path)


def _rescale_each(images: np.ndarray, top: float) -> np.ndarray:
    """Each image (along axis 0) min-max scaled to [0, top] on its own; constant ones to 0."""
    images = np.asarray(images, dtype=float)
    axes = tuple(range(1, images.ndim))
    lo = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - lo
    return (images - lo) * (top / np.where(span > 0, span, np.inf))


def _tile(images: np.ndarray, cols: int, pad: int, fill: float) -> np.ndarray:
    """Images (N, H, W[, C]) in a mosaic of ``cols`` columns, ``pad`` pixels of ``fill`` apart."""
    n, h, w = images.shape[:3]
    rows = math.ceil(n / cols)
    mosaic = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, *images.shape[3:]), fill)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        mosaic[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    return mosaic


def weight_grid(
    W1: np.ndarray, image_shape: Sequence[int], max_units: int = 64, pad: int = 1
) -> np.ndarray:
    """Tile the first ``max_units`` columns of ``W1`` as images in one mosaic.

    Each unit is rescaled to [0, 1] on its own (their scales differ widely);
    ``image_shape`` is (C, H, W) or (H, W), the layout of one input row.
    """
    W1 = np.asarray(W1)
    if W1.ndim != 2 or W1.shape[0] != math.prod(image_shape):
        raise ValueError(
            f"W1 of shape {W1.shape} does not match image_shape {tuple(image_shape)}: "
            f"expected ({math.prod(image_shape)}, hidden_dim)"
        )
    units = W1[:, :max_units].T.reshape(-1, *image_shape)
    if units.ndim == 4:  # (N, C, H, W) -> (N, H, W, C) for imshow
        units = units.transpose(0, 2, 3, 1)
    return _tile(_rescale_each(units, 1.0), math.ceil(math.sqrt(len(units))), pad, fill=1.0)


def visualize_grid(Xs: np.ndarray, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """CS231n's ``visualize_grid``: images (N, H, W, C) in a square grid, (G, G', C) float.

    Each image is min-max scaled to [0, ubound] on its own; the grid has
    ceil(sqrt(N)) rows and columns, ``padding`` pixels of 0 between images. Show
    it with ``plt.imshow(grid.astype("uint8"))``. For first-layer weights of a
    CIFAR-10 net (rows in (C, H, W) order):
    ``visualize_grid(W1.T.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))``.
    """
    Xs = np.asarray(Xs)
    if Xs.ndim != 4:
        raise ValueError(f"visualize_grid needs images of shape (N, H, W, C), got {Xs.shape}")
    if Xs.shape[0] == 0:
        raise ValueError("visualize_grid needs at least one image")
    side = math.ceil(math.sqrt(Xs.shape[0]))
    # A square grid even when its last rows are empty, as the course draws it.
    grid = _tile(_rescale_each(Xs, ubound), side, padding, fill=0.0)
    h, w = Xs.shape[1:3]
    full = side * (h + padding) - padding, side * (w + padding) - padding
    out = np.zeros((*full, Xs.shape[3]))
    out[: grid.shape[0], : grid.shape[1]] = grid
    return out


def plot_first_layer_weights(
    W1: np.ndarray,
    path: str | os.PathLike,
    image_shape: Sequence[int] = (3, 32, 32),
    max_units: int = 64,
) -> Path:
    """A grid of first-layer weights as images (each unit rescaled to [0, 1])."""
    mosaic = weight_grid(W1, image_shape, max_units)
    fig, (ax,) = _figure(width=6, height=6)
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, interpolation="nearest")
    ax.set_title(
        f"First-layer weights ({min(max_units, np.shape(W1)[1])} of {np.shape(W1)[1]} units)"
    )
    ax.axis("off")
    return _save(fig, path)


def plot_confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str], path: str | os.PathLike
) -> Path:
    """Confusion matrix with rows normalized to 1 (recall per class) and counts annotated."""
    k = len(class_names)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    check_labels(y_true, k, name="y_true")
    check_labels(y_pred, k, n=y_true.shape[0], name="y_pred")
    counts = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    rows = counts.sum(axis=1, keepdims=True)
    rate = counts / np.where(rows > 0, rows, 1)

    size = 1.0 + 0.6 * k
    fig, (ax,) = _figure(width=size + 1.5, height=size)
    image = ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="fraction of true class")
    for i in range(k):
        for j in range(k):
            color = "white" if rate[i, j] > 0.5 else "black"
            ax.text(j, i, f"{counts[i, j]}", ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    acc = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix (accuracy {acc:.4f})")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _save(fig, path)


def compare_runs(histories: dict[str, dict[str, Any]], path: str | os.PathLike) -> Path:
    """Overlay several runs: smoothed training loss and validation accuracy."""
    if not histories:
        raise ValueError("compare_runs needs at least one history")
    fig, (ax_loss, ax_acc) = _figure(ncols=2)
    for i, (name, history) in enumerate(histories.items()):
        color = f"C{i % 10}"
        loss = np.asarray(history["loss_history"], dtype=float)
        ax_loss.plot(np.arange(1, loss.size + 1), smooth(loss), color=color, label=name)
        table = epoch_table(history)
        ax_acc.plot(table["epoch"], table["val_acc"], "o-", color=color, markersize=4, label=name)
    _style(ax_loss, "Training loss (moving average)", "iteration", "loss")
    _style(ax_acc, "Validation accuracy", "epoch", "accuracy")
    return _save(fig, path)


def show_pngs(paths: Sequence[str | os.PathLike]) -> bool:
    """Open the PNGs in windows (for ``--show``); returns False when there is no display."""
    if not display_available():
        print("--show: no display available; open the PNG files instead", file=sys.stderr)
        return False
    import matplotlib.pyplot as plt  # only here: pyplot picks an interactive backend

    for path in paths:
        fig = plt.figure(num=Path(path).name)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.imshow(plt.imread(path))
        ax.axis("off")
    plt.show()
    return True


def draw_lr_reg(rows: Sequence[dict[str, Any]], ax: Axes) -> None:
    """CS231n's search plot into ``ax``: each trial at (lr, reg) on log axes, coloured by
    val acc; ``rows`` are trial results (``lr``, ``reg``, ``val_acc``, ``status``).
    """
    ok = [r for r in rows if r["status"] == "ok"]
    bad = [r for r in rows if r["status"] != "ok"]
    if ok:
        points = ax.scatter(
            [r["lr"] for r in ok],
            [r["reg"] for r in ok],
            c=[r["val_acc"] for r in ok],
            cmap="viridis",
            s=60,
            edgecolors="black",
            linewidths=0.5,
        )
        ax.figure.colorbar(points, ax=ax, label="best validation accuracy")
        best = max(ok, key=lambda r: r["val_acc"])
        ax.scatter(best["lr"], best["reg"], marker="*", s=400, facecolors="none",
                   edgecolors="tab:red", linewidths=1.5, label="best")  # fmt: skip
    if bad:
        ax.scatter(
            [r["lr"] for r in bad],
            [r["reg"] for r in bad],
            marker="x",
            c="gray",
            s=50,
            label="diverged or failed",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # labelled minor ticks overlap on short log ranges
        axis.set_minor_formatter(NullFormatter())
    ax.set_title(f"Validation accuracy of {len(rows)} trials")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("regularization strength")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(frameon=False, loc="best")


def plot_lr_reg(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write :func:`draw_lr_reg`'s figure to ``path``."""
    fig, (ax,) = _figure(width=6.4, height=4.8)
    draw_lr_reg(rows, ax)
    return _save(fig, path)


def display_available() -> bool:
    """Whether a window can be opened (for ``--show``); headless Linux has no display."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
