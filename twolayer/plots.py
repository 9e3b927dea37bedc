"""The report's pictures as matplotlib figures and PNG files: curves, decision regions,
weights, several runs, a search.

Every chart here is built by :mod:`twolayer.report.curves` (or
:func:`twolayer.report.search.lr_reg_chart`), the code that draws the report's
SVG charts, and rendered by :func:`draw_chart`: one implementation per picture,
two renderers. Pictures that are arrays (the weight mosaic) are written by Pillow,
as the report inlines them.

Optional, and never imported by ``twolayer`` itself, so the core works without
matplotlib ever loading. Figures are built as ``matplotlib.figure.Figure``
objects, not through pyplot: they render with the Agg backend whether or not
there is a display, never open a window, and need no closing. Only
:func:`show_pngs` touches pyplot. Every PNG is written atomically.

The ``plot_*(history, ax)`` functions, ``draw_decision_boundary`` and
``draw_lr_reg`` draw into an Axes you supply (a notebook's); ``save_run_plots``,
``compare_runs`` and the other ``plot_*`` write PNG files.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from twolayer._io import atomic_write
from twolayer.report.curves import (
    accuracy_chart,
    boundary_chart,
    loss_chart,
    lr_chart,
    overlay_charts,
    smooth,
)
from twolayer.report.pictures import decision_regions, visualize_grid, weight_grid
from twolayer.report.png import save_png, to_uint8
from twolayer.report.svg import Chart

__all__ = [
    "compare_runs", "decision_regions", "draw_chart", "draw_decision_boundary", "draw_lr_reg",
    "plot_accuracy", "plot_decision_boundary", "plot_first_layer_weights", "plot_loss",
    "plot_lr", "plot_lr_reg", "save_chart", "save_run_plots", "show_pngs", "smooth",
    "visualize_grid", "weight_grid",
]  # fmt: skip

DPI = 110
PX_PER_INCH = 56  # a chart's width in the report (px) to its figure's width (inches)
LOSS_PNG, ACCURACY_PNG, LR_PNG = "loss.png", "accuracy.png", "lr.png"
WEIGHTS_ZOOM = 3  # screen pixels per weight in weights.png


def draw_chart(chart: Chart, ax: Axes) -> None:
    """Draw ``chart`` (what the report shows as SVG) into the matplotlib Axes ``ax``."""
    (x0, x1), (y0, y1) = chart.limits()
    for kind, item in chart.items:
        label = item.get("label")
        if kind == "image":
            (a, b), (c, d) = item["x"], item["y"]
            ax.imshow(item["pixels"], extent=(a, b, c, d), aspect="auto",
                      interpolation="nearest", zorder=0)  # fmt: skip
        elif kind == "line":
            ax.plot(item["x"], item["y"], color=item["color"], linewidth=item["width"],
                    alpha=item["opacity"], marker="o" if item["markers"] else None,
                    markersize=4, label=label)  # fmt: skip
        elif kind == "band":
            ax.fill_between(item["x"], item["lo"], item["hi"], color=item["color"],
                            alpha=item["opacity"], linewidth=0, label=label)  # fmt: skip
        else:
            _draw_points(ax, item, label)
    ax.set_xscale("log" if chart.xlog else "linear")
    ax.set_yscale("log" if chart.ylog else "linear")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    if chart.xlog or chart.ylog:  # labelled minor ticks overlap on short log ranges
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_formatter(NullFormatter())
    if chart.equal_scales:
        ax.set_aspect("equal")
    ax.set_title(chart.title)
    ax.set_xlabel(chart.xlabel)
    ax.set_ylabel(chart.ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if chart.legend:
        ax.legend(frameon=False, loc="best")


def _draw_points(ax: Axes, item: dict[str, Any], label: str | None) -> None:
    size = (1.6 * item["radius"]) ** 2  # scatter sizes are areas in points squared
    if item["shape"] == "ring":
        ax.scatter(item["x"], item["y"], s=size, facecolors="none", edgecolors=item["colors"],
                   linewidths=2, label=label, zorder=4)  # fmt: skip
    elif item["shape"] == "cross":
        ax.scatter(item["x"], item["y"], s=size, marker="x", c=item["colors"], label=label,
                   zorder=3)  # fmt: skip
    else:
        ax.scatter(item["x"], item["y"], s=size, c=item["colors"], edgecolors="#222",
                   linewidths=0.5, label=label, zorder=3)  # fmt: skip


def _figure(charts: Sequence[Chart]) -> tuple[Figure, list[Axes]]:
    width = sum(c.width for c in charts) / PX_PER_INCH
    height = max(c.height for c in charts) / PX_PER_INCH
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(1, len(charts))))
    for chart, ax in zip(charts, axes, strict=True):
        draw_chart(chart, ax)
    return fig, axes


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    # Render fully in memory first, so a failed render leaves no file behind.
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def save_chart(charts: Chart | Sequence[Chart], path: str | os.PathLike) -> Path:
    """Write one chart, or several side by side, to the PNG file ``path``."""
    return _save(_figure([charts] if isinstance(charts, Chart) else charts)[0], path)


def plot_loss(history: dict[str, Any], ax: Axes) -> None:
    """The report's loss chart: minibatch loss, its moving average, val loss per epoch."""
    draw_chart(loss_chart(history), ax)


