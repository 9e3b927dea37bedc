"""Hyperparameter search: run many seeded trials in parallel and keep every result on disk.

    from twolayer.search.trials import best_result, run_search, write_best
    from twolayer.search.space import build_space, make_spec, trial_config

    spec = make_spec("spiral", build_space("spiral", {"lr": "1e-3:1e-1"}), trials=20, seed=0)
    rows = run_search(spec, "searches/spiral")      # resumable: rerun to continue
    config = trial_config(spec, best_result(rows))  # the best trial's RunConfig
    write_best("searches/spiral", spec, rows)       # best_config.json, best_command.txt

A search directory holds ``search.json`` (the spec; resuming with another one is
refused), ``trials.csv`` (one row per finished trial, appended and fsynced as each
finishes) and ``trials/<index>.json`` (each trial's training curves, as in
:mod:`twolayer.runs`). A trial is a RunConfig (:func:`trial_config`), trained as
`twolayer train` trains it (:meth:`twolayer.Classifier.begin_fit`), on the user's data
too. Trials run on any ``concurrent.futures.Executor``: by default a local pool of
spawned processes with one BLAS thread each, or, given a scheduler address, an
existing Dask cluster (the ``dask`` extra, imported only then); see
:mod:`twolayer.search.executors`. Workers only compute and return results; the
process that runs the search writes every file, so cluster workers need no shared
filesystem — only the data, for CIFAR-10 and the user's files.

This module never imports matplotlib or dask unless asked to.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm.std import tqdm  # not tqdm.auto, which warns in a notebook without ipywidgets

from twolayer._io import atomic_write, atomic_write_json, atomic_write_text, read_json, sweep_stale
from twolayer._lock import LOCK_FILE, lock_folder
from twolayer.classifier import Classifier
from twolayer.config import DATASET_FIELDS, RunConfig
from twolayer.fast.threads import available_cores
from twolayer.history import epoch_table, history_from_solver
from twolayer.rundata import load_data
from twolayer.runs import save_run_config
from twolayer.search.executors import WorkerDeath, require_dask, run_trials
from twolayer.search.space import (
    PARAMS,
    Trial,
    base_config,
    parse_value,
    train_command,
    trial_config,
    trial_maker,
)
from twolayer.solver import DivergenceError

SEARCH_JSON = "search.json"
TRIALS_CSV = "trials.csv"
TRIALS_DIR = "trials"
BEST_COMMAND = "best_command.txt"
BEST_CONFIG = "best_config.json"
STATUSES = ("ok", "diverged", "failed")
RESULT_COLUMNS = (
    "index", "status", "val_acc", "train_loss", "val_loss", "seconds", "seed", *PARAMS,
    "error", "finished_at", "worker",
)  # fmt: skip
_FLOAT_COLUMNS = ("val_acc", "train_loss", "val_loss", "seconds")


# -- the search directory ------------------------------------------------------------------


def open_search_dir(out: str | os.PathLike, spec: dict[str, Any]) -> Path:
    """Check that the search in ``out`` (an existing folder) is this one, then save the spec.

    Random trials depend only on their index, so a random search may be resumed
    with a different number of trials; anything else that differs is refused.
    """
    out = Path(out)
    path = out / SEARCH_JSON
    if path.is_file():
        saved = read_json(path, "search spec")
        if "schedule" in saved.get("space", {}):
            raise ValueError(
                f"{out} holds a search made by twolayer 0.3, whose trials named the schedule "
                "'schedule' (now lr_schedule, as the run setting): its trials.csv is kept, "
                "but it cannot be resumed; start the search again in a new --out"
            )
        ignore = {"trials"} if spec["search"] == "random" else set()
        keys = (set(spec) | set(saved)) - ignore
        differ = sorted(k for k in keys if saved.get(k) != spec.get(k))
        if differ:
            detail = "; ".join(f"{k}: was {saved.get(k)}, now {spec.get(k)}" for k in differ)
            raise ValueError(
                f"{out} holds a different search ({detail}); rerun with its original "
                f"settings to resume it, or pick a new --out"
            )
    elif any(p.name != LOCK_FILE for p in out.iterdir()):
        raise ValueError(f"{out} is not empty and has no {SEARCH_JSON}: it is not a search")
    atomic_write_json(path, spec)
    return out


# -- one trial (runs in a worker) ----------------------------------------------------------

_DATA_CACHE: dict[tuple, dict[str, np.ndarray]] = {}
_DATA_LOCK = threading.Lock()  # a Dask worker may run several trials in threads


def _load_data(config: RunConfig) -> dict[str, np.ndarray]:
    """The trial data, loaded once per worker process and reused by its later trials.

    CIFAR-10 is prepared as `twolayer train cifar10` prepares it, so the best trial
    reruns exactly; it is never downloaded here (workers would race to it): missing
    data stops the search.
    """
    key = (config.dataset, *(getattr(config, f) for f in DATASET_FIELDS[config.dataset]))
    with _DATA_LOCK:
        if key not in _DATA_CACHE:
            # One entry only: a long-lived cluster worker serving one search after
            # another should not keep every dataset it ever saw.
            _DATA_CACHE.clear()
            _DATA_CACHE[key] = load_data(config, test=False)[0]
        return _DATA_CACHE[key]


def run_trial(spec: dict[str, Any], trial: Trial, data_dir: str = "data") -> dict[str, Any]:
    """Train one trial; returns ``{"row": <trials.csv row>, "history": dict | None}``.

    A diverging or failing trial is a result (status "diverged" or "failed" with its
    error), not an exception. Errors loading the data do raise: they would fail
    every trial, so the search stops on them.
    """
    data = _load_data(base_config(spec, data_dir))
    start = time.perf_counter()
    solver, status, error = None, "ok", ""
    try:
        # Diverging runs overflow; their warnings would only garble the progress bar.
        with np.errstate(all="ignore"):  # thread-local, unlike the warnings filters
            config = trial_config(spec, trial, data_dir)
            clf = Classifier.from_config(config)
            solver = clf.begin_fit(config, data, None, verbose=False)  # the data comes processed
            solver.train()
    except DivergenceError as e:
        status, error = "diverged", str(e)
    except Exception as e:  # any bug in one configuration must not end the whole search
        status, error = "failed", f"{type(e).__name__}: {e}"
    history = None if solver is None else history_from_solver(solver)
    table = epoch_table(history) if history and history["val_acc_history"] else None
    row = {
        **{k: trial[k] for k in ("index", "seed", *PARAMS)},
        "status": status,
        "val_acc": 0.0 if solver is None else float(solver.best_val_acc),
        "train_loss": table["train_loss"][-1] if table else math.nan,
        "val_loss": table["val_loss"][-1] if table else math.nan,
        "seconds": round(time.perf_counter() - start, 3),
        "error": " ".join(error.split()),
        "finished_at": datetime.now().isoformat(timespec="microseconds"),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    return {"row": row, "history": history}


# -- the search ----------------------------------------------------------------------------


def _repair(path: Path) -> None:
    """Drop a half-written last line (left if the search was killed mid-append) and
    restore a damaged header, so that the rows under it count."""
    if not path.is_file():
        return
    data = path.read_bytes()
    text = data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    header = ",".join(RESULT_COLUMNS) + "\n"
    if lines and lines[0] != header:
        first = next(csv.reader(lines[:1]), [])
        is_row = len(first) == len(RESULT_COLUMNS) and first[0].isdigit()
        lines = [header, *lines] if is_row else [header, *lines[1:]]
    repaired = "".join(lines).encode("utf-8")
    if repaired != data:
        atomic_write(path, lambda f: f.write(repaired))


def load_results(out: str | os.PathLike, spec: dict[str, Any] | None = None) -> list[dict]:
    """The rows of ``out/trials.csv``, typed, the last one per trial index, by index.

    With ``spec``, rows of trials beyond it (a random search resumed with fewer trials)
    are left out, and the others must match the spec's trial of their index in every
    setting: a row that does not means trials.csv belongs to another search (ValueError).
    """
    path = Path(out) / TRIALS_CSV
    if not path.is_file():
        return []
    maker = trial_maker(spec) if spec is not None else None
    rows: dict[int, dict] = {}
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for raw in csv.DictReader(f):
            if None in raw:  # more fields than columns: not a row this module wrote
                continue
            try:
                row = {
                    **raw,
                    "index": int(raw["index"]),
                    "seed": int(raw["seed"]),
                    **{k: parse_value(k, raw[k]) for k in PARAMS},
                    **{k: float(raw[k]) for k in _FLOAT_COLUMNS},
                }
            except (TypeError, ValueError, KeyError):
                continue  # a damaged line: that trial simply runs again
            if row["status"] not in STATUSES or row["index"] < 0:
                continue
            if maker is not None:
                n, make = maker
                if row["index"] >= n:
                    continue  # beyond a shortened random search: kept in the file, not used
                trial = make(row["index"])
                if any(row[k] != trial[k] for k in ("seed", *PARAMS)):
                    raise ValueError(
                        f"{path}: trial {row['index']} has settings that this search would not "
                        "generate; trials.csv belongs to another search"
                    )
            rows[row["index"]] = row
    return [rows[i] for i in sorted(rows)]


def _append_row(path: Path, row: dict[str, Any]) -> None:
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, RESULT_COLUMNS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow({k: str(row[k]) for k in RESULT_COLUMNS})
        f.flush()
        os.fsync(f.fileno())  # a result survives even a power cut the moment it is logged


def _best_acc(rows: Iterable[dict]) -> float:
    return max((r["val_acc"] for r in rows if r["status"] == "ok"), default=math.nan)


def _death_row(trial: Trial, death: WorkerDeath) -> dict[str, Any]:
    """The trials.csv row of a trial whose worker process died each time it ran it."""
    return {
        **{k: trial[k] for k in ("index", "seed", *PARAMS)},
        "status": "failed",
        "val_acc": 0.0,
        "train_loss": math.nan,
        "val_loss": math.nan,
        "seconds": 0.0,
        "error": death.message,
        "finished_at": datetime.now().isoformat(timespec="microseconds"),
        "worker": "",
    }


def _record(out: Path, rows: dict[int, dict], trial: Trial, outcome: Any) -> dict[str, Any]:
    """Log a trial's outcome: its curves in trials/<index>.json, its row in trials.csv."""
    if isinstance(outcome, WorkerDeath):
        row = _death_row(trial, outcome)
    else:
        row = outcome["row"]
        if outcome["history"] is not None:
            atomic_write_json(out / TRIALS_DIR / f"{row['index']}.json", outcome["history"])
    _append_row(out / TRIALS_CSV, row)
    rows[row["index"]] = row
    return row


