"""twolayer: a two-layer neural network with backpropagation derived and written by hand.

from twolayer import TwoLayerNet
model = TwoLayerNet(input_dim=2, hidden_dim=100, num_classes=3, weight_scale="he", seed=0)
loss, grads = model.loss(X, y)

from twolayer import Classifier               # the run: raw inputs, preprocessing, run dirs
clf = Classifier().fit(X, y); clf.predict(X_new); clf.save("runs/mine")
"""

import os

# Idle OpenBLAS threads spin on their cores for a while after each matrix product, where
# the update rule that follows needs them; 4 lets them sleep at once. OpenBLAS reads this
# only when NumPy loads it, and importing this package is the first thing every twolayer
# command does (the installed command, python -m twolayer, scripts/, search workers), so
# the default is set here; a value the caller set is kept. Where NumPy came first (a
# notebook), OpenBLAS is made to read it below. Thread counts: twolayer.fast.threads.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from importlib.metadata import PackageNotFoundError, version

from twolayer.fast.threads import apply_idle_timeout
from twolayer.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)
from twolayer.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
from twolayer.model import TwoLayerNet
from twolayer.solver import DivergenceError, Solver

apply_idle_timeout()  # does nothing when OpenBLAS read the variable as it loaded


def __getattr__(name: str) -> type:
    # The classifier brings the run layer (datasets, Pillow, run directories): loaded
    # when first asked for, so that `import twolayer` stays the lesson's.
    if name == "Classifier":
        from twolayer.classifier import Classifier

        return Classifier
    raise AttributeError(f"module 'twolayer' has no attribute {name!r}")


try:  # the one version is pyproject.toml's, as installed
    __version__ = version("twolayer")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Classifier",
    "DivergenceError",
    "Solver",
    "TwoLayerNet",
    "affine_backward",
    "affine_forward",
    "dropout_backward",
    "dropout_forward",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
    "rel_error",
    "relu_backward",
    "relu_forward",
    "softmax_loss",
    "svm_loss",
]