def plot_accuracy(history: dict[str, Any], ax: Axes) -> None:
    """The report's accuracy chart: train and val accuracy per epoch, the best ringed."""
    draw_chart(accuracy_chart(history), ax)


def plot_lr(history: dict[str, Any], ax: Axes) -> None:
    """The report's learning-rate chart: the rate of every iteration."""
    draw_chart(lr_chart(history), ax)


def save_run_plots(run_dir: str | os.PathLike, history: dict[str, Any]) -> list[Path]:
    """Write ``loss.png``, ``accuracy.png`` and ``lr.png``: the report's three charts."""
    run_dir = Path(run_dir)
    return [
        save_chart(loss_chart(history), run_dir / LOSS_PNG),
        save_chart(accuracy_chart(history), run_dir / ACCURACY_PNG),
        save_chart(lr_chart(history), run_dir / LR_PNG),
    ]


def draw_decision_boundary(
    model: Any, X: np.ndarray, y: np.ndarray, ax: Axes, *, resolution: int = 300
) -> None:
    """Draw the model's class regions over the plane into ``ax``, points coloured by class.

    ``X`` must be (N, 2) and ``y`` (N,); ``model`` needs ``predict``.
    """
    draw_chart(boundary_chart(model, X, y, resolution=resolution), ax)


def plot_decision_boundary(
    model: Any, X: np.ndarray, y: np.ndarray, path: str | os.PathLike, *, resolution: int = 300
) -> Path:
    """Write the report's decision-regions chart to ``path``."""
    return save_chart(boundary_chart(model, X, y, resolution=resolution), path)


def plot_first_layer_weights(
    W1: np.ndarray,
    path: str | os.PathLike,
    image_shape: Sequence[int] = (3, 32, 32),
    max_units: int = 64,
) -> Path:
    """The report's mosaic of first-layer weights (each unit scaled to its own range), as
    a PNG of ``WEIGHTS_ZOOM`` pixels per weight."""
    mosaic = weight_grid(W1, image_shape, max_units)
    return save_png(to_uint8(mosaic, 0.0, 1.0), path, zoom=WEIGHTS_ZOOM)


def compare_runs(histories: dict[str, dict[str, Any]], path: str | os.PathLike) -> Path:
    """Overlay several runs (the comparison page's charts, with a legend) in one PNG."""
    if not histories:
        raise ValueError("compare_runs needs at least one history")
    return save_chart(overlay_charts(histories, legend=True), path)


def draw_lr_reg(rows: Sequence[dict[str, Any]], ax: Axes) -> None:
    """CS231n's search plot into ``ax``: each trial at (lr, reg) on log axes, coloured by
    val acc; ``rows`` are trial results (``lr``, ``reg``, ``val_acc``, ``status``).
    """
    from twolayer.report.search import accuracy_range, lr_reg_chart  # the search package

    rows = [{"index": i, **r} for i, r in enumerate(rows)]  # a notebook's rows may lack it
    draw_chart(lr_reg_chart(rows), ax)
    scale = accuracy_range(rows)
    if scale is not None:
        colors = ScalarMappable(Normalize(*scale), "viridis")
        ax.figure.colorbar(colors, ax=ax, label="best validation accuracy")


def plot_lr_reg(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write :func:`draw_lr_reg`'s figure to ``path``."""
    fig = Figure(figsize=(10, 6.4), dpi=DPI, layout="constrained")
    draw_lr_reg(rows, fig.subplots())
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
        ax.imshow(plt.imread(Path(path)))
        ax.axis("off")
    plt.show()
    return True


def display_available() -> bool:
    """Whether a window can be opened (for ``--show``); headless Linux has no display."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
