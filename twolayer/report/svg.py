"""A chart as data (lines, bands, points and a picture behind them, on linear or log
axes), and drawn as inline SVG text.

    chart = Chart("Accuracy", "epoch", "accuracy", ylim=(0, 1))
    chart.line(epochs, val_acc, "#ff7f0e", label="val", markers=True, tips=[...])
    html = chart.svg()                          # in a report
    twolayer.plots.draw_chart(chart, ax)        # the same chart, by matplotlib (PNG files)

Each picture is built once as a :class:`Chart` (:mod:`twolayer.report.curves`);
the SVG is drawn by hand rather than by matplotlib because a live report redraws
its curves as the run goes, which matplotlib does far more slowly. Non-finite
values (a diverged loss) leave gaps.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from twolayer.report.png import png_data_uri

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 62, 14, 46, 42
#: Data coordinates to pixels along one axis.
Scale = Callable[[ArrayLike], np.ndarray]
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def nice_step(span: float, target: int = 5) -> float:
    """A 1, 2 or 5 times a power of ten step giving about ``target`` intervals over ``span``."""
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def linear_ticks(lo: float, hi: float) -> list[float]:
    """Round values between ``lo`` and ``hi``, about five of them."""
    step = nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9)
    ticks = [(first + i) * step for i in range(int((hi - lo) / step + 1e-9) + 2)]
    return [round(t, 12) for t in ticks if lo - 1e-9 * step <= t <= hi + 1e-9 * step]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten between ``lo`` and ``hi`` (> 0), with 2 and 5 times them on short ranges."""
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    multiples = (1,) if len(decades) > 3 else (1, 2, 5)
    ticks = [m * 10.0**d for d in decades for m in multiples]
    return [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


def tick_label(value: float) -> str:
    return f"{value:.6g}"


@dataclass
class _Axis:
    log: bool
    lo: float = math.inf
    hi: float = -math.inf

    def include(self, values: np.ndarray) -> None:
        v = values[np.isfinite(values) & ((values > 0) if self.log else True)]
        if v.size:
            self.lo, self.hi = min(self.lo, float(v.min())), max(self.hi, float(v.max()))

    def limits(self, given: tuple[float, float] | None) -> tuple[float, float]:
        lo, hi = given if given is not None else (self.lo, self.hi)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = (1.0, 10.0) if self.log else (0.0, 1.0)
        if given is None:  # a little room so points on the edge stay whole
            if self.log:
                pad = (math.log10(hi) - math.log10(lo)) * 0.04 or 0.5
                lo, hi = lo / 10**pad, hi * 10**pad
            else:
                pad = (hi - lo) * 0.04 or max(abs(lo) * 0.1, 0.5)
                lo, hi = lo - pad, hi + pad
        return lo, hi

    def ticks(self, lo: float, hi: float) -> list[float]:
        return log_ticks(lo, hi) if self.log else linear_ticks(lo, hi)


@dataclass
class Chart:
    """One chart; add lines, points and an image in data coordinates, then draw it with
    :meth:`svg` (or :func:`twolayer.plots.draw_chart`).

    xlim, ylim: the axes' ranges; default: the data's, padded 4%. equal_scales: one
    unit is as long on both axes (the width and height should agree with it).
    """

    title: str
    xlabel: str
    ylabel: str
    xlog: bool = False
    ylog: bool = False
    width: int = 360
    height: int = 270
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    equal_scales: bool = False
    items: list[tuple[str, dict]] = field(default_factory=list)
    legend: list[tuple[str, str, float]] = field(default_factory=list)

    def _add(self, kind: str, label: str | None, legend_color: str, **payload: Any) -> None:
        self.items.append((kind, {**payload, "label": label}))
        if label:
            self.legend.append((label, legend_color, payload.get("opacity", 1.0)))

    def line(
        self,
        x: ArrayLike,
        y: ArrayLike,
        color: str,
        *,
        label: str | None = None,
        width: float = 1.8,
        opacity: float = 1.0,
        markers: bool = False,
        tips: Sequence[str] | None = None,
    ) -> None:
        """A polyline through (x, y); ``markers`` dots each point, ``tips`` are hover texts."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self._add("line", label, color, x=x, y=y, color=color, width=width, opacity=opacity,
                  markers=markers, tips=tips)  # fmt: skip

    def band(
        self,
        x: ArrayLike,
        lo: ArrayLike,
        hi: ArrayLike,
        color: str,
        *,
        label: str | None = None,
        opacity: float = 0.25,
    ) -> None:
        """A filled band between the curves (x, lo) and (x, hi); non-finite points are left out."""
        x, lo, hi = (np.asarray(a, dtype=float) for a in (x, lo, hi))
        ok = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi)
        self._add("band", label, color, x=x[ok], lo=lo[ok], hi=hi[ok], color=color,
                  opacity=opacity)  # fmt: skip

    def points(
        self,
        x: ArrayLike,
        y: ArrayLike,
        colors: str | Sequence[str],
        *,
        label: str | None = None,
        radius: float = 4.0,
        shape: str = "circle",
        tips: Sequence[str] | None = None,
    ) -> None:
        """Markers at (x, y): ``shape`` "circle", "cross" or "ring" (an outline to highlight)."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        colors = [colors] * x.size if isinstance(colors, str) else list(colors)
        legend_color = colors[0] if colors else "#888"
        self._add("points", label, legend_color, x=x, y=y, colors=colors, radius=radius,
                  shape=shape, tips=tips)  # fmt: skip

    def image(
        self, pixels: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float]
    ) -> None:
        """A picture, uint8 (H, W, 3) with row 0 at the top, filling the data rectangle
        x_range by y_range, behind everything else."""
        self.items.insert(0, ("image", {"pixels": pixels, "x": x_range, "y": y_range}))

    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The x and y ranges drawn: ``xlim`` and ``ylim``, else the data's, padded."""
        ax, ay = _Axis(self.xlog), _Axis(self.ylog)
        for kind, item in self.items:
            if kind == "image":
                ax.include(np.asarray(item["x"], dtype=float))
                ay.include(np.asarray(item["y"], dtype=float))
            elif kind == "band":
                ax.include(item["x"])
                ay.include(item["lo"])
                ay.include(item["hi"])
            else:
                ax.include(item["x"])
                ay.include(item["y"])
        return ax.limits(self.xlim), ay.limits(self.ylim)

    def ticks(self) -> tuple[list[float], list[float]]:
        """The x and y values marked on the axes."""
        (x0, x1), (y0, y1) = self.limits()
        return _Axis(self.xlog).ticks(x0, x1), _Axis(self.ylog).ticks(y0, y1)

    def svg(self) -> str:
        """The chart as an ``<svg>`` element (scaled down to fit a narrow page)."""
        (x0, x1), (y0, y1) = self.limits()
        xticks, yticks = self.ticks()
        left, top = MARGIN_LEFT, MARGIN_TOP
        right, bottom = self.width - MARGIN_RIGHT, self.height - MARGIN_BOTTOM

        def scale(lo: float, hi: float, a: float, b: float, log: bool) -> Scale:
            if log:
                lo, hi = math.log10(lo), math.log10(hi)

            def f(v: ArrayLike) -> np.ndarray:
                v = np.asarray(v, dtype=float)
                if log:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        v = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
                return a + (v - lo) * (b - a) / (hi - lo)

            return f

        px, py = scale(x0, x1, left, right, self.xlog), scale(y0, y1, bottom, top, self.ylog)
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" role="img" '
            f'aria-label="{escape(self.title)}" {FONT}>',
            f"<title>{escape(self.title)}</title>",
            f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
            'fill="#fff" stroke="#bbb"/>',
        ]
        out += _grid(xticks, px, top, bottom, vertical=True)
        out += _grid(yticks, py, left, right, vertical=False)
        out.append(
            f'<clipPath id="{{clip}}"><rect x="{left}" y="{top}" width="{right - left}" '
            f'height="{bottom - top}"/></clipPath><g clip-path="url(#{{clip}})">'
        )
        for kind, item in self.items:
            out += _DRAW[kind](item, px, py)
        out.append("</g>")
        out += _labels(self, left, right, top, bottom)
        out.append("</svg>")
        text = "".join(out)
        # Several charts share a page: a clip path's id must differ between them
        # (identical charts may share one: their clip rectangles are the same).
        return text.replace("{clip}", f"clip{zlib.crc32(text.encode()):08x}")


