"""Decoding image files into one uint8 array, on every core, with a progress bar.

Every image becomes a square: the largest centred square is cropped (so nothing
is stretched) and resized to ``image_size`` with Pillow's antialiased bicubic
filter; a square image is only resized, one already that size is unchanged.
A photo's EXIF orientation is applied first, so that it decodes upright.
Colour images become RGB (N, S, S, 3), grayscale ones (N, S, S, 1); transparency
is dropped; 16-bit and float grayscale pixels are scaled to 8 bits, not clipped.
Large JPEGs are decoded at a reduced scale first (Pillow's ``draft``),
which is much faster and loses nothing that the resize would keep.

Opening a small file is mostly Python work that holds the GIL, so many files are
decoded in worker processes, in chunks; a few are decoded in this process. The workers
end with this process, even when it is killed (:mod:`twolayer._workers`). Images
over Pillow's ``Image.MAX_IMAGE_PIXELS`` are refused as possible decompression
bombs, never decoded.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageOps
from tqdm.std import tqdm  # not tqdm.auto, which warns in a notebook without ipywidgets

from twolayer._signals import sigterm_as_ctrl_c
from twolayer._validate import check_positive_int
from twolayer._workers import end_with_parent, spawn_context, stop_pool

#: File name endings read as images (compared without case).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

_CHUNK = 256  # files per worker task: enough to hide the task overhead, small for the bar
_MIN_PARALLEL = 2 * _CHUNK  # fewer files decode faster here than worker start-up takes


class BadImageError(ValueError):
    """An image file that cannot be decoded (corrupt, truncated, too large, not an image)."""


def is_image_file(path: str | os.PathLike) -> bool:
    """True for a non-hidden file name with one of :data:`IMAGE_EXTENSIONS`."""
    name = os.path.basename(path)
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _centre_square(width: int, height: int) -> tuple[int, int, int, int]:
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def decode_image(
    path: str | os.PathLike, image_size: int = 32, grayscale: bool = False
) -> np.ndarray:
    """The image file at ``path`` as (S, S, 3) uint8 RGB, or (S, S, 1) with ``grayscale``.

    See the module docstring for the crop and resize rule. Raises ``BadImageError``
    naming the file if it cannot be decoded, and ``FileNotFoundError`` if it is gone.
    """
    mode = "L" if grayscale else "RGB"
    if not os.path.isfile(path):
        # A FIFO named .jpg would block the read forever; a broken link is not "missing".
        if not os.path.lexists(path):
            raise FileNotFoundError(f"image not found: {path}")
        why = "a link to a missing file" if os.path.islink(path) else "not a regular file"
        raise BadImageError(f"{path} is not a readable image (it is {why})")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image  # Image.open's ImageFile, then the converted copies
            with Image.open(path) as image:
                image.draft(mode, (image_size, image_size))  # JPEG: decode at 1/2..1/8 scale
                image = ImageOps.exif_transpose(image)  # photos upright, as viewers show them
                if image.mode == "P" or image.mode.endswith("A"):
                    image = image.convert("RGBA")  # palette transparency, then drop alpha
                elif image.mode in ("I", "F") or image.mode.startswith("I;16"):
                    image = _eight_bit(image, path)
                image = image.convert(mode)
                if image.width != image.height:
                    # crop first: resize(box=...) would blend in pixels from outside the box
                    image = image.crop(_centre_square(*image.size))
                if image.size != (image_size, image_size):
                    image = image.resize((image_size, image_size), Image.Resampling.BICUBIC)
                pixels = np.asarray(image, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image not found: {path}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadImageError(
            f"{path}: refused as a possible decompression bomb ({e}); shrink the image, or "
            "raise PIL.Image.MAX_IMAGE_PIXELS if you trust it"
        ) from None
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as e:
        # Pillow reports damage as OSError ("truncated"), ValueError or SyntaxError.
        reason = " ".join(str(e).split()) or type(e).__name__
        raise BadImageError(f"{path} is not a readable image ({reason})") from None
    return pixels.reshape(image_size, image_size, -1)


def _eight_bit(image: Image.Image, path: str | os.PathLike) -> Image.Image:
    """A 16-bit or float grayscale image as 8-bit "L". Pillow's own conversion clips
    such pixels to 0..255 (a 16-bit photo turns white, a float one black): they are
    scaled instead, from 16 bits, from [0, 1], or else (with a warning) from their range."""
    values = np.asarray(image, dtype=np.float64)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if image.mode.startswith("I;16") or (image.mode == "I" and 0 <= lo and hi <= 65535):
        scale, offset = 255 / 65535, 0.0
    elif image.mode == "F" and 0 <= lo and hi <= 1:
        scale, offset = 255.0, 0.0
    else:
        scale, offset = 255 / max(hi - lo, 1e-12), lo
        print(
            f"warning: {path} has {image.mode} pixels in [{lo:g}, {hi:g}], a range with no "
            "known meaning; stretched to 0..255",
            file=sys.stderr,
        )
    return Image.fromarray(np.clip(np.rint((values - offset) * scale), 0, 255).astype(np.uint8))


def _decode_chunk(
    paths: Sequence[str], image_size: int, grayscale: bool
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Decode ``paths``: images (n, S, S, C), zeros where a file failed, and (index, reason)s."""
    out = np.zeros((len(paths), image_size, image_size, 1 if grayscale else 3), np.uint8)
    bad = []
    for i, path in enumerate(paths):
        try:
            out[i] = decode_image(path, image_size, grayscale)
        except BadImageError as e:
            bad.append((i, str(e)))
    return out, bad


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def decode_images(
    paths: Sequence[str | os.PathLike],
    image_size: int = 32,
    grayscale: bool = False,
    skip_bad: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``paths`` (N files): ``(images, bad)``.

    ``images`` is (M, S, S, C) uint8 for the M readable files, in order; ``bad`` (N - M,)
    int64 the indices of the others. Without ``skip_bad`` the first unreadable file
    raises ``BadImageError`` naming it. ``workers`` processes decode (default: every
    core this process may use; 1 decodes here); ``progress`` shows a tqdm bar.
    """
    image_size = check_positive_int(image_size, "image_size")
    names = [os.fspath(p) for p in paths]
    n = len(names)
    workers = default_workers() if workers is None else check_positive_int(workers, "workers")
    images = np.empty((n, image_size, image_size, 1 if grayscale else 3), np.uint8)
    bad: list[int] = []
    starts = range(0, n, _CHUNK)
    bar = tqdm(total=n, desc="decoding images", unit="img", disable=not progress or None)
    try:
        if workers == 1 or n < _MIN_PARALLEL:
            results = (_decode_chunk(names[s : s + _CHUNK], image_size, grayscale) for s in starts)
            _collect(zip(starts, results, strict=False), images, bad, skip_bad, bar)
        else:
            # The workers end with this process, however it ends; SIGTERM is Ctrl-C here.
            pool = ProcessPoolExecutor(
                workers, spawn_context(), initializer=end_with_parent, initargs=(os.getpid(),)
            )
            try:
                with sigterm_as_ctrl_c():
                    futures = [
                        pool.submit(_decode_chunk, names[s : s + _CHUNK], image_size, grayscale)
                        for s in starts
                    ]
                    results = (f.result() for f in futures)
                    _collect(zip(starts, results, strict=True), images, bad, skip_bad, bar)
            except BaseException:
                stop_pool(pool)
                raise
            pool.shutdown()
    finally:
        bar.close()
    if bad:
        images = images[np.setdiff1d(np.arange(n), bad)]
    return images, np.asarray(bad, dtype=np.int64)


def _collect(
    results: Iterable[tuple[int, tuple[np.ndarray, list[tuple[int, str]]]]],
    images: np.ndarray,
    bad: list[int],
    skip_bad: bool,
    bar: tqdm,
) -> None:
    """Copy each chunk's images into place and record (or raise on) its bad files."""
    for start, (chunk, chunk_bad) in results:
        if chunk_bad and not skip_bad:
            raise BadImageError(
                f"{chunk_bad[0][1]}; delete or replace it, or skip unreadable images "
                "(skip_bad=True, --skip-bad)"
            )
        images[start : start + len(chunk)] = chunk
        bad.extend(start + i for i, _ in chunk_bad)
        bar.update(len(chunk))
