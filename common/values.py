"""Checking rows against a table's columns, and presenting stored values as JSON.

Every way rows come in (JSON records, CSV, SQL ``INSERT``/``MERGE``, the Python client,
lookups by key) goes through :func:`check_rows`, so they all accept and refuse the same
values with the same words. A bad value rejects the whole batch: the error names the row
(numbered from 1, as a user counts lines of a file) and the column.

JSON values are checked strictly, as a typed API should: a string is not a number and
``1`` is not a boolean. CSV fields are text by nature, so they are parsed (``text=True``):
numbers, ``true``/``false``, and an empty field is NULL.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import orjson

from common.errors import InvalidParameter
from common.text import storable_problem

#: Largest batch one request may write.
MAX_BATCH_ROWS = 100_000

INT_RANGES = {
    "BYTE": (-(2**7), 2**7 - 1),
    "SHORT": (-(2**15), 2**15 - 1),
    "INT": (-(2**31), 2**31 - 1),
    "LONG": (-(2**63), 2**63 - 1),
}


class Column(Protocol):
    """What checking a value needs of a column: the catalog's column records and the
    client's :class:`ColumnSpec` (built from the REST answer) both have it."""

    @property
    def name(self) -> str: ...
    @property
    def type_text(self) -> str: ...
    @property
    def type_name(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def nullable(self) -> bool: ...
    @property
    def type_precision(self) -> int | None: ...
    @property
    def type_scale(self) -> int | None: ...


@dataclass(frozen=True)
class ColumnSpec:
    """A column as a client reads it from ``GET …/tables/{name}``."""

    name: str
    type_text: str
    type_name: str
    position: int
    nullable: bool = True
    type_precision: int | None = None
    type_scale: int | None = None


class BadValue(ValueError):
    """A value that does not fit its column; the message says why."""


def _integer(column: Column, value: Any, text: bool) -> int:
    if text and isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise BadValue(f"'{value}' is not a whole number") from None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise BadValue(f"{_shown(value)} is not a whole number")
    low, high = INT_RANGES[column.type_name]
    if not low <= value <= high:
        raise BadValue(f"{value} is out of range for {column.type_name} ({low}..{high})")
    return value


def _fraction(_column: Column, value: Any, text: bool) -> float:
    if text and isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise BadValue(f"'{value}' is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(f"{_shown(value)} is not a number")
    value = float(value)
    if not math.isfinite(value) and not text:
        raise BadValue("NaN and infinities are not stored")
    return value


def _decimal(column: Column, value: Any, text: bool) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise BadValue(f"{_shown(value)} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise BadValue(f"'{value}' is not a number") from None
    if not number.is_finite():
        raise BadValue("NaN and infinities are not stored")
    precision, scale = column.type_precision or 10, column.type_scale or 0
    quantized = number.quantize(Decimal(1).scaleb(-scale)) if scale else number.quantize(1)
    if quantized != number:
        raise BadValue(f"{value} has more than {scale} digits after the point")
    if (
        len(quantized.as_tuple().digits) - max(0, -quantized.as_tuple().exponent)
        > precision - scale
    ):
        raise BadValue(f"{value} does not fit DECIMAL({precision},{scale})")
    return quantized


def _boolean(_column: Column, value: Any, text: bool) -> bool:
    if text and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise BadValue(f"{_shown(value)} is not a boolean (true or false)")
    return value


def _string(_column: Column, value: Any, _text: bool) -> str:
    if not isinstance(value, str):
        raise BadValue(f"{_shown(value)} is not a string")
    _refuse_unstorable_text(value)
    return value


def _date(_column: Column, value: Any, _text: bool) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise BadValue(f"{_shown(value)} is not a date (YYYY-MM-DD)")


def parse_timestamp(value: Any) -> datetime:
    """A UTC time from ISO 8601 text or a datetime; a time without offset is UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadValue(
                f"'{value}' is not a timestamp (ISO 8601, e.g. 2026-11-23T10:00:00Z)"
            ) from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise BadValue(f"{_shown(value)} is not a timestamp (ISO 8601, e.g. 2026-11-23T10:00:00Z)")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _timestamp(_column: Column, value: Any, _text: bool) -> datetime:
    return parse_timestamp(value)


def _timestamp_ntz(_column: Column, value: Any, _text: bool) -> datetime:
    return parse_timestamp(value).replace(tzinfo=None)


def _binary(_column: Column, value: Any, _text: bool) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise BadValue(f"{_shown(value)} is not base64-encoded binary")


def _complex(column: Column, value: Any, text: bool) -> Any:
    if text and isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise BadValue(f"'{value}' is not JSON") from None
    _refuse_unstorable_text(value)
    expected = {"ARRAY": list, "STRUCT": dict, "MAP": dict}.get(column.type_name)
    if expected is not None and not isinstance(value, expected):
        shape = "a JSON array" if expected is list else "a JSON object"
        raise BadValue(f"{_shown(value)} is not {shape}")
    return value


def _refuse_unstorable_text(value: Any) -> None:
    if isinstance(value, str):
        problem = storable_problem(value)
        if problem:
            raise BadValue(f"the text {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable_text(key)
            _refuse_unstorable_text(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_unstorable_text(item)


_CHECKS: dict[str, Callable[[Column, Any, bool], Any]] = {
    "BOOLEAN": _boolean,
    "BYTE": _integer,
    "SHORT": _integer,
    "INT": _integer,
    "LONG": _integer,
    "FLOAT": _fraction,
    "DOUBLE": _fraction,
    "DECIMAL": _decimal,
    "STRING": _string,
    "CHAR": _string,
    "DATE": _date,
    "TIMESTAMP": _timestamp,
    "TIMESTAMP_NTZ": _timestamp_ntz,
    "BINARY": _binary,
    "ARRAY": _complex,
    "STRUCT": _complex,
    "MAP": _complex,
    "VARIANT": _complex,
}


def _shown(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode() if value is not None else "null"
    return text if len(text) <= 60 else text[:57] + "..."


def check_value(column: Column, value: Any, *, text: bool = False) -> Any:
    """``value`` as stored in ``column``; raises :class:`BadValue`."""
    if text and value == "":
        value = None
    if value is None:
        if not column.nullable:
            raise BadValue("is NOT NULL but the value is null")
        return None
    check = _CHECKS.get(column.type_name, _string)
    return check(column, value, text)


def columns_by_name(columns: Sequence[Column]) -> dict[str, Column]:
    """Columns by lower-cased name: Databricks names are case-insensitive."""
    return {c.name.lower(): c for c in columns}


def check_rows(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    *,
    text: bool = False,
    partial: bool = False,
    first_row: int = 1,
) -> list[dict[int, Any]]:
    """Rows as {position: stored value}; the first bad value rejects them all.

    ``partial``: rows may give a subset of the columns (lookup keys); otherwise a missing
    column is NULL, which a NOT NULL column refuses.
    """
    by_name = columns_by_name(columns)
    checked: list[dict[int, Any]] = []
    for number, row in enumerate(rows, start=first_row):
        if len(checked) >= MAX_BATCH_ROWS:
            raise InvalidParameter(
                f"a batch may hold at most {MAX_BATCH_ROWS} rows; split it into several"
            )
        if not isinstance(row, Mapping):
            raise InvalidParameter(f"row {number}: a row must be an object of column: value")
        out: dict[int, Any] = {}
        for name, value in row.items():
            column = by_name.get(str(name).lower())
            if column is None:
                known = ", ".join(c.name for c in columns)
                raise InvalidParameter(
                    f"row {number}: '{name}' is not a column of the table (columns: {known})"
                )
            if column.position in out:
                raise InvalidParameter(f"row {number}: column '{column.name}' is given twice")
            try:
                out[column.position] = check_value(column, value, text=text)
            except BadValue as exc:
                raise InvalidParameter(
                    f"row {number}: column '{column.name}' ({column.type_text}): {exc}"
                ) from None
        if not partial:
            for column in columns:
                if column.position not in out:
                    if not column.nullable:
                        raise InvalidParameter(
                            f"row {number}: column '{column.name}' is NOT NULL and has no value"
                        )
                    out[column.position] = None
        checked.append(out)
    return checked


def present(column: Column, value: Any) -> Any:
    """A stored value as JSON: times ISO 8601 UTC with ``Z``, binary base64, decimals numbers."""
    if value is None:
        return None
    name = column.type_name
    if name == "TIMESTAMP" or (name == "TIMESTAMP_NTZ" and isinstance(value, datetime)):
        moment = value if isinstance(value, datetime) else parse_timestamp(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        suffix = "Z" if name == "TIMESTAMP" else ""
        return moment.isoformat(timespec="microseconds") + suffix
    if name == "DATE":
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    if name == "BOOLEAN":
        return bool(value)
    if name == "BINARY":
        return base64.b64encode(bytes(value)).decode()
    if name == "DECIMAL" and isinstance(value, Decimal | str):
        number = Decimal(str(value))
        return int(number) if number == number.to_integral_value() else float(number)
    if name in ("ARRAY", "STRUCT", "MAP", "VARIANT") and isinstance(value, str):
        return orjson.loads(value)
    return value


def present_row(columns: Sequence[Column], values: Sequence[Any]) -> dict[str, Any]:
    return {c.name: present(c, v) for c, v in zip(columns, values, strict=True)}
