"""Compiles a SELECT over system and managed tables into read-only SQL for the database.

``SELECT`` reads the system tables (``system.access.audit``, ``system.access.table_lineage``,
``system.access.column_lineage``; docs/audit.md, docs/lineage.md) and the catalog's
managed tables. All of these live in Steward's own database, next to tokens, grants and
the catalog; a query must therefore never reach anything but the rows of the tables it
names, never change anything, and never run unbounded. ``INSERT … SELECT`` and ``MERGE``
compute the rows they write with a query compiled here too (:mod:`catalog.sql.writes`).
Every query goes through these steps, on sqlglot trees only (user text is never spliced into SQL):

1. **Parse** with the policy dialect (:func:`policy.dialect.parse_statement`, done by the
   executor): exactly one statement, a query, no ``SELECT … INTO``; a second statement,
   a ``;`` trick or a comment hiding one is a syntax error with line and column.
   **Budgets** (:class:`Budgets`, from the settings): the text is measured before it is
   parsed; the query's select items and the size of its tree before anything else, and
   the select items again, stars counted as the columns they stand for, once the tables
   are resolved. Compiling costs CPU in proportion to the tree (the steps below each walk
   or copy it), so an oversized query is refused before that work starts.
2. **Allow-list the tree** (:func:`_check_depth`, :func:`_check_tree`): no deeper than
   ``MAX_DEPTH`` (so resolving it stays cheap), and every node must be of a class listed in
   ``_STRUCTURE``, ``_OPERATORS`` or ``_FUNCTIONS``, and the clause-bearing nodes may only
   use the arguments listed in ``_ARGS``. So anything sqlglot understands but that is not
   a pure expression over rows — table-valued functions, ``LATERAL VIEW``, ``TRANSFORM …
   USING``, ``PIVOT``, ``TABLESAMPLE``, unknown functions such as ``pg_sleep``,
   ``load_extension``, ``set_config``, ``nextval``, ``dblink``, ``lo_import`` — is
   refused by not being listed, not by being recognised as dangerous. Functions are the
   pure scalar, aggregate and window functions that behave the same on SQLite and
   PostgreSQL; casts only to scalar types; ``WITH RECURSIVE`` is refused (unbounded).
3. **Resolve and authorize tables** (:func:`_resolve_tables` with a resolver of
   :mod:`catalog.sql.sources`): every table reference must be one of the query's own CTEs
   or resolve, with the request's default catalog/schema, to a system table or a managed
   table the caller may read (SELECT on a system table; USE CATALOG + USE SCHEMA + SELECT
   on a managed one). Physical names (``audit_events``, ``data_…``, ``securables``,
   ``casbin_rule`` …), ``sqlite_master``, ``pg_catalog.*``, ``information_schema.*``,
   missing tables and tables the caller may not see all get the same "not a table"
   answer, whether or not they exist (so the answer leaks nothing). A query that reads no
   table at all (``SELECT 1``) needs no grant; like every query it is bounded by step 8.
4. **Resolve columns** with sqlglot's optimizer against the public columns of the tables
   this query reads, and only those (:meth:`ReadQuery.compile`): stars are expanded to
   public columns (so hidden ones never leak), unknown or ambiguous columns are errors,
   and struct field access on system tables (``user_identity.email``,
   ``response.status_code``) becomes explicit.
5. **Rewrite** to the physical schema (:mod:`catalog.sql.rewrite`): struct fields to the
   hidden physical columns (also through CTEs and subqueries that pass the struct
   through), each table to a derived table over its physical tables (schema-qualified,
   so no CTE can stand in for them; :mod:`catalog.sql.system_sources`,
   :mod:`catalog.sql.table_sources`), backend fix-ups (time literals parsed as ISO 8601
   on both; SQLite: ``INTERVAL`` arithmetic, ``date_trunc`` and casts to DATE in its
   text time format; PostgreSQL: JSON extraction over the JSON text column), and a
   ``LIMIT`` of ``max_rows + 1`` to detect truncation.
6. **Generate** SQL for the backend with comments dropped and every identifier quoted,
   then **re-parse it** and check it again (:func:`_verify_generated`): one query, only
   the physical tables of the tables this query resolved (a per-query set), no function
   outside a small set the rewrites add — a guard against generator quirks.
7. **Run read-only** (:mod:`catalog.sql.readonly`): PostgreSQL in a ``READ ONLY``
   transaction with ``statement_timeout``; SQLite on the reader connection with
   ``PRAGMA query_only``, an authorizer that allows reading only the same per-query set
   of physical tables, and a progress handler that stops it at the deadline.

Results carry Databricks type names; timestamps are ISO-8601 UTC strings
(``2026-11-23T10:00:00.123456Z``, as ``GET /api/2.1/steward/audit`` gives them), dates
``YYYY-MM-DD``, structs, arrays and maps compact JSON text (``{"email":"a@b.c"}``), as
Databricks renders them in JSON results, binary base64.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from catalog.config import Settings
from catalog.sql.cpu_gate import statement_cpu
from catalog.sql.errors import refuse, shown
from catalog.sql.rewrite import (
    TIMESTAMPS,
    cap,
    fix_up,
    replace_sources,
    rewrite_struct_fields,
)
from catalog.sql.session_functions import (
    SessionContext,
    bind_session_functions,
    check_session_function,
    is_session_function,
    uses_session_functions,
)
from catalog.sql.sources import Resolver, Source, system_only
from catalog.sql.system_sources import sqlglot_dialect
from common.column_types import parse_column_type
from common.errors import InvalidParameter

MAX_ROWS = 10_000
#: Deepest expression tree accepted (see ``_check_depth``).
MAX_DEPTH = 400

_T = exp.DataType.Type

#: Clause and reference nodes a query may contain.
_STRUCTURE: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.Select,
        exp.Union,
        exp.Intersect,
        exp.Except,
        exp.Subquery,
        exp.From,
        exp.Join,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.With,
        exp.CTE,
        exp.TableAlias,
        exp.Table,
        exp.Column,
        exp.Identifier,
        exp.Star,
        exp.Alias,
        exp.Distinct,
        exp.Window,
        exp.WindowSpec,
        exp.Filter,
        exp.Literal,
        exp.Boolean,
        exp.Null,
        exp.DataType,
        exp.DataTypeParam,
        exp.Interval,
        exp.Var,
        exp.Dot,
        exp.JSONPath,
        exp.JSONPathKey,
        exp.JSONPathRoot,
    }
)

#: Operators and predicates.
_OPERATORS: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.Paren,
        exp.Tuple,
        exp.Not,
        exp.And,
        exp.Or,
        exp.EQ,
        exp.NEQ,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.Exists,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.Mod,
        exp.Neg,
        exp.DPipe,
        exp.Case,
        exp.If,
        exp.Cast,
    }
)

#: Pure scalar, aggregate and window functions (no side effects, no I/O, no state),
#: by the name users write; each behaves alike on SQLite and PostgreSQL.
_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
    exp.CountIf: "count_if",
    exp.Lower: "lower",
    exp.Upper: "upper",
    exp.Length: "length",
    exp.Substring: "substring",
    exp.Trim: "trim",
    exp.Concat: "concat",
    exp.StrPosition: "instr",
    exp.Abs: "abs",
    exp.Round: "round",
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.CurrentDate: "current_date",
    exp.CurrentTimestamp: "current_timestamp",
    exp.TsOrDsToDate: "to_date",
    exp.TimestampTrunc: "date_trunc",
    exp.JSONExtract: "get_json_object",
    exp.JSONExtractScalar: "get_json_object",
    exp.RowNumber: "row_number",
    exp.Rank: "rank",
    exp.DenseRank: "dense_rank",
    exp.Lag: "lag",
    exp.Lead: "lead",
}

_ALLOWED = _STRUCTURE | _OPERATORS | frozenset(_FUNCTIONS)

#: Arguments the clause-bearing nodes may use; anything else (INTO, LATERAL VIEW, PIVOT,
#: hints, CLUSTER/DISTRIBUTE/SORT BY, QUALIFY, GROUP BY ALL/ROLLUP, DISTINCT ON, NATURAL
#: and SEMI/ANTI joins, WITH RECURSIVE, table time travel …) is refused.
_SET_OPERATION_ARGS = frozenset(
    {"with_", "this", "expression", "distinct", "order", "limit"} | {"offset"}
)
_ARGS: dict[type[exp.Expression], frozenset[str]] = {
    exp.Select: frozenset(
        {"with_", "expressions", "distinct", "from_", "joins", "where", "group", "having"}
        | {"windows", "order", "limit", "offset"}
    ),
    exp.Union: _SET_OPERATION_ARGS,
    exp.Intersect: _SET_OPERATION_ARGS,
    exp.Except: _SET_OPERATION_ARGS,
    exp.Subquery: frozenset({"this", "alias", "order", "limit", "offset"}),
    exp.Join: frozenset({"this", "on", "side", "kind", "using"}),
    exp.Table: frozenset({"this", "alias", "db", "catalog"}),
    exp.Group: frozenset({"expressions"}),
    exp.Star: frozenset({"except_"}),
    exp.With: frozenset({"expressions"}),
    exp.CTE: frozenset({"this", "alias"}),
    exp.Distinct: frozenset({"expressions"}),
    exp.Limit: frozenset({"expression"}),
    exp.Column: frozenset({"this", "table", "db", "catalog"}),
}
#: How the refused arguments read in SQL, for messages.
_CLAUSES = {
    "kind": "SELECT AS STRUCT/VALUE",
    "hint": "a query hint",
    "hints": "a query hint",
    "into": "INTO",
    "laterals": "LATERAL VIEW",
    "pivots": "PIVOT/UNPIVOT",
    "qualify": "QUALIFY",
    "distribute": "DISTRIBUTE BY",
    "sort": "SORT BY",
    "cluster": "CLUSTER BY",
    "locks": "FOR UPDATE/SHARE",
    "sample": "TABLESAMPLE",
    "version": "time travel (AS OF)",
    "method": "NATURAL JOIN",
    "recursive": "WITH RECURSIVE",
    "materialized": "MATERIALIZED",
    "all": "GROUP BY ALL",
    "rollup": "ROLLUP",
    "cube": "CUBE",
    "grouping_sets": "GROUPING SETS",
    "on": "DISTINCT ON",
    "by_name": "UNION BY NAME",
    "replace": "* REPLACE",
    "rename": "* RENAME",
    "ilike": "* ILIKE",
}
_JOIN_KINDS = frozenset({"", "INNER", "OUTER", "CROSS"})
_JOIN_SIDES = frozenset({"", "LEFT", "RIGHT", "FULL"})
#: Types a value may be cast to (TRY_CAST is refused: neither backend has its NULL-on-error).
_CAST_TYPES = frozenset(
    {_T.TEXT, _T.VARCHAR, _T.CHAR, _T.INT, _T.BIGINT, _T.SMALLINT, _T.TINYINT, _T.DOUBLE}
    | {_T.FLOAT, _T.DECIMAL, _T.BOOLEAN, _T.DATE, _T.TIMESTAMP, _T.TIMESTAMPTZ}
    | {_T.TIMESTAMPLTZ, _T.TIMESTAMPNTZ}
)


# -- 0. budgets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budgets:
    """What one statement may cost before the expensive work starts (docs/sql.md, limits).

    Resolving, rewriting, generating and re-checking a query costs about 0.15 ms of CPU per
    node of its tree (a select item such as ``id AS c7`` is four), all of it holding the
    interpreter, so every other request waits meanwhile. Each budget is checked before
    that work: the text before it is parsed (:func:`check_text`), the tree's size and its
    select items before the tables are resolved, and the select items again, stars
    counted as the columns they stand for, before the query is compiled
    (:meth:`ReadQuery.plan`).
    """

    #: Characters of statement text (``STEWARD_SQL_MAX_CHARS``).
    max_chars: int
    #: Select items of all the query's SELECT lists together, a star counted as the
    #: columns it expands to (``STEWARD_SQL_MAX_SELECT_ITEMS``).
    max_select_items: int
    #: Nodes of a query's syntax tree: names, literals, operators, function calls,
    #: clauses (``STEWARD_SQL_MAX_QUERY_NODES``).
    max_query_nodes: int
    #: Seconds that planning, and then compiling, a query may take
    #: (``STEWARD_SQL_MAX_COMPILE_SECONDS``): the size budgets bound the work, this bounds
    #: what a pathological shape within them could still cost. Checked between the steps.
    max_compile_seconds: float = 2.0

    @classmethod
    def of(cls, settings: Settings) -> Budgets:
        return cls(
            settings.sql_max_chars,
            settings.sql_max_select_items,
            settings.sql_max_query_nodes,
            settings.sql_max_compile_seconds,
        )


class CompileClock:
    """Time spent planning or compiling one query, refused once over its budget."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.started = time.perf_counter()

    def check(self, step: str) -> None:
        elapsed = time.perf_counter() - self.started
        if elapsed > self.limit:
            raise InvalidParameter(
                f"the query took {elapsed:.2f} s to {step}, more than the limit of "
                f"{self.limit:g} s (STEWARD_SQL_MAX_COMPILE_SECONDS). Simplify the query or "
                "split it into smaller ones"
            )


