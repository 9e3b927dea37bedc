"""Tests for twolayer.datasets: spiral, CIFAR-10 loading/download/extraction, augmentation.

Everything runs offline on tiny fake CIFAR-10 files in the official format (see
fake_cifar.py); downloads go to a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import pickle
import shutil
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import FOLDER_NAME, TARBALL_NAME, make_fake_cifar10, write_batch

from twolayer.datasets import (
    CLASSES,
    UnsafePickleError,
    download_cifar10,
    get_cifar10_data,
    load_cifar10,
    make_augment,
    make_spiral,
    random_flip,
    random_translate,
    spiral_splits,
)

N = 20  # images per fake batch


def read_raw(path: Path) -> tuple[np.ndarray, list[int]]:
    """Read a batch we wrote ourselves with plain pickle (trusted test data)."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    return batch[b"data"], batch[b"labels"]


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --- spiral -------------------------------------------------------------------------------


def test_spiral_shapes_dtypes_balance_and_radius():
    X, y = make_spiral(num_per_class=50, num_classes=4, noise=0.1, seed=0)
    assert X.shape == (200, 2) and X.dtype == np.float64
    assert y.shape == (200,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50] * 4
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius.min() == 0.0 and np.isclose(radius.max(), 1.0)
    # Noise only moves the angle, so the radius of each arm still runs 0 -> 1 linearly.
    np.testing.assert_allclose(radius[:50], np.linspace(0, 1, 50), atol=1e-12)


def test_spiral_matches_cs231n_notes_without_noise():
    X, y = make_spiral(num_per_class=10, num_classes=3, noise=0.0, seed=0)
    for k in range(3):
        r = np.linspace(0, 1, 10)
        t = np.linspace(4 * k, 4 * (k + 1), 10)
        np.testing.assert_allclose(X[y == k], np.c_[r * np.sin(t), r * np.cos(t)], atol=1e-12)


def test_spiral_is_deterministic_per_seed():
    a, _ = make_spiral(seed=3)
    b, _ = make_spiral(seed=3)
    c, _ = make_spiral(seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_per_class": 0}, "num_per_class"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
    ],
)
def test_spiral_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_spiral(**kwargs)


def test_spiral_splits_are_stratified_disjoint_and_deterministic():
    s = spiral_splits(num_per_class=50, num_classes=3, val_fraction=0.2, seed=1)
    assert s["X_train"].shape == (120, 2) and s["X_val"].shape == (30, 2)
    assert np.bincount(s["y_train"]).tolist() == [40] * 3
    assert np.bincount(s["y_val"]).tolist() == [10] * 3
    assert s["y_train"][:10].tolist() != sorted(s["y_train"][:10].tolist())  # shuffled
    # Together the two sets are exactly the spiral drawn with the same seed.
    X, _ = make_spiral(num_per_class=50, num_classes=3, seed=1)
    both = np.concatenate([s["X_train"], s["X_val"]])
    np.testing.assert_array_equal(np.unique(both, axis=0), np.unique(X, axis=0))
    assert len(both) == len(X)
    again = spiral_splits(num_per_class=50, num_classes=3, val_fraction=0.2, seed=1)
    for key in s:
        np.testing.assert_array_equal(s[key], again[key])
    with pytest.raises(ValueError, match="val_fraction"):
        spiral_splits(val_fraction=1.0)
    with pytest.raises(ValueError, match="at least one"):
        spiral_splits(num_per_class=2, val_fraction=0.1)


# --- CIFAR-10 loading ---------------------------------------------------------------------


def test_classes():
    assert CLASSES == ("airplane", "automobile", "bird", "cat", "deer",
                       "dog", "frog", "horse", "ship", "truck")  # fmt: skip


