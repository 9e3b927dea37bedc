"""Resuming a run: on its own data only, from where it stopped, even after its last epoch.

    check_same_data(run_dir, data["fingerprint"])   # other data: ValueError naming it
    solver = ...                                     # built from latest_checkpoint(run_dir)
    check_resumable(run_dir, solver)                 # nothing left to do: ValueError
    solver.train()                                   # epochs left (none after the last)
    with finishing(run_dir, solver, epochs):         # evaluation, model file, plots
        ...

A run records its data's fingerprint (:mod:`twolayer.fingerprint`) in config.json, under
:data:`FINGERPRINT_KEY`. Image runs' status.json follows the epochs (:func:`epoch_status`),
and the phase after the last epoch starts with a checkpoint and a status saying so
(:func:`finishing`), so that a run stopped there, even by SIGKILL, is finished by
``--resume``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from twolayer._signals import sigterm_as_ctrl_c
from twolayer.fingerprint import changed_splits
from twolayer.runs import (
    CHECKPOINT,
    CONFIG_FILE,
    FINISHING_CHECKPOINT,
    load_config,
    load_status,
    save_status,
)

#: The key of config.json that records the run's data fingerprint.
FINGERPRINT_KEY = "data_fingerprint"
_PART_NAMES = {
    "train": "training data", "val": "validation data", "test": "test data",
    "classes": "class names",
}  # fmt: skip


def check_same_data(run_dir: str | os.PathLike, fingerprint: dict[str, str]) -> None:
    """Refuse to resume ``run_dir`` on data other than its own: ValueError naming the splits
    whose hash (``fingerprint``, :func:`twolayer.fingerprint.data_fingerprint`) changed.

    A run from before fingerprints resumes, with a note on stderr saying it is unchecked.
    """
    recorded = load_config(run_dir).get(FINGERPRINT_KEY)
    if not isinstance(recorded, dict):
        print(
            f"note: {run_dir} recorded no fingerprint of its data (an older twolayer made it): "
            "resuming without checking that the data is the one it was trained on",
            file=sys.stderr,
        )
        return
    changed = changed_splits(recorded, fingerprint)
    if changed:
        parts = " and ".join(_PART_NAMES[k] for k in changed)
        raise ValueError(
            f"the {parts} differ from what {run_dir} was trained on (another hash): "
            "resume it only on its own data; to train on this data, start a new run with "
            f"--config {Path(run_dir) / CONFIG_FILE} --out NEW_DIR"
        )


def epoch_status(
    run_dir: str | os.PathLike, epochs: int, then: Callable[[Any], None] | None = None
) -> Callable[[Any], None]:
    """A Solver ``on_epoch_end`` callback: status.json says "running" and the epoch just
    finished (so a run killed later says where it stood), then ``then(solver)``."""

    def on_epoch_end(solver: Any) -> None:
        save_status(run_dir, "running", epoch=solver.epoch, epochs=epochs)
        if then is not None:
            then(solver)

    return on_epoch_end


@contextmanager
def finishing(run_dir: str | os.PathLike, solver: Any, epochs: int) -> Iterator[None]:
    """The phase after the last epoch (the final evaluation, test-time augmentation, the
    model file, plots and report), made resumable.

    First a checkpoint of the trained state is written (:data:`FINISHING_CHECKPOINT`,
    removed again when the block ends normally), unless the last epoch's is there;
    then status.json says "running" with the last epoch and ``finishing``; so
    a run killed in the block (even by SIGKILL) can be finished by ``--resume``.
    SIGTERM is Ctrl-C in the block; on either, status.json says "interrupted" and
    the KeyboardInterrupt goes on.
    """
    run_dir = Path(run_dir)
    kept = run_dir / FINISHING_CHECKPOINT
    if not (run_dir / f"{CHECKPOINT}_epoch_{solver.epoch}.npz").is_file():
        solver.save_checkpoint(kept)
    progress = {"epoch": solver.epoch, "epochs": epochs}
    save_status(run_dir, "running", finishing=True, **progress)
    try:
        with sigterm_as_ctrl_c():
            yield
    except KeyboardInterrupt:
        save_status(run_dir, "interrupted", finishing=True, **progress)
        raise
    kept.unlink(missing_ok=True)


def check_resumable(run_dir: str | os.PathLike, solver: Any) -> bool:
    """Whether the resumed ``solver`` has epochs left to train; False when only the
    phase after its last epoch is (a run stopped in :func:`finishing`).

    Raises ValueError for a finished run, or one given fewer epochs than it has done.
    """
    done, asked = solver.epoch, solver.num_epochs
    more = f"to train it further, resume with more epochs, e.g. --epochs {done + 10}"
    if done > asked:
        raise ValueError(f"{run_dir} has done {done} epochs, more than --epochs {asked}; {more}")
    if load_status(run_dir)["state"] != "finished":
        return not (solver.stopped_early or done == asked)
    if solver.stopped_early:
        raise ValueError(
            f"{run_dir} stopped early (no better val accuracy for {solver.patience} epochs); "
            "start a new run to train on"
        )
    if done == asked:
        raise ValueError(f"{run_dir} has finished its {done} epochs; {more}")
    return True
