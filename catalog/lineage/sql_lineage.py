"""Table and column lineage of a SQL write statement, computed with sqlglot.

``INSERT INTO t [(cols)] SELECT …``, ``INSERT OVERWRITE``, ``CREATE [OR REPLACE]
TABLE|VIEW t AS SELECT …`` and ``MERGE INTO t USING … WHEN … THEN UPDATE|INSERT``
all say "the target is written from these reads". The query is qualified against
the catalog's column lists (``sqlglot.optimizer.qualify``: names resolved, ``*``
expanded, CTEs and subqueries seen through) and each written column is traced to
the base-table columns it is computed from (``sqlglot.lineage``). Table edges are
every table the statement reads (joins and filters included), column edges only
what flows into a written column. Edges from the target to itself are dropped
(``UPDATE SET v = t.v + s.v`` does not make ``t`` its own upstream).

This is a pure function: the statement executor (and only it) decides when a
statement ran and records the result with :func:`catalog.lineage.edge_writer.record_edges`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope, traverse_scope

DIALECT = "databricks"
_ALIAS = "_steward_col_"
#: A table's columns: names in order, or names with their SQL types.
Columns = Mapping[str, Sequence[str] | Mapping[str, str]]


class SqlLineageError(ValueError):
    """The statement is not a write-from-read statement whose lineage can be computed."""


@dataclass(frozen=True, order=True)
class ColumnLineage:
    source_table: str
    source_column: str
    target_column: str


@dataclass(frozen=True)
class SqlLineage:
    target: str
    #: Full names of every table the statement reads, sorted.
    sources: tuple[str, ...]
    columns: tuple[ColumnLineage, ...]


def statement_lineage(
    statement: exp.Expression | str,
    columns: Columns,
    *,
    catalog: str | None = None,
    schema: str | None = None,
    dialect: str = DIALECT,
) -> SqlLineage:
    """The lineage of one write statement.

    ``columns`` maps table full names (``catalog.schema.table``) to their columns;
    ``catalog`` and ``schema`` qualify partial names as the statement's defaults do.
    A table missing from ``columns`` still yields its table edge; only the columns
    that cannot be traced through it (``SELECT *`` over it, say) are left out.
    """
    node = sqlglot.parse_one(statement, read=dialect) if isinstance(statement, str) else statement
    node = node.copy()
    tables = _schema(columns)
    defaults = {"catalog": catalog, "db": schema}
    if isinstance(node, exp.Insert):
        target, listed = _insert_target(node)
        query = node.expression
        if not isinstance(query, exp.Query):  # INSERT … VALUES reads nothing
            return SqlLineage(_full_name(target, defaults), (), ())
        if node.args.get("with_") is not None and query.args.get("with_") is None:
            query.set("with_", node.args["with_"])
        by_name = node.args.get("by_name")
        writes = listed or (None if by_name else _known(columns, _full_name(target, defaults)))
        return _from_query(target, query, writes, tables, defaults, dialect)
    if isinstance(node, exp.Create) and isinstance(node.expression, exp.Query):
        if str(node.args.get("kind", "")).upper() not in ("TABLE", "VIEW"):
            raise SqlLineageError(f"CREATE {node.args.get('kind')} … AS is not a table write")
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        listed = _schema_columns(node.this) if isinstance(node.this, exp.Schema) else None
        return _from_query(target, node.expression, listed, tables, defaults, dialect)
    if isinstance(node, exp.Merge):
        return _from_merge(node, columns, tables, defaults, dialect)
    raise SqlLineageError(
        f"{node.key.upper()} does not write from a query: lineage is computed for "
        "INSERT … SELECT, CREATE TABLE … AS SELECT and MERGE INTO … USING"
    )


# -- INSERT and CTAS --------------------------------------------------------------------


def _insert_target(node: exp.Insert) -> tuple[exp.Table, list[str] | None]:
    this = node.this
    if isinstance(this, exp.Schema):
        return this.this, _schema_columns(this)
    if not isinstance(this, exp.Table):
        raise SqlLineageError("INSERT must name a table (INSERT INTO DIRECTORY is not tracked)")
    return this, None


def _schema_columns(node: exp.Schema) -> list[str] | None:
    names = [e.name.lower() for e in node.expressions if isinstance(e, exp.Identifier | exp.Column)]
    names += [e.name.lower() for e in node.expressions if isinstance(e, exp.ColumnDef)]
    return names or None


def _from_query(
    target: exp.Table,
    query: exp.Query,
    writes: Sequence[str] | None,
    tables: dict,
    defaults: dict[str, str | None],
    dialect: str,
) -> SqlLineage:
    """Written columns by position: ``writes`` (the listed or catalog columns) or the
    query's own output names (CTAS, unknown targets)."""
    target_name = _full_name(target, defaults)
    qualified, traced = _qualify_and_trace(query, None, tables, defaults, dialect)
    names = list(writes) if writes else [s.alias_or_name.lower() for s in qualified.selects]
    edges = {
        ColumnLineage(table, column, names[i])
        for i, sources in traced.items()
        if i < len(names)
        for table, column in sources
        if table != target_name
    }
    return SqlLineage(target_name, _sources(qualified, target_name), tuple(sorted(edges)))


