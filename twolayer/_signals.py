"""Ctrl-C and SIGTERM in training loops: the first becomes a flag, not an exception.

A training loop checks the flag between steps, so a checkpoint taken on an
interrupt never sees a half-applied update. SIGTERM (what ``kill``, a batch
scheduler or a container stop sends) is handled as Ctrl-C is.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The signals handled, and the handler each must still have for the guard to take it
#: over (a handler someone else installed is left alone).
_DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


class InterruptGuard:
    """Turns the first Ctrl-C or SIGTERM into a flag that train() checks between steps.

    ``pressed`` counts the signals; ``signum`` is the first one's number. A second
    signal raises KeyboardInterrupt at once. Only the main thread can install
    handlers; elsewhere this does nothing.
    """

    def __init__(self) -> None:
        self.pressed = 0
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            for signum, default in _DEFAULTS.items():
                if signal.getsignal(signum) is default:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.pressed += 1
        if self.signum is None:
            self.signum = signum
        if self.pressed > 1:
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block, as Ctrl-C does, instead of
    ending the process silently (main thread only; a handler someone else installed
    is left alone)."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
