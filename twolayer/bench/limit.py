"""The true limit of a training step: its matrix products plus its update's memory traffic.

An update rule must read and write its arrays at least once: sgd reads w and dw and
writes w; sgd_momentum and rmsprop also read and write one state array; adam two. The
time that traffic takes is measured, in the same run, by a streaming kernel that makes
exactly those reads and writes over arrays of the update's size with one addition per
element and nothing else (:func:`stream_step`, compiled like the update kernels). The
true limit is the matmul-only bound plus that time: what a step could take if all its
other work (gather, bias, ReLU, softmax, bookkeeping) were free and its update ran at
the memory bandwidth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twolayer.fast.jit import kernel, prange

#: Arrays an update reads and writes beside w and dw: the rule's state.
STATE_ARRAYS = {"sgd": 0, "sgd_momentum": 1, "rmsprop": 1, "adam": 2}


@kernel
def _stream0(w, dw):
    for i in prange(w.size):
        w[i] = w[i] + dw[i]


@kernel
def _stream1(w, dw, s):
    for i in prange(w.size):
        w[i] = w[i] + dw[i]
        s[i] = s[i] + dw[i]


@kernel
def _stream2(w, dw, s, r):
    for i in prange(w.size):
        w[i] = w[i] + dw[i]
        s[i] = s[i] + dw[i]
        r[i] = r[i] + dw[i]


_STREAMS = (_stream0, _stream1, _stream2)


def update_bytes(params: dict[str, np.ndarray], rule: str) -> int:
    """Bytes an update by ``rule`` must move: each of w, dw and the state read once, and
    w and the state written once."""
    k = STATE_ARRAYS[rule]
    return sum(w.nbytes * (2 + k + 1 + k) for w in params.values())


def stream_step(params: dict[str, np.ndarray], rule: str) -> Callable[[], None]:
    """One pass of the streaming kernel over arrays of the size of ``params``, with the
    reads and writes of an update by ``rule`` (see the module docstring).

    The params are laid end to end in one array per role (w, dw, each state): the same
    bytes as the update, in one call instead of one per param.
    """
    size = sum(w.size for w in params.values())
    dtype = next(iter(params.values())).dtype
    arrays = [np.zeros(size, dtype) for _ in range(2 + STATE_ARRAYS[rule])]
    arrays[1][:] = 1e-30  # a tiny step, so repeated passes stay finite
    stream = _STREAMS[STATE_ARRAYS[rule]]
    return lambda: stream(*arrays)
