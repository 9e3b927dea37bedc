"""Train a two-layer net on the spiral, CIFAR-10 or your own data, and save the run.

Writes a run directory (runs/<dataset>-<date>-<time>, or --out) with config.json
(the run's settings: --config reruns it exactly), history.json/csv, model.npz,
loss.png, accuracy.png and lr.png; the spiral adds decision_boundary.png, the other
data preprocess.npz and confusion.png (images also the newest checkpoint and
weights.png), and their model.npz holds the preprocessing and the class names,
ready for `twolayer predict`. The model kept is the epoch with the best validation
accuracy. The last lines printed are "val accuracy: 0.xxxx" and, when the data has
a test set, "test accuracy: 0.xxxx" (images: with test-time augmentation, --tta;
the plain accuracy is printed above them).

CIFAR-10 is read from --data-dir (downloaded unless --no-download); the
preprocessing (ZCA whitening by default) is fitted on the training split.

Your own data is DATA, a path, told apart by what it is:
  a folder   of images (png, jpg/jpeg, bmp, gif, webp), one subfolder per class
             (cat/1.jpg, dog/2.png, ...), or train/ and test/ (optionally val/) of
             that shape, other entries ignored. Each image's centre square is
             resized to --image-size (other aspect ratios lose their edges, never
             stretched), in RGB or --grayscale; trained as CIFAR-10 is (ZCA,
             flips and shifts). Decoded images are cached (in $TWOLAYER_CACHE/images,
             default ~/.cache/twolayer/images; --no-cache to skip), keyed by the
             files, their sizes and times: a second run does not decode again.
Whitened (or mean-subtracted) images are cached too, for CIFAR-10 and image data,
keyed by a checksum of the images and every preprocessing setting: a second run,
or a search trial, on the same data and settings does not fit ZCA again.
  a .csv     with a header: numeric features and a label column (--label-column;
             default "label", else the last column); features are standardized.
  an .npz    X (N, ...) and y (N,), optionally X_val, y_val, X_test, y_test and
             class_names (y then holds indices into it); X (N, H, W, C) uint8 are
             images (use --preprocess zca and --augment as for a folder).
Labels may be any values (text, 1-based numbers): the classes are the sorted values.
Without a val set, --val-fraction of the training data is held out, stratified by
class and shuffled with --data-seed (default --seed).

presets (flags given on the command line override them; each flag shows its values):
  spiral default   hidden 100, adam lr 0.05 cosine, 50 epochs, batch 16
  cifar10 default  hidden 512, adam lr 1e-3 cosine, reg 5e-4, label smoothing 0.1,
                   ZCA eps 0.1, flip + 2 px translations, 10 epochs, batch 200;
                   test-time augmentation averages the image, its mirror and 1 px shifts
  cifar10 best     hidden 2048, reg 1e-4, otherwise the same recipe, 60 epochs
                   (about 16 min on 2 cores)
  cifar10 quick    hidden 256, 3 epochs, mean subtraction only: a smoke test
  images default   as cifar10's, 10% of the training images held out for validation
  images best      as cifar10 best
  csv/npz default  standardized features, hidden 256, adam lr 3e-3 cosine, reg 1e-3,
                   100 epochs, batch 32, 20% held out for validation

examples:
  twolayer train photos/                      # a folder of class folders
  twolayer train iris.csv --label-column species
  twolayer train spiral
  twolayer train spiral --classes 5 --hidden 200 --epochs 100 --show
  twolayer train cifar10 --preset best
  twolayer train cifar10 --hidden 1024 --epochs 20 --augment flip+translate3
  twolayer train cifar10 --augment flip+translate2+cutout8 --dropout 0.3 --ema-decay 0.999
  twolayer train --config runs/cifar10-20261125-160000/config.json --epochs 20
  twolayer train --resume runs/cifar10-20261125-160000
  twolayer train --resume runs/cifar10-20261125-160000 --epochs 20   # train it further

A run directory holds one run: --out must be a new or empty folder (--overwrite
deletes what it holds first), and no second process can train in it meanwhile.
Ctrl-C or SIGTERM stops a run at a step boundary, writes a checkpoint into its
directory and prints the command that resumes it; --resume works from any working
directory and after the run directory moved, continuing from the newest checkpoint.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from twolayer._io import atomic_savez, read_npz, reading
from twolayer._memory import check_training_fits
from twolayer.cli.args import add_command, positive_int
from twolayer.cli.flags import add_config_flags, config_changes
from twolayer.cli.results import finish_classifier, finish_spiral, print_epochs
from twolayer.config import DATASETS, OWN_DATA, PRESETS, RunConfig, build, num_classes, preset
from twolayer.datasets import detect_format
from twolayer.fast.threads import limit_threads
from twolayer.history import history_from_solver
from twolayer.preprocess import Preprocessor
from twolayer.resume import (
    FINGERPRINT_KEY,
    check_resumable,
    check_same_data,
    epoch_status,
    finishing,
)
from twolayer.rundata import load_data
from twolayer.runs import (
    CHECKPOINT,
    CONFIG_FILE,
    check_run_dir,
    claim_run_dir,
    latest_checkpoint,
    load_run_config,
    resume_run_dir,
    save_history,
    save_run_config,
    save_status,
)
from twolayer.solver import DivergenceError, Solver

PREP_FILE = "preprocess.npz"
#: Settings that may change when a run is resumed: where the data is (not what it is),
#: and how many epochs it runs for (to train it further).
RESUMABLE = ("data_dir", "data", "epochs")
BUILT_IN = ("spiral", "cifar10")  # the datasets named on the command line; others are paths


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "train",
        run_train,
        "train a net on the spiral, CIFAR-10, or your images, CSV or npz",
        __doc__,
    )
    p.add_argument(
        "dataset",
        nargs="?",
        metavar="DATA",
        help="what to learn: spiral, cifar10, or the PATH of a folder of images, a .csv "
        "or an .npz (may be left out with --config or --resume)",
    )
    start = p.add_argument_group("where the settings come from")
    names = ", ".join(f"{d}: {', '.join(PRESETS[d])}" for d in DATASETS)
    start.add_argument("--preset", help=f"named settings ({names}; default: default)")
    start.add_argument(
        "--config",
        metavar="CONFIG_JSON",
        help="rerun a saved run exactly: its config.json (or a search's best_config.json); "
        "flags given with it override its values",
    )
    start.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run from its newest checkpoint (with --epochs: further)",
    )
    add_config_flags(p)
    run = p.add_argument_group("run")
    run.add_argument(
        "--out", help="run directory, new or empty (default: runs/<dataset>-<date>-<time>)"
    )
    run.add_argument(
        "--overwrite", action="store_true", help="delete what the --out run directory holds first"
    )
    run.add_argument(
        "--threads", type=positive_int, help="BLAS and update-rule threads (default: all cores)"
    )
    run.add_argument(
        "--no-download", action="store_true", help="CIFAR-10: fail instead of downloading"
    )
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the caches of decoded image folders and of whitened "
        "images ($TWOLAYER_CACHE, default ~/.cache/twolayer)",
    )
    run.add_argument(
        "--skip-md5",
        action="store_true",
        help="CIFAR-10: accept a cifar-10-python.tar.gz in the data dir that is not the "
        "official release",
    )
    run.add_argument("--show", action="store_true", help="open the plots in windows at the end")
    run.add_argument(
        "--quiet", action="store_true", help="print only where the run went and the accuracies"
    )


def resolve(args: argparse.Namespace) -> tuple[RunConfig, Path | None]:
    """The run's settings (flags over a preset, a saved config or the resumed run's),
    and the directory of the run to resume, if any."""
    changes = config_changes(args)
    dataset = args.dataset
    if dataset is not None and dataset not in BUILT_IN:
        if not os.path.exists(dataset):
            raise ValueError(
                f"{dataset}: no such file or folder; DATA is spiral, cifar10, or the path of "
                "a folder of images, a .csv or an .npz"
            )
        changes["data"] = os.path.abspath(dataset)  # the run can be rerun from anywhere
        dataset = detect_format(dataset)
    resume_dir = None
    if args.resume and (args.config or args.preset):
        raise ValueError("--resume continues a run with its own settings: drop --config/--preset")
    if args.config and args.preset:
        raise ValueError("--config holds every setting: drop --preset")
    if args.resume:
        fixed = sorted(set(changes) - set(RESUMABLE))
        fixed += [k for k in ("out", "overwrite") if getattr(args, k)]
        if fixed:
            flags = ", ".join("--" + k.replace("_", "-") for k in fixed)
            raise ValueError(
                f"--resume continues the run as it was started, in its own directory; only "
                f"--epochs (to train it further) and --data-dir or DATA (where the data is "
                f"now) may change: drop {flags}, or start a new run with --config and --out"
            )
        resume_dir = check_run_dir(args.resume)
        base = load_run_config(resume_dir / CONFIG_FILE)
    elif args.config:
        base = load_run_config(args.config)
    elif dataset is None:
        raise ValueError(
            "say what to train: twolayer train {spiral,cifar10,PATH}, or --config/--resume"
        )
    else:
        base = preset(dataset, args.preset or "default")
    if dataset is not None and dataset != base.dataset:
        source = args.config or args.resume
        raise ValueError(f"{source} is a {base.dataset} run, not {dataset}: leave that out")
    config = base.replace(**changes)
    if config.data_dir is not None:  # so that a resume from anywhere finds the data
        config = config.replace(data_dir=os.path.abspath(config.data_dir))
    return config, resume_dir


def load_run_data(
    config: RunConfig, args: argparse.Namespace, resume_dir: Path | None
) -> tuple[dict[str, Any], Preprocessor | None]:
    """The run's data; a resumed run keeps the preprocessing it was fitted with."""
    prep = None
    if resume_dir is not None and config.dataset != "spiral":
        path = resume_dir / PREP_FILE
        state = read_npz(path, "preprocessing file")
        with reading(path, "preprocessing file"):
            prep = Preprocessor.from_state(state)
    return load_data(
        config,
        prep=prep,
        # A resumed run's data was there when it started: if it is gone, the user says
        # where it is now (--data-dir), rather than a download filling the old place.
        download=not args.no_download and (resume_dir is None or "data_dir" in vars(args)),
        skip_md5=args.skip_md5,
        progress=not args.quiet,
        cache=not args.no_cache,
    )


