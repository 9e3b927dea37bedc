"""Train a two-layer net on the 2-D spiral of the CS231n notes and save the run.

Writes a run directory (runs/spiral-<time>, or --out) with config.json,
history.json, history.csv, model.npz, loss.png, accuracy.png, lr.png and
decision_boundary.png. The model kept is the epoch with the best validation
accuracy, as the Solver does.

examples:
  python scripts/train_spiral.py
  python scripts/train_spiral.py --classes 5 --hidden 200 --epochs 100 --show
  python scripts/train_spiral.py --optimizer sgd_momentum --lr 0.1 --schedule step --epochs 100
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from twolayer import TwoLayerNet
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
    epoch_table,
    history_from_solver,
    new_run_dir,
    save_config,
    save_history,
)
from twolayer.datasets import spiral_splits
from twolayer.optim import UPDATE_RULES
from twolayer.plots import plot_decision_boundary, save_run_plots, show_pngs
from twolayer.solver import SOLVER_DEFAULTS, Solver

MAX_EPOCH_LINES = 10  # per-epoch lines printed, spread evenly over the run


def build_parser() -> ArgumentParser:
    parser = make_parser(__doc__)
    model = parser.add_argument_group("model")
    model.add_argument("--hidden", type=positive_int, default=100, help="hidden units")
    model.add_argument("--reg", type=nonnegative_float, default=1e-5, help="L2 strength")
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=positive_int, default=50, help="passes over the data")
    train.add_argument("--lr", type=positive_float, default=0.05, help="initial learning rate")
    train.add_argument(
        "--optimizer", choices=sorted(UPDATE_RULES), default="adam", help="update rule"
    )
    train.add_argument(
        "--schedule",
        choices=("cosine", "step"),
        default="cosine",
        help="learning-rate schedule (step keeps the rate constant here: no decay)",
    )
    train.add_argument("--batch-size", type=positive_int, default=16, help="minibatch size")
    data = parser.add_argument_group("data")
    data.add_argument("--num-per-class", type=positive_int, default=100, help="points per arm")
    data.add_argument("--classes", type=positive_int, default=3, help="spiral arms (classes)")
    data.add_argument("--noise", type=nonnegative_float, default=0.2, help="angle noise (rad)")
    data.add_argument(
        "--val-fraction", type=positive_float, default=0.2, help="share held out for validation"
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seeds the data, weights and batches"
    )
    out.add_argument("--out", help="run directory (default: runs/spiral-<date>-<time>)")
    out.add_argument("--show", action="store_true", help="open the plots in windows at the end")
    out.add_argument(
        "--quiet", action="store_true", help="print only where the run went and the accuracies"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    say = (lambda *a: None) if args.quiet else print

    data = spiral_splits(
        num_per_class=args.num_per_class,
        num_classes=args.classes,
        noise=args.noise,
        val_fraction=args.val_fraction,
        seed=args.seed,
    )
    model = TwoLayerNet(
        input_dim=2,
        hidden_dim=args.hidden,
        num_classes=args.classes,
        weight_scale="he",
        reg=args.reg,
        seed=args.seed,
    )
    solver_settings = {
        **SOLVER_DEFAULTS,
        "update_rule": args.optimizer,
        "optim_config": {"learning_rate": args.lr},
        "lr_schedule": args.schedule,
        "batch_size": args.batch_size,
        "num_epochs": args.epochs,
        "num_train_samples": None,  # the spiral is tiny: measure on all of it
        "seed": args.seed,
        "verbose": False,  # the epochs take milliseconds; a digest is printed afterwards
    }
    solver = Solver(model, data, **solver_settings)
    run_dir = new_run_dir("spiral", args.out)
    config = {
        **{k: v for k, v in vars(args).items() if k not in ("out", "show", "quiet")},
        "num_train": len(data["y_train"]),
        "num_val": len(data["y_val"]),
        "model": model.config(),
        "solver": solver_settings,
    }
    save_config(run_dir, config)  # before training, so even a failed run says what it was

    say(
        f"spiral: {config['num_train']} train / {config['num_val']} val points, "
        f"{args.classes} classes; hidden {args.hidden}, {args.optimizer} lr {args.lr:g} "
        f"({args.schedule}), reg {args.reg:g}, batch {args.batch_size}, "
        f"{args.epochs} epochs, seed {args.seed}"
    )
    start = time.perf_counter()
    solver.train()
    elapsed = time.perf_counter() - start
    history = history_from_solver(solver)
    print_epochs(history, args.epochs, say)
    say(f"trained in {elapsed:.2f} s")
    if solver.best_epoch:
        say(f"kept the weights of epoch {solver.best_epoch}, the best on validation")

    save_history(run_dir, solver)
    model.save(run_dir / "model.npz")
    pngs = save_run_plots(run_dir, history)
    X_all = np.concatenate([data["X_train"], data["X_val"]])
    y_all = np.concatenate([data["y_train"], data["y_val"]])
    pngs.append(plot_decision_boundary(model, X_all, y_all, run_dir / "decision_boundary.png"))

    print(f"run saved in {run_dir}/")
    print("  config.json history.json history.csv model.npz " + " ".join(p.name for p in pngs))
    for split in ("train", "val"):
        acc = np.mean(model.predict(data[f"X_{split}"]) == data[f"y_{split}"])
        print(f"{split} accuracy: {acc:.4f}")
    if args.show:
        show_pngs(pngs)
    return 130 if solver.interrupted else 0


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


if __name__ == "__main__":
    sys.exit(run_main(main))
