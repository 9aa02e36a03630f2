"""Lineage as the HTTP API and the CLI use it: record OpenLineage events, read the graph.

Who may do what
---------------
* Reading lineage from an object needs to see it (docs/privileges.md, "Visibility": BROWSE,
  or any privilege that applies to it — SELECT on a table, EXECUTE on a model, QUERY on an
  endpoint —, on it or inherited; owning it or a container; being a metastore admin). An
  object the caller cannot see answers exactly as a missing one. A model's lineage
  includes its versions'. Every other node comes back only if the caller sees it by the
  same rule; otherwise it is a placeholder ``{id: "redacted-<n>", type, name: null}`` whose
  edges keep their shape, so the caller learns that *something* lies between two
  objects it can see, never what. A node whose catalog object was dropped is shown to
  metastore admins only. External datasets are not securables and are always shown.
* Posting an OpenLineage event that names catalog tables needs to see each input
  table (a caller cannot assert lineage from, or probe for, tables it cannot see) and
  MODIFY on each output table (as writing it would; USE CATALOG and USE SCHEMA
  included), or being a metastore admin for outputs: lineage is metadata, which
  metastore admins manage (docs/privileges.md), even where they hold no data privilege.
  Events about external datasets only need an authenticated caller.
* Before any of that, an event must be within the budgets of
  :class:`~catalog.lineage.openlineage.EventBudget` (inputs, outputs, column-lineage
  fields, edges; docs/lineage.md): an event over budget is refused having looked up,
  authorized and written nothing, whoever posts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from catalog.access.authorizer import Authorizer, Caller, Hidden, ancestor_names
from catalog.lineage.edge_writer import CHUNK, Recorded, record_edges
from catalog.lineage.graph import (
    ColumnEdgeRow,
    Direction,
    EdgeRow,
    NodeRow,
    Traversal,
    column_edges_among,
    external_start_nodes,
    load_nodes,
    start_nodes,
    traverse,
)
from catalog.lineage.model import (
    ColumnEdge,
    Edge,
    EdgeKind,
    NodeRef,
    NodeType,
    external_node,
    securable_node,
)
from catalog.lineage.openlineage import (
    ColumnLineageField,
    Dataset,
    EventBudget,
    RunEvent,
    is_catalog_namespace,
)
from catalog.names import normalize_part
from catalog.persistence.engine import Database
from catalog.records import SecurableRecord, TableDetailRecord
from catalog.store.base import NamespaceStore
from catalog.store.factory import CatalogStores
from common.errors import InvalidParameter, NotFound, PermissionDenied
from policy.securables import Privilege, SecurableType

#: Most nodes one read returns; a larger neighbourhood comes back ``truncated``.
MAX_NODES = 10_000
MAX_DEPTH = 20
LINEAGE_TYPES = (SecurableType.TABLE, SecurableType.MODEL, SecurableType.SERVING_ENDPOINT)


@dataclass(frozen=True)
class NodeView:
    id: str
    type: str
    name: str | None
    redacted: bool
    version: int | None = None


@dataclass(frozen=True)
class EdgeView:
    source: str
    target: str
    kind: str
    #: ISO 8601, UTC.
    first_seen: str
    last_seen: str
    count: int
    principal: str | None
    request_id: str | None


@dataclass(frozen=True)
class ColumnEdgeView:
    source: str
    source_column: str | None
    target: str
    target_column: str | None
    kind: str
    first_seen: str
    last_seen: str
    count: int


@dataclass
class LineageGraph:
    nodes: list[NodeView]
    edges: list[EdgeView]
    column_edges: list[ColumnEdgeView] | None = None
    truncated: bool = False


@dataclass
class _Ids:
    """Public node ids: ``TYPE:key`` when visible, ``redacted-<n>`` (numbered per answer)."""

    visible: dict[int, bool]
    rows: dict[int, NodeRow]
    public: dict[int, str] = field(default_factory=dict)
    hidden: int = 0

    def of(self, node_id: int) -> str:
        if node_id not in self.public:
            row = self.rows[node_id]
            if self.visible[node_id]:
                self.public[node_id] = f"{row.node_type}:{row.node_key}"
            else:
                self.hidden += 1
                self.public[node_id] = f"redacted-{self.hidden}"
        return self.public[node_id]


class LineageService:
    def __init__(
        self,
        db: Database,
        authorizer: Authorizer,
        stores: CatalogStores,
        budget: EventBudget | None = None,
    ) -> None:
        self.db = db
        self.authorizer = authorizer
        self.stores = stores
        self.budget = budget or EventBudget()

    # -- reads ----------------------------------------------------------------------------

    def graph(
        self,
        caller: Caller,
        full_name: str,
        direction: Direction,
        depth: int,
        include_columns: bool = False,
        max_nodes: int = MAX_NODES,
    ) -> LineageGraph:
        """The neighbourhood of ``full_name`` within ``depth`` hops, redacted for ``caller``."""
        name = _object_name(full_name)
        with self.db.read() as session:
            store = self.stores.namespace(session)
            record = store.get_by_full_name(name)
            missing = f"no table, model or serving endpoint '{name}' exists"
            if record is None or record.securable_type not in LINEAGE_TYPES:
                raise NotFound(missing)
            self._require_visible(caller, record, store, missing)
            details = store.get_table_details([record.id])
            start = start_nodes(session, record.id)
            walked, rows, visible, columns = self._walk(
                session, caller, store, start, direction, depth, include_columns, max_nodes
            )
        if not start:  # never recorded: the object alone
            node_type = securable_node(record, details.get(record.id)).node_type.value
            only = NodeView(f"{node_type}:{record.id}", node_type, record.full_name, False)
            return LineageGraph([only], [], [] if include_columns else None)
        return self._view(walked, rows, visible, columns)

    def graph_of_external(
        self,
        caller: Caller,
        node_id: str,
        direction: Direction,
        depth: int,
        include_columns: bool = False,
        max_nodes: int = MAX_NODES,
    ) -> LineageGraph:
        """The neighbourhood of an external dataset, named by the id a graph gave it
        (``EXTERNAL:ext:…``): it has no catalog name to ask by. Everyone sees external
        datasets; what lies around them is redacted as in :meth:`graph`."""
        node_type, _, key = node_id.partition(":")
        if node_type != NodeType.EXTERNAL.value or not key:
            raise InvalidParameter(
                f"node_id '{node_id}' is not an external dataset's id (EXTERNAL:…); name "
                "tables, models and serving endpoints by full_name"
            )
        with self.db.read() as session:
            store = self.stores.namespace(session)
            start = external_start_nodes(session, key)
            if not start:
                raise NotFound(f"no external dataset '{node_id}' has lineage")
            walked, rows, visible, columns = self._walk(
                session, caller, store, start, direction, depth, include_columns, max_nodes
            )
        return self._view(walked, rows, visible, columns)

    def _walk(
        self,
        session: Session,
        caller: Caller,
        store: NamespaceStore,
        start: list[int],
        direction: Direction,
        depth: int,
        include_columns: bool,
        max_nodes: int,
    ) -> tuple[Traversal, dict[int, NodeRow], dict[int, bool], list[ColumnEdgeRow] | None]:
        walked = traverse(session, start, direction, depth, max_nodes)
        rows = load_nodes(session, walked.node_ids)
        visible = self._visibility(caller, rows, store, set(start))
        columns = column_edges_among(session, rows) if include_columns else None
        return walked, rows, visible, columns

    @staticmethod
    def _view(
        walked: Traversal,
        rows: dict[int, NodeRow],
        visible: dict[int, bool],
        columns: list[ColumnEdgeRow] | None,
    ) -> LineageGraph:
        ids = _Ids(visible, rows)
        nodes = [_node_view(ids.of(n), rows[n], visible[n]) for n in walked.node_ids]
        edges = [_edge_view(ids, e) for e in walked.edges]
        column_views = None
        if columns is not None:
            column_views = [_column_view(ids, visible, c) for c in columns]
        return LineageGraph(nodes, edges, column_views, walked.truncated)

    def _require_visible(
        self, caller: Caller, record: SecurableRecord, store: NamespaceStore, missing: str
    ) -> None:
        """Reading lineage needs to see the object; one that is hidden answers with
        ``missing``, exactly what a missing name answers (whatever level is hidden)."""
        chain = self.authorizer.resolve_chain(record.full_name, record.securable_type, store)
        if not self.authorizer.sees(caller, chain):
            denial = PermissionDenied(
                f"a privilege on {record.securable_type.value} '{record.full_name}' is "
                "required to read its lineage"
            )
            raise Hidden(missing, denial)

    def _visibility(
        self,
        caller: Caller,
        rows: dict[int, NodeRow],
        store: NamespaceStore,
        start: set[int],
    ) -> dict[int, bool]:
        if caller.is_metastore_admin:
            return dict.fromkeys(rows, True)
        names = {r.full_name for r in rows.values() if r.securable_id and r.exists}
        records = store.get_many({a for n in names if n for a in ancestor_names(n)})
        visible: dict[int, bool] = {}
        for node_id, row in rows.items():
            if node_id in start or row.securable_id is None:
                visible[node_id] = True
            elif not row.exists or row.full_name is None:
                visible[node_id] = False
            else:
                chain = [records.get(a) for a in ancestor_names(row.full_name)]
                visible[node_id] = all(chain) and self.authorizer.sees(
                    caller, [c for c in chain if c is not None]
                )
        return visible

    # -- OpenLineage ----------------------------------------------------------------------

    def post_event(self, caller: Caller, event: RunEvent) -> Recorded:
        """Check the event against the budget (before any work), then its catalog
        datasets, and record its edges in one transaction."""
        self.budget.check(event)
        job = event.job_path
        with self.db.transaction() as session:
            resolve = _Resolver(self.stores.namespace(session), caller, self.authorizer)
            outputs = [resolve.dataset(d, output=True) for d in event.outputs]
            inputs = [resolve.dataset(d, output=False) for d in event.inputs]
            columns = [
                (resolve.dataset(source.dataset, output=False), source.field, target, column)
                for dataset, target in zip(event.outputs, outputs, strict=True)
                for column, lineage in _column_lineage(dataset)
                for source in lineage.inputFields
            ]
            if not event.records:
                return Recorded(0, 0)
            node = resolve.nodes()
            edges: list[Edge | ColumnEdge] = [
                Edge(node[i], node[o], EdgeKind.OPENLINEAGE, job) for o in outputs for i in inputs
            ]
            edges.extend(
                ColumnEdge(
                    node[source],
                    _column(node[source], source_column),
                    node[target],
                    _column(node[target], target_column),
                    EdgeKind.OPENLINEAGE,
                    job,
                )
                for source, source_column, target, target_column in columns
            )
            return record_edges(session, edges)


#: A dataset as the resolver knows it: namespace, name, and whether it is an output.
_Key = tuple[str, str, bool]


class _Resolver:
    """Checks each catalog table an event names once per role, then maps datasets to
    nodes with one lookup of the tables' details (a table with a primary key is a
    feature table), not one per table."""

    def __init__(self, store: NamespaceStore, caller: Caller, authorizer: Authorizer) -> None:
        self.store = store
        self.caller = caller
        self.authorizer = authorizer
        self.checked: dict[_Key, NodeRef | SecurableRecord] = {}

    def dataset(self, dataset: Dataset, output: bool) -> _Key:
        key = (dataset.namespace, dataset.name, output)
        if key not in self.checked:
            self.checked[key] = self._resolve(dataset, output)
        return key

    def nodes(self) -> dict[_Key, NodeRef]:
        tables = sorted({v.id for v in self.checked.values() if isinstance(v, SecurableRecord)})
        details: dict[str, TableDetailRecord] = {}
        for start in range(0, len(tables), CHUNK):
            details.update(self.store.get_table_details(tables[start : start + CHUNK]))
        return {
            key: found
            if isinstance(found, NodeRef)
            else securable_node(found, details.get(found.id))
            for key, found in self.checked.items()
        }

    def _resolve(self, dataset: Dataset, output: bool) -> NodeRef | SecurableRecord:
        if not is_catalog_namespace(dataset.namespace):
            return external_node(dataset.namespace, dataset.name)
        parts = dataset.name.split(".")
        if len(parts) != 3:
            raise InvalidParameter(
                f"dataset '{dataset.name}' in namespace '{dataset.namespace}' names a catalog "
                "table, so its name must look like 'catalog.schema.table'"
            )
        name = ".".join(normalize_part(p, "dataset name part") for p in parts)
        privilege = Privilege.BROWSE
        if output and not self.caller.is_metastore_admin:
            privilege = Privilege.MODIFY
        # The table itself: NotFound when there is none or the caller may not see it (BROWSE
        # is seeing it), PermissionDenied when it sees it but may not write it.
        record = self.authorizer.require_privilege(
            self.caller, privilege, SecurableType.TABLE, name, self.store
        )
        assert record is not None
        return record


def _column_lineage(dataset: Dataset) -> Iterator[tuple[str, ColumnLineageField]]:
    """An output's ``columnLineage`` facet: each column and where it came from."""
    facet = dataset.facets.columnLineage if dataset.facets else None
    return iter(facet.fields.items() if facet else ())


