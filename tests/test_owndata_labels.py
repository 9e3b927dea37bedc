"""Tests for twolayer.datasets.labels: label mapping and the (stratified) train/val split."""

from __future__ import annotations

import numpy as np
import pytest

from twolayer.datasets import apply_labels, encode_labels, train_val_split

# --- encode_labels / apply_labels -----------------------------------------------------------


def test_string_labels_map_to_sorted_classes():
    y, names = encode_labels(["dog", "cat", "emu", "cat"])
    assert names == ["cat", "dog", "emu"]
    assert y.tolist() == [1, 0, 2, 0] and y.dtype == np.int64


def test_one_based_integer_labels_become_zero_based():
    y, names = encode_labels(np.array([1, 3, 2, 3]))
    assert y.tolist() == [0, 2, 1, 2] and names == ["1", "2", "3"]


def test_numeric_text_labels_sort_as_numbers():
    # As read from a CSV: "10" must come after "9", not between "1" and "2".
    y, names = encode_labels(["10", "9", "1", "9"])
    assert names == ["1", "9", "10"] and y.tolist() == [2, 1, 0, 1]


def test_float_and_bool_labels():
    assert encode_labels(np.array([0.5, -1.0, 0.5]))[1] == ["-1.0", "0.5"]
    y, names = encode_labels(np.array([True, False, True]))
    assert names == ["False", "True"] and y.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (["cat", "cat"], "one class only .'cat'."),
        ([], "empty"),
        (np.array([1.0, np.nan]), "NaN or inf"),
        (np.zeros((2, 2)), "1-D"),
    ],
)
def test_encode_labels_refuses(values, match):
    with pytest.raises(ValueError, match=match):
        encode_labels(values)


def test_apply_labels_uses_the_training_classes_and_names_unknown_ones():
    _, names = encode_labels(["b", "a", "c"])
    assert apply_labels(["c", "a"], names).tolist() == [2, 0]
    assert apply_labels(np.array([2, 1]), ["1", "2"]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="not among the training classes: 'zebra'"):
        apply_labels(["a", "zebra"], names, "y_test")


# --- train_val_split ------------------------------------------------------------------------


def sorted_by_class(counts):
    """Rows sorted by class, as many data files are: X holds each row's index."""
    y = np.repeat(np.arange(len(counts)), counts)
    return np.arange(y.size), y


def test_stratified_split_gives_each_class_its_share():
    X, y = sorted_by_class([50, 30, 20])
    split = train_val_split(X, y, val_fraction=0.1, stratify=True, seed=0)
    assert np.bincount(split["y_val"]).tolist() == [5, 3, 2]
    assert np.bincount(split["y_train"]).tolist() == [45, 27, 18]
    # Every row once, labels kept with their rows.
    rows = np.concatenate([split["X_train"], split["X_val"]])
    assert sorted(rows.tolist()) == list(range(100))
    np.testing.assert_array_equal(y[split["X_val"]], split["y_val"])
    np.testing.assert_array_equal(y[split["X_train"]], split["y_train"])


def test_stratified_split_uses_largest_remainders_and_keeps_every_class_in_training():
    X, y = sorted_by_class([6, 3, 1])
    split = train_val_split(X, y, num_val=5, stratify=True, seed=0)
    # Shares 3, 1.5, 0.5: the one-row class stays in training, class 1 takes the extra row.
    assert np.bincount(split["y_val"], minlength=3).tolist() == [3, 2, 0]
    assert set(split["y_train"].tolist()) == {0, 1, 2}


def test_stratified_split_is_shuffled_and_reproducible_with_the_seed():
    X, y = sorted_by_class([40, 40])
    a = train_val_split(X, y, val_fraction=0.25, stratify=True, seed=1)
    b = train_val_split(X, y, val_fraction=0.25, stratify=True, seed=1)
    c = train_val_split(X, y, val_fraction=0.25, stratify=True, seed=2)
    np.testing.assert_array_equal(a["X_val"], b["X_val"])
    assert not np.array_equal(a["X_val"], c["X_val"])
    # Not the last rows, and not in class order.
    assert set(a["X_val"].tolist()) != set(range(60, 80))
    assert np.any(np.diff(a["y_train"]) < 0)


def test_stratified_split_takes_string_labels_and_num_train():
    X = np.arange(12)
    y = np.array(["a"] * 6 + ["b"] * 6)
    split = train_val_split(X, y, num_train=4, num_val=2, stratify=True, seed=0)
    assert sorted(split["y_val"].tolist()) == ["a", "b"]
    assert sorted(split["y_train"].tolist()) == ["a", "a", "b", "b"]


def test_seeded_split_without_stratify_is_a_random_split():
    X, y = sorted_by_class([10, 10])
    split = train_val_split(X, y, num_train=15, num_val=5, seed=0)
    assert len(split["X_train"]) == 15 and len(split["X_val"]) == 5
    assert not set(split["X_train"].tolist()) & set(split["X_val"].tolist())
    assert split["X_val"].tolist() != list(range(15, 20))


def test_legacy_split_is_unchanged_views_from_the_ends():
    X, y = np.arange(10).reshape(10, 1), np.arange(10)
    split = train_val_split(X, y, 6, 3)
    assert split["y_train"].tolist() == [0, 1, 2, 3, 4, 5]
    assert split["y_val"].tolist() == [7, 8, 9]
    assert np.shares_memory(split["X_val"], X)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 0.0}, "strictly between 0 and 1"),
        ({"val_fraction": 1.0}, "strictly between 0 and 1"),
        ({"val_fraction": "0.1"}, "a number between 0 and 1"),
        ({"num_val": 9}, "leaves some of the 3 classes no training rows"),
        ({"num_val": 2, "val_fraction": 0.2}, "not both"),
        ({"num_train": 9, "num_val": 2}, "cannot take 9 training and 2 validation rows from 10"),
        ({"num_val": -1}, "non-negative integer"),
    ],
)
def test_split_refuses_bad_sizes(kwargs, match):
    X, y = sorted_by_class([4, 3, 3])
    with pytest.raises(ValueError, match=match):
        train_val_split(X, y, stratify=True, seed=0, **kwargs)


def test_split_refuses_mismatched_lengths_and_missing_sizes():
    with pytest.raises(ValueError, match="X has 3 rows but y has 2 labels"):
        train_val_split(np.zeros(3), np.zeros(2), 1, 1)
    with pytest.raises(ValueError, match="give num_train and num_val"):
        train_val_split(np.zeros(3), np.zeros(3))
