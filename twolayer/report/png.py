"""PNG images as bytes, data: URIs and files, encoded by Pillow.

Every picture twolayer writes as a PNG, inline in a report or as a file beside it,
goes through :func:`encode_png`, so the two are the same bytes.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from twolayer._io import atomic_write

_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA


def encode_png(image: np.ndarray, zoom: int = 1) -> bytes:
    """An 8-bit PNG of ``image``: uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA,
    each pixel repeated ``zoom`` times along both axes (sharp, not smoothed)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"encode_png needs uint8 pixels, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in _CHANNELS):
        raise ValueError(
            f"encode_png needs (H, W), (H, W, 3) or (H, W, 4) pixels, got {image.shape}"
        )
    if 0 in image.shape:
        raise ValueError(f"encode_png needs at least one pixel, got {image.shape}")
    if zoom > 1:
        image = image.repeat(zoom, axis=0).repeat(zoom, axis=1)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="png")
    return buf.getvalue()


def to_uint8(image: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """``image`` mapped linearly from [lo, hi] (default: its own finite range) to 0..255."""
    image = np.asarray(image, dtype=np.float32)
    finite = image[np.isfinite(image)]
    if lo is None:
        lo = float(finite.min()) if finite.size else 0.0
    if hi is None:
        hi = float(finite.max()) if finite.size else 1.0
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    out = np.nan_to_num((image - lo) * scale, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def png_data_uri(image: np.ndarray, zoom: int = 1) -> str:
    """A ``data:image/png;base64,...`` URI of a uint8 image (see :func:`encode_png`)."""
    return "data:image/png;base64," + base64.b64encode(encode_png(image, zoom)).decode("ascii")


def save_png(image: np.ndarray, path: str | os.PathLike, zoom: int = 1) -> Path:
    """Write :func:`encode_png` of ``image`` to ``path`` atomically; return the path."""
    data = encode_png(image, zoom)

    def write(f: BinaryIO) -> None:
        f.write(data)

    return atomic_write(path, write)
