"""Train a two-layer net on the spiral or CIFAR-10 and save the run.

Writes a run directory (runs/<dataset>-<date>-<time>, or --out) with config.json
(the run's settings: --config reruns it exactly), history.json/csv, model.npz,
loss.png, accuracy.png and lr.png; the spiral adds decision_boundary.png, CIFAR-10
preprocess.npz, the newest checkpoint, weights.png and confusion.png, and its
model.npz holds the preprocessing, ready for `twolayer predict`. The model kept is
the epoch with the best validation accuracy. The last line printed is
"val accuracy: 0.xxxx" (spiral) or "test accuracy: 0.xxxx" (CIFAR-10, with
test-time augmentation, --tta; the plain accuracy is printed above it).

CIFAR-10 is read from --data-dir (downloaded unless --no-download); the
preprocessing (ZCA whitening by default) is fitted on the training split.

presets (flags given on the command line override them; each flag shows its values):
  spiral default   hidden 100, adam lr 0.05 cosine, 50 epochs, batch 16
  cifar10 default  hidden 512, adam lr 1e-3 cosine, reg 5e-4, label smoothing 0.1,
                   ZCA eps 0.1, flip + 2 px translations, 10 epochs, batch 200;
                   test-time augmentation averages the image, its mirror and 1 px shifts
  cifar10 best     hidden 2048, the same recipe for 60 epochs (about 10 min on 2 cores)
  cifar10 quick    hidden 256, 3 epochs, mean subtraction only: a smoke test

examples:
  twolayer train spiral
  twolayer train spiral --classes 5 --hidden 200 --epochs 100 --show
  twolayer train cifar10 --preset best
  twolayer train cifar10 --hidden 1024 --epochs 20 --augment flip+translate3
  twolayer train --config runs/cifar10-20261125-160000/config.json --epochs 20
  twolayer train --resume runs/cifar10-20261125-160000
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from twolayer._io import atomic_savez, open_npz
from twolayer.cli.args import add_command, positive_int
from twolayer.cli.data import load_data
from twolayer.cli.flags import add_config_flags, config_changes
from twolayer.cli.results import finish_cifar10, finish_spiral
from twolayer.cli.runs import (
    CHECKPOINT,
    CONFIG_FILE,
    check_run_dir,
    latest_checkpoint,
    load_run_config,
    new_run_dir,
    save_history,
    save_run_config,
)
from twolayer.config import DATASETS, PRESETS, RunConfig, build, preset
from twolayer.fast.threads import limit_threads
from twolayer.preprocess import Preprocessor

PREP_FILE = "preprocess.npz"
#: Settings that may change when a run is resumed: where the data is, not what it is.
RESUMABLE = ("data_dir",)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "train", run_train, "train a net on the spiral or CIFAR-10", __doc__
    )
    p.add_argument(
        "dataset",
        nargs="?",
        choices=DATASETS,
        help="what to learn (may be left out with --config or --resume)",
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
    start.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted CIFAR-10 run")
    add_config_flags(p)
    run = p.add_argument_group("run")
    run.add_argument("--out", help="run directory (default: runs/<dataset>-<date>-<time>)")
    run.add_argument(
        "--threads", type=positive_int, help="BLAS and update-rule threads (default: all cores)"
    )
    run.add_argument(
        "--no-download", action="store_true", help="CIFAR-10: fail instead of downloading"
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
    resume_dir = None
    if args.resume and (args.config or args.preset):
        raise ValueError("--resume continues a run with its own settings: drop --config/--preset")
    if args.config and args.preset:
        raise ValueError("--config holds every setting: drop --preset")
    if args.resume:
        fixed = sorted(set(changes) - set(RESUMABLE))
        if fixed:
            flags = ", ".join("--" + k.replace("_", "-") for k in fixed)
            raise ValueError(f"--resume continues the run as it was started: drop {flags}")
        resume_dir = check_run_dir(args.resume)
        base = load_run_config(resume_dir / CONFIG_FILE)
    elif args.config:
        base = load_run_config(args.config)
    elif args.dataset is None:
        raise ValueError(
            f"say what to train: twolayer train {{{','.join(DATASETS)}}}, or --config/--resume"
        )
    else:
        base = preset(args.dataset, args.preset or "default")
    if args.dataset is not None and args.dataset != base.dataset:
        source = args.config or args.resume
        raise ValueError(f"{source} is a {base.dataset} run, not {args.dataset}: leave that out")
    return base.replace(**changes), resume_dir


def load_run_data(
    config: RunConfig, args: argparse.Namespace, resume_dir: Path | None
) -> tuple[dict[str, Any], Preprocessor | None]:
    """The run's data; a resumed CIFAR-10 run keeps the preprocessing it was fitted with."""
    prep = None
    if resume_dir is not None and config.dataset == "cifar10":
        with open_npz(resume_dir / PREP_FILE, "preprocessing file") as f:
            prep = Preprocessor.from_state(dict(f))
    return load_data(
        config,
        prep=prep,
        download=not args.no_download,
        skip_md5=args.skip_md5,
        progress=not args.quiet,
    )


