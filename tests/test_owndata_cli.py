"""`twolayer train PATH` and `twolayer predict` on the user's own data: image folders, CSV
and npz files the tests make, every bad input ending in one error line and no leftovers."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from script_helpers import assert_clean_error, assert_png, call, twolayer

from twolayer import TwoLayerNet
from twolayer.datasets import image_cache

TINY = ["--hidden", "16", "--epochs", "2", "--batch-size", "10"]
COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def write_images(folder: Path, per_class: int, seed: int = 0) -> None:
    """Noisy images of each class's colour, of varied sizes and formats."""
    rng = np.random.default_rng(seed)
    for k, (name, colour) in enumerate(COLOURS.items()):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            size = (10 + i % 3, 12)  # not all square: the centre square is used
            pixels = np.clip(rng.normal(colour, 30, (*size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i}.{('png', 'jpg')[(i + k) % 2]}")


def write_table(path: Path, rows_per_class: int = 20, seed: int = 0) -> Path:
    """Three separable classes, label text in the middle column, sorted by class."""
    rng = np.random.default_rng(seed)
    lines = ["x,kind,y"]
    for k, name in enumerate(("ant", "bee", "cow")):
        for x, y in rng.normal(3 * k, 0.5, (rows_per_class, 2)):
            lines.append(f"{x:.4f},{name},{y:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "images"


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A run on train/ and test/ folders, as the installed command would do it."""
    root = tmp_path_factory.mktemp("imagerun")
    write_images(root / "pets" / "train", per_class=12)
    write_images(root / "pets" / "test", per_class=4, seed=1)
    (root / "pets" / "notes.txt").write_text("ignored")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TWOLAYER_CACHE", str(root / "cache"))  # the subprocess inherits it
        args = ["--image-size", "8", *TINY, "--epochs", "6", "--lr", "0.01", "--out", "run"]
        result = twolayer("train", "pets", *args, cwd=root)
    assert result.returncode == 0, result.stderr
    return root, result


def last_lines(stdout: str, n: int) -> list[str]:
    return stdout.strip().splitlines()[-n:]


def test_image_folder_run_is_complete(image_run):
    root, result = image_run
    run_dir = root / "run"
    plain, test = last_lines(result.stdout, 2)
    assert re.fullmatch(r"test accuracy without test-time augmentation: [01]\.\d{4}", plain)
    assert re.fullmatch(r"test accuracy: [01]\.\d{4}", test)
    assert float(test.split()[-1]) > 0.5  # colours are easy, even in two epochs
    for png in ("loss.png", "accuracy.png", "weights.png"):
        assert_png(run_dir / png)
    saved = json.loads((run_dir / "config.json").read_text())
    run = saved["run"]
    assert run["dataset"] == "images" and run["data"] == str(root / "pets")
    assert (run["image_size"], run["grayscale"], run["skip_bad"]) == (8, False, False)
    assert run["val_fraction"] == 0.1 and run["preprocess"] == "zca"
    assert saved["class_names"] == ["blue", "green", "red"] and saved["decode_cache"] is True
    assert saved["examples"] == {"train": 32, "val": 4}  # 36 images, 10% held out by class
    extra = TwoLayerNet.load_extra(run_dir / "model.npz")
    assert extra["class_names"].tolist() == ["blue", "green", "red"]
    assert extra["input_shape"].tolist() == [3, 8, 8]
    assert len(list((root / "cache" / "images").glob("*.npz"))) == 2  # train/ and test/


def test_predict_images_and_folders_with_top_k_and_out(image_run, tmp_path):
    root, _ = image_run
    out = tmp_path / "pred.csv"
    result = twolayer(
        "predict", str(root / "run"), str(root / "pets" / "test" / "red" / "0.png"),
        str(root / "pets" / "test" / "blue"), "--top-k", "2", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5 and lines[0].startswith(str(root / "pets" / "test" / "red" / "0.png"))
    for line in lines:
        probs = [float(p) for p in re.findall(r" (\d\.\d{3})", line)]
        assert len(probs) == 2 and probs[0] >= probs[1]
        assert re.search(r": (red|green|blue) \d", line)
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["input", "prediction", "p_blue", "p_green", "p_red"] and len(rows) == 6
    assert abs(sum(float(p) for p in rows[1][2:]) - 1) < 1e-4


def test_second_run_reads_the_decode_cache(tmp_path, monkeypatch, capsys, private_cache):
    monkeypatch.chdir(tmp_path)
    write_images(tmp_path / "pets", per_class=6)
    args = ["train", "pets", "--image-size", "6", *TINY, "--preprocess", "mean", "--quiet"]
    first = call(capsys, *args, "--out", "one")
    assert first.returncode == 0, first.stderr
    monkeypatch.setattr(image_cache, "decode_images", lambda *a: pytest.fail("decoded again"))
    second = call(capsys, *args, "--out", "two")
    assert second.returncode == 0, second.stderr
    assert last_lines(second.stdout, 1) == last_lines(first.stdout, 1)
    one, two = (np.load(tmp_path / d / "model.npz") for d in ("one", "two"))
    np.testing.assert_array_equal(one["W1"], two["W1"])  # the same data, the same run


def test_grayscale_no_cache_and_skip_bad(tmp_path, monkeypatch, capsys, private_cache):
    monkeypatch.chdir(tmp_path)
    write_images(tmp_path / "pets", per_class=6)
    (tmp_path / "pets" / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    result = call(
        capsys, "train", "pets", "--image-size", "6", "--grayscale", "--no-cache", "--skip-bad",
        "--augment", "flip", "--tta", "flip", *TINY, "--out", "run",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    broken = str(tmp_path / "pets" / "red" / "broken.jpg")  # the data's path is made absolute
    assert f"skipped 1 unreadable images (the first: {broken})" in result.stdout
    assert not private_cache.exists()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["run"]["grayscale"] is True and saved["decode_cache"] is False
    assert saved["skipped"] == [broken]
    assert TwoLayerNet.load(tmp_path / "run" / "model.npz").params["W1"].shape[0] == 36


def test_csv_run_and_predict(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_table(tmp_path / "zoo.csv")
    result = call(capsys, "train", "zoo.csv", "--label-column", "kind", "--out", "run")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"val accuracy: 1\.0000", last_lines(result.stdout, 1)[0])
    assert "test accuracy" not in result.stdout  # a CSV has no test set
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["run"]["dataset"] == "csv" and saved["run"]["label_column"] == "kind"
    assert saved["run"]["preprocess"] == "standardize" and saved["feature_names"] == ["x", "y"]
    assert saved["class_names"] == ["ant", "bee", "cow"]
    # New rows, columns in another order and without labels.
    (tmp_path / "new.csv").write_text("y,x\n0,0\n6.1,5.9\n")
    pred = call(capsys, "predict", "run", "new.csv", "--top-k", "1", "--out", "p.csv")
    assert pred.returncode == 0, pred.stderr
    assert pred.stdout.splitlines()[0].startswith("new.csv row 1: ant ")
    assert pred.stdout.splitlines()[1].startswith("new.csv row 2: cow ")
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "input,prediction,p_ant,p_bee,p_cow"
    # --config reruns it from anywhere: the data's path is saved absolute.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    again = call(capsys, "train", "--config", "../run/config.json", "--epochs", "3", "--quiet")
    assert again.returncode == 0, again.stderr


def test_npz_with_a_test_set_and_npz_images(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    y = np.repeat([1, 2], 30)  # 1-based labels
    X = rng.normal(size=(60, 5)) + y[:, None]
    np.savez(tmp_path / "t.npz", X=X, y=y, X_test=X[:10], y_test=y[:10])
    result = call(capsys, "train", "t.npz", *TINY, "--out", "table")
    assert result.returncode == 0, result.stderr
    note, plain, test = last_lines(result.stdout, 3)
    assert note == "no test-time augmentation (--tta none): the test accuracy is single view"
    assert plain.split(": ")[0] == "test accuracy without test-time augmentation"
    assert test.startswith("test accuracy: ") and plain.split()[-1] == test.split()[-1]
    images = rng.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "i.npz", X=images, y=np.array(["a", "b"] * 20))
    flags = ["--preprocess", "mean", "--augment", "flip", "--tta", "flip"]
    result = call(capsys, "train", "i.npz", *TINY, *flags, "--out", "imgs")
    assert result.returncode == 0, result.stderr
    # 16 units of 6 x 6 pixels in a 4 x 4 mosaic, 1 px apart, each weight 3 px wide
    with Image.open(tmp_path / "imgs" / "weights.png") as weights:
        assert weights.format == "PNG" and weights.size == (3 * 27, 3 * 27)
    pred = call(capsys, "predict", "imgs", "i.npz", "--top-k", "1")
    assert pred.returncode == 0 and pred.stdout.splitlines()[0].startswith("i.npz[0]: ")


# --- bad input: one error line, exit 2, no run directory, no cache entry ---------------------


def make_bad(tmp_path: Path, case: str) -> list[str]:
    """Write the bad input of ``case``; return the train arguments that use it."""
    pets = tmp_path / "pets"
    if case == "empty folder":
        pets.mkdir()
    elif case == "class folder without images":
        write_images(pets, per_class=3)
        (pets / "fox").mkdir()
    elif case == "corrupt image":
        write_images(pets, per_class=3)
        (pets / "red" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    elif case == "one class only":
        write_images(pets, per_class=3)
        for name in ("green", "blue"):
            for f in (pets / name).iterdir():
                f.unlink()
            (pets / name).rmdir()
    elif case == "image size 0":
        write_images(pets, per_class=3)
        return ["train", "pets", "--image-size", "0"]
    elif case == "zca too large":
        write_images(pets, per_class=3)
        return ["train", "pets", "--image-size", "40"]
    else:
        return make_bad_file(tmp_path, case)
    return ["train", "pets", "--image-size", "4"]


def make_bad_file(tmp_path: Path, case: str) -> list[str]:
    text = {
        "missing label column": "a,b\n1,2\n3,4\n",
        "non-numeric cell": "a,label\n1,x\noops,y\n",
        "ragged rows": "a,b,label\n1,2,x\n3,y\n",
        "augment on a table": "a,label\n1,x\n2,y\n3,x\n4,y\n5,x\n",
    }
    if case in text:
        (tmp_path / "t.csv").write_text(text[case])
        extra = {"missing label column": ["--label-column", "kind"],
                 "augment on a table": ["--augment", "flip"]}.get(case, [])  # fmt: skip
        return ["train", "t.csv", *extra]
    if case == "npz mismatched lengths":
        np.savez(tmp_path / "t.npz", X=np.eye(4), y=[0, 1, 0])
        return ["train", "t.npz"]
    if case == "unknown file type":
        (tmp_path / "t.json").write_text("{}")
        return ["train", "t.json"]
    assert case == "no such path"
    return ["train", "nowhere"]


BAD = (
    "empty folder", "class folder without images", "corrupt image", "one class only",
    "image size 0", "zca too large", "missing label column", "non-numeric cell",
    "ragged rows", "augment on a table", "npz mismatched lengths", "unknown file type",
    "no such path",
)  # fmt: skip
MESSAGES = {
    "corrupt image": r"pets/red/bad.png is not a readable image .*--skip-bad",
    "non-numeric cell": r"t.csv, line 3, column 'a': 'oops' is not a finite number",
    "ragged rows": r"t.csv, line 3: 2 cells, but the header has 3 columns",
    "missing label column": r"no label column 'kind'",
    "npz mismatched lengths": r"X has 4 rows but y has 3 labels",
    "one class only": r"one class only \('red'\)",
    "class folder without images": r"class folder .*fox has no images",
    "zca too large": r"ZCA whitening of 4800 features",
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_fails_cleanly_and_leaves_nothing(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = make_bad(tmp_path, case)
    result = call(capsys, *args, *TINY)
    assert_clean_error(result)
    if case in MESSAGES:
        assert re.search(MESSAGES[case], result.stderr), result.stderr
    assert not (tmp_path / "runs").exists()
    cache = tmp_path / "cache"
    assert not cache.exists() or not list(cache.rglob("*.tmp"))


def test_predict_refuses_inputs_of_the_wrong_kind(image_run, tmp_path, capsys):
    root, _ = image_run
    write_table(tmp_path / "t.csv")
    assert_clean_error(call(capsys, "predict", str(root / "run"), str(tmp_path / "t.csv")))
    (tmp_path / "empty").mkdir()
    assert_clean_error(call(capsys, "predict", str(root / "run"), str(tmp_path / "empty")))
