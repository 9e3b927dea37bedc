"""Random data augmentation for image batches, for the Solver's ``augment(X_batch, rng)`` hook.

All helpers take channels-first batches of shape (N, C, H, W) in any dtype, return a new
array of the same shape and dtype (the input is never modified), draw every random number
from the ``rng`` they are given (so a seeded run is reproducible) and are vectorised over
the batch. The Solver augments the preprocessed images, in which zero is the mean image:
zero-filling (translate, cutout) fills with the mean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

AugmentFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _check_batch(X: np.ndarray) -> None:
    if not isinstance(X, np.ndarray) or X.ndim != 4:
        shape = getattr(X, "shape", None)
        raise ValueError(
            f"augmentation needs a batch of images of shape (N, C, H, W), got shape {shape}; "
            "reshape flat rows with X.reshape(-1, 3, 32, 32)"
        )


def _check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _check_std(std: Any, name: str) -> float:
    number = isinstance(std, (int, float, np.number)) and not isinstance(std, bool)
    if not (number and math.isfinite(std) and std >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {std!r}")
    return float(std)


def random_flip(X: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Mirror each image left-right with probability ``p``; (N, C, H, W) in, same out."""
    _check_batch(X)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    flip = np.flatnonzero(rng.random(X.shape[0]) < p)
    out = X.copy()
    out[flip] = X[flip, ..., ::-1]
    return out


