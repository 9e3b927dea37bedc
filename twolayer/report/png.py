"""PNG images as bytes and data: URIs, for pictures inlined in a report.

A minimal encoder (zlib from the standard library, no filter): a report's pictures
are small, and encoding them costs little next to matplotlib's figure machinery.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def encode_png(image: np.ndarray) -> bytes:
    """An 8-bit PNG of ``image``: uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"encode_png needs uint8 pixels, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in _COLOR_TYPES or 0 in image.shape:
        raise ValueError(
            f"encode_png needs (H, W), (H, W, 3) or (H, W, 4) pixels, got {image.shape}"
        )
    h, w, c = image.shape
    rows = np.zeros((h, 1 + w * c), dtype=np.uint8)  # each row: filter byte 0, then pixels
    rows[:, 1:] = image.reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPES[c], 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _chunk(b"IEND", b""),
        )
    )


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


def png_data_uri(image: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI of a uint8 image (see :func:`encode_png`)."""
    return "data:image/png;base64," + base64.b64encode(encode_png(image)).decode("ascii")
