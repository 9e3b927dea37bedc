"""What `twolayer train` does after training: the model file, the plots, the printed results.

Each function saves ``model.npz`` and the run's figures into ``run_dir``, calls
``finish`` (which marks the run finished) once every file is written, prints where
the run went, the files it holds and its accuracies (the last line being the
headline one), and returns the figures written. Every accuracy printed says whether
it averages test-time views (TTA) or not; the per-epoch and best figures never do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from twolayer.classifier import class_proba
from twolayer.config import RunConfig
from twolayer.datasets.tta import TTA_VIEWS
from twolayer.history import epoch_table, history_from_solver
from twolayer.model import TwoLayerNet
from twolayer.preprocess import Preprocessor
from twolayer.runfiles import save_model
from twolayer.solver import Solver

MAX_EPOCH_LINES = 10  # per-epoch lines printed for rows of numbers, spread over the run


def finish_spiral(
    run_dir: Path,
    config: RunConfig,
    data: dict[str, Any],
    model: TwoLayerNet,
    solver: Solver,
    seconds: float,
    say: Callable[[str], None],
    finish: Callable[[], None],
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
        updates=len(solver.loss_history),
    )  # fmt: skip
    write_report(run_dir, history=history, results=results)
    finish()
    print_saved(run_dir)
    for split in ("train", "val"):
        acc = np.mean(model.predict(data[f"X_{split}"]) == data[f"y_{split}"])
        print(f"{split} accuracy: {acc:.4f}")
    return pngs


def print_saved(run_dir: Path) -> None:
    """Where the run went and the files it holds."""
    print(f"run saved in {run_dir}/")
    print("  " + " ".join(sorted(p.name for p in run_dir.iterdir() if p.name[0] != ".")))


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
    finish: Callable[[], None],
) -> list[Path]:
    """For CIFAR-10 and the user's data: the model file (with the preprocessing, class
    names and test-time views), the first-layer weights (images), the report (with the
    confusions of the test set, else of validation), and the accuracies, with and
    without test-time augmentation (``config.tta``); ``start`` is when the run began."""
    from twolayer.plots import plot_first_layer_weights, save_run_plots
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
    acc, single, proba = {}, {}, {}
    for split in splits:
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        proba[split] = class_proba(model, X, config.tta)
        acc[split] = float(np.mean(proba[split].argmax(1) == y))
        plain = acc[split] if config.tta == "none" else np.mean(model.predict(X) == y)
        single[split] = float(plain)
    last = splits[-1]
    elapsed = time.perf_counter() - start
    results = RunResults(
        test_acc=acc.get("test"), val_acc=acc["val"], tta=config.tta,
        test_acc_single=single.get("test"), val_acc_single=single["val"], seconds=elapsed,
        split=last, class_names=classes, y_true=data[f"y_{last}"], proba=proba[last],
        images=data.get("pictures"), sources=data.get("sources"), W1=model.params["W1"],
        image_shape=shape if len(shape) == 3 else None, updates=len(solver.loss_history),
    )  # fmt: skip
    write_report(run_dir, history=history, results=results)
    finish()
    print(
        f"kept the weights of epoch {solver.best_epoch}, the best val accuracy without "
        f"test-time augmentation ({solver.best_val_acc:.4f}); total time {elapsed:.1f} s"
    )
    print_saved(run_dir)
    for line in accuracy_lines(acc, single, config.tta):
        print(line)
    return pngs


def accuracy_lines(acc: dict[str, float], single: dict[str, float], tta: str) -> list[str]:
    """The closing lines: every split's accuracy labelled single view or with test-time
    augmentation, one line saying how many views ``tta`` averages, and last the pair
    "S accuracy without test-time augmentation", "S accuracy" of the last split S (test
    if there is one): the headline figure, with ``tta`` (single view when "none")."""
    *others, last = acc
    lines = []
    for split in others:
        lines.append(f"{split} accuracy without test-time augmentation: {single[split]:.4f}")
        if tta != "none":
            lines.append(f"{split} accuracy with test-time augmentation: {acc[split]:.4f}")
    views = len(TTA_VIEWS[tta])
    if tta == "none":
        lines.append(f"no test-time augmentation (--tta none): the {last} accuracy is single view")
    else:
        lines.append(
            f"test-time augmentation (--tta {tta}): the {last} accuracy averages the "
            f"predictions of {views} views of each image"
        )
    lines.append(f"{last} accuracy without test-time augmentation: {single[last]:.4f}")
    lines.append(f"{last} accuracy: {acc[last]:.4f}")
    return lines