# -- MERGE ------------------------------------------------------------------------------


def _from_merge(
    node: exp.Merge,
    columns: Columns,
    tables: dict,
    defaults: dict[str, str | None],
    dialect: str,
) -> SqlLineage:
    """MERGE as one query: each assigned expression selected from ``USING`` joined to the
    target on the merge condition, so sqlglot resolves both sides' names as MERGE does."""
    target = node.this
    if not isinstance(target, exp.Table):
        raise SqlLineageError("MERGE INTO must name a table")
    target_name = _full_name(target, defaults)
    using = node.args.get("using")
    if not isinstance(using, exp.Table | exp.Subquery):
        raise SqlLineageError("MERGE … USING must be a table or a subquery")
    source_alias = using.alias_or_name
    # ``UPDATE SET *`` / ``INSERT *`` copy the columns both sides have.
    shared = _known(columns, target_name) or []
    from_using = _output_names(using, columns, tables, defaults, dialect)
    if from_using is not None:
        shared = [c for c in shared if c in from_using]
    assignments: list[tuple[str, exp.Expression]] = []
    whens = node.args.get("whens")
    for when in whens.expressions if whens is not None else []:
        action = when.args.get("then")
        assignments.extend(_assignments(action, source_alias, shared))
    selects = [expr.copy() for _, expr in assignments] or [exp.Literal.number(1)]
    query = exp.select(*selects).from_(using.copy())
    query = query.join(target.copy(), on=node.args.get("on"), join_type="left")
    qualified, traced = _qualify_and_trace(query, len(assignments), tables, defaults, dialect)
    edges = {
        ColumnLineage(table, column, assignments[i][0])
        for i, sources in traced.items()
        for table, column in sources
        if table != target_name
    }
    return SqlLineage(target_name, _sources(qualified, target_name), tuple(sorted(edges)))


def _output_names(
    using: exp.Table | exp.Subquery,
    columns: Columns,
    tables: dict,
    defaults: dict[str, str | None],
    dialect: str,
) -> set[str] | None:
    """The columns ``USING`` provides, when they can be known."""
    if isinstance(using, exp.Table):
        known = _known(columns, _full_name(using, defaults))
        return set(known) if known is not None else None
    try:
        inner = _qualify(using.this.copy(), tables, defaults, dialect)
    except SqlLineageError:
        return None
    names = {s.alias_or_name.lower() for s in inner.selects}
    return None if "*" in names else names


def _assignments(
    action: exp.Expression | None, source_alias: str, target_columns: Sequence[str]
) -> list[tuple[str, exp.Expression]]:
    """(written column, expression) of one WHEN branch; ``*`` copies same-named columns."""

    def from_source(name: str) -> exp.Expression:
        return exp.column(name, table=source_alias)

    if isinstance(action, exp.Update):
        out = []
        for item in action.expressions:
            if isinstance(item, exp.Star):
                out.extend((c, from_source(c)) for c in target_columns)
            elif isinstance(item, exp.EQ):
                out.append((item.this.name.lower(), item.expression))
        return out
    if isinstance(action, exp.Insert):
        if isinstance(action.this, exp.Star):
            return [(c, from_source(c)) for c in target_columns]
        names = [c.name.lower() for c in action.this.expressions] if action.this else []
        values = action.expression.expressions if action.expression is not None else []
        return list(zip(names, values, strict=False))
    return []  # DELETE, or nothing to do


# -- shared -----------------------------------------------------------------------------


def _qualify(
    query: exp.Expression,
    tables: dict,
    defaults: dict[str, str | None],
    dialect: str,
    columns: bool = True,
) -> exp.Query:
    try:
        qualified = qualify(
            query,
            schema=tables,
            dialect=dialect,
            qualify_columns=columns,
            validate_qualify_columns=False,
            identify=False,
            **{k: v for k, v in defaults.items() if v},
        )
    except SqlglotError as exc:
        raise SqlLineageError(f"cannot resolve the statement's names: {exc}") from exc
    assert isinstance(qualified, exp.Query)
    return qualified