def test_load_shapes_dtypes_and_channel_layout(tmp_path):
    folder = make_fake_cifar10(tmp_path, n_per_batch=N)
    X_train, y_train, X_test, y_test = load_cifar10(tmp_path)
    assert X_train.shape == (5 * N, 32, 32, 3) and X_train.dtype == np.uint8
    assert X_test.shape == (N, 32, 32, 3) and X_test.dtype == np.uint8
    assert y_train.shape == (5 * N,) and y_train.dtype == np.int64 and y_test.dtype == np.int64
    data, labels = read_raw(folder / "data_batch_2")
    i, h, w = 7, 5, 30  # image 7 of batch 2, pixel at row 5, column 30
    p = 32 * h + w
    assert X_train[N + i, h, w].tolist() == [data[i, p], data[i, 1024 + p], data[i, 2048 + p]]
    assert y_train[N : 2 * N].tolist() == labels
    test_data, test_labels = read_raw(folder / "test_batch")
    np.testing.assert_array_equal(X_test.reshape(N, -1, 3)[:, :, 1], test_data[:, 1024:2048])
    assert y_test.tolist() == test_labels
    # The batches folder itself is accepted as root too.
    np.testing.assert_array_equal(load_cifar10(folder)[0], X_train)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_load_accepts_str_keys(tmp_path, protocol):
    folder = make_fake_cifar10(tmp_path, n_per_batch=N)
    data, labels = read_raw(folder / "data_batch_1")
    write_batch(folder / "data_batch_1", data, labels, str_keys=True, protocol=protocol)
    X_train, y_train, _, _ = load_cifar10(tmp_path)
    np.testing.assert_array_equal(X_train[:N].transpose(0, 3, 1, 2).reshape(N, -1), data)
    assert y_train[:N].tolist() == labels


def test_malicious_pickle_runs_nothing(tmp_path):
    folder = make_fake_cifar10(tmp_path, n_per_batch=N)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    blob = pickle.dumps({b"data": Payload(), b"labels": [0]}, protocol=2)
    pickle.loads(blob)[b"data"].close()  # the payload is live: plain pickle creates the file
    assert marker.exists()
    marker.unlink()
    (folder / "data_batch_3").write_bytes(blob)
    with pytest.raises(UnsafePickleError, match=r"data_batch_3.*io\.open") as info:
        load_cifar10(tmp_path)
    assert isinstance(info.value, ValueError)
    assert not marker.exists()


def test_pickle_calling_os_system_is_refused(tmp_path):
    folder = make_fake_cifar10(tmp_path, n_per_batch=N)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Payload()}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"test_batch.*system"):
        load_cifar10(tmp_path)
    assert not marker.exists()


def test_truncated_file_names_file_and_fix(tmp_path):
    folder = make_fake_cifar10(tmp_path, n_per_batch=N)
    path = folder / "data_batch_4"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"data_batch_4 is truncated or corrupt.*re-download"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize(
    "data, labels, match",
    [
        (np.zeros((4, 3072), np.float32), [0] * 4, "uint8 array"),
        (np.zeros((4, 3000), np.uint8), [0] * 4, r"shape \(n, 3072\)"),
        (np.zeros((4, 3072), np.uint8), [0] * 3, "3 labels but X has 4 rows"),
        (np.zeros((4, 3072), np.uint8), [0, 1, 2, 10], r"labels must lie in \[0, 10\)"),
    ],
)
def test_bad_contents_are_rejected(tmp_path, data, labels, match):
    folder = make_fake_cifar10(tmp_path, n_per_batch=N)
    write_batch(folder / "data_batch_5", data, labels)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path)
    assert "data_batch_5" in str(info.value) and "re-download" in str(info.value)


