"""The caches' folder, size cap and least-recently-used eviction (twolayer.cache), with
both caches writing through it and a concurrent reader in another process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from test_prepcache import make_raw

from twolayer import cache as cachemod
from twolayer.cache import DEFAULT_MAX, Cache, cache_max, describe, open_cache, parse_size
from twolayer.datasets.image_cache import decode_cached
from twolayer.prepcache import preprocess_splits


def arrays(seed: int, n: int = 4096) -> dict[str, np.ndarray]:
    """Entries of one size: n random bytes."""
    return {"x": np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8)}


def store_all(cache: Cache, names: str, at: float | None = None) -> dict[str, Path]:
    """Store one entry per letter of ``names``; with ``at``, last used at at, at+1, ..."""
    paths = {}
    for i, name in enumerate(names):
        entry = cache.entry("prep", name.encode().hex() * 8)
        paths[name] = cache.store(entry, arrays(ord(name)), about=f"entry {name}")
        if at is not None:
            os.utime(paths[name], (at + i, at + i))
    return paths


def alive(paths: dict[str, Path]) -> str:
    return "".join(name for name, path in paths.items() if path.exists())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", 0),
        ("1000000", 1_000_000),
        ("2GiB", 2 * 1024**3),
        ("2g", 2 * 1024**3),
        ("500M", 500 * 1024**2),
        ("1.5G", int(1.5 * 1024**3)),
        ("800MB", 800 * 1000**2),
        (" 64 KiB ", 64 * 1024),
        ("off", None),
        ("OFF", None),
    ],
)
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1G", "2 GiBs", "1e9", "G", "nan", "2GiB off"])
def test_a_bad_size_names_the_variable_and_what_it_takes(text):
    with pytest.raises(ValueError, match=r"TWOLAYER_CACHE_MAX must be a size such as 2GiB"):
        parse_size(text)


def test_the_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("TWOLAYER_CACHE_MAX", raising=False)
    assert cache_max() == DEFAULT_MAX == 2 * 1024**3
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", "")
    assert cache_max() == DEFAULT_MAX
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", "3M")
    assert open_cache().max_bytes == 3 * 1024**2
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", "three")
    with pytest.raises(ValueError, match="got 'three'"):
        open_cache()


def test_least_recently_used_are_evicted_first_and_a_hit_counts_as_use(tmp_path):
    paths = store_all(Cache(tmp_path, None), "abcd", at=1e9)
    size = paths["a"].stat().st_size
    assert {p.stat().st_size for p in paths.values()} == {size}
    cache = Cache(tmp_path, 4 * size)
    assert cache.hit(paths["a"]) and paths["a"].stat().st_mtime > time.time() - 60
    assert [e.path for e in cache.entries()] == [paths[n] for n in "adcb"]  # newest first
    more = store_all(cache, "ef")  # each write evicts the oldest: b, then c
    assert alive(paths) == "ad" and alive(more) == "ef"
    assert sum(e.size for e in cache.entries()) <= 4 * size


def test_the_entry_just_written_stays_even_above_the_cap(tmp_path):
    paths = store_all(Cache(tmp_path, None), "abc", at=1e9)
    [new] = store_all(Cache(tmp_path, 0), "n").values()  # a cap of 0 keeps only the newest
    assert alive(paths) == "" and new.exists()
    assert [e.path for e in Cache(tmp_path, 0).entries()] == [new]


def test_no_cap_never_evicts(tmp_path):
    paths = store_all(Cache(tmp_path, None), "abcdef", at=1e9)
    assert alive(paths) == "abcdef"


def test_files_that_are_not_entries_are_neither_listed_nor_evicted(tmp_path):
    foreign = [tmp_path / "notes.txt", tmp_path / "prep-NOTHEX.npz", tmp_path / "images" / "x.y"]
    for path in foreign:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"mine" * 10_000)
    (tmp_path / "images" / "abc123.npz").mkdir()  # a folder named like an entry
    cache = Cache(tmp_path, 0)
    last = store_all(cache, "ab")["b"]
    assert [e.path for e in cache.entries()] == [last]
    assert all(path.exists() for path in foreign)


def test_both_caches_share_the_cap_and_touch_their_entries_on_a_hit(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path))
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", "off")
    images = tmp_path / "pictures"
    images.mkdir()
    paths = []
    for i in range(3):
        paths.append(images / f"{i}.npy")  # decode_images is replaced: any file will do
        paths[-1].write_bytes(b"")
    fake = np.zeros((3, 4, 4, 3), np.uint8), np.zeros(0, np.int64)
    monkeypatch.setattr("twolayer.datasets.image_cache.decode_images", lambda *a: fake)
    decode_cached(paths, 4, progress=False)
    [decoded] = open_cache().entries()
    assert decoded.kind == "images" and decoded.path.parent == tmp_path / "images"
    assert describe(decoded) == f"3 images of {images}, decoded to 4x4x3"

    os.utime(decoded.path, (1e9, 1e9))
    decode_cached(paths, 4, progress=False)  # a hit
    assert decoded.path.stat().st_mtime > 1e9

    os.utime(decoded.path, (1e9, 1e9))
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", "0")
    preprocess_splits(make_raw(), "mean", 0.1, np.float32)  # a write: evicts the oldest
    [prep] = open_cache().entries()
    assert prep.kind == "prep" and not decoded.path.exists()
    assert describe(prep) == "mean of 80 train, 10 val, 12 test images 3x4x4 float32"
    os.utime(prep.path, (1e9, 1e9))
    _, _, hit = preprocess_splits(make_raw(), "mean", 0.1, np.float32)
    assert hit and prep.path.stat().st_mtime > 1e9


def test_a_bad_cap_fails_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", "big")
    monkeypatch.setattr("twolayer.preprocess.Preprocessor.fit", lambda *a, **k: pytest.fail())
    with pytest.raises(ValueError, match="TWOLAYER_CACHE_MAX"):
        preprocess_splits(make_raw(), cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_clear_by_kind_and_age_and_what_killed_writers_left(tmp_path):
    cache = Cache(tmp_path, None)
    old, new = store_all(cache, "on", at=time.time() - 10 * 86400).values()
    os.utime(new, None)
    image = cache.store(cache.entry("images", "ff" * 16), arrays(9), about="some images")
    dead = tmp_path / "images" / ".x.npz.999999999-0123abcd.tmp"  # no such process
    dead.write_bytes(b"half")
    assert [e.path for e in cache.clear(older_than_s=5 * 86400)] == [old] and not dead.exists()
    assert [e.path for e in cache.clear(kind="images")] == [image]
    assert [e.path for e in cache.clear()] == [new] and cache.entries() == []


def test_an_entry_without_a_description_or_damaged_says_so(tmp_path):
    cache = Cache(tmp_path, None)
    bare = cache.entry("prep", "aa")
    np.savez(bare, x=np.zeros(3))
    broken = cache.entry("prep", "bb")
    broken.write_bytes(b"PK\x03\x04 not really")
    by_path = {e.path: describe(e) for e in cache.entries()}
    assert by_path[bare].startswith("(not recorded: written by twolayer 0.3 or older)")
    assert by_path[broken].startswith("(unreadable: damaged")


READER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from twolayer._io import open_npz
    from twolayer.cache import Cache

    entry, flags = Path(sys.argv[1]), Path(sys.argv[2])

    def wait_for(name):
        deadline = time.monotonic() + 60
        while not (flags / name).exists():
            if time.monotonic() > deadline:
                sys.exit(f"no {name} file")
            time.sleep(0.01)

    assert Cache(entry.parent, None).hit(entry)
    with open_npz(entry, "cache entry") as f:
        (flags / "opened").touch()
        wait_for("evicted")  # the entry is unlinked now; its data is still ours to read
        x = f["x"]
    print(int(x.sum()), x.size)
    """
)


def test_a_concurrent_reader_keeps_reading_an_entry_evicted_under_it(tmp_path):
    cache = Cache(tmp_path / "cache", 0)
    [entry] = store_all(cache, "r").values()
    flags = tmp_path / "flags"
    flags.mkdir()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(entry), str(flags)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (flags / "opened").exists():
            assert reader.poll() is None, reader.communicate()
            assert time.monotonic() < deadline, "the reader never opened the entry"
            time.sleep(0.01)
        [written] = store_all(cache, "w").values()  # cap 0: evicts the open entry
        assert not entry.exists() and written.exists()
        (flags / "evicted").touch()
        out, err = reader.communicate(timeout=60)
    finally:
        reader.kill()
    assert reader.returncode == 0, err
    expected = arrays(ord("r"))["x"]
    assert out.split() == [str(int(expected.sum())), str(expected.size)]


def test_format_size():
    assert [cachemod.format_size(n) for n in (0, 1023, 1536, 410 * 1024**2, 3 * 1024**4)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "410.0 MiB",
        "3072.0 GiB",
    ]
