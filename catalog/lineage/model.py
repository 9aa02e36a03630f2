"""What the lineage graph is made of, as plain values (docs/lineage.md).

Recorders (SQL, the registry, OpenLineage) describe what they observed with
these; :func:`catalog.lineage.edge_writer.record_edges` turns them into rows. A node is
identified by ``(node_type, key)``: catalog objects by securable id (so a rename
keeps the lineage and a re-created name starts afresh), model versions by model id
and version, external datasets by a digest of their OpenLineage namespace and name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from catalog.records import SecurableRecord, TableDetailRecord
from common.text import fold_external
from policy.securables import SecurableType


class NodeType(StrEnum):
    TABLE = "TABLE"
    FEATURE_TABLE = "FEATURE_TABLE"
    MODEL = "MODEL"
    MODEL_VERSION = "MODEL_VERSION"
    SERVING_ENDPOINT = "SERVING_ENDPOINT"
    EXTERNAL = "EXTERNAL"


class EdgeKind(StrEnum):
    """How an edge arose; its entity type (``system.access.table_lineage``) follows."""

    SQL = "sql"
    OPENLINEAGE = "openlineage"
    TRAINING = "training"
    FEATURE_LOOKUP = "feature_lookup"
    SERVING = "serving"
    ALIAS = "alias"

    @property
    def entity_type(self) -> str:
        return _ENTITY_TYPES[self]


_ENTITY_TYPES = {
    EdgeKind.SQL: "SQL",
    EdgeKind.OPENLINEAGE: "OPENLINEAGE",
    EdgeKind.TRAINING: "MODEL_VERSION",
    EdgeKind.FEATURE_LOOKUP: "MODEL_VERSION",
    EdgeKind.SERVING: "SERVING_ENDPOINT",
    EdgeKind.ALIAS: "MODEL_ALIAS",
}


@dataclass(frozen=True)
class NodeRef:
    """One node as a recorder names it; the store finds or creates its row."""

    node_type: NodeType
    key: str
    full_name: str | None = None
    securable_id: str | None = None
    version: int | None = None
    namespace: str | None = None
    external_name: str | None = None

    @property
    def identity(self) -> tuple[str, str]:
        return (self.node_type.value, self.key)

    @property
    def path(self) -> str | None:
        if self.node_type is not NodeType.EXTERNAL:
            return None
        return external_path(self.namespace or "", self.external_name or "")

    def name_parts(self) -> tuple[str | None, str | None, str | None]:
        """(catalog, schema, object) of a three-part catalog name; Nones otherwise."""
        parts = (self.full_name or "").split(".")
        if self.node_type is NodeType.EXTERNAL or len(parts) != 3:
            return (None, None, None)
        return (parts[0], parts[1], parts[2])


def securable_node(record: SecurableRecord, detail: TableDetailRecord | None = None) -> NodeRef:
    """The node of a table (a feature table when it has a primary key), model or endpoint."""
    kinds = {
        SecurableType.TABLE: NodeType.TABLE,
        SecurableType.MODEL: NodeType.MODEL,
        SecurableType.SERVING_ENDPOINT: NodeType.SERVING_ENDPOINT,
    }
    node_type = kinds.get(record.securable_type)
    if node_type is None:
        raise ValueError(f"a {record.securable_type.value} is not a lineage node")
    if node_type is NodeType.TABLE and detail is not None and detail.is_feature_table:
        node_type = NodeType.FEATURE_TABLE
    return NodeRef(node_type, record.id, record.full_name, securable_id=record.id)


def model_version_node(model: SecurableRecord, version: int) -> NodeRef:
    return NodeRef(
        NodeType.MODEL_VERSION,
        f"{model.id}/{version}",
        model.full_name,
        securable_id=model.id,
        version=version,
    )


def external_node(namespace: str, name: str) -> NodeRef:
    """An external dataset (or job) by its OpenLineage namespace and name.

    Both are NFC-normalised here too (OpenLineage events already are, at the boundary), so
    every recorder keys one dataset the same way whichever normal form it was handed;
    migration c0008 keys the nodes stored before by the same digest.
    """
    namespace, name = fold_external(namespace), fold_external(name)
    digest = hashlib.sha256(f"{namespace}\x00{name}".encode()).hexdigest()
    return NodeRef(
        NodeType.EXTERNAL, f"ext:{digest}", None, namespace=namespace, external_name=name
    )


def external_path(namespace: str, name: str) -> str:
    if not namespace:
        return name
    return f"{namespace.rstrip('/')}/{name.lstrip('/')}"


@dataclass(frozen=True)
class Edge:
    """A table-level observation ``source → target``."""

    source: NodeRef
    target: NodeRef
    kind: EdgeKind
    #: The recording entity (an OpenLineage job, a statement id …), kept from the last time.
    entity_id: str | None = None


@dataclass(frozen=True)
class ColumnEdge:
    """A column-level observation ``source.source_column → target.target_column``."""

    source: NodeRef
    source_column: str
    target: NodeRef
    target_column: str
    kind: EdgeKind
    entity_id: str | None = None