#: The budgets of the default settings (for callers that have no settings of their own).
DEFAULT_BUDGETS = Budgets.of(Settings())


def check_text(sql: str, limits: Budgets) -> None:
    """Refuse statement text longer than ``max_chars``, before anything parses it."""
    limit = limits.max_chars
    if len(sql) <= limit:
        return
    line = sql.count("\n", 0, limit) + 1
    column = limit - (sql.rfind("\n", 0, limit) + 1) + 1
    raise InvalidParameter(
        f"the statement is {len(sql)} characters long, more than the limit of {limit} "
        f"(STEWARD_SQL_MAX_CHARS); it passes the limit at line {line}, column {column}. "
        "Split it into smaller statements (rows in bulk: the table rows API)"
    )


def _check_size(root: exp.Expression, limit: int) -> None:
    """Refuse a tree of more than ``limit`` nodes, naming where in the text (about) the
    limit is reached: nodes are counted depth first, so roughly in the order written."""
    nodes = root.dfs()
    for count, node in enumerate(nodes, start=1):
        if count > limit:
            total = count + sum(1 for _ in nodes)
            raise InvalidParameter(
                f"the query has {total} syntax-tree nodes (names, literals, operators, "
                f"calls, clauses), more than the limit of {limit} "
                f"(STEWARD_SQL_MAX_QUERY_NODES){_reached(node)}. Split the query, or "
                "shorten long lists of conditions, CASE branches or values"
            )


