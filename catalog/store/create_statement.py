"""A create on PostgreSQL as one statement: the parent's lookup and every row the new
object needs (its securable, and a table's detail and columns).

Why: each statement on PostgreSQL is a round trip, and a create made four of them before
its audit event (the parent, the securable, the detail, the columns in a pipeline) —
about 0.1 ms of waiting and 45 µs of the driver's CPU each here, a sixth of a create's
time. Data-modifying CTEs run once each, in one snapshot, whether or not the final
SELECT reads them, and the foreign keys are checked at the end of the statement, so one
statement writes what the four did, with the same outcome:

- no such parent: the parent CTE is empty, so nothing is inserted and no row comes back;
- the parent dropped by a transaction that commits meanwhile: the securable's foreign key
  fails (a ``ForeignKeyViolation``), as the separate INSERT's did;
- the name taken: the unique constraint fails, as before.

SQLite has no data-modifying CTEs (and no round trips): it keeps the separate statements.
Every statement here is a SQLAlchemy construct compiled once per shape (how many columns
the table has), run on the driver (:class:`catalog.persistence.driver.DriverStatement`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table, bindparam, insert, select, union_all
from sqlalchemy.sql.expression import CTE, Select

from catalog.persistence import schema as t
from catalog.persistence.driver import DriverStatement

#: Tables with more columns than this take the separate statements: one statement's
#: parameters grow with the columns (14 each), and the shapes compiled stay few.
MAX_COLUMNS = 32

_SECURABLES: Table = t.Securable.__table__  # type: ignore[assignment]
_DETAILS: Table = t.TableDetail.__table__  # type: ignore[assignment]
_COLUMNS: Table = t.TableColumn.__table__  # type: ignore[assignment]

_statements: dict[tuple[bool, int], DriverStatement] = {}


def create_statement(with_detail: bool, columns: int) -> DriverStatement:
    """The statement for a create with (or without) a table's detail and ``columns``
    columns. Parameters: ``parent_name``, ``parent_type``, each securable column by its
    key (``parent_id`` aside), each detail column as ``detail_<key>`` and each table
    column of row ``i`` as ``column_<i>_<key>``. It answers the parent's id, or nothing
    when there is no such parent."""
    if columns > MAX_COLUMNS or (columns and not with_detail):
        raise ValueError(f"no one-statement create for {columns} columns")
    key = (with_detail, columns)
    found = _statements.get(key)
    if found is None:
        found = _statements[key] = DriverStatement(_build(with_detail, columns))
    return found


def _build(with_detail: bool, columns: int) -> Select[Any]:
    parent = (
        select(_SECURABLES.c.id)
        .where(
            _SECURABLES.c.full_name == bindparam("parent_name", type_=_SECURABLES.c.full_name.type),
            _SECURABLES.c.securable_type
            == bindparam("parent_type", type_=_SECURABLES.c.securable_type.type),
        )
        .cte("parent")
    )
    written: list[CTE] = []
    securable = _insert_from(
        _SECURABLES,
        select(
            *(
                parent.c.id.label("parent_id")
                if column.key == "parent_id"
                else _bound(column, column.key)
                for column in _SECURABLES.columns
            )
        ).select_from(parent),
        returning=True,
    ).cte("securable")
    written.append(securable)
    if with_detail:
        detail_values = select(
            *(
                securable.c.id.label(column.key)
                if column.key == "securable_id"
                else _bound(column, f"detail_{column.key}")
                for column in _DETAILS.columns
            )
        ).select_from(securable)
        written.append(_insert_from(_DETAILS, detail_values).cte("detail"))
    if columns:
        rows = [
            select(
                *(
                    securable.c.id.label(column.key)
                    if column.key == "table_id"
                    else _bound(column, f"column_{i}_{column.key}")
                    for column in _COLUMNS.columns
                )
            ).select_from(securable)
            for i in range(columns)
        ]
        written.append(
            _insert_from(_COLUMNS, rows[0] if columns == 1 else union_all(*rows)).cte("column_rows")
        )
    return select(parent.c.id).add_cte(*written)


def _bound(column: Column[Any], name: str) -> Any:
    """A parameter of ``column``'s type (PostgreSQL casts it, JSON is serialised by the
    type's own bind processor), named ``name``."""
    return bindparam(name, type_=column.type).label(column.key)


def _insert_from(table: Table, values: Any, returning: bool = False) -> Any:
    statement = insert(table).from_select([column.key for column in table.columns], values)
    return statement.returning(table.c.id) if returning else statement


def create_parameters(
    parent_name: str,
    parent_type: str,
    securable: dict[str, Any],
    detail: dict[str, Any] | None,
    columns: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The parameters of :func:`create_statement`'s statement, from the rows the separate
    statements take."""
    params: dict[str, Any] = {"parent_name": parent_name, "parent_type": parent_type}
    params.update((key, value) for key, value in securable.items() if key != "parent_id")
    if detail is not None:
        params.update(
            (f"detail_{key}", value) for key, value in detail.items() if key != "securable_id"
        )
    for i, row in enumerate(columns):
        params.update(
            (f"column_{i}_{key}", value) for key, value in row.items() if key != "table_id"
        )
    return params
