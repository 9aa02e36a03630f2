"""``system.information_schema``: row filters, column masks, tags and ABAC policies, as
each caller may see them.

The ``system.access`` tables are granted as a whole (SELECT on the table). These are not:
as Databricks' ``information_schema``, they need no grant, and their rows are those about
objects the caller sees — the catalog's one visibility rule, asked of the authorizer
(:meth:`catalog.access.authorizer.Authorizer.sees`, the rule every list and read uses:
owner of the object or a container, a privilege that applies to it held on it or a
container, or metastore admin). A hidden table's rows are simply absent, as the table is
from ``SHOW TABLES``. A policy is shown when the caller sees the object it is defined on
(as ``SHOW POLICIES``).

Every row is decided when the statement resolves its tables (:class:`CatalogResolver
<catalog.sql.sources.CatalogResolver>` calls :func:`source`), in one read transaction;
the result is a :class:`InformationSchemaSource`, which the compiler puts in place of the
table reference as a derived table like any other source, so WHERE, ORDER BY, GROUP BY
and joins (with each other, the system tables or managed tables) work as on any table,
through the same allow-list, resolution and verification. Nothing here reads user text:
the derived tables are sqlglot trees of our own columns and literals.

Two shapes of derived table, by what fits the rows:

- **Tags** (``table_tags``, ``column_tags``) are plain columns of ``securable_tags`` and
  may be many (a tag on every sensitive column of every table): the derived table is a
  constant SELECT over ``securable_tags`` joined to ``securables`` (the table, its schema,
  its catalog, for the names), restricted to ``securable_id IN (…)``, the ids of the
  tagged tables the caller sees. The database filters and sorts the rows; the query
  carries one literal per visible tagged table, not one per tag.
- **Row filters, column masks and policies** are few by nature (one filter per table, one
  mask per masked column, a policy per rule a team writes) and keep their column lists as
  JSON, which has no portable rendering as ``a, b`` text in SQL without table functions
  (which the compiler refuses): they are rendered in Python from the stores' records and
  handed over as ``SELECT … FROM (VALUES (…), …)`` of literals, typed by the columns
  (``created_at`` a TIMESTAMP on each backend). No rows is one all-NULL row under
  ``WHERE FALSE``, so the columns are there even when empty.

Values follow Databricks: ``filter_col_usage`` is ``''`` when the filter takes no column,
``mask_col_usage`` NULL when the mask takes none besides its own, a tag without a value
has ``tag_value`` ``''``; lists are ``', '``-separated, in declaration order, as ``SHOW
POLICIES`` and ``DESCRIBE TABLE EXTENDED`` show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlglot
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlglot import exp

from catalog.access.authorizer import Authorizer, Caller, ancestor_names
from catalog.persistence import schema as t
from catalog.records import SecurableRecord
from catalog.row_access.policy_store import PolicyRecord, SqlPolicyStore, shown_fields
from catalog.runtime import Runtime
from catalog.store.base import NamespaceStore
from catalog.system_tables import (
    COLUMN_MASKS,
    COLUMN_TAGS,
    INFORMATION_SCHEMA_TABLES,
    POLICIES,
    ROW_FILTERS,
    TABLE_TAGS,
)
from catalog.tags.store import OBJECT
from policy.securables import SecurableType

#: Public columns (name → Databricks type) of each table, in order.
COLUMNS: dict[str, dict[str, str]] = {
    table.full_name: {name: type_text for name, type_text, _ in table.columns}
    for table in INFORMATION_SCHEMA_TABLES
}

#: Ids and names looked up per statement, in batches of this many (bound parameters).
_BATCH = 500

#: The physical tables the tag tables read.
TAG_TABLES = frozenset({"securable_tags", "securables"})

_TAGS_SQL = """
SELECT c.name AS catalog_name, s.name AS schema_name, o.name AS table_name, {column}
       g.tag_key AS tag_name, COALESCE(g.tag_value, '') AS tag_value
