"""What `twolayer train` does after training: the model file, the plots, the printed results.

Each function saves ``model.npz`` and the run's figures into ``run_dir``, prints where
the run went and its accuracies (the last line being the headline one), and returns
the figures written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from twolayer.classifier import class_proba
from twolayer.config import RunConfig
from twolayer.history import epoch_table, history_from_solver
from twolayer.model import TwoLayerNet
from twolayer.preprocess import Preprocessor
from twolayer.runfiles import save_model
from twolayer.solver import Solver

MAX_EPOCH_LINES = 10  # per-epoch lines printed for rows of numbers, spread over the run
MAX_CONFUSION_CLASSES = 40  # beyond this a confusion matrix is too dense to read


def finish_spiral(
    run_dir: Path,
    config: RunConfig,
    data: dict[str, Any],
    model: TwoLayerNet,
    solver: Solver,
    seconds: float,
    say: Callable[[str], None],
) -> list[Path]:
    """A digest of the epochs, the decision boundary, and the train and val accuracies."""
    # matplotlib loads slowly: only where figures are drawn
    from twolayer.plots import plot_decision_boundary, save_run_plots
    from twolayer.report import RunResults, write_report

    history = history_from_solver(solver)
    print_epochs(history, config.epochs, say)
    say(f"trained in {seconds:.2f} s")
    if solver.best_epoch:
        say(f"kept the weights of epoch {solver.best_epoch}, the best on validation")

    model.save(run_dir / "model.npz")
    pngs = save_run_plots(run_dir, history)
    X_all = np.concatenate([data["X_train"], data["X_val"]])
    y_all = np.concatenate([data["y_train"], data["y_val"]])
    pngs.append(plot_decision_boundary(model, X_all, y_all, run_dir / "decision_boundary.png"))
    proba = model.predict_proba(data["X_val"])
    results = RunResults(
        val_acc=float(np.mean(proba.argmax(1) == data["y_val"])), seconds=seconds, split="val",
        y_true=data["y_val"], proba=proba, model=model, points=(X_all, y_all),
    )  # fmt: skip
    report = write_report(run_dir, history=history, results=results)

    print(f"run saved in {run_dir}/")
    print(
        "  config.json history.json history.csv model.npz "
        + " ".join(p.name for p in [*pngs, report])
    )
    for split in ("train", "val"):
        acc = np.mean(model.predict(data[f"X_{split}"]) == data[f"y_{split}"])
        print(f"{split} accuracy: {acc:.4f}")
    return pngs


def print_epochs(history: dict, num_epochs: int, say: Callable[[str], None]) -> None:
    """About MAX_EPOCH_LINES per-epoch lines spread over the run, always the last one."""
    rows = epoch_table(history)
    n = len(rows["epoch"])
    step = -(-n // MAX_EPOCH_LINES)
    for e in sorted({*range(step - 1, n, step), n - 1}) if n else ():
        say(
            f"  epoch {rows['epoch'][e]:>4}/{num_epochs}: train loss {rows['train_loss'][e]:.4f}, "
            f"train acc {rows['train_acc'][e]:.4f}, val acc {rows['val_acc'][e]:.4f}, "
            f"val loss {rows['val_loss'][e]:.4f}, lr {rows['lr'][e]:.3g}"
        )


def finish_classifier(
    run_dir: Path,
    config: RunConfig,
    data: dict[str, Any],
    prep: Preprocessor,
    model: TwoLayerNet,
    solver: Solver,
    start: float,
) -> list[Path]:
    """For CIFAR-10 and the user's data: the model file (with the preprocessing, class
    names and test-time views), the first-layer weights (images), the confusion matrix
    of the test set (else of validation), and the accuracies, with and without
    test-time augmentation (``config.tta``); ``start`` is when the run began."""
    from twolayer.plots import plot_confusion_matrix, plot_first_layer_weights, save_run_plots
    from twolayer.report import RunResults, write_report

    classes = data["class_names"]
    save_model(
        run_dir / "model.npz", model, prep, classes, config.tta, data["X_train"].shape[1:],
        data.get("feature_names"),
    )  # fmt: skip

    history = history_from_solver(solver)
    pngs = save_run_plots(run_dir, history)
    shape = data["X_train"].shape[1:]
    if len(shape) == 3:  # (C, H, W) images; one channel is drawn as (H, W)
        image_shape = shape[1:] if shape[0] == 1 else shape
        pngs.append(
            plot_first_layer_weights(model.params["W1"], run_dir / "weights.png", image_shape)
        )
    splits = ("val", "test") if "X_test" in data else ("val",)
    proba = {split: class_proba(model, data[f"X_{split}"], config.tta) for split in splits}
    pred = {split: p.argmax(1) for split, p in proba.items()}
    acc = {split: float(np.mean(pred[split] == data[f"y_{split}"])) for split in splits}
    last = splits[-1]
    if len(classes) <= MAX_CONFUSION_CLASSES:
        path = run_dir / "confusion.png"
        pngs.append(plot_confusion_matrix(data[f"y_{last}"], pred[last], classes, path))
    elapsed = time.perf_counter() - start
    results = RunResults(
        test_acc=acc.get("test"), val_acc=acc["val"], seconds=elapsed, split=last,
        class_names=classes, y_true=data[f"y_{last}"], proba=proba[last],
        images=data.get("pictures"), W1=model.params["W1"],
        image_shape=shape if len(shape) == 3 else None,
    )  # fmt: skip
    write_report(run_dir, history=history, results=results)
    print(f"kept the weights of epoch {solver.best_epoch}; total time {elapsed:.1f} s")
    print(f"run saved in {run_dir}/")
    print("  " + " ".join(sorted(p.name for p in run_dir.iterdir() if p.name[0] != ".")))
    if "test" in acc:
        plain_acc = float(np.mean(model.predict(data["X_test"]) == data["y_test"]))
        print(f"test accuracy without test-time augmentation: {plain_acc:.4f}")
    for split, value in acc.items():
        print(f"{split} accuracy: {value:.4f}")
    return pngs
