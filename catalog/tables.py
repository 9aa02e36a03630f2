"""Rules for a table's definition: columns, types and the keys that make a feature table.

Shared by the REST route and (later) ``CREATE TABLE`` in SQL, so both reject
the same mistakes with the same words.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalog.records import ColumnRecord, TableDetailRecord
from common.errors import InvalidParameter
from common.text import EXTERNAL_REFUSED, refuse_controls

#: Types a timeseries key may have.
TIMESERIES_TYPES = frozenset({"TIMESTAMP", "TIMESTAMP_NTZ", "DATE"})
SUPPORTED_TABLE_TYPES = frozenset({"MANAGED", "EXTERNAL"})
MAX_COLUMNS = 4096


def build_table_detail(
    *,
    table_type: str,
    data_source_format: str | None,
    columns: Sequence[ColumnRecord],
    storage_location: str | None,
    primary_key_name: str | None = None,
    primary_key_columns: Sequence[str] | None = None,
    timeseries_columns: Sequence[str] | None = None,
) -> TableDetailRecord:
    if table_type not in SUPPORTED_TABLE_TYPES:
        raise InvalidParameter(f"table_type {table_type} is not supported; use MANAGED or EXTERNAL")
    if table_type == "EXTERNAL" and not storage_location:
        raise InvalidParameter("an EXTERNAL table needs a storage_location")
    if not columns:
        raise InvalidParameter("a table needs at least one column")
    if len(columns) > MAX_COLUMNS:
        raise InvalidParameter(f"a table may have at most {MAX_COLUMNS} columns")
    by_name: dict[str, ColumnRecord] = {}
    for col in columns:
        if not col.name or not col.name.strip():
            raise InvalidParameter(f"column at position {col.position} has an empty name")
        refuse_controls(col.name, f"column at position {col.position}:", EXTERNAL_REFUSED)
        key = col.name.lower()
        if key in by_name:
            raise InvalidParameter(f"column '{col.name}' is defined more than once")
        by_name[key] = col
    positions = sorted(c.position for c in columns)
    if positions != list(range(len(columns))):
        raise InvalidParameter("column positions must be 0..n-1, each used once")

    pk_cols: list[str] | None = None
    ts_col: str | None = None
    if primary_key_columns:
        pk_cols = []
        for name in primary_key_columns:
            col = by_name.get(name.lower())
            if col is None:
                raise InvalidParameter(f"primary key column '{name}' is not a column of the table")
            if col.nullable:
                raise InvalidParameter(f"primary key column '{col.name}' must be declared NOT NULL")
            if col.name in pk_cols:
                raise InvalidParameter(f"primary key column '{col.name}' is listed twice")
            pk_cols.append(col.name)
        ts = list(timeseries_columns or [])
        if len(ts) > 1:
            raise InvalidParameter("a primary key may have at most one TIMESERIES column")
        if ts:
            col = by_name.get(ts[0].lower())
            if col is None or col.name not in pk_cols:
                raise InvalidParameter(
                    f"timeseries column '{ts[0]}' must be one of the primary key columns"
                )
            if col.type_name not in TIMESERIES_TYPES:
                raise InvalidParameter(
                    f"timeseries column '{col.name}' must be a TIMESTAMP or DATE, "
                    f"not {col.type_name}"
                )
            ts_col = col.name
    elif timeseries_columns:
        raise InvalidParameter("a TIMESERIES column needs a primary key")

    return TableDetailRecord(
        table_type=table_type,
        data_source_format=data_source_format or "DELTA",
        primary_key_name=(primary_key_name or None) if pk_cols else None,
        primary_key_columns=pk_cols,
        timeseries_column=ts_col,
        columns=sorted(columns, key=lambda c: c.position),
    )
