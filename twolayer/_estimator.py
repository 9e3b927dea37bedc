"""scikit-learn's estimator conventions, without scikit-learn: parameters, tags, input checks.

    class Net(Estimator):
        def __init__(self, *, hidden=None):  # stored as given, checked in fit
            self.hidden = hidden

    Net(hidden=64).get_params()          # {"hidden": 64}; set_params, sklearn.base.clone work
    X = check_X(X); y = check_y(y, len(X))

scikit-learn is never imported here but in ``__sklearn_tags__``, which only
scikit-learn calls. The messages follow scikit-learn's wording where its estimator
checks (``sklearn.utils.estimator_checks``) look for it.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from typing import Any

import numpy as np


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit`` (scikit-learn's exception has the same bases)."""


class DataConversionWarning(UserWarning):
    """Input data was converted (scikit-learn's warning of the same name)."""


class Estimator:
    """``get_params``/``set_params`` from ``__init__``'s keyword parameters, a short repr,
    and the tags that tell scikit-learn this is a classifier."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.kind == p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their values, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Set constructor parameters (checked in ``fit``, not here); returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = [
            f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(),
            input_tags=InputTags(),
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise _not_fitted_error()(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )


@functools.cache
def _sklearn_not_fitted() -> type[NotFittedError]:
    from sklearn.exceptions import NotFittedError as SklearnNotFitted

    return type("NotFittedError", (NotFittedError, SklearnNotFitted), {})


def _not_fitted_error() -> type[NotFittedError]:
    """NotFittedError; where scikit-learn is loaded, one that is its NotFittedError too."""
    return _sklearn_not_fitted() if "sklearn" in sys.modules else NotFittedError


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):  # arrays compare element-wise
        return False


def check_X(X: Any, *, images: bool = True) -> np.ndarray:
    """``X`` as a dense array: rows (N, D), or with ``images`` also (N, H, W, C) or
    (N, C, H, W); finite numbers, at least one row and one feature."""
    if X is None:
        raise ValueError("X is None: pass an array of shape (n_samples, n_features)")
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("sparse input is not supported: pass a dense array (X.toarray())")
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported; pass real numbers")
    if X.dtype.kind not in "biuf":
        X = X.astype(np.float64)  # a TypeError names a value that is not a number
    if X.ndim == 1:
        raise ValueError(
            f"Expected 2D array, got 1D array instead (shape {X.shape}). Reshape your data "
            "with X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample"
        )
    if X.ndim not in ((2, 4) if images else (2,)):
        kinds = "(N, D) rows or (N, H, W, C) / (N, C, H, W) images" if images else "(N, D)"
        raise ValueError(f"X must be {kinds}, got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}): nothing to fit on")
    if 0 in X.shape[1:]:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        what = "NaN" if np.isnan(X).any() else "infinity or a value too large"
        raise ValueError(f"Input X contains {what}; drop or fix those values")
    return X


def check_y(y: Any, n: int) -> np.ndarray:
    """``y`` as a 1-D array of ``n`` class labels (numbers or strings)."""
    if y is None:
        raise ValueError(
            "This classifier requires y to be passed, but the target y is None: pass the labels"
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            DataConversionWarning(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples, ), for example using ravel()."
            ),
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead")
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)} labels; they must match")
    if y.dtype.kind == "f":
        if np.isnan(y).any():
            raise ValueError("Input y contains NaN.")
        if np.isinf(y).any():
            raise ValueError(f"Input y contains infinity or a value too large for {y.dtype!r}.")
        if (y != np.round(y)).any():
            raise ValueError(
                "Unknown label type: continuous. A classifier takes class labels (strings or "
                "whole numbers), not continuous values"
            )
    if y.dtype.kind == "c":
        raise ValueError("Unknown label type: complex")
    return y
