"""A managed table's physical table (catalog/data/physical.py) is created from a CREATE TABLE
compiled once per shape of table: each one must still be exactly what SQLAlchemy's own
``Table.create`` makes for it, on both backends, whichever table of its shape came first.
It is made on the table's first use, not when the table is created: once, by whichever
process comes first, with the columns the table has then."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from catalog.data.physical import create_storage, physical_name, physical_table, storage_exists
from catalog.data.table_data import TableDataService, layout_of
from catalog.records import ColumnRecord, TableDetailRecord, new_id
from catalog.runtime import Runtime
from catalog.tables import build_table_detail
from common.errors import NotFound
from policy.securables import SecurableType
from tests.catalog.in_process import admin, keyed_table


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


# -- made on first use ----------------------------------------------------------------------


def _exists(rt: Runtime, full_name: str) -> bool:
    table_id = rt.namespace.get_table(full_name).securable.id
    with rt.db.read() as session:
        return storage_exists(session.connection(), table_id)


def test_a_table_gets_its_physical_table_on_first_use_with_its_columns_then(
    runtime: Runtime,
) -> None:
    """A create leaves the database's schema alone; columns added before the first use are
    in the physical table it gets; its rows are written and read as any table's."""
    full_name = keyed_table(runtime, "late")
    assert not _exists(runtime, full_name)
    runtime.namespace.add_columns(
        admin(runtime), full_name, [ColumnRecord("b", "string", "STRING", 0)]
    )
    assert not _exists(runtime, full_name)
    runtime.data.write(full_name, [{"id": 1, "a": 0.5, "b": "x"}])
    assert _exists(runtime, full_name)
    layout = runtime.data.layout(full_name)
    assert runtime.data.latest_by_key(layout, [[1]]) == [(1, 0.5, "x")]
    # Columns added after it has one go into it as before.
    runtime.namespace.add_columns(admin(runtime), full_name, [ColumnRecord("c", "int", "INT", 0)])
    runtime.data.write(full_name, [{"id": 2, "a": 1.5, "b": "y", "c": 3}])
    fresh = TableDataService(runtime.db, runtime.namespace).layout(full_name)
    assert runtime.data.latest_by_key(fresh, [[2]]) == [(2, 1.5, "y", 3)]


def test_processes_using_a_new_table_at_once_make_its_physical_table_once(
    runtime: Runtime,
) -> None:
    """Each service stands for a process (its own memory of tables made): all use a new
    table at the same moment; one makes the physical table, none fails."""
    full_name = keyed_table(runtime, "raced")
    services = [TableDataService(runtime.db, runtime.namespace) for _ in range(6)]
    start = threading.Barrier(len(services))
    failures: list[BaseException] = []

    def use(service: TableDataService) -> None:
        start.wait()
        try:
            service.layout(full_name)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=use, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert _exists(runtime, full_name)


def test_a_table_dropped_before_its_first_use_gets_no_physical_table(runtime: Runtime) -> None:
    full_name = keyed_table(runtime, "gone")
    record = runtime.namespace.get_table(full_name)
    runtime.namespace.delete(SecurableType.TABLE, full_name)
    with pytest.raises(NotFound, match="does not exist"):
        runtime.data._ensure_storage(layout_of(record))
    with runtime.db.read() as session:
        assert not storage_exists(session.connection(), record.securable.id)
