"""The two-layer network: affine - ReLU - affine - softmax, with hand-written backprop.

``TwoLayerNet`` follows the CS231n second-assignment API: a ``params`` dict of
arrays and ``loss(X, y=None)`` that returns scores, or the loss and gradients.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import overload

import numpy as np
from numpy.typing import DTypeLike

from twolayer._io import atomic_savez, read_npz, reading
from twolayer._validate import (
    check_drop_probability,
    check_finite,
    check_positive_int,
    check_targets,
)
from twolayer.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)

PARAM_NAMES = ("W1", "b1", "W2", "b2")


class TwoLayerNet:
    """A fully connected net: input (D) -> affine -> ReLU (H) -> affine -> softmax (C).

    Parameters, in ``self.params``: ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C),
    ``b2`` (C,). Weights start as N(0, weight_scale**2) draws from
    ``np.random.default_rng(seed)``; ``weight_scale="he"`` uses std sqrt(2 / fan_in).
    Biases start at zero.

    The loss is the mean softmax cross-entropy plus the L2 penalty
    ``0.5 * reg * (sum(W1**2) + sum(W2**2))`` on the weights only (not the biases),
    whose gradient is ``reg * W``. ``reg`` and ``label_smoothing`` are plain
    attributes that may be changed at any time.

    ``dropout`` and ``input_dropout`` (0: off; plain attributes too) are the
    probabilities of dropping each hidden unit (H) and each input feature (D) while
    training: inverted dropout (:func:`twolayer.layers.dropout_forward`), drawn from
    the Generator passed as ``loss(X, y, rng=...)``. Scores, predictions and a loss
    without ``rng`` use every unit.

    Inputs are cast at call time to the dtype of ``params["W1"]``, so assigning
    float64 arrays into ``params`` makes the net compute in float64.
    """

    #: The params that ``reg`` penalizes. ``loss`` adds ``0.5 * reg * sum(w**2)`` of
    #: each to the loss and ``reg * w`` to its gradient, and uses ``reg`` for nothing
    #: else; ``loss(..., l2=False)`` leaves that term out, for a caller that takes it
    #: as weight decay in the update (the Solver, with a compiled rule). A subclass
    #: whose loss uses ``reg`` otherwise must set this to ``()``.
    l2_params: tuple[str, ...] = ("W1", "W2")

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float | str = 1e-3,
        reg: float = 0.0,
        *,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        label_smoothing: float = 0.0,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
    ) -> None:
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.num_classes = check_positive_int(num_classes, "num_classes")
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise ValueError(f"dtype must be a floating type such as float32, got {dtype}")
        if weight_scale != "he" and not (
            isinstance(weight_scale, (int, float))
            and np.isfinite(weight_scale)
            and weight_scale > 0
        ):
            raise ValueError(
                f'weight_scale must be a positive number or "he", got {weight_scale!r}'
            )
        if not np.isfinite(reg) or reg < 0:
            raise ValueError(f"reg must be a finite number >= 0, got {reg!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing!r}")
        check_drop_probability(dropout, "dropout")
        check_drop_probability(input_dropout, "input_dropout")
        self.weight_scale = weight_scale
        self.reg = float(reg)
        self.label_smoothing = float(label_smoothing)
        self.dropout = float(dropout)
        self.input_dropout = float(input_dropout)
        self.seed = seed

        rng = np.random.default_rng(seed)
        D, H, C = self.input_dim, self.hidden_dim, self.num_classes

        def init(fan_in: int, fan_out: int) -> np.ndarray:
            std = np.sqrt(2.0 / fan_in) if weight_scale == "he" else float(weight_scale)
            return (std * rng.standard_normal((fan_in, fan_out))).astype(dtype)

        self.params: dict[str, np.ndarray] = {
            "W1": init(D, H),
            "b1": np.zeros(H, dtype=dtype),
            "W2": init(H, C),
            "b2": np.zeros(C, dtype=dtype),
        }

    @property
    def dtype(self) -> np.dtype:
        """The dtype the net computes in: that of ``params["W1"]``."""
        return self.params["W1"].dtype

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        """Flatten X to (N, D) in the compute dtype, checking its shape and values."""
        X = np.asarray(X)
        if X.ndim < 2:
            raise ValueError(f"X must have shape (N, ...) with one example per row, got {X.shape}")
        X = X.reshape(X.shape[0], -1)
        if X.shape[1] != self.params["W1"].shape[0]:
            raise ValueError(
                f"X has {X.shape[1]} features per example but the model expects "
                f"{self.params['W1'].shape[0]} (input_dim); reshape X or build the model to match"
            )
        X = X.astype(self.dtype, copy=False)
        check_finite(X)
        return X

    # Two signatures for the type checker: scores without y, (loss, grads) with it.
    @overload
    def loss(
        self, X: np.ndarray, y: None = None, *, rng: np.random.Generator | None = None
    ) -> np.ndarray: ...
    @overload
    def loss(
        self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator | None = None
    ) -> tuple[float, dict[str, np.ndarray]]: ...
    def loss(
        self,
        X: np.ndarray,
        y: np.ndarray | None = None,
        *,
        rng: np.random.Generator | None = None,
        l2: bool = True,
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores, or the loss and its gradients.

        X: (N, d_1, ..., d_k) with d_1 * ... * d_k = D; y: (N,) integer labels, (N, C)
        target distributions (mixup's, see :func:`twolayer.layers.softmax_loss`), or
        None. Without y, returns scores (N, C). With y, returns ``(loss, grads)`` with
        grads keyed and shaped like ``params``. ``rng`` draws the dropout masks of a
        training step (with y); without it, nothing is dropped. ``l2=False`` leaves
        out the L2 penalty (its value and its gradient).
        """
        X = self._prepare(X)
        if y is not None:
            check_targets(y, self.params["W2"].shape[1], n=X.shape[0])
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
        W1, b1, W2, b2 = (self.params[k] for k in PARAM_NAMES)
        rng = None if y is None else rng  # dropout only while training

        # Forward: affine - ReLU - affine gives the class scores (dropout: identity when off).
        X, _ = dropout_forward(X, self.input_dropout, rng)
        a1, cache1 = affine_forward(X, W1, b1)
        h, relu_cache = relu_forward(a1, inplace=True)  # a1 is ours alone
        h, drop_h = dropout_forward(h, self.dropout, rng)
        scores, cache2 = affine_forward(h, W2, b2)
        if y is None:
            return scores

        # Backward: the softmax loss's gradient, passed back through each layer in turn
        # (the input's dropout needs no backward pass: nothing wants dX).
        loss, dscores = softmax_loss(scores, y, label_smoothing=self.label_smoothing)
        dh, dW2, db2 = affine_backward(dscores, cache2)
        dh = dropout_backward(dh, drop_h)
        da1 = relu_backward(dh, relu_cache, inplace=True)  # dh is ours alone
        _, dW1, db1 = affine_backward(da1, cache1, compute_dx=False)  # no use for dX
        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

        # L2 penalty on the weights (not the biases) and its gradient, reg * W.
        if self.reg and l2:
            # float(): the loss stays a Python float (float64) when the net is float32.
            loss += 0.5 * self.reg * float(np.sum(W1 * W1) + np.sum(W2 * W2))
            grads["W1"] += self.reg * W1
            grads["W2"] += self.reg * W2
        return loss, grads

    def predict_proba(self, X: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class probabilities (N, C), computed ``batch_size`` rows at a time."""
        batch_size = check_positive_int(batch_size, "batch_size")
        n = np.shape(X)[0]
        out = np.empty((n, self.params["W2"].shape[1]), dtype=self.dtype)
        for start in range(0, n, batch_size):
            scores = self.loss(X[start : start + batch_size])
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=1, keepdims=True)
            out[start : start + batch_size] = scores
        return out

    def predict(self, X: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Predicted labels (N,) as int64, computed ``batch_size`` rows at a time."""
        batch_size = check_positive_int(batch_size, "batch_size")
        n = np.shape(X)[0]
        out = np.empty(n, dtype=np.int64)
        for start in range(0, n, batch_size):
            out[start : start + batch_size] = self.loss(X[start : start + batch_size]).argmax(1)
        return out

    def config(self) -> dict:
        """The constructor arguments, JSON-serializable."""
        return {
            "input_dim": self.input_dim,
            "hidden_dim": self.hidden_dim,
            "num_classes": self.num_classes,
            "weight_scale": self.weight_scale,
            "reg": self.reg,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "label_smoothing": self.label_smoothing,
            "dropout": self.dropout,
            "input_dropout": self.input_dropout,
        }

    def save(self, path: str | os.PathLike, **extra: np.ndarray) -> Path:
        """Write params and constructor arguments to a ``.npz``, atomically.

        ``extra`` arrays (e.g. the preprocessing's mean image) are stored beside them
        and come back from :meth:`load_extra`.
        """
        arrays = {k: self.params[k] for k in PARAM_NAMES}
        arrays["config_json"] = np.array(json.dumps(self.config()))
        for key, value in extra.items():
            arrays[f"extra_{key}"] = np.asarray(value)
        return atomic_savez(path, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TwoLayerNet:
        """Rebuild a net written by :meth:`save` (no pickle is ever loaded).

        A model file of ``twolayer train`` also holds the preprocessing its inputs need,
        which the net alone does not apply: that warns, naming
        ``twolayer.Classifier.load(run_dir)``, which does. Raises FileNotFoundError, or
        ValueError naming the file if it is damaged (weights of the wrong shape or type,
        NaN or infinite ones included).
        """
        model, extra = cls.load_with_extra(path)
        if "prep_mean" in extra:
            warnings.warn(
                f"{path} holds the preprocessing of its inputs, which TwoLayerNet does not "
                "apply: raw inputs give wrong predictions. Use "
                "twolayer.Classifier.load(run_dir) to classify raw inputs",
                UserWarning,
                stacklevel=2,
            )
        return model

    @classmethod
    def load_with_extra(cls, path: str | os.PathLike) -> tuple[TwoLayerNet, dict[str, np.ndarray]]:
        """The net written by :meth:`save` and its ``extra`` arrays, read at once."""
        arrays = read_npz(path, "model file")
        with reading(path, "model file"):
            config = json.loads(str(arrays["config_json"]))
            model = cls(**{**config, "seed": config.get("seed")})
            for k in PARAM_NAMES:
                v = arrays[k]
                if v.shape != model.params[k].shape:
                    raise ValueError(
                        f"{path}: {k} has shape {v.shape}, expected {model.params[k].shape}"
                    )
                # Weights that are not real floats, or not finite, would give NaN or
                # complex "probabilities" without a word.
                if v.dtype.kind != "f":
                    raise ValueError(f"{path} is damaged: {k} holds {v.dtype}, not real numbers")
                if not np.isfinite(v).all():
                    raise ValueError(f"{path} is damaged: {k} holds NaN or infinite values")
                model.params[k] = v
        extra = {k[len("extra_") :]: v for k, v in arrays.items() if k.startswith("extra_")}
        return model, extra

    @staticmethod
    def load_extra(path: str | os.PathLike) -> dict[str, np.ndarray]:
        """The ``extra`` arrays stored by :meth:`save`."""
        return TwoLayerNet.load_with_extra(path)[1]