def _reached(node: exp.Expression) -> str:
    """Where ``node`` starts in the text (its first token, wherever the parser put it in
    the tree), for a message; empty for nodes Steward built."""
    starts = []
    for found in node.walk():
        meta = found.meta
        if "line" in meta and "col" in meta:
            width = int(meta.get("end", 0)) - int(meta.get("start", 0))
            starts.append((int(meta["line"]), max(1, int(meta["col"]) - width)))
    if not starts:
        return ""
    line, column = min(starts)
    return f"; the limit is reached at line {line}, column {column}"


def _is_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Star) or (
        isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
    )


class _Widths:
    """How many select items each SELECT of a query stands for: a star counts as the
    public columns of what it reads (a table, a CTE, a subquery), or as one before the
    tables are resolved (``sources`` None)."""

    def __init__(self, root: exp.Expression, sources: dict[str, Source] | None) -> None:
        self.sources = sources
        self.ctes = {cte.alias_or_name.lower(): cte.this for cte in root.find_all(exp.CTE)}
        self.memo: dict[int, int] = {}

    def items(self, select: exp.Select) -> Iterator[tuple[exp.Expression, int]]:
        for projection in select.expressions:
            yield projection, self.star(select, projection) if _is_star(projection) else 1

    def star(self, select: exp.Select, projection: exp.Expression) -> int:
        if self.sources is None:
            return 1
        qualifier = projection.table.lower() if isinstance(projection, exp.Column) else ""
        relations = [select.args.get("from_"), *(select.args.get("joins") or [])]
        total = 0
        for relation in relations:
            source = relation.this if relation is not None else None
            if source is None:
                continue
            if qualifier and source.alias_or_name.lower() != qualifier:
                continue
            total += self.relation(source)
        return max(total, 1)

    def relation(self, source: exp.Expression) -> int:
        if isinstance(source, exp.Subquery):
            return self.query(source.this)
        if isinstance(source, exp.Table) and self.sources is not None:
            parts = [part.name.lower() for part in source.parts]
            if len(parts) == 1 and parts[0] in self.ctes:
                return self.query(self.ctes[parts[0]])
            full_name = ".".join(parts)
            found = self.sources.get(full_name)
            if found is not None:
                return len(found.columns)
        return 1

    def query(self, query: exp.Expression) -> int:
        key = id(query)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = 1  # a CTE that names itself counts once
        while isinstance(query, exp.SetOperation):
            query = query.this
        if isinstance(query, exp.Subquery):
            width = self.query(query.this)
        elif isinstance(query, exp.Select):
            width = sum(n for _, n in self.items(query))
        else:
            width = 1
        self.memo[key] = width
        return width


