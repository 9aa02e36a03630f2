"""Where a managed table's rows live: one physical table in the service database.

A managed table ``main.fs.customers`` is stored as ``data_<securable id hex>`` with one
column per declared column, named ``c<position>``. Neither name comes from user text:
table and column names may be anything Databricks allows (spaces, any case, reserved
words) and the SQL rewrite (:mod:`catalog.sql.table_sources`) maps the public names onto
these. The primary key (timeseries column included) is the physical primary key, so a
lookup by key and the point-in-time search of a key's history are index range scans.

The physical table is created in the transaction that creates the table and dropped in
the one that drops it (or its schema or catalog, with CASCADE), so a table and its rows
exist together or not at all. EXTERNAL tables keep their data elsewhere: no storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from catalog.persistence.schema import TableDataVersion
from catalog.records import ColumnRecord, TableDetailRecord

PREFIX = "data_"


def physical_name(table_id: str) -> str:
    return PREFIX + table_id.replace("-", "")


def column_name(position: int) -> str:
    return f"c{position}"


def has_storage(detail: TableDetailRecord) -> bool:
    return detail.table_type == "MANAGED"


def sql_type(column: ColumnRecord) -> TypeEngine:
    """The SQLAlchemy type a column's values are stored as."""
    name = column.type_name
    if name == "BOOLEAN":
        return sa.Boolean(create_constraint=False)
    if name in ("BYTE", "SHORT", "INT"):
        return sa.Integer()
    if name == "LONG":
        return sa.BigInteger()
    if name == "FLOAT":
        return sa.Float()
    if name == "DOUBLE":
        return sa.Double()
    if name == "DECIMAL":
        return sa.Numeric(column.type_precision or 10, column.type_scale or 0)
    if name == "DATE":
        return sa.Date()
    if name == "TIMESTAMP":
        return sa.DateTime(timezone=True)
    if name == "TIMESTAMP_NTZ":
        return sa.DateTime(timezone=False)
    if name == "BINARY":
        return sa.LargeBinary()
    if name in ("ARRAY", "STRUCT", "MAP", "VARIANT"):
        # A missing value is SQL NULL (so ``IS NULL`` finds it), not the JSON text 'null'.
        return sa.JSON(none_as_null=True)
    return sa.Text()


def _signature(detail: TableDetailRecord) -> tuple[object, ...]:
    """What a physical table is made of: each column's position, type and nullability,
    and whether it is in the key. Tables with one signature differ only in name."""
    key_names = set(detail.primary_key_columns or ())
    return tuple(
        (c.position, c.type_name, c.type_precision, c.type_scale, c.nullable, c.name in key_names)
        for c in sorted(detail.columns, key=lambda c: c.position)
    )


#: Built tables by (table id, definition); a table's definition never changes in place.
_TABLES: dict[tuple[str, tuple[object, ...]], sa.Table] = {}


def physical_table(table_id: str, detail: TableDetailRecord) -> sa.Table:
    """The SQLAlchemy table of ``table_id`` (built once per definition)."""
    key = (table_id, _signature(detail))
    table = _TABLES.get(key)
    if table is None:
        table = _TABLES[key] = _build(table_id, detail)
    return table


def _build(table_id: str, detail: TableDetailRecord) -> sa.Table:
    by_name = {c.name: c.position for c in detail.columns}
    key_positions = {by_name[name] for name in detail.primary_key_columns or ()}
    return sa.Table(
        physical_name(table_id),
        sa.MetaData(),
        *(
            sa.Column(
                column_name(c.position),
                sql_type(c),
                primary_key=c.position in key_positions,
                nullable=c.nullable and c.position not in key_positions,
                autoincrement=False,
            )
            for c in sorted(detail.columns, key=lambda c: c.position)
        ),
    )


#: A stand-in id: CREATE TABLE is compiled once per shape of table, for its name.
_STAND_IN_ID = "0" * 32
_STAND_IN = physical_name(_STAND_IN_ID)
#: Compiled CREATE TABLE statements by (dialect, :func:`_signature`).
_CREATE_SQL: dict[tuple[str, tuple[object, ...]], str] = {}


