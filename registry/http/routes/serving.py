"""``/api/2.0/serving-endpoints`` (Databricks' paths and JSON) and the invocation route.

Audit: the CRUD routes are audited like every other route (one event in the change's
transaction). An invocation's event — and its inference table row — go through the
group commit (:mod:`catalog.audit.group_commit`); the response is sent only once they are
durable. Refusals before the route runs (no token, no QUERY, no such endpoint) get their
event from the audit middleware, also before the response.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi import Response as HttpResponse
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from catalog.audit.recorder import AuditScope, detached
from catalog.data.assumed_versions import AssumedVersions, StaleAssumption
from catalog.http.deps import CallerDep, caller_of, read_body_first
from catalog.http.direct import DIRECT
from catalog.http.guards import AUTHENTICATED, guard
from catalog.http.models import Empty, RequestBody
from catalog.http.request_audit import BODY_NOT_AUDITED, note_params
from catalog.logs import get_logger
from common.errors import InvalidParameter, StewardError
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType
from registry.http.deps import ServingDep, services_of
from registry.serving import inputs
from registry.serving.cache import TTL
from registry.serving.config import EndpointConfig, parse_config
from registry.serving.endpoint_service import Endpoint, ServingService
from registry.serving.invocation import Outcome
from registry.serving.tags import MAX_TAGS, EndpointTag

ENDPOINT = SecurableType.SERVING_ENDPOINT
BY_NAME = NameFrom.path("name")
PAGE_MAX = 100
router = APIRouter(prefix="/api/2.0/serving-endpoints", tags=["ServingEndpoints"])
invocations = APIRouter(tags=["ServingEndpoints"])
_log = get_logger("steward.serving")


# -- bodies ----------------------------------------------------------------------------------


class ServedEntityInput(RequestBody):
    entity_name: str = Field(min_length=1, max_length=1024)
    entity_version: str | int | None = None
    alias: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    traffic_percentage: int | None = None
    #: Databricks sizing fields: accepted and ignored (Steward serves in-process).
    workload_size: str | None = None
    scale_to_zero_enabled: bool | None = None


class Route(RequestBody):
    served_model_name: str | None = None
    served_entity_name: str | None = None
    traffic_percentage: int


class TrafficConfig(RequestBody):
    routes: list[Route] = Field(default_factory=list, max_length=15)


class AutoCaptureConfig(RequestBody):
    catalog_name: str
    schema_name: str
    table_name_prefix: str
    enabled: bool = True


class EndpointCoreConfigInput(RequestBody):
    #: The Databricks SDK always sends the endpoint's name here too; on create it must
    #: be the endpoint's name (a different one is a 400, not silently ignored).
    name: str | None = Field(default=None, max_length=255)
    served_entities: list[ServedEntityInput] = Field(max_length=15)
    traffic_config: TrafficConfig | None = None
    auto_capture_config: AutoCaptureConfig | None = None

    def to_domain(self) -> EndpointConfig:
        return parse_config(
            [e.model_dump(exclude_none=True) for e in self.served_entities],
            [r.model_dump(exclude_none=True) for r in self.traffic_config.routes]
            if self.traffic_config
            else None,
            self.auto_capture_config.model_dump() if self.auto_capture_config else None,
        )


class EndpointTagBody(RequestBody):
    """Databricks' ``EndpointTag``: a label on the endpoint (registry/serving/tags.py)."""

    key: str = Field(max_length=255)
    value: str | None = Field(default=None, max_length=255)

    def to_domain(self) -> EndpointTag:
        return EndpointTag(self.key, self.value)


class CreateServingEndpoint(RequestBody):
    name: str = Field(min_length=1, max_length=255)
    config: EndpointCoreConfigInput
    tags: list[EndpointTagBody] | None = Field(default=None, max_length=MAX_TAGS)
    #: Databricks' routing option: accepted and ignored (Steward serves in-process).
    route_optimized: bool | None = None


class PatchTags(RequestBody):
    """Databricks' ``serving_endpoints.patch``: tags to add (or give a new value) and keys
    to delete, in one change."""

    add_tags: list[EndpointTagBody] = Field(default_factory=list, max_length=MAX_TAGS)
    delete_tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)


