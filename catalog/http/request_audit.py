"""The HTTP side of the audit log: one scope per request, one event per request.

:class:`AuditMiddleware` opens the scope (request id, address, user agent) and,
before the response starts, writes the event of any request whose change did not
already write it (denials, failures, reads). :func:`audit_route` — a dependency of
every route, installed once on the app — names the action after the route's
``operation_id`` (Databricks' action names), the service after the API it belongs
to, and keeps the request's parameters. Nothing per route: audit is uniform the way
the guards are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Match

from catalog.audit.group_commit import GroupCommitter
from catalog.audit.recorder import AuditRecorder, AuditScope, enter_scope, leave_scope
from catalog.http.guards import route_requirement
from catalog.http.middleware import ASGIApp, Message, Receive, Scope, Send, streams_body
from policy.privileges import DATA_PRIVILEGES

#: Service names by path prefix, after Databricks' audit ``service_name``s.
SERVICES: tuple[tuple[str, str], ...] = (
    ("/api/2.1/unity-catalog", "unityCatalog"),
    ("/api/2.0/preview/scim", "accounts"),
    ("/api/2.0/token", "accounts"),
    ("/api/2.0/sql", "databrickssql"),
    ("/api/2.0/serving-endpoints", "serving"),
    ("/serving-endpoints", "serving"),
    ("/api/2.1/steward", "steward"),
    ("/api/v1/lineage", "lineage"),
)
#: Parameters never written to the log, whatever route they come in.
SECRET_FIELDS = frozenset({"token_value", "password", "secret", "client_secret", "token"})
#: ``openapi_extra`` of routes whose bodies are data (rows, model inputs): the event keeps
#: the handler's summary of them (see :func:`note_params`), never the data itself.
BODY_NOT_AUDITED = {"x-steward-body-not-audited": True}
#: Body fields that together name the object a create is about.
_NAME_PARTS = ("catalog_name", "schema_name", "name")


def service_for(path: str) -> str:
    for prefix, service in SERVICES:
        if path.startswith(prefix):
            return service
    return "steward"


class AuditMiddleware:
    """Opens the audit scope and writes the events no transaction wrote.

    Those events (reads, refusals, failures) go through the runtime's group commit
    (:mod:`catalog.audit.group_commit`): concurrent requests share one commit — one fsync
    on SQLite — instead of queueing on the writer for one each, and each is answered only
    once its own event is durable. A request alone in the process writes its event right
    on the event loop (nobody else is waiting to be served), sparing two thread hand-offs.
    """

    def __init__(self, app: ASGIApp, public_paths: frozenset[str]) -> None:
        self.app = app
        self.public_paths = public_paths
        #: Requests of this process between their start and their event: see above.
        self.in_flight = 0

    def _alone(self) -> bool:
        return self.in_flight == 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        recorder: AuditRecorder | None = (
            scope["app"].state.runtime.audit if "app" in scope else None
        )
        if scope["type"] != "http" or recorder is None or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        audit = AuditScope(
            request_id=state.get("request_id", ""),
            source_ip_address=(scope.get("client") or (None,))[0],
            user_agent=_header(scope, b"user-agent"),
            service_name=service_for(scope["path"]),
            params={"method": scope["method"], "path": scope["path"]},
            alone=self._alone,
        )
        state["audit"] = audit
        token = enter_scope(audit)

        commits: GroupCommitter = scope["app"].state.runtime.audit_commits

        async def send_after_audit(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if recorder.needs_event(audit, status):
                    if audit.action_name is None:  # refused before routing (401, 413 …)
                        audit.action_name = route_operation(scope) or "unknownRoute"
                    event = recorder.closing_event(audit, status, audit_error(audit))
                    await commits.commit_on_loop(event, audit.alone)
                    audit.written = True
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, receive, send_after_audit)
        finally:
            self.in_flight -= 1
            leave_scope(token)


def route_operation(scope: Scope) -> str | None:
    """The operation_id of the route a request was meant for, matched without running it."""
    for context in iter_route_contexts(scope["app"].routes):
        route = getattr(context, "original_route", context)
        if isinstance(route, APIRoute) and context.matches(scope)[0] is Match.FULL:
            return route.operation_id or route.name
    return None


def audit_error(audit: AuditScope) -> str | None:
    error = audit.params.pop("_error", None)  # set by the error handlers, see note_error
    return error if isinstance(error, str) else None


def note_error(request_state: Any, code: str, message: str) -> None:
    """Error handlers call this so the event says why the request failed."""
    audit: AuditScope | None = getattr(request_state, "audit", None)
    if audit is None and isinstance(request_state, dict):
        audit = request_state.get("audit")
    if audit is not None:
        audit.params["_error"] = f"{code}: {message}"


@dataclass(frozen=True)
class _RouteAudit:
    """What a route's events always say, worked out once per route."""

    action_name: str
    success_status: int
    #: The route needs a data privilege (SELECT, EXECUTE …): its reads are always audited.
    reads_data: bool
    #: The body is data (rows, model inputs) or streamed to disk: never in the event.
    body_not_kept: bool


