"""Image folders with links, runs and odd files in them: each real image once, in one class.

Symlink loops, links out of a class folder or out of the data, a twolayer run inside the
data, broken links, a FIFO named like an image, EXIF orientation, a killed cache write.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from kill_helpers import dead_pid
from PIL import Image

from twolayer.datasets import load_image_folder

RED, BLUE = (255, 0, 0), (0, 0, 255)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "images"


def pets(root: Path, per_class: int = 10) -> Path:
    """cat/ all red, dog/ all blue."""
    for name, colour in (("cat", RED), ("dog", BLUE)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (6, 6), colour).save(root / name / f"{i}.png")
    return root


def load(root: Path, **kwargs) -> dict:
    return load_image_folder(root, image_size=4, progress=False, val_fraction=0.2, **kwargs)


def every_image(data: dict) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.concatenate([data["X_train"], data["X_val"]]),
        np.concatenate([data["y_train"], data["y_val"]]),
    )


def test_symlink_loops_count_each_image_once_in_its_own_class(tmp_path, capsys):
    root = pets(tmp_path / "pets")
    os.symlink(".", root / "cat" / "loop")
    os.symlink("..", root / "dog" / "up")
    X, y = every_image(load(root))
    assert len(y) == 20 and np.bincount(y).tolist() == [10, 10]
    colour = {0: RED, 1: BLUE}
    assert all(tuple(x[0, 0]) == colour[label] for x, label in zip(X, y, strict=True))
    err = capsys.readouterr().err
    assert "warning: left out 2 links that loop back" in err and "cat/loop" in err


def test_links_out_of_the_class_or_the_data_are_left_out_and_reported(tmp_path, capsys):
    root = pets(tmp_path / "pets")
    outside = pets(tmp_path / "elsewhere", per_class=3)
    os.symlink(outside / "cat", root / "cat" / "more")
    os.symlink(root / "cat" / "0.png", root / "dog" / "looks_like_a_dog.png")
    X, y = every_image(load(root))
    assert np.bincount(y).tolist() == [10, 10]
    err = capsys.readouterr().err
    assert "links that lead out of the data folder" in err and "cat/more" in err
    assert "into another part of the data" in err and "looks_like_a_dog.png" in err


def test_a_run_folder_inside_the_data_is_not_trained_on(tmp_path, capsys):
    root = pets(tmp_path / "pets")
    run = root / "cat" / "run1"  # as `twolayer train pets --out pets/cat/run1` leaves it
    run.mkdir()
    (run / ".twolayer-run").write_text("{}")
    Image.new("RGB", (6, 6), BLUE).save(run / "loss.png")
    runs = root / "runs" / "pets-20260101-000000"  # `twolayer train .` from inside pets/
    runs.mkdir(parents=True)
    (runs / ".lock").write_text("")
    Image.new("RGB", (6, 6), BLUE).save(runs / "accuracy.png")
    data = load(root)
    assert data["class_names"] == ["cat", "dog"]
    assert np.bincount(every_image(data)[1]).tolist() == [10, 10]
    assert "twolayer run or search folders" in capsys.readouterr().err


def test_a_broken_link_is_skipped_with_skip_bad_and_named_without(tmp_path):
    root = pets(tmp_path / "pets")
    os.symlink(tmp_path / "gone.png", root / "cat" / "broken.png")
    data = load(root, skip_bad=True)
    assert data["skipped"] == [str(root / "cat" / "broken.png")]
    with pytest.raises(ValueError, match="broken.png is not a readable image .*missing file"):
        load(root)


def test_a_fifo_named_like_an_image_is_refused_not_read(tmp_path):
    root = pets(tmp_path / "pets")
    os.mkfifo(root / "dog" / "pipe.jpg")  # reading it would block forever
    assert load(root, skip_bad=True)["skipped"] == [str(root / "dog" / "pipe.jpg")]
    with pytest.raises(ValueError, match="pipe.jpg is not a readable image .*not a regular"):
        load(root)


def test_exif_orientation_is_applied(tmp_path):
    root = pets(tmp_path / "pets")
    image = Image.new("RGB", (8, 8), RED)
    image.paste(BLUE, (0, 4, 8, 8))  # stored: red on top, blue below
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: blue left, red right
    image.save(root / "cat" / "photo.png", exif=exif)
    data = load_image_folder(root, image_size=8, progress=False, val_fraction=0.5)
    X, _ = every_image(data)
    [photo] = [x for x in X if tuple(x[0, 0]) != tuple(x[0, -1])]
    assert tuple(photo[4, 0]) == BLUE and tuple(photo[4, -1]) == RED


def test_temporaries_of_a_killed_cache_write_are_swept(tmp_path, private_cache):
    private_cache.mkdir(parents=True)
    left = private_cache / f".abc.npz.{dead_pid()}-0123abcd.tmp"
    left.write_bytes(b"half an entry")
    load(pets(tmp_path / "pets"))
    assert not left.exists() and len(list(private_cache.glob("*.npz"))) == 1
