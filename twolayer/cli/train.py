"""Train a two-layer net on the spiral, CIFAR-10 or your own data, and save the run.

Writes a run directory (runs/<dataset>-<date>-<time>, or --out) with config.json
(the run's settings: --config reruns it exactly), history.json/csv and report.html
(both rewritten as it trains), model.npz, final_state.npz, results.json,
status.json, loss.png, accuracy.png and lr.png; the spiral adds
decision_boundary.png, images weights.png. But for the spiral's, model.npz holds
the preprocessing and the class names, ready for `twolayer predict`. While a run
trains it keeps its preprocessing in preprocess.npz and, for images, the newest
epoch's checkpoint; once it has finished both go, and final_state.npz (the update
rule's state, with model.npz all that training further needs) stays, unless
--keep-checkpoint keeps the last epoch's whole checkpoint instead.
The model kept is the epoch with the best validation accuracy. The last line
printed is "val accuracy: 0.xxxx" (the spiral, data without a test set) or "test
accuracy: 0.xxxx"; but for the spiral it follows the same without test-time
augmentation (--tta), and the line before those says how many views it averages.

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
  cifar10 best     hidden 2048, reg 1e-4, 60 epochs, otherwise the same recipe;
                   test-time augmentation over 50 views (shifts of up to 2 px)
                   (10 to 13 min on 2 cores)
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
directory and after the run directory moved, continuing from the newest checkpoint
(a finished run, trained further with --epochs: from its final state).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twolayer.classifier import Classifier
from twolayer.cli.args import add_command, positive_int
from twolayer.cli.flags import add_config_flags, config_changes
from twolayer.cli.results import finish_classifier, finish_spiral, print_epochs
from twolayer.config import DATASETS, PRESETS, RunConfig
from twolayer.fast.threads import limit_threads
from twolayer.history import history_from_solver
from twolayer.resume import finishing
from twolayer.rundata import source_config
from twolayer.runs import (
    CONFIG_FILE,
    check_run_dir,
    claim_run_dir,
    load_run_config,
    resume_run_dir,
)
from twolayer.solver import Solver
from twolayer.training import (
    RESUMABLE,
    check_memory,
    finish_run,
    is_images,
    load_run_data,
    start_run,
    train_run,
)


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
    run.add_argument(
        "--keep-checkpoint",
        action="store_true",
        help="keep the last epoch's whole checkpoint (checkpoint_epoch_<k>.npz) when the run "
        "has finished, instead of only the compact final state that --resume --epochs "
        "trains on from",
    )
    run.add_argument("--show", action="store_true", help="open the plots in windows at the end")
    run.add_argument(
        "--quiet", action="store_true", help="print only where the run went and the accuracies"
    )


def resolve(args: argparse.Namespace) -> tuple[RunConfig, Path | None]:
    """The run's settings (flags over a preset, a saved config or the resumed run's),
    and the directory of the run to resume, if any."""
    changes = config_changes(args)
    dataset, source = args.dataset, None
    if dataset is not None:
        source = source_config(dataset, args.preset or "default")
        dataset = source.dataset
        if source.data is not None:
            changes["data"] = source.data  # absolute: the run can be rerun from anywhere
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
    elif source is None:  # no DATA given
        raise ValueError(
            "say what to train: twolayer train {spiral,cifar10,PATH}, or --config/--resume"
        )
    else:
        base = source
    if dataset is not None and dataset != base.dataset:
        saved = args.config or args.resume
        raise ValueError(f"{saved} is a {base.dataset} run, not {dataset}: leave that out")
    config = base.replace(**changes)
    if config.data_dir is not None:  # so that a resume from anywhere finds the data
        config = config.replace(data_dir=os.path.abspath(config.data_dir))
    return config, resume_dir


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
        data, prep = load_run_data(
            config,
            run_dir if resuming else None,
            # A resumed run's data was there when it started: if it is gone, the user says
            # where it is now (--data-dir), rather than a download filling the old place.
            download=not args.no_download and (not resuming or "data_dir" in vars(args)),
            skip_md5=args.skip_md5,
            progress=not args.quiet,
            cache=not args.no_cache,
        )
    except FileNotFoundError as e:
        if not resuming or config.dataset == "spiral":
            raise
        where = "--data-dir" if config.data_dir is not None else "DATA (its path)"
        raise FileNotFoundError(f"{e}; if the data moved, pass {where} with its place") from e
    if config.dataset != "spiral":
        say_data(config, data, say)
        say(f"preprocessed ({config.preprocess}) in {time.perf_counter() - start:.1f} s")
    check_memory(config, data)
    clf = Classifier.from_config(config)
    solver = start_run(
        clf, run_dir, config, data, prep, resuming=resuming, quiet=args.quiet,
        decode_cache=not args.no_cache, say=say,
    )  # fmt: skip
    if config.dataset == "spiral":
        say(
            f"spiral: {len(data['y_train'])} train / {len(data['y_val'])} val points, "
            f"{config.classes} classes; hidden {config.hidden}, {config.optimizer} lr "
            f"{config.lr:g} ({config.lr_schedule}), reg {config.reg:g}, batch "
            f"{config.batch_size}, {config.epochs} epochs, seed {config.seed}"
        )

    train_start = time.perf_counter()
    train_run(run_dir, solver)
    if solver.interrupted:
        return say_stopped(run_dir, solver, config.epochs)
    clf.end_fit(solver)
    model = clf.model_

    def finish() -> None:  # once model.npz and every other file is written
        finish_run(run_dir, solver, keep_checkpoint=args.keep_checkpoint)

    try:
        with finishing(run_dir, solver, config.epochs):
            if config.dataset == "spiral":
                seconds = time.perf_counter() - train_start
                pngs = finish_spiral(run_dir, config, data, model, solver, seconds, say, finish)
            else:
                assert prep is not None  # every dataset but the spiral is preprocessed
                if not is_images(data):
                    print_epochs(clf.history_, config.epochs, say)
                pngs = finish_classifier(run_dir, config, data, prep, model, solver, start, finish)
    except KeyboardInterrupt:
        return say_stopped(run_dir, solver, config.epochs, ", while finishing")
    if args.show:
        from twolayer.plots import show_pngs  # matplotlib loads slowly: only when needed

        show_pngs(pngs)
    return 0


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
