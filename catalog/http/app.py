"""Builds the FastAPI application from a ready :class:`Runtime` and a list of routers.

The catalog package provides its own routers; packages built on it (the
registry) hand theirs to the composition root, which passes them all here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from catalog.http.direct import DirectRoutesMiddleware, direct_routes
from catalog.http.errors import install_error_handlers
from catalog.http.middleware import (
    AuthenticationMiddleware,
    BodyLimitMiddleware,
    HeaderLimitMiddleware,
    RequestContextMiddleware,
    streams_body,
)
from catalog.http.request_audit import AuditMiddleware, audit_route
from catalog.http.routes import (
    audit,
    catalogs,
    lineage,
    metastore,
    permissions,
    rows,
    schemas,
    scim,
    statements,
    tables,
    tokens,
)
from catalog.runtime import Runtime

CATALOG_ROUTERS: tuple[APIRouter, ...] = (
    catalogs.router,
    schemas.router,
    tables.router,
    rows.router,
    metastore.router,
    permissions.router,
    scim.router,
    tokens.router,
    statements.router,
    audit.router,
    lineage.router,
)


#: The API's own description is the only thing served without a token.
DOCS_PATHS = ("/docs", "/openapi.json", "/docs/oauth2-redirect")


def build_app(
    runtime: Runtime,
    extra_routers: Sequence[APIRouter] = (),
    on_shutdown: Callable[[], None] | None = None,
    first_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """``first_routers`` are matched before all others: routing tries routes in order, so
    the hottest path (serving invocations) should not wait behind a hundred others."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    app = FastAPI(
        lifespan=lifespan,
        title="Steward",
        version="0.1.0",
        description="A governed catalog for data and ML assets, Unity Catalog-compatible.",
        docs_url=DOCS_PATHS[0],
        openapi_url=DOCS_PATHS[1],
        swagger_ui_oauth2_redirect_url=DOCS_PATHS[2],
        redoc_url=None,
        # Every route names its audit action (after its operation_id) the same way.
        dependencies=[Depends(audit_route)],
    )
    app.state.runtime = runtime
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
    app.add_middleware(RequestContextMiddleware)
    return app
