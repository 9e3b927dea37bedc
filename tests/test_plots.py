"""twolayer.plots and twolayer.runs: every figure writes a valid PNG, drawn from the report's
own charts; histories round-trip."""

from __future__ import annotations

import csv
import types

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from twolayer import TwoLayerNet
from twolayer.plots import (
    WEIGHTS_ZOOM,
    compare_runs,
    decision_regions,
    draw_chart,
    draw_decision_boundary,
    draw_lr_reg,
    plot_decision_boundary,
    plot_first_layer_weights,
    save_run_plots,
    smooth,
    visualize_grid,
    weight_grid,
)
from twolayer.report.curves import accuracy_chart, boundary_chart, loss_chart, lr_chart
from twolayer.report.png import to_uint8
from twolayer.runs import (
    check_run_dir,
    load_config,
    load_history,
    new_run_dir,
    save_config,
    save_history,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert len(data) > 5000, f"{path} is suspiciously small ({len(data)} bytes)"


def fake_solver(epochs: int = 5, per_epoch: int = 8, seed: int = 0) -> types.SimpleNamespace:
    """An object with a trained solver's curves: decaying noisy loss, rising accuracy."""
    rng = np.random.default_rng(seed)
    it = np.arange(epochs * per_epoch)
    acc = 1 - 0.6 * np.exp(-np.arange(1, epochs + 1) / 2)
    return types.SimpleNamespace(
        loss_history=list(np.exp(-it / 10) + 0.1 * rng.random(it.size)),
        train_acc_history=list(acc),
        val_acc_history=list(acc - 0.05),
        val_loss_history=list(np.exp(-np.arange(1, epochs + 1) / 3)),
        lr_history=list(np.repeat(0.1 * 0.5 ** np.arange(epochs), per_epoch)),
        epoch_time_history=[0.01] * epochs,
        best_val_acc=float(acc[-1] - 0.05),
        best_epoch=epochs,
        iterations_per_epoch=per_epoch,
    )


@pytest.fixture
def run_dir(tmp_path):
    path = new_run_dir("fake", root=tmp_path)
    save_config(path, {"lr": 0.1})
    save_history(path, fake_solver())
    return path


def test_run_dir_round_trip(run_dir, tmp_path):
    assert run_dir.parent == tmp_path and run_dir.name.startswith("fake-")
    assert new_run_dir("fake", root=tmp_path) != run_dir  # same second: still unique
    config = load_config(run_dir)
    assert config["lr"] == 0.1 and "version" in config
    history = load_history(run_dir)
    assert len(history["loss_history"]) == 40 and history["iterations_per_epoch"] == 8
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4", "5"]
    first_epoch_mean = np.mean(history["loss_history"][:8])
    assert float(rows[0]["train_loss"]) == pytest.approx(first_epoch_mean)
    assert float(rows[1]["lr"]) == pytest.approx(0.05)


def test_check_run_dir_rejects_non_runs(tmp_path):
    with pytest.raises(ValueError, match="not a run directory"):
        check_run_dir(tmp_path)
    with pytest.raises(ValueError, match="not a run directory"):
        check_run_dir(tmp_path / "missing")


def test_save_run_plots(run_dir):
    paths = save_run_plots(run_dir, load_history(run_dir))
    assert [p.name for p in paths] == ["loss.png", "accuracy.png", "lr.png"]
    for path in paths:
        assert_png(path)


@pytest.mark.parametrize("build", [loss_chart, accuracy_chart, lr_chart])
def test_png_charts_are_the_report_charts(run_dir, build):
    """matplotlib draws exactly the report's chart: its lines, limits and title."""
    chart = build(load_history(run_dir))
    ax = Figure().subplots()
    draw_chart(chart, ax)
    lines = [item for kind, item in chart.items if kind == "line"]
    assert len(ax.lines) == len(lines) > 0
    for drawn, item in zip(ax.lines, lines, strict=True):
        np.testing.assert_array_equal(drawn.get_xdata(), item["x"])
        np.testing.assert_array_equal(drawn.get_ydata(), item["y"])
        assert drawn.get_color() == item["color"]
    (x0, x1), (y0, y1) = chart.limits()
    np.testing.assert_allclose([*ax.get_xlim(), *ax.get_ylim()], [x0, x1, y0, y1])
    assert ax.get_title() == chart.title and ax.get_ylabel() == chart.ylabel
    assert chart.svg().count("<path") >= len(lines)  # the same lines, as SVG


def test_decision_boundary_png_is_the_report_chart():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 2)), rng.integers(0, 3, 20)
    model = TwoLayerNet(input_dim=2, hidden_dim=5, num_classes=3, weight_scale="he", seed=0)
    chart = boundary_chart(model, X, y, resolution=20)
    ax = Figure().subplots()
    draw_chart(chart, ax)
    [(kind, item)] = [entry for entry in chart.items if entry[0] == "image"]
    np.testing.assert_array_equal(ax.images[0].get_array(), item["pixels"])
    assert ax.get_aspect() == 1.0  # equal scales, as in the report


