"""A training run in its run directory: what `twolayer train` does between parsing and printing.

    clf = Classifier.from_config(config)
    with claim_run_dir(config.dataset, "runs/mine") as run_dir:
        data, prep = load_run_data(config)
        check_memory(config, data)
        solver = start_run(clf, run_dir, config, data, prep)   # config.json, preprocess.npz
        train_run(run_dir, solver)                              # status.json, history
        clf.end_fit(solver)
        ...                                                     # model.npz, report
        finish_run(run_dir, solver)                             # final_state.npz

A resumed run (``resume_dir``, ``resuming``) keeps the preprocessing it was fitted
with and continues from its newest checkpoint, so that it ends as the uninterrupted
run would have, bit for bit; a finished one (trained further: more epochs) from its
final state (:mod:`twolayer.final_state`), which stands for its last checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from twolayer._io import atomic_savez
from twolayer._memory import check_training_fits
from twolayer.classifier import Classifier
from twolayer.config import OWN_DATA, RunConfig, num_classes
from twolayer.final_state import FINAL_STATE, load_final_state, save_final_state
from twolayer.preprocess import Preprocessor
from twolayer.resume import (
    FINGERPRINT_KEY,
    check_resumable,
    check_same_data,
    epoch_status,
)
from twolayer.rundata import load_data
from twolayer.runfiles import MODEL_FILE, PREP_FILE, load_preprocessing
from twolayer.runs import (
    CHECKPOINT,
    CONFIG_FILE,
    latest_checkpoint,
    load_status,
    save_history,
    save_run_config,
    save_status,
)
from twolayer.solver import DivergenceError, Solver

#: Settings that may change when a run is resumed: where the data is (not what it is),
#: and how many epochs it runs for (to train it further).
RESUMABLE = ("data_dir", "data", "epochs")


def load_run_data(
    config: RunConfig,
    resume_dir: Path | None = None,
    *,
    download: bool = False,
    skip_md5: bool = False,
    progress: bool = False,
    cache: bool = True,
) -> tuple[dict[str, Any], Preprocessor | None]:
    """The run's data (:func:`twolayer.rundata.load_data`); a resumed run (``resume_dir``)
    keeps the preprocessing it was fitted with."""
    prep = None
    if resume_dir is not None and config.dataset != "spiral":
        prep = load_preprocessing(resume_dir)
    return load_data(
        config, prep=prep, download=download, skip_md5=skip_md5, progress=progress, cache=cache
    )


def is_images(data: dict[str, Any]) -> bool:
    """Whether the processed data holds images (N, C, H, W) rather than rows of numbers."""
    return data["X_train"].ndim == 4


def check_memory(config: RunConfig, data: dict[str, Any]) -> None:
    """Refuse, with an estimate, a net too large for the memory left beside the data."""
    check_training_fits(
        int(np.prod(np.shape(data["X_train"])[1:])),
        config.hidden,
        num_classes(data),
        config.batch_size,
        optimizer=config.optimizer,
        dtype=config.dtype,
        averaged=bool(config.ema_decay),
    )


def solver_extras(images: bool, run_dir: Path, quiet: bool, epochs: int) -> dict[str, Any]:
    """How the Solver reports and checkpoints: epochs on images take seconds, so it shows
    progress, keeps the newest checkpoint and rewrites the live report after every
    epoch; on rows of numbers (the spiral, tables) they take milliseconds, so it is
    silent (a digest is printed afterwards), rewrites the live report at most every
    ROWS_LIVE_SECONDS, and writes a checkpoint only when interrupted. Checkpoints go
    into the run directory; the live files (history.json/csv, report.html) let a
    browser tab follow the run, and a killed run keep its curves; on images status.json
    follows the epochs too (of ``epochs``)."""
    from twolayer.report import ROWS_LIVE_SECONDS, live_report_callback  # loads matplotlib

    name = os.fspath(run_dir / CHECKPOINT)
    if not images:
        live = live_report_callback(run_dir, min_seconds=ROWS_LIVE_SECONDS)
        return {"verbose": False, "checkpoint_name": name, "keep_checkpoints": 0,
                "on_epoch_end": live}  # fmt: skip
    return {
        "checkpoint_name": name,
        "keep_checkpoints": 1,
        "print_every": 20,
        "verbose": not quiet,
        "on_epoch_end": epoch_status(run_dir, epochs, then=live_report_callback(run_dir)),
    }


def start_run(
    clf: Classifier,
    run_dir: Path,
    config: RunConfig,
    data: dict[str, Any],
    prep: Preprocessor | None,
    *,
    resuming: bool = False,
    quiet: bool = True,
    decode_cache: bool = True,
    say: Callable[[str], None] = lambda line: None,
) -> Solver:
    """The run's Solver, from ``clf.begin_fit`` (resumed: from :func:`resume_point`), with
    the run's settings written first (config.json; a new run's preprocess.npz), so that
    even a failed run says what it was, and a resumed one how it goes on."""
    checkpoint, state = None, None
    if resuming:
        check_same_data(run_dir, data["fingerprint"])
        checkpoint, state = resume_point(run_dir)
        say(f"resuming from {checkpoint}")
    extras = solver_extras(is_images(data), run_dir, quiet, config.epochs)
    solver = clf.begin_fit(config, data, prep, checkpoint=checkpoint, state=state, **extras)
    if resuming:
        check_resumable(run_dir, solver)
    elif prep is not None:
        atomic_savez(run_dir / PREP_FILE, prep.state(packed=True))
    examples = {split: len(data[f"y_{split}"]) for split in ("train", "val")}
    info: dict[str, Any] = {
        "model": clf.model_.config(), "examples": examples, FINGERPRINT_KEY: data["fingerprint"]
    }  # fmt: skip
    if config.dataset in OWN_DATA:
        info.update(class_names=data["class_names"], decode_cache=decode_cache)
        info.update({k: data[k] for k in ("feature_names", "skipped") if k in data})
    save_run_config(run_dir, config, **info)
    return solver


def train_run(run_dir: Path, solver: Solver) -> None:
    """Train ``solver`` to its end (or to Ctrl-C: ``solver.interrupted``), keeping
    status.json and the history in ``run_dir`` up to date; DivergenceError is raised
    after both are written."""
    progress = {"epochs": solver.num_epochs}
    save_status(run_dir, "running", epoch=solver.epoch, **progress)
    try:
        # A diverging run is reported as one error; NumPy's overflow warnings on the way
        # there would only bury it.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            solver.train()
    except DivergenceError:
        save_history(run_dir, solver)
        save_status(run_dir, "diverged", epoch=solver.epoch, **progress)
        raise
    save_history(run_dir, solver)
    if solver.interrupted:
        save_status(run_dir, "interrupted", epoch=solver.epoch, **progress)


def resume_point(run_dir: Path) -> tuple[Path, dict[str, Any] | None]:
    """Where a resumed run goes on from: its newest checkpoint, or, when it has none (a
    finished run), its final state, read already (the path, and the state or None)."""
    if not any(run_dir.glob(f"{CHECKPOINT}_*.npz")):
        if (run_dir / FINAL_STATE).is_file():
            return load_final_state(run_dir)
        if (run_dir / MODEL_FILE).is_file() and load_status(run_dir)["state"] == "finished":
            raise ValueError(
                f"{run_dir} has finished and kept no state to train on from (neither "
                f"{FINAL_STATE} nor a checkpoint); train a new run for longer instead: "
                f"twolayer train --config {run_dir / CONFIG_FILE} --epochs N --out NEW_DIR"
            )
    return latest_checkpoint(run_dir), None


def finish_run(run_dir: Path, solver: Solver, *, keep_checkpoint: bool = False) -> None:
    """Mark the run finished, its files all written (model.npz first): status.json, and
    its state for training further kept once, compactly (final_state.npz; with
    ``keep_checkpoint``: as the last epoch's whole checkpoint instead); every other
    checkpoint and preprocess.npz (model.npz holds the preprocessing) go."""
    newest = run_dir / f"{CHECKPOINT}_epoch_{solver.epoch}.npz"
    if keep_checkpoint:
        if not newest.is_file():  # rows of numbers write none but when interrupted
            solver.save_checkpoint(newest)
        (run_dir / FINAL_STATE).unlink(missing_ok=True)
    else:
        save_final_state(run_dir, solver)
    for path in run_dir.glob(f"{CHECKPOINT}_*.npz"):
        if not (keep_checkpoint and path == newest):
            path.unlink()
    (run_dir / PREP_FILE).unlink(missing_ok=True)
    save_status(run_dir, "finished", epoch=solver.epoch, epochs=solver.num_epochs)
