"""twolayer.report without a browser: the pages' content, the live callback, the command.

The tiny runs made here (``spiral_run``, ``image_run``, ``search_dir``) are also what
tests/test_report_browser.py opens in Chromium.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from script_helpers import ROOT, SCRIPTS, assert_clean_error, run, twolayer

from twolayer import Solver, TwoLayerNet
from twolayer.cli.main import main as twolayer_main
from twolayer.datasets import CLASSES, spiral_splits
from twolayer.history import history_from_solver
from twolayer.report import (
    RunResults,
    compare_runs_html,
    live_report_callback,
    render_report,
    write_report,
    write_search_report,
)
from twolayer.report.html import flatten_settings
from twolayer.report.png import encode_png, to_uint8
from twolayer.report.svg import Chart, linear_ticks, log_ticks
from twolayer.runs import load_history, save_config
from twolayer.search import build_space, make_spec, run_search

# -- tiny runs, shared with the browser tests ----------------------------------------------


def train_epochs(solver: Solver, epochs: int, on_epoch_end) -> None:
    """Train ``epochs`` epochs, calling ``on_epoch_end(solver)`` after each, as the
    Solver's hook of that name does."""
    for k in range(1, epochs + 1):
        solver.num_epochs = k
        solver.train()
        on_epoch_end(solver)


def _solver(model: TwoLayerNet, data: dict, lr: float, batch_size: int) -> Solver:
    return Solver(
        model, data, update_rule="adam", optim_config={"learning_rate": lr},
        lr_schedule="step", batch_size=batch_size, num_epochs=1, num_train_samples=None,
        seed=0, verbose=False,
    )  # fmt: skip


def spiral_run(run_dir: Path, epochs: int = 4, lr: float = 0.05) -> dict:
    """A spiral run trained with the live callback, then its final report."""
    data = spiral_splits(30, 3, 0.2, 0.2, seed=0)
    model = TwoLayerNet(2, 16, 3, weight_scale="he", seed=0)
    save_config(run_dir, {"run": {"dataset": "spiral", "hidden": 16, "lr": lr}})
    solver = _solver(model, data, lr, 16)
    train_epochs(solver, epochs, live_report_callback(run_dir, total_epochs=epochs))
    model.save(run_dir / "model.npz")
    X = np.concatenate([data["X_train"], data["X_val"]])
    y = np.concatenate([data["y_train"], data["y_val"]])
    results = RunResults(
        split="val", y_true=data["y_val"], proba=model.predict_proba(data["X_val"]),
        model=model, points=(X, y), seconds=1.5,
    )  # fmt: skip
    history = history_from_solver(solver)
    write_report(run_dir, history=history, results=results, data="spiral, 3 arms")
    return {"run_dir": run_dir, "history": history, "results": results}


def image_run(run_dir: Path, epochs: int = 2) -> dict:
    """A run on 100 random 32x32 colour images of the ten CIFAR-10 classes."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    y = np.arange(100) % 10
    X = images.transpose(0, 3, 1, 2).reshape(100, -1).astype(np.float32) / 255 - 0.5
    data = {"X_train": X[:60], "y_train": y[:60], "X_val": X[60:80], "y_val": y[60:80]}
    save_config(
        run_dir,
        {"settings": {"hidden": 8, "lr": 1e-3}, "model": {"hidden_dim": 8}, "solver": {}},
    )
    model = TwoLayerNet(3072, 8, 10, weight_scale="he", seed=0)
    solver = _solver(model, data, 1e-3, 20)
    train_epochs(solver, epochs, live_report_callback(run_dir))
    proba = model.predict_proba(X[80:])
    results = RunResults(
        test_acc=0.25, val_acc=0.3, class_names=CLASSES, y_true=y[80:], proba=proba,
        images=images[80:], W1=model.params["W1"], image_shape=(3, 32, 32),
    )  # fmt: skip
    history = history_from_solver(solver)
    write_report(run_dir, history=history, results=results)
    return {"run_dir": run_dir, "history": history, "results": results}


def search_dir(out: Path) -> Path:
    """A finished three-trial search on a small spiral, run in this process."""
    space = build_space("spiral", {"epochs": 3, "hidden": 8})
    spec = make_spec("spiral", space, trials=3, seed=0, data={"num_per_class": 20})
    with ThreadPoolExecutor(1) as executor:
        run_search(spec, out, executor=executor, progress=False)
    write_search_report(out)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("runs")
    return {
        "spiral": spiral_run(root / "spiral"),
        "spiral_b": spiral_run(root / "spiral-b", epochs=3, lr=0.01),
        "images": image_run(root / "images"),
    }


# -- helpers to read the pages -------------------------------------------------------------


def headline_values(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', html))


def headline_cards(html: str) -> dict[str, tuple[str, str, str]]:
    """Each headline card's key -> (label, how it was measured, the figure shown)."""
    cards = re.findall(
        r'data-key="([^"]+)"[^>]*><dt>([^<]*)(?:<span class="how">([^<]*)</span>)?</dt>'
        r"<dd>([^<]*)</dd>",
        html,
    )
    return {key: (label, how, text) for key, label, how, text in cards}


