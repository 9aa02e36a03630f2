"""``UPDATE t SET col = expr, … [WHERE cond]`` and ``DELETE FROM t [WHERE cond]``.

Both need MODIFY on the table and SELECT on it (they read its rows to decide), with the
usage gates. They run as one read-only query through the compiler, then one write
transaction, like MERGE (:mod:`catalog.sql.merge`):

1. ``SELECT <row identity>, <new values> FROM t [AS a] WHERE cond`` is planned as the
   caller — allow-listed, resolved, authorized, and read through the table's row filter
   and masks for the caller (:mod:`catalog.row_access.table_access`). So a filtered user
   changes only rows it can see, and its WHERE and SET expressions see masked values, as
   on Databricks. The row identity is the database's own (``rowid``, ``ctid``:
   :data:`catalog.data.physical.ROW_IDENTITY`), read under a hidden column name, so
   tables without a primary key are changed like any other and two equal rows stay two.
2. One transaction holds the table against other writers and checks that its data
   version is the one the query read at; then the rows found are deleted, or only the
   assigned columns of them are set (never the others, so a masked column nobody
   assigned keeps its real value). A write that came in between makes the statement
   start again (a few times, then 409): no row identity is used after its row moved, and
   no concurrent write is overwritten by values computed before it.

Refused, with the reason: assigning a primary key column, and a SET expression that
reads a column masked for the caller, which would store the masked value over the real
one. At most ``STEWARD_MAX_ROWS_PER_WRITE`` rows change per statement. Result:
``num_affected_rows``, as Databricks answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session
from sqlglot import exp

from catalog.records import ColumnRecord
from catalog.runtime import Runtime
from catalog.sql.compiler import Budgets, ReadQuery
from catalog.sql.errors import refuse
from catalog.sql.readonly import physical_schema, run_readonly_with_version
from catalog.sql.sources import CatalogResolver
from catalog.sql.table_sources import GovernedSource
from catalog.sql.writes import Target, resolve_target, storable
from common.errors import InvalidState, PayloadTooLarge
from common.values import check_rows

RESULT_COLUMNS = [("num_affected_rows", "bigint")]


#: How often a statement starts again when a write came in between its read and its write.
ATTEMPTS = 5
#: The hidden column the row identity is read under (a name no table uses is picked).
ROW_ID = "__steward_row_id"


class _TableChanged(Exception):
    """Another write committed between the statement's read and its write."""


def run_update_or_delete(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Update | exp.Delete
) -> list[list[Any]]:
    verb = "UPDATE" if isinstance(node, exp.Update) else "DELETE"
    for _attempt in range(ATTEMPTS):
        try:
            return [[_run_once(runtime, resolver, node, verb)]]
        except _TableChanged:
            continue
    raise InvalidState(
        f"{verb} did not run: the table kept changing while it ran ({ATTEMPTS} tries); run it again"
    )


def _run_once(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Update | exp.Delete, verb: str
) -> int:
    name = node.this.copy()
    name.set("alias", None)
    target = resolve_target(resolver, name)
    access = target.source.access
    masked = set(access.masks) if access is not None else set()
    assigned = _assignments(node, target, masked) if isinstance(node, exp.Update) else {}
    row_id = _hidden_name(target)
    for reference in node.find_all(exp.Column):
        if reference.name.lower() == row_id:
            raise refuse(f"cannot resolve column '{reference.name}'", reference)
    alias = node.this.alias_or_name
    projections: list[exp.Expression] = [
        exp.alias_(exp.column(row_id, table=alias, quoted=True), "__r", quoted=True)
    ]
    projections += [
        exp.alias_(value.copy(), f"__v{position}", quoted=True)
        for position, value in assigned.items()
    ]
    query_tree = exp.select(*projections).from_(node.this.copy())
    where = node.args.get("where")
    if where is not None:
        query_tree.set("where", where.copy())
    query = ReadQuery.plan(query_tree, resolver, Budgets.of(runtime.settings))
    key = target.full_name
    read = query.sources[key]
    assert isinstance(read, GovernedSource)  # resolve_target found a managed table by it
    query.sources[key] = replace(read, row_identity=row_id)
    limit = runtime.data.max_rows_per_write
    db = runtime.db
    compiled = query.compile(db.backend, physical_schema(db), limit)
    layout = target.layout
    table_id = layout.record.securable.id
    raw, read_at = run_readonly_with_version(db, compiled.sql, compiled.tables, table_id)
    if len(raw) > limit:
        raise PayloadTooLarge(
            f"{verb} changes at most {limit} rows per statement (STEWARD_MAX_ROWS_PER_WRITE); "
            "this one would change more: narrow its WHERE"
        )
    if verb == "DELETE":
        row_ids = [row[0] for row in raw]
        return _write(
            runtime, target, read_at, lambda s: runtime.data.delete_rows(s, layout, row_ids)
        )
    columns = [_column(target, p) for p in assigned]
    kinds = compiled.kinds[1:]
    named = [
        {c.name: storable(c, v, k) for c, v, k in zip(columns, row[1:], kinds, strict=True)}
        for row in raw
    ]
    checked = check_rows(layout.record.detail.columns, named, partial=True)
    pairs = [(row[0], values) for row, values in zip(raw, checked, strict=True)]
    positions = list(assigned)
    return _write(
        runtime, target, read_at, lambda s: runtime.data.update_rows(s, layout, pairs, positions)
    )


def _write(runtime: Runtime, target: Target, read_at: int, change: Callable[[Session], int]) -> int:
    """``change`` in one transaction that holds the table, if nothing wrote it since the
    statement read it at version ``read_at``; else the statement starts again."""
    with runtime.db.transaction() as session:
        if runtime.data.hold_against_writers(session, target.layout) != read_at:
            raise _TableChanged
        return change(session)


def _hidden_name(target: Target) -> str:
    taken = {c.name.lower() for c in target.columns}
    name = ROW_ID
    while name in taken:
        name += "_"
    return name


def _column(target: Target, position: int) -> ColumnRecord:
    return next(c for c in target.columns if c.position == position)


def _assignments(node: exp.Update, target: Target, masked: set[int]) -> dict[int, exp.Expression]:
    """Column position → the expression assigned to it, checked."""
    by_name = {c.name.lower(): c for c in target.columns}
    key_positions = {c.position for c in target.layout.key_columns}
    assigned: dict[int, exp.Expression] = {}
    for item in node.expressions:
        column = target.column(item.this.name, item.this)
        if column.position in assigned:
            raise refuse(f"column '{column.name}' is set twice", item)
        if column.position in key_positions:
            raise refuse(
                f"UPDATE cannot change the primary key column '{column.name}' (delete the row "
                "and insert it again)",
                item,
            )
        for reference in item.expression.find_all(exp.Column):
            read = by_name.get(reference.name.lower())
            if read is not None and read.position in masked:
                raise refuse(
                    f"SET {column.name} = … reads column '{read.name}', which is masked for "
                    "you: the masked value would be stored over the real one",
                    reference,
                )
        assigned[column.position] = item.expression
    return assigned