class EndpointTags(BaseModel):
    tags: list[dict[str, str]]


class EndpointResponse(BaseModel):
    name: str
    id: str
    creator: str
    creation_timestamp: int
    last_updated_timestamp: int
    state: dict[str, str]
    config: dict[str, Any]
    #: Steward: the endpoint's owner (Databricks shows permission levels instead).
    owner: str
    tags: list[dict[str, str]] = Field(default_factory=list)


class ListEndpointsResponse(BaseModel):
    endpoints: list[EndpointResponse]
    next_page_token: str | None = None


def endpoint_info(found: Endpoint) -> EndpointResponse:
    record, row = found.record, found.row
    config = row.config
    entities = []
    for e in config.served_entities:
        entity: dict[str, Any] = {"name": e.name, "entity_name": e.entity_name}
        if e.alias is not None:
            entity["alias"] = e.alias
        else:
            entity["entity_version"] = str(e.entity_version)
        entity["traffic_percentage"] = e.traffic_percentage
        entity["state"] = {"deployment": "DEPLOYMENT_READY"}
        entities.append(entity)
    body: dict[str, Any] = {
        "served_entities": entities,
        "traffic_config": {
            "routes": [
                {
                    "served_model_name": e.name,
                    "served_entity_name": e.name,
                    "traffic_percentage": e.traffic_percentage,
                }
                for e in config.served_entities
            ]
        },
        "config_version": row.config_version,
    }
    if config.auto_capture is not None:
        capture = config.auto_capture
        body["auto_capture_config"] = {
            "catalog_name": capture.catalog_name,
            "schema_name": capture.schema_name,
            "table_name_prefix": capture.table_name_prefix,
            "enabled": capture.enabled,
            "state": {"payload_table": {"name": capture.table_full_name.split(".")[-1]}},
        }
    return EndpointResponse(
        name=record.full_name,
        id=record.id,
        creator=record.created_by,
        creation_timestamp=record.created_at,
        last_updated_timestamp=row.updated_at or record.created_at,
        state={"ready": "READY", "config_update": "NOT_UPDATING"},
        config=body,
        owner=record.owner,
        tags=[t.as_json() for t in row.tags],
    )


# -- routes ----------------------------------------------------------------------------------


#: Reading an endpoint (its config, its query schema): who may query it, or its owner.
QUERY_OR_OWN = guard(
    privilege=Privilege.QUERY, on=ENDPOINT, name_from=BY_NAME, or_privilege=Privilege.OWNERSHIP
)


@router.post("", dependencies=[guard(AUTHENTICATED)], operation_id="createServingEndpoint")
def create_endpoint(
    body: CreateServingEndpoint, caller: CallerDep, serving: ServingDep
) -> EndpointResponse:
    """Create an endpoint: needs EXECUTE on each served model (and SELECT on the feature
    tables its versions look up; CREATE TABLE on the inference table's schema)."""
    if body.config.name is not None and body.config.name != body.name:
        raise InvalidParameter(
            f"config.name '{body.config.name}' is not the endpoint's name '{body.name}'"
        )
    config = body.config.to_domain()
    tags = [t.to_domain() for t in body.tags or []]
    return endpoint_info(serving.create(caller, body.name, config, tags))


@router.get("", dependencies=[guard(AUTHENTICATED)], operation_id="listServingEndpoints")
def list_endpoints(
    caller: CallerDep,
    serving: ServingDep,
    max_results: int | None = None,
    page_token: str | None = None,
) -> ListEndpointsResponse:
    """One page when ``max_results`` is given; without it every endpoint, as Databricks
    answers (its SDKs read one answer and never follow ``next_page_token``)."""
    page = serving.list(caller, max_results, page_token, PAGE_MAX)
    found = list(page.items)
    while max_results is None and page.next_page_token:
        page = serving.list(caller, None, page.next_page_token, PAGE_MAX)
        found.extend(page.items)
    return ListEndpointsResponse(
        endpoints=[endpoint_info(e) for e in found], next_page_token=page.next_page_token
    )