def headline_texts(html: str) -> dict[str, str]:
    return {key: text for key, (_, _, text) in headline_cards(html).items()}


def assert_no_duplicate_cards(html: str) -> None:
    labels = [(label, how) for label, how, _ in headline_cards(html).values()]
    assert len(labels) == len(set(labels)), labels


def assert_self_contained(html: str) -> None:
    """Nothing fetched: pictures are data URIs, links are relative, no script or stylesheet."""
    assert "<script" not in html and 'rel="stylesheet"' not in html
    for attr, url in re.findall(r'(src|href)="([^"]*)"', html):
        assert not re.match(r"[a-z]+://", url), (attr, url)
        if attr == "src":
            assert url.startswith("data:image/png;base64,"), url[:40]


# -- a run's page --------------------------------------------------------------------------


def test_final_spiral_report(runs):
    run_dir, history = runs["spiral"]["run_dir"], runs["spiral"]["history"]
    html = (run_dir / "report.html").read_text()
    assert_self_contained(html)
    assert 'http-equiv="refresh"' not in html and 'id="finished"' in html
    assert "<h1>spiral</h1>" in html and "data: spiral, 3 arms" in html
    values = headline_values(html)
    assert float(values["best_val_acc"]) == history["best_val_acc"]
    assert int(values["best_epoch"]) == history["best_epoch"] and values["epochs"] == "4"
    accuracy = np.mean(runs["spiral"]["results"].y_pred == runs["spiral"]["results"].y_true)
    assert float(values["accuracy"]) == accuracy  # the val split, labelled as such
    cards = headline_cards(html)
    assert cards["accuracy"] == ("val accuracy", "single view", f"{accuracy:.4f}")
    assert "val_acc" not in cards  # the same figure: one card, not two
    assert_no_duplicate_cards(html)
    assert cards["best_val_acc"][1] == f"single view, epoch {history['best_epoch']}"
    assert headline_texts(html)["total_time"] == "1.5 s"
    for anchor in ("curves", "boundary", "per-class", "confusion", "settings", "files"):
        assert f'<section id="{anchor}">' in html, anchor
    assert 'id="weights"' not in html  # 2-D inputs are not pictures
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 4  # 3 curves, 1 boundary
    links = re.findall(r'<li><a href="([^"]+)">', html)
    assert links == ["model.npz", "config.json", "history.json", "history.csv", "results.json"]
    assert json.loads((run_dir / "results.json").read_text())["split"] == "val"


def test_final_image_report(runs):
    run_dir = runs["images"]["run_dir"]
    results = runs["images"]["results"]
    html = (run_dir / "report.html").read_text()
    assert_self_contained(html)
    values = headline_values(html)
    assert values["accuracy"] == "0.25" and values["val_acc"] == "0.3"
    cards = headline_cards(html)
    assert cards["accuracy"][:2] == ("test accuracy", "single view")
    assert cards["val_acc"][:2] == ("val accuracy", "single view")
    assert_no_duplicate_cards(html)
    for name in CLASSES:  # per-class table and confusion matrix rows
        assert html.count(f"<th>{name}</th>") == 2 and f"<td>{name}</td>" in html
    n_wrong = int(np.sum(results.y_pred != results.y_true))
    assert n_wrong > 0
    shown = re.findall(r"<figure><img src=\"data:image/png;base64,[^\"]+\" width=\"96\"", html)
    assert len(shown) == min(16, n_wrong)
    assert re.search(r"true <b>\w+</b><br>predicted <b class=\"bad\">\w+</b>", html)
    assert 'alt="first-layer weights of 8 hidden units"' in html
    # The legacy config layout is flattened with dotted keys.
    assert "<td>settings.lr</td><td>0.001</td>" in html
    assert "<td>model.hidden_dim</td><td>8</td>" in html


