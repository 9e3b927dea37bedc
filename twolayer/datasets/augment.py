"""Random data augmentation for image batches, for the Solver's ``augment(X_batch, rng)`` hook.

All helpers take channels-first batches of shape (N, C, H, W) in any dtype, return a new
array of the same shape and dtype (the input is never modified), draw every random number
from the ``rng`` they are given (so a seeded run is reproducible) and are vectorised over
the batch.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _check_shift(max_shift: object) -> int:
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative integer, got {max_shift!r}")
    return int(max_shift)


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
    k = _check_shift(max_shift)
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


class _Augment:
    """Flip and/or translate, named after its settings because the Solver logs it by name."""

    def __init__(self, flip: bool, translate: int) -> None:
        self.flip = flip
        self.translate = translate
        parts = (["flip"] if flip else []) + ([f"translate{translate}"] if translate else [])
        # Instances have no __qualname__ of their own; set both so any name lookup reads well.
        self.__name__ = self.__qualname__ = "+".join(parts)

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.flip:
            X = random_flip(X, rng)
        if self.translate:
            X = random_translate(X, rng, self.translate)
        return X

    def __repr__(self) -> str:
        return f"make_augment(flip={self.flip}, translate={self.translate})"


def make_augment(flip: bool = True, translate: int = 2) -> AugmentFn:
    """Return ``augment(X, rng) -> X`` applying a random flip and/or random translation.

    ``translate`` is the largest shift in pixels (0 turns it off). The result's ``__name__``
    reads like ``"flip+translate2"``. Asking for neither raises ``ValueError``: pass
    ``augment=None`` to the Solver instead.
    """
    translate = _check_shift(translate)
    if not flip and not translate:
        raise ValueError(
            "make_augment(flip=False, translate=0) would do nothing; pass augment=None instead"
        )
    return _Augment(bool(flip), translate)


def augment_from_spec(spec: str) -> AugmentFn | None:
    """The augmentation a spec names, as :func:`make_augment` names its results.

    ``spec`` is "none" (returns None) or "flip" and/or "translateK" (K pixels) joined
    by "+", e.g. "flip+translate2". Raises ValueError for anything else.
    """
    if not isinstance(spec, str):
        raise ValueError(
            f'an augmentation spec is a string such as "flip+translate2", got {spec!r}'
        )
    if spec == "none":
        return None
    flip, translate = False, 0
    for part in spec.split("+"):
        if part == "flip":
            flip = True
        elif part.startswith("translate") and part[len("translate") :].isdigit():
            translate = int(part[len("translate") :])
        else:
            raise ValueError(
                f'unknown augmentation {part!r} in {spec!r}: use "flip", "translateK" '
                '(K pixels), joined by "+", or "none"'
            )
    return make_augment(flip=flip, translate=translate) if flip or translate else None