@router.get(
    "/{name}",
    dependencies=[QUERY_OR_OWN],
    operation_id="getServingEndpoint",
)
def get_endpoint(name: str, serving: ServingDep) -> EndpointResponse:
    return endpoint_info(serving.get(name))


@router.get(
    "/{name}/openapi",
    dependencies=[QUERY_OR_OWN],
    operation_id="getServingEndpointOpenApi",
)
def get_endpoint_openapi(name: str, serving: ServingDep) -> dict[str, Any]:
    """Databricks' ``serving_endpoints.get_open_api``: the endpoint's query API as an
    OpenAPI document, built from what it serves (registry/serving/query_schema.py)."""
    return serving.query_schema(serving.get(name))


@router.put(
    "/{name}/config",
    dependencies=[guard(privilege=Privilege.OWNERSHIP, on=ENDPOINT, name_from=BY_NAME)],
    operation_id="updateServingEndpointConfig",
)
def update_config(
    name: str, body: EndpointCoreConfigInput, caller: CallerDep, serving: ServingDep
) -> EndpointResponse:
    """Replace the served entities and traffic (the updater's authority is checked)."""
    if body.name is not None and body.name != name:
        raise InvalidParameter(f"config.name '{body.name}' is not the endpoint's name '{name}'")
    return endpoint_info(serving.update_config(caller, name, body.to_domain()))


@router.patch(
    "/{name}/tags",
    dependencies=[guard(privilege=Privilege.OWNERSHIP, on=ENDPOINT, name_from=BY_NAME)],
    operation_id="patchServingEndpointTags",
)
def patch_tags(name: str, body: PatchTags, serving: ServingDep) -> EndpointTags:
    """Add and delete tags; answers the endpoint's tags afterwards."""
    tags = serving.patch_tags(name, [t.to_domain() for t in body.add_tags], body.delete_tags)
    return EndpointTags(tags=[t.as_json() for t in tags])


@router.delete(
    "/{name}",
    dependencies=[guard(privilege=Privilege.OWNERSHIP, on=ENDPOINT, name_from=BY_NAME)],
    operation_id="deleteServingEndpoint",
)
def delete_endpoint(name: str, serving: ServingDep) -> Empty:
    serving.delete(name)
    return Empty()


@invocations.post(
    "/serving-endpoints/{name}/invocations",
    # The endpoint's record is cached as long as its config is (registry/serving/cache.py).
    dependencies=[
        Depends(read_body_first),
        guard(privilege=Privilege.QUERY, on=ENDPOINT, name_from=BY_NAME, cache_seconds=TTL),
    ],
    operation_id="queryServingEndpoint",
    openapi_extra={**BODY_NOT_AUDITED, **DIRECT},
)
async def invoke(name: str, request: Request) -> HttpResponse:
    """Score ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``;
    answers ``{"predictions": [...]}`` once the invocation's audit event is durable.

    The route is :data:`~catalog.http.direct.DIRECT`: its dependencies and this handler
    are awaited without FastAPI's router and solver. The caller and the runtime are read
    from the request (the guard has checked both) instead of being declared: the hottest
    route pays for no dependency it can spare.
    When the endpoint, its versions, models and feature layouts are all cached
    (:meth:`ServingService.warm`), the request is scored right here on the event loop,
    from the feature rows the row cache holds (catalog/data/row_cache.py) at versions its
    commit confirms (catalog/data/assumed_versions.py: when one has changed, nothing is
    written and it is scored again, reading the versions and rows), and waits for the
    group commit without holding a thread: no hand-off to a worker thread and back, the
    largest fixed cost of a small request on this stack. An invocation alone in flight
    writes its own commit there (:meth:`GroupCommitter.commit_on_loop`): it has nobody to
    share one with, and the writer thread would cost it two more hand-offs. Anything
    colder (a model to load, a version or config to read again) is done on a worker
    thread, which reads every version and then also waits for the commit.
    """
    started = time.perf_counter()
    body = await request.body()
    serving = services_of(request).serving
    requester = caller_of(request).name
    state = request.state
    serving.in_flight += 1
    try:
        if serving.warm(name):
            audit: AuditScope | None = getattr(state, "audit", None)
            # Only a commit can confirm what was assumed: without an event, read.
            assumed = AssumedVersions() if audit is not None else None
            answer = _answer(serving, name, body, state, requester, started, assumed)
            if audit is not None:
                # Alone, it commits its event itself; otherwise it joins a group commit.
                try:
                    await serving.log.commit_on_loop(
                        audit.event(answer.status, answer.error),
                        serving.alone,
                        answer.row,
                        assumed or None,
                    )
                except StaleAssumption:  # rows were written since they were cached
                    answer = _answer(serving, name, body, state, requester, started)
                    await serving.log.commit_on_loop(
                        audit.event(answer.status, answer.error), serving.alone, answer.row
                    )
                audit.written = True
        else:
            answer = await run_in_threadpool(_serve, serving, name, body, state, requester, started)
    finally:
        serving.in_flight -= 1
    return HttpResponse(
        answer.payload,
        status_code=answer.status,
        media_type="application/json",
        headers=answer.headers,
    )


