"""Tests for tabular data: CSV files and .npz arrays, each bad input named clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twolayer.datasets import detect_format, load_csv, load_dataset, load_npz
from twolayer.datasets.tabular import read_csv


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def iris_like(path: Path, rows_per_class: int = 10, label_header: str = "label") -> Path:
    """A CSV sorted by class, with the label column in the middle."""
    lines = [f"width,{label_header},height"]
    for k, name in enumerate(("setosa", "versicolor", "virginica")):
        lines += [f"{k + i / 10},{name},{-k - i / 100}" for i in range(rows_per_class)]
    return write_csv(path, "\n".join(lines) + "\n\n")


# --- CSV ------------------------------------------------------------------------------------


def test_csv_with_label_column_in_the_middle(tmp_path):
    data = load_csv(iris_like(tmp_path / "iris.csv"), val_fraction=0.2, seed=0)
    assert data["class_names"] == ["setosa", "versicolor", "virginica"]
    assert data["feature_names"] == ["width", "height"] and data["label_column"] == "label"
    assert data["X_train"].shape == (24, 2) and data["X_train"].dtype == np.float64
    assert np.bincount(data["y_val"]).tolist() == [2, 2, 2]  # stratified from class-sorted rows
    # Features stay with their labels: width's integer part is the class.
    for X, y in ((data["X_train"], data["y_train"]), (data["X_val"], data["y_val"])):
        np.testing.assert_array_equal(np.floor(X[:, 0]), y)


def test_csv_without_a_label_column_uses_the_last_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,grade\n1,2,1\n3,4,2\n5,6,1\n7,8,2\n")
    data = load_csv(path, val_fraction=0.5)
    assert data["label_column"] == "grade" and data["feature_names"] == ["a", "b"]
    assert data["class_names"] == ["1", "2"]  # 1-based labels -> classes 0, 1


def test_csv_named_label_column_quotes_bom_and_spaces(tmp_path):
    text = (
        '\ufeffkind,"size, cm",weight\n"big cat", 1.5 ,2e3\nmouse,0.1,-3\n'
        '"big cat",2,1\nmouse,0,1\n'
    )
    data = load_csv(write_csv(tmp_path / "d.csv", text), label_column="kind", val_fraction=0.5)
    assert data["feature_names"] == ["size, cm", "weight"]
    assert data["class_names"] == ["big cat", "mouse"]
    rows = np.concatenate([data["X_train"], data["X_val"]])
    assert sorted(rows[:, 1].tolist()) == [-3.0, 1.0, 1.0, 2000.0]


def test_read_csv_for_prediction_selects_features_by_name(tmp_path):
    path = write_csv(tmp_path / "new.csv", "height,extra,width\n1,9,2\n3,9,4\n")
    table = read_csv(path, features=["width", "height"], need_labels=False)
    assert table.X.tolist() == [[2, 1], [4, 3]] and table.labels is None
    with pytest.raises(ValueError, match=r"lacks the feature columns \['depth'\]"):
        read_csv(path, features=["depth"])


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("a,b\n1,x\n2,y\n", {"label_column": "kind"}, r"no label column 'kind'; its columns are"),
        ("a,label\n1,x\nfoo,y\n", {}, r"line 3, column 'a': 'foo' is not a finite number"),
        ("a,b,label\n1,2,x\n3,,y\n", {}, r"line 3, column 'b': '' is not a finite number"),
        ("a,label\n1,x\nnan,y\n", {}, r"line 3, column 'a': 'nan' is not a finite number"),
        ("a,b,label\n1,2,x\n3,4\n", {}, r"line 3: 2 cells, but the header has 3 columns"),
        ("a,b,label\n1,2,x\n3,4,y,5\n", {}, r"line 3: 4 cells, but the header has 3 columns"),
        ("", {}, "is empty: a CSV needs a header"),
        ("a,label\n", {}, "has a header but no data rows"),
        ("label\nx\ny\n", {}, "only the label column 'label', no features"),
        ("a,a,label\n1,2,x\n", {}, r"names \['a'\] more than once"),
        ("a,label\n1,x\n2,x\n", {}, "one class only .'x'."),
        ("a,label\n1,x\n2, \n", {}, "line 3: the label .'label'. is empty"),
    ],
)
def test_bad_csv_is_named(tmp_path, text, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_csv(write_csv(tmp_path / "bad.csv", text), **kwargs)


def test_csv_that_is_not_text(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"a,label\n\xff\xfe,1\n")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        load_csv(path)


# --- npz ------------------------------------------------------------------------------------


def test_npz_with_string_labels_is_split_stratified(tmp_path):
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.array(["no"] * 10 + ["yes"] * 10)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    data = load_npz(tmp_path / "d.npz", val_fraction=0.2, seed=0)
    assert data["class_names"] == ["no", "yes"] and data["X_train"].dtype == np.float32
    assert np.bincount(data["y_val"]).tolist() == [2, 2]
    np.testing.assert_array_equal(data["X_val"][:, 0] >= 20, data["y_val"] == 1)


def test_npz_with_its_own_splits_and_class_names(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (6, 4, 4, 3), dtype=np.uint8)
    np.savez(
        tmp_path / "d.npz", X=X, y=[0, 1, 2, 0, 1, 2],
        X_val=X[:2], y_val=[2, 1], X_test=X[:3], y_test=[1, 1, 0],
        class_names=np.array(["ant", "bee", "cow"]),
    )  # fmt: skip
    data = load_npz(tmp_path / "d.npz")
    assert data["class_names"] == ["ant", "bee", "cow"]
    np.testing.assert_array_equal(data["X_train"], X)  # kept whole: val comes from the file
    assert data["y_val"].tolist() == [2, 1] and data["y_test"].tolist() == [1, 1, 0]
    assert data["X_test"].shape == (3, 4, 4, 3) and data["y_test"].dtype == np.int64


def test_npz_one_based_labels_map_val_and_test_the_same_way(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.eye(4), y=[1, 2, 1, 2], X_test=np.eye(4)[:2], y_test=[2, 1])
    data = load_npz(tmp_path / "d.npz", val_fraction=0.5)
    assert data["class_names"] == ["1", "2"] and data["y_test"].tolist() == [1, 0]


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"X": np.eye(3), "y": [0, 1]}, "X has 3 rows but y has 2 labels"),
        ({"X": np.eye(3), "y": [0, 1, 0], "X_test": np.eye(3), "y_test": [0]}, "X_test has 3"),
        ({"X": np.eye(2)}, "needs arrays 'X' and 'y'"),
        ({"X": np.eye(2), "y": [0, 1], "X_val": np.eye(2)}, "only one of X_val and y_val"),
        ({"X": np.eye(2), "y": [0, 1], "X_val": np.ones((2, 3)), "y_val": [0, 1]}, "shape"),
        ({"X": np.array(["a", "b"])[:, None], "y": [0, 1]}, "must be a numeric array"),
        ({"X": np.array([[1.0], [np.nan]]), "y": [0, 1]}, "1 NaN or inf"),
        ({"X": np.eye(2), "y": [0, 0]}, "one class only"),
        ({"X": np.eye(2), "y": [0, 3], "class_names": ["a", "b"]}, r"in \[0, 2\)"),
        ({"X": np.eye(2), "y": [0, 1], "class_names": ["a", "a"]}, "distinct text"),
        ({"X": np.eye(2), "y": [0, 1], "X_test": np.eye(2), "y_test": [0, 5]}, "'5'"),
    ],
)
def test_bad_npz_is_named(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=match):
        load_npz(tmp_path / "bad.npz")


def test_npz_with_python_objects_is_not_unpickled(tmp_path):
    np.savez(tmp_path / "obj.npz", X=np.eye(2), y=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="'y' holds Python objects, which are never unpickled"):
        load_npz(tmp_path / "obj.npz")


def test_truncated_npz(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.eye(50), y=np.arange(50) % 2)
    cut = tmp_path / "cut.npz"
    cut.write_bytes((tmp_path / "d.npz").read_bytes()[:500])
    with pytest.raises(ValueError, match="cut.npz"):
        load_npz(cut)


# --- format detection -----------------------------------------------------------------------


def test_detect_format_and_load_dataset(tmp_path):
    csv = iris_like(tmp_path / "Iris.CSV")
    np.savez(tmp_path / "d.npz", X=np.eye(4), y=[0, 1, 0, 1])
    assert detect_format(tmp_path) == "images"
    assert detect_format(csv) == "csv" and detect_format(tmp_path / "d.npz") == "npz"
    assert load_dataset(csv, seed=1)["class_names"] == ["setosa", "versicolor", "virginica"]
    assert load_dataset(tmp_path / "d.npz", val_fraction=0.5)["X_val"].shape == (2, 4)
    with pytest.raises(ValueError, match=r"\['image_size'\] apply to image folders"):
        load_dataset(csv, image_size=8)
    (tmp_path / "data.txt").write_text("1,2")
    with pytest.raises(ValueError, match="cannot tell the format of .*data.txt"):
        detect_format(tmp_path / "data.txt")
    with pytest.raises(FileNotFoundError, match="data file not found"):
        detect_format(tmp_path / "missing.csv")
