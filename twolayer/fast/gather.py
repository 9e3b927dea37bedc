"""Minibatch gathering: rows of the training set copied into a reused buffer, in one pass.

``out[r] = X[idx[r]]``, row by row on all threads (:mod:`twolayer.fast.jit`). A training
set stored as float16 (half the memory) is widened to float32 in the same pass, from
the bits: NumPy's own float16 -> float32 cast is a second pass, element by element.
Without numba, or for other dtype pairs, ``np.take`` does it.
"""

from __future__ import annotations

import numpy as np

from twolayer.fast import jit
from twolayer.fast.jit import kernel, prange

#: 2**(e - 25) for a float16 exponent field e in 1..30, and 2**-24 for e = 0 (subnormals):
#: the value of one unit of a half's 11-bit significand at each exponent.
_HALF_UNIT = np.array([2.0**-24] + [2.0 ** (e - 25) for e in range(1, 32)], np.float32)


@kernel
def _take(out, X, idx):
    for r in prange(idx.size):
        out[r] = X[idx[r]]


@kernel
def _take_widening(out, bits, idx, unit):
    """``out[r] = X[idx[r]]`` for float16 X given as its bits (uint16), into float32."""
    for r in prange(idx.size):
        row = bits[idx[r]]
        for j in range(row.size):
            b = row[j]
            e = (b >> 10) & 0x1F
            significand = b & 0x3FF
            if e == 31:  # inf or NaN
                x = np.float32(np.inf) if significand == 0 else np.float32(np.nan)
            else:
                if e:
                    significand += 0x400  # the implicit leading 1 of a normal half
                # Exact: an integer below 2**11 times a power of two.
                x = np.float32(significand) * unit[e]
            out[r, j] = -x if b & 0x8000 else x


def gather_rows(X: np.ndarray, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = X[idx]``, cast to ``out.dtype``; returns ``out``.

    X: (N, ...) any dtype; idx: (k,) row numbers in [0, N); out: (k, ...) preallocated.
    """
    n, k = X.shape[0], idx.shape[0]
    same = X.dtype == out.dtype and X.dtype.kind in "fiub"
    widen = X.dtype == np.float16 and out.dtype == np.float32
    if (same or widen) and X.flags.c_contiguous and out.flags.c_contiguous and jit.available():
        rows, into = X.reshape(n, -1), out.reshape(k, -1)
        if widen:
            _take_widening(into, rows.view(np.uint16), idx, _HALF_UNIT)
        else:
            _take(into, rows, idx)
    elif X.dtype == out.dtype:
        # mode="clip" writes straight into out ("raise" copies through a buffer); the
        # row numbers come from a permutation of range(N), never out of range.
        np.take(X, idx, axis=0, out=out, mode="clip")
    else:
        out[...] = np.take(X, idx, axis=0)
    return out
