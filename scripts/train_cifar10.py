"""Train a two-layer net on CIFAR-10 and save the run.

Loads CIFAR-10 from --data-dir (downloading it unless --no-download), fits the
preprocessing (ZCA whitening by default) on the training split, trains with
augmentation and writes a run directory (runs/cifar10-<time>, or --out) with
config.json, history.json/csv, model.npz (with the preprocessing, ready for
scripts/predict.py), the newest checkpoint, loss.png, accuracy.png, lr.png,
weights.png and confusion.png. The last line printed is "test accuracy: 0.xxxx"
(with test-time augmentation, --tta; the plain accuracy is printed above it).

presets (flags given on the command line override them):
  default  hidden 512, adam lr 1e-3 cosine, reg 5e-4, label smoothing 0.1,
           ZCA eps 0.1, flip + 2 px translations, 10 epochs, batch 200;
           test-time augmentation averages the image, its mirror and 1 px shifts
  best     hidden 2048, the same recipe for 60 epochs (about 10 min on 2 cores)
  quick    hidden 256, 3 epochs, mean subtraction only: a smoke test

examples:
  python scripts/train_cifar10.py
  python scripts/train_cifar10.py --preset best
  python scripts/train_cifar10.py --hidden 1024 --epochs 20 --augment flip+translate3
  python scripts/train_cifar10.py --resume runs/cifar10-20261125-160000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# OpenBLAS's idle worker threads spin for about 0.1 s after each matrix product and
# take a core from the update rule that follows (a sixth of a CIFAR-10 step here).
# 4 (2**4 cycles) lets them sleep at once. Read when NumPy loads OpenBLAS, so set first.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np

from twolayer import TwoLayerNet
from twolayer._io import atomic_savez, open_npz
from twolayer.cli.args import (
    ArgumentParser,
    make_parser,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    run_main,
)
from twolayer.cli.runs import (
    check_run_dir,
    history_from_solver,
    load_config,
    new_run_dir,
    save_config,
    save_history,
)
from twolayer.datasets import (
    CLASSES,
    TTA_VIEWS,
    augment_from_spec,
    download_cifar10,
    load_cifar10,
    train_val_split,
    tta_proba,
)
from twolayer.fast import set_num_threads
from twolayer.optim import UPDATE_RULES
from twolayer.plots import (
    plot_confusion_matrix,
    plot_first_layer_weights,
    save_run_plots,
    show_pngs,
)
from twolayer.preprocess import Preprocessor
from twolayer.solver import SOLVER_DEFAULTS, Solver

PRESETS: dict[str, dict] = {
    "default": {
        "hidden": 512,
        "epochs": 10,
        "batch_size": 200,
        "optimizer": "adam",
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "reg": 5e-4,
        "label_smoothing": 0.1,
        "weight_scale": "he",
        "augment": "flip+translate2",
        "preprocess": "zca",
        "zca_epsilon": 0.1,
        "tta": "flip+translate1",
    },
}
PRESETS["best"] = {**PRESETS["default"], "hidden": 2048, "epochs": 60}
PRESETS["quick"] = {**PRESETS["default"], "hidden": 256, "epochs": 3, "preprocess": "mean"}
CHECKPOINT = "checkpoint"  # run_dir/checkpoint_epoch_<k>.npz, checkpoint_interrupted.npz


def build_parser() -> ArgumentParser:
    p = make_parser(__doc__)
    d = PRESETS["default"]

    def preset_help(text: str, key: str) -> str:
        return f"{text} (default preset: {d[key]})"

    p.add_argument("--preset", choices=sorted(PRESETS), default="default", help="named settings")
    model = p.add_argument_group("model")
    model.add_argument("--hidden", type=positive_int, help=preset_help("hidden units", "hidden"))
    model.add_argument(
        "--reg", type=nonnegative_float, help=preset_help("L2 strength (weight decay)", "reg")
    )
    model.add_argument(
        "--weight-scale",
        type=weight_scale,
        help=preset_help('initial weight std, or "he" for sqrt(2/fan_in)', "weight_scale"),
    )
    model.add_argument(
        "--label-smoothing",
        type=nonnegative_float,
        help=preset_help("share of the target spread over all classes", "label_smoothing"),
    )
    model.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="compute dtype"
    )
    train = p.add_argument_group("training")
    train.add_argument("--epochs", type=positive_int, help=preset_help("epochs", "epochs"))
    train.add_argument(
        "--batch-size", type=positive_int, help=preset_help("minibatch size", "batch_size")
    )
    train.add_argument(
        "--optimizer", choices=sorted(UPDATE_RULES), help=preset_help("update rule", "optimizer")
    )
    train.add_argument("--lr", type=positive_float, help=preset_help("learning rate", "lr"))
    train.add_argument(
        "--lr-schedule",
        choices=("cosine", "step"),
        help=preset_help("cosine decay to 0, or step (constant unless --lr-decay)", "lr_schedule"),
    )
    train.add_argument(
        "--lr-decay",
        type=positive_float,
        default=1.0,
        help="per-epoch factor for --lr-schedule step",
    )
    train.add_argument(
        "--augment",
        type=augment_spec,
        help=preset_help('"flip", "translateK" (K pixels), joined by "+", or "none"', "augment"),
    )
    train.add_argument(
        "--tta",
        choices=sorted(TTA_VIEWS),
        help=preset_help("test-time augmentation: views averaged at evaluation", "tta"),
    )
    train.add_argument(
        "--patience", type=positive_int, help="stop after this many epochs without a better val acc"
    )
    data = p.add_argument_group("data")
    data.add_argument("--data-dir", default="data", help="folder holding cifar-10-batches-py/")
    data.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading missing data"
    )
    data.add_argument(
        "--skip-md5",
        action="store_true",
        help="accept a cifar-10-python.tar.gz in --data-dir that is not the official release",
    )
    data.add_argument(
        "--num-train",
        type=positive_int,
        default=49_000,
        help="training images, taken from the first of the 50,000",
    )
    data.add_argument(
        "--num-val",
        type=positive_int,
        default=1_000,
        help="validation images, the last of the 50,000 (CS231n's split)",
    )
    data.add_argument(
        "--preprocess",
        choices=("zca", "mean"),
        help=preset_help("ZCA whitening, or mean subtraction only", "preprocess"),
    )
    data.add_argument(
        "--zca-epsilon",
        type=positive_float,
        help=preset_help("ZCA damping, on pixels scaled to [0, 1]", "zca_epsilon"),
    )
    data.add_argument(
        "--store-dtype",
        choices=("float16", "float32"),
        default="float16",
        help="dtype the processed images are held in (float16 halves the memory)",
    )
    run = p.add_argument_group("run")
    run.add_argument("--seed", type=nonnegative_int, default=0, help="seeds weights and batches")
    run.add_argument("--out", help="run directory (default: runs/cifar10-<date>-<time>)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    run.add_argument("--threads", type=positive_int, help="BLAS threads (default: all cores)")
    run.add_argument("--show", action="store_true", help="open the plots in windows at the end")
    run.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    return p


def weight_scale(text: str) -> float | str:
    return "he" if text == "he" else positive_float(text)


def augment_spec(text: str) -> str:
    """argparse type: an augmentation spec such as "flip+translate2" (or "none")."""
    try:
        augment_from_spec(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def set_threads(threads: int | None) -> None:
    """Limit BLAS and update-rule threads (BLAS: threadpoolctl, else restart with the env set)."""
    if threads is None:
        return
    set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        # Without threadpoolctl the limit must be in the environment before numpy loads.
        if os.environ.get("OPENBLAS_NUM_THREADS") != str(threads):
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = str(threads)
            os.execv(sys.executable, [sys.executable, *sys.argv])
        return
    threadpool_limits(threads)


def resolve(args) -> dict:
    """Every setting: command-line flags over the preset."""
    settings = dict(PRESETS[args.preset])
    for key, value in vars(args).items():
        if value is not None:
            settings[key] = value
    for key in ("resume", "show", "quiet", "out"):
        settings.pop(key, None)
    return settings


def load_images(s: dict, say, quiet: bool) -> dict:
    """Raw uint8 training/validation/test images (N, 32, 32, 3) and labels."""
    root = Path(s["data_dir"])
    if not s["no_download"]:
        download_cifar10(root, **({"md5": None} if s["skip_md5"] else {}), progress=not quiet)
    X_train, y_train, X_test, y_test = load_cifar10(root)
    raw = train_val_split(X_train, y_train, s["num_train"], s["num_val"])
    raw["X_test"], raw["y_test"] = X_test, y_test
    say(f"CIFAR-10: {s['num_train']} train / {s['num_val']} val / {len(X_test)} test images")
    return raw


def preprocess(raw: dict, prep: Preprocessor, store_dtype: str) -> dict:
    """Processed (N, 3, 32, 32) images; each uint8 array is dropped once it is converted."""
    data = {}
    for split in ("train", "val", "test"):
        data[f"X_{split}"] = prep.transform(raw.pop(f"X_{split}"), store_dtype, channels_last=True)
        data[f"y_{split}"] = raw[f"y_{split}"]
    return data


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    resume_dir = None
    if args.resume:
        resume_dir = check_run_dir(args.resume)
        saved = load_config(resume_dir)["settings"]
        args = build_parser().parse_args([])  # the saved run's settings, not today's flags
        for key, value in saved.items():
            setattr(args, key, value)
        args.preset, args.quiet, args.show = saved["preset"], False, False
    set_threads(args.threads)
    s = resolve(args)
    say = (lambda *a, **k: None) if args.quiet else print
    start = time.perf_counter()

    raw = load_images(s, say, args.quiet)
    run_dir = resume_dir or new_run_dir("cifar10", args.out)
    prep_path = run_dir / "preprocess.npz"
    if resume_dir is not None:
        with open_npz(prep_path, "preprocessing file") as f:
            prep = Preprocessor.from_state(dict(f))
    else:
        prep = Preprocessor(s["preprocess"], s["zca_epsilon"]).fit(
            raw["X_train"], channels_last=True
        )
        atomic_savez(prep_path, prep.state())
    data = preprocess(raw, prep, s["store_dtype"])
    say(f"preprocessed ({s['preprocess']}) in {time.perf_counter() - start:.1f} s")

    model = TwoLayerNet(
        input_dim=3 * 32 * 32,
        hidden_dim=s["hidden"],
        num_classes=len(CLASSES),
        weight_scale=s["weight_scale"],
        dtype=s["dtype"],
        seed=s["seed"],
        label_smoothing=s["label_smoothing"],
    )
    solver_settings = {
        **SOLVER_DEFAULTS,
        "update_rule": s["optimizer"],
        # L2 as weight decay in the update: the same bits as the model's reg in one
        # pass less over memory, and the training loss is then the data loss, like
        # the validation loss it is plotted against.
        "optim_config": {"learning_rate": s["lr"], "weight_decay": s["reg"]},
        "lr_schedule": s["lr_schedule"],
        "lr_decay": s["lr_decay"],
        "batch_size": s["batch_size"],
        "num_epochs": s["epochs"],
        "patience": s.get("patience"),
        "seed": s["seed"],
        "checkpoint_name": os.fspath(run_dir / CHECKPOINT),
        "keep_checkpoints": 1,
        "print_every": 20,
        "verbose": not args.quiet,
    }
    augment = augment_from_spec(s["augment"])
    train_data = {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")}
    if resume_dir is not None:
        checkpoint = latest_checkpoint(resume_dir)
        say(f"resuming from {checkpoint}")
        solver = Solver.resume(checkpoint, model, train_data, augment=augment)
    else:
        solver = Solver(model, train_data, **{**solver_settings, "augment": augment})
        config = {"settings": s, "model": model.config(), "solver": {**solver_settings}}
        config["solver"]["augment"] = s["augment"]
        save_config(run_dir, config)  # before training: even a failed run says what it was

    solver.train()
    save_history(run_dir, solver)
    if solver.interrupted:
        print(f"interrupted; resume with: python {sys.argv[0]} --resume {run_dir}")
        return 130
    model.save(
        run_dir / "model.npz", **prep.state(), class_names=np.array(CLASSES), tta=np.array(s["tta"])
    )
    (run_dir / f"{CHECKPOINT}_interrupted.npz").unlink(missing_ok=True)

    history = history_from_solver(solver)
    pngs = save_run_plots(run_dir, history)
    pngs.append(plot_first_layer_weights(model.params["W1"], run_dir / "weights.png"))
    plain_acc = float(np.mean(model.predict(data["X_test"]) == data["y_test"]))
    val_pred, test_pred = (
        tta_proba(model.predict_proba, data[f"X_{split}"], s["tta"]).argmax(1)
        for split in ("val", "test")
    )
    pngs.append(
        plot_confusion_matrix(data["y_test"], test_pred, CLASSES, run_dir / "confusion.png")
    )
    val_acc = float(np.mean(val_pred == data["y_val"]))
    test_acc = float(np.mean(test_pred == data["y_test"]))
    elapsed = time.perf_counter() - start
    print(f"kept the weights of epoch {solver.best_epoch}; total time {elapsed:.1f} s")
    print(f"run saved in {run_dir}/")
    print("  " + " ".join(sorted(p.name for p in run_dir.iterdir())))
    print(f"test accuracy without test-time augmentation: {plain_acc:.4f}")
    print(f"val accuracy: {val_acc:.4f}")
    print(f"test accuracy: {test_acc:.4f}")
    if args.show:
        show_pngs(pngs)
    return 0


def latest_checkpoint(run_dir: Path) -> Path:
    """The interrupted-run checkpoint if there is one, else the newest epoch checkpoint."""
    interrupted = run_dir / f"{CHECKPOINT}_interrupted.npz"
    if interrupted.is_file():
        return interrupted
    epochs = sorted(
        run_dir.glob(f"{CHECKPOINT}_epoch_*.npz"), key=lambda p: int(p.stem.rsplit("_", 1)[1])
    )
    if not epochs:
        raise ValueError(f"{run_dir} has no checkpoint to resume from")
    return epochs[-1]


if __name__ == "__main__":
    sys.exit(run_main(main))
