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

ABAC policies (:mod:`catalog.row_access.abac`) that reach the table and the caller add to
the table's own: every row filter applies (all must keep a row); a column gets at most one
mask, and two on one column is an error naming both.

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
from catalog.records import ColumnRecord, TableRecord
from catalog.row_access.abac import TablePolicies, applies_to, condition_holds
from catalog.row_access.function_store import FunctionDefinition, castable, data_type
from catalog.row_access.policy_store import COLUMN_MASK, PolicyRecord, UsingArgument
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
        policies: Callable[[TableRecord], TablePolicies | None] = lambda table: None,
    ) -> None:
        self.functions = functions
        self.generation = generation
        #: The ABAC policies that reach a table (:class:`catalog.row_access.abac.PolicyIndex`).
        self.policies = policies
        self._bound: dict[tuple[str, SessionContext], tuple[int, RowAccess | None]] = {}

    def for_caller(self, table: TableRecord, session: SessionContext) -> RowAccess | None:
        detail = table.detail
        reaching = self.policies(table)
        if (
            reaching is None
            and detail.row_filter is None
            and not any(c.mask is not None for c in detail.columns)
        ):
            return None
        key = (table.securable.id, session)
        generation = self.generation()
        kept = self._bound.get(key)
        if kept is not None and generation is not None and kept[0] == generation:
            return kept[1]
        access = self._bind(table, session, reaching)
        if generation is not None and generation == self.generation():
            if len(self._bound) >= _MAX_BOUND:
                self._bound.clear()
            self._bound[key] = (generation, access)
        return access

    def _bind(
        self, table: TableRecord, session: SessionContext, reaching: TablePolicies | None
    ) -> RowAccess | None:
        detail = table.detail
        by_name = {c.name.lower(): c for c in detail.columns}
        full_name = table.securable.full_name
        filters: list[exp.Expression] = []
        if detail.row_filter is not None:
            function = self._function(full_name, "row filter", detail.row_filter.function_name)
            filters.append(
                inline(function, _columns(full_name, by_name, detail.row_filter.columns))
            )
        masks: dict[int, exp.Expression] = {}
        #: Column position → what masks it, for the error when a second mask comes.
        masked_by: dict[int, str] = {}
        for column in detail.columns:
            if column.mask is None:
                continue
            what = f"mask of column '{column.name}'"
            function = self._function(full_name, what, column.mask.function_name)
            arguments = [column, *_columns(full_name, by_name, column.mask.columns)]
            masks[column.position] = _masked(function, arguments, column)
            masked_by[column.position] = f"the column mask FUNCTION '{function.full_name}'"
        for policy in reaching.policies if reaching is not None else ():
            if not applies_to(policy, session):
                continue
            matched = _matched_columns(policy, detail.columns, reaching)
            if matched is None:
                continue
            shown = f"POLICY '{policy.name}' ON {policy.on_type} '{policy.on_name}'"
            function = self._function(full_name, shown, policy.function_name)
            using = [_using_argument(policy, shown, u, matched) for u in policy.using]
            if policy.policy_type != COLUMN_MASK:
                filters.append(inline(function, using))
                continue
            assert policy.on_column is not None
            for column in matched[policy.on_column.lower()]:
                if not castable(function.body.return_type, column.type_text):
                    raise InvalidState(
                        f"{shown} masks column '{column.name}' of TABLE '{full_name}' "
                        f"({column.type_text}) with FUNCTION '{function.full_name}', which "
                        f"returns {function.body.return_type}: narrow its MATCH COLUMNS"
                    )
                if column.position in masked_by:
                    raise InvalidState(
                        f"column '{column.name}' of TABLE '{full_name}' has two masks: "
                        f"{masked_by[column.position]} and {shown}; drop one of them"
                    )
                masks[column.position] = _masked(function, [column, *using], column)
                masked_by[column.position] = shown
        if not filters and not masks:
            return None
        row_filter = None
        if filters:
            combined = filters[0] if len(filters) == 1 else exp.and_(*filters)
            row_filter = _simplified(bind_session_functions(combined, session))
        types = {c.position: c.type_text for c in detail.columns}
        bound = {
            p: _typed(_simplified(bind_session_functions(m, session)), types[p])
            for p, m in masks.items()
        }
        return RowAccess(full_name, row_filter, bound)

    def _function(self, table: str, what: str, function_name: str) -> FunctionDefinition:
        try:
            return self.functions(function_name)
        except NotFound:
            raise InvalidState(
                f"the {what} of TABLE '{table}' uses FUNCTION '{function_name}', which no "
                "longer exists: create the function again or drop the filter, mask or policy"
            ) from None


