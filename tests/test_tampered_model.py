"""A tampered or damaged model.npz given to predict is one error line saying so, never a
traceback nor NaN, inf or complex "probabilities"; Python warnings reach the user as one
line each."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from script_helpers import assert_clean_error, call


def write_csv(path: Path, labels=("a", "b")) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] > 0, *labels)
    rows = "".join(
        f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{label}\n" for r, label in zip(X, y, strict=True)
    )
    path.write_text("f1,f2,f3,label\n" + rows, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tampered")
    data = write_csv(root / "data.csv")
    args = ["train", str(data), "--epochs", "2", "--hidden", "8", "--quiet", "--out"]
    from twolayer.cli.main import main

    assert main([*args, str(root / "run")]) == 0
    return root


def tamper(trained: Path, tmp_path: Path, **changes) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    arrays = dict(np.load(run / "model.npz"))
    arrays.update(changes)
    np.savez(run / "model.npz", **arrays)
    return run


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"W1": "nan"}, "W1 holds NaN or infinite values"),
        ({"b2": "inf"}, "b2 holds NaN or infinite values"),
        ({"W2": "complex"}, "W2 holds complex128, not real numbers"),
        ({"W1": "str"}, "not real numbers"),
        ({"b1": "int"}, "b1 holds int64, not real numbers"),
        ({"extra_class_names": "one"}, "1 class names for 2 classes"),
        ({"config_json": "deep"}, "is not a twolayer model file, or is damaged"),
    ],
)
def test_predict_refuses_a_tampered_model(trained, tmp_path, capsys, change, said):
    [(key, how)] = change.items()
    original = np.load(trained / "run" / "model.npz")[key]
    value = {
        "nan": lambda: np.full_like(original, np.nan),
        "inf": lambda: np.full_like(original, np.inf),
        "complex": lambda: original.astype(complex),
        "str": lambda: original.astype(str),
        "int": lambda: original.astype(np.int64),
        "one": lambda: np.array(["a"]),
        "deep": lambda: np.array("[" * 100_000 + "]" * 100_000),
    }[how]()
    run = tamper(trained, tmp_path, **{key: value})
    result = call(capsys, "predict", str(run), str(trained / "data.csv"))
    assert_clean_error(result)
    assert said in result.stderr and "damaged" in result.stderr


def test_python_warnings_are_one_line_each(tmp_path, capsys):
    data = write_csv(tmp_path / "cjk.csv", labels=("猫", "犬"))
    result = call(capsys, "train", str(data), "--epochs", "1", "--quiet", "--out",
                  str(tmp_path / "run"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Warning:" not in result.stderr and "Glyph" not in result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("warning: ") for line in lines), lines
    assert len(lines) == len(set(lines))
