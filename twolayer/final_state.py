"""What a finished run keeps so that `twolayer train --resume RUN --epochs N` trains it further.

    save_final_state(run_dir, solver)         # once model.npz holds the best weights
    path, state = load_final_state(run_dir)   # Solver.state_dict() again, whole

Training further needs the Solver's whole state (``Solver.state_dict()``): the last
weights, the best epoch's weights, the update rule's moments (Adam's m and v), the
step, the random generator and the curves. A checkpoint holds all of it, but once
the run has finished its best weights are in model.npz too, and its last weights are
often the same (the best epoch is often the last). ``final_state.npz`` is that
checkpoint without those copies: a ``twolayer-checkpoint`` whose ``best_params`` is
the string ``"model.npz"`` (the model file's weights) and whose ``params`` is the
string ``"best_params"`` when the last weights are the best ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from twolayer import checkpoint
from twolayer._io import reading
from twolayer.model import TwoLayerNet
from twolayer.runfiles import MODEL_FILE

FINAL_STATE = "final_state.npz"
SAME_AS_BEST = "best_params"  # the value of "params" when the last weights are the best


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a
    )


def save_final_state(run_dir: str | os.PathLike, solver: Any) -> Path:
    """Write ``run_dir/final_state.npz``: ``solver``'s state, less the weights that
    ``run_dir/model.npz`` (written already) holds. Weights found not to be there are
    stored whole, so the file is always complete together with the model file."""
    run_dir = Path(run_dir)
    state = solver.state_dict()
    model, _ = TwoLayerNet.load_with_extra(run_dir / MODEL_FILE)
    best = state["best_params"]
    if _same(best, model.params):
        state["best_params"] = MODEL_FILE
    if _same(state["params"], best):
        state["params"] = SAME_AS_BEST
    return checkpoint.save(state, run_dir / FINAL_STATE)


def load_final_state(run_dir: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The path of ``run_dir``'s final state and the whole Solver state it stands for,
    its weights taken from the model file where it refers to them. Raises
    FileNotFoundError, or ValueError naming a damaged file."""
    path = Path(run_dir) / FINAL_STATE
    state = checkpoint.load(path)
    if state.get("best_params") == MODEL_FILE:
        model, _ = TwoLayerNet.load_with_extra(Path(run_dir) / MODEL_FILE)
        state["best_params"] = model.params
    if state.get("params") == SAME_AS_BEST:
        state["params"] = {k: w.copy() for k, w in state["best_params"].items()}
    with reading(path, "final state"):
        for group in ("params", "best_params"):
            if not isinstance(state.get(group), dict):
                raise ValueError(f"its {group} are {state.get(group)!r}, not arrays")
    return path, state
