"""Bad input that every route shares (docs/running.md–§4): oversized bodies, bad credentials, a
guard on each route, unique request ids.

The routes are read from the product's routers (catalog and registry alike), so a new route
is covered without being listed. The helpers are in ``tests/bad_input_support.py``; bad
input per area is in ``test_bad_input_namespace.py``, ``test_bad_input_identity.py`` and
``tests/registry/test_bad_input_registry.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from catalog.http.app import CATALOG_ROUTERS, build_app
from catalog.http.guards import route_requirement
from catalog.http.middleware import streams_body
from catalog.runtime import Runtime
from steward.app import REGISTRY_ROUTERS
from tests.bad_input_support import (
    API,
    BESIDES_OBJECTS,
    BROKEN_JSON,
    ENDPOINTS,
    GRANTS,
    LINEAGE,
    LINEAGE_AREA,
    ROWS,
    SCIM,
    SERVING,
    TOO_BIG,
    UC,
    UNAUTH,
    World,
    areas_of,
    build_world,
    expect_error,
    lineage_event,
    model_body,
    ok,
    served_config,
    snapshot,
    sql,
    table_body,
    unchanged,
    version_body,
)
from tests.support import ServerHandle, unique

try:  # recent FastAPI includes routers lazily: app.routes then holds wrappers
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI flattens app.routes itself
    iter_route_contexts = None

MIB = 1 << 20
UNGUARDED = {"/docs", "/openapi.json", "/docs/oauth2-redirect"}


def api_routes(routes: Any) -> Iterator[tuple[str, set[str], list[Any]]]:
    """(path, methods, dependencies) of every APIRoute, looking through included routers."""
    contexts = iter_route_contexts(routes) if iter_route_contexts is not None else routes
    for ctx in contexts:
        if isinstance(getattr(ctx, "original_route", ctx), APIRoute):
            yield ctx.path, set(ctx.methods), list(ctx.dependencies)


#: Every (method, path template) the product serves, read from its routers.
APP_ROUTES: list[tuple[str, str]] = sorted(
    (method, path)
    for router in (*CATALOG_ROUTERS, *REGISTRY_ROUTERS)
    for path, methods, _ in api_routes(router.routes)
    for method in methods
)
BODY_ROUTES = [(m, p) for m, p in APP_ROUTES if m in ("POST", "PATCH", "PUT")]
#: Artifact uploads stream to disk under their own limits (tests/registry/test_artifacts.py).
STREAMED_ROUTES = {
    (method, path)
    for router in REGISTRY_ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute) and streams_body(route)
    for method, path in [(m, route.path) for m in route.methods]
}


@pytest.fixture(scope="module")
def world(server: ServerHandle) -> World:
    """One world per module (and backend), on the module's own server."""
    return build_world(server)


# -- oversized bodies ---------------------------------------------------------------------


def big_body(path: str, names: dict[str, str]) -> bytes:
    """A valid-looking JSON body for ``path`` that is just over 1 MiB."""
    padding = "x" * (MIB + 16)
    bodies: dict[str, dict[str, Any]] = {
        "/catalogs": {"name": names["new"]},
        "/schemas": {"name": names["new"], "catalog_name": names["catalog"]},
        "/tables": table_body(names["catalog"], "sch", names["new"]),
        "/models": model_body(names["catalog"], "sch", names["new"]),
        "/models/versions": version_body(names["catalog"], "sch", "mdl"),
    }
    body = bodies.get(path.removeprefix(UC), {})
    return json.dumps({**body, "comment": padding}).encode()


def route_target(path: str, names: dict[str, str]) -> str:
    """Fill a route's path parameters with the world's real objects."""
    prefix_to_full_name = [
        (f"{UC}/schemas/", names["schema"]),
        (f"{UC}/tables/", names["table"]),
        (f"{UC}/models/", names["model"]),
        (f"{UC}/permissions/", names["table"]),
        ("/api/2.1/steward/tables/", names["table"]),
        ("/api/2.1/steward/models/", names["model"]),
    ]
    full_name = next((v for p, v in prefix_to_full_name if path.startswith(p)), "dummy")
    serving = path.startswith((ENDPOINTS, "/serving-endpoints/"))
    return (
        path.replace("{name}", names["endpoint"] if serving else names["catalog"])
        .replace("{securable_type}", "table")
        .replace("{full_name}", full_name)
        .replace("{version}", "1")
        .replace("{alias}", "champion")
        .replace("{path}", "MLmodel")
        .replace("{user_id}", names["user_id"])
        .replace("{sp_id}", names["sp_id"])
        .replace("{group_id}", names["group_id"])
        .replace("{token_id}", names["user_token_id"])
    )


