"""Memory checked before training starts: a net too large for this machine is refused with
an estimate, instead of being killed by the kernel halfway through allocating it.

    check_fits(training_bytes(3072, 99_999_999, 10, batch_size=200), "hidden 99999999")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

#: Arrays of optimizer state per parameter, by update rule (velocity, cache, m and v).
OPTIMIZER_STATE = {"sgd": 0, "sgd_momentum": 1, "rmsprop": 1, "adam": 2}
#: Activations per row of a batch, in units of hidden: the affine output, the ReLU output
#: and their gradients.
ACTIVATIONS_PER_ROW = 4


class NotEnoughMemoryError(ValueError):
    """A run needs more memory than the machine has available."""


def training_bytes(
    input_dim: int,
    hidden: int,
    classes: int,
    batch_size: int,
    *,
    optimizer: str = "adam",
    dtype: str = "float32",
    eval_batch_size: int = 1000,
    averaged: bool = False,
) -> int:
    """A lower bound of the memory training a net of this shape takes, the data aside.

    The weights, their gradients, the best epoch's copy, the optimizer state and (when
    ``averaged``) the weight average, plus the activations of a training batch and of
    an evaluation batch (N, H).
    """
    itemsize = np.dtype(dtype).itemsize
    params = (input_dim + 1) * hidden + (hidden + 1) * classes
    copies = 3 + OPTIMIZER_STATE.get(optimizer, 2) + averaged
    rows = ACTIVATIONS_PER_ROW * batch_size + 2 * eval_batch_size
    return itemsize * (copies * params + rows * (hidden + classes))


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_available() -> int | None:
    """What a container's memory limit (cgroup v2, else v1) leaves, if there is one."""
    for limit, usage in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            cap = Path(limit).read_text().strip()
            used = int(Path(usage).read_text())
        except (OSError, ValueError):
            continue
        if cap.isdigit() and int(cap) < 1 << 60:  # "max", or v1's "no limit" sentinel
            return max(int(cap) - used, 0)
    return None


def available_bytes() -> int | None:
    """Memory this process can still get without swapping: the lower of the machine's
    available memory and its container's limit; None where neither can be read."""
    known = [b for b in (_meminfo_available(), _cgroup_available()) if b is not None]
    return min(known, default=None)


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def check_fits(
    needed: int,
    what: str,
    share: int = 1,
    hint: str = "lower --hidden",
    parts: str = "weights, gradients, optimizer state, activations",
) -> None:
    """Raise NotEnoughMemoryError if ``needed`` bytes, ``share`` times over (one per parallel
    worker), exceed the available memory. ``what`` names the setting for the message,
    ``parts`` what the memory is for."""
    available = available_bytes()
    total = needed * share
    if available is None or total <= available:
        return
    each = f" in each of {share} workers" if share > 1 else ""
    raise NotEnoughMemoryError(
        f"{what} needs about {format_bytes(needed)} of memory{each} ({parts}) but "
        f"{format_bytes(available)} is available; {hint}"
    )


def check_training_fits(
    input_dim: int, hidden: int, classes: int, batch_size: int, **settings: Any
) -> None:
    """:func:`check_fits` for training a net (:func:`training_bytes`, ``settings`` as
    there), blaming the batch size when its activations take most of it, else hidden."""
    needed = training_bytes(input_dim, hidden, classes, batch_size, **settings)
    rest = training_bytes(input_dim, hidden, classes, 0, **settings)
    if needed - rest > rest:  # the training batch's activations take most of it
        check_fits(needed, f"batch size {batch_size}", hint="lower --batch-size")
    else:
        check_fits(needed, f"hidden {hidden}", hint="lower --hidden (or --batch-size)")
