"""A search directory's ``report.html``: the trials table, the lr/reg scatter, the best
trials' curves and the command that trains the best configuration.

    write_search_report("searches/spiral")     # -> searches/spiral/report.html

Reads what :mod:`twolayer.search.trials` writes: ``search.json``, ``trials.csv`` and
``trials/<index>.json``; a search still running gets a page of the trials so far.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from twolayer._io import atomic_write_text, reading
from twolayer.report.curves import BEST_HEX, figures, overlay_charts, run_color
from twolayer.report.html import fmt, headline, page, section, swatch, table
from twolayer.report.run import REPORT_HTML, read_json, setting_text
from twolayer.report.svg import Chart
from twolayer.runs import check_history
from twolayer.search.space import PARAMS, train_command, trial_maker
from twolayer.search.trials import SEARCH_JSON, STATUSES, TRIALS_DIR, best_result, load_results

TOP_TRIALS = 5  # best trials whose curves are drawn

Row = Mapping[str, Any]


def check_search_dir(path: str | os.PathLike) -> Path:
    """``path`` as a Path, raising ValueError unless it holds a search."""
    path = Path(path)
    if not (path / SEARCH_JSON).is_file():
        raise ValueError(f"{path} is not a search directory (it has no {SEARCH_JSON})")
    return path


def _viridis(t: np.ndarray) -> list[str]:
    return [to_hex(c) for c in colormaps["viridis"](t)]


def _tip(r: Row) -> str:
    result = f"val acc {r['val_acc']:.4f}" if r["status"] == "ok" else r["status"]
    return f"trial {r['index']}: lr {r['lr']:g}, reg {r['reg']:g}, {result}"


def accuracy_range(rows: Sequence[Row]) -> tuple[float, float] | None:
    """The lowest and highest best val accuracy of the finished trials (the colour scale)."""
    acc = [r["val_acc"] for r in rows if r["status"] == "ok"]
    return (float(min(acc)), float(max(acc))) if acc else None


def lr_reg_chart(rows: Sequence[Row]) -> Chart:
    """Each trial at (lr, reg) on log axes, coloured by its best validation accuracy
    (viridis over :func:`accuracy_range`), the best ringed, failed ones crossed."""
    ok = [r for r in rows if r["status"] == "ok"]
    bad = [r for r in rows if r["status"] != "ok"]
    chart = Chart(
        f"Validation accuracy of {len(rows)} trials",
        "learning rate", "regularization", xlog=True, ylog=True, width=560, height=400,
    )  # fmt: skip
    scale, best = accuracy_range(rows), best_result(rows)
    if scale is not None and best is not None:  # both are there when a trial is ok
        (lo, hi), acc = scale, np.array([r["val_acc"] for r in ok])
        shade = (acc - lo) / (hi - lo) if hi > lo else np.full(acc.shape, 0.5)
        lrs, regs = [r["lr"] for r in ok], [r["reg"] for r in ok]
        chart.points(lrs, regs, _viridis(shade), radius=6, tips=[_tip(r) for r in ok])
        label = f"best (trial {best['index']})"
        chart.points([best["lr"]], [best["reg"]], BEST_HEX, label=label, radius=10, shape="ring")
    if bad:
        lrs, regs = [r["lr"] for r in bad], [r["reg"] for r in bad]
        tips = [_tip(r) for r in bad]
        chart.points(lrs, regs, "#888", label="diverged or failed", shape="cross", tips=tips)
    return chart


def scatter_section(rows: Sequence[Row]) -> str:
    """The lr/reg chart with its colour scale."""
    scale = accuracy_range(rows)
    note = ""
    if scale is not None:
        gradient = ", ".join(_viridis(np.linspace(0, 1, 6)))
        note = (
            f'<p class="note">colour: best val accuracy (single view), {scale[0]:.4f} '
            f'<span class="bar" style="width:160px;background:linear-gradient(to right, '
            f'{gradient})"></span> {scale[1]:.4f}</p>'
        )
    figure = f"{figures([lr_reg_chart(rows)])}{note}"
    return section("Learning rate and regularization", figure, anchor="scatter")


def trials_table(rows: Sequence[Row]) -> str:
    """Every trial, best first; the settings no trial varies are listed once above."""
    fixed = [p for p in PARAMS if len({str(r[p]) for r in rows}) == 1]
    varying = [p for p in PARAMS if p not in fixed]
    order = sorted(rows, key=lambda r: (r["status"] != "ok", -r["val_acc"], r["index"]))
    best = best_result(rows)
    header = ("trial", "status", "val acc", "train loss", "val loss", *varying, "seconds")
    cells = [
        (r["index"], r["status"], r["val_acc"], r["train_loss"], r["val_loss"],
         *(r[p] for p in varying), r["seconds"])
        for r in order
    ]  # fmt: skip
    classes = ["best" if best is not None and r["index"] == best["index"] else "" for r in order]
    note = ""
    if rows and fixed:
        same = ", ".join(f"{p} = {setting_text(rows[0][p])}" for p in fixed)
        note = f'<p class="note">The same in every trial: {escape(same)}</p>'
    return note + table(header, cells, row_classes=classes, cls="trials")


def best_curves_section(search_dir: Path, rows: Sequence[Row]) -> str:
    """The curves of the best trials, overlaid."""
    ok = sorted((r for r in rows if r["status"] == "ok"), key=lambda r: (-r["val_acc"], r["index"]))
    histories = {}
    for r in ok[:TOP_TRIALS]:
        path = search_dir / TRIALS_DIR / f"{r['index']}.json"
        try:
            history = check_history(read_json(path) or {}, path)
        except ValueError:  # a missing or damaged file costs its curve, not the page
            continue
        histories[f"trial {r['index']}"] = history
    if not histories:
        return ""
    key = " &nbsp; ".join(f"{swatch(run_color(i))} {escape(n)}" for i, n in enumerate(histories))
    content = f"<p>{key}</p>{figures(overlay_charts(histories))}"
    return section(f"The best {len(histories)} trials' curves", content, anchor="best-curves")


def write_search_report(
    search_dir: str | os.PathLike, out: str | os.PathLike | None = None
) -> Path:
    """Write the search's report (default ``search_dir/report.html``) atomically; return it."""
    search_dir = check_search_dir(search_dir)
    spec = read_json(search_dir / SEARCH_JSON)
    if spec is None:
        raise ValueError(f"{search_dir / SEARCH_JSON} is not a JSON object")
    rows = load_results(search_dir)
    with reading(search_dir / SEARCH_JSON, "search spec"):
        planned = trial_maker(spec)[0]
    best = best_result(rows)
    items: list[tuple[Any, ...]] = [
        ("trials", "trials done", len(rows), f"{len(rows)} of {planned}")
    ]
    for status in STATUSES:
        n = sum(r["status"] == status for r in rows)
        items.append((status, status, n, str(n)))
    if best is not None:
        acc = best["val_acc"]
        items.append(("best_val_acc", "best val accuracy", acc, fmt(acc), "single view"))
        items.append(("best_trial", "best trial", best["index"], str(best["index"])))
    what = f"{spec.get('search')} search on {spec.get('dataset')}, seed {spec.get('seed')}"
    body = [
        f"<h1>Search: {escape(search_dir.name)}</h1>",
        f'<p class="sub">{escape(what)}</p>',
        headline(items),
    ]
    if best is not None:
        command = f'<pre class="command"><code>{escape(train_command(spec, best))}</code></pre>'
        body.append(section("Train the best configuration", command, anchor="best"))
    if rows:
        body.append(scatter_section(rows))
        body.append(best_curves_section(search_dir, rows))
        body.append(section("Trials", trials_table(rows), anchor="trials"))
    settings = table(("setting", "value"), [(k, json.dumps(v)) for k, v in spec.items()])
    body.append(section("Search settings", settings, anchor="spec"))
    out = Path(out) if out is not None else search_dir / REPORT_HTML
    html = page(f"{search_dir.name}: twolayer search", "\n".join(b for b in body if b))
    return atomic_write_text(out, html)