def test_smooth_is_a_trailing_mean():
    np.testing.assert_allclose(smooth([1.0, 3.0, 5.0, 7.0], window=2), [1.0, 2.0, 4.0, 6.0])


def test_decision_boundary(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    y = rng.integers(0, 3, 30)
    model = TwoLayerNet(input_dim=2, hidden_dim=5, num_classes=3, weight_scale="he", seed=0)
    assert_png(plot_decision_boundary(model, X, y, tmp_path / "db.png", resolution=50))
    with pytest.raises(ValueError, match="2-D points"):
        plot_decision_boundary(model, np.zeros((3, 3)), y[:3], tmp_path / "bad.png")


def test_first_layer_weights(tmp_path):
    W1 = np.random.default_rng(0).standard_normal((3 * 8 * 8, 10))
    mosaic = weight_grid(W1, (3, 8, 8), max_units=10)
    assert mosaic.shape == (3 * 9 - 1, 4 * 9 - 1, 3)  # 10 units: 3 rows of 4, 1 px gaps
    assert mosaic.min() == 0 and mosaic.max() == 1
    path = plot_first_layer_weights(W1, tmp_path / "w.png", image_shape=(3, 8, 8))
    # Pillow's PNG of the report's mosaic, each weight WEIGHTS_ZOOM pixels wide
    pixels = to_uint8(mosaic, 0.0, 1.0).repeat(WEIGHTS_ZOOM, 0).repeat(WEIGHTS_ZOOM, 1)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pixels)
    grey = plot_first_layer_weights(W1[:64], tmp_path / "g.png", image_shape=(8, 8))
    assert np.asarray(Image.open(grey)).ndim == 2
    with pytest.raises(ValueError, match="does not match image_shape"):
        weight_grid(W1, (3, 32, 32))


def test_compare_runs(tmp_path):
    histories = {
        name: load_history(_saved_run(tmp_path / name, seed)) for seed, name in enumerate("ab")
    }
    assert_png(compare_runs(histories, tmp_path / "compare.png"))
    with pytest.raises(ValueError, match="at least one"):
        compare_runs({}, tmp_path / "none.png")


def _saved_run(path, seed):
    new_run_dir("fake", out=path)
    save_config(path, {})
    save_history(path, fake_solver(seed=seed))
    return path


def test_core_package_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, twolayer; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_visualize_grid_is_the_course_grid():
    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((5, 4, 3, 3))
    Xs[4] = 7.0  # a constant image: black, not NaN
    grid = visualize_grid(Xs, ubound=255.0, padding=2)
    # ceil(sqrt(5)) = 3 rows and columns, 2 px of zeros between images
    assert grid.shape == (3 * 4 + 2 * 2, 3 * 3 + 2 * 2, 3)
    first = grid[:4, :3]
    assert first.min() == 0 and first.max() == 255
    np.testing.assert_allclose(first, 255 * (Xs[0] - Xs[0].min()) / np.ptp(Xs[0]))
    assert np.all(grid[4:6] == 0) and np.all(grid[:, 3:5] == 0)  # the padding
    assert np.all(grid[6:10, 3:6] == 0)  # image 4, constant
    assert np.all(grid[12:] == 0)  # the empty last row of the square
    assert visualize_grid(Xs[:1], ubound=1.0, padding=1).max() == 1.0
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        visualize_grid(Xs[0])


def test_draw_decision_boundary_fills_an_axes():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 2)), rng.integers(0, 3, 20)
    model = TwoLayerNet(input_dim=2, hidden_dim=5, num_classes=3, weight_scale="he", seed=0)
    ax = Figure().subplots()
    draw_decision_boundary(model, X, y, ax, resolution=20)
    assert ax.get_title().startswith("Decision regions")
    assert ax.collections  # the regions and the points
    xs, ys, regions = decision_regions(model, X, resolution=20)
    assert regions.shape == (20, 20) and xs[0] < X[:, 0].min() and ys[-1] > X[:, 1].max()


def test_draw_lr_reg_marks_the_best_and_the_failed_trials():
    rows = [
        {"lr": 1e-3, "reg": 1e-4, "val_acc": 0.5, "status": "ok"},
        {"lr": 1e-2, "reg": 1e-3, "val_acc": 0.7, "status": "ok"},
        {"lr": 1e-1, "reg": 1e-2, "val_acc": 0.0, "status": "diverged"},
    ]
    ax = Figure().subplots()
    draw_lr_reg(rows, ax)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_title() == "Validation accuracy of 3 trials"
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["best (trial 1)", "diverged or failed"]
    np.testing.assert_allclose(ax.collections[1].get_offsets(), [[1e-2, 1e-3]])  # the best
