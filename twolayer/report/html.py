"""The HTML around a report: the page, its style, tables, settings flattened for display.

Every page is one self-contained file: style inline, pictures as data URIs or inline
SVG, no script and nothing fetched, so it opens from the file system anywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

STYLE = """
:root { color-scheme: light; --muted: #666; --line: #ddd; --accent: #1f77b4; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1140px;
       padding: 16px 24px 48px; color: #222; background: #fafafa; overflow-wrap: break-word; }
@media (max-width: 600px) { body { padding: 10px 10px 32px; } }
h1 { font-size: 22px; margin: 8px 0 2px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.sub { color: var(--muted); margin: 0 0 12px; }
.live { background: #fff4d6; border: 1px solid #f0c36d; padding: 6px 10px; border-radius: 4px; }
.live progress { vertical-align: middle; margin-left: 8px; width: min(200px, 40vw); }
dl.headline { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
dl.headline div { background: #fff; border: 1px solid var(--line); border-radius: 6px;
                  padding: 8px 14px; min-width: 110px; }
dl.headline dt { color: var(--muted); font-size: 12px; }
dl.headline .how { display: block; font-size: 11px; }
dl.headline dd { margin: 0; font-size: 20px; font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; }
.figures > * { background: #fff; border: 1px solid var(--line); border-radius: 6px; }
svg.chart, img { max-width: 100%; height: auto; }
.scroll { max-width: 100%; overflow-x: auto; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f0f0f0; padding: 6px 8px;
      border-radius: 4px; }
pre code { padding: 0; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; }
th { background: #f0f0f0; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.differs td { background: #fff4d6; }
tr.best td { font-weight: 600; }
table.confusion td { text-align: center; min-width: 34px; }
.bar { display: inline-block; height: 10px; background: var(--accent); vertical-align: middle; }
.examples { display: flex; flex-wrap: wrap; gap: 10px; }
.examples figure { margin: 0; background: #fff; border: 1px solid var(--line);
                   border-radius: 6px; padding: 6px; text-align: center; font-size: 12px; }
.examples img, img.pixels { image-rendering: pixelated; }
.ok { color: #2a7d2a; } .bad { color: #b22; }
.note { color: var(--muted); font-size: 12px; }
code { background: #f0f0f0; padding: 1px 4px; border-radius: 3px; }
"""


def page(title: str, body: str, *, refresh_seconds: int | None = None) -> str:
    """A whole HTML document; with ``refresh_seconds`` (whole, >= 1) it reloads that often."""
    refresh = ""
    if refresh_seconds is not None:
        # Browsers read only the whole seconds: "0.5" would mean 0, a reload loop.
        if isinstance(refresh_seconds, bool) or not isinstance(refresh_seconds, int):
            raise ValueError(f"refresh_seconds must be a whole number, got {refresh_seconds!r}")
        if refresh_seconds < 1:
            raise ValueError(f"refresh_seconds must be at least 1, got {refresh_seconds}")
        refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">\n'
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"{refresh}"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # An empty icon: otherwise the browser asks the file system for favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'{body}\n<p class="note">Written {datetime.now():%Y-%m-%d %H:%M:%S} by twolayer.</p>\n'
        "</body>\n</html>\n"
    )


def section(title: str, content: str, *, anchor: str) -> str:
    return f'<section id="{anchor}">\n<h2>{escape(title)}</h2>\n{content}\n</section>'


def headline(items: Iterable[tuple[Any, ...]]) -> str:
    """Key figures as ``(key, label, value, text)`` or ``(key, label, value, text, note)``:
    each box shows ``text`` under ``label`` (and ``note``, e.g. how it was measured, in
    small print) and carries ``data-key`` and the exact ``data-value`` (for scripts and
    tests). Each key is shown once.
    """
    boxes: list[str] = []
    seen: set[str] = set()
    for key, label, value, text, *note in items:
        if key in seen:
            raise ValueError(f"two headline figures named {key!r}")
        seen.add(key)
        small = f'<span class="how">{escape(note[0])}</span>' if note and note[0] else ""
        boxes.append(
            f'<div data-key="{escape(key)}" data-value="{escape(str(value))}">'
            f"<dt>{escape(label)}{small}</dt><dd>{escape(text)}</dd></div>"
        )
    return f'<dl class="headline" id="headline">{"".join(boxes)}</dl>'


def swatch(color: str) -> Html:
    """A small colour sample, naming a run's colour in a table or key."""
    return Html(f'<span class="bar" style="width:18px;background:{color}"></span>')


def fmt(value: Any, digits: int = 4) -> str:
    """A value for a table cell: floats to ``digits`` significant figures, the rest as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}" if value and abs(value) < 1e-3 else f"{value:.{digits}f}"
    return str(value)


def fmt_seconds(seconds: float) -> str:
    """``seconds`` as "12.3 s", "4 min 05 s" or "1 h 02 min"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    row_classes: Iterable[str] | None = None,
    cls: str = "",
) -> str:
    """An HTML table; numbers are right-aligned, cells are escaped unless pre-built ``Html``.

    A table wider than the page scrolls sideways in its own box, not the page.
    """
    out = ['<div class="scroll">', f'<table class="{cls}">' if cls else "<table>", "<thead><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    classes = iter(row_classes) if row_classes is not None else None
    for row in rows:
        rc = next(classes, "") if classes is not None else ""
        out.append(f'<tr class="{rc}">' if rc else "<tr>")
        for cell in row:
            if isinstance(cell, Html):
                out.append(f"<td>{cell}</td>")
            elif isinstance(cell, (int, float)) and not isinstance(cell, bool):
                out.append(f'<td class="num">{escape(fmt(cell))}</td>')
            else:
                out.append(f"<td>{escape(fmt(cell))}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


class Html(str):
    """Markup that :func:`table` puts into a cell as it is, without escaping."""


def flatten_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config's settings as ``{"dotted.key": value}``, nested dicts flattened.

    A run's ``config.json`` keeps its settings under ``"run"``; those are shown
    without the prefix. Lists are shown as JSON text.
    """
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple, Mapping)):
            flat[prefix] = json.dumps(value)
        else:
            flat[prefix] = value

    run = config.get("run")
    if isinstance(run, Mapping):
        walk("", run)
        walk("", {k: v for k, v in config.items() if k != "run"})
    else:
        walk("", config)
    return flat


def links(names: Iterable[str]) -> str:
    """Relative links to files beside the page."""
    items = "".join(f'<li><a href="{escape(n)}">{escape(n)}</a></li>' for n in names)
    return f"<ul>{items}</ul>"
