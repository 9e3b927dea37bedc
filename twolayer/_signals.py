"""Ctrl-C handling for training loops: the first press becomes a flag, not an exception.

A training loop checks the flag between steps, so a checkpoint taken on Ctrl-C
never sees a half-applied update.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


class SigintGuard:
    """Turns the first Ctrl-C into a flag that train() checks between steps.

    A checkpoint taken then never sees a half-applied update. A second Ctrl-C raises
    at once. Only the main thread can install the handler; elsewhere this does nothing.
    """

    def __init__(self) -> None:
        self.pressed = 0
        self._previous: Any = None

    def __enter__(self) -> SigintGuard:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.pressed += 1
        if self.pressed > 1:
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
