"""Datasets for twolayer: the CS231n spiral, CIFAR-10 (safe download, loading and the
CS231n split), the user's own data (image folders, CSV, npz) and augmentation.

    from twolayer.datasets import get_cifar10_data, make_augment
    data = get_cifar10_data("data")            # X_train (49000, 3, 32, 32) float32, ...
    data = load_dataset("photos")              # X_train (N, 32, 32, 3) uint8, class_names
    augment = make_augment(flip=True, translate=2)

The course's ``load_CIFAR10(ROOT)`` and ``get_CIFAR10_data(num_training, ...)`` are
here too, with its signatures and float64 results.
"""

from twolayer.cache import cache_dir
from twolayer.datasets.augment import (
    augment_from_spec,
    gaussian_noise,
    make_augment,
    random_cutout,
    random_flip,
    random_translate,
)
from twolayer.datasets.cifar10 import (
    CLASSES,
    UnsafePickleError,
    get_CIFAR10_data,
    get_cifar10_data,
    load_CIFAR10,
    load_cifar10,
)
from twolayer.datasets.download import CIFAR10_MD5, CIFAR10_URL, download_cifar10
from twolayer.datasets.folder import load_image_folder
from twolayer.datasets.images import IMAGE_EXTENSIONS, BadImageError, decode_image, decode_images
from twolayer.datasets.labels import apply_labels, encode_labels, train_val_split
from twolayer.datasets.source import detect_format, load_dataset
from twolayer.datasets.spiral import make_spiral, spiral_splits
from twolayer.datasets.tabular import load_csv, load_npz
from twolayer.datasets.tta import TTA_VIEWS, tta_proba

__all__ = [
    "apply_labels",
    "augment_from_spec",
    "BadImageError",
    "cache_dir",
    "decode_image",
    "decode_images",
    "detect_format",
    "encode_labels",
    "gaussian_noise",
    "IMAGE_EXTENSIONS",
    "load_csv",
    "load_dataset",
    "load_image_folder",
    "load_npz",
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "CLASSES",
    "UnsafePickleError",
    "download_cifar10",
    "get_cifar10_data",
    "get_CIFAR10_data",
    "load_cifar10",
    "load_CIFAR10",
    "make_augment",
    "make_spiral",
    "random_cutout",
    "random_flip",
    "random_translate",
    "spiral_splits",
    "train_val_split",
    "TTA_VIEWS",
    "tta_proba",
]