def is_images(data: dict[str, Any]) -> bool:
    """Whether the processed data holds images (N, C, H, W) rather than rows of numbers."""
    return data["X_train"].ndim == 4


def solver_extras(images: bool, run_dir: Path, quiet: bool, epochs: int) -> dict[str, Any]:
    """How the Solver reports and checkpoints: epochs on images take seconds, so it shows
    progress, keeps the newest checkpoint and a live report; on rows of numbers (the
    spiral, tables) they take milliseconds, so it is silent (a digest is printed
    afterwards), writes the files once, at the end, and a checkpoint only when
    interrupted. Checkpoints go into the run directory; on images status.json follows
    the epochs too (of ``epochs``)."""
    name = os.fspath(run_dir / CHECKPOINT)
    if not images:
        return {"verbose": False, "checkpoint_name": name, "keep_checkpoints": 0}
    from twolayer.report import live_report_callback  # loads matplotlib: only when needed

    return {
        "checkpoint_name": name,
        "keep_checkpoints": 1,
        "print_every": 20,
        "verbose": not quiet,
        # history.json/csv and report.html rewritten after every epoch: a browser tab
        # follows the run, and a killed run keeps its curves.
        "on_epoch_end": epoch_status(run_dir, epochs, then=live_report_callback(run_dir)),
    }