def run_search(
    spec: dict[str, Any],
    out: str | os.PathLike,
    *,
    data_dir: str | os.PathLike = "data",
    workers: int | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    progress: bool = True,
) -> list[dict]:
    """Run the spec's unfinished trials; returns every trial's row, by index.

    Trials run on ``executor`` if given, else on the Dask cluster at ``scheduler``,
    else on a local process pool (:func:`twolayer.search.executors.run_trials`). Each
    result is logged as soon as it arrives, so an interrupted search loses only
    running trials; rerunning with the same ``out`` continues it. A lock keeps a
    second search out of ``out`` meanwhile (FolderInUseError).
    """
    if scheduler is not None and executor is None:
        require_dask(scheduler)  # before anything is written
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    with lock_folder(out, "search"):
        for folder in (out, out / TRIALS_DIR):
            if folder.is_dir():
                sweep_stale(folder)
        fresh = not (out / SEARCH_JSON).is_file()
        open_search_dir(out, spec)
        _repair(out / TRIALS_CSV)
        rows = {r["index"]: r for r in load_results(out, spec)}
        n, make = trial_maker(spec)
        todo = n - len(rows)
        bar = tqdm(total=n, initial=len(rows), desc="trials", unit="trial", disable=not progress)
        if rows:
            bar.set_postfix(best=f"{_best_acc(rows.values()):.4f}")
        try:
            # No more processes than trials; none at all when resuming a finished search.
            outcomes = run_trials(
                partial(run_trial, spec, data_dir=os.fspath(data_dir)),
                (make(i) for i in range(n) if i not in rows),
                workers=min(workers or available_cores(), todo),
                scheduler=scheduler,
                executor=executor,
            )
            for trial, outcome in outcomes if todo else ():
                row = _record(out, rows, trial, outcome)
                if row["status"] != "ok":
                    bar.write(f"trial {row['index']} {row['status']}: {row['error'][:200]}")
                bar.set_postfix(best=f"{_best_acc(rows.values()):.4f}", refresh=False)
                bar.update()
        except ChildProcessError as e:
            raise ChildProcessError(
                f"{e} The finished trials are saved in {out / TRIALS_CSV}: rerun the same "
                "command to resume"
            ) from e
        except BaseException:
            if fresh and not rows:  # a start that failed must not block a corrected command
                (out / SEARCH_JSON).unlink(missing_ok=True)
                if made:  # under the lock, as a run directory made for nothing goes again
                    shutil.rmtree(out, ignore_errors=True)
            raise
        finally:
            bar.close()
    return [rows[i] for i in sorted(rows)]