def test_missing_batches_and_missing_data(tmp_path):
    folder = make_fake_cifar10(tmp_path, n_per_batch=N)
    (folder / "data_batch_2").unlink()
    (folder / "data_batch_5").unlink()
    with pytest.raises(FileNotFoundError, match="found 3 of 5 training batches in"):
        load_cifar10(tmp_path)
    with pytest.raises(FileNotFoundError, match=TARBALL_NAME):
        load_cifar10(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nothing" / TARBALL_NAME)):
        get_cifar10_data(tmp_path / "nothing", download=False)
    assert not (tmp_path / "nothing").exists()


# --- CS231n split and preprocessing -------------------------------------------------------


def test_split_and_mean_of_training_split_only(tmp_path):
    make_fake_cifar10(tmp_path, n_per_batch=N)
    X_train, y_train, X_test, y_test = load_cifar10(tmp_path)
    d = get_cifar10_data(tmp_path, num_training=70, num_validation=20, num_test=15)
    raw = X_train.transpose(0, 3, 1, 2).astype(np.float64)
    mean = raw[:70].mean(axis=0)
    assert d["mean_image"].shape == (3, 32, 32) and d["mean_image"].dtype == np.float32
    np.testing.assert_allclose(d["mean_image"], mean, rtol=1e-6)
    assert d["X_train"].shape == (70, 3, 32, 32) and d["X_train"].dtype == np.float32
    np.testing.assert_allclose(d["X_train"], raw[:70] - mean, atol=1e-4)
    np.testing.assert_allclose(d["X_val"], raw[70:90] - mean, atol=1e-4)
    test = X_test[:15].transpose(0, 3, 1, 2) - mean
    np.testing.assert_allclose(d["X_test"], test, atol=1e-4)
    np.testing.assert_array_equal(d["y_train"], y_train[:70])
    np.testing.assert_array_equal(d["y_val"], y_train[70:90])
    np.testing.assert_array_equal(d["y_test"], y_test[:15])
    assert "std" not in d


def test_no_mean_channels_last_and_float64(tmp_path):
    make_fake_cifar10(tmp_path, n_per_batch=N)
    X_train, *_ = load_cifar10(tmp_path)
    d = get_cifar10_data(
        tmp_path,
        num_training=50,
        num_validation=10,
        num_test=5,
        subtract_mean=False,
        dtype=np.float64,
        channels_first=False,
    )
    assert d["X_train"].dtype == np.float64 and d["X_val"].shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(d["X_train"], X_train[:50])
    assert "mean_image" not in d


@pytest.mark.parametrize("channels_first", [True, False])
def test_standardize_gives_unit_channel_variance(tmp_path, channels_first):
    make_fake_cifar10(tmp_path, n_per_batch=N)
    d = get_cifar10_data(
        tmp_path,
        num_training=80,
        num_validation=20,
        num_test=N,
        standardize=True,
        channels_first=channels_first,
    )
    axes = (0, 2, 3) if channels_first else (0, 1, 2)
    assert d["std"].shape == ((3, 1, 1) if channels_first else (1, 1, 3))
    np.testing.assert_allclose(d["X_train"].std(axis=axes, dtype=np.float64), 1.0, rtol=1e-4)
    np.testing.assert_allclose(d["X_train"].mean(axis=axes, dtype=np.float64), 0.0, atol=1e-4)
    plain = get_cifar10_data(
        tmp_path, num_training=80, num_validation=20, num_test=N, channels_first=channels_first
    )
    np.testing.assert_allclose(d["X_val"] * d["std"], plain["X_val"], atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_training": 49_500, "num_validation": 1_000}, "50000 training images"),
        ({"num_test": 10_001}, "10000 test images"),
        ({"num_training": 90, "num_validation": 20}, "has only 100 and 20"),
        ({"num_training": 0}, "num_training"),
        ({"num_validation": -1}, "num_validation"),
        ({"dtype": np.uint8}, "floating"),
        ({"standardize": True, "subtract_mean": False}, "subtract_mean"),
    ],
)
def test_get_data_rejects_bad_arguments(tmp_path, kwargs, match):
    make_fake_cifar10(tmp_path, n_per_batch=N)
    with pytest.raises(ValueError, match=match):
        get_cifar10_data(tmp_path, **{"num_test": 5, **kwargs})


# --- download and extraction --------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path/www`` on 127.0.0.1; yields (www folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(www))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{TARBALL_NAME}"


def test_download_verifies_md5_and_extracts(tmp_path, server):
    www, base = server
    tarball = make_fake_cifar10(www, n_per_batch=N, tarball=True)
    root = tmp_path / "data"
    folder = download_cifar10(
        root, url=f"{base}/{TARBALL_NAME}", md5=md5_of(tarball), progress=False
    )
    assert folder == root / FOLDER_NAME
    assert sorted(p.name for p in root.iterdir()) == sorted([TARBALL_NAME, FOLDER_NAME])
    assert load_cifar10(root)[0].shape == (5 * N, 32, 32, 3)
    # A second call finds the folder and does not touch the network.
    assert download_cifar10(root, url=closed_port_url(), progress=False) == folder


