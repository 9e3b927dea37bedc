"""A fitted :class:`twolayer.Classifier` as a run directory, in `twolayer train`'s format.

    write_run(clf, "runs/mine")      # config.json, model.npz (+ preprocessing), history
    clf = read_run(Classifier, "runs/cifar10-20261125-160000")

``model.npz`` holds, beside the weights, all a classifier needs: the preprocessing,
the class names, the test-time views and one processed input's shape
(:func:`save_model`, which the train command uses too). It is the one copy of the
preprocessing of a finished run; a run still training has no model file yet, and
keeps its preprocessing in ``preprocess.npz`` until it finishes
(:func:`load_preprocessing` reads either).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from twolayer._io import read_npz, reading
from twolayer.model import TwoLayerNet
from twolayer.preprocess import Preprocessor
from twolayer.runs import (
    CONFIG_FILE,
    HISTORY_JSON,
    check_run_dir,
    claim_run_dir,
    load_history,
    load_run_config,
    save_run_config,
    save_status,
    write_history,
)

MODEL_FILE = "model.npz"
PREP_FILE = "preprocess.npz"  # an unfinished run's preprocessing; model.npz holds it after


def load_preprocessing(run_dir: str | os.PathLike) -> Preprocessor | None:
    """The preprocessing ``run_dir``'s run was fitted with (None: the spiral's, which has
    none): from its model file once it has one, else from preprocess.npz (a run that
    has not finished). Runs of version 0.3 hold both, with the same arrays."""
    run_dir = Path(run_dir)
    path = run_dir / MODEL_FILE
    if path.is_file():
        _, state = TwoLayerNet.load_with_extra(path)
        if "prep_mean" not in state:
            return None
    else:
        path = run_dir / PREP_FILE
        state = read_npz(path, "preprocessing file")
    with reading(path, "preprocessing file"):
        return Preprocessor.from_state(state)


def save_model(
    path: str | os.PathLike,
    model: TwoLayerNet,
    prep: Preprocessor,
    classes: Any,
    tta: str,
    input_shape: tuple[int, ...],
    feature_names: Any = None,
) -> Path:
    """``model.npz`` with all a classifier needs beside the weights: the preprocessing,
    the class names, the test-time views and one processed input's shape."""
    classes = np.asarray(classes)
    if classes.dtype.kind == "O":  # npz files hold no objects (they would need pickle)
        classes = classes.astype(str)
    extra = {"input_shape": np.array(input_shape)}
    if feature_names is not None:
        extra["feature_names"] = np.array(feature_names)
    extra.update(prep.state(packed=True), class_names=classes, tta=np.array(tta))
    return model.save(path, **extra)


def write_run(clf: Any, run_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write fitted ``clf`` to ``run_dir`` (new or empty; ``overwrite``: cleared first)."""
    with claim_run_dir(clf.config_.dataset, run_dir, overwrite=overwrite) as path:
        info: dict[str, Any] = {"model": clf.model_.config()}
        info["class_names"] = [str(c) for c in clf.classes_]
        if hasattr(clf, "feature_names_in_"):
            info["feature_names"] = [str(n) for n in clf.feature_names_in_]
        save_run_config(path, clf.config_, **info)
        if clf.prep_ is None:
            clf.model_.save(path / MODEL_FILE)
        else:
            save_model(
                path / MODEL_FILE, clf.model_, clf.prep_, clf.classes_, clf.config_.tta,
                clf.input_shape_, getattr(clf, "feature_names_in_", None),
            )  # fmt: skip
        if "val_acc_history" in clf.history_:
            write_history(path, clf.history_)
        epochs = len(clf.history_.get("val_acc_history", []))
        save_status(path, "finished", epoch=epochs, epochs=clf.config_.epochs)
    return path


def read_run(cls: Any, run_dir: str | os.PathLike) -> Any:
    """The fitted ``cls`` (a Classifier) of a run directory of `twolayer train` or
    :func:`write_run`; its parameters are the run's settings."""
    run_dir = check_run_dir(run_dir)
    config = load_run_config(run_dir / CONFIG_FILE)
    path = run_dir / MODEL_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir} has no {MODEL_FILE}; did its training finish?")
    model, extra = TwoLayerNet.load_with_extra(path)
    clf = cls.from_config(config)
    clf.config_, clf.model_ = config, model
    clf.prep_ = Preprocessor.from_state(extra) if "prep_mean" in extra else None
    if "class_names" in extra:
        if len(extra["class_names"]) != model.num_classes:
            raise ValueError(
                f"{path} is damaged: {len(extra['class_names'])} class names for "
                f"{model.num_classes} classes"
            )
        clf.classes_ = np.asarray(extra["class_names"])
    else:
        clf.classes_ = np.arange(model.num_classes)
    shape: np.ndarray | tuple[int, ...] | None = extra.get("input_shape")
    if shape is None:  # the spiral's rows; CIFAR-10 runs from before the shape was kept
        shape = (3, 32, 32) if config.dataset == "cifar10" else (model.input_dim,)
    clf.input_shape_ = tuple(int(n) for n in np.asarray(shape))
    clf.n_features_in_ = math.prod(clf.input_shape_)
    if "feature_names" in extra:
        clf.feature_names_in_ = np.asarray(extra["feature_names"], dtype=object)
    clf.history_ = load_history(run_dir) if (run_dir / HISTORY_JSON).is_file() else {}
    return clf
