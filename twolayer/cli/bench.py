"""Time a training step of our Solver against its limits and against PyTorch and JAX.

For each configuration (hidden size, batch size, dtype, update rule), in one process:
  ours scripts  Solver.step() on a TwoLayerNet: batch gather + forward + backward + update,
                --reg as the update rule's weight_decay (the model's reg 0), as the
                scripts and `twolayer train` ask for it
  ours notebook the same with --reg as the model's reg and the default Solver, as
                CS231n's notebook code asks for it (the Solver passes that L2 term to
                the compiled rule as weight decay: the same weights, bit for bit)
  matmul bound  the five matrix products of that step alone (X.W1, h.W2, dscores.W2^T,
                h^T.dscores, X^T.dh) on one fixed batch into preallocated outputs
  true limit    the matmul bound plus the update's memory traffic (each of w, dw and the
                rule's state read once, w and the state written once) at the bandwidth a
                compiled streaming kernel reaches on arrays of that size in this run
  jax           the same net, loss and rule (written out) with the whole step, gather
                included, under jax.jit (only if JAX is installed: the bench extra)
  torch         nn.Linear-ReLU-nn.Linear, F.cross_entropy and the matching torch.optim
                optimizer, same batch size and thread count (only if PyTorch is installed:
                pip install -e ".[bench]"), with the optimizer's default implementation
  torch fused   the same with the optimizer's fused=True implementation, PyTorch's
                fastest on the CPU (foreach=True for optimizers without one)
  torch bound   PyTorch's five matrix products of a step alone, in its own layout
and model.predict on --num-eval images (and torch inference) in images/s. Each ratio is
printed: ours to each peer, the fraction of the true limit, notebook to scripts.

Each timed repeat runs one epoch's worth of steps (ceil(num_train / batch_size)) after
--warmup untimed steps; repeats are interleaved (ours scripts, ours notebook, bound, torch,
predict, ours scripts, ...) and medians are reported, because a shared machine's load
drifts; every ratio is the median over the rounds of the ratio within each round. Data
is random float32 images (N, 3, 32, 32), or real CIFAR-10 with --data-dir.
Times: ms/step, and s/epoch = ms/step x steps per epoch.

Output: a table per configuration, then, as the LAST line of stdout, one line
"BENCH_JSON {...}" holding every number (null for a peer that is missing), e.g.
  twolayer bench | grep '^BENCH_JSON ' | cut -d' ' -f2- | python -m json.tool
The peak RSS reported is the maximum over the whole benchmark process (data, PyTorch
and every configuration), not that of a training run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from twolayer.bench import limit
from twolayer.bench import timing as bench
from twolayer.bench.jax_peer import JaxTrainer, load_jax
from twolayer.bench.report import format_result, format_system
from twolayer.cli.args import (
    add_command,
    nonnegative_float,
    nonnegative_int,
    positive_int,
)
from twolayer.datasets import get_cifar10_data
from twolayer.fast import jit, set_num_threads
from twolayer.fast.threads import available_cores, blas_threads
from twolayer.optim import UPDATE_RULES

CIFAR_DIM = 3 * 32 * 32
DTYPES = ("float32", "float64")
EPILOG = """\
OpenBLAS: the benchmark sets OPENBLAS_THREAD_TIMEOUT=4 unless it is set (idle OpenBLAS
threads then sleep at once instead of spinning on the core the update rule needs; the
twolayer command does the same), and reports, but never changes, OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE and the OpenBLAS kernel in use. Where those two are set they can slow
NumPy down; to measure without them, unset both for the run:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE twolayer bench

examples:
  twolayer bench                       # H=512, batch 200, float32, adam
  twolayer bench --all                 # also sgd_momentum and float64
  twolayer bench --data-dir data --threads 1
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "bench",
        run_bench,
        "time a training step against its limits, PyTorch and JAX",
        __doc__,
    )
    parser.epilog = EPILOG
    model = parser.add_argument_group("configuration")
    model.add_argument("--hidden", type=positive_int, default=512, help="hidden units H")
    model.add_argument("--batch-size", type=positive_int, default=200, help="minibatch size")
    model.add_argument("--dtype", choices=DTYPES, default="float32", help="compute dtype")
    model.add_argument(
        "--rule", choices=sorted(UPDATE_RULES), default="adam", help="update rule (optimizer)"
    )
    model.add_argument(
        "--reg",
        type=nonnegative_float,
        default=5e-4,
        help="L2 strength: weight decay (ours scripts, torch) or the model's reg (ours notebook)",
    )
    model.add_argument(
        "--all",
        action="store_true",
        help="also run sgd_momentum and float64: every pairing of {--rule, sgd_momentum} "
        "with {--dtype, float64}",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--num-train", type=positive_int, default=49_000, help="training images (one epoch)"
    )
    data.add_argument(
        "--num-eval", type=positive_int, default=10_000, help="images for prediction throughput"
    )
    data.add_argument(
        "--input-dim",
        type=positive_int,
        default=CIFAR_DIM,
        help="features per random image; 3072 gives (N, 3, 32, 32), others flat (N, D) "
        "(small values make quick test runs)",
    )
    data.add_argument(
        "--data-dir",
        help="time on real CIFAR-10 from this folder (get_cifar10_data, no download) "
        "instead of random images",
    )
    timing = parser.add_argument_group("timing")
    timing.add_argument(
        "--repeats", type=positive_int, default=3, help="interleaved timed epochs per task"
    )
    timing.add_argument(
        "--warmup",
        type=nonnegative_int,
        default=5,
        help="untimed steps before each timed training epoch (and, if > 0, one untimed "
        "prediction pass before each timed one)",
    )
    timing.add_argument(
        "--threads",
        type=positive_int,
        default=available_cores(),
        help="threads for NumPy's BLAS (via threadpoolctl), the compiled kernels and "
        "torch.set_num_threads; "
        "the default is every core this process may use",
    )
    timing.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar on stderr",
    )


