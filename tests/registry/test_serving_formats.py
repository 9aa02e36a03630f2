"""XGBoost, LightGBM and ONNX models served like scikit-learn ones, over HTTP against a real
server on both backends: registered with Steward's client, served, and answering exactly
what the library predicts in process; with feature lookups and a traffic split between
two formats on one endpoint."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import lightgbm
import numpy as np
import onnxruntime
import pandas as pd
import pytest
import xgboost
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression

from tests.registry import test_serving
from tests.registry.test_serving import World, invocations
from tests.registry_support import STEWARD


def features(rows: int = 40, seed: int = 3) -> pd.DataFrame:
    rs = np.random.RandomState(seed)
    return pd.DataFrame({"a": rs.uniform(0, 4, rows), "b": rs.uniform(-2, 2, rows)})


def target(X: pd.DataFrame) -> np.ndarray:
    return (3.0 * X["a"] - 2.0 * X["b"] + 0.5 * X["a"] * X["b"]).to_numpy()


def xgboost_model() -> tuple[Any, Callable[[pd.DataFrame], np.ndarray]]:
    X = features()
    model = xgboost.XGBRegressor(n_estimators=20, max_depth=3).fit(X, target(X))
    return model, lambda frame: np.asarray(model.predict(frame))


def lightgbm_model() -> tuple[Any, Callable[[pd.DataFrame], np.ndarray]]:
    X = features(200)
    params = {"objective": "regression", "verbose": -1, "min_data_in_leaf": 5}
    booster = lightgbm.train(params, lightgbm.Dataset(X, target(X)), 20)
    return booster, lambda frame: np.asarray(booster.predict(frame))


def onnx_model() -> tuple[Any, Callable[[pd.DataFrame], np.ndarray]]:
    X = features()
    fitted = LinearRegression().fit(X.to_numpy(np.float32), target(X))
    model = to_onnx(fitted, X.to_numpy(np.float32)[:1], target_opset=17)
    session = onnxruntime.InferenceSession(model.SerializeToString())
    name = session.get_inputs()[0].name

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(session.run(None, {name: frame.to_numpy(np.float32)})[0]).reshape(-1)

    return model, predict


world = test_serving.world  # the same fixture: a catalog, a feature table, two users

FORMATS = {"xgboost": xgboost_model, "lightgbm": lightgbm_model, "onnx": onnx_model}


def served_values(predictions: list[Any]) -> np.ndarray:
    """Predictions as numbers: ONNX answers a record per row (one key per output)."""
    values = [next(iter(p.values())) if isinstance(p, dict) else p for p in predictions]
    return np.asarray(values, dtype=np.float64)


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_each_format_serves_what_its_library_predicts(world: World, kind: str) -> None:
    model, library = FORMATS[kind]()
    X = features(25, seed=9)
    version = world.ds.register_model(model, world.model, input_example=X.head(3))
    assert version.status == "READY", version.status_message
    name = world.endpoint()
    world.grant_query(name)
    answer = world.consumer_http.post(
        invocations(name), json={"dataframe_split": X.to_dict(orient="split", index=False)}
    )
    assert answer.status_code == 200, answer.text
    got = served_values(answer.json()["predictions"])
    want = library(X).astype(np.float64)
    assert np.array_equal(got, want), (got[:4], want[:4])
    # The client loads the same version back to the same numbers.
    loaded = world.ds.load_model(f"models:/{world.model}/{version.version}")
    local = loaded.predict(X)
    local = local.iloc[:, 0] if isinstance(local, pd.DataFrame) else local
    assert np.array_equal(np.asarray(local, dtype=np.float64), want)


def test_two_formats_split_traffic_and_look_features_up(world: World) -> None:
    rows = [{"id": i, "a": a} for i, a in enumerate((0.5, 1.5, 3.0), start=1)]
    written = world.ds_http.post(f"{STEWARD}/tables/{world.feats}/rows", json={"rows": rows})
    assert written.status_code == 200, written.text
    lookup = [{"table_name": world.feats, "lookup_key": ["id"]}]
    predictors = {}
    for number, kind in enumerate(("xgboost", "onnx"), start=1):
        model, library = FORMATS[kind]()
        version = world.ds.register_model(
            model, world.model, input_example=features(3), feature_lookups=lookup
        )
        assert version.version == number, version
        predictors[kind] = library
    name = world.endpoint(
        served_entities=[
            {"entity_name": world.model, "entity_version": "1", "name": "xgboost"},
            {"entity_name": world.model, "entity_version": "2", "name": "onnx"},
        ],
        traffic_config={
            "routes": [
                {"served_model_name": "xgboost", "traffic_percentage": 50},
                {"served_model_name": "onnx", "traffic_percentage": 50},
            ]
        },
    )
    world.grant_query(name)
    request = [{"id": 1, "b": 2.0}, {"id": 2, "b": -1.0}, {"id": 3, "b": 0.25}]
    # What the model sees: ``a`` looked up by id, ``b`` from the request.
    seen = pd.DataFrame({"a": [0.5, 1.5, 3.0], "b": [2.0, -1.0, 0.25]})
    served: Counter[str] = Counter()
    for _ in range(60):
        answer = world.consumer_http.post(invocations(name), json={"dataframe_records": request})
        assert answer.status_code == 200, answer.text
        entity = answer.headers["x-steward-served-entity"]
        got = served_values(answer.json()["predictions"])
        assert np.array_equal(got, predictors[entity](seen).astype(np.float64)), entity
        served[entity] += 1
    # Binomial(60, 0.5): both served; five sd either side.
    assert set(served) == {"xgboost", "onnx"} and abs(served["xgboost"] - 30) <= 20, served