_ON_ROUTE = "_steward_audit"


def _route_audit(route: APIRoute) -> _RouteAudit:
    """Kept on the route object itself (routes compare by path, so they are not dict keys)."""
    found: _RouteAudit | None = getattr(route, _ON_ROUTE, None)
    if found is None:
        requirement = route_requirement(list(route.dependencies))
        found = _RouteAudit(
            action_name=route.operation_id or route.name,
            success_status=route.status_code or 200,
            reads_data=requirement is not None and requirement.privilege in DATA_PRIVILEGES,
            body_not_kept=streams_body(route)
            or bool((route.openapi_extra or {}).get("x-steward-body-not-audited")),
        )
        setattr(route, _ON_ROUTE, found)
    return found


async def audit_route(request: Request) -> None:
    """Names the request's action after its route and keeps its parameters."""
    audit: AuditScope | None = getattr(request.state, "audit", None)
    route = request.scope.get("route")
    if audit is None or not isinstance(route, APIRoute):
        return
    known = _route_audit(route)
    caller = getattr(request.state, "caller", None)
    audit.user_name = getattr(caller, "name", None)
    audit.action_name = known.action_name
    audit.success_status = known.success_status
    # A read is of metadata unless the route needs a data privilege (SELECT, EXECUTE …):
    # reads of data and models are always audited.
    audit.metadata_read = request.method in ("GET", "HEAD") and not known.reads_data
    params: dict[str, Any] = {**audit.params, **request.path_params, **request.query_params}
    # Streamed bodies (artifact uploads) go to disk, never into memory or the log.
    if request.method not in ("GET", "HEAD", "DELETE") and not known.body_not_kept:
        body = await request.body()
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                params.update(parsed)
    audit.params = {k: ("<redacted>" if k in SECRET_FIELDS else v) for k, v in params.items()}
    audit.object_name = object_of(audit.params)


def note_params(request_state: Any, **params: Any) -> None:
    """Add a summary of a data body (row counts, format …) to the request's event."""
    audit: AuditScope | None = getattr(request_state, "audit", None)
    if audit is not None:
        audit.params.update(params)


def object_of(params: dict[str, Any]) -> str | None:
    """The object a request is about, as its full name where the parameters give one."""
    for key in ("full_name", "name_arg", "full_name_arg"):
        if isinstance(params.get(key), str):
            return params[key]
    parts = [params[k] for k in _NAME_PARTS if isinstance(params.get(k), str)]
    if not isinstance(params.get("name"), str) and isinstance(params.get("model_name"), str):
        parts.append(params["model_name"])
    if parts:
        return ".".join(parts)
    for key in ("name", "userName", "displayName", "user_id", "group_id", "token_id"):
        if isinstance(params.get(key), str):
            return params[key]
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")[:512]
    return None