def load_data(args: Any) -> dict[str, np.ndarray]:
    """Training images and labels, plus the prediction set as ``X_val``/``y_val``."""
    if args.data_dir is None:
        return bench.random_data(args.num_train, args.num_eval, args.input_dim)
    data = get_cifar10_data(
        args.data_dir, num_training=args.num_train, num_test=args.num_eval, download=False
    )
    return {
        "X_train": data["X_train"],
        "y_train": data["y_train"],
        "X_val": data["X_test"],
        "y_val": data["y_test"],
    }


def run_config(
    data: dict[str, np.ndarray],
    peers: dict[str, Any],
    args: Any,
    dtype: str,
    rule: str,
) -> dict[str, Any]:
    """Time ours, the bounds, the peers (``peers``: torch, jax or None) and prediction."""
    torch, jax = peers["torch"], peers["jax"]
    n = data["X_train"].shape[0]
    steps = math.ceil(n / args.batch_size)
    settings = (args.hidden, args.batch_size, dtype, rule, args.reg)
    solver = bench.make_solver(data, *settings, path="scripts")
    notebook = bench.make_solver(data, *settings, path="notebook")
    X_eval = data["X_val"]
    bound = bench.matmul_bound_step(solver.model, data["X_train"][: args.batch_size])

    def predict_ours() -> np.ndarray:
        return solver.model.predict(X_eval, bench.EVAL_BATCH)

    warm_pass = min(args.warmup, 1)  # a prediction pass is long: one warms it up
    # (name, one step, steps per timed repeat, untimed warmup steps) in round order.
    specs: list[tuple[str, Callable[[], object], int, int]] = [
        ("ours", solver.step, steps, args.warmup),
        ("ours_notebook", notebook.step, steps, args.warmup),
        ("matmul_bound", bound, steps, args.warmup),
    ]
    if jit.available():  # the update's bytes at the bandwidth, by a compiled stream
        specs.append(("update_stream", limit.stream_step(solver.model.params, rule), steps, 1))
    if jax is not None:
        jax_trainer = JaxTrainer(jax, data, *settings, learning_rate=bench.LEARNING_RATE)
        # At least one untimed step: the first one compiles.
        specs.append(("jax", jax_trainer.step, steps, max(1, args.warmup)))
    trainers = {}
    if torch is not None:
        trainers = {
            name: bench.TorchTrainer(torch, data, *settings, implementation=implementation)
            for name, implementation in bench.TORCH_IMPLEMENTATIONS.items()
        }
        specs += [(name, t.step, steps, args.warmup) for name, t in trainers.items()]
        bound_torch = trainers["torch"].matmul_bound_step()
        specs.append(("torch_matmul_bound", bound_torch, steps, args.warmup))
    specs.append(("predict_ours", predict_ours, 1, warm_pass))
    if trainers:
        specs.append(("predict_torch", trainers["torch"].predict, 1, warm_pass))
    tasks = [bench.Task(*spec) for spec in specs]
    with tqdm(
        total=len(tasks) * args.repeats,
        desc=f"{rule} {dtype}",
        leave=False,
        disable=not args.progress,
        file=sys.stderr,
    ) as bar:
        # The bar moves only between timed tasks, never inside a timed loop.
        times = bench.time_interleaved(tasks, args.repeats, lambda name: bar.update())

    def train_stats(name: str) -> dict[str, Any] | None:
        if name not in times:
            return None
        ms = bench.median_ms(times[name])
        return {
            "ms_per_step": ms,
            "s_per_epoch": ms * steps / 1e3,
            "repeats_ms_per_step": [1e3 * t for t in times[name]],
        }

    stats: dict[str, Any] = {
        name: train_stats(name)
        for name in (
            "ours",
            "ours_notebook",
            "matmul_bound",
            "update_stream",
            "jax",
            *bench.TORCH_IMPLEMENTATIONS,
            "torch_matmul_bound",
        )  # fmt: skip
    }
    bound, stream = stats["matmul_bound"], stats["update_stream"]
    moved = limit.update_bytes(solver.model.params, rule)
    true_limit = None if stream is None else bound["ms_per_step"] + stream["ms_per_step"]

    def images_per_s(name: str) -> float | None:
        return X_eval.shape[0] / (bench.median_ms(times[name]) / 1e3) if name in times else None

    def per_round(name: str, *others: str) -> float | None:
        """The median over rounds of ``name``'s time over the others' (summed), each
        round's times taken back to back: steadier than a ratio of medians when the
        load of a shared machine drifts."""
        if not all(n in times for n in (name, *others)):
            return None
        rounds = zip(times[name], *(times[n] for n in others), strict=True)
        return statistics.median(t / sum(rest) for t, *rest in rounds)

    def of_limit(name: str) -> float | None:
        ratio = per_round(name, "matmul_bound", "update_stream")
        return None if ratio is None else 1 / ratio

    to_bound = per_round("ours", "matmul_bound")
    notebook_to_bound = per_round("ours_notebook", "matmul_bound")
    assert to_bound is not None and notebook_to_bound is not None  # both always timed
    return {
        "hidden": args.hidden,
        "batch_size": args.batch_size,
        "dtype": dtype,
        "rule": rule,
        "reg": args.reg,
        "input_dim": solver.model.input_dim,
        "num_classes": solver.model.num_classes,
        "num_train": n,
        "steps_per_epoch": steps,
        **stats,
        "torch_implementations": {n: t.implementation for n, t in trainers.items()} or None,
        "ratio_ours_to_bound": to_bound,
        "fraction_of_bound": 1 / to_bound,
        "fraction_of_bound_notebook": 1 / notebook_to_bound,
        "update_bytes": moved,
        "bandwidth_gb_s": None if stream is None else moved / stream["ms_per_step"] / 1e6,
        "true_limit_ms": true_limit,
        "fraction_of_limit": of_limit("ours"),
        "fraction_of_limit_notebook": of_limit("ours_notebook"),
        "ratio_notebook_to_scripts": per_round("ours_notebook", "ours"),
        "ratio_ours_to_torch": per_round("ours", "torch"),
        "ratio_ours_to_torch_fused": per_round("ours", "torch_fused"),
        "ratio_ours_to_jax": per_round("ours", "jax"),
        "update_note": solver.update_note,
        "predict": {
            "num_images": X_eval.shape[0],
            "batch_size": bench.EVAL_BATCH,
            "ours_images_per_s": images_per_s("predict_ours"),
            "torch_images_per_s": images_per_s("predict_torch"),
        },
    }