def _grid(ticks: list[float], p: Scale, a: float, b: float, *, vertical: bool) -> list[str]:
    out = []
    for t in ticks:
        c = float(p(t))
        if vertical:
            out.append(f'<line x1="{c:.1f}" x2="{c:.1f}" y1="{a}" y2="{b}" stroke="#eee"/>')
            out.append(
                f'<text x="{c:.1f}" y="{b + 14}" text-anchor="middle">{tick_label(t)}</text>'
            )
        else:
            out.append(f'<line x1="{a}" x2="{b}" y1="{c:.1f}" y2="{c:.1f}" stroke="#eee"/>')
            out.append(
                f'<text x="{a - 5}" y="{c + 4:.1f}" text-anchor="end">{tick_label(t)}</text>'
            )
    return out


def _labels(chart: Chart, left: float, right: float, top: float, bottom: float) -> list[str]:
    out = [
        f'<text x="{(left + right) / 2}" y="16" text-anchor="middle" font-size="13" '
        f'font-weight="600">{escape(chart.title)}</text>',
        f'<text x="{(left + right) / 2}" y="{chart.height - 6}" text-anchor="middle">'
        f"{escape(chart.xlabel)}</text>",
        f'<text transform="translate(14 {(top + bottom) / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(chart.ylabel)}</text>',
    ]
    x = left
    for label, color, opacity in chart.legend:  # one row under the title
        out.append(
            f'<rect x="{x}" y="26" width="12" height="8" fill="{color}" fill-opacity="{opacity}"/>'
        )
        out.append(f'<text x="{x + 16}" y="34">{escape(label)}</text>')
        x += 30 + 6.2 * len(label)
    return out