def random_translate(X: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Shift each image by its own random (dy, dx) in [-max_shift, max_shift], zero-filling.

    Equivalent to zero-padding every image by ``max_shift`` pixels and cropping an H x W
    window at a random offset; (N, C, H, W) in, same shape and dtype out.
    """
    _check_batch(X)
    k = _check_count(max_shift, "max_shift")
    N, C, H, W = X.shape
    if k >= min(H, W):
        raise ValueError(f"max_shift={k} would move {H}x{W} images entirely out of frame")
    shift = rng.integers(-k, k + 1, size=(2, N))
    padded = np.zeros((N, C, H + 2 * k, W + 2 * k), dtype=X.dtype)
    padded[:, :, k : k + H, k : k + W] = X
    # windows[n, c, i, j] is the H x W crop of image n starting at (i, j): one gather picks
    # every image's own crop, with no Python loop over the batch.
    windows = sliding_window_view(padded, (H, W), axis=(2, 3))
    return windows[np.arange(N), :, k - shift[0], k - shift[1]]


def random_cutout(X: np.ndarray, rng: np.random.Generator, size: int = 8) -> np.ndarray:
    """Zero a ``size`` x ``size`` square of each image, in every channel (cutout).

    Each square's centre is drawn uniformly over its image, so a square may reach past
    the border and be cut off there; (N, C, H, W) in, same shape and dtype out.
    """
    _check_batch(X)
    k = _check_count(size, "size")
    N, _, H, W = X.shape
    top, left = (rng.integers(0, (H, W), size=(N, 2)) - k // 2).T
    # rows[n, i] = 0 at the first row of image n's square; the square's rows and columns
    # (N, H) and (N, W) make a mask (N, 1, H, W) that broadcasts over the channels.
    rows, cols = np.arange(H) - top[:, None], np.arange(W) - left[:, None]
    in_rows, in_cols = (rows >= 0) & (rows < k), (cols >= 0) & (cols < k)
    square = in_rows[:, None, :, None] & in_cols[:, None, None, :]
    return np.where(square, X.dtype.type(0), X)


def gaussian_noise(X: np.ndarray, rng: np.random.Generator, std: float = 0.1) -> np.ndarray:
    """Add independent N(0, std**2) noise to every value of the batch.

    (N, C, H, W) in, same shape and dtype out; the noise is drawn in float32 (float64
    for float64 images), and integer images are rounded and clipped to their dtype.
    """
    _check_batch(X)
    std = _check_std(std, "std")
    out = rng.standard_normal(X.shape, dtype=np.float64 if X.dtype == np.float64 else np.float32)
    out *= std
    out += X
    if X.dtype.kind in "iu":
        info = np.iinfo(X.dtype)
        np.clip(np.rint(out, out=out), info.min, info.max, out=out)
    return out.astype(X.dtype, copy=False)


#: The forms of the parts of an augmentation spec, for help texts and error messages.
SPEC_FORMS = (
    '"flip", "translateK" (shifts of up to K pixels), "cutoutK" (a K x K square zeroed), '
    '"noiseS" (Gaussian noise of std S), joined by "+", or "none"'
)
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)(e[-+]?\d+)?", re.IGNORECASE)


class _Augment:
    """Flip, translate, cutout and/or noise, named after its settings because the Solver
    logs it by name."""

    def __init__(self, flip: bool, translate: int, cutout: int, noise: float) -> None:
        self.flip, self.translate, self.cutout, self.noise = flip, translate, cutout, noise
        parts = (
            (["flip"] if flip else [])
            + ([f"translate{translate}"] if translate else [])
            + ([f"cutout{cutout}"] if cutout else [])
            + ([f"noise{noise:g}"] if noise else [])
        )
        # Instances have no __qualname__ of their own; set both so any name lookup reads well.
        self.__name__ = self.__qualname__ = "+".join(parts)

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.flip:
            X = random_flip(X, rng)
        if self.translate:
            X = random_translate(X, rng, self.translate)
        if self.cutout:
            X = random_cutout(X, rng, self.cutout)
        if self.noise:
            X = gaussian_noise(X, rng, self.noise)
        return X

    def __repr__(self) -> str:
        extra = (f", cutout={self.cutout}" if self.cutout else "") + (
            f", noise={self.noise}" if self.noise else ""
        )
        return f"make_augment(flip={self.flip}, translate={self.translate}{extra})"


def make_augment(
    flip: bool = True, translate: int = 2, cutout: int = 0, noise: float = 0.0
) -> AugmentFn:
    """Return ``augment(X, rng) -> X``: a random flip, translation, cutout and/or noise.

    ``translate`` is the largest shift in pixels, ``cutout`` the side of the square
    zeroed (:func:`random_cutout`), ``noise`` the std of the Gaussian noise added
    (:func:`gaussian_noise`); 0 turns each off. They are applied in that order. The
    result's ``__name__`` reads like ``"flip+translate2+cutout8"``. Asking for none
    raises ``ValueError``: pass ``augment=None`` to the Solver instead.
    """
    translate, cutout = _check_count(translate, "translate"), _check_count(cutout, "cutout")
    noise = _check_std(noise, "noise")
    if not (flip or translate or cutout or noise):
        raise ValueError(
            "make_augment(flip=False, translate=0) with no cutout or noise would do nothing; "
            "pass augment=None instead"
        )
    return _Augment(bool(flip), translate, cutout, noise)


def augment_from_spec(spec: str) -> AugmentFn | None:
    """The augmentation a spec names, as :func:`make_augment` names its results.

    ``spec`` is "none" (returns None) or parts joined by "+": "flip", "translateK"
    (K pixels), "cutoutK" (a K x K square), "noiseS" (std S), e.g.
    "flip+translate2+cutout8". Raises ValueError for anything else.
    """
    if not isinstance(spec, str):
        raise ValueError(
            f'an augmentation spec is a string such as "flip+translate2", got {spec!r}'
        )
    if spec == "none":
        return None
    settings: dict[str, Any] = {"flip": False, "translate": 0, "cutout": 0, "noise": 0.0}
    for part in spec.split("+"):
        name = next((n for n in ("translate", "cutout", "noise") if part.startswith(n)), "")
        value = part[len(name) :]
        if part == "flip":
            settings["flip"] = True
        elif name in ("translate", "cutout") and value.isdecimal():
            settings[name] = int(value)
        elif name == "noise" and _NUMBER.fullmatch(value) and math.isfinite(float(value)):
            settings[name] = float(value)
        else:
            raise ValueError(f"unknown augmentation {part!r} in {spec!r}: use {SPEC_FORMS}")
    return make_augment(**settings) if any(settings.values()) else None