def run_bench(args: argparse.Namespace) -> int:
    if args.data_dir is not None and args.input_dim != CIFAR_DIM:
        raise ValueError(f"--input-dim must be {CIFAR_DIM} with --data-dir (CIFAR-10 images)")
    rules = list(dict.fromkeys([args.rule, "sgd_momentum"] if args.all else [args.rule]))
    dtypes = list(dict.fromkeys([args.dtype, "float64"] if args.all else [args.dtype]))
    configs = list(itertools.product(rules, dtypes))

    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    data = load_data(args)
    set_num_threads(args.threads)  # the compiled kernels', as BLAS's below
    if jit.available():
        # numba's first parallel call sets OpenMP's thread count to its own, which
        # PyTorch shares: make that call before PyTorch's count is set.
        limit.stream_step({"w": np.zeros(1, np.float32)}, "sgd")()
    else:
        print("numba is not installed: ours runs plain NumPy and the true limit is skipped")
    torch = bench.load_torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
    peers = {"torch": torch, "jax": load_jax(args.threads)}
    for name, module in peers.items():
        if module is None:
            print(f'{name} is not installed: skipped (pip install -e ".[bench]")')
    results = []
    with blas_threads(args.threads):
        blas = bench.blas_libraries()  # inside the limit, so it shows the threads in use
        for rule, dtype in configs:
            results.append(run_config(data, peers, args, dtype, rule))
            print(format_result(results[-1]) + "\n", flush=True)

    system = {
        "threads": args.threads,
        "blas": blas,
        "openblas_env": bench.openblas_env(),
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "jax": None if peers["jax"] is None else peers["jax"].__version__,
        "numba": importlib.metadata.version("numba") if jit.available() else None,
        "numba_threads": jit.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "data": "random" if args.data_dir is None else f"cifar10:{args.data_dir}",
        "repeats": args.repeats,
        "warmup_steps": args.warmup,
        "peak_rss_mib": bench.peak_rss_mib(),
        "peak_rss_scope": "whole benchmark process (data, libraries, every configuration)",
        "wall_time_s": time.perf_counter() - start,
    }
    print(format_system(system))
    print("BENCH_JSON " + json.dumps({"system": system, "results": results}))
    return 0
