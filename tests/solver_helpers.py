"""Small data, nets and settings shared by the Solver and checkpoint tests."""

import os
import signal

import numpy as np

from twolayer import checkpoint
from twolayer.model import TwoLayerNet

QUIET = {"verbose": False, "seed": 0}


def blobs(n=300, num_classes=3, seed=0):
    """Well-separated Gaussian blobs in 2-D, split 2/3 train, 1/3 val."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(num_classes) / num_classes
    centers = 4.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    y = rng.integers(0, num_classes, n)
    X = centers[y] + 0.6 * rng.standard_normal((n, 2))
    k = 2 * n // 3
    return {"X_train": X[:k], "y_train": y[:k], "X_val": X[k:], "y_val": y[k:]}


def net(seed=0, **kwargs):
    return TwoLayerNet(
        input_dim=2, hidden_dim=20, num_classes=3, weight_scale="he", seed=seed, **kwargs
    )


class Interrupting(TwoLayerNet):
    """A TwoLayerNet whose ``call``-th training loss call raises KeyboardInterrupt or NaN
    ("late": KeyboardInterrupt once its dropout masks are drawn)."""

    def __init__(self, call, effect="interrupt", **kwargs):
        super().__init__(**kwargs)
        self.call, self.effect, self.calls = call, effect, 0

    def loss(self, X, y=None, *, rng=None):
        if y is not None:
            self.calls += 1
            if self.calls == self.call:
                if self.effect == "nan":
                    return float("nan"), {}
                if self.effect == "sigint":  # a real Ctrl-C, in the middle of a step
                    os.kill(os.getpid(), signal.SIGINT)
                elif self.effect == "late":
                    super().loss(X, y, rng=rng)
                    raise KeyboardInterrupt
                else:
                    raise KeyboardInterrupt
        return super().loss(X, y, rng=rng)


def jitter(X, rng):
    return X + 0.05 * rng.standard_normal(X.shape)


def final_weights(path):
    """The last weights saved in a Solver checkpoint."""
    return checkpoint.load(path)["params"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys() and a
    for k in a:
        assert np.array_equal(a[k], b[k]), k


RUN = {
    "update_rule": "sgd_momentum",
    "optim_config": {"learning_rate": 0.05},
    "lr_decay": 0.9,
    "batch_size": 32,  # 200 examples: 6 full batches and one of 8
    "num_epochs": 4,
    "num_train_samples": 50,  # the accuracy subsample draws from the rng too
    "augment": jitter,
    **QUIET,
}