def test_download_md5_mismatch_leaves_nothing(tmp_path, server):
    www, base = server
    make_fake_cifar10(www, n_per_batch=N, tarball=True)
    root = tmp_path / "data"
    with pytest.raises(ValueError, match="has MD5 .* expected 0{32}"):
        download_cifar10(root, url=f"{base}/{TARBALL_NAME}", md5="0" * 32, progress=False)
    assert list(root.iterdir()) == []


def test_existing_tarball_is_used_without_download(tmp_path):
    root = tmp_path / "data"
    tarball = make_fake_cifar10(root, n_per_batch=N, tarball=True)
    with pytest.raises(ValueError, match="differs from the official.*md5=None"):
        download_cifar10(root, url=closed_port_url(), progress=False)
    assert sorted(p.name for p in root.iterdir()) == [TARBALL_NAME]
    folder = download_cifar10(root, url=closed_port_url(), md5=md5_of(tarball), progress=False)
    assert (folder / "test_batch").is_file()
    shutil.rmtree(folder)
    assert download_cifar10(root, url=closed_port_url(), md5=None, progress=False) == folder


def test_get_data_with_an_unofficial_local_tarball(tmp_path):
    root = tmp_path / "data"
    make_fake_cifar10(root, n_per_batch=N, tarball=True)
    with pytest.raises(ValueError, match="md5=None"):  # checked offline against the MD5
        get_cifar10_data(root, num_training=90, num_validation=10, num_test=N)
    download_cifar10(root, md5=None, progress=False)
    d = get_cifar10_data(root, num_training=90, num_validation=10, num_test=N)
    assert d["X_train"].shape == (90, 3, 32, 32)


def test_no_network_says_where_to_put_the_files(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(ConnectionError) as info:
        download_cifar10(root, url=closed_port_url(), progress=False)
    message = str(info.value)
    assert str(root / TARBALL_NAME) in message and str(root / FOLDER_NAME) in message
    assert list(root.iterdir()) == []


def test_missing_file_on_server(tmp_path, server):
    _, base = server
    with pytest.raises(ConnectionError, match="404"):
        download_cifar10(tmp_path, url=f"{base}/{TARBALL_NAME}", progress=False)
    assert list(tmp_path.iterdir()) == [tmp_path / "www"]


def add_member(tar: tarfile.TarFile, name: str, data: bytes = b"x", **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data) if not attrs else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if not attrs else None)


@pytest.mark.parametrize("with_filter", [True, False])
@pytest.mark.parametrize(
    "name, attrs, match",
    [
        (f"{FOLDER_NAME}/../../evil.txt", {}, "outside the destination"),
        ("/tmp/evil.txt", {}, "outside the destination"),
        (f"{FOLDER_NAME}/link", {"type": tarfile.SYMTYPE, "linkname": "../../evil.txt"}, "a link"),
        (f"{FOLDER_NAME}/fifo", {"type": tarfile.FIFOTYPE}, "special file"),
    ],
)
def test_unsafe_tarball_members_are_rejected(
    tmp_path, monkeypatch, with_filter, name, attrs, match
):
    if not with_filter:  # exercise the path for Pythons without tarfile.data_filter
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    root = tmp_path / "a" / "data"
    root.mkdir(parents=True)
    with tarfile.open(root / TARBALL_NAME, "w:gz") as tar:
        add_member(tar, f"{FOLDER_NAME}/test_batch")
        add_member(tar, name, **attrs)
    with pytest.raises(ValueError, match=f"unsafe member .*{match}"):
        download_cifar10(root, md5=None, progress=False)
    assert sorted(p.name for p in root.iterdir()) == [TARBALL_NAME]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["data"]
    assert not Path("/tmp/evil.txt").exists()


