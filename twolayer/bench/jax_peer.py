"""JAX as a peer for ``twolayer bench``: the same net and update, the whole step under ``jax.jit``.

The step (gather the batch, forward, backward by ``jax.grad``, the update rule written
out as its formula, weight decay on the weights only) is one jitted function, with the
params and the rule's state donated so XLA may update them in place. JAX is imported
only by :func:`load_jax` (it is in the ``bench`` extra, never a runtime dependency).
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

import numpy as np

from twolayer.bench.limit import STATE_ARRAYS
from twolayer.optim import DEFAULTS


def load_jax(threads: int | None = None) -> ModuleType | None:
    """The ``jax`` module (64-bit floats enabled, for the float64 runs), or None.

    ``threads=1`` asks XLA, before it loads, for one thread (as BLAS and PyTorch get in
    such a run); other counts leave it on every core, its default.
    """
    if threads == 1 and "jax" not in sys.modules:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ.setdefault("XLA_FLAGS", flags)
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def _rule_step(jnp: ModuleType, rule: str, lr: float) -> Any:
    """``update(w, g, state, t) -> (w, state)`` for ``rule``, with our default
    hyperparameters; ``state`` is a tuple of arrays shaped like w."""
    hp = DEFAULTS[rule]
    if rule == "sgd":
        return lambda w, g, s, t: (w - lr * g, s)
    if rule == "sgd_momentum":

        def momentum(w, g, s, t):
            v = hp["momentum"] * s[0] - lr * g
            return w + v, (v,)

        return momentum
    if rule == "rmsprop":

        def rmsprop(w, g, s, t):
            c = hp["decay_rate"] * s[0] + (1 - hp["decay_rate"]) * g * g
            return w - lr * g / (jnp.sqrt(c) + hp["epsilon"]), (c,)

        return rmsprop
    b1, b2, eps = hp["beta1"], hp["beta2"], hp["epsilon"]

    def adam(w, g, s, t):
        m = b1 * s[0] + (1 - b1) * g
        v = b2 * s[1] + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        return w - lr * m_hat / (jnp.sqrt(v_hat) + eps), (m, v)

    return adam


class JaxTrainer:
    """nn.Linear-ReLU-nn.Linear, softmax cross-entropy and ``rule``, stepped by one jitted
    function on batches of a fresh permutation each epoch (full batches only: a short
    last batch would compile the step again)."""

    def __init__(
        self,
        jax: ModuleType,
        data: dict[str, np.ndarray],
        hidden: int,
        batch_size: int,
        dtype: str,
        rule: str,
        reg: float,
        learning_rate: float,
    ) -> None:
        jnp = jax.numpy
        X = data["X_train"]
        self.X = jax.device_put(np.ascontiguousarray(X.reshape(X.shape[0], -1)))
        self.y = jax.device_put(np.asarray(data["y_train"], np.int32))
        num_classes = int(data["y_train"].max()) + 1
        rng = np.random.default_rng(0)
        D = self.X.shape[1]
        self.params = tuple(
            jnp.asarray(a, dtype)
            for a in (
                1e-3 * rng.standard_normal((D, hidden)),
                np.zeros(hidden),
                1e-3 * rng.standard_normal((hidden, num_classes)),
                np.zeros(num_classes),
            )
        )
        self.state = tuple(
            tuple(jnp.zeros_like(p) for _ in range(STATE_ARRAYS[rule])) for p in self.params
        )
        self.t = 0
        self.batch_size = batch_size
        self.rng = np.random.default_rng(0)
        self.perm, self.pos = self.rng.permutation(X.shape[0]), 0
        update = _rule_step(jnp, rule, learning_rate)
        compute = jnp.dtype(dtype)

        def loss_fn(params, xb, yb):
            W1, b1, W2, b2 = params
            h = jax.nn.relu(xb @ W1 + b1)
            logp = jax.nn.log_softmax(h @ W2 + b2)
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        def step(params, state, t, X, y, idx):
            xb, yb = X[idx].astype(compute), y[idx]
            loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
            new_params, new_state = [], []
            for w, g, s in zip(params, grads, state, strict=True):
                if w.ndim == 2:  # weight decay on the weights, not the biases
                    g = g + reg * w
                w, s = update(w, g, s, t)
                new_params.append(w)
                new_state.append(s)
            return tuple(new_params), tuple(new_state), loss

        self._step = jax.jit(step, donate_argnums=(0, 1))

    def step(self) -> float:
        """One update on the next full minibatch; returns its loss (waiting for it)."""
        if self.pos + self.batch_size > self.perm.shape[0]:
            self.perm, self.pos = self.rng.permutation(self.perm.shape[0]), 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        self.t += 1
        self.params, self.state, loss = self._step(
            self.params, self.state, self.t, self.X, self.y, idx
        )
        return float(loss)
