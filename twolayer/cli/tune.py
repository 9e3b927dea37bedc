"""Search hyperparameters of the two-layer net: many short seeded trials, in parallel.

Ranges are "low:high" (log-uniform; a grid takes --grid-points steps of it) or
"a,b,c" (choices), on the command line or in a --space file (JSON or TOML:
{"lr": "1e-4:1e-2", "hidden": [64, 128]}); flags override the file.
Results are appended to SEARCH_DIR/trials.csv as each trial finishes: rerun the
same command to resume an interrupted search (or, for a random search, to add
trials with a larger --trials). At the end it prints the best trials and writes
best_config.json (the best trial's run: `twolayer train --config` reruns it on
the search's data; with --threads 1, as trials run, to the same bits),
best_command.txt (the same run as a `twolayer train` command), lr_reg.png and
top_trials.png.

DATA is what `twolayer train` takes: spiral, cifar10, or the PATH of a folder of
images, a .csv or an .npz. Every trial trains on the same split (held out with the
search's --seed). CIFAR-10 trials prepare the images as `twolayer train cifar10` does,
on the first --num-train of them; CIFAR-10 and image folders are searched mean-
subtracted unless --preprocess zca (whitening, the train command's default, costs each
worker an eigendecomposition up front and usually wants a different learning rate:
tune with the one you train with); tables are standardized.

examples:
  twolayer tune spiral --trials 20 --out searches/spiral
  twolayer tune iris.csv --label-column species --trials 20 --out searches/iris
  twolayer tune photos/ --image-size 32 --trials 12 --epochs 5 --out searches/photos
  twolayer tune cifar10 --data-dir data --trials 12 --num-train 5000 \\
      --lr 1e-4:1e-2 --reg 1e-5:1e-1 --hidden 100,200 --epochs 5 --out searches/cifar
  twolayer tune cifar10 --scheduler tcp://10.0.0.5:8786 ...   # on Dask
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twolayer._io import read_json
from twolayer._memory import check_fits, training_bytes
from twolayer.cli.args import add_command, nonnegative_int, positive_int
from twolayer.cli.flags import number, whole
from twolayer.config import num_classes
from twolayer.fast.threads import available_cores
from twolayer.rundata import load_data, source_config
from twolayer.runs import check_history
from twolayer.search.space import (
    DATA_DEFAULTS,
    DEFAULT_SPACES,
    PARAMS,
    base_config,
    build_space,
    grid_axes,
    load_space_file,
    make_dimension,
    make_spec,
    trial_maker,
)
from twolayer.search.trials import BEST_COMMAND, BEST_CONFIG, TRIALS_DIR, format_table, run_search
from twolayer.search.trials import write_best as write_best_trial

LR_REG_PNG, TOP_TRIALS_PNG = "lr_reg.png", "top_trials.png"
TOP_CURVES = 5  # trials drawn in top_trials.png
#: The data settings a search takes as flags (each for the datasets of DATA_DEFAULTS
#: that have it).
DATA_FLAGS: dict[str, tuple[Callable[[str], Any], str]] = {
    "num_train": (whole, "cifar10: training images"),
    "num_val": (whole, "cifar10: validation images"),
    "preprocess": (str, "mean, zca (cifar10, images, npz of images) or standardize (tables)"),
    "zca_epsilon": (number, "ZCA damping"),
    "image_size": (whole, "images: side S of the centre square, resized"),
    "label_column": (str, "csv: the column holding the labels"),
    "val_fraction": (number, "share held out for validation"),
}
#: More trials than this is likely a mistake (a grid of many settings): --yes runs it.
CONFIRM_TRIALS = 10_000
#: Input size and classes of each dataset's examples, for the memory check.
SHAPES = {"spiral": lambda data: (2, data["classes"]), "cifar10": lambda data: (3 * 32 * 32, 10)}
BUILT_IN = ("spiral", "cifar10")


def _dimension_type(name: str) -> Callable[[str], dict]:
    def parse(text: str) -> dict:
        try:
            return make_dimension(name, text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix(f"{name}: ")) from None

    return parse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "tune", run_tune, "search hyperparameters with many short trials", __doc__
    )
    search = parser.add_argument_group("search")
    parser.add_argument(
        "dataset",
        nargs="?",
        default="spiral",
        metavar="DATA",
        help="what to learn, as for `twolayer train`: spiral, cifar10, or the PATH of a folder "
        "of images, a .csv or an .npz",
    )
    search.add_argument(
        "--out", required=True, metavar="SEARCH_DIR", help="search directory (rerun to resume)"
    )
    search.add_argument("--search", choices=("random", "grid"), default="random")
    search.add_argument(
        "--trials", type=positive_int, help="random trials (default 20); a grid runs all points"
    )
    search.add_argument(
        "--grid-points", type=positive_int, default=3, help="grid steps along each log range"
    )
    search.add_argument("--seed", type=nonnegative_int, default=0, help="seeds every trial")
    search.add_argument("--top", type=positive_int, default=10, help="trials in the final table")
    search.add_argument(
        "--yes",
        action="store_true",
        help=f"run a search of more than {CONFIRM_TRIALS:,} trials (refused without it)",
    )

    space = parser.add_argument_group("search space (default: a per-dataset space)")
    space.add_argument("--space", help="JSON or TOML file of ranges; the flags below override it")
    for name in PARAMS:
        space.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=_dimension_type(name),
            metavar="LOW:HIGH|A,B" if PARAMS[name] else "A,B",
            help=f"spiral: {_show(DEFAULT_SPACES['spiral'][name])}; "
            f"cifar10, images: {_show(DEFAULT_SPACES['cifar10'][name])}; "
            f"csv, npz: {_show(DEFAULT_SPACES['csv'][name])}",
        )

    where = parser.add_argument_group("where trials run")
    where.add_argument("--workers", type=positive_int, help="local processes (default: the cores)")
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler, e.g. tcp://host:8786: run on its cluster "
        '(pip install "twolayer[dask]")',
    )

    data = parser.add_argument_group("data (default: the dataset's search settings)")
    data.add_argument("--data-dir", default="data", help="cifar10: folder with cifar-10-batches-py")
    for name, (convert, text) in DATA_FLAGS.items():
        data.add_argument(f"--{name.replace('_', '-')}", dest=name, type=convert, help=text)
    data.add_argument(
        "--grayscale",
        action=argparse.BooleanOptionalAction,
        help="images: decode to one gray channel instead of RGB",
    )


def _show(dim: dict) -> str:
    return ":".join(map(str, dim["log"])) if "log" in dim else ",".join(map(str, dim["choices"]))


def run_tune(args: argparse.Namespace) -> int:
    if args.scheduler is not None and args.workers is not None:
        raise ValueError("--workers sizes the local pool; a --scheduler's cluster has its own")
    if args.search == "grid" and args.trials is not None:
        raise ValueError("--trials is for random search; a grid runs all of its points")
    dataset, data = data_source(args)
    file_space = load_space_file(args.space) if args.space else {}
    flag_space = {name: getattr(args, name) for name in PARAMS if getattr(args, name) is not None}
    spec = make_spec(
        dataset,
        build_space(dataset, file_space, flag_space),
        search=args.search,
        trials=(args.trials or 20) if args.search == "random" else None,
        grid_points=args.grid_points,
        seed=args.seed,
        data=data,
    )
    check_size(spec, args.yes)
    if args.scheduler is None:  # a cluster's memory is its own
        check_trial_memory(spec, args.workers or available_cores(), args.data_dir)
    rows = run_search(
        spec, args.out, data_dir=args.data_dir, workers=args.workers, scheduler=args.scheduler
    )

    out = Path(args.out)
    print(format_table(rows, args.top))
    found = write_best_trial(out, spec, rows, args.data_dir)
    plots = save_search_plots(out, rows)
    from twolayer.report import write_search_report  # loads matplotlib: only when needed

    plots.append(write_search_report(out).name)
    written = ["trials.csv", "search.json", f"{TRIALS_DIR}/"]
    written += [BEST_CONFIG, BEST_COMMAND] if found else []
    print(f"search saved in {out}/: " + " ".join(written + plots))
    if found is None:
        raise ValueError(
            f"none of the {len(rows)} trials trained without diverging or failing; "
            f"see the error column of {out / 'trials.csv'}"
        )
    best, command = found
    print(f"best: trial {best['index']}, val_acc {best['val_acc']:.4f}; to train it:")
    print(f"  twolayer train --config {out / BEST_CONFIG}")
    print(f"  {command}")
    return 0


def data_source(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The dataset DATA names and the data settings given as flags (a path as ``data``)."""
    names = [*DATA_FLAGS, "grayscale"]
    data = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    dataset = args.dataset
    if dataset not in BUILT_IN:
        config = source_config(dataset)  # a ValueError names a missing path
        dataset, data["data"] = config.dataset, config.data
    unknown = sorted(set(data) - set(DATA_DEFAULTS[dataset]))
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        takers = [d for d, keys in DATA_DEFAULTS.items() if set(unknown) <= set(keys)]
        raise ValueError(f"{flags}: not for {dataset} data (for {', '.join(takers) or 'none'})")
    return dataset, data