def _check_select_items(
    root: exp.Expression, limit: int, sources: dict[str, Source] | None
) -> None:
    """Refuse a query whose SELECT lists hold more than ``limit`` items together."""
    widths = _Widths(root, sources)
    total = 0
    over: exp.Expression | None = None
    for select in root.find_all(exp.Select):
        for projection, width in widths.items(select):
            total += width
            if total > limit and over is None:
                over = projection
    if over is None:
        return
    stars = " (a star counts as the columns it stands for)" if sources is not None else ""
    raise InvalidParameter(
        f"the query has {total} select items{stars}, more than the limit of {limit} "
        f"(STEWARD_SQL_MAX_SELECT_ITEMS){_reached(over)}. Select fewer columns, or split "
        "the query"
    )


# -- 2. the allow-list ----------------------------------------------------------------------


def _check_depth(root: exp.Expression) -> None:
    """Refuse trees nested deeper than ``MAX_DEPTH``: resolving columns costs time
    quadratic in the depth (a 3,000-term OR chain takes seconds of CPU), and SQLite
    refuses expressions deeper than 1,000 anyway."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise refuse(
                f"the query is nested more than {MAX_DEPTH} levels deep; write long chains of "
                "OR as IN (…) and split the query",
                node,
            )
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _check_tree(root: exp.Expression) -> None:
    """Every node allow-listed (``root`` is no deeper than ``MAX_DEPTH``: see ``plan``)."""
    for node in root.walk():
        kind = type(node)
        if kind not in _ALLOWED:
            if not is_session_function(node):
                raise _refusal(node)
            check_session_function(node)
        allowed_args = _ARGS.get(kind)
        if allowed_args is not None:
            extra = [key for key, value in node.args.items() if value and key not in allowed_args]
            if extra:
                clause = _CLAUSES.get(extra[0], extra[0].rstrip("_").upper())
                raise refuse(
                    f"{clause} is not supported in queries (in '{shown(node)}')",
                    node,
                )
        _check_node(node)


def _refusal(node: exp.Expression) -> InvalidParameter:
    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        allowed = ", ".join(sorted(set(_FUNCTIONS.values())))
        return refuse(
            f"function {name.lower()}() is not allowed in queries; "
            f"the allowed functions are {allowed} and the JSON path col:key",
            node,
        )
    return refuse(f"'{shown(node)}' is not supported in queries", node)


def _check_node(node: exp.Expression) -> None:
    if isinstance(node, exp.Join):
        kind = str(node.args.get("kind") or "").upper()
        side = str(node.args.get("side") or "").upper()
        if kind not in _JOIN_KINDS or side not in _JOIN_SIDES:
            raise refuse(f"{side} {kind} JOIN is not supported".replace("  ", " ").strip(), node)
    elif isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier | exp.Dot):
        raise refuse(
            f"'{shown(node)}' is not a table: table-valued functions are not allowed, only "
            "the system tables and the catalog's managed tables can be read",
            node,
        )
    elif isinstance(node, exp.With) and node.args.get("recursive"):
        raise refuse("WITH RECURSIVE is not supported in queries", node)
    elif isinstance(node, exp.DataType) and not _cast_type_ok(node):
        raise refuse(f"cannot cast to {shown(node)}: only scalar types are supported", node)
    elif isinstance(node, exp.Var) and not isinstance(
        node.parent, exp.Interval | exp.TimestampTrunc
    ):
        raise refuse(f"'{shown(node)}' is not supported here", node)
    elif isinstance(node, exp.Limit | exp.Offset):
        value = node.expression
        if not (isinstance(value, exp.Literal) and value.is_int):
            raise refuse("LIMIT and OFFSET take a whole number", node)


def check_expression(root: exp.Expression) -> None:
    """The allow-list of queries, for an expression outside one (a function's body)."""
    _check_depth(root)
    _check_tree(root)


def _bind_session(tree: exp.Expression, session: SessionContext | None) -> exp.Expression:
    if not uses_session_functions(tree):
        return tree
    if session is None:
        raise InvalidParameter("current_user() and group membership tests are not available here")
    return bind_session_functions(tree, session)


def _cast_type_ok(node: exp.DataType) -> bool:
    if isinstance(node.parent, exp.DataType):  # a parameter of DECIMAL(p, s) …
        return True
    return node.this in _CAST_TYPES


# -- 3. table references --------------------------------------------------------------------


def _resolve_tables(root: exp.Expression, resolve: Resolver) -> dict[str, Source]:
    """Point every table reference at its canonical name; the sources read, by full name."""
    ctes = {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}
    read: dict[str, Source] = {}
    for table in list(root.find_all(exp.Table)):
        parts = [part.name.lower() for part in table.parts]
        if len(parts) == 1 and parts[0] in ctes:
            continue
        source = resolve(table)
        catalog, db, name = source.full_name.split(".")
        table.set("catalog", exp.to_identifier(catalog))
        table.set("db", exp.to_identifier(db))
        table.set("this", exp.to_identifier(name))
        read[source.full_name] = source
    return dict(sorted(read.items()))


# -- 4./5. resolution and rewriting -----------------------------------------------------------


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    #: (name, Databricks type_text) per result column.
    columns: list[tuple[str, str]]
    #: How to present each column's values: timestamp, timestamp_ntz, date, struct,
    #: boolean, integer, fraction, binary or any (see :func:`catalog.sql.select_runner.present`).
    kinds: list[str]
    max_rows: int
    #: The physical tables the SQL may read (the runner allows exactly these).
    tables: frozenset[str] = frozenset()


@dataclass
class ReadQuery:
    """A checked query whose tables are resolved (and authorized), before compilation."""

    tree: exp.Expression
    sources: dict[str, Source]
    #: :attr:`Budgets.max_compile_seconds` of the statement, for :meth:`compile`.
    max_compile_seconds: float = DEFAULT_BUDGETS.max_compile_seconds

    @property
    def tables(self) -> list[str]:
        return list(self.sources)

    @classmethod
    def plan(
        cls,
        node: exp.Expression,
        resolve: Resolver = system_only,
        limits: Budgets = DEFAULT_BUDGETS,
    ) -> ReadQuery:
        """Check ``node`` against the budgets (select items, tree size) and the allow-list,
        resolve its tables with ``resolve`` (which authorizes them: see
        :mod:`catalog.sql.sources`), then check its select items again with each star
        counted as the columns it stands for; all before anything is compiled."""
        if not isinstance(node, exp.Query):
            raise InvalidParameter("only SELECT queries can read tables")
        with statement_cpu():
            clock = CompileClock(limits.max_compile_seconds)
            _check_select_items(node, limits.max_select_items, None)
            _check_depth(node)  # before the size: its message says how to shorten OR chains
            _check_size(node, limits.max_query_nodes)
            tree = node.copy()
            expand = getattr(resolve, "expand_views", None)
            if expand is not None:  # views read as their queries (catalog/sql/views.py)
                tree = expand(tree)
                _check_size(tree, limits.max_query_nodes)
            _check_tree(tree)
            tree = _bind_session(tree, getattr(resolve, "session", None))
            sources = _resolve_tables(tree, resolve)
            _check_select_items(tree, limits.max_select_items, sources)
            clock.check("resolve its tables")
            return cls(tree, sources, limits.max_compile_seconds)

    def schema(self) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
        """The tables this query reads as sqlglot's optimizer schema."""
        nested: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        for full_name, source in self.sources.items():
            catalog, db, table = full_name.split(".")
            nested.setdefault(catalog, {}).setdefault(db, {})[table] = dict(source.columns)
        return nested

    def compile(self, backend: str, schema: str | None, max_rows: int = MAX_ROWS) -> CompiledQuery:
        with statement_cpu():
            return self._compile(backend, schema, max_rows)

    def _compile(self, backend: str, schema: str | None, max_rows: int) -> CompiledQuery:
        clock = CompileClock(self.max_compile_seconds)
        tree = self.tree.copy()
        _name_outputs(tree)
        public = self.schema()
        try:
            tree = qualify(
                tree,
                schema=public,
                dialect="databricks",
                validate_qualify_columns=True,
                quote_identifiers=True,
            )
            tree = annotate_types(tree, schema=public, dialect="databricks")
        except OptimizeError as exc:
            raise InvalidParameter(f"cannot resolve the query: {_optimizer_message(exc)}") from None
        except (SqlglotError, RecursionError, KeyError, ValueError, TypeError) as exc:
            raise InvalidParameter(f"cannot resolve the query: {exc}") from None
        clock.check("resolve its names and types")
        for trunc in tree.find_all(exp.TimestampTrunc):
            trunc.type = exp.DataType.build("TIMESTAMP")
        names: dict[str, str] = {}
        for source in self.sources.values():
            for lowered, declared in source.names.items():
                names.setdefault(lowered, declared)
        columns, kinds = _outputs(tree, names)
        rewrite_struct_fields(tree, self.sources)
        system_only_query = all(s.full_name.startswith("system.") for s in self.sources.values())
        fix_up(tree, backend, never_null_ordering=system_only_query)
        tree = replace_sources(tree, backend, schema, self.sources)
        cap(tree, max_rows)
        dialect = sqlglot_dialect(backend)
        try:
            # The tree is this compile's own copy: generating from it without another copy.
            sql = tree.sql(
                dialect,
                copy=False,
                comments=False,
                identify=True,
                unsupported_level=ErrorLevel.RAISE,
            )
        except (SqlglotError, RecursionError) as exc:
            raise InvalidParameter(
                f"the query uses something this server's database ({backend}) cannot run: {exc}"
            ) from None
        clock.check("rewrite and generate")
        allowed = frozenset().union(*(s.physical_tables for s in self.sources.values()))
        _verify_generated(sql, dialect, schema, allowed)
        clock.check("check what it generated")
        return CompiledQuery(sql, columns, kinds, max_rows, allowed)


def _optimizer_message(exc: OptimizeError) -> str:
    text = str(exc).strip() or "unknown error"
    text = re.sub(r"\.? Line: (\d+), Col: (\d+)\.?$", r" (line \1, near column \2)", text)
    return text[:1].lower() + text[1:]


def _name_outputs(tree: exp.Expression) -> None:
    """Name unnamed result expressions as Databricks does (their SQL text), keeping the
    names as written: resolution lower-cases identifiers."""
    query = tree
    while isinstance(query, exp.SetOperation):
        query = query.this
    if not isinstance(query, exp.Select):
        return
    names: list[exp.Expression] = []
    for projection in query.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            names.append(projection)
            continue
        if isinstance(projection, exp.Alias):
            name = projection.alias
        elif isinstance(projection, exp.Column | exp.Dot):
            name = projection.name
        else:
            name = projection.sql("databricks", comments=False, normalize_functions="lower")
            projection = exp.alias_(projection, name, quoted=True)
        projection.meta["output_name"] = name
        names.append(projection)
    query.set("expressions", names)


def _outputs(
    tree: exp.Expression, declared: dict[str, str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Result columns and how to present them. Names written in the query stay as written;
    columns a star expanded take the name as declared (``Order Id``, not ``order id``)."""
    columns: list[tuple[str, str]] = []
    kinds: list[str] = []
    # Printing and re-reading a type costs about 0.3 ms; a wide result has few distinct
    # types, and a plain one (no parameters, no fields) is known by its kind alone.
    plain: dict[exp.DataType.Type, tuple[str, str]] = {}
    for projection in tree.selects:
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        name = (
            projection.meta.get("output_name")
            or inner.meta.get("output_name")
            or declared.get(projection.alias_or_name, projection.alias_or_name)
        )
        data_type = inner.type if isinstance(inner, exp.TimestampTrunc) else projection.type
        if data_type is not None and _is_plain(data_type):
            if data_type.this not in plain:
                plain[data_type.this] = _type_of(data_type)
            type_text, kind = plain[data_type.this]
        else:
            type_text, kind = _type_of(data_type)
        columns.append((name, type_text))
        kinds.append(kind)
    return columns, kinds


_INTEGERS = frozenset({_T.TINYINT, _T.SMALLINT, _T.INT, _T.BIGINT})
_FRACTIONS = frozenset({_T.FLOAT, _T.DOUBLE, _T.DECIMAL})


def _is_plain(data_type: exp.DataType) -> bool:
    """A type without parameters or fields (``BIGINT``, not ``DECIMAL(10,2)``)."""
    return all(not value for key, value in data_type.args.items() if key != "this")


def _type_of(data_type: exp.DataType | None) -> tuple[str, str]:
    """(Databricks type_text, how to present values) of a result column."""
    if data_type is None or data_type.this in (_T.UNKNOWN, _T.NULL):
        return "string", "any"
    try:
        type_text = parse_column_type(data_type.sql("databricks")).type_text
        if data_type.this is _T.DECIMAL:  # as the catalog writes it: decimal(10,2)
            type_text = type_text.replace(", ", ",")
    except (InvalidParameter, ValueError, SqlglotError):
        return "string", "any"
    kinds = (
        ({_T.TIMESTAMPNTZ}, "timestamp_ntz"),
        (TIMESTAMPS, "timestamp"),
        ({_T.DATE}, "date"),
        ({_T.STRUCT, _T.ARRAY, _T.MAP, _T.VARIANT}, "struct"),
        ({_T.BINARY, _T.VARBINARY}, "binary"),
        ({_T.BOOLEAN}, "boolean"),
        (_INTEGERS, "integer"),
        (_FRACTIONS, "fraction"),
    )
    for types, kind in kinds:
        if data_type.this in types:
            return type_text, kind
    return type_text, "any"


# -- 7. verification of the generated SQL ------------------------------------------------------

#: Functions the rewrites themselves add to the generated SQL.
_GENERATED_FUNCTIONS = frozenset(
    {"strftime", "date", "json_object", "jsonb_build_object", "json_extract_path_text"}
    | {"json_extract_path", "position", "instr", "iif", "date_trunc", "substring"}
)


def _verify_generated(sql: str, dialect: str, schema: str | None, allowed: frozenset[str]) -> None:
    """Belt and braces: what reaches the database reads only ``allowed`` (the physical
    tables of the tables the query resolved) and calls no function the allow-list does
    not account for."""
    try:
        statements = sqlglot.parse(sql, read=dialect)
    except SqlglotError as exc:
        raise InvalidParameter(f"the query could not be compiled safely: {exc}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise InvalidParameter("the query could not be compiled safely: not a single query")
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise InvalidParameter("the query could not be compiled safely: a table function")
        if not table.db and table.name in ctes:
            continue
        if table.name not in allowed or (schema and table.db != schema):
            raise InvalidParameter(
                f"the query could not be compiled safely: it would read '{table.name}'"
            )
    for node in tree.find_all(exp.Anonymous, exp.Command, exp.Into, exp.DML, exp.DDL):
        if isinstance(node, exp.Anonymous) and node.name.lower() in _GENERATED_FUNCTIONS:
            continue
        raise InvalidParameter(
            f"the query could not be compiled safely: unexpected '{shown(node)}'"
        )