def run_train(args: argparse.Namespace) -> int:
    config, resume_dir = resolve(args)
    if args.threads is not None:
        limit_threads(args.threads)
    if resume_dir is not None:
        claim = resume_run_dir(resume_dir)
    else:
        claim = claim_run_dir(config.dataset, args.out, overwrite=args.overwrite)
    with claim as run_dir:
        return train_in(run_dir, config, args, resuming=resume_dir is not None)


def train_in(run_dir: Path, config: RunConfig, args: argparse.Namespace, resuming: bool) -> int:
    """Train (or resume) the run ``config`` in ``run_dir``, which this process holds."""
    say = (lambda *a, **k: None) if args.quiet else print
    start = time.perf_counter()
    try:
        data, prep = load_run_data(config, args, run_dir if resuming else None)
    except FileNotFoundError as e:
        if not resuming or config.dataset == "spiral":
            raise
        where = "--data-dir" if config.data_dir is not None else "DATA (its path)"
        raise FileNotFoundError(f"{e}; if the data moved, pass {where} with its place") from e
    if config.dataset != "spiral":
        say_data(config, data, say)
        say(f"preprocessed ({config.preprocess}) in {time.perf_counter() - start:.1f} s")
    check_memory(config, data)
    if resuming:
        check_same_data(run_dir, data["fingerprint"])
    checkpoint = None
    if resuming:
        checkpoint = latest_checkpoint(run_dir)
        say(f"resuming from {checkpoint}")
    images = is_images(data)
    model, solver = build(
        config, data, checkpoint=checkpoint,
        **solver_extras(images, run_dir, args.quiet, config.epochs),
    )  # fmt: skip
    if resuming:
        check_resumable(run_dir, solver)
    elif prep is not None:
        atomic_savez(run_dir / PREP_FILE, prep.state())
    # Before training, so that even a failed run says what it was; a resumed one, how
    # it goes on (more epochs, the data's new place).
    examples = {split: len(data[f"y_{split}"]) for split in ("train", "val")}
    info = {"model": model.config(), "examples": examples, FINGERPRINT_KEY: data["fingerprint"]}
    if config.dataset in OWN_DATA:
        info.update(class_names=data["class_names"], decode_cache=not args.no_cache)
        info.update({k: data[k] for k in ("feature_names", "skipped") if k in data})
    save_run_config(run_dir, config, **info)
    if config.dataset == "spiral":
        say(
            f"spiral: {len(data['y_train'])} train / {len(data['y_val'])} val points, "
            f"{config.classes} classes; hidden {config.hidden}, {config.optimizer} lr "
            f"{config.lr:g} ({config.lr_schedule}), reg {config.reg:g}, batch "
            f"{config.batch_size}, {config.epochs} epochs, seed {config.seed}"
        )

    train_start = time.perf_counter()
    progress = {"epochs": config.epochs}
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
        return say_stopped(run_dir, solver, config.epochs)
    try:
        with finishing(run_dir, solver, config.epochs):
            if config.dataset == "spiral":
                seconds = time.perf_counter() - train_start
                pngs = finish_spiral(run_dir, config, data, model, solver, seconds, say)
            else:
                if not images:
                    print_epochs(history_from_solver(solver), config.epochs, say)
                pngs = finish_classifier(run_dir, config, data, prep, model, solver, start)
    except KeyboardInterrupt:
        return say_stopped(run_dir, solver, config.epochs, ", while finishing")
    (run_dir / f"{CHECKPOINT}_interrupted.npz").unlink(missing_ok=True)
    save_status(run_dir, "finished", epoch=solver.epoch, **progress)
    if args.show:
        from twolayer.plots import show_pngs  # matplotlib loads slowly: only when needed

        show_pngs(pngs)
    return 0


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


def say_stopped(run_dir: Path, solver: Solver, epochs: int, when: str = "") -> int:
    """Say (and show in the report) where an interrupted run stopped and how to resume it."""
    from twolayer.report import write_report

    resume = f"twolayer train --resume {run_dir}"
    stopped = f"interrupted after epoch {solver.epoch} of {epochs}{when}"
    write_report(
        run_dir, history=history_from_solver(solver),
        status=f"{stopped.capitalize()}; resume with {resume}",
    )  # fmt: skip
    print(f"{stopped}; resume with: {resume}")
    return 130


def say_data(config: RunConfig, data: dict[str, Any], say: Callable[[str], None]) -> None:
    """One line on what was loaded (and how many unreadable images were left out)."""
    counts = " / ".join(
        f"{len(data[f'y_{split}'])} {split}" for split in ("train", "val", "test")
        if f"y_{split}" in data
    )  # fmt: skip
    name = "CIFAR-10" if config.dataset == "cifar10" else config.data
    what = "images" if is_images(data) else "rows"
    say(f"{name}: {counts} {what}, {len(data['class_names'])} classes")
    if data.get("skipped"):
        skipped = data["skipped"]
        say(f"skipped {len(skipped)} unreadable images (the first: {skipped[0]})")