def test_tta_figures_say_so_and_the_single_view_ones_too(tmp_path):
    results = RunResults(test_acc=0.58, test_acc_single=0.56, val_acc=0.47, val_acc_single=0.5625,
                         tta="flip", y_true=[0, 1, 1], proba=np.eye(2)[[0, 1, 0]])  # fmt: skip
    write_report(tmp_path, history=_history(2), config={}, results=results)
    html = (tmp_path / "report.html").read_text()
    cards = headline_cards(html)
    assert cards["accuracy"] == ("test accuracy", "TTA, 2 views", "0.5800")
    assert cards["accuracy_single"] == ("test accuracy", "single view", "0.5600")
    assert cards["val_acc"] == ("val accuracy", "TTA, 2 views", "0.4700")
    assert cards["best_val_acc"][1] == "single view, epoch 2"
    assert_no_duplicate_cards(html)
    assert "Confusion matrix (test, TTA, 2 views)" in html
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["views"] == 2 and summary["val_acc_single"] == 0.5625
    # A results.json written before the figures said how they were measured: no claim.
    old = {k: summary[k] for k in ("accuracy", "val_acc", "split", "seconds")}
    (tmp_path / "results.json").write_text(json.dumps(old))
    write_report(tmp_path, history=_history(2), config={})
    cards = headline_cards((tmp_path / "report.html").read_text())
    assert cards["accuracy"] == ("test accuracy", "", "0.5800")
    assert "accuracy_single" not in cards


def test_wrong_examples_are_the_most_confident_ones():
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    results = RunResults(y_true=np.array([1, 0, 1, 1]), proba=proba, class_names=["a", "b"])
    html = render_report("r", _history(2), results=results)
    order = re.findall(r'<span class="note">test #(\d+)</span>', html)
    assert order == ["0", "3", "1"]  # p = 0.9, 0.7, 0.6; example 2 is right
    assert "p = 0.900" in html


def _history(epochs: int, per_epoch: int = 3) -> dict:
    acc = list(np.linspace(0.3, 0.6, epochs))
    return {
        "loss_history": list(np.linspace(2, 1, epochs * per_epoch)),
        "lr_history": [0.1] * (epochs * per_epoch),
        "train_acc_history": acc,
        "val_acc_history": acc,
        "val_loss_history": [1.0] * epochs,
        "epoch_time_history": [0.5] * epochs,
        "best_val_acc": acc[-1] if acc else 0.0,
        "best_epoch": epochs,
        "iterations_per_epoch": per_epoch,
    }


def test_live_callback_rewrites_history_and_report_every_epoch(tmp_path):
    data = spiral_splits(10, 3, 0.2, 0.2, seed=0)
    model = TwoLayerNet(2, 8, 3, weight_scale="he", seed=0)
    save_config(tmp_path, {"run": {"hidden": 8}})
    callback = live_report_callback(tmp_path, total_epochs=5, refresh_seconds=2)
    solver = _solver(model, data, 0.05, 8)
    for k in (1, 2):
        solver.num_epochs = k
        solver.train()
        callback(solver)
        history = load_history(tmp_path)
        assert len(history["val_acc_history"]) == k
        assert len((tmp_path / "history.csv").read_text().splitlines()) == 1 + k
        html = (tmp_path / "report.html").read_text()
        assert '<meta http-equiv="refresh" content="2">' in html
        assert f"Training: epoch {k} of 5" in html
        assert headline_texts(html)["epochs"] == f"{k} of 5"
        assert "<td>hidden</td><td>8</td>" in html  # config.json read from the run
        assert "model.npz" not in html  # not written yet: not linked
    assert not (tmp_path / "results.json").exists()


