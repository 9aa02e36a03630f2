"""Builds the FastAPI application from a ready :class:`Runtime` and a list of routers.

The catalog package provides its own routers; packages built on it (the
registry) hand theirs to the composition root, which passes them all here.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from catalog.http.direct import DirectRoutesMiddleware, direct_routes
from catalog.http.errors import install_error_handlers
from catalog.http.health import HealthMiddleware, Readiness, leave_rotation_on_sigterm
from catalog.http.middleware import (
    AuthenticationMiddleware,
    BodyLimitMiddleware,
    HeaderLimitMiddleware,
    RequestContextMiddleware,
    streams_body,
)
from catalog.http.models import ErrorResponse
from catalog.http.request_audit import AuditMiddleware, audit_route
from catalog.http.routes import (
    audit,
    catalogs,
    lineage,
    metastore,
    object_permissions,
    permissions,
    rows,
    schemas,
    scim,
    statements,
    tables,
    tags,
    tokens,
)
from catalog.http.well_known import WellKnownMiddleware
from catalog.runtime import Runtime

CATALOG_ROUTERS: tuple[APIRouter, ...] = (
    catalogs.router,
    schemas.router,
    tables.router,
    rows.router,
    metastore.router,
    permissions.router,
    object_permissions.router,
    scim.router,
    tokens.router,
    statements.router,
    tags.router,
    audit.router,
    lineage.router,
)


#: The API's own description is the only thing served without a token.
DOCS_PATHS = ("/docs", "/openapi.json", "/docs/oauth2-redirect")


@dataclass(frozen=True)
class SwaggerAssets:
    """Where the /docs page loads Swagger UI from (served by this app, not a CDN)."""

    js_url: str
    css_url: str
    favicon_url: str


def build_app(
    runtime: Runtime,
    extra_routers: Sequence[APIRouter] = (),
    on_shutdown: Callable[[], None] | None = None,
    first_routers: Sequence[APIRouter] = (),
    front: Sequence[Middleware] = (),
    swagger: SwaggerAssets | None = None,
) -> FastAPI:
    """``first_routers`` are matched before all others: routing tries routes in order, so
    the hottest paths (serving invocations, the SQL endpoint) should not wait behind a
    hundred others.
    ``front``: middleware that answers some paths itself (the web console), installed
    just inside the request context, so its requests get a request id and an access line
    but no bearer-token authentication or audit of their own. ``swagger``: local assets
    for /docs (else FastAPI's defaults, which load from a CDN)."""

    readiness = Readiness(runtime)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        leave_rotation_on_sigterm(readiness, runtime.settings.shutdown_delay_seconds)
        # Everything built so far (modules, the app, its routes, the warm caches) lives as
        # long as the process: out of the collector's sight, a full collection walks only
        # what requests made since. Unfrozen, each one walked the whole heap for 100–140 ms,
        # with every request in flight waiting: the p99 of a loaded server. Garbage is
        # collected first, so none of it is kept for good.
        gc.collect()
        gc.freeze()
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    app = FastAPI(
        lifespan=lifespan,
        title="Steward",
        version="0.1.0",
        description="A governed catalog for data and ML assets, Unity Catalog-compatible.",
        docs_url=DOCS_PATHS[0] if swagger is None else None,
        openapi_url=DOCS_PATHS[1],
        swagger_ui_oauth2_redirect_url=DOCS_PATHS[2],
        redoc_url=None,
        # Every route names its audit action (after its operation_id) the same way.
        dependencies=[Depends(audit_route)],
    )
    app.state.runtime = runtime
    if swagger is not None:
        _serve_docs(app, swagger)
    rest = [r for r in (*CATALOG_ROUTERS, *extra_routers) if r not in first_routers]
    routers = (*first_routers, *rest)
    for router in routers:
        app.include_router(router)
    install_error_handlers(app)
    direct_routes(app)  # a route marked direct that the direct path cannot run fails here
    # Outermost last: request id → audit → header limit → authentication → body limit →
    # direct routes (catalog/http/direct.py) → the router.
    streamed = [
        (route.path_regex, frozenset(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and streams_body(route)
    ]
    app.add_middleware(DirectRoutesMiddleware)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=runtime.settings.max_body_bytes, exempt=streamed
    )
    app.add_middleware(AuthenticationMiddleware, public_paths=frozenset(DOCS_PATHS))
    app.add_middleware(HeaderLimitMiddleware, max_bytes=runtime.settings.max_header_bytes)
    app.add_middleware(AuditMiddleware, public_paths=frozenset(DOCS_PATHS))
    for middleware in reversed(front):
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    app.add_middleware(RequestContextMiddleware)
    # Outermost of all: probes (health, and the Databricks SDKs' start-up probe of
    # catalog/http/well_known.py) need no token, write no audit event and no access line.
    app.add_middleware(WellKnownMiddleware)
    app.add_middleware(HealthMiddleware, readiness=readiness)
    app.openapi = _documented(app, routers)  # type: ignore[method-assign]
    return app


def _serve_docs(app: FastAPI, swagger: SwaggerAssets) -> None:
    @app.get(DOCS_PATHS[0], include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=DOCS_PATHS[1],
            title="Steward API",
            swagger_js_url=swagger.js_url,
            swagger_css_url=swagger.css_url,
            swagger_favicon_url=swagger.favicon_url,
            oauth2_redirect_url=DOCS_PATHS[2],
        )

    @app.get(DOCS_PATHS[2], include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


# -- the OpenAPI document -----------------------------------------------------------------

#: docs/api.md's error table: every route may answer each of these, always with the one
#: error body (catalog/http/errors.py). A 409 is not only a write's: reading an artifact
#: whose file changed since finalize is one too. FastAPI's own 422 is never sent (a request
#: that fails validation is a 400), so it is taken out of the document.
ERROR_STATUSES: dict[int, str] = {
    400: "Bad request: a parameter, body or name breaks a rule (INVALID_PARAMETER_VALUE), "
    "or the object is not in a state that allows it (INVALID_STATE)",
    401: "No valid token (UNAUTHENTICATED)",
    403: "The caller lacks a privilege on the object (PERMISSION_DENIED)",
    404: "No such object, parent or principal (RESOURCE_DOES_NOT_EXIST)",
    409: "The object already exists (RESOURCE_ALREADY_EXISTS), or its state conflicts "
    "(INVALID_STATE)",
    413: "The body, an artifact or an event is over its limit (REQUEST_LIMIT_EXCEEDED)",
    431: "The headers are over STEWARD_MAX_HEADER_BYTES (REQUEST_LIMIT_EXCEEDED)",
}
_ERROR_REF = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def _documented(app: FastAPI, routers: Sequence[APIRouter]) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` describing what the app sends: FastAPI's document, shaped once
    by :func:`document_errors` and :func:`document_omitted_nulls`."""
    generate = app.openapi
    shaped: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if not shaped or shaped[0] is not document:
            document_errors(document)
            document_omitted_nulls(document, routers)
            shaped[:] = [document]
        return document

    return openapi


def document_errors(document: dict[str, Any]) -> None:
    """Every operation answers the statuses of :data:`ERROR_STATUSES` with
    :class:`ErrorResponse`, and never FastAPI's 422."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ErrorResponse.__name__] = ErrorResponse.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for operation in _operations(document):
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)
        for status, description in ERROR_STATUSES.items():
            responses.setdefault(
                str(status),
                {
                    "description": description,
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
            )
    text = repr(document["paths"])
    for name in _FASTAPI_VALIDATION:
        if f"#/components/schemas/{name}'" not in text:
            schemas.pop(name, None)


def document_omitted_nulls(document: dict[str, Any], routers: Sequence[APIRouter]) -> None:
    """A route with ``response_model_exclude_none`` leaves a null field out of its answer,
    so in what it answers no nullable field is required (FastAPI's document says the
    model's ``x: str | None`` without a default always comes)."""
    schemas = document.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def loosen(schema: Any) -> None:
        if isinstance(schema, list):
            for item in schema:
                loosen(item)
            return
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen and name in schemas:
                seen.add(name)
                loosen(schemas[name])
        properties = schema.get("properties")
        if isinstance(properties, dict) and isinstance(schema.get("required"), list):
            schema["required"] = [
                name for name in schema["required"] if not _nullable(properties.get(name, {}))
            ]
            if not schema["required"]:
                del schema["required"]
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                loosen(list(value.values()))  # field names are not schemas
            elif isinstance(value, dict | list):
                loosen(value)

    for router in routers:
        for route in router.routes:
            if not (isinstance(route, APIRoute) and route.response_model_exclude_none):
                continue
            for method in route.methods or ():
                operation = document["paths"].get(route.path_format, {}).get(method.lower(), {})
                for status, response in operation.get("responses", {}).items():
                    if status.startswith("2"):
                        loosen(response.get("content", {}))


def _nullable(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null" or "null" in (schema.get("type") or []):
        return True
    return any(_nullable(option) for option in schema.get("anyOf", []) + schema.get("oneOf", []))


def _operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method in methods:
                yield operation
