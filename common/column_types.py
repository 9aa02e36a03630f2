"""Column types: Databricks SQL type text ↔ Unity Catalog's ``type_name``.

Type text is parsed with sqlglot's Databricks dialect, never by hand, so
``decimal(10,2)``, ``array<int>`` and ``struct<a:int>`` all come out right;
the REST route, the CLI and the SQL dialect share this one mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import ParseError

from common.errors import InvalidParameter

T = exp.DataType.Type
_TYPE_NAMES: dict[exp.DataType.Type, str] = {
    T.BOOLEAN: "BOOLEAN",
    T.TINYINT: "BYTE",
    T.SMALLINT: "SHORT",
    T.INT: "INT",
    T.BIGINT: "LONG",
    T.FLOAT: "FLOAT",
    T.DOUBLE: "DOUBLE",
    T.DATE: "DATE",
    T.TIMESTAMP: "TIMESTAMP",
    T.TIMESTAMPTZ: "TIMESTAMP",
    T.TIMESTAMPLTZ: "TIMESTAMP",
    T.TIMESTAMPNTZ: "TIMESTAMP_NTZ",
    T.TEXT: "STRING",
    T.VARCHAR: "STRING",
    T.CHAR: "CHAR",
    T.BINARY: "BINARY",
    T.DECIMAL: "DECIMAL",
    T.INTERVAL: "INTERVAL",
    T.ARRAY: "ARRAY",
    T.STRUCT: "STRUCT",
    T.MAP: "MAP",
    T.VARIANT: "VARIANT",
    T.NULL: "NULL",
}


@dataclass(frozen=True)
class ColumnType:
    type_name: str
    type_text: str
    precision: int | None = None
    scale: int | None = None


def parse_column_type(type_text: str) -> ColumnType:
    """Parse Databricks type text (``bigint``, ``decimal(10,2)``, …) into UC's type fields."""
    try:
        data_type = exp.DataType.build(type_text, dialect="databricks")
    except (ParseError, ValueError) as exc:
        raise InvalidParameter(f"'{type_text}' is not a valid column type") from exc
    type_name = _TYPE_NAMES.get(data_type.this)
    if type_name is None:
        raise InvalidParameter(f"column type '{type_text}' is not supported")
    precision = scale = None
    if type_name == "DECIMAL":
        params = [int(e.name) for e in data_type.expressions if e.name.isdigit()]
        precision = params[0] if params else 10
        scale = params[1] if len(params) > 1 else 0
    return ColumnType(type_name, data_type.sql("databricks").lower(), precision, scale)
