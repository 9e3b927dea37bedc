"""Elementwise work on large arrays in cache-sized blocks, shared among threads.

An update rule makes about a dozen passes over its arrays. Run pass by pass over
all of W1 (1.6 M entries on CIFAR-10, 6 MB for each of w, dw and every state
array), each pass streams from main memory; run block by block, the later passes
find the block in the core's own cache. NumPy's ufuncs run on one core but release
the GIL, so the blocks are also shared among threads. Elementwise work on blocks
gives the same bits as on the whole array.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

_PARALLEL_MIN_SIZE = 1 << 18  # below this many entries a thread hop costs more than it saves
# Entries per block (512 KB of float32 per array): the fastest size tried (docs/performance.md).
_BLOCK_SIZE = 1 << 17
_threads = min(4, os.cpu_count() or 1)
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_local = threading.local()


def set_num_threads(n: int) -> None:
    """Threads for elementwise work on large arrays (default: the cores, at most 4)."""
    global _threads
    _threads = max(1, int(n))


def get_num_threads() -> int:
    """Threads used for elementwise work on large arrays."""
    return _threads


def _scratch(count: int, size: int, dtype: np.dtype) -> list[np.ndarray]:
    """``count`` flat buffers of at least ``size`` entries, owned by the calling thread.

    Kept per thread and reused, so intermediates stay in that core's cache instead of
    filling whole-array temporaries that must be written back to memory.
    """
    if not count:
        return []
    key = (count, np.dtype(dtype))
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    have = bufs.get(key)
    if have is None or have[0].size < size:
        have = bufs[key] = [np.empty(size, dtype) for _ in range(count)]
    return have


def for_blocks(kernel: Callable[..., Any], *arrays: np.ndarray, scratch: int = 0) -> list[Any]:
    """Call ``kernel`` on matching row blocks of ``arrays``; return its results in order.

    All arrays share their first dimension. Small arrays make one call. With
    ``scratch=k`` the kernel also receives k scratch arrays shaped like the block,
    in the dtype of the first array, after the blocks.
    """
    rows = arrays[0].shape[0] if arrays[0].ndim else 1
    step = max(1, _BLOCK_SIZE * rows // max(arrays[0].size, 1))
    per_row = arrays[0].size // max(rows, 1)

    def run(lo: int, hi: int) -> list[Any]:
        out = []
        bufs = _scratch(scratch, min(step, hi - lo) * per_row, arrays[0].dtype)
        for start in range(lo, hi, step):
            blocks = [a[start : min(start + step, hi)] for a in arrays]
            shape = blocks[0].shape
            extra = [b[: blocks[0].size].reshape(shape) for b in bufs]
            out.append(kernel(*blocks, *extra))
        return out

    n = min(_threads, rows)
    if n < 2 or arrays[0].size < _PARALLEL_MIN_SIZE:
        return run(0, rows)
    global _pool, _pool_size
    if _pool is None or _pool_size != n - 1:
        _pool = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="twolayer-blocks")
        _pool_size = n - 1
    bounds = [rows * i // n for i in range(n + 1)]
    parts = [_pool.submit(run, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:], strict=True)]
    first = run(bounds[0], bounds[1])  # the calling thread takes a share instead of waiting
    return first + [result for part in parts for result in part.result()]
