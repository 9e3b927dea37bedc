"""twolayer.Classifier as a scikit-learn estimator: scikit-learn's own checks, Pipeline,
GridSearchCV, cross_val_score, clone, and accuracy on scikit-learn's digits."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")  # the test extra; never a runtime dependency

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from twolayer import Classifier  # noqa: E402

SMALL = {"hidden": 32, "epochs": 20}  # the checks fit many times: a small, quick net


@parametrize_with_checks([Classifier(**SMALL)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def test_digits_default_reaches_95_percent(digits):
    X_train, X_test, y_train, y_test = digits
    assert Classifier().fit(X_train, y_train).score(X_test, y_test) >= 0.95


def test_pipeline(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(MinMaxScaler(), Classifier(hidden=64, epochs=10))
    assert pipe.fit(X_train, y_train).score(X_test, y_test) > 0.9


def test_grid_search(digits):
    X_train, X_test, y_train, y_test = digits
    grid = {"hidden": [8, 64], "lr": np.array([3e-3])}  # NumPy values, as grids often hold
    search = GridSearchCV(Classifier(epochs=5), grid, cv=2).fit(X_train[:600], y_train[:600])
    assert search.best_params_["hidden"] in (8, 64)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.score(X_test, y_test) > 0.8


def test_cross_val_score(digits):
    X_train, _, y_train, _ = digits
    scores = cross_val_score(Classifier(hidden=32, epochs=5), X_train, y_train, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_clone_keeps_params_not_fit():
    clf = Classifier(hidden=7, lr=0.01, warm_start=True)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and copy is not clf
    assert not hasattr(copy, "model_")
