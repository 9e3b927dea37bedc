"""Parallel image decoding's workers end with their parent, however it ends (SIGTERM,
SIGKILL), so that nothing outlives the command or holds its output pipe open.

The workers are held in their first chunk (tests/hooks.py) and announce themselves.
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from kill_helpers import alive, kill, start_twolayer, wait_until
from PIL import Image

from twolayer.datasets.images import _MIN_PARALLEL


@pytest.fixture(scope="module")
def many_images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(0)
    for i in range(_MIN_PARALLEL + 8):
        folder = root / ("cat" if i % 2 else "dog")
        folder.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_decode_workers_end_with_their_parent(many_images, tmp_path, sig):
    hooks = tmp_path / "hooks"
    child = start_twolayer("train", str(many_images), "--no-cache", "--image-size", "4",
                           "--out", "run", cwd=tmp_path, hook_dir=hooks,
                           block_decode=1)  # fmt: skip
    assert wait_until(lambda: len(list(hooks.glob("decoding-*"))) >= 1)
    workers = [int(p.name.split("-")[1]) for p in hooks.glob("decoding-*")]
    assert child.pid not in workers  # decoded in worker processes
    # kill() waits for the output pipes to close: a worker holding them would hang it.
    stopped = kill(child, sig)
    if sig == signal.SIGTERM:
        assert stopped.returncode == 130 and "Traceback" not in stopped.stderr
        assert stopped.stderr.strip().endswith("interrupted")
    assert wait_until(lambda: not any(alive(pid) for pid in workers), timeout=10)
