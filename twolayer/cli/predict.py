"""Classify image files with a model trained by `twolayer train cifar10`.

Each image (PNG, JPEG, or any format Pillow reads) is converted to RGB, resized
to 32x32 and processed exactly as the training images were (the run's saved
mean and ZCA whitening); the probabilities are averaged over the run's
test-time views, and the top classes are printed.

examples:
  twolayer predict runs/cifar10-20261125-160000 cat.jpg truck.png
  twolayer predict runs/cifar10-20261125-160000 photos/*.jpg --top 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from twolayer.cli.args import add_command, positive_int
from twolayer.cli.runs import check_run_dir
from twolayer.datasets import tta_proba
from twolayer.model import TwoLayerNet
from twolayer.preprocess import Preprocessor

IMAGE_SIZE = 32


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "predict",
        run_predict,
        "classify image files with a trained CIFAR-10 run",
        __doc__,
    )
    p.add_argument("run_dir", help="a run directory written by `twolayer train cifar10`")
    p.add_argument("images", nargs="+", help="image files to classify")
    p.add_argument("--top", type=positive_int, default=3, help="classes shown per image")


def load_image(path: Path) -> np.ndarray:
    """The image at ``path`` as (32, 32, 3) uint8 RGB."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
            return np.asarray(image, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path} is not a readable image ({e})") from None


def load_classifier(run_dir: Path) -> tuple[TwoLayerNet, Preprocessor, list[str], str]:
    """The model of a CIFAR-10 run, its preprocessing, class names and test-time views."""
    path = run_dir / "model.npz"
    if not path.is_file():
        raise ValueError(f"{run_dir} has no model.npz; did its training finish?")
    model = TwoLayerNet.load(path)
    extra = TwoLayerNet.load_extra(path)
    if "class_names" not in extra:
        raise ValueError(f"{path} has no preprocessing or class names: not a CIFAR-10 run")
    classes = [str(c) for c in extra["class_names"]]
    return model, Preprocessor.from_state(extra), classes, str(extra.get("tta", "none"))


def run_predict(args: argparse.Namespace) -> int:
    model, prep, classes, views = load_classifier(check_run_dir(args.run_dir))
    paths = [Path(p) for p in args.images]
    images = np.stack([load_image(p) for p in paths])
    X = prep.transform(images, np.float32, channels_last=True)
    probs = tta_proba(model.predict_proba, X, views)  # as the run's test accuracy was taken
    top = min(args.top, len(classes))
    for path, p in zip(paths, probs, strict=True):
        best = np.argsort(p)[::-1][:top]
        print(f"{path}: " + ", ".join(f"{classes[k]} {p[k]:.3f}" for k in best))
    return 0
