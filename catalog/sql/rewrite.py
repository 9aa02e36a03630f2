"""Rewrites a resolved query from the public schema to the physical one.

Input: a tree :mod:`catalog.sql.compiler` has allow-listed, resolved against the
public columns (every column qualified, stars expanded) and annotated with types.

- :func:`rewrite_struct_fields`: ``t.user_identity.email`` → ``t."user_identity.email"``,
  the hidden physical column (:mod:`catalog.sql.system_sources`); a field of anything
  but a system table's struct column is refused (structs are JSON text past that point,
  managed tables' structs included).
- :func:`fix_up`: what the backends need beyond sqlglot's transpiling. Both: string
  literals compared with a timestamp are parsed as ISO 8601 here (so both backends agree
  and PostgreSQL-only words such as ``'yesterday'`` are refused) and ``col:key`` yields
  text as on Databricks. SQLite keeps times as text ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC):
  literals, ``TIMESTAMP '…'``, ``± INTERVAL n unit`` and ``date_trunc`` are rewritten to
  that format (``strftime``/``date``), as sqlglot's SQLite output would not compare
  correctly, and a cast to DATE is ``date(…)`` (SQLite's CAST would make ``'2026-01-02'``
  the number 2026). ``LIKE`` gets ``ESCAPE '\\'``, Databricks' and PostgreSQL's default
  escape (SQLite has none; :mod:`catalog.sql.readonly` makes it case-sensitive), as does
  ``ILIKE`` (``lower(x) LIKE lower(p)``); in a query with ``ORDER BY``, ``LIKE`` is kept off
  indexes: SQLite would scan the index range of the pattern's literal prefix and sort every
  match (``object_name LIKE 'cat%'`` over 1M audit events: 2.5 s; ``'cat_019.%'``, whose
  ``_`` is a wildcard, 146 ms), where walking the order's index stops at the ``LIMIT``
  (1–7 ms; a full walk of the time index when nothing matches, about 260 ms). PostgreSQL:
  the JSON text column is cast to ``json`` for JSON extraction.
- :func:`replace_sources`: each table → a derived table over its physical tables
  (:mod:`catalog.sql.system_sources`, :mod:`catalog.sql.table_sources`).
- :func:`cap`: a ``LIMIT`` of ``max_rows + 1`` unless the query's own is smaller.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from catalog.sql.errors import refuse, shown

if TYPE_CHECKING:
    from catalog.sql.sources import Source

_T = exp.DataType.Type
TIMESTAMPS = frozenset({_T.TIMESTAMP, _T.TIMESTAMPTZ, _T.TIMESTAMPLTZ, _T.TIMESTAMPNTZ})

#: SQLite's time text, as ``strftime`` writes it (milliseconds; compares with the stored
#: microseconds as text).
_SQLITE_TIME = "%Y-%m-%d %H:%M:%f"
_TRUNC_FORMATS = {
    "YEAR": "%Y-01-01 00:00:00",
    "MONTH": "%Y-%m-01 00:00:00",
    "DAY": "%Y-%m-%d 00:00:00",
    "HOUR": "%Y-%m-%d %H:00:00",
    "MINUTE": "%Y-%m-%d %H:%M:00",
    "SECOND": "%Y-%m-%d %H:%M:%S",
}
#: INTERVAL unit → (SQLite modifier word, factor).
_INTERVAL_UNITS = {
    "SECOND": ("seconds", 1),
    "MINUTE": ("minutes", 1),
    "HOUR": ("hours", 1),
    "DAY": ("days", 1),
    "WEEK": ("days", 7),
    "MONTH": ("months", 1),
    "YEAR": ("years", 1),
}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ)


# -- struct fields and sources -----------------------------------------------------------------


def rewrite_struct_fields(tree: exp.Expression, sources: dict[str, Source]) -> None:
    for scope in traverse_scope(tree):
        for column in scope.columns:
            parent = column.parent
            if not (isinstance(parent, exp.Dot) and parent.this is column):
                continue
            hidden = _field_column(scope, column, parent.expression.name.lower(), sources)
            if hidden is None:
                raise refuse(
                    f"'{shown(parent)}': struct fields can be read from a system table's struct "
                    "columns (user_identity.email, response.status_code …), directly or passed "
                    "through a CTE or subquery unchanged",
                    parent,
                )
            replacement = exp.column(hidden, table=column.table, quoted=True)
            replacement.type = parent.type
            parent.replace(replacement)
    for leftover in tree.find_all(exp.Dot):
        raise refuse(f"'{shown(leftover)}' is not a field of a struct column", leftover)


def _field_column(
    scope: Any, column: exp.Column, field: str, sources: dict[str, Source]
) -> str | None:
    """The column of ``column``'s source that holds ``column.field``, or None.

    A system table has it as a hidden column. A CTE or subquery that passes the struct
    column through unchanged (``SELECT *``, ``SELECT user_identity AS u``) gets a hidden
    projection of its own, recursively; one that aggregates, groups or combines rows does
    not (a struct there is JSON text only).
    """
    source = scope.sources.get(column.table)
    if isinstance(source, exp.Table):
        found = sources.get(".".join(part.name for part in source.parts))
        return found.fields.get((column.name, field)) if found else None
    select = getattr(source, "expression", None)
    if (
        not isinstance(select, exp.Select)
        or select.args.get("group")
        or select.args.get("distinct")
    ):
        return None
    if any(projection.find(exp.AggFunc, exp.Window) for projection in select.expressions):
        return None
    for projection in select.expressions:
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if projection.alias_or_name != column.name or not isinstance(inner, exp.Column):
            continue
        hidden = _field_column(source, inner, field, sources)
        if hidden is None:
            return None
        name = f"{column.name}.{field}"
        if name not in {p.alias_or_name for p in select.expressions}:
            select.append(
                "expressions",
                exp.alias_(exp.column(hidden, table=inner.table, quoted=True), name, quoted=True),
            )
        return name
    return None


def replace_sources(
    tree: exp.Expression, backend: str, schema: str | None, sources: dict[str, Source]
) -> exp.Expression:
    """Each public table of ``tree`` replaced, in place, by its derived table. Only the
    tables are visited and replaced (``transform`` would copy the whole tree first: a third
    of a wide query's compile time)."""
    for node in list(tree.find_all(exp.Table)):
        source = sources.get(".".join(part.name for part in node.parts))
        if source is None:  # a reference to one of the query's CTEs
            continue
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
        # A table with a row filter or masks brings their expressions along, already
        # fixed up for the backend (catalog/row_access/table_access.py).
        derived = exp.Subquery(this=source.derived(backend, schema), alias=alias.copy())
        if node is tree:
            return derived
        node.replace(derived)
    return tree


def cap(tree: exp.Expression, max_rows: int) -> None:
    limit = tree.args.get("limit")
    current = int(limit.expression.this) if isinstance(limit, exp.Limit) else None
    if current is None or current > max_rows:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(max_rows + 1)))