def _qualify_and_trace(
    query: exp.Expression,
    count: int | None,
    tables: dict,
    defaults: dict[str, str | None],
    dialect: str,
) -> tuple[exp.Query, dict[int, set[tuple[str, str]]]]:
    """The qualified query and its traced outputs (the first ``count``, default all); when
    its columns cannot be resolved (a table whose columns are unknown can make a name
    ambiguous), its tables alone."""
    try:
        qualified = _qualify(query.copy(), tables, defaults, dialect)
    except SqlLineageError:
        return _qualify(query, tables, defaults, dialect, columns=False), {}
    count = len(qualified.selects) if count is None else count
    return qualified, _trace(qualified.copy(), count, tables, dialect)


def _trace(
    query: exp.Query, count: int, tables: dict, dialect: str
) -> dict[int, set[tuple[str, str]]]:
    """For each output position, the (table, column) pairs of base tables it reads.

    All outputs are traced in one walk that shares its work between them, without
    trimming each step's select to one column (that copies the select: a walk per output
    made a 256-column INSERT … SELECT cost seconds). An output that cannot be traced (a
    ``*`` over a table whose columns are unknown) is traced on its own and left out."""
    _alias_outputs(query)
    scope = build_scope(query)
    traced = _lineage_of(None, query, tables, dialect, scope)
    if traced is None:  # one output defeats the shared walk: trace each on its own
        traced = {}
        for i in range(count):
            node = _lineage_of(f"{_ALIAS}{i}", query, tables, dialect, scope)
            if node is not None:
                traced.update(node)
    out: dict[int, set[tuple[str, str]]] = {}
    for name, node in traced.items():
        index = int(name.removeprefix(_ALIAS)) if name.startswith(_ALIAS) else count
        if index < count:
            out[index] = {leaf for n in node.walk() if (leaf := _leaf(n)) is not None}
    return out


def _lineage_of(
    column: str | None, query: exp.Query, tables: dict, dialect: str, scope: Scope | None
) -> dict[str, Node] | None:
    """``{output name: lineage}`` of ``column`` (or of every output), None if untraceable."""
    try:
        found = lineage(
            column, query, tables, dialect=dialect, scope=scope, trim_selects=False, copy=False
        )
    except (SqlglotError, ValueError):  # e.g. a * over a table whose columns are unknown
        return None
    if isinstance(found, Node):
        return {column or found.name: found}
    return found


def _alias_outputs(query: exp.Expression) -> None:
    """Name every output column by position, in each branch of a set operation, so that
    duplicate or unnamed outputs (``SELECT a.id, b.id``, ``SELECT 1``) stay apart."""
    if isinstance(query, exp.SetOperation):
        _alias_outputs(query.left)
        _alias_outputs(query.right)
    elif isinstance(query, exp.Subquery):
        _alias_outputs(query.this)
    elif isinstance(query, exp.Select):
        for i, projection in enumerate(list(query.expressions)):
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            projection.replace(exp.alias_(inner.copy(), f"{_ALIAS}{i}"))


def _leaf(node: Node) -> tuple[str, str] | None:
    """A base-table column the lineage walk ended at (its name is ``alias.column`` SQL)."""
    if node.downstream or not isinstance(node.expression, exp.Table):
        return None
    try:
        column = sqlglot.parse_one(node.name, into=exp.Column).name
    except SqlglotError:
        column = node.name.split(".")[-1].strip('"`')
    return (_full_name(node.expression, {}), column.lower())


def _sources(query: exp.Expression, target_name: str) -> tuple[str, ...]:
    names = set()
    for scope in traverse_scope(query):
        for source in scope.sources.values():
            if isinstance(source, exp.Table):
                names.add(_full_name(source, {}))
    names.discard(target_name)
    return tuple(sorted(names))


def _full_name(table: exp.Table, defaults: dict[str, str | None]) -> str:
    parts = [
        table.catalog or defaults.get("catalog") or "",
        table.db or defaults.get("db") or "",
        table.name,
    ]
    return ".".join(p.lower() for p in parts if p)


def _schema(columns: Columns) -> dict:
    """The catalog's column lists as sqlglot's nested ``{catalog: {schema: {table: …}}}``."""
    nested: dict = {}
    for full_name, cols in columns.items():
        parts = full_name.lower().split(".")
        if len(parts) != 3:
            raise SqlLineageError(f"'{full_name}' is not a 'catalog.schema.table' name")
        typed = (
            {c.lower(): t for c, t in cols.items()}
            if isinstance(cols, Mapping)
            else {c.lower(): "STRING" for c in cols}
        )
        nested.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = typed
    return nested


def _known(columns: Columns, wanted: str) -> list[str] | None:
    """The catalog's column names of the table ``wanted`` in order, if known."""
    for name, cols in columns.items():
        if name.lower() == wanted:
            return [c.lower() for c in cols]
    return None
