"""The lineage graph (docs/lineage.md): what came from what.

* :mod:`~catalog.lineage.model` — nodes and edges as values;
* :mod:`~catalog.lineage.edge_writer` — :func:`record_edges`, inside the caller's transaction;
* :mod:`~catalog.lineage.graph` — the breadth-first reads;
* :mod:`~catalog.lineage.sql_lineage` — table and column lineage of a write statement (sqlglot);
* :mod:`~catalog.lineage.openlineage` — OpenLineage RunEvents;
* :mod:`~catalog.lineage.recording` — catalog names to nodes, SQL lineage to edges;
* :mod:`~catalog.lineage.lineage_service` — reads with redaction, and posting events, as the API
  and CLI use them.
"""

from catalog.lineage.edge_writer import Recorded, record_edges
from catalog.lineage.model import (
    ColumnEdge,
    Edge,
    EdgeKind,
    NodeRef,
    NodeType,
    external_node,
    model_version_node,
    securable_node,
)

__all__ = [
    "ColumnEdge",
    "Edge",
    "EdgeKind",
    "NodeRef",
    "NodeType",
    "Recorded",
    "external_node",
    "model_version_node",
    "record_edges",
    "securable_node",
]
