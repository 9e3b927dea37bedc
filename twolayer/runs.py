"""Run directories: one folder per training run holding its settings, history and outputs.

    with claim_run_dir("spiral") as run_dir:   # runs/spiral-20250101-120000, locked
        save_run_config(run_dir, config)       # config.json: {"run": ..., "version": ...}
        save_status(run_dir, "running")        # status.json: how the run stands
        solver.train()
        save_history(run_dir, solver)          # history.json + history.csv
    history = load_history(run_dir)            # what twolayer.plots draws from
    config = load_run_config(run_dir)          # the RunConfig, to rerun it exactly

A run directory belongs to one run: a new run refuses a folder that holds anything
(unless told to clear it first), and a lock keeps a second process out while a run
trains or resumes in it (:mod:`twolayer._lock`), so its config, checkpoints and model
always come from the same run. What processes killed mid-write left is swept when a
run claims the folder. Claiming writes the marker file ``.twolayer-run`` first: only
a folder with that marker, holding nothing but what a run writes (:data:`RUN_FILES`),
is ever cleared, so ``overwrite`` can never delete a project that happens to hold a
``config.json``.

A history is a plain dict (JSON-safe) with the solver's curves: ``loss_history``
and ``lr_history`` (one value per iteration), ``train_acc_history``,
``val_acc_history``, ``val_loss_history`` and ``epoch_time_history`` (one value
per epoch), ``best_val_acc``, ``best_epoch`` and ``iterations_per_epoch``.
Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import twolayer
from twolayer import checkpoint as checkpoints
from twolayer._io import (
    atomic_write_json,
    atomic_write_text,
    read_json,
    reading,
    sweep_stale,
)
from twolayer._lock import LOCK_FILE, RUN_MARKER, lock_folder
from twolayer.config import RunConfig
from twolayer.history import CSV_COLUMNS, HISTORY_KEYS, epoch_table, history_from_solver

CONFIG_FILE = "config.json"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"
STATUS_FILE = "status.json"
CHECKPOINT = "checkpoint"  # run_dir/checkpoint_epoch_<k>.npz, checkpoint_interrupted.npz
#: The checkpoint that lets a run stopped after its last epoch be finished (:func:`finishing`).
FINISHING_CHECKPOINT = f".{CHECKPOINT}_finishing.npz"
#: What status.json may say: the run trains (or was killed while it did), was stopped
#: by Ctrl-C or SIGTERM and can resume, diverged, or finished.
STATES = ("running", "interrupted", "diverged", "finished")
#: Every name a run writes into its folder (patterns as fnmatch reads them): clearing
#: a run directory for a new run removes these and refuses a folder with anything else.
RUN_FILES = (
    RUN_MARKER, LOCK_FILE, ".*.tmp", FINISHING_CHECKPOINT, CONFIG_FILE, STATUS_FILE,
    HISTORY_JSON, HISTORY_CSV, "model.npz", "preprocess.npz", "results.json", "report.html",
    f"{CHECKPOINT}_*.npz", "loss.png", "accuracy.png", "lr.png", "decision_boundary.png",
    "confusion.png", "weights.png", "final_state.npz",
)  # fmt: skip


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


def _contents(path: Path) -> list[Path]:
    """What a run directory holds: its lock file, marker and what dead processes left aside
    (swept only in a folder with the marker: other folders' temporary files are not ours)."""
    if (path / RUN_MARKER).is_file():
        sweep_stale(path)
    return sorted(p for p in path.iterdir() if p.name not in (LOCK_FILE, RUN_MARKER))


def _check_claimable(path: Path, overwrite: bool) -> list[Path]:
    """What ``path`` holds, raising ValueError unless a new run may take it."""
    held = _contents(path)
    if held and not overwrite:
        names = ", ".join(p.name for p in held[:4]) + (", ..." if len(held) > 4 else "")
        raise ValueError(
            f"{path} already holds {names}: a run directory is for one run. Pick "
            f"another --out, resume that run with --resume {path}, or add "
            "--overwrite to delete what it holds first"
        )
    if held:
        check_clearable(path, held)
    return held


def is_run_file(path: Path) -> bool:
    """Whether ``path`` is a file a run writes into its folder (:data:`RUN_FILES`)."""
    kept = path.is_file() or path.is_symlink() or path.name.endswith(".tmp")
    return kept and any(fnmatch(path.name, pattern) for pattern in RUN_FILES)


def check_clearable(path: Path, held: list[Path]) -> None:
    """Raise ValueError unless ``path`` is provably a twolayer run directory: its marker,
    and nothing in ``held`` that a run does not write."""
    if not (path / RUN_MARKER).is_file():
        raise ValueError(
            f"{path} is not empty and not a run directory (it has no {RUN_MARKER}, the "
            "marker every twolayer run writes first); --overwrite clears only run "
            "directories: pick another --out, or empty the folder yourself"
        )
    foreign = [p.name + ("/" if p.is_dir() else "") for p in held if not is_run_file(p)]
    if foreign:
        names = ", ".join(foreign[:4]) + (", ..." if len(foreign) > 4 else "")
        raise ValueError(
            f"{path} holds {names}, which no run writes; --overwrite clears only what a run "
            "wrote: move those away or pick another --out"
        )


def clear_run_dir(path: Path, held: list[Path]) -> None:
    """Delete what a run wrote (``held``, checked by :func:`check_clearable`)."""
    for p in held:
        if p.is_dir() and not p.is_symlink():  # a dead writer's temporary folder
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


@contextmanager
def claim_run_dir(
    dataset: str,
    out: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    root: str | os.PathLike = "runs",
) -> Iterator[Path]:
    """A run directory for a new run (as :func:`new_run_dir`), locked for the ``with`` block.

    An ``out`` that holds anything is refused, unless ``overwrite``, which clears it
    first (only a run directory: see :func:`check_clearable`). The marker
    :data:`RUN_MARKER` is written before the block runs. Raises FolderInUseError if
    another process holds it. If the block fails before anything but the marker was
    written into a folder made for it, the folder goes again.
    """
    # The folders this call creates (the run's, and parents such as runs/), to remove
    # again if the run fails before writing anything.
    start = Path(root) if out is None else Path(out)
    missing = [d for d in (start, *start.parents) if not d.exists()]
    path = new_run_dir(dataset, out, root)
    created = out is None or bool(missing)
    if not created:  # refused before the lock, so a folder that is no run gets no .lock
        _check_claimable(path, overwrite)
    with lock_folder(path, "run"):
        try:
            held = _check_claimable(path, overwrite)  # again: under the lock, it is sure
            clear_run_dir(path, held)
            atomic_write_json(path / RUN_MARKER, {"twolayer": twolayer.__version__})
            yield path
        except BaseException:
            # Under the lock: a folder made for this run and still empty goes again.
            if created and not _contents(path):
                shutil.rmtree(path, ignore_errors=True)
                for folder in missing:  # deepest first; only while empty
                    with suppress(OSError):
                        folder.rmdir()
            raise


@contextmanager
def resume_run_dir(path: str | os.PathLike) -> Iterator[Path]:
    """The run directory ``path``, checked and locked for the ``with`` block."""
    path = check_run_dir(path)
    with lock_folder(path, "run"):
        sweep_stale(path)
        yield path


def check_out_file(
    out: str | os.PathLike,
    inputs: Iterable[str | os.PathLike] = (),
    suffixes: tuple[str, ...] = (),
) -> Path:
    """``out``, a file a command is to write, checked before any work: ValueError if it
    is one of ``inputs`` (or inside one of them, a run directory), a file of a run
    directory (its model.npz, config.json, ...: :data:`RUN_FILES`), not named with one
    of ``suffixes`` (when given), or in a folder that does not exist (which is never
    created: a mistyped path must not make folders, at / or elsewhere)."""
    out = Path(out)
    target = out.resolve()
    for given in inputs:
        source = Path(given).resolve()
        if target == source or source in target.parents:
            raise ValueError(f"--out {out} would overwrite the input {given}: pick another name")
    if (target.parent / RUN_MARKER).is_file() or (target.parent / CONFIG_FILE).is_file():
        if any(fnmatch(out.name, pattern) for pattern in RUN_FILES):
            raise ValueError(
                f"--out {out} would replace the {out.name} of the run in {out.parent}: "
                "pick another name"
            )
    if suffixes and out.suffix.lower() not in suffixes:
        raise ValueError(f"--out {out} must end in {' or '.join(suffixes)}: that is what it writes")
    if not target.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {out.parent} does not exist; create it first")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name")
    return out