@pytest.mark.parametrize("mode", ["content-length", "chunked"])
@pytest.mark.parametrize(("method", "path"), [r for r in BODY_ROUTES if r not in STREAMED_ROUTES])
def test_oversized_body_is_413_and_changes_nothing(
    world: World, method: str, path: str, mode: str
) -> None:
    names = {**world.vars, "new": unique("new")}
    payload = big_body(path, names)
    assert len(payload) > MIB
    url = route_target(path, names)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    headers = {"Content-Type": "application/json"}
    with unchanged(world, f"{mode} {method} {path}", areas_of(path)):
        if mode == "content-length":
            response = world.admin.request(method, url, content=payload, headers=headers)
            assert response.request.headers["Content-Length"] == str(len(payload))
        else:
            response = world.admin.request(method, url, content=chunks(), headers=headers)
            assert "Content-Length" not in response.request.headers
            assert response.request.headers["Transfer-Encoding"] == "chunked"
        expect_error(response, 413, TOO_BIG, ("limit",))


# -- bad credentials on every route -------------------------------------------------------


def valid_body(path: str, names: dict[str, str]) -> Any:
    """A body that would succeed for an admin, so only the credential is wrong."""
    bodies: dict[str, Any] = {
        f"{UC}/catalogs": {"name": names["new"]},
        f"{UC}/catalogs/{{name}}": {"comment": "changed"},
        f"{UC}/schemas": {"name": names["new"], "catalog_name": names["catalog"]},
        f"{UC}/schemas/{{full_name}}": {"comment": "changed"},
        f"{UC}/tables": table_body(names["catalog"], "sch", names["new"]),
        f"{UC}/models": model_body(names["catalog"], "sch", names["new"]),
        f"{UC}/models/{{full_name}}": {"comment": "changed"},
        f"{UC}/models/versions": version_body(names["catalog"], "sch", "mdl"),
        f"{UC}/models/{{full_name}}/versions/{{version}}": {"comment": "changed"},
        f"{SCIM}/Users": {"userName": names["new"]},
        f"{SCIM}/ServicePrincipals": {"applicationId": names["new"]},
        f"{SCIM}/Groups": {"displayName": names["new"]},
        f"{SCIM}/Groups/{{group_id}}": {
            "Operations": [{"op": "add", "value": {"members": [{"value": names["other_id"]}]}}]
        },
        f"{API}/token/create": {"comment": "should not exist"},
        f"{API}/token/delete": {"token_id": names["user_token_id"]},
        f"{API}/token-management/on-behalf-of/tokens": {"user_name": names["user"]},
    }
    return bodies.get(path, {})


@pytest.mark.parametrize(("method", "path"), APP_ROUTES)
def test_bad_credentials_are_401_on_every_route(world: World, method: str, path: str) -> None:
    names = {**world.vars, "new": unique("new")}
    url = route_target(path, names)
    body = valid_body(path, names) if method in ("POST", "PATCH", "PUT") else None
    failures = []
    with unchanged(world, f"{method} {path} without valid credentials", areas_of(path)):
        for kind, authorization in world.bad_auth.items():
            response = world.anonymous(authorization).request(method, url, json=body)
            try:
                expect_error(response, 401, UNAUTH, ("token",))
            except AssertionError as exc:
                failures.append(f"[{kind}] {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(BROKEN_JSON, id="broken-json"),
        pytest.param(b'{"bogus_field": 1}', id="unknown-field"),
        pytest.param(b"[]", id="array"),
    ],
)
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_unauthenticated_bad_body_is_still_401(
    world: World, method: str, path: str, content: bytes
) -> None:
    """Authentication comes first: a caller without a token learns nothing about bodies."""
    names = {**world.vars, "new": unique("new")}
    response = world.anonymous(None).request(
        method,
        route_target(path, names),
        content=content,
        headers={"Content-Type": "application/json"},
    )
    expect_error(response, 401, UNAUTH, ("token",))


# -- every route is guarded (in-process) --------------------------------------------------


def dummy_path(path: str) -> str:
    return path.replace("{version}", "1").replace("{", "").replace("}", "")


def test_every_route_has_a_guard_and_refuses_anonymous_callers(runtime: Runtime) -> None:
    """Every API route carries a Guard; without a token each answers 401, whatever it is."""
    app = build_app(runtime, REGISTRY_ROUTERS)
    routes = [r for r in api_routes(app.routes) if r[0] not in UNGUARDED]
    assert len(routes) >= 30, f"the app serves suspiciously few routes: {routes}"
    unguarded = [path for path, _, deps in routes if route_requirement(deps) is None]
    assert not unguarded, f"routes without a Guard dependency: {unguarded}"
    served = {(m, path) for path, methods, _ in routes for m in methods}
    assert served == set(APP_ROUTES), "the routers and the built app disagree on routes"

    failures = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path in sorted(served):
            response = client.request(method, dummy_path(path), json={})
            body = response.json() if response.content else {}
            if response.status_code != 401 or body.get("error_code") != UNAUTH:
                failures.append(f"{method} {path}: {response.status_code} {body}")
            elif not body.get("request_id") or "token" not in body.get("message", ""):
                failures.append(f"{method} {path}: incomplete 401 body {body}")
    assert not failures, "\n".join(failures)


