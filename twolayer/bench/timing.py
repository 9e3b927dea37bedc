"""Timing building blocks for ``twolayer bench``: how fast does our Solver train?

Three ways of doing one training step on the same data are timed against each other:

* ``ours``: ``Solver.step()`` on a ``TwoLayerNet`` (batch gather, forward, backward, update),
  with L2 asked for in each of the two ways of :data:`PATHS`, as the scripts do and as a
  notebook does;
* ``matmul_bound``: only the five matrix products that step performs, into preallocated
  outputs on one fixed batch, so no gather, cast, elementwise work or allocation: a floor
  that no NumPy implementation of this network can beat;
* ``torch``: the same network, loss, optimizer and batch size in PyTorch on the CPU, if
  PyTorch is installed (the optional ``bench`` extra), with the optimizer's default
  implementation, and ``torch_fused`` with its fastest one (see
  :data:`TORCH_IMPLEMENTATIONS`); ``torch_matmul_bound`` is PyTorch's own matrix
  products alone, as ``matmul_bound`` is ours. PyTorch is imported only by
  :func:`load_torch`, so importing this module never pulls it in.

Timings are interleaved (every task once per round, ``repeats`` rounds) and the median
is reported, because on a shared machine the load changes during a run.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from twolayer.config import build, preset
from twolayer.model import TwoLayerNet
from twolayer.optim import DEFAULTS
from twolayer.solver import Solver

#: Learning rate of every timed run: timing does not depend on it, and a small one keeps
#: several epochs on random labels far from diverging.
LEARNING_RATE = 1e-4
#: Rows per forward pass when timing prediction: ``TwoLayerNet.predict``'s default.
EVAL_BATCH = 1000
#: Environment variables that select or tune OpenBLAS kernels; some machines set them
#: and they can make current NumPy slower, so the benchmark reports them.
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_THREAD_TIMEOUT")


@dataclass
class Task:
    """Something to time: ``step()`` is one unit of work, timed ``steps`` times per round
    after ``warmup`` untimed calls (which refill caches the other tasks evicted)."""

    name: str
    step: Callable[[], object]
    steps: int
    warmup: int = 0


def time_task(task: Task) -> float:
    """Seconds per ``task.step()``, averaged over ``task.steps`` calls after the warmup."""
    for _ in range(task.warmup):
        task.step()
    start = time.perf_counter()
    for _ in range(task.steps):
        task.step()
    return (time.perf_counter() - start) / task.steps


def time_interleaved(
    tasks: list[Task], repeats: int, progress: Callable[[str], None] = lambda name: None
) -> dict[str, list[float]]:
    """Seconds per step of each task for each of ``repeats`` rounds, tasks in order each round.

    ``progress(name)`` is called after each timed task (e.g. to advance a bar).
    """
    times: dict[str, list[float]] = {task.name: [] for task in tasks}
    for _ in range(repeats):
        for task in tasks:
            times[task.name].append(time_task(task))
            progress(task.name)
    return times


# -- data ------------------------------------------------------------------------------------

#: Training and evaluation arrays by name: ``X_train``, ``y_train``, ``X_val``, ``y_val``.
Data = dict[str, np.ndarray]


def random_data(
    num_train: int, num_eval: int, input_dim: int, num_classes: int = 10, seed: int = 0
) -> Data:
    """Random float32 images and labels shaped like ``get_cifar10_data``'s output.

    ``X_train`` is (num_train, 3, 32, 32) when ``input_dim`` is 3072 (CIFAR-10), else
    (num_train, input_dim); ``X_val`` (num_eval, ...) serves as the prediction set.
    Standard normal pixels, like mean-subtracted and scaled images.
    """
    shape = (3, 32, 32) if input_dim == 3 * 32 * 32 else (input_dim,)
    rng = np.random.default_rng(seed)

    def images(n: int) -> np.ndarray:
        return rng.standard_normal((n, *shape), dtype=np.float32)

    return {
        "X_train": images(num_train),
        "y_train": rng.integers(0, num_classes, num_train),
        "X_val": images(num_eval),
        "y_val": rng.integers(0, num_classes, num_eval),
    }


# -- our Solver and its matmul floor -----------------------------------------------------------


#: The two ways of asking for L2 that the benchmark times: as the scripts do, and as
#: CS231n's notebook code does (the names are ``make_solver``'s ``path``).
PATHS = {
    "scripts": "reg as the update rule's weight_decay, the model's reg 0 (reg_as=\"weight_decay\")",
    "notebook": "TwoLayerNet(reg=...) and the default Solver (the model's L2 passed to the rule)",
}


def make_solver(
    data: Data,
    hidden: int,
    batch_size: int,
    dtype: str,
    rule: str,
    reg: float,
    path: str = "scripts",
) -> Solver:
    """A Solver training a fresh ``TwoLayerNet`` on ``data``, silent, ready for ``step()``.

    ``path="scripts"``: ``reg`` is weight decay in the update rule, as in PyTorch's
    optimizers and the scripts. ``path="notebook"``: ``reg`` is the model's, as a
    notebook following CS231n sets it; the Solver passes it to the compiled rule as
    weight decay (twolayer.fast.updater). The two give the same bits (tests check it).
    Weights start at std 1e-3, CS231n's scale; the step schedule keeps the rate fixed.
    """
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    config = preset("cifar10").replace(
        hidden=hidden, batch_size=batch_size, dtype=dtype, optimizer=rule, reg=reg,
        reg_as="weight_decay" if path == "scripts" else "loss", lr=LEARNING_RATE,
        lr_schedule="step", weight_scale=1e-3, label_smoothing=0.0, augment="none", seed=0,
    )  # fmt: skip
    return build(config, data, verbose=False, progress=False)[1]


def matmul_bound_step(model: TwoLayerNet, X: np.ndarray) -> Callable[[], None]:
    """One step's matrix products alone, on ``model``'s weights and the batch ``X``.

    Exactly the products of ``TwoLayerNet.loss``: X.W1 and h.W2 forward, dscores.W2^T,
    h^T.dscores and X^T.dh backward (no dX for the first layer). ``X`` is cast and
    flattened once here, and every output is preallocated, so nothing but BLAS is timed.
    """
    X = np.ascontiguousarray(X.reshape(X.shape[0], -1), dtype=model.dtype)
    W1, W2 = model.params["W1"], model.params["W2"]
    n, (D, H), C = X.shape[0], W1.shape, W2.shape[1]
    h, dh = np.empty((n, H), model.dtype), np.empty((n, H), model.dtype)
    scores = np.empty((n, C), model.dtype)
    dW1, dW2 = np.empty((D, H), model.dtype), np.empty((H, C), model.dtype)

    def step() -> None:
        np.matmul(X, W1, out=h)
        np.matmul(h, W2, out=scores)  # scores stand in for dscores: same shape, dtype
        np.matmul(scores, W2.T, out=dh)
        np.matmul(h.T, scores, out=dW2)
        np.matmul(X.T, dh, out=dW1)

    return step


# -- PyTorch ---------------------------------------------------------------------------------


def load_torch() -> ModuleType | None:
    """The ``torch`` module, or None when PyTorch is not installed.

    Sets ``OMP_WAIT_POLICY=PASSIVE`` (unless the caller set it) before PyTorch loads
    its OpenMP runtime: by default idle OpenMP workers spin for a while after each
    torch call, and with the runs interleaved in one process that spinning steals
    the cores from whichever of our runs comes next (measured here: our median
    15.5 ms/step with spinning, 11.9 ms without; PyTorch's own 13.9 vs 13.5).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        return None
    return torch


#: The PyTorch tasks and the optimizer implementation each asks for. On the CPU the
#: default implementation loops over the parameters, one tensor operation at a time;
#: ``fused=True`` (SGD and Adam) does the whole update in one vectorized C++ pass and is
#: PyTorch's fastest. Optimizers without a fused CPU kernel (RMSprop) fall back to the
#: multi-tensor ``foreach=True`` path.
TORCH_IMPLEMENTATIONS = {"torch": "default", "torch_fused": "fused"}


def torch_optimizer(
    torch: ModuleType, net: Any, rule: str, reg: float, implementation: str = "default"
) -> tuple[Any, str]:
    """PyTorch's counterpart of our update ``rule`` with our hyperparameters.

    ``reg`` becomes weight decay on the weights only, as in our Solver, which skips
    the biases; both add ``reg * W`` to the weight gradients. ``implementation`` is
    "default" or "fused". Returns the optimizer and the implementation it got:
    "default", "fused", or "foreach" where the optimizer has no fused kernel.
    """
    if implementation not in ("default", "fused"):
        raise ValueError(f'implementation must be "default" or "fused", got {implementation!r}')
    weights = [p for p in net.parameters() if p.ndim == 2]
    biases = [p for p in net.parameters() if p.ndim == 1]
    groups = [{"params": weights, "weight_decay": reg}, {"params": biases, "weight_decay": 0.0}]
    hp = DEFAULTS.get(rule, {})
    kwargs: dict[str, Any] = {"lr": LEARNING_RATE}
    if rule in ("sgd", "sgd_momentum"):
        cls = torch.optim.SGD
        kwargs["momentum"] = hp.get("momentum", 0.0)
    elif rule == "rmsprop":
        cls = torch.optim.RMSprop
        kwargs.update(alpha=hp["decay_rate"], eps=hp["epsilon"])
    elif rule == "adam":
        cls = torch.optim.Adam
        kwargs.update(betas=(hp["beta1"], hp["beta2"]), eps=hp["epsilon"])
    else:
        raise ValueError(f"no PyTorch counterpart for update rule {rule!r}")
    if implementation == "fused":
        try:
            return cls(groups, fused=True, **kwargs), "fused"
        except (TypeError, RuntimeError):  # this optimizer has no fused CPU kernel
            return cls(groups, foreach=True, **kwargs), "foreach"
    return cls(groups, **kwargs), "default"


class TorchTrainer:
    """nn.Linear(D, H), ReLU, nn.Linear(H, C) trained like the Solver trains ours.

    Batches are gathered from a tensor sharing ``data["X_train"]``'s memory, in the order
    of a fresh ``torch.randperm`` each epoch, and cast to ``dtype`` per batch as our model
    casts them. The input never requires grad, so autograd skips dX, as our backward does.
    ``implementation`` is passed to :func:`torch_optimizer`; ``self.implementation`` is
    the one the optimizer got.
    """

    def __init__(
        self,
        torch: ModuleType,
        data: dict[str, np.ndarray],
        hidden: int,
        batch_size: int,
        dtype: str,
        rule: str,
        reg: float,
        implementation: str = "default",
    ) -> None:
        self.torch = torch
        X = data["X_train"]
        self.X = torch.from_numpy(X.reshape(X.shape[0], -1))
        self.y = torch.from_numpy(np.ascontiguousarray(data["y_train"], dtype=np.int64))
        self.X_eval = torch.from_numpy(data["X_val"].reshape(data["X_val"].shape[0], -1))
        self.dtype = getattr(torch, dtype)
        self.batch_size = batch_size
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(self.X.shape[1], hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, int(self.y.max()) + 1),
        ).to(self.dtype)
        self.optimizer, self.implementation = torch_optimizer(
            torch, self.net, rule, reg, implementation
        )
        self.generator = torch.Generator().manual_seed(0)
        self.perm = torch.randperm(self.X.shape[0], generator=self.generator)
        self.pos = 0

    def step(self) -> float:
        """One update on the next minibatch; returns its loss, as ``Solver.step()`` does."""
        torch = self.torch
        if self.pos >= self.perm.shape[0]:
            self.perm, self.pos = torch.randperm(self.X.shape[0], generator=self.generator), 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += idx.shape[0]
        X_batch = self.X.index_select(0, idx).to(self.dtype)
        loss = torch.nn.functional.cross_entropy(self.net(X_batch), self.y.index_select(0, idx))
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()  # the Solver reads every loss too (to detect divergence)

    def matmul_bound_step(self) -> Callable[[], None]:
        """The five matrix products of a PyTorch step alone, as :func:`matmul_bound_step`.

        In PyTorch's own layout (``nn.Linear`` keeps W as (out, in) and computes x W^T),
        on this trainer's weights and its first batch, into preallocated outputs: what
        PyTorch's BLAS needs for a step, beside what NumPy's needs.
        """
        torch = self.torch
        X = self.X[: self.batch_size].to(self.dtype)
        W1, W2 = self.net[0].weight.detach(), self.net[2].weight.detach()
        n, (H, D), C = X.shape[0], W1.shape, W2.shape[0]
        h, dh = torch.empty(n, H, dtype=self.dtype), torch.empty(n, H, dtype=self.dtype)
        scores = torch.empty(n, C, dtype=self.dtype)
        dW1, dW2 = torch.empty(H, D, dtype=self.dtype), torch.empty(C, H, dtype=self.dtype)

        def step() -> None:
            torch.mm(X, W1.t(), out=h)
            torch.mm(h, W2.t(), out=scores)  # scores stand in for dscores
            torch.mm(scores, W2, out=dh)
            torch.mm(scores.t(), h, out=dW2)
            torch.mm(dh.t(), X, out=dW1)

        return step

    def predict(self) -> Any:
        """Predicted labels of the evaluation images, ``EVAL_BATCH`` rows at a time."""
        torch = self.torch
        with torch.inference_mode():
            return torch.cat(
                [
                    self.net(self.X_eval[i : i + EVAL_BATCH].to(self.dtype)).argmax(1)
                    for i in range(0, self.X_eval.shape[0], EVAL_BATCH)
                ]
            )


# -- environment -----------------------------------------------------------------------------


def peak_rss_mib() -> float | None:
    """Peak resident memory of this process so far, in MiB (None where unsupported)."""
    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (AttributeError, OSError):
        return None
    # Linux reports KiB, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def blas_libraries() -> list[dict[str, Any]]:
    """Loaded BLAS/OpenMP libraries (threadpoolctl's view: API, version, kernel, threads)."""
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "filepath")
    return [{k: lib.get(k) for k in keys} for lib in threadpool_info()]


def openblas_env() -> dict[str, str | None]:
    """The OpenBLAS tuning variables and their values (None when unset)."""
    return {name: os.environ.get(name) for name in OPENBLAS_ENV}


def median_ms(seconds: Iterable[float]) -> float:
    """Median of per-step times given in seconds, in milliseconds."""
    return 1e3 * statistics.median(seconds)