def save_config(
    run_dir: str | os.PathLike, config: dict[str, Any], *, name: str = CONFIG_FILE
) -> Path:
    """Write ``config`` plus ``version`` (twolayer's) to ``run_dir/config.json`` (or ``name``)."""
    return atomic_write_json(Path(run_dir) / name, {**config, "version": twolayer.__version__})


def load_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Everything a run's config.json holds (the RunConfig: :func:`load_run_config`)."""
    return read_json(check_run_dir(run_dir) / CONFIG_FILE, "run config")


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
    saved = read_json(path, "run config")
    if not isinstance(saved.get("run"), dict):
        raise ValueError(f'{path} has no "run" settings: not a twolayer run config')
    try:
        return RunConfig.from_dict(saved["run"])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def checkpoint_step(path: str | os.PathLike) -> int:
    """The training step (iterations done) a Solver checkpoint was taken at."""
    tree = checkpoints.load_meta(path)
    with reading(path, "checkpoint"):
        step = tree["state"]["t"]
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"its step is {step!r}")
    return step


def latest_checkpoint(run_dir: str | os.PathLike) -> Path:
    """The run's checkpoint with the most steps done: an interrupted run's, or the newest
    epoch's (an interrupted-run checkpoint left by an earlier stop can be older).

    A damaged checkpoint is skipped, with a warning, when another one is readable.
    """
    run_dir = Path(run_dir)
    found = [run_dir / f"{CHECKPOINT}_interrupted.npz", run_dir / FINISHING_CHECKPOINT]
    found += run_dir.glob(f"{CHECKPOINT}_epoch_*.npz")
    steps, damaged = {}, []
    for path in found:
        if path.is_file():
            try:
                steps[path] = checkpoint_step(path)
            except ValueError as e:
                damaged.append(str(e))
    if not steps:
        if damaged:
            raise ValueError(damaged[0])
        if load_status(run_dir)["state"] == "finished":
            raise ValueError(
                f"{run_dir} has finished, and a run on rows of numbers keeps no checkpoint "
                f"to train further from; to train longer, start it again: twolayer train "
                f"--config {run_dir / CONFIG_FILE} --out NEW_DIR --epochs N"
            )
        raise ValueError(
            f"{run_dir} has no checkpoint to resume from: the run stopped before writing one "
            f"(the spiral writes one only when interrupted). Start it again with: twolayer "
            f"train --config {run_dir / CONFIG_FILE} --out {run_dir} --overwrite"
        )
    for message in damaged:
        print(f"warning: skipped a damaged checkpoint: {message}", file=sys.stderr)
    return max(steps, key=lambda p: steps[p])


