"""What a model version declares it was built from: training tables and feature lookups.

They are stored with the version (returned by the API) and become lineage edges
``table → model version`` of kind ``training`` or ``feature_lookup`` when the version
is created, in the same transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import orjson

from catalog.lineage import Edge, EdgeKind, NodeRef, model_version_node
from catalog.names import normalize_full_name
from catalog.records import SecurableRecord
from common.errors import InvalidParameter
from policy.securables import SecurableType

MAX_DEPENDENCIES = 100


@dataclass(frozen=True)
class FeatureLookupSpec:
    """Databricks' ``FeatureLookup``: which features of which table, joined on which keys."""

    table_name: str
    lookup_key: list[str]
    feature_names: list[str] | None = None
    timestamp_lookup_key: str | None = None
    #: Feature column → the model input's name for it (Databricks' ``rename_outputs``).
    rename_outputs: dict[str, str] | None = None

    def output_name(self, feature: str) -> str:
        return (self.rename_outputs or {}).get(feature, feature)


@dataclass(frozen=True)
class Dependencies:
    training_tables: list[str] = field(default_factory=list)
    feature_lookups: list[FeatureLookupSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.training_tables) + len(self.feature_lookups) > MAX_DEPENDENCIES:
            raise InvalidParameter(f"a version may declare at most {MAX_DEPENDENCIES} dependencies")
        for name in self.table_names():
            normalize_full_name(name, SecurableType.TABLE)
        for lookup in self.feature_lookups:
            if not lookup.lookup_key:
                raise InvalidParameter(
                    f"feature lookup on '{lookup.table_name}' needs a lookup_key"
                )

    def __bool__(self) -> bool:
        return bool(self.training_tables or self.feature_lookups)

    def table_names(self) -> list[str]:
        names = [*self.training_tables, *(f.table_name for f in self.feature_lookups)]
        return sorted({normalize_full_name(n, SecurableType.TABLE) for n in names})

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str | None) -> Dependencies | None:
        if not text:
            return None
        data = orjson.loads(text)
        return cls(
            training_tables=list(data.get("training_tables", [])),
            feature_lookups=[FeatureLookupSpec(**f) for f in data.get("feature_lookups", [])],
        )

    def edges(self, tables: dict[str, NodeRef], model: SecurableRecord, version: int) -> list[Edge]:
        """``tables``: the lineage node of each name in :meth:`table_names`."""
        target = model_version_node(model, version)
        edges = []
        for name in self.training_tables:
            node = tables[normalize_full_name(name, SecurableType.TABLE)]
            edges.append(Edge(node, target, EdgeKind.TRAINING))
        for lookup in self.feature_lookups:
            node = tables[normalize_full_name(lookup.table_name, SecurableType.TABLE)]
            edges.append(Edge(node, target, EdgeKind.FEATURE_LOOKUP))
        return edges
