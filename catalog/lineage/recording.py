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
from catalog.store.base import NamespaceStore
from policy.securables import SecurableType


def table_nodes(store: NamespaceStore, full_names: Iterable[str]) -> dict[str, NodeRef]:
    """The nodes of the tables (feature tables) among ``full_names`` that exist."""
    records = {
        name: record
        for name, record in store.get_many(set(full_names)).items()
        if record.securable_type is SecurableType.TABLE
    }
    details = store.get_table_details([r.id for r in records.values()])
    return {name: securable_node(r, details.get(r.id)) for name, r in records.items()}


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
