"""The course's data functions: load_CIFAR10 and get_CIFAR10_data, on a fake CIFAR-10."""

from __future__ import annotations

import numpy as np
import pytest
from fake_cifar import make_fake_cifar10

from twolayer.datasets import get_CIFAR10_data, load_CIFAR10, load_cifar10

N = 20  # images per batch file: 100 training, 20 test


def test_load_CIFAR10_returns_course_float_images(tmp_path):
    folder = make_fake_cifar10(tmp_path, n_per_batch=N)
    Xtr, Ytr, Xte, Yte = load_CIFAR10(folder)
    assert Xtr.shape == (5 * N, 32, 32, 3) and Xte.shape == (N, 32, 32, 3)
    assert Xtr.dtype == Xte.dtype == np.float64
    assert Ytr.shape == (5 * N,) and Yte.shape == (N,)
    raw = load_cifar10(tmp_path)
    np.testing.assert_array_equal(Xtr, raw[0])
    np.testing.assert_array_equal(Yte, raw[3])


def test_get_CIFAR10_data_course_signature(tmp_path):
    make_fake_cifar10(tmp_path, n_per_batch=N)
    data = get_CIFAR10_data(80, 10, 5, cifar10_dir=tmp_path, download=False)
    assert sorted(data) == ["X_test", "X_train", "X_val", "y_test", "y_train", "y_val"]
    assert data["X_train"].shape == (80, 3, 32, 32) and data["X_train"].dtype == np.float64
    assert data["X_val"].shape == (10, 3, 32, 32) and data["X_test"].shape == (5, 3, 32, 32)
    Xtr, Ytr, Xte, _ = load_CIFAR10(tmp_path)
    mean = Xtr[:80].mean(axis=0)
    # The course's split: validation follows the training images; test is the first ones.
    np.testing.assert_allclose(data["X_val"][3], (Xtr[83] - mean).transpose(2, 0, 1))
    np.testing.assert_allclose(data["X_test"][0], (Xte[0] - mean).transpose(2, 0, 1))
    np.testing.assert_array_equal(data["y_val"], Ytr[80:90])
    raw = get_CIFAR10_data(80, 10, 5, subtract_mean=False, cifar10_dir=tmp_path)
    np.testing.assert_array_equal(raw["X_train"][0], Xtr[0].transpose(2, 0, 1))


def test_get_CIFAR10_data_says_where_the_data_should_be(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CIFAR-10 data"):
        get_CIFAR10_data(cifar10_dir=tmp_path / "nothing", download=False)


def _no_download(*args, **kwargs):
    raise AssertionError("the course's loader must not download")


def test_get_CIFAR10_data_finds_the_course_layout(tmp_path, monkeypatch):
    # The assignment's folder: cs231n/datasets/cifar-10-batches-py under the notebook's.
    make_fake_cifar10(tmp_path / "cs231n" / "datasets", n_per_batch=N)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("twolayer.datasets.cifar10.download_cifar10", _no_download)
    data = get_CIFAR10_data(80, 10, 5)
    assert data["X_train"].shape == (80, 3, 32, 32)
    Xtr, _, _, _ = load_CIFAR10("cs231n/datasets/cifar-10-batches-py")
    np.testing.assert_allclose(data["X_train"][0], (Xtr[0] - Xtr[:80].mean(0)).transpose(2, 0, 1))


def test_get_CIFAR10_data_falls_back_to_data(tmp_path, monkeypatch):
    make_fake_cifar10(tmp_path / "data", n_per_batch=N, seed=1)
    (tmp_path / "cs231n" / "datasets").mkdir(parents=True)  # the course's folder, empty
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("twolayer.datasets.cifar10.download_cifar10", _no_download)
    data = get_CIFAR10_data(80, 10, 5, subtract_mean=False)
    np.testing.assert_array_equal(data["y_train"], load_cifar10(tmp_path / "data")[1][:80])


def test_get_CIFAR10_data_offline_names_every_place_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("twolayer.datasets.cifar10.download_cifar10", _no_download)
    with pytest.raises(FileNotFoundError) as info:
        get_CIFAR10_data()
    message = str(info.value)
    assert str(tmp_path / "cs231n" / "datasets" / "cifar-10-batches-py") in message
    assert str(tmp_path / "data") in message and "get_datasets.sh" in message
    assert "cifar10_dir=" in message
