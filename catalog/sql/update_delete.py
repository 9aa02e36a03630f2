"""``UPDATE t SET col = expr, … [WHERE cond]`` and ``DELETE FROM t [WHERE cond]``.

Both need MODIFY on the table and SELECT on it (they read its rows to decide), with the
usage gates. ``SELECT <row identity>, <new values> FROM t [AS a] WHERE cond`` is planned
as the caller — allow-listed, resolved, authorized, and read through the table's row
filter and masks for the caller (:mod:`catalog.row_access.table_access`). So a filtered
user changes only rows it can see, and its WHERE and SET expressions see masked values, as
on Databricks. Then the rows found are deleted, or only the assigned columns of them are
set (never the others, so a masked column nobody assigned keeps its real value), by row
identity and only if nothing wrote the table meanwhile (:mod:`catalog.sql.row_changes`).

Refused, with the reason: assigning a primary key column, and a SET expression that
reads a column masked for the caller, which would store the masked value over the real
one. At most ``STEWARD_MAX_ROWS_PER_WRITE`` rows change per statement. Result:
``num_affected_rows``, as Databricks answers.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from catalog.records import ColumnRecord
from catalog.runtime import Runtime
from catalog.sql.compiler import Budgets, ReadQuery
from catalog.sql.errors import refuse
from catalog.sql.row_changes import hidden_row_id, read_rows, retried, write_if_unchanged
from catalog.sql.sources import CatalogResolver
from catalog.sql.writes import Target, resolve_target, storable
from common.values import check_rows

RESULT_COLUMNS = [("num_affected_rows", "bigint")]


def run_update_or_delete(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Update | exp.Delete
) -> list[list[Any]]:
    verb = "UPDATE" if isinstance(node, exp.Update) else "DELETE"
    return [[retried(verb, lambda: _run_once(runtime, resolver, node, verb))]]


def _run_once(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Update | exp.Delete, verb: str
) -> int:
    name = node.this.copy()
    name.set("alias", None)
    target = resolve_target(resolver, name)
    access = target.source.access
    masked = set(access.masks) if access is not None else set()
    assigned = _assignments(node, target, masked) if isinstance(node, exp.Update) else {}
    row_id = hidden_row_id(target, node)
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
    found = read_rows(runtime, query, target, row_id, verb)
    layout = target.layout
    if verb == "DELETE":
        row_ids = [row[0] for row in found.rows]
        return write_if_unchanged(
            runtime, target, found.version, lambda s: runtime.data.delete_rows(s, layout, row_ids)
        )
    columns = [_column(target, p) for p in assigned]
    kinds = found.compiled.kinds[1:]
    named = [
        {c.name: storable(c, v, k) for c, v, k in zip(columns, row[1:], kinds, strict=True)}
        for row in found.rows
    ]
    checked = check_rows(layout.record.detail.columns, named, partial=True)
    pairs = [(row[0], values) for row, values in zip(found.rows, checked, strict=True)]
    positions = list(assigned)
    return write_if_unchanged(
        runtime,
        target,
        found.version,
        lambda s: runtime.data.update_rows(s, layout, pairs, positions),
    )


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
