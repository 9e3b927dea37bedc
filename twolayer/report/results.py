"""What a finished run's evaluation adds to its report: per-class accuracy, the confusion
matrix, first-layer weights, the most confidently wrong examples, the decision boundary.

    results = RunResults(test_acc=0.58, test_acc_single=0.56, tta="flip",
                         class_names=CLASSES, y_true=y_test, proba=proba_test,
                         images=X_test_uint8, W1=model.params["W1"],
                         image_shape=(3, 32, 32), updates=2450)

Each ``*_section`` function returns HTML, or "" when the results lack what it needs.
Past ``MAX_CONFUSION_CLASSES`` classes the confusions are summarized (the most
confused pairs, the least accurate classes), so a page stays small at any class count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from twolayer._validate import check_labels
from twolayer.datasets.tta import TTA_VIEWS
from twolayer.report.curves import boundary_chart, figures
from twolayer.report.html import Html, section, table
from twolayer.report.pictures import weight_grid
from twolayer.report.png import png_data_uri, to_uint8

NUM_WRONG = 16  # confidently wrong examples shown
MAX_UNITS = 64  # first-layer units shown
BOUNDARY_RESOLUTION = 160  # grid points per side of the decision regions
MAX_CONFUSION_CLASSES = 40  # beyond this the matrix is summarized: too dense to read
MAX_SUMMARY_ROWS = 40  # rows of each summary table (confused pairs, least accurate classes)
#: Fewer updates than this leave the first-layer weights close to their random start.
MIN_WEIGHT_UPDATES = 500


def views_text(views: int) -> str:
    """How an accuracy was measured: "single view" or "TTA, k views"."""
    return "single view" if views <= 1 else f"TTA, {views} views"


@dataclass
class RunResults:
    """A run's evaluation, all optional; give what the run has.

    test_acc, val_acc: the final accuracies as the command reports them, with the
      test-time augmentation ``tta`` (a key of TTA_VIEWS; "none": single view).
      Without test_acc, the accuracy of y_pred on y_true.
    test_acc_single, val_acc_single: the same without test-time augmentation (given
      when ``tta`` is not "none").
    seconds: the run's total time (loading, training, evaluation).
    split: the name of the split y_true comes from, for captions ("test").
    class_names: (C,) names; default "0", "1", ...
    y_true: (N,) labels of the evaluated examples; y_pred: (N,) predictions, or
      proba: (N, C) class probabilities (y_pred is then their argmax).
    images: (N, H, W, 3) or (N, H, W) the evaluated examples as pictures: uint8 is
      shown as it is, other dtypes are scaled to each image's range.
    sources: (N,) where each evaluated example came from (e.g. "line 17" of a CSV),
      named beside the wrong predictions; default: its index in the split.
    W1: (D, H) first-layer weights, shown as pictures when image_shape, the layout
      of one input row ((C, H, W) or (H, W)), is given; updates: how many updates
      trained them (the pictures of fewer than MIN_WEIGHT_UPDATES are noise, and
      shown folded, with a caption).
    model, points: for 2-D data, a model with ``predict`` and the points (X (N, 2),
      y (N,)) to draw its decision boundary under.
    """

    test_acc: float | None = None
    val_acc: float | None = None
    tta: str = "none"
    test_acc_single: float | None = None
    val_acc_single: float | None = None
    seconds: float | None = None
    split: str = "test"
    class_names: Sequence[str] | None = None
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None
    proba: np.ndarray | None = None
    images: np.ndarray | None = None
    sources: Sequence[str] | None = None
    W1: np.ndarray | None = None
    image_shape: Sequence[int] | None = None
    updates: int | None = None
    model: Any = None
    points: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.tta not in TTA_VIEWS:
            raise ValueError(
                f"unknown test-time augmentation {self.tta!r}; one of {list(TTA_VIEWS)}"
            )
        if self.proba is not None:
            self.proba = np.asarray(self.proba)
            if self.proba.ndim != 2:
                raise ValueError(
                    f"proba must be (N, C) probabilities, got shape {self.proba.shape}"
                )
            if self.y_pred is None:
                self.y_pred = self.proba.argmax(axis=1)
        if (self.y_true is None) != (self.y_pred is None):
            raise ValueError("give y_true together with y_pred or proba, or neither")
        if self.y_true is not None:
            self.y_true, self.y_pred = np.asarray(self.y_true), np.asarray(self.y_pred)
            n = self.y_true.shape[0]
            for name in (
                "proba",
                "images",
                "sources",
                "y_pred",
            ):  # proba first: y_pred may be its argmax
                value = getattr(self, name)
                if value is not None and len(value) != n:
                    raise ValueError(f"{name} has {len(value)} rows but y_true has {n}")
            for name in ("y_true", "y_pred"):
                check_labels(getattr(self, name), self.num_classes(), name=name)
        if self.model is not None and self.points is None:
            raise ValueError("a decision boundary needs the points too: points=(X, y)")

    def views(self) -> int:
        """How many views each accuracy figure averages (1: single view)."""
        return len(TTA_VIEWS[self.tta])

    def num_classes(self) -> int:
        if self.class_names is not None:
            return len(self.class_names)
        if self.proba is not None:
            return self.proba.shape[1]
        labels = [np.max(a) for a in (self.y_true, self.y_pred) if a is not None and np.size(a)]
        return int(max(labels, default=0)) + 1

    def names(self) -> list[str]:
        if self.class_names is not None:
            return [str(n) for n in self.class_names]
        return [str(i) for i in range(self.num_classes())]

    def accuracy(self) -> float | None:
        """test_acc, else the accuracy of y_pred on y_true, else None."""
        if self.test_acc is not None:
            return float(self.test_acc)
        if self.y_true is not None and self.y_true.size:
            return float(np.mean(self.y_pred == self.y_true))
        return None


def _counts(results: RunResults) -> np.ndarray:
    assert results.y_true is not None and results.y_pred is not None  # the callers check
    k = results.num_classes()
    return np.bincount(results.y_true * k + results.y_pred, minlength=k * k).reshape(k, k)


def _caption(results: RunResults) -> str:
    return f"{results.split}, {views_text(results.views())}"


def class_accuracy_section(results: RunResults) -> str:
    """Each class's accuracy (recall) as a table with bars; past MAX_CONFUSION_CLASSES
    classes, the MAX_SUMMARY_ROWS least accurate ones."""
    if results.y_true is None:
        return ""
    counts = _counts(results)
    total = counts.sum(axis=1)
    right = np.diag(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(total > 0, right / np.maximum(total, 1), np.nan)
    order = np.arange(len(total))
    note = ""
    if len(total) > MAX_CONFUSION_CLASSES:
        order = np.lexsort((order, np.where(np.isnan(acc), np.inf, acc)))[:MAX_SUMMARY_ROWS]
        seen = total > 0
        note = (
            f'<p class="note">The {len(order)} least accurate of {len(total)} classes; the mean '
            f"accuracy per class is {np.mean(acc[seen]):.4f} over the {int(seen.sum())} classes "
            f"with {results.split} examples.</p>"
        )
    names = results.names()
    rows = []
    for i in order:
        width = 0 if total[i] == 0 else 120 * acc[i]
        bar = Html(f'<span class="bar" style="width:{width:.0f}px"></span>')
        rows.append((names[i], float(acc[i]), f"{right[i]} / {total[i]}", bar))
    return section(
        f"Accuracy per class ({_caption(results)})",
        note + table(("class", "accuracy", "correct", ""), rows, cls="per-class"),
        anchor="per-class",
    )


def confused_pairs_section(results: RunResults, counts: np.ndarray) -> str:
    """The MAX_SUMMARY_ROWS most frequent (true, predicted) mistakes, for many classes."""
    names = results.names()
    wrong = counts.copy()
    np.fill_diagonal(wrong, 0)
    cells = np.flatnonzero(wrong)
    top = cells[np.lexsort((cells, -wrong.ravel()[cells]))][:MAX_SUMMARY_ROWS]
    total = counts.sum(axis=1)
    rows = []
    for cell in top:
        i, j = divmod(int(cell), counts.shape[0])
        rows.append((names[i], names[j], int(counts[i, j]), f"{counts[i, j] / total[i]:.1%}"))
    k = counts.shape[0]
    html = (
        f'<p class="note">{k} classes: the {k} × {k} matrix is too large to show. '
        f"These are the {len(rows)} most frequent of the {cells.size} kinds of mistake "
        f"(true class, predicted class) made on {results.split}.</p>"
        + table(("true", "predicted", "count", "of the true class"), rows, cls="pairs")
    )
    return section(f"Most confused pairs ({_caption(results)})", html, anchor="confusion")


def confusion_section(results: RunResults) -> str:
    """The confusion matrix: counts, each cell shaded by its share of the true class
    (past MAX_CONFUSION_CLASSES classes, the most confused pairs instead)."""
    if results.y_true is None:
        return ""
    counts = _counts(results)
    if counts.shape[0] > MAX_CONFUSION_CLASSES:
        return confused_pairs_section(results, counts)
    rate = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    shades = colormaps["Blues"](rate)
    names = results.names()
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    body = []
    for i, name in enumerate(names):
        cells = "".join(
            f'<td style="background:{to_hex(shades[i, j])};color:'
            f'{"#fff" if rate[i, j] > 0.5 else "#222"}" title="true {escape(name)}, predicted '
            f'{escape(names[j])}: {counts[i, j]} ({rate[i, j]:.1%} of {escape(name)})">'
            f"{counts[i, j]}</td>"
            for j in range(len(names))
        )
        body.append(f"<tr><th>{escape(name)}</th>{cells}</tr>")
    html = (
        '<div class="scroll"><table class="confusion"><thead><tr><th>true \\ predicted</th>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        '<p class="note">Rows: true class; columns: predicted class; shade: the share of '
        "the row.</p>"
    )
    return section(f"Confusion matrix ({_caption(results)})", html, anchor="confusion")


def weights_section(results: RunResults) -> str:
    """The first hidden units' weights as pictures, each scaled to its own range."""
    if results.W1 is None or results.image_shape is None:
        return ""
    W1 = np.asarray(results.W1)
    mosaic = weight_grid(W1, tuple(results.image_shape), MAX_UNITS)
    uri = png_data_uri(to_uint8(mosaic, 0.0, 1.0))
    h, w = mosaic.shape[:2]
    shown = min(MAX_UNITS, W1.shape[1])
    after = "" if results.updates is None else f", after {results.updates} updates"
    html = (
        f'<img class="pixels" src="{uri}" width="{2 * w}" height="{2 * h}" '
        f'alt="first-layer weights of {shown} hidden units">'
        f'<p class="note">{shown} of {W1.shape[1]} hidden units{after}; each picture is one '
        "unit's input weights, scaled to its own range.</p>"
    )
    if results.updates is not None and results.updates < MIN_WEIGHT_UPDATES:
        html = (
            f'<p class="note" id="weights-noise">After only {results.updates} updates (fewer '
            f"than {MIN_WEIGHT_UPDATES}) these weights are still mostly their random start: "
            "the pictures show noise, not what the net learned.</p>"
            f"<details><summary>show them anyway</summary>{html}</details>"
        )
    return section("First-layer weights", html, anchor="weights")


