"""`twolayer.Classifier`: the two-layer net as a scikit-learn-style estimator, and a run.

    clf = Classifier(hidden=128, epochs=50).fit(X, y)       # rows (N, D) or images (N, H, W, C)
    clf.predict(X_new); clf.predict_proba(X_new, tta=False); clf.score(X_test, y_test)
    clf.save("runs/mine")                                  # a run directory, as `twolayer train`'s
    clf = Classifier.load("runs/cifar10-20261125-160000")  # a run of either
    clf = Classifier(epochs=5).fit_source("photos/")       # the same weights as `twolayer train`

The constructor's parameters are the run's settings, :class:`twolayer.config.RunConfig`'s
fields by the same names (but ``dataset`` and ``data``: what ``fit_source`` is given).
None, the default, takes the value `twolayer train` would: the preset of the data's
kind (tables: the csv/npz preset; images: the image-folder preset's recipe). They are
stored as given and checked in ``fit``, by RunConfig's one table of constraints.

Raw inputs go in: the preprocessing the run chose is fitted on the training split
and applied to every later input, and images are averaged over the run's test-time
views (``tta``) unless a call says otherwise. Labels are any values; ``classes_``
holds them sorted.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from twolayer._estimator import Estimator, check_X, check_y
from twolayer.config import RunConfig, build, solver_settings
from twolayer.datasets import train_val_split, tta_proba
from twolayer.datasets.augment import augment_from_spec
from twolayer.history import history_from_solver
from twolayer.model import TwoLayerNet
from twolayer.preprocess import Preprocessor
from twolayer.rundata import (
    array_config,
    channels_last,
    load_data,
    preprocess_data,
    source_config,
)
from twolayer.runfiles import read_run, write_run
from twolayer.solver import Solver

#: RunConfig fields that are not the classifier's parameters: what fit_source is given.
SOURCE_FIELDS = ("dataset", "data")
PARAMS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name not in SOURCE_FIELDS)


def class_proba(model: TwoLayerNet, X: np.ndarray, views: str) -> np.ndarray:
    """Class probabilities (N, C) of X, averaged over the test-time ``views`` of images."""
    return model.predict_proba(X) if views == "none" else tta_proba(model.predict_proba, X, views)


def _python(value: Any) -> Any:
    """NumPy scalars (a GridSearchCV grid's) as Python numbers, as RunConfig wants them."""
    return value.item() if isinstance(value, np.generic) else value


class Classifier(Estimator):
    """A two-layer net (affine - ReLU - affine - softmax) trained as `twolayer train` trains.

    Parameters: the run's settings (see :class:`twolayer.config.RunConfig`; None: the
    preset's value for the data), and ``warm_start`` (fit continues from the fitted
    weights, preprocessing and classes instead of starting afresh).

    Attributes after fitting: ``classes_`` (the sorted labels), ``n_features_in_``,
    ``input_shape_`` (one processed input: (D,) rows or (C, H, W) images),
    ``config_`` (the RunConfig it ran), ``model_`` (the TwoLayerNet), ``prep_`` (the
    fitted Preprocessor; None for the spiral), ``history_`` (the training curves:
    the Solver's histories, see :mod:`twolayer.runs`; partial_fit: ``loss_history``),
    ``feature_names_in_`` (a CSV's columns, when known).
    """

    #: partial_fit's optimizer state between its calls (absent before the first).
    _optimizer_state: dict[str, dict[str, Any]]

    def __init__(
        self,
        *,
        data_dir: str | None = None,
        num_train: int | None = None,
        num_val: int | None = None,
        preprocess: str | None = None,
        zca_epsilon: float | None = None,
        store_dtype: str | None = None,
        num_per_class: int | None = None,
        classes: int | None = None,
        noise: float | None = None,
        val_fraction: float | None = None,
        data_seed: int | None = None,
        image_size: int | None = None,
        grayscale: bool | None = None,
        skip_bad: bool | None = None,
        label_column: str | None = None,
        hidden: int | None = None,
        weight_scale: float | str | None = None,
        dtype: str | None = None,
        label_smoothing: float | None = None,
        dropout: float | None = None,
        input_dropout: float | None = None,
        reg: float | None = None,
        reg_as: str | None = None,
        optimizer: str | None = None,
        lr: float | None = None,
        lr_schedule: str | None = None,
        lr_decay: float | None = None,
        warmup_epochs: float | None = None,
        restart_epochs: float | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        augment: str | None = None,
        mixup_alpha: float | None = None,
        ema_decay: float | None = None,
        ema_start_epoch: int | None = None,
        patience: int | None = None,
        train_acc_samples: int | None = None,
        tta: str | None = None,
        seed: int | None = None,
        warm_start: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.num_train = num_train
        self.num_val = num_val
        self.preprocess = preprocess
        self.zca_epsilon = zca_epsilon
        self.store_dtype = store_dtype
        self.num_per_class = num_per_class
        self.classes = classes
        self.noise = noise
        self.val_fraction = val_fraction
        self.data_seed = data_seed
        self.image_size = image_size
        self.grayscale = grayscale
        self.skip_bad = skip_bad
        self.label_column = label_column
        self.hidden = hidden
        self.weight_scale = weight_scale
        self.dtype = dtype
        self.label_smoothing = label_smoothing
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.reg = reg
        self.reg_as = reg_as
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.lr_decay = lr_decay
        self.warmup_epochs = warmup_epochs
        self.restart_epochs = restart_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.augment = augment
        self.mixup_alpha = mixup_alpha
        self.ema_decay = ema_decay
        self.ema_start_epoch = ema_start_epoch
        self.patience = patience
        self.train_acc_samples = train_acc_samples
        self.tta = tta
        self.seed = seed
        self.warm_start = warm_start

    @classmethod
    def from_config(cls, config: RunConfig) -> Classifier:
        """A classifier whose parameters are ``config``'s settings."""
        return cls(**{name: getattr(config, name) for name in PARAMS})

    def run_config(self, base: RunConfig) -> RunConfig:
        """``base`` with the parameters that are set (not None), checked."""
        given = {k: _python(getattr(self, k)) for k in PARAMS if getattr(self, k) is not None}
        return base.replace(**given)

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self, X: Any, y: Any, X_val: Any = None, y_val: Any = None, *, eval_set: Any = None
    ) -> Classifier:
        """Train on X (N, D) rows or (N, H, W, C) / (N, C, H, W) images and labels y (N,).

        Validation: ``X_val, y_val`` (or ``eval_set=(X_val, y_val)``), else
        ``val_fraction`` of the data held out, stratified, shuffled with ``data_seed``
        (None: ``seed``). The epoch with the best validation accuracy is kept.
        """
        if eval_set is not None:
            X_val, y_val = eval_set
        X = check_X(X)
        y = check_y(y, len(X))
        warm = self.warm_start and hasattr(self, "model_")
        config = self.run_config(self.config_ if warm else array_config(X.ndim == 4))
        classes = self.classes_ if warm else np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"y has one class only ({classes[0]!r}); a classifier needs two")
        raw = self._raw_split(config, X, self._encode(y, classes), X_val, y_val, classes)
        data, prep = preprocess_data(
            config, raw, self.prep_ if warm else None, {"class_names": classes}, cache=False
        )
        previous = self.model_.params if warm else None
        solver = self.begin_fit(config, data, prep, verbose=False)
        if previous is not None:
            self._continue_from(previous, solver)
        solver.train()
        return self.end_fit(solver)

    def _raw_split(
        self,
        config: RunConfig,
        X: np.ndarray,
        y: np.ndarray,
        X_val: Any,
        y_val: Any,
        classes: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """The raw splits, images channels last (as the data loaders give them)."""
        if X.ndim != 4 and (config.augment, config.tta) != ("none", "none"):
            raise ValueError("augment and tta apply to images (N, H, W, C): set them to none")
        if X.ndim == 4 and not channels_last(X):
            X = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
        if X_val is None:
            if len(X) < 2:
                raise ValueError("n_samples=1: training needs at least 2 samples")
            seed = config.seed if config.data_seed is None else config.data_seed
            return train_val_split(X, y, val_fraction=config.val_fraction, stratify=True, seed=seed)
        X_val = check_X(X_val)
        if X_val.shape[1:] != X.shape[1:] and X.ndim == 4:
            X_val = np.ascontiguousarray(X_val.transpose(0, 2, 3, 1))
        if X_val.shape[1:] != X.shape[1:]:
            raise ValueError(f"X_val has shape {X_val.shape}, but X has {X.shape}")
        y_val = self._encode(check_y(y_val, len(X_val)), classes)
        return {"X_train": X, "y_train": y, "X_val": X_val, "y_val": y_val}

    @staticmethod
    def _encode(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Labels y as indices into ``classes``; an unknown label raises ValueError."""
        index = np.searchsorted(classes, y)
        known = (index < len(classes)) & (classes[np.minimum(index, len(classes) - 1)] == y)
        if not known.all():
            unknown = np.unique(np.asarray(y)[~known])[:5].tolist()
            raise ValueError(
                f"y has labels that are not among the classes {classes.tolist()[:20]}: {unknown}"
            )
        return index.astype(np.int64)

    def _continue_from(self, params: dict[str, np.ndarray], solver: Solver) -> None:
        """warm_start: the new Solver's model starts from the fitted weights."""
        for name, value in params.items():
            if solver.model.params[name].shape != value.shape:
                raise ValueError(
                    f"warm_start: {name} was {value.shape}, the new settings make it "
                    f"{solver.model.params[name].shape}; set warm_start=False to start afresh"
                )
            solver.model.params[name] = value.copy()
        solver.best_params = {k: v.copy() for k, v in params.items()}

    def fit_source(
        self,
        source: str | os.PathLike,
        *,
        preset_name: str = "default",
        download: bool = False,
        cache: bool = True,
        progress: bool = False,
    ) -> Classifier:
        """Train on a data source as `twolayer train SOURCE` does: "spiral", "cifar10"
        (read from ``data_dir``; fetched if ``download``), or the path of an image folder,
        a .csv or an .npz; the preset ``preset_name`` (e.g. "best") under the parameters
        that are set. Same settings, same weights, bit for bit."""
        config = self.run_config(source_config(source, preset_name))
        if config.data_dir is not None:
            config = config.replace(data_dir=os.path.abspath(config.data_dir))
        data, prep = load_data(config, download=download, progress=progress, cache=cache)
        solver = self.begin_fit(config, data, prep, verbose=False)
        solver.train()
        return self.end_fit(solver)

    def begin_fit(
        self,
        config: RunConfig,
        data: dict[str, Any],
        prep: Preprocessor | None,
        *,
        checkpoint: Any = None,
        state: dict[str, Any] | None = None,
        **solver_extras: Any,
    ) -> Solver:
        """The first half of a fit: a fresh net for ``config`` and its Solver on the
        loaded ``data`` (:func:`twolayer.rundata.load_data`), not trained yet.
        ``checkpoint``, ``state`` and ``solver_extras``: see :func:`twolayer.config.build`. For a
        caller that runs the Solver itself (the train command: status files, Ctrl-C);
        :meth:`end_fit` takes the trained Solver."""
        model, solver = build(config, data, checkpoint=checkpoint, state=state, **solver_extras)
        names = data.get("class_names")
        self.config_ = config
        self.prep_ = prep
        self.classes_ = np.arange(model.num_classes) if names is None else np.asarray(names)
        self.input_shape_ = tuple(int(n) for n in data["X_train"].shape[1:])
        self.n_features_in_ = math.prod(self.input_shape_)
        if "feature_names" in data:
            self.feature_names_in_ = np.asarray(data["feature_names"], dtype=object)
        self.model_ = model
        return solver

    def end_fit(self, solver: Solver) -> Classifier:
        """The second half of a fit: keep the trained Solver's curves; returns self."""
        self.history_ = history_from_solver(solver)
        self.__dict__.pop("_optimizer_state", None)  # partial_fit starts its rule afresh
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Classifier:
        """One pass over (X, y) in minibatches, at a constant learning rate, continuing
        from the weights and the update rule's state of the previous call (as
        MLPClassifier's). The first call needs every class in ``classes``; it also fits
        the preprocessing, on its X."""
        X = check_X(X)
        y = check_y(y, len(X))
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if first:
            all_classes = np.unique(np.asarray(classes))
            config = self.run_config(array_config(X.ndim == 4))
        else:
            all_classes, config = self.classes_, self.config_
            self._check_input(X)
        y_idx = self._encode(y, all_classes)
        if X.ndim == 4 and not channels_last(X):
            X = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
        raw = {"X_train": X, "y_train": y_idx, "X_val": X[:1], "y_val": y_idx[:1]}
        info = {"class_names": all_classes}
        data, prep = preprocess_data(config, raw, None if first else self.prep_, info, False)
        calls = getattr(self, "_partial_calls", 0)
        steady = config.replace(
            lr_schedule="step", lr_decay=1.0, warmup_epochs=0.0, restart_epochs=None, epochs=1
        ).replace(seed=config.seed + calls)
        if first:
            self.begin_fit(config, data, prep)
            self.history_ = {"loss_history": []}
        solver = Solver(
            self.model_, {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")},
            **solver_settings(steady), augment=augment_from_spec(steady.augment), verbose=False,
        )  # fmt: skip
        if hasattr(self, "_optimizer_state"):
            solver.optim_configs = self._optimizer_state
        for _ in range(solver.iterations_per_epoch):
            solver.step()
        self._optimizer_state = solver.optim_configs
        self._partial_calls = calls + 1
        self.history_["loss_history"] = [*self.history_["loss_history"], *solver.loss_history]
        return self

    # -- predicting --------------------------------------------------------------------------

    def _check_input(self, X: np.ndarray) -> bool:
        """Raise unless X fits the fitted net; returns whether images have channels last."""
        if len(self.input_shape_) == 3:
            c, h, w = self.input_shape_
            if X.ndim == 4 and X.shape[1:] in ((h, w, c), (c, h, w)):
                return X.shape[1:] == (h, w, c)
            raise ValueError(
                f"X has shape {X.shape}, but {type(self).__name__} is expecting images "
                f"(N, {h}, {w}, {c}) or (N, {c}, {h}, {w})"
            )
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {math.prod(X.shape[1:])} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input"
            )
        return False

    def transform_inputs(self, X: Any) -> np.ndarray:
        """Raw inputs as the net takes them: the run's preprocessing applied, (N, *input_shape_)."""
        self._check_fitted()
        X = check_X(X)
        last = self._check_input(X)
        if self.prep_ is None:
            return X.astype(self.model_.dtype)
        return self.prep_.transform(X, np.float32, channels_last=last).reshape(
            len(X), *self.input_shape_
        )

    def predict_proba(self, X: Any, tta: bool | str | None = None) -> np.ndarray:
        """Class probabilities (N, C) of raw inputs, columns in the order of ``classes_``.

        ``tta``: None (or True) averages images over the run's test-time views, False
        takes the single view, a name of ``twolayer.datasets.TTA_VIEWS`` those views.
        """
        self._check_fitted()
        views = self.config_.tta if tta is None or tta is True else tta or "none"
        return class_proba(self.model_, self.transform_inputs(X), views)

    def predict(self, X: Any, tta: bool | str | None = None) -> np.ndarray:
        """The most likely class of each raw input (values of ``classes_``)."""
        best = self.predict_proba(X, tta).argmax(axis=1)
        return self.classes_[best]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against ``y`` (weighted by ``sample_weight``)."""
        right = self.predict(X) == check_y(y, len(np.asarray(X)))
        return float(np.average(right, weights=sample_weight))

    # -- run directories ---------------------------------------------------------------------

    def save(self, run_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write a run directory as `twolayer train` does (config.json, model.npz with the
        preprocessing, history.json/csv, status.json): `twolayer predict` and `twolayer
        report` read it. ``run_dir`` must be new or empty
        (``overwrite``: cleared first)."""
        self._check_fitted()
        return write_run(self, run_dir, overwrite=overwrite)

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> Classifier:
        """The classifier of a run directory written by `twolayer train` or :meth:`save`."""
        return read_run(cls, run_dir)
