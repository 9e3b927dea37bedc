"""Every file the commands read, damaged or foreign, is one clear error naming that file:
no BadZipFile, EOFError, KeyError, TypeError or DecompressionBombError traceback."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import make_fake_cifar10
from PIL import Image
from script_helpers import assert_clean_error, call

from twolayer import Classifier, checkpoint
from twolayer.cli.main import main
from twolayer.config import preset
from twolayer.datasets.images import decode_image
from twolayer.runs import save_run_config

TINY = ["--num-train", "100", "--num-val", "20", "--hidden", "8", "--batch-size", "50"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A finished CIFAR-10 run (it can be resumed further), the same with its checkpoint
    kept, and a spiral run's settings."""
    root = tmp_path_factory.mktemp("runs")
    make_fake_cifar10(root / "data", n_per_batch=24)
    data = ["--data-dir", str(root / "data"), "--no-download", "--preprocess", "mean"]
    cifar = ["train", "cifar10", *data, *TINY, "--epochs", "2", "--quiet"]
    assert main([*cifar, "--out", str(root / "cifar")]) == 0
    assert main([*cifar, "--out", str(root / "kept"), "--keep-checkpoint"]) == 0
    save_run_config(root / "spiral", preset("spiral"))
    Image.new("RGB", (40, 30), (200, 30, 30)).save(root / "red.png")
    return {
        "cifar": root / "cifar", "kept": root / "kept", "spiral": root / "spiral",
        "image": root / "red.png",
    }  # fmt: skip


@pytest.fixture
def run(runs, tmp_path) -> Path:
    """A copy of the CIFAR-10 run, to damage."""
    return Path(shutil.copytree(runs["cifar"], tmp_path / "run"))


def unfinished(runs: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the run with its checkpoint kept, as it was before it finished: its
    preprocessing in preprocess.npz, no model file yet."""
    path = Path(shutil.copytree(runs["kept"], tmp_path / "unfinished"))
    prep = Classifier.load(path).prep_
    np.savez(path / "preprocess.npz", **prep.state(packed=True))
    (path / "model.npz").unlink()
    return path


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def foreign_npz(path: Path) -> None:
    np.savez(path, a=np.zeros(3))


DAMAGES = {
    "truncated": truncate,
    "empty": lambda p: p.write_bytes(b""),
    "random bytes": lambda p: p.write_bytes(np.random.default_rng(0).bytes(300)),
    "foreign": foreign_npz,
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_model_file(runs, run, capsys, damage):
    DAMAGES[damage](run / "model.npz")
    result = call(capsys, "predict", str(run), str(runs["image"]))
    assert_clean_error(result)
    assert f"{run / 'model.npz'} is not a" in result.stderr
    assert "allow_pickle" not in result.stderr and ".tmp" not in result.stderr


@pytest.mark.parametrize(
    "name, damage",
    [
        ("model.npz", truncate),  # a finished run's preprocessing
        ("model.npz", foreign_npz),
        ("final_state.npz", truncate),
        ("final_state.npz", foreign_npz),
        ("final_state.npz", lambda p: checkpoint.save({"state": {"t": 9}}, p)),
        ("preprocess.npz", truncate),  # a run that has not finished
        ("preprocess.npz", foreign_npz),
        ("checkpoint_epoch_2.npz", truncate),
        ("checkpoint_epoch_2.npz", lambda p: checkpoint.save({"state": {"t": "x"}}, p)),
        ("checkpoint_epoch_2.npz", lambda p: checkpoint.save({"state": {"t": 9}}, p)),
        ("config.json", lambda p: p.write_text('{"run": {"dataset": "cifar10", "hidden": "big"}')),
        ("config.json", lambda p: p.write_text("[1, 2]")),
        ("config.json", lambda p: p.write_bytes(b"\xff\xfe{")),
    ],
)
def test_a_damaged_file_of_a_run_being_resumed(runs, run, tmp_path, capsys, name, damage):
    if name.startswith(("preprocess", "checkpoint")):
        run = unfinished(runs, tmp_path)
    damage(run / name)
    result = call(capsys, "train", "--resume", str(run), "--epochs", "3")
    assert_clean_error(result)
    assert str(run / name) in result.stderr


@pytest.mark.parametrize(
    "name, text",
    [
        ("history.json", '{"loss_history": "abc"}'),
        ("history.json", "{}"),
        ("history.json", "nul"),
        ("status.json", '{"state": 3}'),
    ],
)
def test_a_damaged_history_or_status(run, capsys, name, text):
    (run / name).write_text(text)
    result = call(capsys, "plot", str(run))
    assert_clean_error(result)
    assert str(run / name) in result.stderr


def test_hand_edited_history_values_are_refused(run, capsys):
    history = json.loads((run / "history.json").read_text())
    history["val_acc_history"] = [0.5, None]
    (run / "history.json").write_text(json.dumps(history))
    result = call(capsys, "plot", str(run))
    assert_clean_error(result)
    assert "val_acc_history is not a list of numbers" in result.stderr


def test_a_spiral_run_resumed_as_cifar10_says_so(runs, capsys):
    result = call(capsys, "train", "cifar10", "--resume", str(runs["spiral"]))
    assert_clean_error(result)
    assert "is a spiral run, not cifar10" in result.stderr


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that claims a size: what Pillow's decompression-bomb check reads first."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_a_huge_image_is_refused_in_one_line(runs, tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    png_header_only(bomb, 20_000, 20_000)
    result = call(capsys, "predict", str(runs["cifar"]), str(runs["image"]), str(bomb))
    assert_clean_error(result)
    assert f"{bomb}: refused as a possible decompression bomb" in result.stderr


def test_16_bit_and_float_images_are_scaled_not_clipped(tmp_path, capsys):
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp_path / "gray16.png")
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "half.tif")
    for name in ("gray16.png", "half.tif"):
        pixels = decode_image(tmp_path / name)
        assert pixels.shape == (32, 32, 3) and np.all(np.abs(pixels.astype(int) - 128) <= 1), name
    assert capsys.readouterr().err == ""  # their ranges are known: no warning

    ramp = np.linspace(-3, 7, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(ramp).save(tmp_path / "ramp.tif")
    pixels = decode_image(tmp_path / "ramp.tif")
    assert pixels.min() <= 5 and pixels.max() >= 250  # stretched, not clipped to 0..7
    assert "ramp.tif has F pixels in [-3, 7]" in capsys.readouterr().err
