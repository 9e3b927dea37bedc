"""predict, report and plot --out never overwrite their inputs or a run's files, write what
their name says, and never create folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from script_helpers import assert_clean_error, call

SPIRAL = ["train", "spiral", "--num-per-class", "20", "--hidden", "8", "--epochs", "1", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two spiral runs and a CSV run, with the CSV's rows to predict."""
    from twolayer.cli.main import main

    root = tmp_path_factory.mktemp("out")
    for name in ("a", "b"):
        assert main([*SPIRAL, "--out", str(root / name)]) == 0
    X = np.random.default_rng(0).normal(size=(40, 2))
    rows = "".join(f"{x:.4f},{z:.4f},{int(x > 0)}\n" for x, z in X)
    (root / "data.csv").write_text("x,z,label\n" + rows)
    assert main(["train", str(root / "data.csv"), "--epochs", "1", "--quiet", "--out",
                 str(root / "c")]) == 0  # fmt: skip
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["predict", "{c}", "{data}", "--out", "{data}"], "would overwrite the input"),
        (["predict", "{c}", "{data}", "--out", "{c}/model.npz"], "would overwrite the input"),
        (["predict", "{c}", "{data}", "--out", "{a}/config.json"], "would replace the config"),
        (["report", "{a}", "{b}", "--out", "{a}/report.html"], "would overwrite the input"),
        (["report", "{a}", "{b}", "--out", "{root}/page.png"], "must end in .html"),
        (["plot", "{a}", "{b}", "--out", "{root}/x.html"], "must end in .png"),
        (["plot", "{a}", "{b}", "--out", "{b}/loss.png"], "would overwrite the input"),
        (["plot", "{a}", "{b}", "--out", "/no_such_folder_tl/x.png"], "does not exist"),
    ],
)
def test_out_is_checked_before_anything_is_written(runs, capsys, command, said):
    names = {k: str(runs / k) for k in ("a", "b", "c")}
    args = [a.format(root=runs, data=runs / "data.csv", **names) for a in command]
    before = snapshot(runs)
    result = call(capsys, *args)
    assert_clean_error(result)
    assert said in result.stderr
    assert snapshot(runs) == before
    assert not Path("/no_such_folder_tl").exists()
