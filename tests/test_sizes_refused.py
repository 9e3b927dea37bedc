"""Requests too large for memory, and files that claim or expand to too much, are one
error line before anything large is allocated; damaged files of other kinds likewise."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
from PIL import Image
from script_helpers import assert_clean_error, call

import twolayer._io


def npy_bytes(array: np.ndarray, shape: tuple[int, ...] | None = None) -> bytes:
    """``array`` as .npy bytes, its header claiming ``shape`` if given."""
    buf = io.BytesIO()
    header = np.lib.format.header_data_from_array_1_0(array)
    if shape is not None:
        header["shape"] = shape
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(array.tobytes())
    return buf.getvalue()


def test_an_npz_header_claiming_a_trillion_elements_is_damage(tmp_path, capsys):
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", npy_bytes(np.zeros((2, 3), np.float32), shape=(10**6, 10**6)))
        z.writestr("y.npy", npy_bytes(np.zeros(2, np.int64)))
    result = call(capsys, "train", str(path), "--out", str(tmp_path / "run"))
    assert_clean_error(result)
    assert "claims shape (1000000, 1000000)" in result.stderr


def test_an_npz_expanding_past_the_memory_is_refused_before_reading(tmp_path, capsys, monkeypatch):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, X=np.zeros((2000, 50), np.float32), y=np.arange(2000) % 2)
    assert path.stat().st_size < 10_000  # 400 kB of zeros, compressed
    monkeypatch.setattr(twolayer._io, "available_bytes", lambda: 100_000)
    result = call(capsys, "train", str(path), "--out", str(tmp_path / "run"))
    assert_clean_error(result)
    assert "expands to 416.0 KB of arrays, more than the 100.0 KB" in result.stderr  # X and y


def test_five_channel_images_are_refused_at_load(tmp_path, capsys):
    path = tmp_path / "five.npz"
    X = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 5), dtype=np.uint8)
    np.savez(path, X=X, y=np.arange(40) % 2)
    result = call(capsys, "train", str(path), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert_clean_error(result)
    assert "5 channels" in result.stderr


def test_plot_and_report_on_a_damaged_history_say_so(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "spiral", "--num-per-class", "20", "--epochs", "2", "--quiet"]
    assert call(capsys, *args, "--out", str(run)).returncode == 0
    history = json.loads((run / "history.json").read_text())
    history["val_loss_history"] = history["val_loss_history"][:1]
    (run / "history.json").write_text(json.dumps(history))
    for command in ("plot", "report"):
        result = call(capsys, command, str(run))
        assert_clean_error(result)
        assert "history.json is damaged: val_loss_history has 1 values for 2 epochs" in (
            result.stderr
        )


def test_sizes_too_large_for_memory_are_refused_with_an_estimate(tmp_path, capsys):
    spiral = call(capsys, "train", "spiral", "--num-per-class", "10000000000")
    assert_clean_error(spiral)
    assert "spiral points needs about" in spiral.stderr and "--num-per-class" in spiral.stderr

    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (4, 4)).save(tmp_path / "pets" / name / f"{i}.png")
    images = call(capsys, "train", str(tmp_path / "pets"), "--image-size", "100000",
                  "--no-cache", "--out", str(tmp_path / "run"))  # fmt: skip
    assert_clean_error(images)
    assert "6 images at image size 100000 needs about" in images.stderr
    assert not (tmp_path / "run").exists()


def test_an_allocation_no_estimate_foresaw_is_one_line(capsys):
    result = call(capsys, "bench", "--hidden", "99999999")
    assert_clean_error(result)
    assert "not enough memory" in result.stderr
