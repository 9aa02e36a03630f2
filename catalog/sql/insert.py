"""``INSERT INTO t [(columns)] VALUES … | query`` on a managed table.

Needs MODIFY on ``t`` (with the usage gates) and SELECT on every table the query reads.
The rows are computed first (literals in Python, anything else by one read-only query
through the compiler), checked against the columns (a bad value fails the statement
naming row and column), then written in one transaction with the statement's lineage.
An INSERT adds rows: a row whose primary key exists already fails the statement, and
nothing is written (``MERGE INTO`` updates). Columns left out of the column list are
NULL. The result is Databricks': ``num_affected_rows``, ``num_inserted_rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from catalog.records import ColumnRecord
from catalog.runtime import Runtime
from catalog.sql.compiler import Budgets, ReadQuery
from catalog.sql.constants import NotConstant, constant
from catalog.sql.errors import position, refuse
from catalog.sql.select_runner import run_query
from catalog.sql.sources import CatalogResolver
from catalog.sql.writes import Target, check, record_lineage, resolve_target, trace_lineage
from common.errors import InvalidParameter, PayloadTooLarge

#: VALUES rows holding expressions are computed as one UNION ALL query: a chain this long
#: stays well inside the compiler's depth bound.
MAX_COMPUTED_ROWS = 100
RESULT_COLUMNS = [("num_affected_rows", "bigint"), ("num_inserted_rows", "bigint")]


def run_insert(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Insert, statement_id: str | None
) -> list[list[Any]]:
    table = node.this.this if isinstance(node.this, exp.Schema) else node.this
    target = resolve_target(resolver, table)
    columns = _columns(target, node)
    source = node.expression
    query: ReadQuery | None = None
    if isinstance(source, exp.Values):
        rows, kinds, query = _values(runtime, resolver, source, columns)
    else:
        query = ReadQuery.plan(source, resolver, Budgets.of(resolver.runtime.settings))
        limit = runtime.data.max_rows_per_write
        compiled, raw = run_query(runtime, query, limit)
        if len(compiled.columns) != len(columns):
            raise InvalidParameter(
                f"[INSERT_COLUMN_ARITY_MISMATCH] the query gives {len(compiled.columns)} "
                f"column(s) but {len(columns)} are written to {target.full_name} "
                f"({', '.join(c.name for c in columns)})"
            )
        if len(raw) > limit:
            raise PayloadTooLarge(
                f"INSERT … SELECT writes at most {limit} rows per statement "
                "(STEWARD_MAX_ROWS_PER_WRITE); the query gives more: split it (e.g. by a "
                "range of keys)"
            )
        rows, kinds = [list(r) for r in raw], compiled.kinds
    checked = check(target, columns, rows, kinds)
    lineage = trace_lineage(node, target, query.sources, resolver) if query is not None else None
    with runtime.db.transaction() as session:
        result = runtime.data.write_checked(session, target.layout, checked, merge=False)
        record_lineage(session, lineage, resolver, statement_id)
    return [[result.num_affected_rows, result.num_inserted_rows]]


def _columns(target: Target, node: exp.Insert) -> list[ColumnRecord]:
    if not isinstance(node.this, exp.Schema):
        return target.columns
    listed: list[ColumnRecord] = []
    for item in node.this.expressions:
        column = target.column(item.name, item)
        if column in listed:
            raise refuse(f"column '{column.name}' is listed twice", item)
        listed.append(column)
    return listed


def _values(
    runtime: Runtime, resolver: CatalogResolver, values: exp.Values, columns: Sequence[ColumnRecord]
) -> tuple[list[list[Any]], list[str] | None, ReadQuery | None]:
    """The VALUES rows: Python values when every one is a literal, else one query."""
    tuples = [
        list(row.expressions) if isinstance(row, exp.Tuple) else [row] for row in values.expressions
    ]
    for number, row in enumerate(tuples, start=1):
        if len(row) != len(columns):
            raise InvalidParameter(
                f"[INSERT_COLUMN_ARITY_MISMATCH] row {number} has {len(row)} value(s) but "
                f"{len(columns)} column(s) are written ({', '.join(c.name for c in columns)})"
                f"{position(values.expressions[number - 1])}"
            )
    runtime.data.check_write_size(len(tuples), "the INSERT")
    try:
        return [[constant(value) for value in row] for row in tuples], None, None
    except NotConstant:
        pass
    if len(tuples) > MAX_COMPUTED_ROWS:
        raise InvalidParameter(
            f"VALUES rows with expressions (not only literals) are limited to "
            f"{MAX_COMPUTED_ROWS} per statement; write literals, or INSERT … SELECT"
        )
    selects = [
        exp.select(*(exp.alias_(v.copy(), f"v{i}", quoted=True) for i, v in enumerate(row)))
        for row in tuples
    ]
    union: exp.Query = selects[0]
    for select in selects[1:]:
        union = exp.union(union, select, distinct=False)
    query = ReadQuery.plan(union, resolver, Budgets.of(resolver.runtime.settings))
    compiled, raw = run_query(runtime, query, MAX_COMPUTED_ROWS)
    return [list(r) for r in raw], compiled.kinds, query