def create_storage(connection: Connection, table_id: str, detail: TableDetailRecord) -> None:
    """CREATE TABLE for a managed table. Building a SQLAlchemy table and running its DDL
    visitor per create was a tenth of a create's CPU; tables of one shape (column types,
    key positions) share one compiled statement, and only the name, ours and quoted by
    the dialect, differs."""
    if not has_storage(detail):
        return
    key = (connection.dialect.name, _signature(detail))
    sql = _CREATE_SQL.get(key)
    if sql is None:
        stand_in = _build(_STAND_IN_ID, detail)
        sql = _CREATE_SQL[key] = str(
            sa.schema.CreateTable(stand_in).compile(dialect=connection.dialect)
        )
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql(sql.replace(_STAND_IN, quote(physical_name(table_id)), 1))


def storage_exists(connection: Connection, table_id: str) -> bool:
    """Whether the table's rows have their physical table yet, as ``connection`` sees it
    (a managed table gets one on first use: :meth:`TableDataService.layout
    <catalog.data.table_data.TableDataService.layout>`)."""
    return sa.inspect(connection).has_table(physical_name(table_id))


def ensure_storage(connection: Connection, table_id: str, detail: TableDetailRecord) -> None:
    """:func:`create_storage` unless the physical table exists already."""
    if has_storage(detail) and not storage_exists(connection, table_id):
        create_storage(connection, table_id, detail)


def drop_storage(connection: Connection, table_ids: Iterable[str]) -> None:
    """Drop the physical tables of ``table_ids`` that have one (any may have none)."""
    existing = set(sa.inspect(connection).get_table_names())
    for table_id in table_ids:
        name = physical_name(table_id)
        if name in existing:
            sa.Table(name, sa.MetaData()).drop(connection)


def add_storage_columns(
    connection: Connection, table_id: str, columns: Iterable[ColumnRecord]
) -> None:
    """ALTER TABLE … ADD COLUMN for each new (nullable) column of a table with storage.
    Both names are ours (``data_…``, ``c<position>``), quoted by the dialect; the type is
    compiled by it from the column's record."""
    quote = connection.dialect.identifier_preparer.quote
    for column in columns:
        type_sql = sql_type(column).compile(dialect=connection.dialect)
        connection.exec_driver_sql(
            f"ALTER TABLE {quote(physical_name(table_id))} "
            f"ADD COLUMN {quote(column_name(column.position))} {type_sql}"
        )


#: The database's own identity of a stored row: what ``UPDATE`` and ``DELETE`` find rows by,
#: so tables without a primary key can be changed too. SQLite's ``rowid`` (every physical
#: table has one: none is ``WITHOUT ROWID``) and PostgreSQL's ``ctid`` both stay put while
#: nothing writes the table — which the statement makes sure of (``catalog/sql/update_delete``).
ROW_IDENTITY = {"sqlite": "rowid", "postgresql": "ctid"}


def row_identity_condition(backend: str) -> sa.TextClause:
    """``<row identity> = :row_id``: one stored row, found without a scan (PostgreSQL
    answers a ``ctid`` equality with a TID scan; SQLite's rowid is its b-tree key)."""
    if backend == "postgresql":
        return sa.text("ctid = CAST(:row_id AS tid)")
    return sa.text("rowid = :row_id")


def lock_against_writers(connection: Connection, table: sa.Table) -> None:
    """Keep every other writer off ``table`` until this transaction ends, readers not.
    PostgreSQL's SHARE ROW EXCLUSIVE lock waits for writers in progress and conflicts
    with itself; on SQLite the transaction's BEGIN IMMEDIATE already holds the one write
    lock. The name is ours (``data_…``), quoted by the dialect."""
    if connection.dialect.name == "postgresql":
        quoted = connection.dialect.identifier_preparer.quote(table.name)
        connection.exec_driver_sql(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE")


def upsert_insert(session: Session, table: sa.Table) -> Any:
    """An INSERT of the session's dialect, which has ``on_conflict_do_update`` (both do)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def bump_data_version(session: Session, table_id: str) -> None:
    """Raise the table's data version in the writing transaction: readers that cached its
    rows read them again once this commits (:mod:`catalog.data.row_cache`)."""
    table = TableDataVersion.__table__
    statement = upsert_insert(session, table).values(table_id=table_id, version=1)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.table_id], set_={"version": table.c.version + 1}
        )
    )
