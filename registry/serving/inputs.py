"""Scoring requests in MLflow's formats, checked against a version's signature.

Accepted bodies (exactly one of the four, plus Databricks' optional ``client_request_id``):

* ``{"dataframe_split": {"columns": [...], "data": [[...], ...], "index"?: [...]}}``
* ``{"dataframe_records": [{"col": value, ...}, ...]}``
* ``{"instances": ...}`` / ``{"inputs": ...}``: a list of records, a list of rows (lists,
  matched to the signature's columns by position), a dict of columns, or for tensor
  signatures nested lists.

A request is held by column (name → one value per row), the shape the model takes in
the end: feature lookups fill whole columns, and types are checked a column at a time
(one pass over its values' types in the usual case) rather than value by value. A record
that lacks a column has :data:`MISSING` there. A missing column, a value of the wrong
type, a ragged row or an unknown body key is a 400 naming it. Columns the signature does
not name are ignored (as MLflow does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from common.errors import InvalidParameter

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
#: Body keys besides the format: Databricks' client_request_id (kept in the inference table)
#: and MLflow's params (not used by scikit-learn models).
OTHER_KEYS = ("client_request_id", "params")
MAX_ROWS = 10_000

#: Column name → one value per row.
Columns = Mapping[str, Sequence[Any]]


class _Missing:
    """The value of a column in a record that does not have it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def absent(value: Any) -> bool:
    """Not given: null, or a record without the column."""
    return value is None or value is MISSING


@dataclass
class Request:
    format: str
    #: The request's columns; None for positional rows (matched to a signature later).
    columns: dict[str, Sequence[Any]] | None
    #: Positional rows: a tensor request, or rows to be matched to the signature's columns.
    rows: list[Any] | None
    client_request_id: str | None
    row_count: int


def parse(body: bytes) -> Request:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidParameter(
            f"request body must be a JSON object with one of: {', '.join(FORMATS)}"
        )
    unknown = [k for k in data if k not in FORMATS and k not in OTHER_KEYS]
    if unknown:
        raise InvalidParameter(
            f"unknown key '{unknown[0]}' in the request body; give one of: {', '.join(FORMATS)}"
        )
    given = [k for k in FORMATS if k in data]
    if len(given) != 1:
        raise InvalidParameter(
            f"the request body must give exactly one of: {', '.join(FORMATS)}"
            + (f" (got {', '.join(given)})" if given else "")
        )
    client_id = data.get("client_request_id")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidParameter("client_request_id must be a string")
    kind = given[0]
    value = data[kind]
    rows: list[Any] | None = None
    if kind == "dataframe_split":
        columns, count = _split(value)
    elif kind == "dataframe_records":
        columns, count = _records(value, kind)
    else:
        columns, rows, count = _instances(value, kind)
    if count == 0:
        raise InvalidParameter(f"{kind} holds no rows")
    if count > MAX_ROWS:
        raise InvalidParameter(f"a request may score at most {MAX_ROWS} rows, not {count}")
    return Request(kind, columns, rows, client_id, count)


def _split(value: Any) -> tuple[dict[str, Sequence[Any]], int]:
    if not isinstance(value, dict):
        raise InvalidParameter("dataframe_split must be an object with 'columns' and 'data'")
    extra = [k for k in value if k not in ("columns", "data", "index")]
    if extra:
        raise InvalidParameter(f"unknown key '{extra[0]}' in dataframe_split")
    columns, data = value.get("columns"), value.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidParameter("dataframe_split.columns must be a list of column names")
    if len(set(columns)) != len(columns):
        raise InvalidParameter("dataframe_split.columns names a column twice")
    if not isinstance(data, list):
        raise InvalidParameter("dataframe_split.data must be a list of rows")
    width = len(columns)
    if not all(type(row) is list and len(row) == width for row in data):
        number, row = next(
            (n, r)
            for n, r in enumerate(data, start=1)
            if not isinstance(r, list) or len(r) != width
        )
        got = len(row) if isinstance(row, list) else type(row).__name__
        raise InvalidParameter(
            f"dataframe_split.data row {number} has {got} values; expected a list of "
            f"{width} (one per column)"
        )
    if not data:
        return dict.fromkeys(columns, ()), 0
    return dict(zip(columns, zip(*data, strict=True), strict=True)), len(data)


