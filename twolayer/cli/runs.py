"""Run directories: one folder per training run holding its settings, history and outputs.

    run_dir = new_run_dir("spiral")            # runs/spiral-20250101-120000
    save_run_config(run_dir, config)           # config.json: {"run": ..., "version": ...}
    solver.train()
    save_history(run_dir, solver)              # history.json + history.csv
    history = load_history(run_dir)            # what twolayer.plots draws from
    config = load_run_config(run_dir)          # the RunConfig, to rerun it exactly

A history is a plain dict (JSON-safe) with the solver's curves: ``loss_history``
and ``lr_history`` (one value per iteration), ``train_acc_history``,
``val_acc_history``, ``val_loss_history`` and ``epoch_time_history`` (one value
per epoch), ``best_val_acc``, ``best_epoch`` and ``iterations_per_epoch``.
Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import twolayer
from twolayer._io import atomic_write_json, atomic_write_text
from twolayer.config import RunConfig
from twolayer.history import CSV_COLUMNS, HISTORY_KEYS, epoch_table, history_from_solver

CONFIG_FILE = "config.json"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"
CHECKPOINT = "checkpoint"  # run_dir/checkpoint_epoch_<k>.npz, checkpoint_interrupted.npz


def new_run_dir(
    dataset: str, out: str | os.PathLike | None = None, root: str | os.PathLike = "runs"
) -> Path:
    """Create and return a fresh run directory.

    ``out`` is used verbatim when given (it may already exist, e.g. to rerun into
    it). Otherwise ``<root>/<dataset>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``, ...
    appended when two runs start in the same second.
    """
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise ValueError(f"run directory {path} exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        return path
    stem = f"{dataset}-{datetime.now():%Y%m%d-%H%M%S}"
    Path(root).mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = Path(root) / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir()  # exist_ok=False: claiming the name is atomic
        except FileExistsError:
            continue
        return path
    raise OSError(f"could not find a free run directory name for {Path(root) / stem}")


def save_config(
    run_dir: str | os.PathLike, config: dict[str, Any], *, name: str = CONFIG_FILE
) -> Path:
    """Write ``config`` plus ``version`` (twolayer's) to ``run_dir/config.json`` (or ``name``)."""
    return atomic_write_json(Path(run_dir) / name, {**config, "version": twolayer.__version__})


def load_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Everything a run's config.json holds (the RunConfig: :func:`load_run_config`)."""
    return _read_json(check_run_dir(run_dir) / CONFIG_FILE)


def save_run_config(
    directory: str | os.PathLike, config: RunConfig, *, name: str = CONFIG_FILE, **info: Any
) -> Path:
    """Write ``directory/name`` (config.json): ``{"run": config.to_dict(), "version": ...}``
    plus the informational keys ``info``; ``twolayer train --config`` reruns it exactly."""
    return save_config(directory, {"run": config.to_dict(), **info}, name=name)


def load_run_config(path: str | os.PathLike) -> RunConfig:
    """The RunConfig in a ``config.json`` (or a run directory's), as :func:`save_run_config`
    wrote it; raises ValueError saying what is wrong with the file."""
    path = Path(path)
    if path.is_dir():
        path = check_run_dir(path) / CONFIG_FILE
    saved = _read_json(path)
    if not isinstance(saved.get("run"), dict):
        raise ValueError(f'{path} has no "run" settings: not a twolayer run config')
    try:
        return RunConfig.from_dict(saved["run"])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def latest_checkpoint(run_dir: str | os.PathLike) -> Path:
    """The interrupted-run checkpoint if there is one, else the newest epoch checkpoint."""
    run_dir = Path(run_dir)
    interrupted = run_dir / f"{CHECKPOINT}_interrupted.npz"
    if interrupted.is_file():
        return interrupted
    epochs = sorted(
        run_dir.glob(f"{CHECKPOINT}_epoch_*.npz"), key=lambda p: int(p.stem.rsplit("_", 1)[1])
    )
    if not epochs:
        raise ValueError(f"{run_dir} has no checkpoint to resume from")
    return epochs[-1]


def check_run_dir(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path, raising ValueError unless it is a run directory."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path} is not a run directory (no such directory)")
    if not (path / CONFIG_FILE).is_file():
        raise ValueError(f"{path} is not a run directory (it has no {CONFIG_FILE})")
    return path


def save_history(run_dir: str | os.PathLike, solver: Any) -> tuple[Path, Path]:
    """Write the solver's curves to ``history.json`` and per-epoch rows to ``history.csv``."""
    run_dir = Path(run_dir)
    history = history_from_solver(solver)
    table = epoch_table(history)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(zip(*(table[c] for c in CSV_COLUMNS), strict=True))
    return (
        atomic_write_json(run_dir / HISTORY_JSON, history),
        atomic_write_text(run_dir / HISTORY_CSV, buf.getvalue()),
    )


def load_history(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The history dict written by :func:`save_history`."""
    path = check_run_dir(run_dir) / HISTORY_JSON
    if not path.is_file():
        raise ValueError(f"{run_dir} has no {HISTORY_JSON}; did its training finish?")
    history = _read_json(path)
    missing = [k for k in (*HISTORY_KEYS, "iterations_per_epoch") if k not in history]
    if missing:
        raise ValueError(f"{path} is not a twolayer history (missing {', '.join(missing)})")
    return history


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold a JSON object, got {type(data).__name__}")
    return data
