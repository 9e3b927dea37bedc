"""The preprocessing cache: hits, misses, damaged entries, its folder, concurrent writers."""

import os
import threading
import time

import numpy as np
import pytest

from twolayer import prepcache
from twolayer.cache import cache_dir
from twolayer.prepcache import preprocess_splits
from twolayer.preprocess import Preprocessor


def make_raw(seed=0, n_train=80):
    """Tiny CIFAR-like splits: uint8 images (N, 4, 4, 3) and int64 labels."""
    rng = np.random.default_rng(seed)

    def images(n):
        base = rng.normal(128, 40, (n, 1, 1, 3)) + rng.normal(0, 15, (n, 4, 4, 3))
        return np.clip(base, 0, 255).astype(np.uint8)

    raw = {"X_train": images(n_train), "X_val": images(10), "X_test": images(12)}
    for split, X in list(raw.items()):
        raw["y" + split[1:]] = rng.integers(0, 10, len(X))
    return raw


def entries(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_miss_then_hit_gives_the_same_arrays(tmp_path, capsys):
    raw = make_raw()
    prep, data, hit = preprocess_splits(raw, "zca", 0.1, np.float16, cache=tmp_path)
    assert not hit and len(entries(tmp_path)) == 1
    again, cached, hit = preprocess_splits(raw, "zca", 0.1, np.float16, cache=tmp_path)
    assert hit and capsys.readouterr().err == ""
    assert (again.method, again.epsilon) == ("zca", 0.1)
    assert np.array_equal(again.mean, prep.mean) and np.array_equal(again.matrix, prep.matrix)
    assert list(cached) == list(raw)
    for split in ("train", "val", "test"):
        assert cached[f"X_{split}"].dtype == np.float16
        assert cached[f"X_{split}"].shape == (len(raw[f"X_{split}"]), 3, 4, 4)
        assert np.array_equal(cached[f"X_{split}"], data[f"X_{split}"])
        assert cached[f"y_{split}"] is raw[f"y_{split}"]


def test_the_result_is_the_preprocessor_s(tmp_path):
    raw = make_raw()
    _, data, _ = preprocess_splits(raw, "mean", 0.1, np.float32, cache=tmp_path)
    prep = Preprocessor("mean").fit(raw["X_train"], channels_last=True)
    assert np.array_equal(data["X_val"], prep.transform(raw["X_val"], channels_last=True))


def test_splits_without_test_images(tmp_path):
    raw = {k: v for k, v in make_raw().items() if not k.endswith("test")}
    for expect_hit in (False, True):
        _, data, hit = preprocess_splits(raw, "mean", 0.1, np.float32, cache=tmp_path)
        assert hit == expect_hit and sorted(data) == ["X_train", "X_val", "y_train", "y_val"]


@pytest.mark.parametrize(
    "change",
    [
        {"epsilon": 0.05},
        {"method": "mean"},
        {"store_dtype": np.float32},
        {"num_val": 9},  # a different split size
        {"pixel": True},  # one changed pixel
    ],
)
def test_a_changed_setting_or_input_misses(tmp_path, change):
    raw = make_raw()
    settings = {"method": "zca", "epsilon": 0.1, "store_dtype": np.float16}
    preprocess_splits(raw, **settings, cache=tmp_path)
    if change.pop("pixel", False):
        raw["X_val"] = raw["X_val"].copy()
        raw["X_val"][3, 1, 2, 0] ^= 1
    if "num_val" in change:
        raw["X_val"], raw["y_val"] = raw["X_val"][: change["num_val"]], raw["y_val"][:9]
    settings.update((k, v) for k, v in change.items() if k != "num_val")
    _, data, hit = preprocess_splits(raw, **settings, cache=tmp_path)
    assert not hit and len(entries(tmp_path)) == 2
    assert data["X_val"].dtype == np.dtype(settings["store_dtype"])


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))


def flip_a_payload_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the images: only the zip CRC can notice
    path.write_bytes(bytes(data))


