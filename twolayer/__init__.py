"""twolayer: a two-layer neural network with backpropagation derived and written by hand.

from twolayer import TwoLayerNet
model = TwoLayerNet(input_dim=2, hidden_dim=100, num_classes=3, weight_scale="he", seed=0)
loss, grads = model.loss(X, y)
"""

from twolayer.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)
from twolayer.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)
from twolayer.model import TwoLayerNet
from twolayer.solver import DivergenceError, Solver

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "Solver",
    "TwoLayerNet",
    "affine_backward",
    "affine_forward",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
    "rel_error",
    "relu_backward",
    "relu_forward",
    "softmax_loss",
]