def _column(node: NodeRef, name: str) -> str:
    """Catalog column names are case-insensitive and kept lower-case; external ones as given."""
    return name if node.node_type is NodeType.EXTERNAL else name.lower()


def _object_name(full_name: str) -> str:
    parts = full_name.split(".") if isinstance(full_name, str) else []
    if len(parts) not in (1, 3):
        raise InvalidParameter(
            f"full_name '{full_name}' must name a table or model ('catalog.schema.name') "
            "or a serving endpoint"
        )
    return ".".join(normalize_part(p, "full_name") for p in parts)


def _node_view(public_id: str, row: NodeRow, visible: bool) -> NodeView:
    if not visible:
        return NodeView(public_id, row.node_type, None, True)
    name = row.path if row.node_type == NodeType.EXTERNAL.value else row.full_name
    return NodeView(public_id, row.node_type, name, False, row.version)


def _edge_view(ids: _Ids, e: EdgeRow) -> EdgeView:
    return EdgeView(
        ids.of(e.source_id),
        ids.of(e.target_id),
        e.kind,
        e.first_seen,
        e.last_seen,
        e.count,
        e.principal,
        e.request_id,
    )


def _column_view(ids: _Ids, visible: dict[int, bool], c: ColumnEdgeRow) -> ColumnEdgeView:
    return ColumnEdgeView(
        ids.of(c.source_id),
        c.source_column if visible[c.source_id] else None,
        ids.of(c.target_id),
        c.target_column if visible[c.target_id] else None,
        c.kind,
        c.first_seen,
        c.last_seen,
        c.count,
    )