def _records(value: Any, kind: str) -> tuple[dict[str, Sequence[Any]], int]:
    if not isinstance(value, list):
        raise InvalidParameter(f"{kind} must be a list of records")
    for number, row in enumerate(value, start=1):
        if not isinstance(row, dict):
            raise InvalidParameter(
                f"{kind} row {number} is {type(row).__name__}; expected an object of column: value"
            )
    return _by_column(value), len(value)


def _by_column(records: list[dict[str, Any]]) -> dict[str, Sequence[Any]]:
    names = dict.fromkeys(name for record in records for name in record)
    return {name: [record.get(name, MISSING) for record in records] for name in names}


def _instances(
    value: Any, kind: str
) -> tuple[dict[str, Sequence[Any]] | None, list[Any] | None, int]:
    if isinstance(value, dict):  # columns: {"x": [1, 2], "y": [3, 4]}
        lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
        if not value or -1 in lengths or len(lengths) != 1:
            raise InvalidParameter(
                f"{kind} given as an object must map each column to a list of values of "
                "the same length"
            )
        return dict(value), None, lengths.pop()
    if not isinstance(value, list):
        raise InvalidParameter(f"{kind} must be a list of rows or an object of columns")
    if value and all(isinstance(r, dict) for r in value):
        return _by_column(value), None, len(value)
    if any(isinstance(r, dict) for r in value):
        raise InvalidParameter(f"{kind} mixes records and rows; use one shape")
    return None, value, len(value)


def named(request: Request, columns: tuple[dict[str, Any], ...]) -> dict[str, Sequence[Any]]:
    """The request's columns; positional rows are matched to the signature's columns in
    order."""
    if request.columns is not None:
        return request.columns
    names = [c["name"] for c in columns]
    rows = request.rows or []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != len(names):
            got = len(row) if isinstance(row, list) else "a scalar"
            raise InvalidParameter(
                f"{request.format} row {number} has {got} values; the model takes "
                f"{len(names)} columns ({', '.join(names)}): send records or "
                "dataframe_split to name them"
            )
    return dict(zip(names, zip(*rows, strict=True), strict=True))


# -- typed columns ---------------------------------------------------------------------------

