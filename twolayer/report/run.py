"""A run directory's ``report.html``: live while it trains, complete when it ends.

    # before training: rewrite history.json/csv and a live report after every epoch
    solver = Solver(model, data, ..., on_epoch_end=live_report_callback(run_dir))
    solver.train()
    # after evaluation: the final page, which no longer reloads
    write_report(run_dir, history=history_from_solver(solver),
                 results=RunResults(test_acc=..., y_true=..., proba=..., ...))

The page holds the run's name and data, headline figures, loss / accuracy / learning
rate curves, whatever :class:`RunResults` it is given, its settings and links to its
files. While training, it says "epoch k of N" and reloads itself every few seconds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import twolayer
from twolayer import _io
from twolayer._io import atomic_write_json, atomic_write_text
from twolayer.history import history_from_solver
from twolayer.report.curves import figures, run_charts
from twolayer.report.html import (
    flatten_settings,
    fmt,
    fmt_seconds,
    headline,
    links,
    page,
    section,
    table,
)
from twolayer.report.results import RunResults, result_sections, views_text
from twolayer.runs import CONFIG_FILE, save_history

REPORT_HTML = "report.html"
RESULTS_JSON = "results.json"
LIVE_REFRESH_SECONDS = 3
#: Runs on rows of numbers (the spiral, tables) finish epochs in milliseconds: their
#: live files are rewritten at most this often, so that writing them costs little.
ROWS_LIVE_SECONDS = 1.0
#: Files of a run directory the report links to, when they exist (not preprocess.npz,
#: which a finished run no longer holds: its model.npz has the preprocessing).
LINKED_FILES = ("model.npz", CONFIG_FILE, "history.json", "history.csv", RESULTS_JSON)


def run_headline(
    history: Mapping[str, Any],
    results: RunResults | None = None,
    live: tuple[int, int] | None = None,
    summary: Mapping[str, Any] | None = None,
) -> str:
    """The run's key figures, each accuracy saying how it was measured (single view or
    TTA); each ``<div>`` carries ``data-key`` and the exact ``data-value``.

    ``summary`` (a results.json) stands in for ``results`` when rebuilding a page.
    """
    summary = dict(summary or {})
    if results is not None:
        summary = results_summary(results)
    # results.json of an older version does not say how its figures were measured
    how = views_text(int(summary["views"])) if summary.get("views") else ""
    split = summary.get("split", "test")
    items: list[tuple[Any, ...]] = []

    def accuracy(key: str, label: str, value: Any, note: str) -> None:
        if value is not None:
            items.append((key, label, value, fmt(value), note))

    accuracy("accuracy", f"{split} accuracy", summary.get("accuracy"), how)
    if how.startswith("TTA"):
        accuracy("accuracy_single", f"{split} accuracy", summary.get("accuracy_single"),
                 "single view")  # fmt: skip
    if split != "val":  # else the figure above
        accuracy("val_acc", "val accuracy", summary.get("val_acc"), how)
    best = int(history["best_epoch"])
    accuracy("best_val_acc", "best val accuracy", float(history["best_val_acc"]),
             f"single view, epoch {best}")  # fmt: skip
    items.append(("best_epoch", "best epoch", best, str(best), "kept"))
    done = len(history["val_acc_history"])
    epochs = f"{live[0]} of {live[1]}" if live else str(done)
    items.append(("epochs", "epochs", done, epochs, "so far" if live else "trained"))
    train_time = float(sum(history["epoch_time_history"]))
    items.append(("train_time", "training time", train_time, fmt_seconds(train_time), ""))
    if summary.get("seconds") is not None:
        seconds = summary["seconds"]
        items.append(("total_time", "total time", seconds, fmt_seconds(seconds), "with data"))
    return headline(items)


def results_summary(results: RunResults) -> dict[str, Any]:
    """The headline numbers of ``results``, JSON-safe (what results.json holds):
    ``accuracy`` on the split named ``split`` and ``val_acc``, both measured with the
    test-time augmentation ``tta`` (``views`` views each), ``accuracy_single`` and
    ``val_acc_single`` without it, and ``seconds`` (or None).
    """
    single = results.test_acc_single if results.test_acc is not None else results.val_acc_single
    if results.tta == "none":
        single = results.accuracy()

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return {
        "accuracy": results.accuracy(),
        "accuracy_single": number(single),
        "val_acc": number(results.val_acc),
        "val_acc_single": number(
            results.val_acc if results.tta == "none" else results.val_acc_single
        ),
        "split": results.split,
        "tta": results.tta,
        "views": results.views(),
        "seconds": number(results.seconds),
    }


def setting_text(value: Any) -> str:
    """A setting as written in JSON (0.001, true, null), strings as they are."""
    return value if isinstance(value, str) else json.dumps(value)


def settings_section(config: Mapping[str, Any]) -> str:
    flat = flatten_settings(config)
    if not flat:
        return ""
    rows = [(key, setting_text(value)) for key, value in flat.items()]
    listing = table(("setting", "value"), rows, cls="settings")
    content = f"<details open><summary>{len(rows)} settings</summary>{listing}</details>"
    return section("Settings", content, anchor="settings")


def render_report(
    name: str,
    history: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    results: RunResults | None = None,
    *,
    live: tuple[int, int] | None = None,
    data: str | None = None,
    files: Sequence[str] = (),
    summary: Mapping[str, Any] | None = None,
    status: str = "Finished.",
    refresh_seconds: int = LIVE_REFRESH_SECONDS,
) -> str:
    """The report page of run ``name`` as HTML text (see :func:`write_report`)."""
    if live is not None:
        k, n = live
        banner = (
            f'<p class="live" id="live">Training: epoch {k} of {n}'
            f'<progress value="{k}" max="{n}"></progress> '
            f'<span class="note">this page reloads every {refresh_seconds} s</span></p>'
        )
    else:
        banner = f'<p class="sub" id="finished">{escape(status)}</p>'
    facts = [f"data: {escape(data)}"] if data else []
    facts.append(f"twolayer {escape(str((config or {}).get('version', twolayer.__version__)))}")
    body = [
        f"<h1>{escape(name)}</h1>",
        f'<p class="sub">{" · ".join(facts)}</p>',
        banner,
        run_headline(history, results, live, summary),
        section("Curves", figures(run_charts(history)), anchor="curves"),
    ]
    if results is not None:
        body.append(result_sections(results))
    body.append(settings_section(config or {}))
    if files:
        body.append(section("Files", links(files), anchor="files"))
    return page(
        f"{name}: twolayer run", "\n".join(b for b in body if b),
        refresh_seconds=refresh_seconds if live is not None else None,
    )  # fmt: skip


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when the file is missing or not one."""
    try:
        return _io.read_json(path, "file")
    except (OSError, ValueError):
        return None