def rewrite(path, **changes):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def wrong_version(path):
    rewrite(path, version=np.int64(prepcache.VERSION + 1))


def wrong_key(path):
    rewrite(path, key=np.array("0" * 40))


def wrong_shape(path):
    rewrite(path, X_val=np.zeros((9, 3, 4, 4), np.float16))


def pickled_array(path):
    rewrite(path, X_test=np.array([{"not": "an array"}], dtype=object))


@pytest.mark.parametrize(
    "damage",
    [
        truncate,
        random_bytes,
        flip_a_payload_byte,
        wrong_version,
        wrong_key,
        wrong_shape,
        pickled_array,
    ],  # fmt: skip
)
def test_a_damaged_entry_is_rebuilt_with_a_warning(tmp_path, capsys, damage):
    raw = make_raw()
    _, first, _ = preprocess_splits(raw, cache=tmp_path)
    [name] = entries(tmp_path)
    damage(tmp_path / name)
    capsys.readouterr()
    _, rebuilt, hit = preprocess_splits(raw, cache=tmp_path)
    err = capsys.readouterr().err
    assert not hit
    assert err.startswith("warning: unusable preprocessing cache entry") and err.count("\n") == 1
    assert "rebuilding it" in err
    assert all(np.array_equal(rebuilt[k], first[k]) for k in first)
    _, _, hit = preprocess_splits(raw, cache=tmp_path)
    assert hit and entries(tmp_path) == [name] and capsys.readouterr().err == ""


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "mine"
    preprocess_splits(make_raw(), "mean", cache=True)
    assert len(entries(tmp_path / "mine")) == 1 and not (tmp_path / "xdg").exists()
    monkeypatch.delenv("TWOLAYER_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "twolayer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "twolayer"


def test_no_cache_reads_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path))
    raw = make_raw()
    for _ in range(2):
        _, _, hit = preprocess_splits(raw, cache=False)
        assert not hit
    assert entries(tmp_path) == []


def test_concurrent_writers_leave_one_valid_entry(tmp_path, monkeypatch):
    # Both threads must miss before either writes: each waits for the other in fit.
    barrier = threading.Barrier(2, timeout=30)
    fit = Preprocessor.fit
    monkeypatch.setattr(
        Preprocessor, "fit", lambda self, *a, **k: (barrier.wait(), fit(self, *a, **k))[1]
    )
    raw = make_raw()
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(preprocess_splits(raw, cache=tmp_path)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [hit for _, _, hit in results] == [False, False]
    assert len(entries(tmp_path)) == 1 and entries(tmp_path)[0].startswith("prep-")
    monkeypatch.setattr(Preprocessor, "fit", fit)
    _, data, hit = preprocess_splits(raw, cache=tmp_path)
    assert hit and np.array_equal(data["X_train"], results[0][1]["X_train"])


def test_stale_temporary_files_are_removed_on_write(tmp_path):
    stale, fresh = tmp_path / ".prep-x.npz.abc.tmp", tmp_path / ".prep-y.npz.def.tmp"
    for tmp in (stale, fresh):
        tmp.write_bytes(b"partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    preprocess_splits(make_raw(), "mean", cache=tmp_path)
    assert not stale.exists() and fresh.exists()


def test_an_unwritable_cache_warns_and_still_returns_the_data(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    _, data, hit = preprocess_splits(make_raw(), "mean", cache=blocker)
    assert not hit and data["X_train"].shape == (80, 3, 4, 4)
    assert capsys.readouterr().err.startswith("warning: could not write the preprocessing cache")


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="X_train"):
        preprocess_splits({"X_val": np.zeros((2, 4, 4, 3), np.uint8)}, cache=tmp_path)
    with pytest.raises(ValueError, match="store_dtype"):
        preprocess_splits(make_raw(), store_dtype=np.int16, cache=tmp_path)
    with pytest.raises(ValueError, match="unknown preprocessing"):
        preprocess_splits(make_raw(), "pca", cache=tmp_path)
    assert entries(tmp_path) == []
