"""The serving predictor's array path gives exactly the predictions of ``model.predict`` on
the DataFrame, for the estimators it takes it for, and leaves the others on the DataFrame."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from registry.serving.predictor import Predictor

COLUMNS = (
    {"name": "a", "type": "double"},
    {"name": "n", "type": "long"},
    {"name": "b", "type": "double"},
)


def data(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rs = np.random.RandomState(seed)
    X = pd.DataFrame({"b": rs.rand(rows), "a": rs.rand(rows), "n": rs.randint(0, 9, rows)})
    y = ((X.a + X.b * 0.5 + X.n / 9) > 1.0).astype(int).to_numpy()
    return X, y


MODELS: dict[str, Any] = {
    "gbr": lambda: GradientBoostingRegressor(n_estimators=30),
    "rf": lambda: RandomForestClassifier(n_estimators=10, random_state=0),
    "hgb": lambda: HistGradientBoostingClassifier(max_iter=20),
    "tree": lambda: DecisionTreeRegressor(max_depth=4),
    "logit": lambda: LogisticRegression(),
    "ridge": lambda: Ridge(),
    "pipeline": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_same_predictions_as_the_dataframe_without_warnings(kind: str) -> None:
    X, y = data()
    model = MODELS[kind]().fit(X, y)  # fitted on columns b, a, n: not the signature's order
    predictor = Predictor(model, COLUMNS)
    assert (predictor._bare is None) == (kind == "pipeline")
    rows = data(50, seed=1)[0]
    records = rows.to_dict("list")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = predictor.predict(records)
    want = model.predict(rows[["b", "a", "n"]])
    np.testing.assert_array_equal(got, want)
    # The loaded model itself keeps its names (the copy is what loses them).
    assert list(model.feature_names_in_) == ["b", "a", "n"]


def test_a_string_column_keeps_the_dataframe_path_in_the_fitted_order() -> None:
    X, y = data()
    model = LogisticRegression().fit(X, y)
    columns = (
        {"name": "a", "type": "double"},
        {"name": "n", "type": "string"},
        {"name": "b", "type": "double"},
    )
    assert Predictor(model, columns)._bare is None
    rows = data(5, seed=2)[0]
    ordered = Predictor(
        model,
        (
            {"name": "a", "type": "double"},
            {"name": "n", "type": "long"},
            {"name": "b", "type": "double"},
        ),
    )
    ordered._bare = None  # force the DataFrame path
    np.testing.assert_array_equal(
        ordered.predict(rows.to_dict("list")), model.predict(rows[["b", "a", "n"]])
    )
