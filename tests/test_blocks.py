"""Tests for the fast path: update kernels equal to the reference rules, blocks, gather."""

import numpy as np
import pytest

from twolayer import fast, optim
from twolayer.fast import blocks as _blocks
from twolayer.fast.gather import gather_rows, widen_half

STATE = {"sgd": [], "sgd_momentum": ["velocity"], "rmsprop": ["cache"], "adam": ["m", "v", "t"]}
BIG = (1200, 250)  # 300,000 entries: shared among threads, in several blocks


def adam_tolerance(w_prev, w_ref):
    """How far the fast Adam step may land from the reference's.

    The fast kernel folds the bias corrections into two scalars; the step it takes
    then differs from the reference's by rounding: each side rounds about six times,
    each at most eps / 2 of the step, so by at most 8 eps of the step; subtracting
    it from w rounds once more on each side, by up to half a spacing of w (of the
    next binade's, if w lies at a power of two: two spacings cover both).
    """
    step = np.abs(w_prev.astype(np.float64) - w_ref)
    return 8 * np.finfo(w_ref.dtype).eps * step + 2 * np.spacing(np.abs(w_ref))


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_big_arrays_are_shared_among_threads_in_several_blocks(threads):
    default = fast.get_num_threads()
    try:
        fast.set_num_threads(threads)
        blocks = _blocks.for_blocks(lambda a: a.shape[0], np.empty(BIG, np.float32))
    finally:
        fast.set_num_threads(default)
    assert sum(blocks) == BIG[0] and len(blocks) >= max(3, threads)
    assert BIG[0] * BIG[1] >= _blocks._PARALLEL_MIN_SIZE


@pytest.mark.parametrize("name", optim.UPDATE_RULES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("decay", [0.0, 5e-3])
@pytest.mark.parametrize("shape", [(7,), (4, 3), BIG])
def test_fast_kernels_equal_the_reference_rules(name, dtype, threads, decay, shape):
    """Bit for bit, but for Adam's w: within the rounding of its folded bias corrections
    (its m, v and t are bit for bit: each step starts from the reference's w)."""
    rng = np.random.default_rng(0)
    w_ref = rng.standard_normal(shape).astype(dtype)
    w = w_ref.copy()
    config, ref_config = {"weight_decay": decay}, {"weight_decay": decay}
    default = fast.get_num_threads()
    try:
        fast.set_num_threads(threads)
        for _ in range(4):
            dw = rng.standard_normal(shape).astype(dtype)
            dw_before, w_prev = dw.copy(), w_ref
            next_w, config = fast.UPDATE_RULES[name](w, dw, config)
            w_ref, ref_config = optim.UPDATE_RULES[name](w_ref, dw, ref_config)
            assert next_w is w and w.dtype == dtype  # in place
            assert np.array_equal(dw, dw_before)  # the gradient is left alone
            for key in STATE[name]:
                assert np.array_equal(config[key], ref_config[key]), key
            if name == "adam":
                assert np.all(np.abs(w - w_ref) <= adam_tolerance(w_prev, w_ref))
                w[...] = w_ref  # the next step from the same point
            else:
                assert np.array_equal(w, w_ref)
    finally:
        fast.set_num_threads(default)
    assert config.keys() == ref_config.keys()


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
