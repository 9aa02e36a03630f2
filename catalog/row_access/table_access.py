"""A table's row filter and column masks, bound for one caller.

Every path that reads a table's rows asks :meth:`RowAccessPolicies.for_caller` first. A
table with no filter and no mask answers None and is read as before. Otherwise the answer
is a :class:`RowAccess`: the filter and each mask as sqlglot expressions over the table's
*physical* columns (``"c0"``, ``"c1"`` …), with the function bodies inlined (parameters
replaced by the columns they are applied to, cast when the types differ) and the session
functions bound for the caller. Then

- SQL reads the table through a derived table whose projections are the masks and whose
  ``WHERE`` is the filter (:mod:`catalog.sql.table_sources`), so every predicate, join,
  grouping and ordering of the query sees masked values and only the rows the filter
  keeps, as on Databricks;
- the rows lookup API, training sets and serving select the same expressions
  (:meth:`RowAccess.column_sql`, :meth:`RowAccess.filter_sql`) in their own statements
  (:mod:`catalog.data.table_data`).

One set of trees for every path is what keeps them answering alike; the differential test
(tests/catalog/test_row_access_differential.py) checks both against a brute-force
evaluation in Python. Nobody is exempt (owners and metastore admins included): only the
function decides, through ``current_user()`` or group membership.

A filter or mask whose function no longer exists makes the table unreadable (fail closed),
with an error saying which function to restore or which filter to drop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.simplify import simplify

from catalog.data.physical import column_name
from catalog.records import ColumnRecord, PolicyFunctionRef, TableRecord
from catalog.row_access.function_store import FunctionDefinition, data_type
from catalog.sql.rewrite import fix_up
from catalog.sql.session_functions import SessionContext, bind_session_functions
from catalog.sql.system_sources import sqlglot_dialect
from common.errors import InvalidState, NotFound


@dataclass(frozen=True)
class RowAccess:
    """The filter and masks of one table for one caller, over its physical columns.

    Kept across statements (:class:`RowAccessPolicies`), so what each backend needs is
    worked out once: the fixed-up trees (handed out as copies, as callers graft them into
    their own trees) and the SQL the lookup paths select, which serving asks for on every
    invocation.
    """

    table: str
    #: Rows for which this is FALSE or NULL are not there for the caller.
    row_filter: exp.Expression | None = None
    #: Column position → the value the caller sees instead of the column's.
    masks: dict[int, exp.Expression] = field(default_factory=dict)
    #: (backend, column position or None for the filter) → fixed-up tree, and its SQL.
    _trees: dict[tuple[str, int | None], exp.Expression] = field(
        default_factory=dict, repr=False, compare=False
    )
    _sql: dict[tuple[str, int | None], str] = field(default_factory=dict, repr=False, compare=False)

    def projection(self, column: ColumnRecord, backend: str) -> exp.Expression:
        """What the caller reads for ``column``: its mask, or the physical column."""
        if column.position not in self.masks:
            return exp.column(column_name(column.position), quoted=True)
        return self._fixed(backend, column.position).copy()

    def condition(self, backend: str) -> exp.Expression | None:
        return None if self.row_filter is None else self._fixed(backend, None).copy()

    def filter_sql(self, backend: str) -> str | None:
        """The filter as SQL of ``backend``, over unqualified physical column names."""
        return None if self.row_filter is None else self._generated(backend, None)

    def column_sql(self, column: ColumnRecord, backend: str) -> str | None:
        """A masked column as SQL of ``backend``; None for a column read as stored."""
        if column.position not in self.masks:
            return None
        return self._generated(backend, column.position)

    def _fixed(self, backend: str, position: int | None) -> exp.Expression:
        """The filter (``position`` None) or a mask with the backend's fix-ups
        (:func:`catalog.sql.rewrite.fix_up`) applied; never handed out itself."""
        key = (backend, position)
        found = self._trees.get(key)
        if found is None:
            tree = self.row_filter if position is None else self.masks[position]
            assert tree is not None
            found = exp.Paren(this=tree.copy())
            fix_up(found, backend)
            self._trees[key] = found
        return found

    def _generated(self, backend: str, position: int | None) -> str:
        key = (backend, position)
        found = self._sql.get(key)
        if found is None:
            found = self._sql[key] = _generate(self._fixed(backend, position), backend)
        return found


def _generate(tree: exp.Expression, backend: str) -> str:
    return tree.sql(sqlglot_dialect(backend), identify=True, comments=False)


#: Bound policies kept per process (table × caller); cleared beyond this.
_MAX_BOUND = 4096


class RowAccessPolicies:
    """Binds tables' filters and masks for callers; ``functions`` finds a function by
    full name (NotFound when there is none).

    A binding is kept per (table, caller's name and groups) while ``generation`` (the
    namespace cache's: it moves whenever any table's filter or mask, or any function, is
    set, replaced or dropped, here or on another worker or replica) stays where it was
    when the binding was made; None turns the keeping off. Building one reads and parses
    the functions (a few ms); a kept one costs a dictionary lookup.
    """

    def __init__(
        self,
        functions: Callable[[str], FunctionDefinition],
        generation: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.functions = functions
        self.generation = generation
        self._bound: dict[tuple[str, SessionContext], tuple[int, RowAccess]] = {}

    def for_caller(self, table: TableRecord, session: SessionContext) -> RowAccess | None:
        detail = table.detail
        if detail.row_filter is None and not any(c.mask is not None for c in detail.columns):
            return None
        key = (table.securable.id, session)
        generation = self.generation()
        kept = self._bound.get(key)
        if kept is not None and generation is not None and kept[0] == generation:
            return kept[1]
        access = self._bind(table, session)
        if generation is not None and generation == self.generation():
            if len(self._bound) >= _MAX_BOUND:
                self._bound.clear()
            self._bound[key] = (generation, access)
        return access

    def _bind(self, table: TableRecord, session: SessionContext) -> RowAccess:
        detail = table.detail
        masked = [c for c in detail.columns if c.mask is not None]
        by_name = {c.name.lower(): c for c in detail.columns}
        full_name = table.securable.full_name
        row_filter = None
        if detail.row_filter is not None:
            function = self._function(full_name, "row filter", detail.row_filter)
            arguments = _columns(full_name, by_name, detail.row_filter.columns)
            row_filter = _simplified(bind_session_functions(inline(function, arguments), session))
        masks: dict[int, exp.Expression] = {}
        for column in masked:
            assert column.mask is not None
            function = self._function(full_name, f"mask of column '{column.name}'", column.mask)
            arguments = [column, *_columns(full_name, by_name, column.mask.columns)]
            value = inline(function, arguments)
            if data_type(function.body.return_type) != data_type(column.type_text):
                value = exp.cast(value, data_type(column.type_text))
            masks[column.position] = _simplified(bind_session_functions(value, session))
        return RowAccess(full_name, row_filter, masks)

    def _function(self, table: str, what: str, ref: PolicyFunctionRef) -> FunctionDefinition:
        try:
            return self.functions(ref.function_name)
        except NotFound:
            raise InvalidState(
                f"the {what} of TABLE '{table}' uses FUNCTION '{ref.function_name}', which no "
                "longer exists: create the function again or drop the filter or mask"
            ) from None


def _simplified(tree: exp.Expression) -> exp.Expression:
    """Constant-folded once the caller is known: ``CASE WHEN FALSE THEN ssn ELSE '***'
    END`` is ``'***'`` and ``region = 'US' OR FALSE`` is ``region = 'US'``, so the
    database does per row only what applies to this caller (and a predicate on a masked
    column can fold away). sqlglot's simplifier keeps SQL's NULL semantics; the
    differential test holds it to them."""
    try:
        return simplify(tree, dialect="databricks")
    except (SqlglotError, RecursionError, ValueError, TypeError):
        return tree


def _columns(
    table: str, by_name: dict[str, ColumnRecord], names: Sequence[str]
) -> list[ColumnRecord]:
    found = []
    for name in names:
        column = by_name.get(name.lower())
        if column is None:
            raise InvalidState(f"TABLE '{table}' has no column '{name}' for its filter or mask")
        found.append(column)
    return found


def inline(function: FunctionDefinition, arguments: Sequence[ColumnRecord]) -> exp.Expression:
    """The function's body with each parameter replaced by the physical column it is
    applied to (cast to the parameter's type when the column's differs)."""
    parameters = function.body.parameters
    if len(parameters) != len(arguments):
        raise InvalidState(
            f"FUNCTION '{function.full_name}' takes {len(parameters)} argument(s), but "
            f"{len(arguments)} column(s) are passed to it"
        )
    values: dict[str, exp.Expression] = {}
    for (name, type_text), column in zip(parameters, arguments, strict=True):
        value: exp.Expression = exp.column(column_name(column.position), quoted=True)
        if data_type(type_text) != data_type(column.type_text):
            value = exp.cast(value, data_type(type_text))
        values[name.lower()] = value
    body = function.tree.copy()
    for reference in list(body.find_all(exp.Column)):
        value = values[reference.name.lower()].copy()
        if reference is body:
            return exp.Paren(this=value)
        reference.replace(value)
    return exp.Paren(this=body)
