"""A trained run as one ONNX model: its preprocessing, the net and the softmax as graph ops.

    path = export_onnx("runs/images-20261125-160000", "model.onnx")
    session = onnxruntime.InferenceSession(str(path))
    proba = session.run(None, {"input": images})[0]     # (N, C), as `twolayer predict`

The model reads what ``twolayer predict`` reads, before any processing: an image run
takes images (N, H, W, C) uint8, as decoded (the centre square at the run's size), a
table run rows (N, D) float32 in the run's feature order. The graph then does what
predict does with them:

    images: Cast to float, Transpose to (N, C, H, W), Reshape to (N, D)
    Mul by the pixel scale, Sub the training mean, then MatMul by the ZCA matrix
        (zca), Div by the features' standard deviations (standardize), or nothing (mean)
    for each test-time view (the run's TTA; images only): Reshape to (N, C, H, W),
        Slice (mirror) and Pad + Slice (one-pixel shift), Reshape to (N, D)
    Gemm (W1, b1), Relu, Gemm (W2, b2), Softmax; the views' probabilities averaged

and outputs ``probabilities`` (N, C) float32. The metadata holds ``class_names`` (a
JSON list, in the order of the columns), ``input`` (the layout), ``tta``,
``preprocess`` and, for tables, ``feature_names``. The graph is built with the
``onnx`` package's helper API (the ``onnx`` extra); nothing here imports it until
a model is exported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

import twolayer
from twolayer._io import atomic_write
from twolayer.classifier import Classifier
from twolayer.datasets.tta import TTA_VIEWS
from twolayer.model import TwoLayerNet
from twolayer.preprocess import Preprocessor
from twolayer.runs import check_run_dir, load_run_config, load_status

if TYPE_CHECKING:
    import onnx

OPSET = 17  # Pad with its pads as an input, Slice with steps, Softmax over one axis
INPUT, OUTPUT = "input", "probabilities"


@dataclass(frozen=True)
class ExportedRun:
    """What the graph is built from: a finished run's net, preprocessing and classes."""

    model: TwoLayerNet
    prep: Preprocessor
    classes: list[str]
    views: str  # the test-time views predict averages over
    input_shape: tuple[int, ...]  # one processed example: (C, H, W) images, (D,) rows
    feature_names: list[str] | None

    @property
    def images(self) -> bool:
        return len(self.input_shape) == 3


def read_run(run_dir: str | os.PathLike) -> ExportedRun:
    """The parts of a finished run that :func:`onnx_model` needs.

    Raises ValueError saying what is wrong: not a run directory, a run that has not
    finished (training, killed, interrupted or diverged), or one that predict does
    not classify (the spiral).
    """
    run_dir = check_run_dir(run_dir)
    config = load_run_config(run_dir)
    status = load_status(run_dir)
    path = run_dir / "model.npz"
    if status["state"] != "finished" or not path.is_file():
        done = f" after epoch {status['epoch']} of {status['epochs']}" if "epoch" in status else ""
        raise ValueError(
            f"the run in {run_dir} has not finished (its state: {status['state']}{done}), so "
            f"it has no final model to export; finish it first: twolayer train --resume {run_dir}"
        )
    clf = Classifier.load(run_dir)
    if clf.prep_ is None or config.dataset == "spiral":
        raise ValueError(
            f"{path} has no preprocessing or class names: a {config.dataset} run, which "
            "neither predict nor export takes"
        )
    names = getattr(clf, "feature_names_in_", None)
    return ExportedRun(
        model=clf.model_,
        prep=clf.prep_,
        classes=[str(c) for c in clf.classes_],
        views=str(config.tta),
        input_shape=clf.input_shape_,
        feature_names=None if names is None else [str(n) for n in names],
    )


