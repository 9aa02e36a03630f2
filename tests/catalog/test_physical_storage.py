"""A managed table's physical table (catalog/data/physical.py) is created from a CREATE TABLE
compiled once per shape of table: each one must still be exactly what SQLAlchemy's own
``Table.create`` makes for it, on both backends, whichever table of its shape came first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from catalog.data.physical import create_storage, physical_name, physical_table
from catalog.records import ColumnRecord, TableDetailRecord, new_id
from catalog.runtime import Runtime
from catalog.tables import build_table_detail


def _detail(
    columns: list[tuple[str, str]], key: list[str], required: bool = False
) -> TableDetailRecord:
    """``required``: every column NOT NULL, not only the key's."""
    return build_table_detail(
        table_type="MANAGED",
        data_source_format="DELTA",
        columns=[
            ColumnRecord(
                name=name,
                type_text=type_name.lower(),
                type_name=type_name,
                position=position,
                nullable=not required and name not in key,
            )
            for position, (name, type_name) in enumerate(columns)
        ],
        storage_location=None,
        primary_key_columns=key,
    )


def _described(connection: sa.Connection, table_id: str) -> dict[str, Any]:
    inspector = sa.inspect(connection)
    name = physical_name(table_id)
    return {
        "columns": [
            (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)
        ],
        "key": inspector.get_pk_constraint(name)["constrained_columns"],
    }


def test_each_table_of_a_shape_is_what_sqlalchemy_would_create(runtime: Runtime) -> None:
    # The same column types and names, keyed on a different position: not one shape.
    first = _detail([("a", "INT"), ("b", "INT"), ("c", "STRING")], ["a"], required=True)
    second = _detail([("b", "INT"), ("a", "INT"), ("c", "STRING")], ["a"], required=True)
    # The same shape as the first under other names: shares its statement.
    third = _detail([("x", "INT"), ("y", "INT"), ("z", "STRING")], ["x"], required=True)
    typed = _detail(
        [("k", "LONG"), ("t", "TIMESTAMP"), ("d", "DECIMAL"), ("m", "MAP"), ("f", "BOOLEAN")],
        ["k", "t"],
    )
    keys = []
    with runtime.db.core_transaction() as connection:
        for detail in (first, second, third, typed, first):
            ours, reference = new_id(), new_id()
            create_storage(connection, ours, detail)
            physical_table(reference, detail).create(connection)
            described = _described(connection, ours)
            assert described == _described(connection, reference)
            keys.append(described["key"])
    assert keys == [["c0"], ["c1"], ["c0"], ["c0", "c1"], ["c0"]]
