"""`twolayer export RUN --onnx out.onnx`: the model runs in onnxruntime on raw inputs and
gives `twolayer predict`'s probabilities, on a table run and on image runs (npz images
whitened or not, with test-time views or not; a grayscale image folder; a fake
CIFAR-10); a run it cannot export is one error line."""

from __future__ import annotations

import csv
import json
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from fake_cifar import make_fake_cifar10
from PIL import Image
from script_helpers import assert_clean_error, call

from twolayer.datasets import decode_images, load_cifar10
from twolayer.export import export_onnx
from twolayer.runs import save_status

TINY = ["--hidden", "16", "--epochs", "2", "--batch-size", "10", "--quiet"]


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _predicted(path) -> np.ndarray:
    """The probabilities `twolayer predict --out` wrote (6 decimals)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    return np.array([[float(v) for v in row[2:]] for row in rows])


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def _table_run(tmp_path, capsys) -> np.ndarray:
    rng = np.random.default_rng(0)
    lines = ["x,kind,y"]
    for k, name in enumerate(("ant", "bee", "cow")):
        for x, y in rng.normal(3 * k, 0.5, (20, 2)) * [1.0, 40.0] + [0.0, 500.0]:
            lines.append(f"{x:.4f},{name},{y:.4f}")
    (tmp_path / "zoo.csv").write_text("\n".join(lines) + "\n")
    result = call(capsys, "train", "zoo.csv", "--label-column", "kind", *TINY, "--out", "run")
    assert result.returncode == 0, result.stderr
    new = rng.normal(3, 2, (7, 2)) * [1.0, 40.0] + [0.0, 500.0]
    text = "y,x\n" + "".join(f"{y:.17g},{x:.17g}\n" for x, y in new)  # columns in another order
    (tmp_path / "new.csv").write_text(text)
    return new


def test_a_table_run_exports_standardization_and_matches_predict(tmp_path, capsys):
    rows = _table_run(tmp_path, capsys)
    result = call(capsys, "export", "run", "--onnx", "out/zoo.onnx")
    assert result.returncode == 0, result.stderr
    assert "wrote out/zoo.onnx" in result.stdout
    model = onnx.load(tmp_path / "out" / "zoo.onnx")
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["Reshape", "Sub", "Div", "Gemm", "Relu", "Gemm", "Softmax"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["class_names"]) == ["ant", "bee", "cow"]
    assert json.loads(meta["feature_names"]) == ["x", "y"] and meta["preprocess"] == "standardize"
    proba = _session(tmp_path / "out" / "zoo.onnx").run(None, {"input": rows.astype(np.float32)})
    assert call(capsys, "predict", "run", "new.csv", "--out", "p.csv").returncode == 0
    np.testing.assert_allclose(proba[0], _predicted(tmp_path / "p.csv"), atol=1e-5)
    assert proba[0].shape == (7, 3) and proba[0].dtype == np.float32


@pytest.mark.parametrize(
    "flags, ops",
    [
        (["--preprocess", "zca", "--tta", "flip+translate1"], {"MatMul": 1, "Pad": 8, "Gemm": 20}),
        (["--preprocess", "mean", "--tta", "none"], {"MatMul": 0, "Pad": 0, "Gemm": 2}),
    ],
)
def test_an_image_run_exports_its_preprocessing_and_views(tmp_path, capsys, flags, ops):
    rng = np.random.default_rng(1)
    y = np.array(["cat", "dog", "owl"] * 20)
    centre = {"cat": 60, "dog": 130, "owl": 200}
    images = np.stack([rng.normal(centre[c], 40, (6, 6, 3)) for c in y]).clip(0, 255)
    images[:, :3] *= 0.5  # not symmetric: a mirror or a shift changes the scores
    np.savez(tmp_path / "i.npz", X=images.astype(np.uint8), y=y)
    result = call(capsys, "train", "i.npz", *TINY, "--augment", "flip", *flags, "--out", "run")
    assert result.returncode == 0, result.stderr
    export_onnx("run", "run.onnx")
    graph = onnx.load("run.onnx").graph
    counts = {op: sum(n.op_type == op for n in graph.node) for op in ops}
    assert counts == ops  # ZCA as one MatMul; 10 views (8 shifted), each its own Gemms
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    raw = rng.integers(0, 256, (9, 6, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "new.npz", X=raw)
    session = _session("run.onnx")
    assert json.loads(session.get_modelmeta().custom_metadata_map["class_names"]) == [
        "cat",
        "dog",
        "owl",
    ]
    proba = session.run(None, {"input": raw})[0]
    assert call(capsys, "predict", "run", "new.npz", "--out", "p.csv").returncode == 0
    np.testing.assert_allclose(proba, _predicted(tmp_path / "p.csv"), atol=1e-5)
    # And against predict's own arrays, unrounded.
    from twolayer import Classifier

    np.testing.assert_allclose(
        proba, Classifier.load(tmp_path / "run").predict_proba(raw), atol=1e-5
    )
    assert np.abs(proba.sum(axis=1) - 1).max() < 1e-5


def test_an_image_folder_run_in_grayscale_exports_what_predict_decodes(tmp_path, capsys):
    rng = np.random.default_rng(2)
    for k, name in enumerate(("dark", "light")):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(15):
            pixels = rng.normal(70 + 110 * k, 40, (9 + i % 3, 8, 3)).clip(0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "pics" / name / f"{i}.png")
    flags = ["--image-size", "5", "--grayscale", "--preprocess", "mean", "--tta", "flip"]
    result = call(capsys, "train", "pics", *TINY, *flags, "--out", "run")
    assert result.returncode == 0, result.stderr
    assert call(capsys, "export", "run", "--onnx", "run.onnx").returncode == 0
    graph = onnx.load("run.onnx").graph
    dims = [d.dim_value or d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 5, 5, 1]  # (N, H, W, C) as decoded: one channel
    files = sorted(str(f) for f in (tmp_path / "pics" / "light").iterdir())
    images, _ = decode_images(files, 5, grayscale=True, progress=False)
    proba = _session("run.onnx").run(None, {"input": images})[0]
    assert call(capsys, "predict", "run", "pics/light", "--out", "p.csv").returncode == 0
    np.testing.assert_allclose(proba, _predicted(tmp_path / "p.csv"), atol=1e-5)


def test_a_fake_cifar10_run_exports_and_classifies_its_test_images(tmp_path, capsys):
    make_fake_cifar10(tmp_path / "cifar", n_per_batch=40)
    data = ["--data-dir", "cifar", "--no-download", "--num-train", "150", "--num-val", "50"]
    flags = ["--preprocess", "mean", "--tta", "flip+translate1"]
    result = call(capsys, "train", "cifar10", *data, *TINY, *flags, "--out", "run")
    assert result.returncode == 0, result.stderr
    assert call(capsys, "export", "run", "--onnx", "run.onnx").returncode == 0
    session = _session("run.onnx")
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["class_names"])[:2] == ["airplane", "automobile"]
    X_test = load_cifar10(tmp_path / "cifar")[2]  # (40, 32, 32, 3) uint8
    np.savez(tmp_path / "test.npz", X=X_test)
    proba = session.run(None, {"input": X_test})[0]
    assert call(capsys, "predict", "run", "test.npz", "--out", "p.csv").returncode == 0
    np.testing.assert_allclose(proba, _predicted(tmp_path / "p.csv"), atol=1e-5)


def test_export_refuses_what_it_cannot_export(tmp_path, capsys):
    missing = call(capsys, "export", "nowhere", "--onnx", "x.onnx")
    assert_clean_error(missing)
    assert "nowhere is not a run directory" in missing.stderr
    _table_run(tmp_path, capsys)
    shutil.copytree("run", "killed")
    (tmp_path / "killed" / "model.npz").unlink()
    save_status(tmp_path / "killed", "running", epoch=1, epochs=2)
    unfinished = call(capsys, "export", "killed", "--onnx", "x.onnx")
    assert_clean_error(unfinished)
    assert "has not finished (its state: running after epoch 1 of 2)" in unfinished.stderr
    assert "twolayer train --resume killed" in unfinished.stderr
    spiral = call(capsys, "train", "spiral", "--epochs", "1", "--quiet", "--out", "sp")
    assert spiral.returncode == 0, spiral.stderr
    refused = call(capsys, "export", "sp", "--onnx", "x.onnx")
    assert_clean_error(refused)
    assert "a spiral run, which neither predict nor export takes" in refused.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_without_onnx_installed_export_says_what_to_install(tmp_path, capsys, monkeypatch):
    _table_run(tmp_path, capsys)
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    result = call(capsys, "export", "run", "--onnx", "x.onnx")
    assert_clean_error(result)
    assert "pip install 'twolayer[onnx]'" in result.stderr
    assert not (tmp_path / "x.onnx").exists()