def solver_extras(config: RunConfig, run_dir: Path, quiet: bool) -> dict[str, Any]:
    """How the Solver reports and checkpoints: CIFAR-10 epochs take seconds, so it shows
    progress and keeps the newest checkpoint; the spiral's take milliseconds, so it is
    silent (a digest is printed afterwards) and writes none."""
    if config.dataset == "spiral":
        return {"verbose": False}
    return {
        "checkpoint_name": os.fspath(run_dir / CHECKPOINT),
        "keep_checkpoints": 1,
        "print_every": 20,
        "verbose": not quiet,
    }


def run_train(args: argparse.Namespace) -> int:
    config, resume_dir = resolve(args)
    if args.threads is not None:
        limit_threads(args.threads)
    say = (lambda *a, **k: None) if args.quiet else print
    start = time.perf_counter()

    data, prep = load_run_data(config, args, resume_dir)
    if config.dataset == "cifar10":
        n = {split: len(data[f"y_{split}"]) for split in ("train", "val", "test")}
        say(f"CIFAR-10: {n['train']} train / {n['val']} val / {n['test']} test images")
        say(f"preprocessed ({config.preprocess}) in {time.perf_counter() - start:.1f} s")
    run_dir = resume_dir or new_run_dir(config.dataset, args.out)
    checkpoint = None
    if resume_dir is not None:
        checkpoint = latest_checkpoint(resume_dir)
        say(f"resuming from {checkpoint}")
    model, solver = build(
        config, data, checkpoint=checkpoint, **solver_extras(config, run_dir, args.quiet)
    )
    if resume_dir is None:  # before training: even a failed run says what it was
        if prep is not None:
            atomic_savez(run_dir / PREP_FILE, prep.state())
        examples = {split: len(data[f"y_{split}"]) for split in ("train", "val")}
        save_run_config(run_dir, config, model=model.config(), examples=examples)
    if config.dataset == "spiral":
        say(
            f"spiral: {len(data['y_train'])} train / {len(data['y_val'])} val points, "
            f"{config.classes} classes; hidden {config.hidden}, {config.optimizer} lr "
            f"{config.lr:g} ({config.lr_schedule}), reg {config.reg:g}, batch "
            f"{config.batch_size}, {config.epochs} epochs, seed {config.seed}"
        )

    train_start = time.perf_counter()
    solver.train()
    save_history(run_dir, solver)
    if config.dataset == "spiral":
        seconds = time.perf_counter() - train_start
        pngs = finish_spiral(run_dir, config, data, model, solver, seconds, say)
    elif solver.interrupted:
        print(f"interrupted; resume with: twolayer train --resume {run_dir}")
        return 130
    else:
        (run_dir / f"{CHECKPOINT}_interrupted.npz").unlink(missing_ok=True)
        pngs = finish_cifar10(run_dir, config, data, prep, model, solver, start)
    if args.show:
        from twolayer.plots import show_pngs  # matplotlib loads slowly: only when needed

        show_pngs(pngs)
    return 130 if solver.interrupted else 0
