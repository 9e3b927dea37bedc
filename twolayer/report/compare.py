"""Several runs on one page: their curves overlaid, their results and settings side by side.

compare_runs_html(["runs/a", "runs/b"], "compare.html")
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from twolayer._io import atomic_write_text
from twolayer.report.curves import figures, overlay_charts, run_color
from twolayer.report.html import (
    Html,
    flatten_settings,
    fmt_seconds,
    page,
    section,
    swatch,
    table,
)
from twolayer.report.results import views_text
from twolayer.report.run import REPORT_HTML, RESULTS_JSON, read_json, setting_text
from twolayer.runs import load_config, load_history

MISSING = "—"


def run_names(run_dirs: Sequence[Path]) -> list[str]:
    """Each run's folder name, or its path when two runs share a name."""
    names = [p.name for p in run_dirs]
    if len(set(names)) == len(names):
        return names
    return [os.fspath(p) for p in run_dirs]


def _link(target: Path, page_dir: Path, text: str) -> Html:
    href = Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix()
    return Html(f'<a href="{escape(href)}">{escape(text)}</a>')


def results_table(
    names: Sequence[str], run_dirs: Sequence[Path], histories: Sequence[Mapping[str, Any]],
    page_dir: Path,
) -> str:  # fmt: skip
    """One row per run: colour, name (linked to its report), epochs and accuracies."""
    summaries = [read_json(d / RESULTS_JSON) or {} for d in run_dirs]
    best = max(range(len(names)), key=lambda i: histories[i]["best_val_acc"])
    rows, classes = [], []
    for i, (name, run_dir, history, summary) in enumerate(
        zip(names, run_dirs, histories, summaries, strict=True)
    ):
        report = run_dir / REPORT_HTML
        label = _link(report, page_dir, name) if report.is_file() else name
        final = summary.get("accuracy")
        if final is not None:
            how = f", {views_text(summary['views'])}" if summary.get("views") else ""
            final = f"{final:.4f} ({summary.get('split', 'test')}{how})"
        rows.append(
            (
                swatch(run_color(i)),
                label,
                len(history["val_acc_history"]),
                int(history["best_epoch"]),
                float(history["best_val_acc"]),
                MISSING if final is None else final,
                fmt_seconds(sum(history["epoch_time_history"])),
            )
        )
        classes.append("best" if i == best else "")
    header = ("", "run", "epochs", "best epoch", "best val acc (single view)", "final acc",
              "training time")  # fmt: skip
    return table(header, rows, row_classes=classes, cls="runs")


def settings_table(names: Sequence[str], configs: Sequence[Mapping[str, Any]]) -> str:
    """Every setting of every run; the rows where the runs differ come first, highlighted."""
    flats = [flatten_settings(c) for c in configs]
    keys = list(dict.fromkeys(k for flat in flats for k in flat))
    cells = {k: [setting_text(f[k]) if k in f else MISSING for f in flats] for k in keys}
    differ = [k for k in keys if len(set(cells[k])) > 1]
    same = [k for k in keys if k not in differ]
    rows = [(k, *cells[k]) for k in differ + same]
    classes = ["differs"] * len(differ) + [""] * len(same)
    note = f'<p class="note">{len(differ)} of {len(keys)} settings differ (highlighted, first).</p>'
    return note + table(("setting", *names), rows, row_classes=classes, cls="settings")


def compare_runs_html(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write a page comparing the runs in ``run_dirs`` to ``out``, atomically; returns it.

    Curves overlaid (one colour per run), a table of results (the best run in
    bold, the final accuracy from each run's results.json when it has one) and one of
    settings with the differing ones highlighted.
    """
    if not run_dirs:
        raise ValueError("compare_runs_html needs at least one run directory")
    dirs = list(dict.fromkeys(Path(d) for d in run_dirs))  # each run once
    # Everything is read first, so a bad directory fails before anything is written.
    histories = [load_history(d) for d in dirs]
    configs = [load_config(d) for d in dirs]
    names = run_names(dirs)
    out = Path(out)
    body = [
        f"<h1>{len(dirs)} runs compared</h1>",
        section("Results", results_table(names, dirs, histories, out.parent), anchor="results"),
        section(
            "Curves",
            figures(overlay_charts(dict(zip(names, histories, strict=True)))),
            anchor="curves",
        ),
        section("Settings", settings_table(names, configs), anchor="settings"),
    ]
    return atomic_write_text(out, page(f"{len(dirs)} twolayer runs", "\n".join(body)))
