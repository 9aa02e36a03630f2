"""What ``INSERT`` and ``MERGE`` share: the target, the values, one write transaction.

Both statements work the same way, so that everything they read goes through the read
compiler (:mod:`catalog.sql.compiler`) and everything they write through the data service
(:class:`catalog.data.table_data.TableDataService`):

1. **Target**: the table written must be a managed table the caller holds MODIFY on
   (with USE CATALOG and USE SCHEMA; :mod:`catalog.sql.sources`). System tables are
   read-only, EXTERNAL tables keep their data outside Steward.
2. **Rows**: computed by one read-only query compiled like any SELECT (every table it
   reads needs SELECT), or for ``INSERT … VALUES`` of literals by Python
   (:mod:`catalog.sql.constants`). The values are brought to the form
   :func:`common.values.check_rows` takes (:func:`storable`) and checked against the
   columns; the first bad value fails the statement naming its row and column.
3. **Write**: in one ``runtime.db.transaction()``, with the statement's lineage (table and
   column edges from sqlglot, :mod:`catalog.lineage.sql_lineage`) and its audit event, so the
   rows, the edges and the event commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.orm import Session
from sqlglot import exp
from sqlglot.errors import SqlglotError

from catalog.audit.recorder import current_scope
from catalog.data.table_data import TableLayout
from catalog.lineage.edge_writer import record_edges
from catalog.lineage.recording import sql_edges
from catalog.lineage.sql_lineage import (
    ColumnLineage,
    SqlLineage,
    SqlLineageError,
    statement_lineage,
)
from catalog.records import ColumnRecord
from catalog.sql.cpu_gate import statement_cpu
from catalog.sql.errors import position
from catalog.sql.sources import CatalogResolver, Source
from catalog.sql.table_sources import GovernedSource
from common.errors import InvalidParameter
from common.values import BadValue, check_rows, parse_timestamp
from policy.securables import Privilege

_INTEGERS = frozenset({"BYTE", "SHORT", "INT", "LONG"})
_FRACTIONS = frozenset({"FLOAT", "DOUBLE"})
_COMPLEX = frozenset({"ARRAY", "STRUCT", "MAP", "VARIANT"})


@dataclass(frozen=True)
class Target:
    """The managed table a statement writes."""

    source: GovernedSource

    @property
    def full_name(self) -> str:
        return self.source.full_name

    @property
    def layout(self) -> TableLayout:
        return self.source.layout

    @property
    def columns(self) -> list[ColumnRecord]:
        return self.layout.columns

    def column(self, name: str, node: exp.Expression) -> ColumnRecord:
        for column in self.columns:
            if column.name.lower() == name.lower():
                return column
        known = ", ".join(c.name for c in self.columns)
        raise InvalidParameter(
            f"'{name}' is not a column of {self.full_name} (columns: {known}){position(node)}"
        )


def resolve_target(resolver: CatalogResolver, table: exp.Table) -> Target:
    """The table written, authorized for MODIFY; names the statement's audit object."""
    source = resolver.resolve(table, Privilege.MODIFY)
    if not isinstance(source, GovernedSource):  # pragma: no cover - system tables refuse above
        raise InvalidParameter(f"'{source.full_name}' cannot be written")
    scope = current_scope()
    if scope is not None:
        scope.object_name = source.full_name
    return Target(source)


def storable(column: ColumnRecord, value: Any, kind: str = "any") -> Any:
    """A value as the database or a literal gave it, in the form ``check_rows`` takes.

    ``kind`` is how the compiler typed the query's column (see
    :class:`catalog.sql.compiler.CompiledQuery`): SQLite hands booleans back as 0/1 and
    arrays, structs and times as text. Numbers meet the column's type where no precision
    is lost (2.0 into a BIGINT, 1.5 into a DOUBLE); anything else is left for
    ``check_rows`` to accept or refuse.
    """
    if value is None:
        return None
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    name = column.type_name
    if kind == "boolean" and isinstance(value, int) and not isinstance(value, bool):
        return bool(value)
    if isinstance(value, Decimal):
        if name in _FRACTIONS:
            return float(value)
        if name in _INTEGERS and value == value.to_integral_value():
            return int(value)
    if name == "DECIMAL" and isinstance(value, float):
        return Decimal(repr(value))
    if name in _COMPLEX and isinstance(value, str | bytes):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if name == "DATE" and isinstance(value, str) and kind in ("timestamp", "timestamp_ntz"):
        try:
            return parse_timestamp(value).date()
        except BadValue:
            return value
    if name == "DATE" and isinstance(value, datetime):
        return value.date()
    return value


def check(
    target: Target,
    columns: Sequence[ColumnRecord],
    rows: Sequence[Sequence[Any]],
    kinds: Sequence[str] | None = None,
) -> list[dict[int, Any]]:
    """Rows of values for ``columns`` (in order) checked against the target's columns;
    columns not given are NULL. Errors name the row (from 1) and the column."""
    kinds = kinds or ["any"] * len(columns)
    named = [
        {c.name: storable(c, v, k) for c, v, k in zip(columns, row, kinds, strict=True)}
        for row in rows
    ]
    return check_rows(target.layout.record.detail.columns, named)


def trace_lineage(
    node: exp.Expression,
    target: Target,
    read: dict[str, Source],
    resolver: CatalogResolver,
) -> SqlLineage | None:
    """:func:`trace_lineage_into` the table a statement writes."""
    return trace_lineage_into(node, target.full_name, list(target.source.columns), read, resolver)


def trace_lineage_into(
    node: exp.Expression,
    target: str,
    target_columns: list[str],
    read: dict[str, Source],
    resolver: CatalogResolver,
) -> SqlLineage | None:
    """The statement's table and column edges into ``target`` (a table written, or a view
    defined), computed before its write transaction (the tracing is CPU-bound: done under
    the writer lock, others would wait on it); None when it reads no table but its target.

    Only tables the statement was authorized to read become sources. When sqlglot cannot
    trace the columns, the table edges are still recorded.
    """
    sources = {name: s for name, s in read.items() if name != target}
    if not sources:
        return None
    columns = {name: list(s.columns) for name, s in read.items()}
    columns[target] = target_columns
    try:
        with statement_cpu():
            found = statement_lineage(
                node,
                columns,
                catalog=resolver.default_catalog,
                schema=resolver.default_schema,
            )
    except (SqlLineageError, SqlglotError, KeyError, ValueError, TypeError, RecursionError):
        found = SqlLineage(target, tuple(sorted(sources)), ())
    # Column names stay lower-cased, as every lineage recorder stores them.
    edges = tuple(
        ColumnLineage(c.source_table, c.source_column, c.target_column)
        for c in found.columns
        if c.source_table in sources
    )
    return SqlLineage(target, tuple(sorted(sources)), edges)


def record_lineage(
    session: Session,
    lineage: SqlLineage | None,
    resolver: CatalogResolver,
    statement_id: str | None,
) -> None:
    """Record edges of :func:`trace_lineage` in the write's ``session``."""
    if lineage is None:
        return
    stores = resolver.runtime.stores
    record_edges(session, sql_edges(stores.namespace(session), lineage, statement_id))