def check_size(spec: dict, confirmed: bool) -> None:
    """Refuse a search of more than CONFIRM_TRIALS trials unless ``confirmed`` (--yes)."""
    n, _ = trial_maker(spec)
    if n <= CONFIRM_TRIALS or confirmed:
        return
    if spec["search"] == "grid":
        sizes = " x ".join(str(len(axis)) for axis in grid_axes(spec) if len(axis) > 1)
        what = f"the grid has {n:,} points ({sizes}); use fewer --grid-points or choices"
    else:
        what = f"--trials {n:,} is a lot"
    raise ValueError(f"{what}, or pass --yes to run all {n:,} trials")


def check_trial_memory(spec: dict, workers: int, data_dir: str = "data") -> None:
    """Refuse a space whose largest net, in each of ``workers`` processes, would not fit.

    The user's data is loaded here first, as a trial will (a bad file fails now, in
    one line), for its input size and classes."""

    def largest(name: str) -> Any:
        dim = spec["space"][name]
        return dim["log"][1] if "log" in dim else max(dim["choices"])

    if spec["dataset"] in SHAPES:
        input_dim, classes = SHAPES[spec["dataset"]](spec["data"])
    else:
        data = load_data(base_config(spec, data_dir), test=False)[0]
        input_dim, classes = math.prod(data["X_train"].shape[1:]), num_classes(data)
    needed = training_bytes(input_dim, largest("hidden"), classes, largest("batch_size"))
    check_fits(
        needed,
        f"a trial with hidden {largest('hidden')}",
        share=min(workers, trial_maker(spec)[0]),
        hint="lower the largest --hidden, or use fewer --workers",
    )


def save_search_plots(out: Path, rows: list[dict]) -> list[str]:
    """Write lr_reg.png and top_trials.png; returns the names written."""
    # matplotlib loads slowly: only where figures are drawn.
    from twolayer.plots import compare_runs, plot_lr_reg

    ok = sorted((r for r in rows if r["status"] == "ok"), key=lambda r: (-r["val_acc"], r["index"]))
    names = []
    if rows:
        plot_lr_reg(rows, out / LR_REG_PNG)
        names.append(LR_REG_PNG)
    histories = {}
    for row in ok[:TOP_CURVES]:
        path = out / TRIALS_DIR / f"{row['index']}.json"
        if path.is_file():
            try:
                history = check_history(read_json(path, "trial history"), path)
            except ValueError as e:  # a damaged file costs its curve, not the search
                print(f"warning: left out of {TOP_TRIALS_PNG}: {e}", file=sys.stderr)
                continue
            histories[f"#{row['index']} val {row['val_acc']:.3f}"] = history
    if histories:
        compare_runs(histories, out / TOP_TRIALS_PNG)
        names.append(TOP_TRIALS_PNG)
    return names
