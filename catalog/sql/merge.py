"""``MERGE INTO t USING s ON … WHEN [NOT] MATCHED [AND …] THEN …`` on a managed table.

Databricks' MERGE: for each source row, the first WHEN MATCHED clause whose condition
holds (when a target row satisfies ON) or the first WHEN NOT MATCHED clause (when none
does) decides: ``UPDATE SET *`` / ``UPDATE SET col = expr, …``, ``DELETE``, ``INSERT *`` /
``INSERT (cols) VALUES (…)``. Needs MODIFY on the target (with the usage gates) and
SELECT on every table ``USING`` reads.

How it runs — one read-only query through the compiler, then one write transaction:

1. The planner builds, as a sqlglot tree around the user's own ON, conditions and
   expressions (never text), ``SELECT <clause>, <target row identity>, <target key>,
   <new values per writing clause> FROM <using> LEFT JOIN <target> ON <on>``, keeping
   only source rows some clause applies to. ``<clause>`` is a CASE naming the first WHEN
   clause that applies; a target row is matched when its row identity is not NULL. The
   query is allow-listed, resolved and authorized like any SELECT
   (:mod:`catalog.sql.compiler`); the target reference needs MODIFY there instead of
   SELECT, and is read through its row filter and masks for the caller, as on Databricks:
   a row the caller cannot see matches nothing, and conditions see masked values.
2. In Python: two source rows that would modify one target row fail the statement
   (Databricks' ``DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE``); new rows are
   checked against the columns (row and column named on a bad value); an UPDATE may not
   change a row's primary key.
3. One transaction, if nothing wrote the target since step 1 read it (else the statement
   starts again: :mod:`catalog.sql.row_changes`): deletes and updates by row identity —
   an UPDATE writes only the columns it assigns, so a masked column it does not assign
   keeps its real value — inserts (refused when the key exists, as INSERT is), the
   lineage edges and the audit event.

Refused before anything runs: an UPDATE that reads a target column masked for the caller
(it would store the masked value over the real one), and ``UPDATE SET *`` over a key
column masked for the caller. Result: ``num_affected_rows, num_updated_rows,
num_deleted_rows, num_inserted_rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from sqlglot import exp

from catalog.records import ColumnRecord
from catalog.runtime import Runtime
from catalog.sql.compiler import Budgets, ReadQuery
from catalog.sql.errors import refuse
from catalog.sql.row_changes import hidden_row_id, read_rows, retried, write_if_unchanged
from catalog.sql.sources import PRIVILEGE_META, CatalogResolver
from catalog.sql.writes import Target, record_lineage, resolve_target, storable, trace_lineage
from common.errors import InvalidParameter
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
    """One WHEN clause: its action, and the expression it writes per column position
    (every column for INSERT; only the assigned ones for UPDATE)."""

    action: str  # UPDATE, DELETE or INSERT
    values: dict[int, exp.Expression]


def run_merge(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Merge, statement_id: str | None
) -> list[list[Any]]:
    return retried("MERGE", lambda: _run_once(runtime, resolver, node, statement_id))


def _run_once(
    runtime: Runtime, resolver: CatalogResolver, node: exp.Merge, statement_id: str | None
) -> list[list[Any]]:
    target_table = node.this.copy()
    target = resolve_target(resolver, target_table)
    keys = target.layout.key_columns
    row_id = hidden_row_id(target, node)
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
    access = target.source.access
    masked = set(access.masks) if access is not None else set()
    whens = [
        _when(w, target, source_alias, target_alias, masked) for w in node.args["whens"].expressions
    ]

    def target_column(name: str) -> exp.Column:
        return exp.column(name, table=target_alias, quoted=True)

    matched = exp.Not(this=exp.Is(this=target_column(row_id), expression=exp.Null()))
    case = exp.Case()
    for index, tree in enumerate(node.args["whens"].expressions):
        applies = matched.copy() if tree.args.get("matched") else exp.Not(this=matched.copy())
        if tree.args.get("condition") is not None:
            applies = exp.and_(applies, exp.Paren(this=tree.args["condition"].copy()))
        case = case.when(applies, exp.Literal.number(index))
    projections: list[exp.Expression] = [
        exp.alias_(case, _CLAUSE, quoted=True),
        exp.alias_(target_column(row_id), "__r", quoted=True),
    ]
    projections += [
        exp.alias_(target_column(c.name.lower()), f"__key{i}", quoted=True)
        for i, c in enumerate(keys)
    ]
    for index, when in enumerate(whens):
        for position, value in when.values.items():
            projections.append(exp.alias_(value, f"__w{index}_{position}", quoted=True))
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
    found = read_rows(runtime, query, target, row_id, "MERGE")
    changes = _split(target, whens, found.rows, found.compiled.kinds, masked)
    lineage = trace_lineage(node, target, query.sources, resolver)
    layout = target.layout

    def write(session: Session) -> list[list[Any]]:
        deleted = runtime.data.delete_rows(session, layout, changes.deletes)
        updated = sum(
            runtime.data.update_rows(session, layout, rows, positions)
            for positions, rows in changes.updates.items()
        )
        inserted = runtime.data.write_checked(session, layout, changes.inserts, merge=False)
        record_lineage(session, lineage, resolver, statement_id)
        n_inserted = inserted.num_inserted_rows
        return [[deleted + updated + n_inserted, updated, deleted, n_inserted]]

    return write_if_unchanged(runtime, target, found.version, write)


def _when(
    when: exp.When, target: Target, source_alias: str, target_alias: str, masked: set[int]
) -> _When:
    then = when.args["then"]
    keys = {c.position for c in target.layout.key_columns}

    def source(column: ColumnRecord) -> exp.Expression:
        return exp.column(column.name.lower(), table=source_alias, quoted=True)

    if isinstance(then, exp.Var):  # DELETE
        return _When("DELETE", {})
    if isinstance(then, exp.Update):
        if isinstance(then.expressions[0], exp.Star):
            for column in target.columns:
                _refuse_masked_key(column, keys, masked, then, "UPDATE SET *")
            return _When("UPDATE", {c.position: source(c) for c in target.columns})
        by_name = {c.name.lower(): c for c in target.columns}
        assigned: dict[int, exp.Expression] = {}
        for item in then.expressions:
            column = target.column(item.this.name, item.this)
            if column.position in assigned:
                raise refuse(f"column '{column.name}' is set twice", item)
            _refuse_masked_key(column, keys, masked, item, "UPDATE SET")
            for reference in item.expression.find_all(exp.Column):
                read = by_name.get(reference.name.lower())
                if (
                    read is not None
                    and read.position in masked
                    and reference.table.lower() in ("", target_alias.lower())
                ):
                    raise refuse(
                        f"SET {column.name} = … reads the target's column '{read.name}', which "
                        "is masked for you: the masked value would be stored over the real one",
                        reference,
                    )
            assigned[column.position] = item.expression.copy()
        return _When("UPDATE", assigned)
    if isinstance(then.this, exp.Star):
        return _When("INSERT", {c.position: source(c) for c in target.columns})
    given: dict[int, exp.Expression] = {}
    for name, value in zip(then.this.expressions, then.expression.expressions, strict=True):
        column = target.column(name.name, name)
        if column.position in given:
            raise refuse(f"column '{column.name}' is listed twice", name)
        given[column.position] = value.copy()
    return _When("INSERT", {c.position: given.get(c.position, exp.Null()) for c in target.columns})


def _refuse_masked_key(
    column: ColumnRecord, keys: set[int], masked: set[int], node: exp.Expression, what: str
) -> None:
    """A key column masked for the caller cannot be assigned: whether the UPDATE changes
    the key (which MERGE refuses) could only be judged against the real value."""
    if column.position in keys and column.position in masked:
        raise refuse(
            f"{what} writes the key column '{column.name}', which is masked for you: set "
            "the other columns by name instead",
            node,
        )


@dataclass
class _Changes:
    #: Row identities of the target rows to delete.
    deletes: list[Any] = field(default_factory=list)
    #: Assigned column positions → (row identity, {position: value}) of rows to update.
    updates: dict[tuple[int, ...], list[tuple[Any, dict[int, Any]]]] = field(default_factory=dict)
    #: Complete new rows.
    inserts: list[dict[int, Any]] = field(default_factory=list)


def _split(
    target: Target,
    whens: list[_When],
    raw: list[tuple[Any, ...]],
    kinds: list[str],
    masked: set[int],
) -> _Changes:
    """The planner's rows as deletes, updates and inserts, checked.

    Rows are numbered as the planner returned them (source rows some clause applies to),
    from 1, in error messages. A target's key is read (to refuse an UPDATE changing it,
    and to name a row in errors) unless a key column is masked for the caller, who then
    cannot assign it (:func:`_refuse_masked_key`)."""
    keys = target.layout.key_columns
    shown_keys = bool(keys) and not any(c.position in masked for c in keys)
    by_position = {c.position: c for c in target.columns}
    offsets: list[int] = []
    at = 2 + len(keys)
    for when in whens:
        offsets.append(at)
        at += len(when.values)
    touched: dict[Any, int] = {}
    changes = _Changes()
    for number, row in enumerate(raw, start=1):
        index = int(row[0])
        when = whens[index]
        old: tuple[Any, ...] = ()
        if when.action in ("UPDATE", "DELETE"):
            row_id = row[1]
            if shown_keys:
                width = len(keys)
                key_row = _row(target, keys, row[2 : 2 + width], kinds[2 : 2 + width], number)
                old = tuple(key_row[c.position] for c in keys)
            if row_id in touched:
                which = f"the target row with {_shown(keys, old)}" if old else "one target row"
                raise InvalidParameter(
                    "[DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE] source rows "
                    f"{touched[row_id]} and {number} both match {which} and try to change it; "
                    "make the ON condition match each target row at most once (e.g. "
                    "deduplicate the source)"
                )
            touched[row_id] = number
            if when.action == "DELETE":
                changes.deletes.append(row_id)
                continue
        start = offsets[index]
        positions = tuple(when.values)
        checked = _row(
            target,
            [by_position[p] for p in positions],
            row[start : start + len(positions)],
            kinds[start : start + len(positions)],
            number,
            complete=when.action == "INSERT",
        )
        if when.action == "UPDATE":
            new = tuple(checked.get(c.position, o) for c, o in zip(keys, old, strict=False))
            if old and new != old:
                raise InvalidParameter(
                    f"row {number}: MERGE cannot change a row's primary key (the UPDATE would "
                    f"change the row with {_shown(keys, old)} to {_shown(keys, new)})"
                )
            changes.updates.setdefault(positions, []).append((row[1], checked))
        else:
            changes.inserts.append(checked)
    _refuse_duplicate_inserts(keys, changes.inserts)
    return changes


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
    if not keys:
        return  # equal rows are two rows
    seen: set[tuple[Any, ...]] = set()
    for row in inserts:
        key = tuple(row[c.position] for c in keys)
        if key in seen:
            raise InvalidParameter(
                f"two source rows insert the same primary key ({_shown(keys, key)}); "
                "deduplicate the source"
            )
        seen.add(key)
