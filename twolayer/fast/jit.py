"""The compiler behind the fast path: numba, imported and used only on first need.

    @kernel
    def scale(x, a):              # plain Python, one element at a time
        for i in prange(x.size):
            x[i] *= a

``kernel`` leaves the function as written until its first call; then it imports numba
and compiles it with ``njit(cache=True, parallel=True)`` (``parallel=False`` for small
arrays, run on the calling thread alone) for the argument types of that call only
(fastmath off: IEEE arithmetic in the arrays' own dtype, so the results equal NumPy's
up to rounding, mostly bit for bit). A pure sum (``@reduction``) may reassociate its
additions, so that it runs in vector lanes, as BLAS's and NumPy's own sums do.
``cache=True`` keeps the machine code beside the source, so a second process loads it
instead of compiling again. Nothing is imported or compiled when twolayer is imported.

Where numba cannot be imported, :func:`available` is False, callers use their plain
NumPy code instead, and :func:`available` warns once, saying so.
"""

from __future__ import annotations

import os
import types
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: Kernels loop with ``for i in prange(n)``: a plain range until numba loads, when each
#: kernel's module gets numba's prange ("split among the threads") before it compiles.
prange = range

__all__ = ["available", "get_num_threads", "kernel", "prange", "reduction", "set_num_threads"]

_numba: ModuleType | None = None
_tried = False
_threads: int | None = None  # asked for by set_num_threads before numba was loaded


def _load() -> ModuleType | None:
    """numba, imported on the first call (None where it cannot be, with one warning)."""
    global _numba, _tried
    if not _tried:
        _tried = True
        # numba's threads run on OpenMP where it can: idle OpenMP threads that spin
        # after each kernel take the cores from the matrix products that come next, so
        # they sleep instead (unless the user chose; read once, when OpenMP starts).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import numba
        except ImportError as e:
            warnings.warn(
                f"twolayer: numba cannot be imported ({e}); the update rules run as "
                "plain NumPy (twolayer.optim), slower. pip install numba for the fast kernels.",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        _numba = numba
        if _threads is not None:
            set_num_threads(_threads)
    return _numba


def available() -> bool:
    """Whether the compiled kernels run (numba imports); warns once when not."""
    return _load() is not None


def set_num_threads(n: int) -> None:
    """Threads for the compiled kernels (default: every core numba sees)."""
    global _threads
    _threads = max(1, int(n))
    if _numba is not None:
        _numba.set_num_threads(min(_threads, _numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    """Threads the compiled kernels use."""
    numba = _load()
    return 1 if numba is None else int(numba.get_num_threads())


#: Below this many elements (in a kernel's first argument) a kernel runs on the calling
#: thread alone: waking the other threads costs more than they save, and on a loaded
#: machine a parallel call waits for whichever thread the scheduler ran last.
PARALLEL_MIN_SIZE = 1 << 15


class kernel:  # noqa: N801 - used as a decorator, like numba's own njit
    """``py_func`` compiled by numba on its first call; see the module docstring.

    Two machine codes of it: one split among the threads, for a first argument of at
    least :data:`PARALLEL_MIN_SIZE` elements, and one that runs on the calling thread.
    """

    def __init__(self, py_func: Callable[..., Any], fastmath: frozenset[str] = frozenset()) -> None:
        self.py_func = py_func
        self.fastmath = fastmath
        self.__doc__ = py_func.__doc__
        self.__name__ = py_func.__name__
        self._compiled: dict[bool, Callable[..., Any]] = {}

    def __call__(self, *args: Any) -> Any:
        parallel = args[0].size >= PARALLEL_MIN_SIZE
        compiled = self._compiled.get(parallel)
        if compiled is None:
            compiled = self._compiled[parallel] = self._compile(parallel)
        return compiled(*args)

    def _compile(self, parallel: bool) -> Callable[..., Any]:
        numba = _load()
        if numba is None:
            raise RuntimeError("numba is not available: use the plain NumPy path")
        self.py_func.__globals__["prange"] = numba.prange
        func = self.py_func
        if not parallel:  # its own name, so that its cache files are its own
            func = types.FunctionType(func.__code__, func.__globals__, func.__name__)
            func.__qualname__ = f"{self.py_func.__qualname__}_serial"
        fastmath = set(self.fastmath) or False
        return numba.njit(cache=True, parallel=parallel, fastmath=fastmath)(func)


def reduction(py_func: Callable[..., Any]) -> kernel:
    """A :class:`kernel` that only sums: compiled with ``fastmath={"reassoc"}``, which
    lets LLVM split the sum over vector lanes (in a loop that also writes arrays, the
    same flag did not vectorize it; see docs/performance.md)."""
    return kernel(py_func, fastmath=frozenset({"reassoc"}))