def test_no_route_has_a_dependency_that_runs_on_a_worker_thread(runtime: Runtime) -> None:
    """FastAPI runs a plain ``def`` dependency on a worker thread: a thread hand-off per
    request for each. The shared dependencies (runtime, caller, guards, audit) do no
    blocking I/O of their own, so they are ``async def``; this keeps it so."""
    from fastapi.dependencies.utils import (
        _is_async_gen_callable,
        _is_coroutine_callable,
        _is_gen_callable,
    )

    app = build_app(runtime, REGISTRY_ROUTERS)
    threaded: set[str] = set()

    def walk(dependant: Any) -> None:
        for sub in dependant.dependencies:
            call = sub.call
            if call is not None and not (
                _is_coroutine_callable(call)
                or _is_gen_callable(call)
                or _is_async_gen_callable(call)
            ):
                threaded.add(getattr(call, "__qualname__", repr(call)))
            walk(sub)

    contexts = iter_route_contexts(app.routes) if iter_route_contexts is not None else app.routes
    routes = [getattr(c, "original_route", c) for c in contexts]
    for route in routes:
        if isinstance(route, APIRoute):
            walk(route.dependant)
    assert sum(isinstance(r, APIRoute) for r in routes) >= 30
    assert threaded == set()


# -- the "changes nothing" snapshot itself ------------------------------------------------


def _grant(w: World) -> None:
    sql(w.reader, f"GRANT MODIFY ON TABLE {w.table} TO `{w.sp}`")


def _ungrant(w: World) -> None:
    sql(w.reader, f"REVOKE MODIFY ON TABLE {w.table} FROM `{w.sp}`")


def _add_row(w: World) -> None:
    sql(w.reader, f"INSERT INTO {w.table} VALUES (3)")


def _record_lineage(w: World) -> None:
    ok(w.reader.post(LINEAGE, json=lineage_event(w.table, unique("exports/tbl"))))


def _reconfigure(w: World) -> None:
    """The same model served again: a new config version."""
    ok(
        w.reader.put(
            f"{ENDPOINTS}/{w.endpoint}/config", json=served_config(f"{w.catalog}.sch.mdl2")
        )
    )


#: (area, a change to it, what undoes the change or None, the state keys it shows in)
CHANGES = [
    pytest.param(GRANTS, _grant, _ungrant, {"grants"}, id="grants"),
    pytest.param(ROWS, _add_row, None, {"rows {table}"}, id="rows"),
    pytest.param(LINEAGE_AREA, _record_lineage, None, {"lineage_edges", "lineage_column_edges"},
                 id="lineage"),
    pytest.param(SERVING, _reconfigure, None, {"serving endpoints"}, id="serving"),
]  # fmt: skip


@pytest.mark.parametrize(("area", "change", "undo", "keys"), CHANGES)
def test_the_snapshot_sees_a_change_to(
    world: World, area: str, change: Any, undo: Any, keys: set[str]
) -> None:
    """A change to any area is caught by ``unchanged``; reading twice without one is not."""
    world.invalidate()
    try:
        first = snapshot(world, frozenset({area}))
        world.invalidate()
        assert snapshot(world, frozenset({area})) == first, f"{area}: two readings differ"
        with (
            pytest.raises(AssertionError, match="changed state") as caught,
            unchanged(world, f"a change to {area}", frozenset({area})),
        ):
            change(world)
        named = {key.format_map(world.vars) for key in keys}
        assert all(repr(key) in str(caught.value) for key in named), (named, caught.value)
    finally:
        if undo is not None:
            undo(world)
        world.invalidate()


def test_every_area_is_read(world: World) -> None:
    """Grants, rows, lineage and endpoints each read something: none passes by reading
    nothing."""
    world.invalidate()
    state = snapshot(world, BESIDES_OBJECTS)
    empty = sorted(key for key, value in state.items() if not value)
    assert not empty, f"state with nothing in it: {empty}"
    world.invalidate()


def test_request_ids_are_unique(world: World) -> None:
    ids = {world.admin.get(f"{UC}/catalogs/nocat_x").json()["request_id"] for _ in range(5)}
    assert len(ids) == 5


def test_a_method_the_path_does_not_have_is_405_with_allow(server: ServerHandle) -> None:
    """Found by the schemathesis run: the 405 said nothing of what the path accepts."""
    answer = server.admin.put("/api/2.1/unity-catalog/catalogs")
    assert answer.status_code == 405, answer.text
    assert "POST" in answer.headers["allow"]
    assert answer.json()["request_id"]
