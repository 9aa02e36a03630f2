"""Views: ``CREATE [OR REPLACE] VIEW c.s.v AS SELECT …`` and reading them.

A view is a TABLE securable of type VIEW whose definition is its query, stored with every
table name fully qualified (so it means the same whatever the reader's default catalog
and schema). Creating one needs CREATE TABLE on the schema and — as the query is planned
and authorized for its creator — the right to read what it reads; its columns are the
query's. Lineage edges from the tables it reads to the view are recorded with it.

Reading a view needs SELECT on it (with the usage gates), and nothing on what it reads:
:func:`expand_views` puts each view's query in place of the reference, before the query
is checked and resolved, marking the tables inside with the view's owner. The resolver
(:class:`catalog.sql.sources.CatalogResolver`) authorizes those as the owner — the view
reads with its owner's rights, as on Databricks — while their row filters and masks are
bound for the querying user, and ``current_user()`` / ``is_member()`` inside the view
answer for the querying user too (what makes Databricks' "dynamic views" work). A view
over views expands recursively, each level with its own owner; a cycle or more than
:data:`MAX_DEPTH` levels is an error. A view whose owner no longer exists cannot be read
(fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from catalog.records import ColumnRecord, TableDetailRecord
from common.errors import InvalidParameter
from policy.dialect import SqlSyntaxError, parse_statement, to_sql

#: ``exp.Table.meta`` key: the principal whose rights a table inside a view is read with.
VIEW_OWNER_META = "steward_view_owner"
#: Views over views, at most this deep.
MAX_DEPTH = 16
VIEW = "VIEW"


@dataclass(frozen=True)
class ViewDefinition:
    full_name: str
    owner: str
    query: str


def view_detail(columns: list[ColumnRecord], query: exp.Query) -> TableDetailRecord:
    """A view's stored definition: its columns and its (qualified) query's canonical SQL."""
    return TableDetailRecord(
        table_type=VIEW,
        data_source_format=None,
        view_definition=to_sql(query),
        columns=columns,
    )


def qualify_tables(query: exp.Query, catalog: str | None, schema: str | None) -> exp.Query:
    """A copy of ``query`` with every table name (not its own CTEs) given the default
    catalog and schema it lacks; a name the defaults cannot complete is left for the
    planner to refuse with its usual error."""
    query = query.copy()
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        parts = table.parts
        if len(parts) == 1 and parts[0].name.lower() in ctes:
            continue
        if len(parts) < 3 and schema is not None and not table.args.get("db"):
            table.set("db", exp.to_identifier(schema))
        if len(table.parts) < 3 and catalog is not None and not table.args.get("catalog"):
            table.set("catalog", exp.to_identifier(catalog))
    return query


def expand_views(
    tree: exp.Expression, view_of: Callable[[exp.Table], ViewDefinition | None]
) -> exp.Expression:
    """``tree`` with every reference to a view replaced by the view's query (aliased as the
    reference was), the tables inside marked with the view's owner. ``view_of`` answers
    whether a reference is a view the reader at that level may read (and raises as for a
    table when it may not); None for anything that is not a view."""
    return _expand(tree, view_of, ())


def _expand(
    tree: exp.Expression,
    view_of: Callable[[exp.Table], ViewDefinition | None],
    chain: tuple[str, ...],
) -> exp.Expression:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        parts = table.parts
        if len(parts) == 1 and parts[0].name.lower() in ctes:
            continue
        view = view_of(table)
        if view is None:
            continue
        if view.full_name in chain:
            path = " → ".join([*chain, view.full_name])
            raise InvalidParameter(f"view '{view.full_name}' reads itself ({path})")
        if len(chain) >= MAX_DEPTH:
            raise InvalidParameter(
                f"views are nested more than {MAX_DEPTH} deep at '{view.full_name}'"
            )
        try:
            body = parse_statement(view.query)
        except SqlSyntaxError as err:  # stored canonical SQL; never expected
            raise InvalidParameter(f"view '{view.full_name}' cannot be read: {err}") from None
        for inner in body.find_all(exp.Table):
            inner.meta[VIEW_OWNER_META] = view.owner
        body = _expand(body, view_of, (*chain, view.full_name))
        alias = table.args.get("alias")
        name = alias.this if alias is not None else exp.to_identifier(table.name)
        subquery = exp.Subquery(this=body, alias=exp.TableAlias(this=name))
        if tree is table:
            return subquery
        table.replace(subquery)
    return tree