def test_a_killed_run_keeps_history_and_report_up_to_its_last_epoch(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_report import _solver, train_epochs
        from twolayer import TwoLayerNet
        from twolayer.runs import save_config
        from twolayer.datasets import spiral_splits
        from twolayer.report import live_report_callback

        run_dir = {str(tmp_path)!r}
        save_config(run_dir, {{"run": {{"epochs": 10}}}})
        live = live_report_callback(run_dir, total_epochs=10)

        def on_epoch_end(solver):
            live(solver)
            if solver.epoch == 3:
                os.kill(os.getpid(), signal.SIGKILL)

        model = TwoLayerNet(2, 8, 3, weight_scale="he", seed=0)
        train_epochs(_solver(model, spiral_splits(10, 3, seed=0), 0.05, 8), 10, on_epoch_end)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    history = load_history(tmp_path)
    assert len(history["val_acc_history"]) == 3
    assert len(history["loss_history"]) == 3 * history["iterations_per_epoch"]
    html = (tmp_path / "report.html").read_text()
    assert "Training: epoch 3 of 10" in html and html.rstrip().endswith("</html>")
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file left behind


def test_empty_stopped_and_diverged_runs_render():
    empty = _history(0)
    html = render_report("empty", empty, live=(0, 5))
    assert headline_texts(html)["epochs"] == "0 of 5"
    stopped = render_report("stopped", _history(2), status="Interrupted after epoch 2 of 5.")
    assert '<p class="sub" id="finished">Interrupted after epoch 2 of 5.</p>' in stopped
    diverged = _history(3)
    diverged["loss_history"][4:] = [float("nan")] * 5
    html = render_report("nan", diverged)
    assert "NaN" not in html.split("<svg", 1)[1]  # a gap in the curve, not a NaN coordinate


MAX_PAGE_BYTES = 600_000  # a run's page at any class count


def many_class_results(num_classes: int = 1000, per_class: int = 5) -> RunResults:
    """A 1000-class evaluation: labels, probabilities with a mistake in most rows."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(num_classes), per_class)
    proba = rng.random((y.size, num_classes), dtype=np.float32) ** 8
    proba[np.arange(y.size), y] += 0.5 * rng.random(y.size, dtype=np.float32)
    proba /= proba.sum(axis=1, keepdims=True)
    names = [f"class-{k:04d}" for k in range(num_classes)]
    return RunResults(test_acc=float(np.mean(proba.argmax(1) == y)), class_names=names,
                      y_true=y, proba=proba)  # fmt: skip


def write_many_class_run(run_dir: Path) -> Path:
    return write_report(run_dir, history=_history(3), config={}, results=many_class_results())


def test_a_thousand_classes_give_a_small_page_that_summarizes_the_confusions(tmp_path):
    results = many_class_results()
    path = write_many_class_run(tmp_path)
    html = path.read_text()
    assert path.stat().st_size < MAX_PAGE_BYTES, path.stat().st_size
    assert 'class="confusion"' not in html  # no 1000 x 1000 matrix
    assert "Most confused pairs" in html and "1000 × 1000 matrix is too large" in html
    counts = np.zeros((1000, 1000), dtype=int)
    np.add.at(counts, (results.y_true, results.y_pred), 1)
    np.fill_diagonal(counts, 0)
    # The pairs listed are the most frequent mistakes, most frequent first.
    pairs = re.findall(
        r"<tr><td>class-(\d+)</td><td>class-(\d+)</td><td class=\"num\">(\d+)</td>", html
    )
    assert len(pairs) == 40
    shown = [int(n) for _, _, n in pairs]
    assert shown == sorted(shown, reverse=True) and shown[0] == counts.max()
    assert all(counts[int(i), int(j)] == int(n) for i, j, n in pairs)
    assert sorted(counts.ravel())[-40] <= shown[-1]
    # Per class: the 40 least accurate, with a note naming the mean over all 1000.
    per_class = np.diag(np.bincount(results.y_true * 1000 + results.y_pred,
                                    minlength=10**6).reshape(1000, 1000)) / 5  # fmt: skip
    assert f"The 40 least accurate of 1000 classes; the mean accuracy per class is " \
           f"{per_class.mean():.4f}" in html  # fmt: skip
    listed = re.findall(r'<tr><td>class-(\d+)</td><td class="num">([\d.]+)</td><td>\d+ / 5', html)
    assert len(listed) == 40 and max(float(a) for _, a in listed) <= np.sort(per_class)[39]


def test_a_few_classes_keep_the_full_matrix():
    results = many_class_results(num_classes=40, per_class=2)
    html = render_report("r", _history(1), results=results)
    assert html.count('class="confusion"') == 1 and "Most confused pairs" not in html
    assert html.count("<td>class-") == 40  # every class in the per-class table


def trained_wrong_examples(data: Path, *args: str) -> list[tuple[str, str, str]]:
    """Train on ``data`` with the command; its page's wrong examples as (true, predicted,
    where the example is)."""
    out = data.parent / "run"
    result = twolayer("train", str(data), "--hidden", "8", "--quiet", "--out", str(out), *args,
                      cwd=data.parent)  # fmt: skip
    assert result.returncode == 0, result.stderr
    wrong = re.findall(
        r'true <b>(\w+)</b><br>predicted <b class="bad">(\w+)</b><br>p = [\d.]+'
        r'<br><span class="note">([^<]+)</span>',
        (out / "report.html").read_text(),
    )
    assert wrong, "no wrong predictions to name"
    return wrong


def test_a_table_runs_wrong_predictions_name_their_csv_lines(tmp_path):
    """The val split is shuffled: the page names each wrong row by its line in the file."""
    rng = np.random.default_rng(0)
    lines = ["x,label,y"] + [
        f"{x:.4f},{'ab'[k]},{y:.4f}" for k in (0, 1) for x, y in rng.normal(k * 0.5, 1, (40, 2))
    ]  # overlapping classes: some val rows are wrong
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    for true, predicted, where in trained_wrong_examples(tmp_path / "t.csv", "--epochs", "5"):
        assert true != predicted and where.startswith("line ")
        assert lines[int(where.split()[1]) - 1].split(",")[1] == true  # line 1 is the header


def test_an_image_folder_runs_wrong_predictions_name_their_files(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("TWOLAYER_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(15):  # noise: about half the val images are wrong
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pets" / name / f"{i}.png")
    args = ["--image-size", "8", "--epochs", "2", "--batch-size", "9", "--val-fraction", "0.4"]
    for true, _, file in trained_wrong_examples(tmp_path / "pets", *args):
        # each file relative to the folder, in its class's folder
        assert file.split("/")[0] == true and (tmp_path / "pets" / file).is_file()


@pytest.mark.parametrize("updates, noise", [(20, True), (499, True), (500, False), (None, False)])
def test_weights_of_few_updates_are_folded_and_captioned(updates, noise):
    W1 = np.random.default_rng(0).standard_normal((3 * 4 * 4, 4))
    results = RunResults(W1=W1, image_shape=(3, 4, 4), updates=updates)
    html = render_report("r", _history(1), results=results)
    assert ('id="weights-noise"' in html) == noise
    assert ("<details><summary>show them anyway</summary><img" in html) == noise
    if updates is not None:
        assert f"after {updates} updates" in html or f"After only {updates} updates" in html


def test_results_are_checked():
    with pytest.raises(ValueError, match="proba has 2 rows but y_true has 3"):
        RunResults(y_true=[0, 1, 1], proba=np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="y_pred or proba"):
        RunResults(y_true=[0, 1])
    with pytest.raises(ValueError, match="labels must lie in"):
        RunResults(y_true=[0, 2], y_pred=[0, 1], class_names=["a", "b"])
    with pytest.raises(ValueError, match="points"):
        RunResults(model=object())


def test_flatten_settings_reads_both_config_layouts():
    new = {"run": {"lr": 0.1, "optim": {"beta1": 0.9}, "sizes": [1, 2]}, "version": "0.2"}
    assert flatten_settings(new) == {
        "lr": 0.1, "optim.beta1": 0.9, "sizes": "[1, 2]", "version": "0.2"
    }  # fmt: skip
    old = {"settings": {"lr": 0.1}, "solver": {"optim_config": {"learning_rate": 0.1}}}
    assert flatten_settings(old) == {
        "settings.lr": 0.1, "solver.optim_config.learning_rate": 0.1
    }  # fmt: skip


# -- drawing helpers -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 3), (5, 7, 4)])
def test_png_round_trip(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    decoded = imread(io.BytesIO(encode_png(image)), format="png")  # floats in [0, 1]
    np.testing.assert_array_equal(np.round(decoded * 255).astype(np.uint8), image)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(image.astype(float))


def test_to_uint8_scales_to_the_range():
    np.testing.assert_array_equal(to_uint8(np.array([-1.0, 0.0, 1.0])), [0, 128, 255])
    np.testing.assert_array_equal(to_uint8(np.array([2.0, np.nan]), 0, 1), [255, 0])
    np.testing.assert_array_equal(to_uint8(np.full(3, 5.0)), [0, 0, 0])


def test_ticks():
    assert linear_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert linear_ticks(3.0, 47.0) == [10.0, 20.0, 30.0, 40.0]
    assert log_ticks(1e-5, 1e-1) == [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    assert log_ticks(1.5e-3, 3e-2) == [2e-3, 5e-3, 1e-2, 2e-2]


def test_chart_maps_data_into_the_plot_area():
    chart = Chart("t", "x", "y", width=200, height=150, xlim=(0, 10), ylim=(0, 1))
    chart.line([0, 10], [0, 1], "#000")
    svg = chart.svg()
    # x 0..10 -> 62..186 px (margins 62 and 14), y 0..1 -> 108..46 px (margins 46 and 42)
    assert 'd="M62.0 108.0L186.0 46.0"' in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>")


# -- comparing runs, a search, the command ----------------------------------------------


def test_compare_runs_highlights_differences(runs, tmp_path):
    dirs = [runs["spiral"]["run_dir"], runs["spiral_b"]["run_dir"]]
    out = compare_runs_html(dirs, tmp_path / "cmp" / "compare.html")
    html = out.read_text()
    assert_self_contained(html)
    assert '<tr class="differs"><td>lr</td><td>0.05</td><td>0.01</td></tr>' in html
    assert "<tr><td>hidden</td><td>16</td><td>16</td></tr>" in html
    assert "1 of 4 settings differ" in html
    # Each run links to its own report, relative to the page.
    href = os.path.relpath(dirs[0] / "report.html", out.parent)
    assert href.startswith("../") and f'<a href="{href}">spiral</a>' in html
    accuracy = np.mean(runs["spiral"]["results"].y_pred == runs["spiral"]["results"].y_true)
    assert f"{accuracy:.4f} (val, single view)" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 3


def test_search_report(tmp_path):
    out = search_dir(tmp_path / "search")
    html = (out / "report.html").read_text()
    assert_self_contained(html)
    values = headline_values(html)
    assert values["trials"] == "3" and values["ok"] == "3" and "3 of 3" in html
    assert html.count('<tr class="best">') == 1
    assert "<td>lr</td>" not in html  # lr varies: a column, not a fixed setting
    assert "epochs = 3" in html and "hidden = 8" in html  # fixed: listed once
    assert "twolayer train spiral" in html
    assert 'id="scatter"' in html and 'id="best-curves"' in html
    assert len(re.findall(r"<title>trial \d: lr ", html)) == 3  # a hover text per point


def test_report_command(runs, tmp_path, capsys):
    def report(*args: str) -> int:
        return twolayer_main(["report", *args])

    dirs = [str(runs["spiral"]["run_dir"]), str(runs["images"]["run_dir"])]
    assert report(*dirs, "--out", str(tmp_path / "c.html")) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'c.html'}"
    assert "2 runs compared" in (tmp_path / "c.html").read_text()
    assert report(str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a run directory" in err
    out = search_dir(tmp_path / "s")
    (out / "report.html").unlink()
    assert report(str(out)) == 0 and (out / "report.html").is_file()
    assert report(str(out), dirs[0]) == 2
    assert "one search directory on its own" in capsys.readouterr().err


def test_report_script_reports_errors_in_one_line(tmp_path):
    assert_clean_error(run(SCRIPTS / "report.py", str(tmp_path / "missing"), cwd=tmp_path))