def save_status(run_dir: str | os.PathLike, state: str, **info: Any) -> Path:
    """Write ``run_dir/status.json``: ``state`` (one of :data:`STATES`), the pid and ``info``."""
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, got {state!r}")
    return atomic_write_json(
        Path(run_dir) / STATUS_FILE, {"state": state, "pid": os.getpid(), **info}
    )


def load_status(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What status.json says of the run; ``{"state": "finished"}`` for runs from before it."""
    path = Path(run_dir) / STATUS_FILE
    if not path.is_file():
        return {"state": "finished"}
    status = read_json(path, "run status")
    if status.get("state") not in STATES:
        raise ValueError(f"{path} is damaged: its state is {status.get('state')!r}")
    return status


def partial_note(run_dir: str | os.PathLike) -> str | None:
    """A line saying that ``run_dir`` holds an unfinished run, or None if it finished."""
    status = load_status(run_dir)
    if status["state"] == "finished":
        return None
    done = f" after epoch {status['epoch']} of {status['epochs']}" if "epoch" in status else ""
    how = {"running": "is training, or was killed", "interrupted": "was interrupted"}
    said = how.get(status["state"], status["state"])
    return f"note: the run in {run_dir} {said}{done}; it is not a finished run"


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
    return write_history(run_dir, history_from_solver(solver))


def write_history(run_dir: str | os.PathLike, history: dict[str, Any]) -> tuple[Path, Path]:
    """Write a history dict to ``history.json`` and its per-epoch rows to ``history.csv``."""
    run_dir = Path(run_dir)
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
    return check_history(read_json(path, "history"), path)


def check_history(history: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """``history`` if it has every curve as a list of numbers; ValueError naming ``path``."""
    missing = [k for k in (*HISTORY_KEYS, "iterations_per_epoch") if k not in history]
    if missing:
        raise ValueError(f"{path} is not a twolayer history (missing {', '.join(missing)})")
    for key in HISTORY_KEYS:
        values = history[key]
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            raise ValueError(f"{path} is damaged: {key} is not a list of numbers")
    per_epoch = history["iterations_per_epoch"]
    if not _is_number(per_epoch) or per_epoch != int(per_epoch) or per_epoch < 1:
        raise ValueError(f"{path} is damaged: iterations_per_epoch is {per_epoch!r}")
    # One value per epoch in each per-epoch curve, one per step in the others.
    epochs = len(history["val_acc_history"])
    for key in ("train_acc_history", "val_loss_history", "epoch_time_history"):
        if len(history[key]) != epochs:
            raise ValueError(
                f"{path} is damaged: {key} has {len(history[key])} values for {epochs} epochs"
            )
    if len(history["lr_history"]) != len(history["loss_history"]):
        raise ValueError(
            f"{path} is damaged: {len(history['lr_history'])} learning rates for "
            f"{len(history['loss_history'])} steps"
        )
    for key in ("best_val_acc", "best_epoch"):
        if key in history and not _is_number(history[key]):
            raise ValueError(f"{path} is damaged: {key} is {history[key]!r}")
    return history


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
