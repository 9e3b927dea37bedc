"""twolayer.Classifier against `twolayer train` and `twolayer predict`: the same weights
from the same settings, the same probabilities from the same run directory, on the
spiral, a CSV with string labels, an npz, an image folder and a fake CIFAR-10; and
fitting on arrays (images in either layout, any labels), partial_fit and warm_start."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import make_fake_cifar10
from PIL import Image
from script_helpers import ROOT, call
from test_owndata_cli import write_table  # three classes, text labels in column "kind"

from twolayer import Classifier, TwoLayerNet
from twolayer.config import RunConfig
from twolayer.datasets import decode_images
from twolayer.datasets.folder import image_paths

TINY = {"hidden": 16, "epochs": 3, "batch_size": 10}
TINY_FLAGS = ["--hidden", "16", "--epochs", "3", "--batch-size", "10"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # what the commands write without --out stays here


def write_images(folder: Path, per_class: int = 10) -> Path:
    rng = np.random.default_rng(0)
    for name, colour in {"red": (200, 30, 30), "blue": (30, 30, 200)}.items():
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(colour, 40, (9, 11, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i}.png")
    return folder


def train(capsys, *args: str) -> None:
    result = call(capsys, "train", *args, "--quiet")
    assert result.returncode == 0, result.stderr


def predict_csv(capsys, run: Path, *inputs: str, out: Path) -> np.ndarray:
    result = call(capsys, "predict", str(run), *inputs, "--out", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    return np.array([[float(v) for v in row[2:]] for row in rows[1:]])


def assert_same_weights(a: Classifier, b: Classifier) -> None:
    assert a.model_.params.keys() == b.model_.params.keys()
    for name, w in a.model_.params.items():
        assert np.array_equal(w, b.model_.params[name]), name


def test_parameters_are_the_run_settings():
    fields = {f.name for f in dataclasses.fields(RunConfig)} - {"dataset", "data"}
    assert set(Classifier().get_params()) == fields | {"warm_start"}


def test_import_twolayer_loads_no_run_layer():
    code = "import sys, twolayer; print('twolayer.classifier' in sys.modules, twolayer.Classifier)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.startswith("False <class 'twolayer.classifier.Classifier'>"), out.stderr


def test_spiral_fit_source_is_the_train_command(capsys, tmp_path):
    train(capsys, "spiral", "--epochs", "4", "--hidden", "20", "--out", str(tmp_path / "run"))
    clf = Classifier(epochs=4, hidden=20).fit_source("spiral")
    loaded = Classifier.load(tmp_path / "run")
    assert_same_weights(clf, loaded)
    assert loaded.prep_ is None and list(loaded.classes_) == [0, 1, 2]
    X = np.random.default_rng(0).normal(size=(5, 2))
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert clf.history_["val_acc_history"] == loaded.history_["val_acc_history"]


def test_csv_with_string_labels(capsys, tmp_path):
    table = write_table(tmp_path / "t.csv")
    flags = [*TINY_FLAGS, "--epochs", "30", "--label-column", "kind"]
    train(capsys, str(table), *flags, "--out", str(tmp_path / "run"))
    clf = Classifier(label_column="kind", **{**TINY, "epochs": 30}).fit_source(table)
    loaded = Classifier.load(tmp_path / "run")
    assert_same_weights(clf, loaded)
    assert list(loaded.classes_) == ["ant", "bee", "cow"]
    assert list(loaded.feature_names_in_) == ["x", "y"]
    cli = predict_csv(capsys, tmp_path / "run", str(table), out=tmp_path / "p.csv")
    raw = np.loadtxt(table, delimiter=",", skiprows=1, usecols=(0, 2))
    assert np.abs(loaded.predict_proba(raw) - cli).max() <= 1e-6
    assert loaded.score(raw, ["ant"] * 20 + ["bee"] * 20 + ["cow"] * 20) > 0.9


def test_npz_with_one_based_labels(capsys, tmp_path):
    rng = np.random.default_rng(1)
    y = np.repeat([1, 2, 3], 20)
    X = rng.normal(y[:, None], 0.4, (60, 4)).astype(np.float32)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    np.savez(tmp_path / "new.npz", X=X[:7])
    train(capsys, str(tmp_path / "d.npz"), *TINY_FLAGS, "--out", str(tmp_path / "run"))
    run = Classifier.load(tmp_path / "run")
    assert_same_weights(Classifier(**TINY).fit_source(tmp_path / "d.npz"), run)
    assert list(run.classes_) == ["1", "2", "3"]  # the command keeps class names as text
    cli = predict_csv(capsys, tmp_path / "run", str(tmp_path / "new.npz"), out=tmp_path / "p.csv")
    assert np.abs(run.predict_proba(X[:7]) - cli).max() <= 1e-6
    # Fitted on the arrays themselves, with the npz preset's split: the same weights again.
    assert_same_weights(Classifier(**TINY).fit(X, y), run)


def test_image_folder(capsys, tmp_path):
    folder = write_images(tmp_path / "pics")
    flags = ["--image-size", "8", *TINY_FLAGS, "--out", str(tmp_path / "run")]
    train(capsys, str(folder), *flags)
    clf = Classifier(image_size=8, **TINY).fit_source(folder)
    loaded = Classifier.load(tmp_path / "run")
    assert_same_weights(clf, loaded)
    cli = predict_csv(capsys, tmp_path / "run", str(folder), out=tmp_path / "p.csv")
    raw, _ = decode_images(image_paths(folder), 8, False, progress=False)
    assert raw.shape == (20, 8, 8, 3) and raw.dtype == np.uint8
    proba = loaded.predict_proba(raw)  # with the run's test-time views, as predict does
    assert np.abs(proba - cli).max() <= 1e-6
    single = loaded.predict_proba(raw, tta=False)
    assert not np.allclose(single, proba) and np.allclose(single.sum(1), 1, atol=1e-6)
    channels_first = np.ascontiguousarray(raw.transpose(0, 3, 1, 2))
    assert np.abs(loaded.predict_proba(channels_first) - proba).max() <= 1e-6


def test_fake_cifar10(capsys, tmp_path):
    make_fake_cifar10(tmp_path / "c", n_per_batch=20)
    data = ["--data-dir", str(tmp_path / "c"), "--num-train", "60", "--num-val", "20"]
    data += ["--preprocess", "mean"]  # ZCA of 3,072 features would take most of the time
    train(capsys, "cifar10", *data, "--no-download", *TINY_FLAGS, "--out", str(tmp_path / "run"))
    clf = Classifier(
        data_dir=str(tmp_path / "c"), num_train=60, num_val=20, preprocess="mean", **TINY
    )
    assert_same_weights(clf.fit_source("cifar10"), Classifier.load(tmp_path / "run"))


def test_saved_array_run_is_a_run_for_the_command(capsys, tmp_path):
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, (40, 6, 6, 3), dtype=np.uint8)
    y = np.array(["cat", "dog"])[np.arange(40) % 2]
    clf = Classifier(**TINY).fit(X, y)
    assert clf.config_.preprocess == "zca" and clf.config_.tta != "none"  # the images recipe
    clf.save(tmp_path / "run")
    np.savez(tmp_path / "new.npz", X=X[:5])
    cli = predict_csv(capsys, tmp_path / "run", str(tmp_path / "new.npz"), out=tmp_path / "p.csv")
    assert np.abs(clf.predict_proba(X[:5]) - cli).max() <= 1e-6
    assert list(Classifier.load(tmp_path / "run").predict(X[:5])) == list(clf.predict(X[:5]))
    report = call(capsys, "report", str(tmp_path / "run"))
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "run" / "report.html").is_file() or Path("compare.html").is_file()


def test_channels_first_images_give_the_same_weights():
    X = np.random.default_rng(3).random((30, 5, 5, 3)).astype(np.float32)
    y = np.arange(30) % 3
    a = Classifier(**TINY).fit(X, y)
    b = Classifier(**TINY).fit(np.ascontiguousarray(X.transpose(0, 3, 1, 2)), y)
    assert_same_weights(a, b)
    assert a.input_shape_ == (3, 5, 5) and a.n_features_in_ == 75


def test_validation_data_and_bad_settings():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(50, 3)), np.arange(50) % 2
    clf = Classifier(**TINY).fit(X[:40], y[:40], X_val=X[40:], y_val=y[40:])
    assert len(clf.history_["val_acc_history"]) == 3
    other = Classifier(**TINY).fit(X[:40], y[:40], eval_set=(X[40:], y[40:]))
    assert_same_weights(clf, other)
    with pytest.raises(ValueError, match="lr must be > 0"):
        Classifier(lr=-1).fit(X, y)
    with pytest.raises(ValueError, match="not among the classes"):
        Classifier(**TINY).fit(X[:40], y[:40], X_val=X[40:], y_val=y[40:] + 5)


def test_model_file_alone_warns_about_its_preprocessing(tmp_path):
    X, y = np.random.default_rng(5).normal(size=(30, 3)), np.arange(30) % 2
    Classifier(**TINY).fit(X, y).save(tmp_path / "run")
    with pytest.warns(UserWarning, match=r"not apply.*twolayer\.Classifier\.load"):
        TwoLayerNet.load(tmp_path / "run" / "model.npz")


def test_partial_fit_learns_and_checks():
    rng = np.random.default_rng(6)
    y = np.arange(200) % 2
    X = rng.normal(y[:, None] * 2.0, 1.0, (200, 2))
    clf = Classifier(hidden=16, batch_size=20)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1])
    first = clf.score(X, y)
    for _ in range(5):
        clf.partial_fit(X[100:], y[100:])
    assert clf.score(X, y) >= first and clf.score(X, y) > 0.8
    assert len(clf.history_["loss_history"]) == 30  # 5 steps a call
    with pytest.raises(ValueError, match="expecting 2 features"):
        clf.partial_fit(X[:, :1], y)


def test_warm_start_continues_from_the_fitted_weights():
    rng = np.random.default_rng(7)
    y = np.arange(100) % 2
    X = rng.normal(y[:, None], 1.0, (100, 3))
    clf = Classifier(**TINY, warm_start=True).fit(X, y)
    after_first = {k: v.copy() for k, v in clf.model_.params.items()}
    start_loss = clf.history_["loss_history"][0]
    clf.fit(X, y)
    assert clf.history_["loss_history"][0] < start_loss  # it went on from the fitted net
    assert not np.array_equal(clf.model_.params["W1"], after_first["W1"])
    fresh = Classifier(**TINY).fit(X, y)
    assert np.array_equal(fresh.model_.params["W1"], after_first["W1"])