def _path(x: np.ndarray, y: np.ndarray) -> str:
    """SVG path data through the finite points, broken where a value is not finite."""
    ok = np.isfinite(x) & np.isfinite(y)
    parts, pen_down = [], False
    for xi, yi, good in zip(x.tolist(), y.tolist(), ok.tolist(), strict=True):
        if good:
            parts.append(f"{'L' if pen_down else 'M'}{xi:.1f} {yi:.1f}")
        pen_down = good
    return "".join(parts)


def _tip(tips: Sequence[str] | None, i: int) -> str:
    return f"<title>{escape(tips[i])}</title>" if tips is not None else ""


def _draw_line(item: dict, px: Scale, py: Scale) -> list[str]:
    x, y = px(item["x"]), py(item["y"])
    out = [
        f'<path d="{_path(x, y)}" fill="none" stroke="{item["color"]}" '
        f'stroke-width="{item["width"]}" stroke-opacity="{item["opacity"]}" '
        'stroke-linejoin="round"/>'
    ]
    if item["markers"]:
        for i, (xi, yi) in enumerate(zip(x.tolist(), y.tolist(), strict=True)):
            if math.isfinite(xi) and math.isfinite(yi):
                out.append(
                    f'<circle cx="{xi:.1f}" cy="{yi:.1f}" r="3" fill="{item["color"]}">'
                    f"{_tip(item['tips'], i)}</circle>"
                )
    return out


def _draw_band(item: dict, px: Scale, py: Scale) -> list[str]:
    if not item["x"].size:
        return []
    x = px(item["x"])
    d = _path(np.concatenate([x, x[::-1]]), np.concatenate([py(item["hi"]), py(item["lo"])[::-1]]))
    return [f'<path d="{d}Z" fill="{item["color"]}" fill-opacity="{item["opacity"]}"/>']


def _draw_points(item: dict, px: Scale, py: Scale) -> list[str]:
    x, y, r = px(item["x"]), py(item["y"]), item["radius"]
    out = []
    for i, (xi, yi, color) in enumerate(zip(x.tolist(), y.tolist(), item["colors"], strict=True)):
        if not (math.isfinite(xi) and math.isfinite(yi)):
            continue
        tip = _tip(item["tips"], i)
        if item["shape"] == "cross":
            out.append(
                f'<path d="M{xi - r:.1f} {yi - r:.1f}L{xi + r:.1f} {yi + r:.1f}M{xi - r:.1f} '
                f'{yi + r:.1f}L{xi + r:.1f} {yi - r:.1f}" stroke="{color}" stroke-width="2">'
                f"{tip}</path>"
            )
        elif item["shape"] == "ring":
            out.append(
                f'<circle cx="{xi:.1f}" cy="{yi:.1f}" r="{r}" fill="none" stroke="{color}" '
                f'stroke-width="2.5">{tip}</circle>'
            )
        else:
            out.append(
                f'<circle cx="{xi:.1f}" cy="{yi:.1f}" r="{r}" fill="{color}" stroke="#222" '
                f'stroke-width="0.6">{tip}</circle>'
            )
    return out


def _draw_image(item: dict, px: Scale, py: Scale) -> list[str]:
    (xa, xb), (ya, yb) = px(np.asarray(item["x"])), py(np.asarray(item["y"]))
    return [
        f'<image href="{png_data_uri(item["pixels"])}" x="{min(xa, xb):.1f}" y="{min(ya, yb):.1f}" '
        f'width="{abs(xb - xa):.1f}" height="{abs(yb - ya):.1f}" preserveAspectRatio="none"/>'
    ]


_DRAW = {"line": _draw_line, "band": _draw_band, "points": _draw_points, "image": _draw_image}