def _masked(
    function: FunctionDefinition,
    arguments: Sequence[ColumnRecord | exp.Expression],
    column: ColumnRecord,
) -> exp.Expression:
    value = inline(function, arguments)
    if data_type(function.body.return_type) != data_type(column.type_text):
        value = exp.cast(value, data_type(column.type_text))
    return value


def _matched_columns(
    policy: PolicyRecord, columns: Sequence[ColumnRecord], reaching: TablePolicies
) -> dict[str, list[ColumnRecord]] | None:
    """Each MATCH COLUMNS alias → the columns whose tags satisfy its condition; None when
    an alias matches none (the policy then does not apply to the table)."""
    matched: dict[str, list[ColumnRecord]] = {}
    for condition, alias in policy.match:
        found = [
            c
            for c in columns
            if condition_holds(condition, reaching.column_tags.get(c.name.lower(), frozenset()))
        ]
        if not found:
            return None
        matched[alias.lower()] = found
    return matched


def _using_argument(
    policy: PolicyRecord,
    shown: str,
    argument: UsingArgument,
    matched: dict[str, list[ColumnRecord]],
) -> ColumnRecord | exp.Expression:
    """A USING COLUMNS argument: a literal, or the one column its alias matched (several
    would make the function's input ambiguous: fail closed, saying so)."""
    if argument.is_literal:
        return _literal(argument.text)
    found = matched[argument.text.lower()]
    if len(found) > 1:
        names = ", ".join(c.name for c in found)
        raise InvalidState(
            f"{shown} passes alias '{argument.text}' to its function, but it matches several "
            f"columns ({names}); tag one column or narrow the MATCH COLUMNS condition"
        )
    return found[0]


def _literal(text: str) -> exp.Expression:
    return (
        exp.Literal.number(text)
        if not text.startswith("'")
        else exp.Literal.string(text[1:-1].replace("''", "'"))
    )


def _typed(tree: exp.Expression, type_text: str) -> exp.Expression:
    """A mask folded to a bare NULL, cast to its column's type: an untyped NULL in the
    derived table would be TEXT to PostgreSQL, and ``masked > 0`` then a type error."""
    if isinstance(tree.unnest(), exp.Null):
        return exp.cast(exp.null(), data_type(type_text))
    return tree


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


def inline(
    function: FunctionDefinition, arguments: Sequence[ColumnRecord | exp.Expression]
) -> exp.Expression:
    """The function's body with each parameter replaced by the physical column it is
    applied to (cast to the parameter's type when the column's differs), or by a literal
    (a policy's USING COLUMNS constant, cast to the parameter's type)."""
    parameters = function.body.parameters
    if len(parameters) != len(arguments):
        raise InvalidState(
            f"FUNCTION '{function.full_name}' takes {len(parameters)} argument(s), but "
            f"{len(arguments)} column(s) are passed to it"
        )
    values: dict[str, exp.Expression] = {}
    for (name, type_text), column in zip(parameters, arguments, strict=True):
        if isinstance(column, exp.Expression):
            values[name.lower()] = exp.cast(column.copy(), data_type(type_text))
            continue
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
