"""Tests for the internal block runner and the minibatch gather."""

import numpy as np
import pytest

from twolayer.fast import blocks as _blocks
from twolayer.fast.gather import gather_rows, widen_half


def test_every_finite_float16_widens_to_the_same_bits_as_numpys_cast():
    half = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    half = half[np.isfinite(half)]  # 63,488 values: both zeros, subnormals, normals, +-65504
    out = np.empty(half.shape, np.float32)
    widen_half(half, out, np.empty(half.shape, np.uint32))
    assert np.array_equal(out.view(np.uint32), half.astype(np.float32).view(np.uint32))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8, np.float64])
@pytest.mark.parametrize("rows", [7, 300])  # one block, and threaded blocks
def test_gather_rows_matches_fancy_indexing(dtype, rows):
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((500, 3, 32, 32)) * 50).astype(dtype)
    idx = rng.permutation(500)[:rows]
    out_dtype = np.float32 if dtype == np.float16 else dtype
    out = np.full((rows, 3, 32, 32), 7, dtype=out_dtype)
    assert gather_rows(X, idx, out) is out
    assert np.array_equal(out, X[idx].astype(out_dtype))


def test_gather_rows_casts_into_another_dtype():
    X = np.arange(24, dtype=np.uint8).reshape(6, 4)
    out = np.empty((3, 4), np.float64)
    gather_rows(X, np.array([5, 0, 2]), out)
    assert np.array_equal(out, X[[5, 0, 2]].astype(np.float64))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_for_blocks_covers_every_row_once_with_block_shaped_scratch(threads):
    a = np.zeros((1000, 300), np.float32)  # above the threading threshold
    seen = []

    def kernel(block, scratch):
        assert scratch.shape == block.shape and scratch.dtype == block.dtype
        scratch[...] = 1
        block += scratch
        seen.append(block.shape[0])
        return block.shape[0]

    default = _blocks.get_num_threads()
    try:
        _blocks.set_num_threads(threads)
        counts = _blocks.for_blocks(kernel, a, scratch=1)
    finally:
        _blocks.set_num_threads(default)
    assert np.all(a == 1)  # each row exactly once
    assert sum(counts) == 1000 and len(counts) == len(seen) > 1
