"""CSV and npz edges: a file without a header, labels 1 and 1.0, values near 1e308."""

from __future__ import annotations

import numpy as np
import pytest
from script_helpers import assert_clean_error, call

from twolayer.datasets import encode_labels, load_csv, load_npz


def test_a_csv_without_a_header_is_refused_not_read_as_one(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("0.5,1.5,0\n1.0,2.0,1\n0.1,0.2,0\n0.3,0.4,1\n")
    with pytest.raises(ValueError, match="is all numbers, a data row rather than a header"):
        load_csv(path)


def test_labels_written_as_1_and_1_0_are_one_class(tmp_path):
    y, names = encode_labels(np.array(["1", "1.0", "2", "2.00", "10", "1e0"]))
    assert names == ["1", "2", "10"] and y.tolist() == [0, 0, 1, 1, 2, 0]
    assert encode_labels(np.array([1.0, 2.0, 1.0]))[1] == ["1", "2"]
    assert encode_labels(np.array(["0.5", "0.50", "1.5"]))[1] == ["0.5", "1.5"]
    path = tmp_path / "labels.csv"
    rows = "".join(f"{i},{i % 3},{'1' if i % 2 else '1.0' if i % 4 else '2'}\n" for i in range(40))
    path.write_text("a,b,label\n" + rows)
    assert load_csv(path)["class_names"] == ["1", "2"]


def test_values_near_1e308_are_called_too_large_not_nan(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    X[3, 1] = 1.7e308
    path = tmp_path / "big.csv"
    path.write_text(
        "a,b,label\n" + "".join(f"{a:.17g},{b:.17g},{i % 2}\n" for i, (a, b) in enumerate(X))
    )
    result = call(capsys, "train", str(path), "--out", str(tmp_path / "run"))
    assert_clean_error(result)
    assert "1.7e+308" in result.stderr and "too large to standardize" in result.stderr
    assert "NaN" not in result.stderr and "warning" not in result.stderr
    np.savez(tmp_path / "big.npz", X=X, y=np.arange(40) % 2)
    with pytest.raises(ValueError, match="too large to standardize"):
        load_npz(tmp_path / "big.npz")