def _picture(image: np.ndarray) -> np.ndarray:
    return image if image.dtype == np.uint8 else to_uint8(image)


def wrong_section(results: RunResults, k: int = NUM_WRONG) -> str:
    """The ``k`` wrong predictions made with the highest probability, with both classes."""
    if results.y_true is None or results.y_pred is None or results.proba is None:
        return ""
    n = results.y_true.shape[0]
    confidence = results.proba[np.arange(n), results.y_pred]
    wrong = np.flatnonzero(results.y_pred != results.y_true)
    if wrong.size == 0:
        return section("Most confidently wrong", "<p>No wrong predictions.</p>", anchor="wrong")
    worst = wrong[np.argsort(-confidence[wrong], kind="stable")[:k]]
    names = results.names()
    if results.sources is not None:
        where = {i: str(results.sources[i]) for i in worst}
    else:
        where = {i: f"{results.split} #{i}" for i in worst}
    items = []
    for i in worst:
        caption = (
            f"true <b>{escape(names[results.y_true[i]])}</b><br>predicted "
            f'<b class="bad">{escape(names[results.y_pred[i]])}</b><br>p = {confidence[i]:.3f}'
            f'<br><span class="note">{escape(where[i])}</span>'
        )
        picture = ""
        if results.images is not None:
            image = _picture(np.asarray(results.images[i]))
            h, w = image.shape[:2]
            zoom = max(1, 96 // max(h, w))
            picture = (
                f'<img src="{png_data_uri(image)}" width="{zoom * w}" height="{zoom * h}" '
                f'alt="example {i}"><br>'
            )
        items.append(f"<figure>{picture}<figcaption>{caption}</figcaption></figure>")
    html = (
        f'<div class="examples">{"".join(items)}</div><p class="note">The {len(worst)} of '
        f"{wrong.size} wrong {results.split} predictions ({views_text(results.views())}) the "
        "model was surest of.</p>"
    )
    return section("Most confidently wrong", html, anchor="wrong")


def boundary_section(results: RunResults) -> str:
    """The model's class regions over the plane, with the points coloured by class."""
    if results.model is None or results.points is None:
        return ""
    X, y = (np.asarray(a) for a in results.points)
    names = results.names() if results.class_names is not None else None
    chart = boundary_chart(results.model, X, y, names, BOUNDARY_RESOLUTION)
    return section("Decision boundary", figures([chart]), anchor="boundary")


def result_sections(results: RunResults) -> str:
    """Every section the results have data for."""
    parts = (
        boundary_section(results),
        class_accuracy_section(results),
        confusion_section(results),
        wrong_section(results),
        weights_section(results),
    )
    return "\n".join(p for p in parts if p)