# -- backend fix-ups ---------------------------------------------------------------------------


def fix_up(tree: exp.Expression, backend: str, *, never_null_ordering: bool = False) -> None:
    """Apply the backend's fix-ups bottom-up (children first), replacing nodes in place.

    ``never_null_ordering``: the query reads system tables only, so the columns named in
    ``_NEVER_NULL`` are theirs (a managed table may have a nullable ``seq`` column)."""
    fix: Callable[[exp.Expression], exp.Expression]
    fix = _sqlite_fixups if backend == "sqlite" else _postgres_fixups
    for node in reversed(list(tree.walk(bfs=False))):
        fixed = _common_fixups(node, backend, never_null_ordering)
        fixed = fix(fixed)
        if fixed is not node and node.parent is not None:
            node.replace(fixed)


#: Public columns of the system tables that are NOT NULL in the rows they come from.
_NEVER_NULL = frozenset(
    {
        "event_id",
        "event_time",
        "event_date",
        "service_name",
        "action_name",
        "request_id",
        "lane",
        "seq",
        "prev_hash",
        "hash",
    }
)


def _never_null(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column) and node.name in _NEVER_NULL


def _is_time(node: exp.Expression) -> bool:
    return node.type is not None and node.type.this in TIMESTAMPS


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _time_literal(node: exp.Expression, backend: str) -> exp.Expression:
    """A string (or ``TIMESTAMP '…'``) literal as a UTC time both backends read alike."""
    literal = node.this if isinstance(node, exp.Cast) else node
    if not (isinstance(literal, exp.Literal) and literal.is_string):
        return node
    text = literal.this.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        message = f"'{text}' is not a timestamp (use ISO 8601, e.g. 2026-11-23T10:00:00Z)"
        raise refuse(message, node) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return exp.Literal.string(stamp if backend == "sqlite" else stamp + "+00:00")


