"""Model formats beyond scikit-learn (common/model_formats): XGBoost (UBJSON/JSON),
LightGBM (text booster) and ONNX, in process.

Saved by Steward's client and by MLflow itself, each passes the finalize check and loads
back predicting exactly what the library predicts in process; and every way an artifact
could make loading unsafe is refused, naming the file or the setting and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm
import mlflow.lightgbm
import mlflow.onnx
import mlflow.xgboost
import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest
import xgboost
import yaml
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression

from common.model_formats import load_model
from common.model_formats.base import LoadOptions, UnsafeModel
from common.model_safety import LoadPolicy, check_model
from common.signature import infer_signature
from registry.client.models import save_model

COLUMNS = ["tenure", "spend", "calls"]


def training_data() -> tuple[pd.DataFrame, np.ndarray]:
    rs = np.random.RandomState(11)
    X = pd.DataFrame(rs.rand(120, 3), columns=COLUMNS)
    y = (X["spend"] + 0.5 * X["calls"] + rs.rand(120) * 0.2 > 0.8).astype(int).to_numpy()
    return X, y


def xgb_classifier() -> Any:
    X, y = training_data()
    return xgboost.XGBClassifier(n_estimators=12, max_depth=3).fit(X, y)


def xgb_booster() -> Any:
    X, y = training_data()
    return xgboost.train({"objective": "reg:squarederror"}, xgboost.DMatrix(X, y), 10)


def lgb_booster() -> Any:
    X, y = training_data()
    data = lightgbm.Dataset(X, y)
    return lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 7}, data, 15)


def onnx_regression() -> Any:
    X, y = training_data()
    fitted = LinearRegression().fit(X.to_numpy(np.float32), y)
    return to_onnx(fitted, X.to_numpy(np.float32)[:1], target_opset=17)


def library_predictions(model: Any, X: pd.DataFrame) -> np.ndarray:
    """What each library predicts in process, by its own API."""
    if isinstance(model, xgboost.Booster):
        return np.asarray(model.predict(xgboost.DMatrix(X)))
    if isinstance(model, onnx.ModelProto):
        session = onnxruntime.InferenceSession(model.SerializeToString())
        (output,) = session.run(None, {session.get_inputs()[0].name: X.to_numpy(np.float32)})
        return np.asarray(output).reshape(-1)
    return np.asarray(model.predict(X))


def files_of(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def checked(directory: Path, policy: LoadPolicy | None = None) -> None:
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    check_model(directory, mlmodel, files_of(directory), policy or LoadPolicy())


def predicted(loaded: Any, X: pd.DataFrame) -> np.ndarray:
    output = loaded.predict(X)
    if isinstance(output, pd.DataFrame):  # ONNX: one column per output
        return output.iloc[:, 0].to_numpy()
    return np.asarray(output)


MODELS = {
    "xgboost classifier": xgb_classifier,
    "xgboost booster": xgb_booster,
    "lightgbm booster": lgb_booster,
    "onnx": onnx_regression,
}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_steward_saves_checks_and_loads_each_format_predicting_as_the_library(
    kind: str, tmp_path: Path
) -> None:
    model = MODELS[kind]()
    X, _ = training_data()
    want = library_predictions(model, X)
    signature = infer_signature(X.head(3), want[:3])
    directory = save_model(model, tmp_path / "model", signature, X.head(3))
    checked(directory)
    loaded = load_model(directory)
    got = predicted(loaded, X)
    assert got.dtype == want.dtype and np.array_equal(got, want), (got[:5], want[:5])
    # No pickle anywhere in what was written.
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files_of(directory))


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_mlflows_own_saved_models_pass_the_check_and_load(kind: str, tmp_path: Path) -> None:
    model = MODELS[kind]()
    X, _ = training_data()
    directory = tmp_path / "mlflow-model"
    if kind.startswith("xgboost"):
        mlflow.xgboost.save_model(model, str(directory))
    elif kind.startswith("lightgbm"):
        mlflow.lightgbm.save_model(model, str(directory))
    else:
        mlflow.onnx.save_model(model, str(directory))
    checked(directory)
    got = predicted(load_model(directory), X)
    assert np.array_equal(got, library_predictions(model, X))
    # MLflow's own pyfunc gives the same numbers from the same directory.
    theirs = mlflow.pyfunc.load_model(str(directory)).predict(X)
    theirs = theirs.iloc[:, 0] if isinstance(theirs, pd.DataFrame) else theirs
    assert np.array_equal(np.asarray(theirs), got)


def mlflow_xgboost(tmp_path: Path) -> Path:
    directory = tmp_path / "xgb"
    mlflow.xgboost.save_model(xgb_classifier(), str(directory))
    return directory


def edit_flavor(directory: Path, flavor: str, **changes: Any) -> None:
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    for key, value in changes.items():
        if value is None:
            mlmodel["flavors"][flavor].pop(key, None)
        else:
            mlmodel["flavors"][flavor][key] = value
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def refused(directory: Path) -> str:
    with pytest.raises(UnsafeModel) as caught:
        checked(directory)
    return str(caught.value)


def test_xgboost_model_class_must_be_one_of_xgboosts_own(tmp_path: Path) -> None:
    directory = mlflow_xgboost(tmp_path)
    edit_flavor(directory, "xgboost", model_class="subprocess.Popen")
    message = refused(directory)
    assert "model class 'subprocess.Popen'" in message and "XGBClassifier" in message
    with pytest.raises(UnsafeModel, match=r"subprocess\.Popen"):
        load_model(directory)  # and the loader never constructs it either


def test_xgboost_legacy_binary_and_non_json_files_are_refused(tmp_path: Path) -> None:
    directory = mlflow_xgboost(tmp_path)
    edit_flavor(directory, "xgboost", model_format="xgb")
    assert "model_format is 'xgb'" in refused(directory)
    edit_flavor(directory, "xgboost", model_format="ubj")
    (directory / "model.ubj").write_bytes(b"\x00\x01not a model")
    assert refused(directory) == "model.ubj is not an XGBoost UBJ model file"


def test_a_pickle_posing_as_a_model_file_is_refused_by_its_bytes(tmp_path: Path) -> None:
    directory = mlflow_xgboost(tmp_path)
    (directory / "model.ubj").write_bytes(b"\x80\x04\x95 pickled")
    assert refused(directory) == "model.ubj is a pickle, not an XGBoost UBJ model file"


def test_a_flavor_that_ships_python_code_is_refused(tmp_path: Path) -> None:
    directory = mlflow_xgboost(tmp_path)
    (directory / "code").mkdir()
    (directory / "code" / "xgboost.py").write_text("import os; os.system('id')\n")
    edit_flavor(directory, "xgboost", code="code")
    message = refused(directory)
    assert "xgboost flavor ships Python code in 'code'" in message
    assert "STEWARD_ALLOW_PICKLE=1" in message


def test_python_function_loader_must_match_a_flavor(tmp_path: Path) -> None:
    directory = mlflow_xgboost(tmp_path)
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    del mlmodel["flavors"]["xgboost"]
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    assert "loads with mlflow.xgboost but the MLmodel has no xgboost flavor" in refused(directory)


def test_lightgbm_text_only_and_its_pickled_wrappers_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "lgb"
    mlflow.lightgbm.save_model(lgb_booster(), str(directory))
    (directory / "model.lgb").write_text("import os\n")
    assert refused(directory) == "model.lgb is not a LightGBM text model (one starts 'tree')"
    edit_flavor(
        directory,
        "lightgbm",
        model_class="lightgbm.sklearn.LGBMClassifier",
        serialization_format="cloudpickle",
    )
    message = refused(directory)
    assert "LGBMClassifier with serialization_format 'cloudpickle'" in message


def matmul_graph(weights: np.ndarray, bias: float) -> Any:
    """``y = X @ weights + bias`` as an ONNX graph whose weights are initializers (tensors
    that can live in an external data file)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["Y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, len(weights)])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
        [
            numpy_helper.from_array(weights.reshape(-1, 1).astype(np.float32), "W"),
            numpy_helper.from_array(np.array([bias], dtype=np.float32), "B"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_onnx_external_data_must_stay_among_the_versions_files(tmp_path: Path) -> None:
    X, _ = training_data()
    model = matmul_graph(np.array([0.5, -2.0, 3.0]), 0.25)
    # Large enough tensors go to an external file beside the model, as MLflow saves them.
    directory = tmp_path / "onnx"
    directory.mkdir()
    onnx.save_model(
        model,
        str(directory / "model.onnx"),
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )
    (directory / "MLmodel").write_text(
        yaml.safe_dump(
            {
                "flavors": {
                    "onnx": {"data": "model.onnx", "code": None},
                    "python_function": {"loader_module": "mlflow.onnx", "data": "model.onnx"},
                }
            }
        )
    )
    checked(directory)
    session = onnxruntime.InferenceSession(str(directory / "model.onnx"))
    (want,) = session.run(None, {"X": X.to_numpy(np.float32)})
    assert np.array_equal(predicted(load_model(directory), X), want.reshape(-1))

    # The same graph pointing its weights outside the version.
    outside = tmp_path / "secret.bin"
    outside.write_bytes((directory / "weights.bin").read_bytes())
    crafted = onnx.load(str(directory / "model.onnx"), load_external_data=False)
    for tensor in crafted.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../secret.bin"
    onnx.save_model(crafted, str(directory / "model.onnx"))
    message = refused(directory)
    assert "external data names model file '../secret.bin' outside" in message
    with pytest.raises(UnsafeModel, match="outside"):
        load_model(directory)


def test_loading_without_the_library_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = mlflow_xgboost(tmp_path)
    monkeypatch.setitem(__import__("sys").modules, "xgboost", None)  # as if not installed
    with pytest.raises(UnsafeModel, match=r"pip install 'steward\[xgboost\]'"):
        load_model(directory, LoadOptions())
