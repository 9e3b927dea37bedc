"""Elementwise work on large arrays in cache-sized blocks, shared among threads.

An update rule makes about a dozen passes over its arrays. Run pass by pass over
all of W1 (1.6 M entries on CIFAR-10, 6 MB for each of w, dw and every state
array), each pass streams from main memory; run block by block, the later passes
find the block in cache. NumPy's ufuncs run on one core but release the GIL, so
the blocks are also shared among threads. Elementwise work on blocks gives the
same bits as on the whole array.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

_PARALLEL_MIN_SIZE = 1 << 18  # below this many entries a thread hop costs more than it saves
_BLOCK_SIZE = 1 << 18  # entries per block: the blocks of all the arrays fit in L3 cache together
_threads = min(4, os.cpu_count() or 1)
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def set_num_threads(n: int) -> None:
    """Threads for elementwise work on large arrays (default: the cores, at most 4)."""
    global _threads
    _threads = max(1, int(n))


def get_num_threads() -> int:
    """Threads used for elementwise work on large arrays."""
    return _threads


def for_blocks(kernel: Callable[..., Any], *arrays: np.ndarray) -> list[Any]:
    """Call ``kernel`` on matching row blocks of ``arrays``; return its results in order.

    All arrays share their first dimension. Small arrays make one call.
    """
    rows = arrays[0].shape[0] if arrays[0].ndim else 1
    if arrays[0].size < _PARALLEL_MIN_SIZE:
        return [kernel(*arrays)]
    step = max(1, _BLOCK_SIZE * rows // arrays[0].size)

    def run(lo: int, hi: int) -> list[Any]:
        return [
            kernel(*(a[start : min(start + step, hi)] for a in arrays))
            for start in range(lo, hi, step)
        ]

    n = min(_threads, rows)
    if n < 2:
        return run(0, rows)
    global _pool, _pool_size
    if _pool is None or _pool_size != n:
        _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="twolayer-blocks")
        _pool_size = n
    bounds = [rows * i // n for i in range(n + 1)]
    parts = [_pool.submit(run, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return [result for part in parts for result in part.result()]
