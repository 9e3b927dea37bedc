"""Untrusted CIFAR-10 batches: shape and type are checked before NumPy or ``hash`` see them.

A pickle can share objects through its memo, so a few hundred bytes can describe a
structure of 2**k parts; whatever walks it (NumPy turning labels into an array, the
dict hashing a tuple key) does 2**k work. These files must be refused up front.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from fake_cifar import make_fake_cifar10

from twolayer.datasets import UnsafePickleError, load_cifar10
from twolayer.datasets.safe_pickle import MAX_DEPTH, check_structure, load_pickle

N = 10


def shared_list(k: int) -> list:
    """A list of two references to a list of two references ... k levels: 2**k leaves."""
    level: list = [0]
    for _ in range(k):
        level = [level, level]
    return level


def shared_tuple_key(k: int) -> bytes:
    """``{t: 1}`` with t a tuple of two references to a tuple ... k levels, as raw opcodes.

    Built by hand: making the dict in Python would hash t, which is the 2**k work itself.
    """
    ops = b"\x80\x02}q\x00K\x00\x85q\x01"  # proto 2, {} memo 0, (0,) memo 1
    for i in range(1, k + 1):
        ops += bytes([0x68, i, 0x68, i, 0x86, 0x71, i + 1])  # get i, get i, tuple2, put i+1
    return ops + b"K\x01s."  # the tuple -> 1, setitem, stop


@pytest.fixture
def folder(tmp_path):
    return make_fake_cifar10(tmp_path, n_per_batch=N)


def test_labels_expanding_through_shared_lists_are_refused(folder):
    data = np.zeros((N, 3072), np.uint8)
    blob = pickle.dumps({b"data": data, b"labels": shared_list(20)}, protocol=2)
    assert len(blob) < 32_000  # the array is most of it; the labels are ~400 bytes
    (folder / "data_batch_2").write_bytes(blob)
    with pytest.raises(UnsafePickleError, match=r"data_batch_2 reuses objects.*refused before"):
        load_cifar10(folder.parent)


def test_a_tuple_key_that_would_take_exponential_hashing_is_refused(folder):
    (folder / "test_batch").write_bytes(shared_tuple_key(20))
    with pytest.raises(UnsafePickleError, match=r"test_batch reuses objects"):
        load_cifar10(folder.parent)
    # Far past anything that could be hashed: refused just as fast, from 300 bytes.
    with pytest.raises(UnsafePickleError, match="expands to"):
        check_structure(shared_tuple_key(40), folder / "x")


def test_deep_nesting_is_refused(folder):
    labels: list = [0]
    for _ in range(MAX_DEPTH + 5):
        labels = [labels]
    blob = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": labels}, protocol=2)
    (folder / "data_batch_1").write_bytes(blob)
    with pytest.raises(UnsafePickleError, match=f"more than {MAX_DEPTH} levels deep"):
        load_cifar10(folder.parent)


@pytest.mark.parametrize(
    "labels, got",
    [
        ([[0, 1]] * 5, "a list holding list"),
        ([0, 1, "2"] + [0] * 7, "a list holding str '2'"),
        ([True] * N, "a list holding bool"),
        ([2**70] * N, "a list holding int"),
        ({0: 1}, "dict"),
        (np.zeros((N, 1), np.int64), r"ndarray int64 \(10, 1\)"),
    ],
)
def test_labels_must_be_a_flat_list_of_integers(folder, labels, got):
    blob = pickle.dumps({b"data": np.zeros((N, 3072), np.uint8), b"labels": labels}, protocol=2)
    (folder / "data_batch_3").write_bytes(blob)
    with pytest.raises(ValueError, match="'labels' must be a list of integers, got " + got):
        load_cifar10(folder.parent)


def test_a_container_changed_after_it_was_shared_is_refused(tmp_path):
    # a = []; b = [a, a]; then a grows: b's recorded size would be stale.
    ops = b"\x80\x02]q\x00]q\x01(h\x00h\x00e0h\x00(K\x01K\x02e."
    path = tmp_path / "grown"
    path.write_bytes(ops)
    with pytest.raises(UnsafePickleError, match="changes an object after sharing it"):
        load_pickle(path)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol_of_a_plain_batch_passes_the_check(tmp_path, protocol):
    batch = {
        b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072),
        b"labels": [3, 7],
        b"filenames": [b"a.png", b"b.png"],
    }
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    loaded = load_pickle(path)
    np.testing.assert_array_equal(loaded[b"data"], batch[b"data"])
    assert loaded[b"labels"] == [3, 7]


@pytest.mark.parametrize("blob", [b"", b"\x80\x02", b"\x80\x02]q\x00(K\x01", b"\xff", b"h\x05."])
def test_malformed_pickles_are_corrupt_not_crashes(tmp_path, blob):
    path = tmp_path / "bad"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match="bad is truncated or corrupt"):
        load_pickle(path)