# -- reporting -----------------------------------------------------------------------------


Row = TypeVar("Row", bound=Mapping[str, Any])


def best_result(rows: Sequence[Row]) -> Row | None:
    """The "ok" row with the highest val_acc (the lowest index among ties), or None."""
    ok = [r for r in rows if r["status"] == "ok"]
    return max(ok, key=lambda r: (r["val_acc"], -r["index"]), default=None)


def write_best(
    out: str | os.PathLike, spec: dict[str, Any], rows: Sequence[dict], data_dir: str = "data"
) -> tuple[dict, str] | None:
    """Write the best trial's run to ``out/best_config.json`` and its `twolayer train`
    command to ``out/best_command.txt``; returns the trial's row and the command, or
    None if no trial is ok."""
    best = best_result(rows)
    if best is None:
        return None
    info = {"trial": best["index"], "val_acc": best["val_acc"]}
    save_run_config(out, trial_config(spec, best, data_dir), name=BEST_CONFIG, search=info)
    command = train_command(spec, best, data_dir)
    atomic_write_text(Path(out) / BEST_COMMAND, command + "\n")
    return best, command


def format_table(rows: Sequence[dict], top: int = 10) -> str:
    """The ``top`` ok trials by val_acc as a text table; settings that never vary go on top."""
    ok = sorted((r for r in rows if r["status"] == "ok"), key=lambda r: (-r["val_acc"], r["index"]))
    fixed = [p for p in PARAMS if len({str(r[p]) for r in rows}) == 1]
    columns = ["index", "val_acc", "train_loss", "val_loss", *(p for p in PARAMS if p not in fixed)]
    columns.append("seconds")
    lines = []
    if rows and fixed:
        lines.append("fixed: " + ", ".join(f"{p}={rows[0][p]}" for p in fixed))
    cells = [[_format_cell(r[c]) for c in columns] for r in ok[:top]]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    lines.append("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    lines += ["  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)) for line in cells]
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    lines.append(
        f"{len(rows)} trials: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + (f" (top {min(top, len(ok))} of the ok ones shown)" if ok else "")
    )
    return "\n".join(lines)


def _format_cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