FROM securable_tags AS g
JOIN securables AS o ON o.id = g.securable_id
JOIN securables AS s ON s.id = o.parent_id
JOIN securables AS c ON c.id = s.parent_id
WHERE g.column_name {on} ''
"""


@dataclass(frozen=True)
class InformationSchemaSource:
    """One ``system.information_schema`` table for one caller (the compiler's ``Source``)."""

    full_name: str
    #: Literal rows, in column order (row filters, column masks, policies).
    rows: tuple[tuple[Any, ...], ...] = field(default=(), repr=False)
    #: The ids of the tagged tables the caller sees (tag tables only).
    table_ids: tuple[str, ...] | None = field(default=None, repr=False)

    @property
    def columns(self) -> dict[str, str]:
        return COLUMNS[self.full_name]

    @property
    def names(self) -> dict[str, str]:
        return {name: name for name in self.columns}

    @property
    def fields(self) -> dict[tuple[str, str], str]:
        return {}

    @property
    def physical_tables(self) -> frozenset[str]:
        return TAG_TABLES if self.table_ids is not None else frozenset()

    def derived(self, backend: str, schema: str | None) -> exp.Select:
        if self.table_ids is not None:
            return _tags_select(self.full_name == COLUMN_TAGS, self.table_ids, schema)
        return _literal_select(self.columns, self.rows, backend)


def source(runtime: Runtime, caller: Caller, full_name: str) -> InformationSchemaSource:
    """The rows of ``full_name`` (one of :data:`COLUMNS`) that ``caller`` may see, read in
    one transaction."""
    with runtime.db.read() as session:
        scope = _Scope(runtime.authorizer, caller, runtime.stores.namespace(session), session)
        if full_name in (TABLE_TAGS, COLUMN_TAGS):
            on_columns = full_name == COLUMN_TAGS
            return InformationSchemaSource(full_name, table_ids=scope.tagged_tables(on_columns))
        rows = {
            ROW_FILTERS: scope.row_filters,
            COLUMN_MASKS: scope.column_masks,
            POLICIES: scope.policies,
        }[full_name]()
    return InformationSchemaSource(full_name, rows=tuple(rows))


# -- what the caller sees ----------------------------------------------------------------------


@dataclass
class _Scope:
    """One caller's view of the catalog within one read transaction."""

    authorizer: Authorizer
    caller: Caller
    store: NamespaceStore
    session: Session

    def visible(self, objects: Iterable[tuple[str, SecurableType]]) -> dict[str, SecurableRecord]:
        """Of ``objects`` (full name, type), those that exist and the caller sees, by full
        name: the authorizer decides each on its chain (its containers first)."""
        wanted = dict(objects)
        names = {name for full_name in wanted for name in ancestor_names(full_name)}
        records: dict[str, SecurableRecord] = {}
        for batch in _batches(sorted(names)):
            records.update(self.store.get_many(batch))
        seen: dict[str, SecurableRecord] = {}
        for full_name, kind in wanted.items():
            chain = [records.get(name) for name in ancestor_names(full_name)]
            found = [record for record in chain if record is not None]
            if len(found) != len(chain) or found[-1].securable_type is not kind:
                continue  # dropped since (or never a securable of that type)
            if self.authorizer.sees(self.caller, found):
                seen[full_name] = found[-1]
        return seen

    def _tables_where(self, *condition: Any) -> dict[str, SecurableRecord]:
        """The visible tables among those joined to ``condition``'s rows."""
        query = select(t.Securable.full_name).where(
            t.Securable.securable_type == SecurableType.TABLE.value, *condition
        )
        names = self.session.scalars(query.distinct())
        return self.visible((name, SecurableType.TABLE) for name in names)

    def tagged_tables(self, on_columns: bool) -> tuple[str, ...]:
        column = t.SecurableTag.column_name
        tagged = select(t.SecurableTag.securable_id).where(
            column != OBJECT if on_columns else column == OBJECT
        )
        return tuple(sorted(r.id for r in self._tables_where(t.Securable.id.in_(tagged)).values()))

    def _details(self, *condition: Any) -> Iterator[tuple[list[str], Any]]:
        """(catalog, schema, table) and the details of each visible table ``condition``
        selects, by name."""
        tables = self._tables_where(*condition)
        by_id = {record.id: name for name, record in tables.items()}
        details: dict[str, Any] = {}
        for batch in _batches(sorted(by_id)):
            details.update(self.store.get_table_details(batch))
        for table_id, detail in sorted(details.items(), key=lambda item: by_id[item[0]]):
            yield by_id[table_id].split("."), detail

    def row_filters(self) -> list[tuple[Any, ...]]:
        filtered = t.Securable.id.in_(
            select(t.TableDetail.securable_id).where(t.TableDetail.row_filter_function.is_not(None))
        )
        rows = []
        for names, detail in self._details(filtered):
            ref = detail.row_filter
            if ref is not None:
                rows.append((*names, *_parts(ref.function_name), ", ".join(ref.columns)))
        return rows

    def column_masks(self) -> list[tuple[Any, ...]]:
        masked = t.Securable.id.in_(
            select(t.TableColumn.table_id).where(t.TableColumn.mask_function.is_not(None))
        )
        rows = []
        for names, detail in self._details(masked):
            for column in sorted(detail.columns, key=lambda c: c.position):
                ref = column.mask
                if ref is not None:
                    using = ", ".join(ref.columns) or None
                    rows.append((*names, column.name, *_parts(ref.function_name), using))
        return rows

    def policies(self) -> list[tuple[Any, ...]]:
        found = SqlPolicyStore(self.session).everywhere()
        seen = self.visible((p.on_name, SecurableType(p.on_type)) for p in found)
        return [_policy_row(p) for p in found if p.on_name in seen]


def _policy_row(p: PolicyRecord) -> tuple[Any, ...]:
    return (
        *shown_fields(p),
        p.created_by,
        datetime.fromtimestamp(p.created_at / 1000, UTC),
    )


def _parts(function_name: str) -> tuple[str | None, ...]:
    """``catalog.schema.function`` → its three parts (names hold no dots)."""
    parts = function_name.split(".")
    return tuple(parts) if len(parts) == 3 else (None, None, function_name)


def _batches(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


# -- derived tables ------------------------------------------------------------------------------


def _tags_select(on_columns: bool, table_ids: Sequence[str], schema: str | None) -> exp.Select:
    """The tags of the tables ``table_ids`` (on the tables or their columns), over the
    physical tables qualified with ``schema``."""
    select_ = _tags_template(on_columns).copy()
    if schema:
        for table in select_.find_all(exp.Table):
            table.set("db", exp.to_identifier(schema))
    ids = exp.column("securable_id", table="g")
    visible: exp.Expression = (
        exp.In(this=ids, expressions=[exp.Literal.string(i) for i in table_ids])
        if table_ids
        else exp.false()
    )
    return select_.where(visible, copy=False)


@cache
def _tags_template(on_columns: bool) -> exp.Select:
    text = _TAGS_SQL.format(
        column="g.column_name AS column_name," if on_columns else "",
        on="<>" if on_columns else "=",
    )
    select_ = sqlglot.parse_one(text)
    assert isinstance(select_, exp.Select)
    return select_


def _literal_select(
    columns: dict[str, str], rows: Sequence[tuple[Any, ...]], backend: str
) -> exp.Select:
    """``SELECT column1 AS <name>, … FROM (VALUES …) AS v`` (``column1`` … are the names
    both SQLite and PostgreSQL give VALUES' columns), cast to the column types where the
    backend needs it."""
    values = exp.Values(
        expressions=[
            exp.Tuple(expressions=[_literal(v, backend) for v in row])
            for row in (rows or [tuple(None for _ in columns)])
        ],
        alias=exp.TableAlias(this=exp.to_identifier("v")),
    )
    projections = []
    for position, (name, type_text) in enumerate(columns.items(), start=1):
        value: exp.Expression = exp.column(f"column{position}", table="v")
        if backend == "postgresql":
            # VALUES of text literals are TEXT; NULLs too (an empty result included).
            target = "TIMESTAMPTZ" if type_text == "TIMESTAMP" else "TEXT"
            value = exp.cast(value, target)
        projections.append(exp.alias_(value, name))
    select_ = exp.select(*projections).from_(values)
    return select_ if rows else select_.where(exp.false())


def _literal(value: Any, backend: str) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, datetime):
        # As the backend keeps times: SQLite as UTC text (what the compiler's time
        # rewrites compare with), PostgreSQL as text cast to timestamptz above.
        text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return exp.Literal.string(text if backend == "sqlite" else f"{text}+00:00")
    text = str(value)
    if backend != "postgresql" or "\\" not in text:
        return exp.Literal.string(text)
    # These values were written by other users. A backslash in a PostgreSQL literal means
    # itself only under standard_conforming_strings (the default, and what sqlglot
    # assumes); spelled CHR(92) it means itself under any setting.
    parts = [exp.Literal.string(part) for part in text.split("\\")]
    joined: exp.Expression = parts[0]
    for part in parts[1:]:
        backslash = exp.Chr(expressions=[exp.Literal.number(92)])
        joined = exp.DPipe(this=exp.DPipe(this=joined, expression=backslash), expression=part)
    return joined
