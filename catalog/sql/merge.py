"""``MERGE INTO t USING s ON … WHEN [NOT] MATCHED [AND …] THEN …`` on a managed table.

Databricks' MERGE: for each source row, the first WHEN MATCHED clause whose condition
holds (when a target row satisfies ON) or the first WHEN NOT MATCHED clause (when none
does) decides: ``UPDATE SET *`` / ``UPDATE SET col = expr, …``, ``DELETE``, ``INSERT *`` /
``INSERT (cols) VALUES (…)``. Needs MODIFY on the target (with the usage gates) and
SELECT on every table ``USING`` reads.

How it runs — one read-only query through the compiler, then one write transaction:

1. The planner builds, as a sqlglot tree around the user's own ON, conditions and
   expressions (never text), ``SELECT <clause>, <target key>, <new values per writing
   clause> FROM <using> LEFT JOIN <target> ON <on>``, keeping only source rows some clause
   applies to. ``<clause>`` is a CASE naming the first WHEN clause that applies; a target
   row is matched when its (NOT NULL) key is. The query is allow-listed, resolved and
   authorized like any SELECT (:mod:`catalog.sql.compiler`); the target reference needs
   MODIFY there instead of SELECT.
2. In Python: two source rows that would modify one target row fail the statement
   (Databricks' ``DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE``); new rows are
   checked against the columns (row and column named on a bad value); an UPDATE may not
   change a row's primary key.
3. One transaction: deletes, updates (by key), inserts (refused when the key exists, as
   INSERT is), the lineage edges and the audit event.

The target needs a primary key: it is how a matched row is found again to update or
delete it. Result: ``num_affected_rows, num_updated_rows, num_deleted_rows,
num_inserted_rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from catalog.records import ColumnRecord
from catalog.runtime import Runtime
from catalog.sql.compiler import Budgets, ReadQuery
from catalog.sql.errors import refuse
from catalog.sql.select_runner import run_query
from catalog.sql.sources import PRIVILEGE_META, CatalogResolver
from catalog.sql.writes import Target, record_lineage, resolve_target, storable, trace_lineage
from common.errors import InvalidParameter, PayloadTooLarge
from common.values import check_rows
from policy.securables import Privilege

RESULT_COLUMNS = [
    ("num_affected_rows", "bigint"),
    ("num_updated_rows", "bigint"),
    ("num_deleted_rows", "bigint"),
    ("num_inserted_rows", "bigint"),
]
_CLAUSE = "__clause"


@dataclass(frozen=True)
class _When:
    """One WHEN clause: its action, and per target column the expression it writes."""

    action: str  # UPDATE, DELETE or INSERT
    values: list[exp.Expression] | None


def run_merge(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Merge, statement_id: str | None
) -> list[list[Any]]:
    target_table = node.this.copy()
    target = resolve_target(resolver, target_table)
    if target.source.access is not None:
        # Matching would see only the caller's visible, masked rows, and a row it cannot
        # see could be overwritten as "not matched": refused until that is defined.
        raise InvalidParameter(
            f"MERGE INTO {target.full_name} is not supported: it has a row filter or column "
            "mask that applies to you (INSERT, and MERGE into other tables, are)"
        )
    keys = target.layout.key_columns
    if not keys:
        raise InvalidParameter(
            f"MERGE INTO needs a target with a primary key; {target.full_name} has none "
            "(INSERT INTO adds rows to it)"
        )
    if not target_table.alias:
        target_table.set("alias", exp.TableAlias(this=exp.to_identifier(target_table.name)))
    target_table.meta[PRIVILEGE_META] = Privilege.MODIFY
    using = node.args["using"].copy()
    if isinstance(using, exp.Subquery) and not using.alias:
        raise refuse("the USING subquery needs an alias: USING (SELECT …) AS s", using)
    target_alias, source_alias = target_table.alias_or_name, using.alias_or_name
    if target_alias.lower() == source_alias.lower():
        raise refuse(
            f"the target and the source are both called '{target_alias}': give one an alias",
            using,
        )
    whens = [_when(w, target, source_alias, target_alias) for w in node.args["whens"].expressions]

    def target_column(column: ColumnRecord) -> exp.Column:
        return exp.column(column.name.lower(), table=target_alias, quoted=True)

    matched = exp.Not(this=exp.Is(this=target_column(keys[0]), expression=exp.Null()))
    case = exp.Case()
    for index, tree in enumerate(node.args["whens"].expressions):
        applies = matched.copy() if tree.args.get("matched") else exp.Not(this=matched.copy())
        if tree.args.get("condition") is not None:
            applies = exp.and_(applies, exp.Paren(this=tree.args["condition"].copy()))
        case = case.when(applies, exp.Literal.number(index))
    projections: list[exp.Expression] = [exp.alias_(case, _CLAUSE, quoted=True)]
    projections += [
        exp.alias_(target_column(c), f"__key{i}", quoted=True) for i, c in enumerate(keys)
    ]
    for index, when in enumerate(whens):
        for column, value in zip(target.columns, when.values or [], strict=False):
            projections.append(exp.alias_(value, f"__w{index}_{column.position}", quoted=True))
    inner = (
        exp.select(*projections)
        .from_(using)
        .join(target_table, on=node.args["on"].copy(), join_type="left")
    )
    outer = (
        exp.select(exp.Star())
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("m"))))
        .where(
            exp.Not(
                this=exp.Is(this=exp.column(_CLAUSE, table="m", quoted=True), expression=exp.Null())
            )
        )
    )
    query = ReadQuery.plan(outer, resolver, Budgets.of(resolver.runtime.settings))
    limit = runtime.data.max_rows_per_write
    compiled, raw = run_query(runtime, query, limit)
    if len(raw) > limit:
        raise PayloadTooLarge(
            f"MERGE writes at most {limit} rows per statement (STEWARD_MAX_ROWS_PER_WRITE); "
            "the source gives more: split it"
        )
    deletes, updates, inserts = _split(target, whens, raw, compiled.kinds)
    lineage = trace_lineage(node, target, query.sources, resolver)
    with runtime.db.transaction() as session:
        deleted = runtime.data.delete_keys(session, target.layout, deletes)
        updated = runtime.data.write_checked(session, target.layout, updates, merge=True)
        inserted = runtime.data.write_checked(session, target.layout, inserts, merge=False)
        record_lineage(session, lineage, resolver, statement_id)
    n_updated, n_inserted = updated.num_affected_rows, inserted.num_inserted_rows
    return [[deleted + n_updated + n_inserted, n_updated, deleted, n_inserted]]


def _when(when: exp.When, target: Target, source_alias: str, target_alias: str) -> _When:
    then = when.args["then"]

    def source(column: ColumnRecord) -> exp.Expression:
        return exp.column(column.name.lower(), table=source_alias, quoted=True)

    if isinstance(then, exp.Var):  # DELETE
        return _When("DELETE", None)
    if isinstance(then, exp.Update):
        if isinstance(then.expressions[0], exp.Star):
            return _When("UPDATE", [source(c) for c in target.columns])
        assigned: dict[int, exp.Expression] = {}
        for item in then.expressions:
            column = target.column(item.this.name, item.this)
            if column.position in assigned:
                raise refuse(f"column '{column.name}' is set twice", item)
            assigned[column.position] = item.expression.copy()
        return _When(
            "UPDATE",
            [
                assigned.get(
                    c.position, exp.column(c.name.lower(), table=target_alias, quoted=True)
                )
                for c in target.columns
            ],
        )
    if isinstance(then.this, exp.Star):
        return _When("INSERT", [source(c) for c in target.columns])
    given: dict[int, exp.Expression] = {}
    for name, value in zip(then.this.expressions, then.expression.expressions, strict=True):
        column = target.column(name.name, name)
        if column.position in given:
            raise refuse(f"column '{column.name}' is listed twice", name)
        given[column.position] = value.copy()
    return _When("INSERT", [given.get(c.position, exp.Null()) for c in target.columns])


def _split(
    target: Target, whens: list[_When], raw: list[tuple[Any, ...]], kinds: list[str]
) -> tuple[list[dict[int, Any]], list[dict[int, Any]], list[dict[int, Any]]]:
    """(keys to delete, rows to update, rows to insert) from the planner's rows, checked.

    Rows are numbered as the planner returned them (source rows some clause applies to),
    from 1, in error messages."""
    keys = target.layout.key_columns
    width = len(target.columns)
    offsets: list[int] = []
    at = 1 + len(keys)
    for when in whens:
        offsets.append(at)
        at += len(when.values or [])
    touched: dict[tuple[Any, ...], int] = {}
    deletes: list[dict[int, Any]] = []
    updates: list[dict[int, Any]] = []
    inserts: list[dict[int, Any]] = []
    for number, row in enumerate(raw, start=1):
        index = int(row[0])
        when = whens[index]
        old: tuple[Any, ...] = ()
        if when.action in ("UPDATE", "DELETE"):
            key_row = _row(target, keys, row[1 : 1 + len(keys)], kinds[1 : 1 + len(keys)], number)
            old = tuple(key_row[c.position] for c in keys)
            if old in touched:
                raise InvalidParameter(
                    "[DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE] source rows "
                    f"{touched[old]} and {number} both match the target row with "
                    f"{_shown(keys, old)} and try to change it; make the ON condition match "
                    "each target row at most once (e.g. deduplicate the source)"
                )
            touched[old] = number
            if when.action == "DELETE":
                deletes.append(key_row)
                continue
        start = offsets[index]
        checked = _row(
            target,
            target.columns,
            row[start : start + width],
            kinds[start : start + width],
            number,
            complete=True,
        )
        if when.action == "UPDATE":
            new = tuple(checked[c.position] for c in keys)
            if new != old:
                raise InvalidParameter(
                    f"row {number}: MERGE cannot change a row's primary key (the UPDATE would "
                    f"change the row with {_shown(keys, old)} to {_shown(keys, new)})"
                )
            updates.append(checked)
        else:
            inserts.append(checked)
    _refuse_duplicate_inserts(keys, inserts)
    return deletes, updates, inserts


def _row(
    target: Target,
    columns: Sequence[ColumnRecord],
    values: Sequence[Any],
    kinds: Sequence[str],
    number: int,
    *,
    complete: bool = False,
) -> dict[int, Any]:
    named = {c.name: storable(c, v, k) for c, v, k in zip(columns, values, kinds, strict=True)}
    detail = target.layout.record.detail
    return check_rows(detail.columns, [named], partial=not complete, first_row=number)[0]


def _shown(keys: Sequence[ColumnRecord], values: Sequence[Any]) -> str:
    return ", ".join(f"{c.name}={v!s}" for c, v in zip(keys, values, strict=True))


def _refuse_duplicate_inserts(
    keys: Sequence[ColumnRecord], inserts: Sequence[dict[int, Any]]
) -> None:
    seen: set[tuple[Any, ...]] = set()
    for row in inserts:
        key = tuple(row[c.position] for c in keys)
        if key in seen:
            raise InvalidParameter(
                f"two source rows insert the same primary key ({_shown(keys, key)}); "
                "deduplicate the source"
            )
        seen.add(key)
