"""`twolayer cache list` and `twolayer cache clear`: their output, their help and their errors."""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest
from PIL import Image
from script_helpers import assert_clean_error, call
from test_prepcache import make_raw

from twolayer.cache import Cache, format_size, open_cache
from twolayer.prepcache import preprocess_splits


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A cache folder holding two preprocessing entries and one decoded-images entry."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TWOLAYER_CACHE", str(folder))
    monkeypatch.delenv("TWOLAYER_CACHE_MAX", raising=False)
    cache = open_cache()
    aged: list = []

    def last_used(days_ago):  # the entry just written
        [new] = [e.path for e in cache.entries() if e.path not in aged]
        os.utime(new, (time.time() - days_ago * 86400,) * 2)
        aged.append(new)

    preprocess_splits(make_raw(), "zca", 0.1, np.float16)
    last_used(40)
    preprocess_splits(make_raw(), "mean", 0.1, np.float32)
    last_used(3)
    cache.store(cache.entry("images", "c0ffee" * 4), {"images": np.zeros(9)}, "9 images of /x")
    last_used(0)
    return folder


def test_list_shows_each_entry_then_the_total_and_the_cap(capsys, root):
    result = call(capsys, "cache", "list")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"cache folder {root}"
    assert re.split(r"\s{2,}", lines[1]) == ["kind", "size", "last used", "what", "file"]
    entries = Cache(root, None).entries()
    rows = lines[2:-1]
    assert len(rows) == 3
    whats = ["9 images of /x", "mean of 80 train, 10 val, 12 test images 3x4x4 float32",
             "zca (epsilon 0.1) of 80 train, 10 val, 12 test images 3x4x4 float16"]  # fmt: skip
    for row, entry, what in zip(rows, entries, whats, strict=True):  # most recently used first
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used))
        file = str(entry.path.relative_to(root))
        assert re.split(r"\s{2,}", row) == [entry.kind, format_size(entry.size), when, what, file]
    total = format_size(sum(e.size for e in entries))
    assert lines[-1] == f"3 entries, {total} in all, a cap of 2.0 GiB (the default; " + (
        "set TWOLAYER_CACHE_MAX)"
    )


@pytest.mark.parametrize(
    "value, says",
    [
        ("off", "no cap (TWOLAYER_CACHE_MAX=off)"),
        ("500MiB", "a cap of 500.0 MiB (TWOLAYER_CACHE_MAX)"),
        ("1K", "a cap of 1.0 KiB (TWOLAYER_CACHE_MAX); over it, so the next entry written "
         "evicts the least recently used"),
    ],
)  # fmt: skip
def test_list_says_the_cap_and_where_it_comes_from(capsys, root, monkeypatch, value, says):
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", value)
    last = call(capsys, "cache", "list").stdout.splitlines()[-1]
    assert last.endswith(f" in all, {says}")


def test_list_of_an_empty_or_missing_cache(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "none yet"))
    result = call(capsys, "cache", "list")
    assert result.returncode == 0
    assert result.stdout.splitlines()[1].startswith("0 entries, 0 B in all, a cap of 2.0 GiB")
    assert not (tmp_path / "none yet").exists()


def test_clear_by_age_then_kind_then_all(capsys, root):
    before = Cache(root, None).entries()
    result = call(capsys, "cache", "clear", "--older-than", "30")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"removed 1 entry, {format_size(before[2].size)}, from {root}",
        f"2 entries, {format_size(before[0].size + before[1].size)} left",
    ]
    assert not before[2].path.exists() and before[1].path.exists()
    call(capsys, "cache", "clear", "--kind", "images")
    assert [e.kind for e in Cache(root, None).entries()] == ["prep"]
    (root / "mine.txt").write_text("not an entry")
    result = call(capsys, "cache", "clear")
    assert result.stdout.splitlines()[-1] == "0 entries, 0 B left"
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["mine.txt"]


def test_clear_of_nothing(capsys, root):
    result = call(capsys, "cache", "clear", "--older-than", "365", "--kind", "prep")
    assert result.stdout.startswith("removed 0 entries, 0 B, ")
    assert len(Cache(root, None).entries()) == 3


@pytest.mark.parametrize("action", ["list", "clear"])
def test_a_bad_cap_is_one_error_line(capsys, root, monkeypatch, action):
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", "2 gigs")
    result = call(capsys, "cache", action)
    assert_clean_error(result)
    assert "TWOLAYER_CACHE_MAX must be a size such as 2GiB, 500MiB or 0, or off for no cap; " in (
        result.stderr
    )
    assert len(Cache(root, None).entries()) == 3  # clear removed nothing


def test_a_bad_cap_stops_a_training_run_before_it_starts(capsys, tmp_path, monkeypatch):
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (6, 6), (40 * i, 0, 0)).save(tmp_path / "pets" / name / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TWOLAYER_CACHE_MAX", "-5")
    result = call(capsys, "train", str(tmp_path / "pets"), "--epochs", "1", "--out", "runs")
    assert_clean_error(result)
    assert "TWOLAYER_CACHE_MAX must be a size" in result.stderr and "got '-5'" in result.stderr
    assert not (tmp_path / "runs").exists() and not os.listdir(os.environ["TWOLAYER_CACHE"])


@pytest.mark.parametrize("action", ["list", "clear"])
def test_a_cache_folder_that_cannot_be_read_is_one_error_line(
    capsys, tmp_path, monkeypatch, action
):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file")
    monkeypatch.setenv("TWOLAYER_CACHE", str(not_a_folder))
    result = call(capsys, "cache", action)
    assert_clean_error(result)
    assert f"cannot read the cache folder {not_a_folder} (Not a directory)" in result.stderr
    assert not_a_folder.read_text() == "a file"


def test_a_cache_folder_without_read_permission_is_one_error_line(capsys, root, monkeypatch):
    def refuse(path):  # as os.scandir does for a user without read permission
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("twolayer.cache.os.scandir", refuse)
    result = call(capsys, "cache", "list")
    assert_clean_error(result)
    assert f"cannot read the cache folder {root} (Permission denied); " in result.stderr


def test_help_describes_the_actions_and_flags(capsys):
    main = call(capsys, "--help").stdout
    assert re.search(r"^\s+cache\s+list or clear the caches", main, re.M)
    text = " ".join(call(capsys, "cache", "--help").stdout.split())
    for words in ("$TWOLAYER_CACHE_MAX (default 2GiB;", "off for no cap", "list ", "clear "):
        assert words in text
    clear = " ".join(call(capsys, "cache", "clear", "--help").stdout.split())
    assert "--older-than DAYS only entries last used more than DAYS days ago" in clear
    assert "--kind {images,prep} only this kind" in clear
    assert call(capsys, "cache", "list", "--help").returncode == 0


@pytest.mark.parametrize(
    "args, says",
    [
        ((), "the following arguments are required: {list,clear}"),
        (("clear", "--older-than", "-1"), "must be a finite number >= 0, got '-1'"),
        (("clear", "--kind", "zca"), "invalid choice: 'zca'"),
    ],
)
def test_usage_errors_are_one_line(capsys, args, says):
    result = call(capsys, "cache", *args)
    assert_clean_error(result)
    assert says in result.stderr
