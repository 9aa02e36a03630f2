"""Helpers for operations that record lineage: catalog names to nodes, SQL lineage to edges.

An operation resolves what it read and wrote inside its own transaction and hands
the edges to :func:`catalog.lineage.edge_writer.record_edges` there, e.g. the statement
executor, once it writes data::

    found = statement_lineage(tree, columns, catalog=default_catalog, schema=default_schema)
    record_edges(session, sql_edges(stores.namespace(session), found, statement_id))
"""

from __future__ import annotations

from collections.abc import Iterable

from catalog.lineage.model import ColumnEdge, Edge, EdgeKind, NodeRef, securable_node
from catalog.lineage.sql_lineage import SqlLineage
from catalog.names import normalize_full_name
from catalog.store.base import NamespaceStore
from common.errors import InvalidParameter
from policy.securables import SecurableType


def table_nodes(store: NamespaceStore, full_names: Iterable[str]) -> dict[str, NodeRef]:
    """The nodes of the tables (feature tables) among ``full_names`` that exist, keyed by
    the names as given; each is looked up by its stored spelling (:mod:`catalog.names`),
    so a name in another normal form still finds its table."""
    stored = {name: _stored_name(name) for name in set(full_names)}
    found = store.get_many(set(stored.values()))
    records = {
        name: found[canonical]
        for name, canonical in stored.items()
        if canonical in found and found[canonical].securable_type is SecurableType.TABLE
    }
    details = store.get_table_details([r.id for r in records.values()])
    return {name: securable_node(r, details.get(r.id)) for name, r in records.items()}


def _stored_name(full_name: str) -> str:
    """A table's stored full name; a name that is none is looked up as it is (and not found)."""
    try:
        return normalize_full_name(full_name, SecurableType.TABLE)
    except InvalidParameter:
        return full_name


def sql_edges(
    store: NamespaceStore, lineage: SqlLineage, entity_id: str | None = None
) -> list[Edge | ColumnEdge]:
    """Edges of kind ``sql`` for a computed statement lineage; names that are not catalog
    tables (yet) are left out."""
    nodes = table_nodes(store, [lineage.target, *lineage.sources])
    target = nodes.get(lineage.target)
    if target is None:
        return []
    edges: list[Edge | ColumnEdge] = [
        Edge(nodes[s], target, EdgeKind.SQL, entity_id) for s in lineage.sources if s in nodes
    ]
    edges.extend(
        ColumnEdge(
            nodes[c.source_table],
            c.source_column,
            target,
            c.target_column,
            EdgeKind.SQL,
            entity_id,
        )
        for c in lineage.columns
        if c.source_table in nodes
    )
    return edges
