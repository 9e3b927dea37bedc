"""Tests for image folders: layouts, decoding, the decode cache and every bad input.

Every test writes its own tiny PNG/JPEG/... files; caches go to tmp_path.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from twolayer.datasets import (
    BadImageError,
    cache_dir,
    decode_image,
    decode_images,
    image_cache,
    images,
    load_dataset,
    load_image_folder,
)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
COLOURS = {"cat": RED, "dog": GREEN, "emu": BLUE}


def write_image(path: Path, colour=RED, size=(12, 8), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format=fmt)
    return path


def make_folder(root: Path, per_class: int = 4, ext: str = "png") -> Path:
    """One class folder per entry of COLOURS, each image filled with its class's colour."""
    for name, colour in COLOURS.items():
        for i in range(per_class):
            write_image(root / name / f"{i}.{ext}", colour)
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Keep every test's decode cache in its own folder, never in the user's home."""
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "images"


def load(root, **kwargs):
    return load_image_folder(root, image_size=4, progress=False, **kwargs)


# --- layouts and decoding -------------------------------------------------------------------


def test_class_folders_load_with_names_labels_and_a_stratified_split(tmp_path):
    data = load(make_folder(tmp_path / "pets", per_class=10), val_fraction=0.2, seed=0)
    assert data["class_names"] == ["cat", "dog", "emu"]
    assert data["X_train"].shape == (24, 4, 4, 3) and data["X_train"].dtype == np.uint8
    assert np.bincount(data["y_val"]).tolist() == [2, 2, 2]
    assert "X_test" not in data and data["skipped"] == []
    # Each image's pixels carry its label's colour.
    for X, y in ((data["X_train"], data["y_train"]), (data["X_val"], data["y_val"])):
        for image, label in zip(X, y, strict=True):
            assert tuple(image[0, 0]) == COLOURS[data["class_names"][label]]


@pytest.mark.parametrize("ext", ["png", "jpg", "jpeg", "bmp", "gif", "webp", "JPG"])
def test_every_image_format_decodes(tmp_path, ext):
    data = load(make_folder(tmp_path / "pets", per_class=2, ext=ext))
    images_ = np.concatenate([data["X_train"], data["X_val"]])
    labels = np.concatenate([data["y_train"], data["y_val"]])
    assert images_.shape == (6, 4, 4, 3)
    for image, label in zip(images_, labels, strict=True):
        expected = COLOURS[data["class_names"][label]]
        np.testing.assert_allclose(image[1, 1], expected, atol=8)  # JPEG and WebP are lossy


def test_split_layout_with_test_and_val_ignores_other_entries(tmp_path):
    root = tmp_path / "cifar"
    make_folder(root / "train", per_class=3)
    make_folder(root / "test", per_class=2)
    make_folder(root / "val", per_class=1)
    # As /work/cifar-like folders hold: batches, logs, hidden files.
    (root / "cifar-10-batches-py").mkdir()
    (root / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"x")
    (root / "build.log").write_text("log")
    write_image(root / "train" / "cat" / ".hidden.png", BLUE)
    (root / "train" / "dog" / "notes.txt").write_text("not an image")
    data = load(root)
    assert data["class_names"] == ["cat", "dog", "emu"]
    assert data["X_train"].shape[0] == 9 and data["X_val"].shape[0] == 3
    assert data["X_test"].shape[0] == 6 and sorted(data["y_test"].tolist()) == [0, 0, 1, 1, 2, 2]


def test_split_layout_without_val_splits_train(tmp_path):
    root = tmp_path / "data"
    make_folder(root / "train", per_class=10)
    make_folder(root / "test", per_class=1)
    data = load(root, val_fraction=0.1)
    assert np.bincount(data["y_val"]).tolist() == [1, 1, 1]
    assert data["X_train"].shape[0] == 27 and data["X_test"].shape[0] == 3


def test_test_class_unknown_to_training_is_refused(tmp_path):
    root = tmp_path / "data"
    make_folder(root / "train")
    write_image(root / "test" / "zebra" / "0.png")
    with pytest.raises(ValueError, match="not among the training classes: 'zebra'"):
        load(root)


def test_images_in_nested_folders_and_numeric_class_names(tmp_path):
    root = tmp_path / "digits"
    for label in ("1", "2", "10"):
        for i in range(3):
            write_image(root / label / "batch" / f"{i}.png")
    assert load(root)["class_names"] == ["1", "2", "10"]


def test_wide_image_is_centre_cropped_not_stretched(tmp_path):
    # 30 x 10: red, green, blue thirds; the centre square is all green.
    image = Image.new("RGB", (30, 10), RED)
    image.paste(GREEN, (10, 0, 20, 10))
    image.paste(BLUE, (20, 0, 30, 10))
    image.save(tmp_path / "wide.png")
    pixels = decode_image(tmp_path / "wide.png", image_size=5)
    assert pixels.shape == (5, 5, 3)
    assert (pixels == GREEN).all()


def test_grayscale_and_transparent_images(tmp_path):
    write_image(tmp_path / "red.png", RED, size=(8, 8))
    gray = decode_image(tmp_path / "red.png", image_size=8, grayscale=True)
    assert gray.shape == (8, 8, 1) and gray[0, 0, 0] == 76  # ITU-R 601-2 luma of pure red
    Image.new("RGBA", (6, 6), (0, 0, 255, 0)).save(tmp_path / "clear.png")
    Image.new("P", (6, 6)).save(tmp_path / "palette.gif", transparency=0)
    assert decode_image(tmp_path / "clear.png", 6).shape == (6, 6, 3)
    assert decode_image(tmp_path / "palette.gif", 6).shape == (6, 6, 3)


def test_large_jpeg_is_decoded_at_reduced_scale_to_the_same_colour(tmp_path):
    write_image(tmp_path / "big.jpg", GREEN, size=(800, 600))
    np.testing.assert_allclose(
        decode_image(tmp_path / "big.jpg", 8), np.full((8, 8, 3), GREEN), atol=8
    )


def test_worker_processes_decode_in_order_and_report_bad_files(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "_CHUNK", 2)
    monkeypatch.setattr(images, "_MIN_PARALLEL", 4)
    colours = [RED, GREEN, BLUE, RED, GREEN]
    paths = [write_image(tmp_path / f"{i}.png", c) for i, c in enumerate(colours)]
    bad = tmp_path / "5.png"
    bad.write_bytes(b"\x89PNG not really")
    X, skipped = decode_images([*paths, bad], 3, skip_bad=True, workers=2, progress=False)
    assert skipped.tolist() == [5]
    assert [tuple(x[0, 0]) for x in X] == colours
    with pytest.raises(BadImageError, match="5.png is not a readable image"):
        decode_images([*paths, bad], 3, workers=2, progress=False)


# --- the decode cache -----------------------------------------------------------------------


def fail_if_called(*args, **kwargs):
    raise AssertionError("decoded although the cache should have been used")


def test_second_run_reads_the_cache_without_decoding(tmp_path, monkeypatch, private_cache):
    root = make_folder(tmp_path / "pets")
    first = load(root, seed=3)
    assert len(list(private_cache.glob("*.npz"))) == 1
    monkeypatch.setattr(image_cache, "decode_images", fail_if_called)
    second = load(root, seed=3)
    for key in ("X_train", "y_train", "X_val", "y_val"):
        np.testing.assert_array_equal(first[key], second[key])
    assert not list(private_cache.glob("*.tmp"))  # written atomically


def test_cache_misses_after_a_file_changes_or_other_settings(tmp_path, monkeypatch, private_cache):
    root = make_folder(tmp_path / "pets")
    load(root)
    calls = []
    real = image_cache.decode_images
    monkeypatch.setattr(image_cache, "decode_images", lambda *a: calls.append(a) or real(*a))
    target = root / "cat" / "0.png"
    write_image(target, BLUE)
    os.utime(target, ns=(1, 1))  # a new mtime even on coarse clocks
    assert load(root)["X_train"].shape[1:] == (4, 4, 3)
    assert len(calls) == 1
    load(root, grayscale=True)
    load_image_folder(root, image_size=5, progress=False)
    assert len(calls) == 3 and len(list(private_cache.glob("*.npz"))) == 4


def test_no_cache_neither_reads_nor_writes(tmp_path, private_cache):
    load(make_folder(tmp_path / "pets"), cache=False)
    assert not private_cache.exists()


def test_damaged_cache_entry_is_decoded_again_and_replaced(tmp_path, private_cache):
    root = make_folder(tmp_path / "pets")
    first = load(root, seed=0)
    (entry,) = private_cache.glob("*.npz")
    entry.write_bytes(b"PK\x03\x04 truncated")
    again = load(root, seed=0)
    np.testing.assert_array_equal(first["X_train"], again["X_train"])
    assert entry.stat().st_size > 100


def test_cache_with_skipped_files_is_used_only_with_skip_bad(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "pets")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert len(load(root, skip_bad=True)["skipped"]) == 1
    with pytest.raises(ValueError, match="broken.png is not a readable image"):
        load(root)  # decodes again, so the error names the file
    monkeypatch.setattr(image_cache, "decode_images", fail_if_called)
    assert load(root, skip_bad=True)["skipped"] == [str(root / "dog" / "broken.png")]


def test_unwritable_cache_warns_and_goes_on(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TWOLAYER_CACHE", str(blocker))
    data = load(make_folder(tmp_path / "pets"))
    assert data["X_train"].shape[0] > 0
    # One warning: line for the user, not a Python UserWarning with its source line.
    assert capsys.readouterr().err.startswith("warning: could not write the decode cache")


def test_cache_dir_default_and_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("TWOLAYER_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "twolayer"


# --- bad input ------------------------------------------------------------------------------


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: put the images in one subfolder per class"):
        load(tmp_path / "empty")


def test_images_without_class_folders(tmp_path):
    write_image(tmp_path / "flat" / "a.png")
    with pytest.raises(ValueError, match="has images but no class folders"):
        load(tmp_path / "flat")


def test_class_folder_without_images(tmp_path):
    root = make_folder(tmp_path / "pets")
    (root / "fox").mkdir()
    (root / "fox" / "readme.txt").write_text("soon")
    with pytest.raises(ValueError, match=r"class folder .*fox has no images \(png, jpg"):
        load(root)


def test_one_class_only(tmp_path):
    write_image(tmp_path / "one" / "cat" / "a.png")
    write_image(tmp_path / "one" / "cat" / "b.png")
    with pytest.raises(ValueError, match="one class only .'cat'."):
        load(tmp_path / "one")


def test_corrupt_image_is_named_or_skipped_and_counted(tmp_path, private_cache):
    root = make_folder(tmp_path / "pets", per_class=5)
    (root / "emu" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no JPEG")
    with pytest.raises(BadImageError, match=r"emu/corrupt.jpg is not a readable image.*--skip-bad"):
        load(root)
    assert not list(private_cache.glob("*"))  # nothing cached from the failed run
    data = load(root, skip_bad=True)
    assert data["skipped"] == [str(root / "emu" / "corrupt.jpg")]
    assert len(data["y_train"]) + len(data["y_val"]) == 15


def test_truncated_image_is_named(tmp_path):
    root = make_folder(tmp_path / "pets")
    whole = write_image(tmp_path / "whole.jpg", GREEN, size=(64, 64))
    (root / "dog" / "cut.jpg").write_bytes(whole.read_bytes()[:300])
    with pytest.raises(BadImageError, match="(?i)cut.jpg is not a readable image .*truncated"):
        load(root)


@pytest.mark.parametrize("size", [(15, 10), (30, 30)])  # over the limit, over twice the limit
def test_decompression_bomb_is_refused(tmp_path, monkeypatch, size):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    write_image(tmp_path / "bomb.png", size=size)
    with pytest.raises(BadImageError, match="bomb.png: refused as a possible decompression bomb"):
        decode_image(tmp_path / "bomb.png", 4)


@pytest.mark.parametrize("size", [0, -3, 2.5])
def test_bad_image_size(tmp_path, size):
    with pytest.raises(ValueError, match="image_size must be a positive integer"):
        load_image_folder(make_folder(tmp_path / "pets"), image_size=size)


def test_missing_folder_and_load_dataset_dispatch(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        load_dataset(tmp_path / "nowhere")
    data = load_dataset(make_folder(tmp_path / "pets"), image_size=3, progress=False)
    assert data["X_train"].shape[1:] == (3, 3, 3)
