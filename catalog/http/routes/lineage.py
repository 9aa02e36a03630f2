"""Lineage over HTTP (docs/lineage.md): OpenLineage in, the graph out.

* ``POST /api/v1/lineage`` takes an OpenLineage RunEvent, as Marquez does, so
  existing producers (Spark, Airflow, dbt integrations) can point at Steward.
* ``GET /api/2.1/steward/lineage?full_name=…&direction=…&depth=N`` returns the
  neighbourhood of a table, model or serving endpoint as ``{nodes, edges}``
  (``node_id=EXTERNAL:…`` instead of ``full_name``: of an external dataset).

Both routes declare ``AUTHENTICATED``: what they need depends on the body or on the
object the name turns out to be (a table or a model; each catalog table an event
names), so the handler checks it through the one authorizer — seeing the object read
(docs/privileges.md, "Visibility"; one that is hidden answers as a missing one), seeing
the catalog inputs and MODIFY on the catalog outputs of an event. See
:mod:`catalog.lineage.lineage_service` for the rules and why. Before any of that, an
event must be within the budgets of ``STEWARD_LINEAGE_MAX_*`` (the settings; see
:mod:`catalog.lineage.openlineage`), or it is refused with 413 having done nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from catalog.audit.recorder import current_scope
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import AUTHENTICATED, guard
from catalog.lineage.graph import Direction
from catalog.lineage.lineage_service import MAX_DEPTH, LineageGraph, LineageService
from catalog.lineage.openlineage import EventBudget, RunEvent, is_catalog_namespace
from common.errors import InvalidParameter

router = APIRouter(tags=["Lineage"])


class PostLineageResponse(BaseModel):
    #: Distinct table and column edges this event observed (0 for START, RUNNING …).
    recorded_edges: int
    recorded_column_edges: int


class LineageNodeInfo(BaseModel):
    #: ``TYPE:key`` for a node the caller may see; ``redacted-<n>`` otherwise.
    id: str
    type: str
    #: Full name (external datasets: ``namespace/name``); null when redacted.
    name: str | None
    redacted: bool
    version: int | None = Field(default=None, exclude_if=lambda v: v is None)


class LineageEdgeInfo(BaseModel):
    source: str
    target: str
    kind: str
    #: ISO 8601, UTC (``2026-01-02T03:04:05.678901Z``).
    first_seen: str
    last_seen: str
    count: int
    principal: str | None
    request_id: str | None


class LineageColumnEdgeInfo(BaseModel):
    source: str
    #: Null when the source node is redacted.
    source_column: str | None
    target: str
    target_column: str | None
    kind: str
    #: ISO 8601, UTC (``2026-01-02T03:04:05.678901Z``).
    first_seen: str
    last_seen: str
    count: int


class LineageResponse(BaseModel):
    nodes: list[LineageNodeInfo]
    edges: list[LineageEdgeInfo]
    column_edges: list[LineageColumnEdgeInfo] | None = Field(
        default=None, exclude_if=lambda v: v is None
    )
    #: True when the neighbourhood was larger than one answer holds.
    truncated: bool = False


def service(rt: RuntimeDep) -> LineageService:
    return LineageService(rt.db, rt.authorizer, rt.stores, EventBudget.from_settings(rt.settings))


@router.post(
    "/api/v1/lineage",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="postLineageEvent",
    status_code=201,
)
def post_lineage_event(event: RunEvent, caller: CallerDep, rt: RuntimeDep) -> PostLineageResponse:
    """Record an OpenLineage RunEvent: each input → each output, plus column lineage.
    Over the event budgets (docs/lineage.md): 413, nothing looked up or written."""
    scope = current_scope()
    if scope is not None:
        # The audit event is about what was written: the first catalog output, else the job.
        catalog_outputs = [d.name for d in event.outputs if is_catalog_namespace(d.namespace)]
        scope.object_name = (catalog_outputs or [event.job_path])[0][:1024]
    recorded = service(rt).post_event(caller, event)
    return PostLineageResponse(
        recorded_edges=recorded.edges, recorded_column_edges=recorded.column_edges
    )


@router.get(
    "/api/2.1/steward/lineage",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="getLineage",
)
def get_lineage(
    caller: CallerDep,
    rt: RuntimeDep,
    full_name: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
    node_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    direction: Direction = Direction.BOTH,
    depth: Annotated[int, Query(ge=1, le=MAX_DEPTH)] = 3,
    include_columns: bool = False,
) -> LineageResponse:
    """Upstream, downstream or both, up to ``depth`` hops; nodes the caller may not see
    come back redacted. Starts at ``full_name`` (a table, model or serving endpoint: the
    caller must see it — BROWSE, or any privilege on it such as SELECT on a table; one the
    caller may not see answers as a missing one) or at ``node_id``, the id an answer gave
    an external dataset (``EXTERNAL:ext:…``), which has no catalog name to ask by."""
    if (full_name is None) == (node_id is None):
        raise InvalidParameter("give exactly one of full_name and node_id")
    lineage = service(rt)
    if node_id is not None:
        graph = lineage.graph_of_external(caller, node_id, direction, depth, include_columns)
    else:
        assert full_name is not None
        graph = lineage.graph(caller, full_name, direction, depth, include_columns)
    return _response(graph)


def _response(graph: LineageGraph) -> LineageResponse:
    """Built without re-validating what the service already typed: an answer may hold
    thousands of nodes and edges."""
    return LineageResponse.model_construct(
        nodes=[LineageNodeInfo.model_construct(**vars(n)) for n in graph.nodes],
        edges=[LineageEdgeInfo.model_construct(**vars(e)) for e in graph.edges],
        column_edges=None
        if graph.column_edges is None
        else [LineageColumnEdgeInfo.model_construct(**vars(c)) for c in graph.column_edges],
        truncated=graph.truncated,
    )