class _Graph:
    """Nodes and constants of an ONNX graph, each node's one output named for it."""

    def __init__(self, helper: Any, numpy_helper: Any) -> None:
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.constants: list[Any] = []

    def const(self, name: str, value: Any, dtype: type = np.float32) -> str:
        self.constants.append(self.numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        out = f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _preprocessing(g: _Graph, run: ExportedRun) -> str:
    """The run's raw input as processed rows (N, D) float32: the name of that tensor."""
    x = INPUT
    if run.images:
        x = g.op("Cast", x, to=1)  # 1: FLOAT
        x = g.op("Transpose", x, perm=[0, 3, 1, 2])  # (N, H, W, C) -> (N, C, H, W)
    rows = g.op("Reshape", x, g.const("rows_shape", [0, -1], np.int64))  # 0: keep N
    prep = run.prep
    if prep.scale != 1.0:
        rows = g.op("Mul", rows, g.const("prep_scale", prep.scale))
    rows = g.op("Sub", rows, g.const("prep_mean", prep.mean))
    if prep.matrix is not None:
        rows = g.op("MatMul", rows, g.const("prep_matrix", prep.matrix))
    if prep.std is not None:
        rows = g.op("Div", rows, g.const("prep_std", prep.std))
    return rows


def _view(g: _Graph, images: str, flip: bool, dy: int, dx: int, hw: tuple[int, ...]) -> str:
    """One test-time view of images (N, C, H, W), as twolayer.datasets.tta makes it: the
    mirror image when ``flip``, then moved down dy and right dx pixels, zero-filled."""
    if flip:
        big = np.iinfo(np.int64).min
        images = g.op(
            "Slice",
            images,
            g.const(f"flip_start_{len(g.nodes)}", [-1], np.int64),
            g.const(f"flip_end_{len(g.nodes)}", [big], np.int64),
            g.const(f"flip_axis_{len(g.nodes)}", [3], np.int64),
            g.const(f"flip_step_{len(g.nodes)}", [-1], np.int64),
        )
    if dy or dx:
        # Zeros on the side the image moves away from, then the window of the old size.
        top, left, bottom, right = max(dy, 0), max(dx, 0), max(-dy, 0), max(-dx, 0)
        tag = f"{len(g.nodes)}"
        pads = g.const(f"pads_{tag}", [0, 0, top, left, 0, 0, bottom, right], np.int64)
        padded = g.op("Pad", images, pads)
        start = [bottom, right]
        stop = [bottom + hw[0], right + hw[1]]
        images = g.op(
            "Slice",
            padded,
            g.const(f"shift_start_{tag}", start, np.int64),
            g.const(f"shift_end_{tag}", stop, np.int64),
            g.const(f"shift_axes_{tag}", [2, 3], np.int64),
        )
    return images


def _net(g: _Graph, rows: str) -> str:
    """Softmax(Relu(rows @ W1 + b1) @ W2 + b2): probabilities (N, C) of rows (N, D)."""
    hidden = g.op("Relu", g.op("Gemm", rows, "W1", "b1"))
    return g.op("Softmax", g.op("Gemm", hidden, "W2", "b2"), axis=1)


def onnx_model(run: ExportedRun) -> onnx.ModelProto:
    """The ONNX model of ``run`` (see the module's docstring), checked by ``onnx.checker``."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ValueError(
            "exporting to ONNX needs the onnx package: pip install 'twolayer[onnx]'"
        ) from None
    g = _Graph(helper, numpy_helper)
    for name, value in run.model.params.items():  # W1, b1, W2, b2: once, for every view
        g.const(name, value)
    rows = _preprocessing(g, run)
    views = TTA_VIEWS[run.views] if run.images else TTA_VIEWS["none"]
    if len(views) == 1:
        _net(g, rows)
    else:
        images = g.op("Reshape", rows, g.const("image_shape", [0, *run.input_shape], np.int64))
        probas = []
        for flip, dy, dx in views:
            view = _view(g, images, flip, dy, dx, run.input_shape[1:])
            probas.append(_net(g, g.op("Reshape", view, "rows_shape")))
        g.op("Div", g.op("Sum", *probas), g.const("num_views", len(probas)))
    g.nodes[-1].output[0] = OUTPUT  # the last node's result is the model's

    if run.images:
        c, h, w = run.input_shape
        x_info = helper.make_tensor_value_info(INPUT, TensorProto.UINT8, ["N", h, w, c])
        layout = f"images (N, {h}, {w}, {c}) uint8, as decoded, before any processing"
    else:
        d = run.input_shape[0]
        x_info = helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", d])
        layout = f"rows (N, {d}) float32 in the order of feature_names, before any processing"
    y_info = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", len(run.classes)])
    graph = helper.make_graph(g.nodes, "twolayer", [x_info], [y_info], g.constants)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="twolayer",
        producer_version=twolayer.__version__,
        doc_string="A two-layer net with its preprocessing: class probabilities of raw inputs.",
    )
    meta = {
        "class_names": json.dumps(run.classes),
        "input": layout,
        "tta": run.views if run.images else "none",
        "preprocess": run.prep.method,
    }
    if run.feature_names is not None:
        meta["feature_names"] = json.dumps(run.feature_names)
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(run_dir: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the ONNX model of the finished run in ``run_dir`` to ``out``, atomically.

    Raises ValueError for a run that cannot be exported, or when onnx is not installed.
    """
    data = onnx_model(read_run(run_dir)).SerializeToString()

    def write(f: BinaryIO) -> None:
        f.write(data)

    return atomic_write(out, write)