def test_corrupt_or_wrong_tarball(tmp_path):
    root = tmp_path / "data"
    tarball = make_fake_cifar10(root, n_per_batch=N, tarball=True)
    tarball.write_bytes(tarball.read_bytes()[:-500])
    with pytest.raises(ValueError, match="truncated or corrupt.*delete it"):
        download_cifar10(root, md5=None, progress=False)
    with tarfile.open(tarball, "w:gz") as tar:
        add_member(tar, "other/readme.txt")
    with pytest.raises(ValueError, match=f"no {FOLDER_NAME}/ folder"):
        download_cifar10(root, md5=None, progress=False)
    assert sorted(p.name for p in root.iterdir()) == [TARBALL_NAME]


# --- augmentation -------------------------------------------------------------------------


def batch(n=16, dtype=np.float32, seed=0):
    return (np.random.default_rng(seed).random((n, 3, 8, 10)) + 1).astype(dtype)


def test_flip_is_exact_mirror_per_example():
    X = batch()
    np.testing.assert_array_equal(random_flip(X, np.random.default_rng(0), p=1.0), X[..., ::-1])
    np.testing.assert_array_equal(random_flip(X, np.random.default_rng(0), p=0.0), X)
    out = random_flip(X, np.random.default_rng(1))
    flipped = [np.array_equal(o, x[..., ::-1]) for o, x in zip(out, X, strict=True)]
    kept = [np.array_equal(o, x) for o, x in zip(out, X, strict=True)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True)) and 0 < sum(flipped) < len(X)


def shifted(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Reference: move image x (C, H, W) down by dy and right by dx, zero-filling."""
    out = np.zeros_like(x)
    H, W = x.shape[1:]
    out[:, max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = \
        x[:, max(-dy, 0) : H - max(dy, 0), max(-dx, 0) : W - max(dx, 0)]  # fmt: skip
    return out


def test_translate_shifts_content_and_zero_fills():
    X = batch(n=64)
    out = random_translate(X, np.random.default_rng(0), max_shift=2)
    assert out.shape == X.shape and out.flags.c_contiguous
    seen = set()
    for o, x in zip(out, X, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(o, shifted(x, dy, dx))
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 10  # every image draws its own shift
    np.testing.assert_array_equal(random_translate(X, np.random.default_rng(0), 0), X)
    with pytest.raises(ValueError, match="out of frame"):
        random_translate(X, np.random.default_rng(0), max_shift=8)
    with pytest.raises(ValueError, match="max_shift"):
        random_translate(X, np.random.default_rng(0), max_shift=-1)


def test_make_augment_names_and_errors():
    assert make_augment().__name__ == make_augment().__qualname__ == "flip+translate2"
    assert make_augment(flip=False, translate=4).__name__ == "translate4"
    assert make_augment(translate=0).__name__ == "flip"
    assert repr(make_augment()) == "make_augment(flip=True, translate=2)"
    with pytest.raises(ValueError, match="augment=None"):
        make_augment(flip=False, translate=0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        make_augment()(np.zeros((4, 3072), np.float32), np.random.default_rng(0))


def test_train_val_split_takes_validation_from_the_end():
    from twolayer.datasets import train_val_split

    X, y = np.arange(10).reshape(10, 1), np.arange(10)
    split = train_val_split(X, y, num_train=6, num_val=3)
    assert split["y_train"].tolist() == [0, 1, 2, 3, 4, 5]
    assert split["y_val"].tolist() == [7, 8, 9] and split["X_val"][:, 0].tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="exceeds the 10 training images"):
        train_val_split(X, y, num_train=8, num_val=3)


def test_augment_from_spec_names_what_make_augment_names():
    from twolayer.datasets import augment_from_spec

    assert augment_from_spec("none") is None
    for spec in ("flip", "translate3", "flip+translate2"):
        assert augment_from_spec(spec).__name__ == spec
    assert augment_from_spec("translate2+flip").__name__ == "flip+translate2"
    for bad in ("flop", "flip+", "translate", 3):
        with pytest.raises(ValueError):
            augment_from_spec(bad)