def _common_fixups(node: exp.Expression, backend: str, never_null: bool) -> exp.Expression:
    if isinstance(node, _COMPARISONS):
        if _is_time(node.this):
            node.set("expression", _time_literal(node.expression, backend))
        elif _is_time(node.expression):
            node.set("this", _time_literal(node.this, backend))
    elif isinstance(node, exp.Between) and _is_time(node.this):
        node.set("low", _time_literal(node.args["low"], backend))
        node.set("high", _time_literal(node.args["high"], backend))
    elif isinstance(node, exp.Ordered) and never_null and _never_null(node.this):
        # Databricks sorts NULLs last on DESC; sqlglot spells that out for PostgreSQL
        # (NULLS LAST), which no plain index can serve. A column that is never NULL sorts
        # the same either way, so ask for the backend's own default and let indexes work.
        descending = bool(node.args.get("desc"))
        node.set("nulls_first", descending if backend == "postgresql" else not descending)
    elif isinstance(node, exp.JSONExtract):
        # ``col:key`` is text on Databricks (a scalar unquoted), as get_json_object gives.
        return exp.JSONExtractScalar(this=node.this, expression=node.expression)
    return node


def _sqlite_fixups(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Like) and not isinstance(node.parent, exp.Escape):
        select = node.find_ancestor(exp.Select)
        if select is not None and select.args.get("order"):
            # ``x || ''`` is the same text, and (like SQLite's documented unary ``+``)
            # keeps the term from driving an index.
            node.set("this", exp.DPipe(this=node.this, expression=exp.Literal.string("")))
        return exp.Escape(this=node.copy(), expression=exp.Literal.string("\\"))
    if isinstance(node, exp.ILike):  # what sqlglot writes for SQLite, with the escape
        lowered = exp.Like(
            this=exp.Lower(this=node.this), expression=exp.Lower(this=node.expression)
        )
        return exp.Escape(this=lowered, expression=exp.Literal.string("\\"))
    if isinstance(node, exp.CurrentTimestamp):
        # SQLite's CURRENT_TIMESTAMP has whole seconds, so an event written earlier in the
        # same second would compare as later than "now". Milliseconds are what strftime
        # gives; the rest of the millisecond is filled in (``999``) for the same reason.
        return _fn("strftime", exp.Literal.string(_SQLITE_TIME + "999"), exp.Literal.string("now"))
    if isinstance(node, exp.Cast) and node.to.this in TIMESTAMPS:
        fixed = _time_literal(node, "sqlite")
        if fixed is not node:
            return fixed
        return _fn("strftime", exp.Literal.string(_SQLITE_TIME), node.this)
    if isinstance(node, exp.Cast) and node.to.this is _T.DATE:
        return _fn("date", node.this)
    if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
        return _sqlite_interval(node)
    if isinstance(node, exp.TimestampTrunc):
        unit = node.text("unit").upper().rstrip("S")
        pattern = _TRUNC_FORMATS.get(unit)
        if pattern is None:
            raise refuse(f"date_trunc to {unit} is not supported on this server's database", node)
        return _fn("strftime", exp.Literal.string(pattern), node.this)
    return node


def _sqlite_interval(node: exp.Add | exp.Sub) -> exp.Expression:
    interval = node.expression
    amount_text = interval.this.name if interval.this is not None else ""
    unit = interval.text("unit")
    if not unit and len(amount_text.split()) == 2:  # INTERVAL '1 day'
        amount_text, unit = amount_text.split()
    unit = unit.upper().rstrip("S")
    try:
        amount = int(amount_text)
    except ValueError:
        amount = None
    if unit not in _INTERVAL_UNITS or amount is None:
        raise refuse(
            f"'{shown(interval)}' is not a supported interval (write e.g. INTERVAL 7 DAYS)",
            interval,
        )
    word, factor = _INTERVAL_UNITS[unit]
    amount *= factor * (-1 if isinstance(node, exp.Sub) else 1)
    modifier = exp.Literal.string(f"{amount:+d} {word}")
    if node.this.type is not None and node.this.type.this is _T.DATE:
        return _fn("date", node.this, modifier)
    return _fn("strftime", exp.Literal.string(_SQLITE_TIME), node.this, modifier)


def _postgres_fixups(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.JSONExtractScalar):
        # request_params is JSON text; PostgreSQL's JSON functions take json.
        node.set("this", exp.cast(node.this, exp.DataType.build("JSON")))
    return node
