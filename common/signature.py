"""Model signatures in MLflow's JSON format, inferred from an input example and the model's
output the way ``mlflow.models.infer_signature`` does (without needing MLflow).

Columns: ``[{"type": "double", "name": "x", "required": true}, …]`` (DataFrames, records,
dicts, Series); tensors: ``[{"type": "tensor", "tensor-spec": {"dtype": "float64",
"shape": [-1, 3]}}]`` (numpy arrays). The MLmodel file stores ``inputs`` and ``outputs`` as
JSON text.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

#: numpy kinds and sizes → MLflow column types.
_COLUMN_TYPES = {
    ("b", 1): "boolean",
    ("i", 1): "integer",
    ("i", 2): "integer",
    ("i", 4): "integer",
    ("i", 8): "long",
    ("u", 1): "integer",
    ("u", 2): "integer",
    ("u", 4): "long",
    ("f", 2): "float",
    ("f", 4): "float",
    ("f", 8): "double",
}


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas comes with the test extras
        return None
    return pandas


def _column_type(values: Any) -> str:
    array = np.asarray(values)
    kind = array.dtype.kind
    if (kind, array.dtype.itemsize) in _COLUMN_TYPES:
        return _COLUMN_TYPES[(kind, array.dtype.itemsize)]
    if kind == "M":
        return "datetime"
    if kind == "U":
        return "string"
    if kind == "S":
        return "binary"
    if kind == "O":
        present = [v for v in array.ravel().tolist() if v is not None]
        if present and all(isinstance(v, str) for v in present):
            return "string"
        if present and all(isinstance(v, bytes | bytearray) for v in present):
            return "binary"
        if present and all(isinstance(v, bool) for v in present):
            return "boolean"
        if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            return "long"
        if present and all(isinstance(v, float | int) for v in present):
            return "double"
    raise ValueError(f"cannot infer a signature type for values of dtype {array.dtype}")


def _tensor_dtype(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind == "U":
        return "str"
    if kind == "S":
        return "bytes"
    if kind == "O":
        return "object"
    return array.dtype.name


def _tensor(array: np.ndarray) -> list[dict[str, Any]]:
    shape = [-1, *array.shape[1:]] if array.ndim else [-1]
    return [{"type": "tensor", "tensor-spec": {"dtype": _tensor_dtype(array), "shape": shape}}]


def as_frame(data: Any) -> Any:
    """Records (list of dicts) and dicts of columns as a pandas DataFrame; other data as is."""
    pd = _pandas()
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        if pd is None:
            raise ImportError("records need pandas: pip install pandas")
        return pd.DataFrame.from_records(data)
    if isinstance(data, dict):
        if pd is None:
            raise ImportError("a dict of columns needs pandas: pip install pandas")
        if all(np.ndim(v) == 0 for v in data.values()):
            return pd.DataFrame([data])
        return pd.DataFrame(data)
    return data


def schema_of(data: Any) -> list[dict[str, Any]]:
    """The MLflow schema (list of column or tensor specs) of one value."""
    pd = _pandas()
    data = as_frame(data)
    if pd is not None and isinstance(data, pd.DataFrame):
        return [
            {"type": _column_type(data[c].to_numpy()), "name": str(c), "required": True}
            for c in data.columns
        ]
    if pd is not None and isinstance(data, pd.Series):
        spec: dict[str, Any] = {"type": _column_type(data.to_numpy()), "required": True}
        if data.name is not None:
            spec = {"type": spec["type"], "name": str(data.name), "required": True}
        return [spec]
    if isinstance(data, np.ndarray):
        return _tensor(data)
    if isinstance(data, list | tuple):
        array = np.asarray(data)
        if array.ndim == 1:
            return [{"type": _column_type(array), "required": True}]
        return _tensor(array)
    raise ValueError(f"cannot infer a signature from a {type(data).__name__}")


def infer_signature(model_input: Any, model_output: Any) -> dict[str, str]:
    """``{"inputs": json, "outputs": json}`` as MLflow writes it in MLmodel."""
    return {
        "inputs": json.dumps(schema_of(model_input)),
        "outputs": json.dumps(schema_of(model_output)),
    }


def normalize_signature(signature: Any) -> dict[str, str]:
    """A signature given as MLflow's ``ModelSignature``, a dict of JSON text, or a dict of
    lists, as ``{"inputs": json, "outputs": json}``."""
    if hasattr(signature, "to_dict"):
        signature = signature.to_dict()
    if not isinstance(signature, dict):
        raise ValueError("signature must be a dict with 'inputs' and 'outputs'")
    result = {}
    for key in ("inputs", "outputs"):
        value = signature.get(key)
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, list) or not value:
            raise ValueError(f"signature '{key}' must be a non-empty list of column/tensor specs")
        result[key] = json.dumps(value)
    return result