def write_report(
    run_dir: str | os.PathLike,
    *,
    history: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    results: RunResults | None = None,
    live: tuple[int, int] | None = None,
    data: str | None = None,
    status: str = "Finished.",
    refresh_seconds: int = LIVE_REFRESH_SECONDS,
) -> Path:
    """Write ``run_dir/report.html`` atomically and return its path.

    history: the run's curves (:func:`twolayer.history.history_from_solver`).
    config: the settings to list; default: ``run_dir/config.json`` if readable.
    results: the evaluation of a finished run; its headline numbers also go to
      ``run_dir/results.json`` (for comparison pages).
    live: ``(epoch, total_epochs)`` while training: the page says "epoch k of N"
      and reloads every ``refresh_seconds``; None (the default) writes the final
      page, which does not reload.
    data: one line saying what the run trained on, e.g. "CIFAR-10, 49000 train".
    status: what the final page says of the run, e.g. "Interrupted after epoch 3 of
      10; resume with --resume".
    """
    run_dir = Path(run_dir)
    if config is None:
        config = read_json(run_dir / CONFIG_FILE) or {}
    summary = None
    if results is not None:
        atomic_write_json(run_dir / RESULTS_JSON, results_summary(results))
    else:
        summary = read_json(run_dir / RESULTS_JSON) if live is None else None
    files = [f for f in LINKED_FILES if (run_dir / f).is_file()]
    html = render_report(
        run_dir.name, history, config, results, live=live, data=data, files=files,
        summary=summary, status=status, refresh_seconds=refresh_seconds,
    )  # fmt: skip
    return atomic_write_text(run_dir / REPORT_HTML, html)


def live_report_callback(
    run_dir: str | os.PathLike,
    *,
    total_epochs: int | None = None,
    data: str | None = None,
    config: Mapping[str, Any] | None = None,
    refresh_seconds: int = LIVE_REFRESH_SECONDS,
    min_seconds: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Any], None]:
    """A Solver ``on_epoch_end`` callback keeping a run directory current as it trains.

    It rewrites ``history.json`` and ``history.csv`` and a live ``report.html``
    ("epoch k of N", reloading), each atomically, so a run that is killed keeps
    its curves up to the last epoch written: after the first epoch, then after
    every epoch ending ``min_seconds`` (by ``clock``) or more after the last write
    (0: every epoch). N is ``total_epochs``, default the solver's ``num_epochs``.
    """
    run_dir = Path(run_dir)
    last_write: list[float] = []

    def on_epoch_end(solver: Any) -> None:
        now = clock()
        if last_write and now - last_write[0] < min_seconds:
            return
        last_write[:] = [now]
        save_history(run_dir, solver)
        total = total_epochs if total_epochs is not None else int(solver.num_epochs)
        write_report(
            run_dir, history=history_from_solver(solver), config=config,
            live=(int(solver.epoch), total), data=data, refresh_seconds=refresh_seconds,
        )  # fmt: skip

    return on_epoch_end