_NUMBER = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def checked_columns(request: Columns, columns: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The signature's columns, in its order, as numpy arrays of its types; every value
    checked (missing columns and wrong types are 400s naming row and column)."""
    data: dict[str, Any] = {}
    for spec in columns:
        name = spec["name"]
        kind = spec.get("type", "string")
        required = spec.get("required", True)
        values = request.get(name)
        if values is None or MISSING in values:
            raise _missing_column(name, values, columns)
        if not _plainly(values, kind):  # check value by value, naming the first bad one
            values = [
                _checked(value, kind, name, number, required)
                for number, value in enumerate(values, start=1)
            ]
        data[name] = _array(values, kind)
    return data


def _missing_column(
    name: str, values: Sequence[Any] | None, columns: tuple[dict[str, Any], ...]
) -> InvalidParameter:
    """The error for a column some record lacks: the whole column, or the first row."""
    if values is None or all(v is MISSING for v in values):
        needed = ", ".join(c["name"] for c in columns)
        return InvalidParameter(
            f"missing column '{name}': the model's signature needs it ({needed})"
        )
    number = next(i for i, value in enumerate(values, start=1) if value is MISSING)
    return InvalidParameter(f"row {number}: missing column '{name}'")


#: Python types whose values a numeric column takes as they are (bool is not among them:
#: ``type(True) is bool``); a fraction column also takes missing values (NaN).
_PLAIN = {
    "double": frozenset({float, int, type(None)}),
    "float": frozenset({float, int, type(None)}),
    "long": frozenset({int}),
    "integer": frozenset({int}),
}


def _plainly(values: Sequence[Any], kind: str) -> bool:
    """Whether every value of a numeric column is already what :func:`_checked` would pass
    unchanged (the usual case), so the column is checked in one pass over the types."""
    plain = _PLAIN.get(kind)
    return plain is not None and set(map(type, values)) <= plain


def _checked(value: Any, kind: str, name: str, number: int, required: bool) -> Any:
    if value is None:
        if required and kind not in ("double", "float"):
            raise InvalidParameter(f"row {number}: column '{name}' ({kind}) is null")
        return None
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParameter(
                f"row {number}: column '{name}' ({kind}): {_shown(value)} is not a number"
            )
        return value
    if kind in ("long", "integer"):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameter(
                f"row {number}: column '{name}' ({kind}): {_shown(value)} is not a whole number"
            )
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidParameter(
                f"row {number}: column '{name}' (boolean): {_shown(value)} is not true or false"
            )
        return value
    if kind == "string" and not isinstance(value, str):
        raise InvalidParameter(
            f"row {number}: column '{name}' (string): {_shown(value)} is not a string"
        )
    return value


def _array(values: Sequence[Any], kind: str) -> Any:
    dtype = _NUMBER.get(kind)
    if dtype is not None:
        if dtype.startswith("int") and None in values:
            return np.asarray(values, dtype="float64")
        try:
            if None in values:
                values = [np.nan if v is None else v for v in values]
            return np.asarray(values, dtype=dtype)
        except OverflowError:
            raise InvalidParameter(f"a value is out of range for a {kind} column") from None
    if kind == "boolean":
        return np.asarray(values, dtype=bool)
    return np.asarray(values, dtype=object)


def tensor(request: Request, spec: dict[str, Any]) -> Any:
    """A tensor request as a numpy array of the signature's dtype and shape."""
    if request.rows is None:
        raise InvalidParameter(f"the model takes a tensor: send {request.format} as nested lists")
    detail = spec.get("tensor-spec") or {}
    dtype = detail.get("dtype", "float64")
    try:
        array = np.asarray(request.rows, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise InvalidParameter(f"{request.format} is not a tensor of {dtype}: {exc}") from None
    shape = detail.get("shape")
    if isinstance(shape, list) and len(shape) != array.ndim:
        raise InvalidParameter(
            f"{request.format} has shape {list(array.shape)}; the model takes {shape}"
        )
    if isinstance(shape, list):
        for axis, (want, got) in enumerate(zip(shape, array.shape, strict=True)):
            if want != -1 and want != got:
                raise InvalidParameter(
                    f"{request.format} has {got} values on axis {axis}; the model takes {want}"
                )
    return array


def _shown(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def predictions(output: Any) -> Any:
    """Model output as JSON-safe Python values, shaped as MLflow's scoring server shapes
    them: a frame as records, a dict of named outputs (ONNX) as a dict of lists."""
    if hasattr(output, "to_dict") and hasattr(output, "columns"):
        names = [str(c) for c in output.columns]
        columns = [predictions(output[c].to_numpy()) for c in output.columns]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    if isinstance(output, dict):
        return {str(k): predictions(v) for k, v in output.items()}
    if hasattr(output, "to_numpy"):
        output = output.to_numpy()
    if isinstance(output, np.ndarray):
        if output.dtype.kind == "O":  # rows of a 2-D output kept together in a frame
            return [predictions(v) if isinstance(v, np.ndarray) else _scalar(v) for v in output]
        if output.dtype.kind == "f":
            return (
                [
                    None if isinstance(v, float) and not math.isfinite(v) else v
                    for v in output.tolist()
                ]
                if output.ndim == 1
                else output.tolist()
            )
        return output.tolist()
    if isinstance(output, list | tuple):
        return [predictions(v) if isinstance(v, np.ndarray) else _scalar(v) for v in output]
    return _scalar(output)


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