@dataclass
class _Answer:
    status: int
    payload: bytes
    headers: dict[str, str]
    #: What the audit event says went wrong (None: it succeeded).
    error: str | None
    #: The invocation's inference table row, committed with its event (None: no table).
    row: Any


def _serve(
    serving: ServingService, name: str, body: bytes, state: Any, requester: str, started: float
) -> _Answer:
    """:func:`_answer` on a worker thread, then the group commit (written by this thread
    when no commit is in progress)."""
    answer = _answer(serving, name, body, state, requester, started)
    audit: AuditScope | None = getattr(state, "audit", None)
    if audit is not None:
        serving.log.commit_blocking(audit.event(answer.status, answer.error), answer.row)
        audit.written = True
    return answer


def _answer(
    serving: ServingService,
    name: str,
    body: bytes,
    state: Any,
    requester: str,
    started: float,
    assumed: AssumedVersions | None = None,
) -> _Answer:
    """The response to an invocation, and what its audit event and inference row say
    (``assumed``: see :meth:`registry.serving.invocation.Invoker.invoke`)."""
    outcome, endpoint, error, parsed = _score(serving, name, body, assumed)
    request_id = getattr(state, "request_id", "")
    headers: dict[str, str] = {}
    if error is None:
        assert outcome is not None
        status = 200
        payload = orjson.dumps(
            {"predictions": outcome.predictions}, option=orjson.OPT_SERIALIZE_NUMPY
        )
        headers["x-steward-served-entity"] = outcome.entity.name
        # Where Databricks' clients read it (the SDK's QueryEndpointResponse).
        headers["served-model-name"] = outcome.entity.name
        headers["x-steward-model-version"] = str(outcome.resolved.version)
    else:
        status = error.status_code
        payload = orjson.dumps(
            {"error_code": error.error_code, "message": error.message, "request_id": request_id}
        )
    note_params(
        state,
        format=parsed.format if parsed else None,
        rows=parsed.row_count if parsed else None,
        client_request_id=parsed.client_request_id if parsed else None,
        served_entity=outcome.entity.name if outcome else None,
        model_name=outcome.resolved.model.full_name if outcome else None,
        model_version=outcome.resolved.version if outcome else None,
    )
    row = None
    if endpoint is not None:
        row = serving.inference_row(
            endpoint,
            request_id=request_id,
            client_request_id=parsed.client_request_id if parsed else None,
            started=started,
            status_code=status,
            body=body,
            response=payload,
            outcome=outcome,
            requester=requester,
        )
    message = f"{error.error_code}: {error.message}" if error else None
    return _Answer(status, payload, headers, message, row)


def _score(
    serving: ServingService, name: str, body: bytes, assumed: AssumedVersions | None
) -> tuple[Outcome | None, Endpoint | None, StewardError | None, inputs.Request | None]:
    """Everything but the audit, on a worker thread; a refusal is returned, not raised."""
    endpoint = parsed = None
    with detached():
        try:
            endpoint = serving.endpoint(name)
            parsed = inputs.parse(body)
            return serving.invoke(endpoint, parsed, assumed), endpoint, None, parsed
        except StewardError as exc:
            return None, endpoint, exc, parsed
