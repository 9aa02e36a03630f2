"""``UPDATE t SET col = expr, … [WHERE cond]`` and ``DELETE FROM t [WHERE cond]``.

Both need MODIFY on the table and SELECT on it (they read its rows to decide), with the
usage gates. They run as one read-only query through the compiler, then one write
transaction, like MERGE (:mod:`catalog.sql.merge`):

1. ``SELECT <key columns>, <new values> FROM t [AS a] WHERE cond`` is planned as the caller
   — allow-listed, resolved, authorized, and read through the table's row filter and
   masks for the caller (:mod:`catalog.row_access.table_access`). So a filtered user
   changes only rows it can see, and its WHERE and SET expressions see masked values, as
   on Databricks.
2. One transaction: the rows found are deleted, or only the assigned columns of them are
   set (never the others, so a masked column nobody assigned keeps its real value).

Refused, with the reason: a table without a primary key (rows are found again by key;
INSERT adds rows to such a table), a mask on a key column for the caller (its rows cannot
be found again by the masked value), assigning a key column, and — on UPDATE — a SET
expression that reads a column masked for the caller, which would store the masked value
over the real one. At most ``STEWARD_MAX_ROWS_PER_WRITE`` rows change per statement.
Result: ``num_affected_rows``, as Databricks answers.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from catalog.records import ColumnRecord
from catalog.runtime import Runtime
from catalog.sql.compiler import Budgets, ReadQuery
from catalog.sql.errors import refuse
from catalog.sql.select_runner import run_query
from catalog.sql.sources import CatalogResolver
from catalog.sql.writes import Target, resolve_target, storable
from common.errors import InvalidParameter, PayloadTooLarge
from common.values import check_rows

RESULT_COLUMNS = [("num_affected_rows", "bigint")]


def run_update_or_delete(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Update | exp.Delete
) -> list[list[Any]]:
    name = node.this.copy()
    name.set("alias", None)
    target = resolve_target(resolver, name)
    keys = target.layout.key_columns
    verb = "UPDATE" if isinstance(node, exp.Update) else "DELETE"
    if not keys:
        raise InvalidParameter(
            f"{verb} needs a table with a primary key; {target.full_name} has none "
            "(its rows are found again by key)"
        )
    access = target.source.access
    masked = set(access.masks) if access is not None else set()
    for column in keys:
        if column.position in masked:
            raise InvalidParameter(
                f"{verb} on {target.full_name} is not possible for you: its key column "
                f"'{column.name}' is masked for you, so its rows cannot be found again"
            )
    assigned = _assignments(node, target, masked) if isinstance(node, exp.Update) else {}
    alias = node.this.alias_or_name
    projections: list[exp.Expression] = [
        exp.alias_(exp.column(c.name.lower(), table=alias, quoted=True), f"__k{i}", quoted=True)
        for i, c in enumerate(keys)
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
    limit = runtime.data.max_rows_per_write
    compiled, raw = run_query(runtime, query, limit)
    if len(raw) > limit:
        raise PayloadTooLarge(
            f"{verb} changes at most {limit} rows per statement (STEWARD_MAX_ROWS_PER_WRITE); "
            "this one would change more: narrow its WHERE (e.g. by a range of keys)"
        )
    columns = [*keys, *(_column(target, p) for p in assigned)]
    named = [
        {c.name: storable(c, v, k) for c, v, k in zip(columns, row, compiled.kinds, strict=True)}
        for row in raw
    ]
    rows = check_rows(target.layout.record.detail.columns, named, partial=True)
    with runtime.db.transaction() as session:
        if verb == "DELETE":
            changed = runtime.data.delete_keys(session, target.layout, rows)
        else:
            changed = runtime.data.update_keys(session, target.layout, rows, list(assigned))
    return [[changed]]


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
