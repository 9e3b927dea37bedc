"""Minibatch gathering: rows of the training set copied into a reused buffer.

The rows of a batch lie scattered over the whole training set, so copying them
waits on main memory; two threads copying half the rows each wait in parallel
(``np.take`` releases the GIL). A training set stored as float16 (half the
memory) is widened to float32 on the way, by the bit manipulation below:
NumPy's own float16 -> float32 cast goes element by element and is slower.
"""

from __future__ import annotations

import numpy as np

from twolayer.fast.blocks import for_blocks

_HALF_TO_SINGLE = np.float32(2.0**112)  # 2**(127 - 15): the gap between the exponent biases


def widen_half(half: np.ndarray, out: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """``out[...] = half`` for finite float16 ``half`` into float32 ``out``, bit for bit.

    ``sign`` is uint32 scratch of the same shape. A float16 is a sign bit, 5 exponent
    bits and 10 fraction bits; moved 13 bits up, the exponent and fraction sit where
    float32 keeps them, and multiplying by 2**112 corrects the exponent bias, subnormal
    halves included (they come out as normal floats). The sign is moved separately.
    Infinities and NaNs would come out as finite numbers: callers pass checked data.
    """
    bits = out.view(np.uint32)
    np.copyto(bits, half.view(np.uint16), casting="safe")
    np.bitwise_and(bits, 0x8000, out=sign)
    np.bitwise_xor(bits, sign, out=bits)  # the magnitude alone
    np.left_shift(bits, 13, out=bits)
    np.multiply(out, _HALF_TO_SINGLE, out=out)
    np.left_shift(sign, 16, out=sign)
    np.bitwise_or(bits, sign, out=bits)
    return out


def gather_rows(X: np.ndarray, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = X[idx]``, cast to ``out.dtype``; returns ``out``.

    X: (N, ...) any dtype, finite; idx: (k,) row numbers; out: (k, ...) preallocated.
    """
    widen = X.dtype == np.float16 and out.dtype == np.float32

    def kernel(rows: np.ndarray, which: np.ndarray, scratch: np.ndarray) -> None:
        if widen:
            widen_half(np.take(X, which, axis=0), rows, scratch.view(np.uint32))
        elif X.dtype == rows.dtype:
            # mode="clip" writes straight into rows ("raise" copies through a buffer);
            # the row numbers come from a permutation of range(N), never out of range.
            np.take(X, which, axis=0, out=rows, mode="clip")
        else:
            rows[...] = np.take(X, which, axis=0)

    for_blocks(kernel, out, idx, scratch=1)
    return out
