"""TwoLayerNet.loss's overloads, as mypy reads a caller's code: scores without y, (loss,
grads) with it, and a misuse of either is an error. (``mypy -p twolayer``, the whole
package, runs in .ci/run.)"""

from pathlib import Path

from mypy import api

import twolayer.model

CALLER = """\
import numpy as np
from typing_extensions import assert_type

from twolayer.model import TwoLayerNet

net = TwoLayerNet(4, 5, 3)
X, y = np.zeros((2, 4)), np.zeros(2, dtype=np.int64)
assert_type(net.loss(X), np.ndarray)
assert_type(net.loss(X, y), tuple[float, dict[str, np.ndarray]])
loss, grads = net.loss(X, y, rng=np.random.default_rng(0))
assert_type(loss, float)
assert_type(grads["W1"], np.ndarray)
net.loss(X).argmax(1)
net.loss(X, y).max()
"""

# model.py alone is checked: the modules it imports are skipped (their names are Any), so
# the run reads NumPy's stubs and these two files, not the whole package.
CONFIG = """\
[mypy]
python_version = 3.10
[mypy-twolayer.*]
follow_imports = skip
"""


def test_loss_overloads_type_scores_and_loss_separately(tmp_path: Path) -> None:
    caller, config = tmp_path / "caller.py", tmp_path / "mypy.ini"
    caller.write_text(CALLER)
    config.write_text(CONFIG)
    out, err, status = api.run(
        [str(caller), twolayer.model.__file__, "--config-file", str(config)]
        + ["--cache-dir", str(tmp_path / "cache"), "--no-error-summary"]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    # Only the last line's misuse: the tuple of (loss, grads) has no max().
    last = len(CALLER.splitlines())
    assert len(errors) == 1, out + err
    assert errors[0].startswith(f"{caller}:{last}: error:"), out
    assert 'has no attribute "max"' in errors[0], out
    assert status == 1
