# ruff: noqa: E501  (the case tables read best one case per line)
"""Bad input on every route (SPEC §2–§4).

Each case checks the status, the ``error_code``, that the message names the
problem (the field or the name), that a request id comes back, and that
nothing changed: the state is read before and after the rejected call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from catalog.http.app import CATALOG_ROUTERS, build_app
from catalog.http.guards import route_requirement
from catalog.http.middleware import streams_body
from catalog.runtime import Runtime
from steward.app import REGISTRY_ROUTERS
from tests.support import ServerHandle, unique, write_mlmodel

try:  # recent FastAPI includes routers lazily: app.routes then holds wrappers
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover - older FastAPI flattens app.routes itself
    iter_route_contexts = None

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
API = "/api/2.0"
MIB = 1 << 20
BAD = "INVALID_PARAMETER_VALUE"
UNAUTH = "UNAUTHENTICATED"
DENIED = "PERMISSION_DENIED"
MISSING = "RESOURCE_DOES_NOT_EXIST"
EXISTS = "RESOURCE_ALREADY_EXISTS"
TOO_BIG = "REQUEST_LIMIT_EXCEEDED"
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
#: Artifact uploads stream to disk under their own limits (tests/test_artifacts.py).
STREAMED_ROUTES = {
    (method, path)
    for router in REGISTRY_ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute) and streams_body(route)
    for method, path in [(m, route.path) for m in route.methods]
}


# -- request bodies -----------------------------------------------------------------------


def column(**over: Any) -> dict[str, Any]:
    return {
        "name": "id",
        "type_name": "LONG",
        "type_text": "bigint",
        "position": 0,
        "nullable": False,
        **over,
    }


def table_body(catalog: str, schema: str, name: str, **over: Any) -> dict[str, Any]:
    return {
        "name": name,
        "catalog_name": catalog,
        "schema_name": schema,
        "table_type": "MANAGED",
        "data_source_format": "DELTA",
        "columns": [column()],
        **over,
    }


def model_body(catalog: str, schema: str, name: str, **over: Any) -> dict[str, Any]:
    return {"name": name, "catalog_name": catalog, "schema_name": schema, **over}


def version_body(catalog: str, schema: str, model: str, **over: Any) -> dict[str, Any]:
    return {
        "catalog_name": catalog,
        "schema_name": schema,
        "model_name": model,
        "source": "file:/tmp/steward-bad-input-model",
        **over,
    }


# -- the world every case runs against ----------------------------------------------------


@dataclass
class World:
    server: ServerHandle
    #: the admin for bad requests; sends ``Connection: close`` so that a 500 (after which
    #: the server drops the connection) cannot break the next request
    admin: httpx.Client
    #: the admin for reading state, on its own connection
    reader: httpx.Client
    user_client: httpx.Client
    other_client: httpx.Client
    vars: dict[str, str]
    #: kind of bad credential → Authorization header value (None: no header at all)
    bad_auth: dict[str, str | None] = field(default_factory=dict)
    #: the last state read per area, reused as the "before" of the next rejected call
    baseline: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    anonymous_clients: dict[str | None, httpx.Client] = field(default_factory=dict)

    def invalidate(self) -> None:
        self.baseline.clear()

    def __getattr__(self, name: str) -> str:
        try:
            return self.__dict__["vars"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def client(self, who: str) -> httpx.Client:
        return {"admin": self.admin, "user": self.user_client, "other": self.other_client}[who]

    def anonymous(self, authorization: str | None) -> httpx.Client:
        """A client sending exactly this Authorization header (or none)."""
        if authorization not in self.anonymous_clients:
            client = fresh_client(self.server)
            if authorization is not None:
                client.headers["Authorization"] = authorization
            self.anonymous_clients[authorization] = client
        return self.anonymous_clients[authorization]


def fresh_client(server: ServerHandle, token: str | None = None) -> httpx.Client:
    """A client that opens a new connection per request (see ``World.admin``)."""
    client = server.client(token)
    client.headers["Connection"] = "close"
    return client


def ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201, 204), (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    return response.json() if response.content else None


def scim_id(admin: httpx.Client, kind: str, attribute: str, name: str) -> str:
    found = ok(admin.get(f"{SCIM}/{kind}", params={"filter": f'{attribute} eq "{name}"'}))
    assert found["totalResults"] == 1, found
    return str(found["Resources"][0]["id"])


@pytest.fixture(scope="module")
def world(server: ServerHandle) -> World:
    admin = fresh_client(server, server.admin_token)
    # Credentials that must never authenticate; the expiring one is created first.
    expiring = ok(admin.post(f"{API}/token/create", json={"lifetime_seconds": 1}))
    expires_at = time.monotonic() + 1.2

    cat = unique("bad_cat")
    ok(admin.post(f"{UC}/catalogs", json={"name": cat, "comment": "world"}))
    for schema in ("sch", "sch2"):
        ok(admin.post(f"{UC}/schemas", json={"name": schema, "catalog_name": cat}))
    ok(admin.post(f"{UC}/tables", json=table_body(cat, "sch", "tbl")))
    for model in ("mdl", "mdl2"):
        ok(admin.post(f"{UC}/models", json=model_body(cat, "sch", model)))
    ok(admin.post(f"{UC}/models/versions", json=version_body(cat, "sch", "mdl")))

    user, user_token = server.create_user()
    other, other_token = server.create_user()
    user_client, other_client = fresh_client(server, user_token), fresh_client(server, other_token)
    user_id = scim_id(admin, "Users", "userName", user)
    other_id = scim_id(admin, "Users", "userName", other)
    user_token_id = ok(user_client.get(f"{API}/token/list"))["token_infos"][0]["token_id"]

    # A catalog the user owns, with objects the user created.
    ucat = unique("bad_ucat")
    ok(admin.post(f"{UC}/catalogs", json={"name": ucat}))
    ok(admin.patch(f"{UC}/catalogs/{ucat}", json={"owner": user}))
    ok(user_client.post(f"{UC}/schemas", json={"name": "s", "catalog_name": ucat}))
    ok(user_client.post(f"{UC}/tables", json=table_body(ucat, "s", "t")))
    ok(user_client.post(f"{UC}/models", json=model_body(ucat, "s", "m")))
    ok(user_client.post(f"{UC}/models/versions", json=version_body(ucat, "s", "m")))

    group = unique("bad_grp")
    group_id = ok(
        admin.post(f"{SCIM}/Groups", json={"displayName": group, "members": [{"value": user_id}]})
    )["id"]
    sp = unique("bad_sp")
    sp_id = ok(admin.post(f"{SCIM}/ServicePrincipals", json={"applicationId": sp}))["id"]

    revoked = ok(admin.post(f"{API}/token/create", json={"comment": "revoked"}))
    ok(admin.post(f"{API}/token/delete", json={"token_id": revoked["token_info"]["token_id"]}))
    gone_name, gone_token = server.create_user()
    gone_id = scim_id(admin, "Users", "userName", gone_name)
    ok(admin.delete(f"{SCIM}/Users/{gone_id}"))

    names = {
        "catalog": cat,
        "catalog_upper": cat.upper(),
        "schema": f"{cat}.sch",
        "table": f"{cat}.sch.tbl",
        "model": f"{cat}.sch.mdl",
        "user": user,
        "user_upper": user.upper(),
        "user_id": user_id,
        "user_token_id": user_token_id,
        "other": other,
        "other_id": other_id,
        "user_catalog": ucat,
        "user_schema": f"{ucat}.s",
        "user_table": f"{ucat}.s.t",
        "user_model": f"{ucat}.s.m",
        "group": group,
        "group_id": group_id,
        "sp": sp,
        "sp_id": sp_id,
        "admin_id": ok(admin.get(f"{SCIM}/Me"))["id"],
        "scratch": unique("bad_scratch"),
    }
    w = World(server, admin, server.admin, user_client, other_client, names)
    w.bad_auth = {
        "no header": None,
        "not bearer": "Basic YWRtaW46YWRtaW4=",
        "bearer without token": "Bearer",
        "garbage": "Bearer dapi" + "0" * 64,
        "revoked": f"Bearer {revoked['token_value']}",
        "expired": f"Bearer {expiring['token_value']}",
        "deleted user": f"Bearer {gone_token}",
    }
    reset_scratch(w)
    time.sleep(max(0.0, expires_at - time.monotonic()))
    return w


# -- state before and after ---------------------------------------------------------------


NAMESPACE, OWNED, SCRATCH = "namespace", "user's objects", "scratch objects"
PRINCIPALS, TOKENS = "principals", "tokens"
EVERYTHING = frozenset({NAMESPACE, OWNED, SCRATCH, PRINCIPALS, TOKENS})


def read_area(w: World, area: str) -> dict[str, Any]:
    """One area of the state a rejected call could have changed, as the admin sees it."""

    def get(path: str, **params: Any) -> Any:
        return ok(w.reader.get(path, params=params))

    state: dict[str, Any] = {}
    # Every catalog and every model is listed; schemas, tables and versions per catalog.
    catalog = {NAMESPACE: w.catalog, OWNED: w.user_catalog, SCRATCH: w.scratch}.get(area)
    if area == NAMESPACE:
        state["catalogs"] = get(f"{UC}/catalogs", max_results=1000)["catalogs"]
        state["models"] = get(f"{UC}/models")["registered_models"]
    if catalog is not None:
        schema = "sch" if area == NAMESPACE else "s"
        model = "mdl" if area == NAMESPACE else "m"
        state[f"schemas {catalog}"] = get(f"{UC}/schemas", catalog_name=catalog)["schemas"]
        parent = {"catalog_name": catalog, "schema_name": schema}
        state[f"tables {catalog}.{schema}"] = get(f"{UC}/tables", **parent)["tables"]
        versions = f"{UC}/models/{catalog}.{schema}.{model}/versions"
        state[f"versions {catalog}.{schema}.{model}"] = get(versions)["model_versions"]
    elif area == PRINCIPALS:
        for kind in ("Users", "ServicePrincipals", "Groups"):
            state[kind] = get(f"{SCIM}/{kind}", count=10_000)["Resources"]
    else:
        state["tokens"] = get(f"{API}/token-management/tokens")["token_infos"]
    return state


def snapshot(w: World, areas: frozenset[str] = EVERYTHING) -> dict[str, Any]:
    """The state of ``areas``; the last reading is reused as long as nothing was invalidated."""
    state: dict[str, Any] = {}
    for area in sorted(areas):
        if w.baseline.get(area) is None:
            w.baseline[area] = read_area(w, area)
        state.update(w.baseline[area])
    return state


def assert_unchanged(w: World, before: dict[str, Any], what: str, areas: frozenset[str]) -> None:
    after: dict[str, Any] = {}
    for area in sorted(areas):
        w.baseline[area] = read_area(w, area)
        after.update(w.baseline[area])
    changed = [key for key in before.keys() | after.keys() if before.get(key) != after.get(key)]
    assert not changed, f"{what} was rejected but changed state: {sorted(changed)}"


def areas_of(path: str, *request: Any) -> frozenset[str]:
    """The areas a request to ``path`` could change; ``request`` is the rest of it, unfilled."""
    if path.startswith(SCIM):
        return frozenset({PRINCIPALS, TOKENS})  # deleting a principal takes its tokens along
    if path.startswith(API):
        return frozenset({TOKENS})
    text = repr((path, *request))
    areas = {NAMESPACE}
    if "{user_" in text or "who='other'" in text or "who='user'" in text:
        areas.add(OWNED)
    if "{scratch}" in text:
        areas.add(SCRATCH)
    return frozenset(areas)


@contextmanager
def unchanged(w: World, what: str, areas: frozenset[str] = EVERYTHING) -> Iterator[None]:
    """Assert the block leaves ``areas`` as they were."""
    before = snapshot(w, areas)
    try:
        yield
    except BaseException:
        w.invalidate()  # the block failed half-way: state is unknown now
        raise
    assert_unchanged(w, before, what, areas)


@pytest.fixture
def mutating_world(world: World) -> Iterator[World]:
    """For tests that change state on purpose: later tests re-read it from scratch."""
    world.invalidate()
    yield world
    world.invalidate()


# -- assertions ---------------------------------------------------------------------------

Needle = str | tuple[str, ...]


CODE_OF_STATUS = {400: BAD, 401: UNAUTH, 403: DENIED, 404: MISSING, 409: EXISTS, 413: TOO_BIG}


def expect_error(
    response: httpx.Response,
    status: int | tuple[int, ...],
    code: str | None,
    needles: tuple[Needle, ...] = (),
) -> dict[str, Any]:
    """Check one error response; a tuple needle is satisfied by any of its strings.

    With several acceptable statuses the error code must be the one of the status sent.
    """
    where = f"{response.request.method} {response.request.url.raw_path.decode()[:200]}"
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (
        f"{where}: expected {status} {code}, got {response.status_code} {response.text[:500]}"
    )
    if len(statuses) > 1:
        code = CODE_OF_STATUS[response.status_code]
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"{where}: error body is not JSON: {response.text[:300]!r}")
    assert isinstance(body, dict), f"{where}: error body is not an object: {body!r}"
    if code is not None:
        assert body.get("error_code") == code, f"{where}: expected {code}, got {body}"
    message = body.get("message")
    assert isinstance(message, str) and message, f"{where}: no message in {body}"
    for needle in needles:
        options = (needle,) if isinstance(needle, str) else needle
        assert any(o.lower() in message.lower() for o in options), (
            f"{where}: message {message!r} does not name any of {options}"
        )
    request_id = body.get("request_id")
    assert request_id, f"{where}: no request_id in {body}"
    assert response.headers.get("x-request-id") == request_id
    return body


# -- table-driven cases -------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Any = None
    status: int | tuple[int, ...] = 400
    code: str | None = BAD
    needles: tuple[Needle, ...] = ()
    content: bytes | None = None
    params: dict[str, Any] | None = None
    who: str = "admin"


def fill(value: Any, names: dict[str, str]) -> Any:
    """Substitute ``{catalog}``-style placeholders in strings, recursively."""
    if isinstance(value, str):
        return value.format_map(names)
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(fill(v, names) for v in value)
    return value


def case(
    case_id: str,
    method: str,
    path: str,
    body: Any = None,
    status: int | tuple[int, ...] = 400,
    code: str | None = BAD,
    needles: tuple[Needle, ...] | Needle = (),
    **kw: Any,
) -> Any:
    if not isinstance(needles, tuple):
        needles = (needles,)
    return pytest.param(Case(method, path, body, status, code, needles, **kw), id=case_id)


def run_case(w: World, c: Case) -> dict[str, Any]:
    names = {**w.vars, "new": unique("new")}
    kwargs: dict[str, Any] = {}
    if c.content is not None:
        kwargs["content"] = c.content
        kwargs["headers"] = {"Content-Type": "application/json"}
    elif c.body is not None:
        kwargs["content"] = as_json(fill(c.body, names))
        kwargs["headers"] = {"Content-Type": "application/json"}
    if c.params is not None:
        kwargs["params"] = fill(c.params, names)
    path = absolute(fill(c.path, names))
    with unchanged(w, f"{c.method} {c.path}", areas_of(path, c)):
        response = w.client(c.who).request(c.method, path, **kwargs)
        body = expect_error(response, c.status, c.code, fill(c.needles, names))
    return body


def as_json(value: Any) -> bytes:
    """JSON with non-ASCII escaped, so even a lone surrogate can be sent (as ``\\ud800``)."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def absolute(path: str) -> str:
    """Paths in the tables are relative to the UC prefix unless they start with /api."""
    return path if path.startswith("/api") else UC + path


NEW_TABLE = table_body("{catalog}", "sch", "{new}")
NEW_MODEL = model_body("{catalog}", "sch", "{new}")
NEW_VERSION = version_body("{catalog}", "sch", "mdl")
USER_VERSION = version_body("{user_catalog}", "s", "m")
BROKEN_JSON = b'{"name": "x", '
UNKNOWN = {"bogus_field": 1}


def with_columns(*cols: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {**NEW_TABLE, "columns": list(cols), **over}


# Unknown fields, wrong types, missing fields, malformed JSON, non-object bodies.
BODY_CASES = [
    # catalogs
    case("catalog.create.unknown", "POST", "/catalogs", {"name": "{new}", **UNKNOWN}, needles="bogus_field"),
    case("catalog.create.name-int", "POST", "/catalogs", {"name": 5}, needles="name"),
    case("catalog.create.name-null", "POST", "/catalogs", {"name": None}, needles="name"),
    case("catalog.create.no-name", "POST", "/catalogs", {"comment": "x"}, needles="name"),
    case("catalog.create.comment-list", "POST", "/catalogs", {"name": "{new}", "comment": ["x"]}, needles="comment"),
    case("catalog.create.properties-str", "POST", "/catalogs", {"name": "{new}", "properties": "x"}, needles="properties"),
    case("catalog.create.properties-int", "POST", "/catalogs", {"name": "{new}", "properties": {"k": 1}}, needles="properties"),
    case("catalog.create.broken-json", "POST", "/catalogs", content=BROKEN_JSON, needles="json"),
    case("catalog.create.empty-body", "POST", "/catalogs", content=b"", needles=(("body", "json", "name"),)),
    case("catalog.create.array", "POST", "/catalogs", ["{new}"], needles=(("object", "body"),)),
    case("catalog.create.string", "POST", "/catalogs", "{new}", needles=(("object", "body"),)),
    case("catalog.create.reserved", "POST", "/catalogs", {"name": "system"}, needles="system"),
    case("catalog.create.reserved-upper", "POST", "/catalogs", {"name": "SYSTEM"}, needles="system"),
    case("catalog.update.unknown", "PATCH", "/catalogs/{catalog}", {"comment": "changed", **UNKNOWN}, needles="bogus_field"),
    case("catalog.update.comment-int", "PATCH", "/catalogs/{catalog}", {"comment": 5}, needles="comment"),
    case("catalog.update.owner-list", "PATCH", "/catalogs/{catalog}", {"owner": ["x"]}, needles="owner"),
    case("catalog.update.broken-json", "PATCH", "/catalogs/{catalog}", content=BROKEN_JSON, needles="json"),
    case("catalog.update.rename-system", "PATCH", "/catalogs/{catalog}", {"comment": "changed", "new_name": "system"}, needles="system"),
    case("catalog.delete.force-garbage", "DELETE", "/catalogs/{catalog}", params={"force": "maybe"}, needles="force"),
    case("catalog.list.max-results-text", "GET", "/catalogs", params={"max_results": "ten"}, needles="max_results"),
    # schemas
    case("schema.create.unknown", "POST", "/schemas", {"name": "{new}", "catalog_name": "{catalog}", **UNKNOWN}, needles="bogus_field"),
    case("schema.create.catalog-int", "POST", "/schemas", {"name": "{new}", "catalog_name": 5}, needles="catalog_name"),
    case("schema.create.no-catalog", "POST", "/schemas", {"name": "{new}"}, needles="catalog_name"),
    case("schema.create.no-name", "POST", "/schemas", {"catalog_name": "{catalog}"}, needles="name"),
    case("schema.create.properties-list", "POST", "/schemas", {"name": "{new}", "catalog_name": "{catalog}", "properties": ["a"]}, needles="properties"),
    case("schema.create.broken-json", "POST", "/schemas", content=BROKEN_JSON, needles="json"),
    case("schema.create.array", "POST", "/schemas", [], needles=(("object", "body"),)),
    case("schema.update.unknown", "PATCH", "/schemas/{schema}", {"comment": "changed", **UNKNOWN}, needles="bogus_field"),
    case("schema.update.comment-dict", "PATCH", "/schemas/{schema}", {"comment": {"a": 1}}, needles="comment"),
    case("schema.update.broken-json", "PATCH", "/schemas/{schema}", content=BROKEN_JSON, needles="json"),
    case("schema.list.no-catalog", "GET", "/schemas", needles="catalog_name"),
    case("schema.delete.force-garbage", "DELETE", "/schemas/{schema}", params={"force": "maybe"}, needles="force"),
    # tables
    case("table.create.unknown", "POST", "/tables", {**NEW_TABLE, **UNKNOWN}, needles="bogus_field"),
    case("table.create.column-unknown", "POST", "/tables", with_columns(column(bogus_field=1)), needles="bogus_field"),
    case("table.create.columns-str", "POST", "/tables", {**NEW_TABLE, "columns": "id"}, needles="columns"),
    case("table.create.no-columns-field", "POST", "/tables", {k: v for k, v in NEW_TABLE.items() if k != "columns"}, needles="columns"),
    case("table.create.table-type", "POST", "/tables", {**NEW_TABLE, "table_type": "BOGUS"}, needles="table_type"),
    case("table.create.table-type-view", "POST", "/tables", {**NEW_TABLE, "table_type": "VIEW"}, needles="table_type"),
    case("table.create.format", "POST", "/tables", {**NEW_TABLE, "data_source_format": "XLS"}, needles="data_source_format"),
    case("table.create.type-name", "POST", "/tables", with_columns(column(type_name="NOPE")), needles="type_name"),
    case("table.create.position-negative", "POST", "/tables", with_columns(column(position=-1)), needles="position"),
    case("table.create.position-gap", "POST", "/tables", with_columns(column(position=3)), needles="position"),
    case("table.create.nullable-str", "POST", "/tables", with_columns(column(nullable="maybe")), needles="nullable"),
    case("table.create.no-columns", "POST", "/tables", with_columns(), needles="column"),
    case("table.create.duplicate-column", "POST", "/tables", with_columns(column(), column(name="ID", position=1)), needles="id"),
    case("table.create.empty-column-name", "POST", "/tables", with_columns(column(name="")), needles="name"),
    case("table.create.control-column-name", "POST", "/tables", with_columns(column(name="a\x01b")), needles="control"),
    case("table.create.external-no-location", "POST", "/tables", {**NEW_TABLE, "table_type": "EXTERNAL"}, needles="storage_location"),
    case(
        "table.create.pk-nullable", "POST", "/tables",
        with_columns(column(nullable=True), table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": ["id"]}}]),
        needles="not null",
    ),
    case(
        "table.create.pk-unknown-column", "POST", "/tables",
        with_columns(column(), table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": ["nope"]}}]),
        needles="nope",
    ),
    case(
        "table.create.pk-empty", "POST", "/tables",
        with_columns(column(), table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": []}}]),
        needles="child_columns",
    ),
    case(
        "table.create.timeseries-not-key", "POST", "/tables",
        with_columns(
            column(), column(name="ts", type_name="TIMESTAMP", position=1, nullable=False),
            table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": ["id"], "timeseries_columns": ["ts"]}}],
        ),
        needles="ts",
    ),
    case("table.create.broken-json", "POST", "/tables", content=BROKEN_JSON, needles="json"),
    case("table.list.no-schema", "GET", "/tables", params={"catalog_name": "{catalog}"}, needles="schema_name"),
    # registered models
    case("model.create.unknown", "POST", "/models", {**NEW_MODEL, **UNKNOWN}, needles="bogus_field"),
    case("model.create.name-int", "POST", "/models", {**NEW_MODEL, "name": 7}, needles="name"),
    case("model.create.no-schema", "POST", "/models", {"name": "{new}", "catalog_name": "{catalog}"}, needles="schema_name"),
    case("model.create.broken-json", "POST", "/models", content=BROKEN_JSON, needles="json"),
    case("model.update.unknown", "PATCH", "/models/{model}", {"comment": "changed", **UNKNOWN}, needles="bogus_field"),
    case("model.update.comment-int", "PATCH", "/models/{model}", {"comment": 1}, needles="comment"),
    case("model.update.broken-json", "PATCH", "/models/{model}", content=BROKEN_JSON, needles="json"),
    case("model.list.catalog-only", "GET", "/models", params={"catalog_name": "{catalog}"}, needles="schema_name"),
    case("model.delete.force-garbage", "DELETE", "/models/{model}", params={"force": "maybe"}, needles="force"),
    # model versions
    case("version.create.unknown", "POST", "/models/versions", {**NEW_VERSION, **UNKNOWN}, needles="bogus_field"),
    case("version.create.empty-source", "POST", "/models/versions", {**NEW_VERSION, "source": ""}, needles="source"),
    case("version.create.source-int", "POST", "/models/versions", {**NEW_VERSION, "source": 5}, needles="source"),
    case("version.create.no-source", "POST", "/models/versions", {k: v for k, v in NEW_VERSION.items() if k != "source"}, needles="source"),
    case("version.create.no-model", "POST", "/models/versions", {k: v for k, v in NEW_VERSION.items() if k != "model_name"}, needles="model_name"),
    case("version.create.broken-json", "POST", "/models/versions", content=BROKEN_JSON, needles="json"),
    case("version.update.unknown", "PATCH", "/models/{model}/versions/1", {"comment": "changed", **UNKNOWN}, needles="bogus_field"),
    case("version.update.comment-list", "PATCH", "/models/{model}/versions/1", {"comment": ["x"]}, needles="comment"),
    case("version.update.broken-json", "PATCH", "/models/{model}/versions/1", content=BROKEN_JSON, needles="json"),
    case("version.get.version-text", "GET", "/models/{model}/versions/one", needles="version"),
    case("version.update.version-text", "PATCH", "/models/{model}/versions/one", {"comment": "changed"}, needles="version"),
    case("version.delete.version-text", "DELETE", "/models/{model}/versions/one", needles="version"),
    case("version.finalize.version-text", "PATCH", "/models/{model}/versions/one/finalize", needles="version"),
    case("version.finalize.unknown", "PATCH", "/models/{model}/versions/1/finalize", {"full_name": "{model}", "version": 1, **UNKNOWN}, needles="bogus_field"),
    case("version.finalize.version-mismatch", "PATCH", "/models/{model}/versions/1/finalize", {"full_name": "{model}", "version": 2}, needles="version"),
    case("version.finalize.name-mismatch", "PATCH", "/models/{model}/versions/1/finalize", {"full_name": "{user_model}", "version": 1}, needles="full_name"),
    case("version.finalize.version-str", "PATCH", "/models/{model}/versions/1/finalize", {"full_name": "{model}", "version": "x"}, needles="version"),
    case("version.finalize.broken-json", "PATCH", "/models/{model}/versions/1/finalize", content=BROKEN_JSON, needles="json"),
    # SCIM users, service principals, groups
    case("scim.user.unknown", "POST", f"{SCIM}/Users", {"userName": "{new}@example.com", **UNKNOWN}, needles="bogus_field"),
    case("scim.user.name-int", "POST", f"{SCIM}/Users", {"userName": 5}, needles="userName"),
    case("scim.user.no-name", "POST", f"{SCIM}/Users", {"displayName": "x"}, needles="userName"),
    case("scim.user.active-str", "POST", f"{SCIM}/Users", {"userName": "{new}", "active": "maybe"}, needles="active"),
    case("scim.user.groups-str", "POST", f"{SCIM}/Users", {"userName": "{new}", "groups": "x"}, needles="groups"),
    case("scim.user.empty-name", "POST", f"{SCIM}/Users", {"userName": ""}, needles="userName"),
    case("scim.user.blank-name", "POST", f"{SCIM}/Users", {"userName": "   "}, needles="userName"),
    case("scim.user.control-name", "POST", f"{SCIM}/Users", {"userName": "a\x07b@example.com"}, needles="userName"),
    case("scim.user.long-name", "POST", f"{SCIM}/Users", {"userName": "u" * 256}, needles="userName"),
    case("scim.user.broken-json", "POST", f"{SCIM}/Users", content=BROKEN_JSON, needles="json"),
    case("scim.sp.unknown", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}", **UNKNOWN}, needles="bogus_field"),
    case("scim.sp.no-id", "POST", f"{SCIM}/ServicePrincipals", {"displayName": "x"}, needles="applicationId"),
    case("scim.sp.control-id", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "a\nb"}, needles="applicationId"),
    case("scim.sp.broken-json", "POST", f"{SCIM}/ServicePrincipals", content=BROKEN_JSON, needles="json"),
    case("scim.group.unknown", "POST", f"{SCIM}/Groups", {"displayName": "{new}", **UNKNOWN}, needles="bogus_field"),
    case("scim.group.no-name", "POST", f"{SCIM}/Groups", {"members": []}, needles="displayName"),
    case("scim.group.members-str", "POST", f"{SCIM}/Groups", {"displayName": "{new}", "members": "x"}, needles="members"),
    case("scim.group.member-no-value", "POST", f"{SCIM}/Groups", {"displayName": "{new}", "members": [{"display": "x"}]}, needles="value"),
    case("scim.group.control-name", "POST", f"{SCIM}/Groups", {"displayName": "g\x00"}, needles="displayName"),
    case("scim.group.broken-json", "POST", f"{SCIM}/Groups", content=BROKEN_JSON, needles="json"),
    case("scim.patch.no-ops", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": []}, needles="Operations"),
    case("scim.patch.missing-ops", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"schemas": []}, needles="Operations"),
    case("scim.patch.bad-op", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "delete", "value": {"members": [{"value": "{other_id}"}]}}]}, needles="op"),
    case("scim.patch.op-unknown-field", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}, **UNKNOWN}]}, needles="bogus_field"),
    case("scim.patch.unknown", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}], **UNKNOWN}, needles="bogus_field"),
    case("scim.patch.value-shape", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "add", "value": {"members": "{other_id}"}}]}, needles="members"),
    case("scim.patch.bad-path", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "remove", "path": "members[id = 1]"}]}, needles="members[id = 1]"),
    case("scim.patch.unquoted-path", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "remove", "path": "members[value eq {user_id}]"}]}, needles="quoted"),
    case("scim.patch.replace-other", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}, needles="displayName"),
    case(
        "scim.patch.valid-then-bad", "PATCH", f"{SCIM}/Groups/{{group_id}}",
        {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}, {"op": "remove", "path": "oops"}]},
        needles="oops",
    ),
    case("scim.patch.broken-json", "PATCH", f"{SCIM}/Groups/{{group_id}}", content=BROKEN_JSON, needles="json"),
    case("scim.users.filter-op", "GET", f"{SCIM}/Users", params={"filter": 'userName co "x"'}, needles="filter"),
    case("scim.users.filter-attribute", "GET", f"{SCIM}/Users", params={"filter": 'emails eq "x"'}, needles="filter"),
    case("scim.users.filter-unquoted", "GET", f"{SCIM}/Users", params={"filter": "userName eq x"}, needles="quoted"),
    case("scim.groups.filter-op", "GET", f"{SCIM}/Groups", params={"filter": 'displayName sw "x"'}, needles="filter"),
    case("scim.sps.filter-op", "GET", f"{SCIM}/ServicePrincipals", params={"filter": 'applicationId gt "x"'}, needles="filter"),
    # tokens
    case("token.create.unknown", "POST", f"{API}/token/create", {"comment": "x", **UNKNOWN}, needles="bogus_field"),
    case("token.create.lifetime-str", "POST", f"{API}/token/create", {"lifetime_seconds": "soon"}, needles="lifetime_seconds"),
    case("token.create.lifetime-negative", "POST", f"{API}/token/create", {"lifetime_seconds": -5}, needles="lifetime_seconds"),
    case("token.create.lifetime-huge", "POST", f"{API}/token/create", {"lifetime_seconds": 10**12}, needles="lifetime_seconds"),
    case("token.create.lifetime-float", "POST", f"{API}/token/create", {"lifetime_seconds": 1.5}, needles="lifetime_seconds"),
    case("token.create.comment-long", "POST", f"{API}/token/create", {"comment": "c" * 1001}, needles="comment"),
    case("token.create.comment-int", "POST", f"{API}/token/create", {"comment": 5}, needles="comment"),
    case("token.create.broken-json", "POST", f"{API}/token/create", content=BROKEN_JSON, needles="json"),
    case("token.create.array", "POST", f"{API}/token/create", [], needles=(("object", "body"),)),
    case("token.delete.unknown", "POST", f"{API}/token/delete", {"token_id": "{user_token_id}", **UNKNOWN}, needles="bogus_field"),
    case("token.delete.no-id", "POST", f"{API}/token/delete", {}, needles="token_id"),
    case("token.delete.id-int", "POST", f"{API}/token/delete", {"token_id": 5}, needles="token_id"),
    case("token.delete.broken-json", "POST", f"{API}/token/delete", content=BROKEN_JSON, needles="json"),
    case("obo.unknown", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}", **UNKNOWN}, needles="bogus_field"),
    case("obo.both", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}", "application_id": "{sp}"}, needles="application_id"),
    case("obo.neither", "POST", f"{API}/token-management/on-behalf-of/tokens", {"comment": "x"}, needles="application_id"),
    case("obo.user-int", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": 5}, needles="user_name"),
    case("obo.lifetime-str", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}", "lifetime_seconds": "x"}, needles="lifetime_seconds"),
    case("obo.app-id-is-user", "POST", f"{API}/token-management/on-behalf-of/tokens", {"application_id": "{user}"}, needles="{user}"),
    case("obo.control-name", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "a\x01b"}, needles="user_name"),
    case("obo.broken-json", "POST", f"{API}/token-management/on-behalf-of/tokens", content=BROKEN_JSON, needles="json"),
    case("obo.user-name-is-group", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{group}"}, needles="{group}"),
    case("obo.user-name-is-sp", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{sp}"}, needles="{sp}"),
    # an empty owner names no principal: an error, not a silent no-op (SPEC §6)
    case("catalog.update.owner-empty", "PATCH", "/catalogs/{catalog}", {"comment": "changed", "owner": ""}, needles="owner"),
    case("schema.update.owner-empty", "PATCH", "/schemas/{schema}", {"comment": "changed", "owner": ""}, needles="owner"),
    case("model.update.owner-empty", "PATCH", "/models/{model}", {"comment": "changed", "owner": ""}, needles="owner"),
    # bodies that are not JSON objects at all
    case("catalog.create.deeply-nested", "POST", "/catalogs", content=b"[" * 50_000 + b"]" * 50_000, needles=(("body", "json"),)),
    case("catalog.create.not-utf8", "POST", "/catalogs", content=b'{"name": "\xff"}', needles=(("body", "json", "utf"),)),
    case("catalog.create.nan", "POST", "/catalogs", content=b'{"name": NaN}', needles="name"),
    case("token.create.lifetime-infinite", "POST", f"{API}/token/create", content=b'{"lifetime_seconds": 1e400}', needles="lifetime_seconds"),
    case("table.create.too-many-columns", "POST", "/tables", with_columns(*[column(name=f"c{i}", position=i) for i in range(4097)]), needles="4096"),
    case("table.create.pk-listed-twice", "POST", "/tables", with_columns(column(), table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": ["id", "ID"]}}]), needles="twice"),
    case("table.create.two-pks", "POST", "/tables", with_columns(column(), table_constraints=[{"primary_key_constraint": {"name": "a", "child_columns": ["id"]}}, {"primary_key_constraint": {"name": "b", "child_columns": ["id"]}}]), needles="primary key"),
    case("scim.patch.add-no-value", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "add"}]}, needles="value"),
    case("scim.group.member-value-int", "POST", f"{SCIM}/Groups", {"displayName": "{new}", "members": [{"value": 5}]}, needles="value"),
    case("scim.user.delete-bootstrap-admin", "DELETE", f"{SCIM}/Users/{{admin_id}}", needles="admin"),
]  # fmt: skip


@pytest.mark.parametrize("c", BODY_CASES)
def test_bad_body_is_rejected_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- values the backends cannot store ------------------------------------------------------

#: NUL is refused by PostgreSQL text columns; a lone surrogate cannot be encoded as UTF-8.
#: Either must be a 400 on every backend: never a 500, never a backend-dependent success.
UNSTORABLE = [pytest.param("a\x00b", id="nul"), pytest.param("a\ud800b", id="lone-surrogate")]

SCRATCH_TABLE = table_body("{scratch}", "s", "{new}")
SCRATCH_MODEL = model_body("{scratch}", "s", "{new}")
SCRATCH_VERSION = version_body("{scratch}", "s", "m")

#: (method, path, body with TEXT where the value goes, the field the error must name);
#: namespace cases work in a scratch catalog that is rebuilt if a bad value lands there.
TEXT_FIELDS = [
    pytest.param("POST", "/catalogs", {"name": "{new}", "comment": "TEXT"}, "comment", id="catalog.comment"),
    pytest.param("POST", "/catalogs", {"name": "{new}", "properties": {"k": "TEXT"}}, "properties", id="catalog.properties"),
    pytest.param("PATCH", "/catalogs/{scratch}", {"comment": "TEXT"}, "comment", id="catalog.update.comment"),
    pytest.param("POST", "/schemas", {"name": "{new}", "catalog_name": "{scratch}", "comment": "TEXT"}, "comment", id="schema.comment"),
    pytest.param("PATCH", "/schemas/{scratch}.s", {"comment": "TEXT"}, "comment", id="schema.update.comment"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "comment": "TEXT"}, "comment", id="table.comment"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(comment="TEXT")]}, "comment", id="table.column.comment"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(type_text="TEXT")]}, "type_text", id="table.column.type_text"),
    pytest.param("POST", "/models", {**SCRATCH_MODEL, "comment": "TEXT"}, "comment", id="model.comment"),
    pytest.param("PATCH", "/models/{scratch}.s.m", {"comment": "TEXT"}, "comment", id="model.update.comment"),
    pytest.param("POST", "/models/versions", {**SCRATCH_VERSION, "source": "TEXT"}, "source", id="version.source"),
    pytest.param("POST", "/models/versions", {**SCRATCH_VERSION, "run_id": "TEXT"}, "run_id", id="version.run_id"),
    pytest.param("POST", "/models/versions", {**SCRATCH_VERSION, "comment": "TEXT"}, "comment", id="version.comment"),
    pytest.param("PATCH", "/models/{scratch}.s.m/versions/1", {"comment": "TEXT"}, "comment", id="version.update.comment"),
    pytest.param("POST", f"{SCIM}/Users", {"userName": "{new}", "displayName": "TEXT"}, "displayName", id="scim.user.displayName"),
    pytest.param("POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}", "displayName": "TEXT"}, "displayName", id="scim.sp.displayName"),
    pytest.param("POST", f"{SCIM}/Users", {"userName": "{new}TEXT"}, "userName", id="scim.user.userName"),
    pytest.param("POST", f"{SCIM}/Groups", {"displayName": "{new}TEXT"}, "displayName", id="scim.group.displayName"),
    pytest.param("POST", f"{API}/token/create", {"comment": "TEXT"}, "comment", id="token.comment"),
    pytest.param("POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}", "comment": "TEXT"}, "comment", id="obo.comment"),
]  # fmt: skip

#: Values longer than the column that stores them (String(n) in the schema).
TOO_LONG_FIELDS = [
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(name="c" * 256)]}, "name", id="column.name>255"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(type_text="t" * 1001)]}, "type_text", id="column.type_text>1000"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(type_interval_type="i" * 65)]}, "type_interval_type", id="column.type_interval_type>64"),
    pytest.param(
        "POST", "/tables",
        {**SCRATCH_TABLE, "table_constraints": [{"primary_key_constraint": {"name": "p" * 256, "child_columns": ["id"]}}]},
        "name", id="primary_key.name>255",
    ),
    pytest.param("POST", "/models/versions", {**SCRATCH_VERSION, "run_id": "r" * 256}, "run_id", id="version.run_id>255"),
    pytest.param("POST", f"{SCIM}/Users", {"userName": "{new}", "displayName": "d" * 256}, "displayName", id="scim.user.displayName>255"),
    pytest.param("POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}", "displayName": "d" * 256}, "displayName", id="scim.sp.displayName>255"),
]  # fmt: skip


def replace_text(value: Any, text: str) -> Any:
    if isinstance(value, str):
        return value.replace("TEXT", text)
    if isinstance(value, dict):
        return {k: replace_text(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_text(v, text) for v in value]
    return value


def reset_scratch(w: World) -> None:
    """(Re)build the scratch catalog: schema ``s`` holding model ``m`` with version 1."""
    admin, scratch = w.reader, w.scratch
    admin.delete(f"{UC}/catalogs/{scratch}", params={"force": "true"})
    ok(admin.post(f"{UC}/catalogs", json={"name": scratch}))
    ok(admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": scratch}))
    ok(admin.post(f"{UC}/models", json=model_body(scratch, "s", "m")))
    ok(admin.post(f"{UC}/models/versions", json=version_body(scratch, "s", "m")))


def undo_accepted(w: World, url: str, response: httpx.Response | None, new: str) -> None:
    """After a bad value was accepted (or crashed the server): remove what may have landed."""
    admin = w.reader
    admin.delete(f"{UC}/catalogs/{new}", params={"force": "true"})
    if url.startswith(UC):
        reset_scratch(w)
    created: Any = None
    if response is not None and response.is_success:
        created = response.json()
    if isinstance(created, dict) and "token_info" in created:
        token_id = created["token_info"]["token_id"]
        admin.delete(f"{API}/token-management/tokens/{token_id}")
    if isinstance(created, dict) and url.startswith(SCIM) and "id" in created:
        admin.delete(f"{url}/{created['id']}")
    w.invalidate()


def send_unstorable(
    w: World, method: str, path: str, body: dict[str, Any], field_name: str, text: str
) -> None:
    names = {**w.vars, "new": unique("new")}
    url = absolute(fill(path, names))
    payload = as_json(replace_text(fill(body, names), text))
    response: httpx.Response | None = None
    try:
        with unchanged(w, f"{method} {path} with {text[:20]!r}…", areas_of(url, path, body)):
            response = w.admin.request(
                method, url, content=payload, headers={"Content-Type": "application/json"}
            )
            # a lone surrogate may be refused as invalid JSON, which names the problem too
            expect_error(response, 400, BAD, ((field_name, "surrogate"),))
    finally:
        if response is None or response.status_code != 400:
            undo_accepted(w, url, response, names["new"])


@pytest.mark.parametrize("text", UNSTORABLE)
@pytest.mark.parametrize(("method", "path", "body", "field_name"), TEXT_FIELDS)
def test_unstorable_text_is_400_on_every_backend(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str, text: str
) -> None:
    send_unstorable(world, method, path, body, field_name, text)


@pytest.mark.parametrize(("method", "path", "body", "field_name"), TOO_LONG_FIELDS)
def test_value_longer_than_its_column_is_400_on_every_backend(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str
) -> None:
    send_unstorable(world, method, path, body, field_name, "")


# -- bad names ----------------------------------------------------------------------------

BAD_NAMES = [
    pytest.param("a b", id="space"),
    pytest.param("a.b", id="dot"),
    pytest.param("a/b", id="slash"),
    pytest.param("a\x01b", id="control"),
    pytest.param("a\nb", id="newline"),
    pytest.param("", id="empty"),
    pytest.param("n" * 256, id="too-long"),
]

#: (where the name goes, method, path, body with NAME for the bad name, field named in the error)
NAME_TARGETS = [
    pytest.param("POST", "/catalogs", {"name": "NAME"}, "name", id="catalog.name"),
    pytest.param("POST", "/schemas", {"name": "NAME", "catalog_name": "{catalog}"}, "name", id="schema.name"),
    pytest.param("POST", "/schemas", {"name": "{new}", "catalog_name": "NAME"}, "catalog_name", id="schema.catalog_name"),
    pytest.param("POST", "/tables", table_body("{catalog}", "sch", "NAME"), "name", id="table.name"),
    pytest.param("POST", "/tables", table_body("{catalog}", "NAME", "{new}"), "schema_name", id="table.schema_name"),
    pytest.param("POST", "/tables", table_body("NAME", "sch", "{new}"), "catalog_name", id="table.catalog_name"),
    pytest.param("POST", "/models", model_body("{catalog}", "sch", "NAME"), "name", id="model.name"),
    pytest.param("POST", "/models", model_body("{catalog}", "NAME", "{new}"), "schema_name", id="model.schema_name"),
    pytest.param("POST", "/models/versions", version_body("{catalog}", "sch", "NAME"), "model_name", id="version.model_name"),
    pytest.param("PATCH", "/catalogs/{catalog}", {"comment": "changed", "new_name": "NAME"}, "new_name", id="catalog.new_name"),
    pytest.param("PATCH", "/schemas/{schema}", {"comment": "changed", "new_name": "NAME"}, "new_name", id="schema.new_name"),
    pytest.param("PATCH", "/models/{model}", {"comment": "changed", "new_name": "NAME"}, "new_name", id="model.new_name"),
]  # fmt: skip


def replace_name(value: Any, bad: str) -> Any:
    if value == "NAME":
        return bad
    if isinstance(value, dict):
        return {k: replace_name(v, bad) for k, v in value.items()}
    return value


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize(("method", "path", "body", "field_name"), NAME_TARGETS)
def test_bad_name_is_rejected_and_changes_nothing(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str, bad: str
) -> None:
    names = {**world.vars, "new": unique("new")}
    payload = replace_name(fill(body, names), bad)
    # The message names the field, or quotes the offending value.
    needle: Needle = (field_name, bad[:40]) if bad else field_name
    with unchanged(world, f"{method} {path} with name {bad!r}", frozenset({NAMESPACE})):
        response = world.admin.request(method, UC + fill(path, names), json=payload)
        expect_error(response, 400, BAD, (needle,))


PATH_NAME_CASES = [
    # wrong number of parts
    case("catalog.get.two-parts", "GET", "/catalogs/{catalog}.x", needles="part"),
    case("catalog.update.two-parts", "PATCH", "/catalogs/{catalog}.x", {"comment": "changed"}, needles="part"),
    case("catalog.delete.two-parts", "DELETE", "/catalogs/{catalog}.x", needles="part"),
    case("schema.get.one-part", "GET", "/schemas/{catalog}", needles="part"),
    case("schema.update.one-part", "PATCH", "/schemas/{catalog}", {"comment": "changed"}, needles="part"),
    case("schema.delete.one-part", "DELETE", "/schemas/{catalog}", params={"force": "true"}, needles="part"),
    case("schema.delete.three-parts", "DELETE", "/schemas/{table}", needles="part"),
    case("table.get.two-parts", "GET", "/tables/{schema}", needles="part"),
    case("table.delete.two-parts", "DELETE", "/tables/{schema}", needles="part"),
    case("table.delete.four-parts", "DELETE", "/tables/{table}.x", needles="part"),
    case("model.get.two-parts", "GET", "/models/{schema}", needles="part"),
    case("model.update.two-parts", "PATCH", "/models/{schema}", {"comment": "changed"}, needles="part"),
    case("model.delete.two-parts", "DELETE", "/models/{schema}", params={"force": "true"}, needles="part"),
    case("model.delete.four-parts", "DELETE", "/models/{model}.x", needles="part"),
    case("versions.list.two-parts", "GET", "/models/{schema}/versions", needles="part"),
    case("version.get.four-parts", "GET", "/models/{model}.x/versions/1", needles="part"),
    case("version.update.two-parts", "PATCH", "/models/{schema}/versions/1", {"comment": "changed"}, needles="part"),
    case("version.delete.two-parts", "DELETE", "/models/{schema}/versions/1", needles="part"),
    case("version.finalize.two-parts", "PATCH", "/models/{schema}/versions/1/finalize", needles="part"),
    # bad characters in a path name
    case("catalog.get.space", "GET", "/catalogs/a%20b", needles="a b"),
    case("catalog.get.control", "GET", "/catalogs/a%01b", needles="name"),
    case("catalog.get.too-long", "GET", "/catalogs/" + "n" * 256, needles="255"),
    case("catalog.delete.space", "DELETE", "/catalogs/a%20b", needles="a b"),
    case("schema.get.space", "GET", "/schemas/{catalog}.a%20b", needles="a b"),
    case("schema.delete.empty-part", "DELETE", "/schemas/{catalog}.", needles="name"),
    case("table.get.control", "GET", "/tables/{schema}.a%01b", needles="name"),
    case("model.get.space", "GET", "/models/{schema}.a%20b", needles="a b"),
    case("model.delete.empty-part", "DELETE", "/models/{catalog}..mdl", needles="name"),
    # bad names in list filters
    case("schema.list.dotted-catalog", "GET", "/schemas", params={"catalog_name": "{catalog}.x"}, needles="catalog_name"),
    case("schema.list.empty-catalog", "GET", "/schemas", params={"catalog_name": ""}, needles="catalog_name"),
    case("table.list.spaced-schema", "GET", "/tables", params={"catalog_name": "{catalog}", "schema_name": "a b"}, needles="schema_name"),
    case("model.list.slashed-schema", "GET", "/models", params={"catalog_name": "{catalog}", "schema_name": "a/b"}, needles="schema_name"),
]  # fmt: skip


@pytest.mark.parametrize("c", PATH_NAME_CASES)
def test_bad_name_in_path_or_query_is_rejected(world: World, c: Case) -> None:
    run_case(world, c)


# -- missing objects and parents ----------------------------------------------------------

MISSING_CASES = [
    case("schema.in-missing-catalog", "POST", "/schemas", {"name": "{new}", "catalog_name": "nocat_x"}, 404, MISSING, "nocat_x"),
    case("table.in-missing-schema", "POST", "/tables", table_body("{catalog}", "nosch", "{new}"), 404, MISSING, "{catalog}.nosch"),
    case("table.in-missing-catalog", "POST", "/tables", table_body("nocat_x", "sch", "{new}"), 404, MISSING, "nocat_x"),
    case("model.in-missing-schema", "POST", "/models", model_body("{catalog}", "nosch", "{new}"), 404, MISSING, "{catalog}.nosch"),
    case("model.in-missing-catalog", "POST", "/models", model_body("nocat_x", "sch", "{new}"), 404, MISSING, "nocat_x"),
    case("version.of-missing-model", "POST", "/models/versions", version_body("{catalog}", "sch", "nomodel"), 404, MISSING, "{schema}.nomodel"),
    case("version.of-missing-catalog", "POST", "/models/versions", version_body("nocat_x", "sch", "mdl"), 404, MISSING, "nocat_x"),
    case("version.of-table", "POST", "/models/versions", version_body("{catalog}", "sch", "tbl"), 404, MISSING, "{table}"),
    case("catalog.get", "GET", "/catalogs/nocat_x", status=404, code=MISSING, needles="nocat_x"),
    case("catalog.update", "PATCH", "/catalogs/nocat_x", {"comment": "x"}, 404, MISSING, "nocat_x"),
    case("catalog.delete", "DELETE", "/catalogs/nocat_x", status=404, code=MISSING, needles="nocat_x"),
    case("schema.get", "GET", "/schemas/{catalog}.nosch", status=404, code=MISSING, needles="{catalog}.nosch"),
    case("schema.update", "PATCH", "/schemas/{catalog}.nosch", {"comment": "x"}, 404, MISSING, "{catalog}.nosch"),
    case("schema.delete", "DELETE", "/schemas/{catalog}.nosch", status=404, code=MISSING, needles="{catalog}.nosch"),
    case("schema.list.missing-catalog", "GET", "/schemas", params={"catalog_name": "nocat_x"}, status=404, code=MISSING, needles="nocat_x"),
    case("table.get", "GET", "/tables/{schema}.notbl", status=404, code=MISSING, needles="{schema}.notbl"),
    case("table.get.is-a-model", "GET", "/tables/{model}", status=404, code=MISSING, needles="{model}"),
    case("table.delete", "DELETE", "/tables/{schema}.notbl", status=404, code=MISSING, needles="{schema}.notbl"),
    case("table.delete.is-a-model", "DELETE", "/tables/{model}", status=404, code=MISSING, needles="{model}"),
    case("table.list.missing-schema", "GET", "/tables", params={"catalog_name": "{catalog}", "schema_name": "nosch"}, status=404, code=MISSING, needles="{catalog}.nosch"),
    case("model.get", "GET", "/models/{schema}.nomodel", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("model.update", "PATCH", "/models/{schema}.nomodel", {"comment": "x"}, 404, MISSING, "{schema}.nomodel"),
    case("model.delete", "DELETE", "/models/{schema}.nomodel", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("model.delete.is-a-table", "DELETE", "/models/{table}", status=404, code=MISSING, needles="{table}"),
    case("model.list.missing-schema", "GET", "/models", params={"catalog_name": "{catalog}", "schema_name": "nosch"}, status=404, code=MISSING, needles="{catalog}.nosch"),
    case("versions.list.missing-model", "GET", "/models/{schema}.nomodel/versions", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("version.get.missing-model", "GET", "/models/{schema}.nomodel/versions/1", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("version.get.missing", "GET", "/models/{model}/versions/99", status=404, code=MISSING, needles="99"),
    case("version.update.missing", "PATCH", "/models/{model}/versions/99", {"comment": "x"}, 404, MISSING, "99"),
    case("version.delete.missing", "DELETE", "/models/{model}/versions/99", status=404, code=MISSING, needles="99"),
    case("version.finalize.missing", "PATCH", "/models/{model}/versions/99/finalize", status=404, code=MISSING, needles="99"),
    case("version.get.beyond-int32", "GET", "/models/{model}/versions/2147483648", status=404, code=MISSING, needles="2147483648"),
    case("version.update.beyond-int32", "PATCH", "/models/{model}/versions/2147483648", {"comment": "x"}, 404, MISSING, "2147483648"),
    case("version.delete.beyond-int32", "DELETE", "/models/{model}/versions/2147483648", status=404, code=MISSING, needles="2147483648"),
    case("version.finalize.beyond-int32", "PATCH", "/models/{model}/versions/2147483648/finalize", status=404, code=MISSING, needles="2147483648"),
    case("version.get.beyond-int64", "GET", "/models/{model}/versions/99999999999999999999", status=(400, 404), code=None, needles="version"),
    case("version.delete.beyond-int64", "DELETE", "/models/{model}/versions/99999999999999999999", status=(400, 404), code=None, needles="version"),
    case("version.finalize.missing-model", "PATCH", "/models/{schema}.nomodel/versions/1/finalize", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("catalog.update.unknown-owner", "PATCH", "/catalogs/{catalog}", {"comment": "changed", "owner": "nobody_x"}, 404, MISSING, "nobody_x"),
    case("schema.update.unknown-owner", "PATCH", "/schemas/{schema}", {"comment": "changed", "owner": "nobody_x"}, 404, MISSING, "nobody_x"),
    case("model.update.unknown-owner", "PATCH", "/models/{model}", {"comment": "changed", "owner": "nobody_x"}, 404, MISSING, "nobody_x"),
    case("scim.user.get", "GET", f"{SCIM}/Users/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.user.get.is-a-group", "GET", f"{SCIM}/Users/{{group_id}}", status=404, code=MISSING, needles="{group_id}"),
    case("scim.user.delete", "DELETE", f"{SCIM}/Users/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.user.delete.is-a-group", "DELETE", f"{SCIM}/Users/{{group_id}}", status=404, code=MISSING, needles="{group_id}"),
    case("scim.user.in-missing-group", "POST", f"{SCIM}/Users", {"userName": "{new}", "groups": [{"value": "nope_x"}]}, 404, MISSING, "nope_x"),
    case("scim.user.in-a-user", "POST", f"{SCIM}/Users", {"userName": "{new}", "groups": [{"value": "{other_id}"}]}, 404, MISSING, "{other_id}"),
    case("scim.sp.get", "GET", f"{SCIM}/ServicePrincipals/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.sp.get.is-a-user", "GET", f"{SCIM}/ServicePrincipals/{{user_id}}", status=404, code=MISSING, needles="{user_id}"),
    case("scim.sp.delete", "DELETE", f"{SCIM}/ServicePrincipals/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.sp.in-missing-group", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}", "groups": [{"value": "nope_x"}]}, 404, MISSING, "nope_x"),
    case("scim.group.get", "GET", f"{SCIM}/Groups/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.group.delete", "DELETE", f"{SCIM}/Groups/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.group.delete.is-a-user", "DELETE", f"{SCIM}/Groups/{{user_id}}", status=404, code=MISSING, needles="{user_id}"),
    case("scim.group.missing-member", "POST", f"{SCIM}/Groups", {"displayName": "{new}", "members": [{"value": "{other_id}"}, {"value": "nope_x"}]}, 404, MISSING, "nope_x"),
    case("scim.patch.missing-group", "PATCH", f"{SCIM}/Groups/nope_x", {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}]}, 404, MISSING, "nope_x"),
    case("scim.patch.is-a-user", "PATCH", f"{SCIM}/Groups/{{user_id}}", {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}]}, 404, MISSING, "{user_id}"),
    case(
        "scim.patch.add-valid-and-missing", "PATCH", f"{SCIM}/Groups/{{group_id}}",
        {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}, {"value": "nope_x"}]}}]},
        404, MISSING, "nope_x",
    ),
    case(
        "scim.patch.remove-missing", "PATCH", f"{SCIM}/Groups/{{group_id}}",
        {"Operations": [{"op": "remove", "path": 'members[value eq "{user_id}"]'}, {"op": "remove", "path": 'members[value eq "nope_x"]'}]},
        404, MISSING, "nope_x",
    ),
    case("token.delete.missing", "POST", f"{API}/token/delete", {"token_id": "nope_x"}, 404, MISSING, "nope_x"),
    case("token.delete.someone-elses", "POST", f"{API}/token/delete", {"token_id": "{user_token_id}"}, 404, MISSING, "{user_token_id}", who="other"),
    case("token-management.delete.missing", "DELETE", f"{API}/token-management/tokens/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("obo.missing-user", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "nobody_x@example.com"}, 404, MISSING, "nobody_x@example.com"),
    case("obo.missing-sp", "POST", f"{API}/token-management/on-behalf-of/tokens", {"application_id": "nobody_x"}, 404, MISSING, "nobody_x"),
]  # fmt: skip


@pytest.mark.parametrize("c", MISSING_CASES)
def test_missing_object_or_parent_is_404_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- duplicates ---------------------------------------------------------------------------

DUPLICATE_CASES = [
    case("catalog", "POST", "/catalogs", {"name": "{catalog}"}, 409, EXISTS, "{catalog}"),
    case("catalog.other-case", "POST", "/catalogs", {"name": "{catalog_upper}"}, 409, EXISTS, "{catalog}"),
    case("schema", "POST", "/schemas", {"name": "sch", "catalog_name": "{catalog}"}, 409, EXISTS, "{schema}"),
    case("schema.other-case", "POST", "/schemas", {"name": "SCH", "catalog_name": "{catalog_upper}"}, 409, EXISTS, "{schema}"),
    case("table", "POST", "/tables", table_body("{catalog}", "sch", "tbl"), 409, EXISTS, "{table}"),
    case("table.other-case", "POST", "/tables", table_body("{catalog}", "SCH", "TBL"), 409, EXISTS, "{table}"),
    case("model", "POST", "/models", model_body("{catalog}", "sch", "mdl"), 409, EXISTS, "{model}"),
    case("model.other-case", "POST", "/models", model_body("{catalog}", "sch", "Mdl"), 409, EXISTS, "{model}"),
    case("catalog.rename", "PATCH", "/catalogs/{catalog}", {"comment": "changed", "new_name": "{user_catalog}"}, 409, EXISTS, "{user_catalog}"),
    case("schema.rename", "PATCH", "/schemas/{schema}", {"comment": "changed", "new_name": "sch2"}, 409, EXISTS, "{catalog}.sch2"),
    case("model.rename", "PATCH", "/models/{model}", {"comment": "changed", "new_name": "mdl2"}, 409, EXISTS, "{schema}.mdl2"),
    case("scim.user", "POST", f"{SCIM}/Users", {"userName": "{user}"}, 409, EXISTS, "{user}"),
    case("scim.user.other-case", "POST", f"{SCIM}/Users", {"userName": "{user_upper}"}, 409, EXISTS, "{user}"),
    case("scim.sp", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{sp}"}, 409, EXISTS, "{sp}"),
    case("scim.group", "POST", f"{SCIM}/Groups", {"displayName": "{group}"}, 409, EXISTS, "{group}"),
    case("scim.group.named-like-user", "POST", f"{SCIM}/Groups", {"displayName": "{user}"}, 409, EXISTS, "{user}"),
    case("table.named-like-model", "POST", "/tables", table_body("{catalog}", "sch", "mdl"), 409, EXISTS, "{model}"),
    case("model.named-like-table", "POST", "/models", model_body("{catalog}", "sch", "tbl"), 409, EXISTS, "{table}"),
]  # fmt: skip


@pytest.mark.parametrize("c", DUPLICATE_CASES)
def test_duplicate_is_409_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- pagination ---------------------------------------------------------------------------

LIST_ROUTES = [
    pytest.param(f"{UC}/catalogs", {}, id="catalogs"),
    pytest.param(f"{UC}/schemas", {"catalog_name": "{catalog}"}, id="schemas"),
    pytest.param(f"{UC}/tables", {"catalog_name": "{catalog}", "schema_name": "sch"}, id="tables"),
    pytest.param(f"{UC}/models", {"catalog_name": "{catalog}", "schema_name": "sch"}, id="models"),
    pytest.param(f"{UC}/models", {}, id="models-all"),
    pytest.param(f"{UC}/models/{{model}}/versions", {}, id="versions"),
]
BAD_PAGES = [
    pytest.param({"max_results": "-1"}, "max_results", id="negative-max"),
    pytest.param({"max_results": "lots"}, "max_results", id="text-max"),
    pytest.param({"max_results": "1e3"}, "max_results", id="float-max"),
    pytest.param({"page_token": "garbage!!"}, "page_token", id="garbage-token"),
    pytest.param({"page_token": "bm90IGpzb24"}, "page_token", id="base64-not-json"),
    pytest.param({"page_token": "eyJhZnRlciI6IDV9"}, "page_token", id="after-not-string"),
    pytest.param({"page_token": "eyJiZWZvcmUiOiAiYSJ9"}, "page_token", id="no-after"),
    pytest.param({"page_token": "W10"}, "page_token", id="json-array"),
    pytest.param({"page_token": "\u00e9t\u00e9"}, "page_token", id="non-ascii"),
]


@pytest.mark.parametrize(("params", "needle"), BAD_PAGES)
@pytest.mark.parametrize(("path", "base"), LIST_ROUTES)
def test_bad_pagination_is_400(
    world: World, path: str, base: dict[str, str], params: dict[str, str], needle: str
) -> None:
    response = world.admin.get(fill(path, world.vars), params={**fill(base, world.vars), **params})
    expect_error(response, 400, BAD, (needle,))


@pytest.mark.parametrize("kind", ["Users", "ServicePrincipals", "Groups"])
@pytest.mark.parametrize(
    ("params", "needle"),
    [
        pytest.param({"startIndex": "0"}, "startIndex", id="start-zero"),
        pytest.param({"startIndex": "-3"}, "startIndex", id="start-negative"),
        pytest.param({"startIndex": "first"}, "startIndex", id="start-text"),
        pytest.param({"count": "-1"}, "count", id="count-negative"),
        pytest.param({"count": "all"}, "count", id="count-text"),
    ],
)
def test_bad_scim_paging_is_400(
    world: World, kind: str, params: dict[str, str], needle: str
) -> None:
    expect_error(world.admin.get(f"{SCIM}/{kind}", params=params), 400, BAD, (needle,))


# -- group cycles -------------------------------------------------------------------------


def add_members(admin: httpx.Client, group_id: str, *member_ids: str) -> httpx.Response:
    value = {"members": [{"value": m} for m in member_ids]}
    return admin.patch(
        f"{SCIM}/Groups/{group_id}", json={"Operations": [{"op": "add", "value": value}]}
    )


def new_group(admin: httpx.Client) -> tuple[str, str]:
    name = unique("cyc")
    return name, str(ok(admin.post(f"{SCIM}/Groups", json={"displayName": name}))["id"])


def test_group_cycles_are_rejected_and_change_nothing(mutating_world: World) -> None:
    world = mutating_world
    admin = world.admin
    a_name, a = new_group(admin)
    b_name, b = new_group(admin)
    c_name, c = new_group(admin)
    ok(add_members(admin, b, a))  # A in B
    ok(add_members(admin, c, b))  # B in C

    attempts = [
        ("B in A (A already in B)", a, [b], b_name),
        ("A in A", a, [a], a_name),
        ("C in A (A in B in C)", a, [c], c_name),
        ("a valid member and a cycle together", a, [world.other_id, b], b_name),
    ]
    for what, group, members, needle in attempts:
        with unchanged(world, what, frozenset({PRINCIPALS})):
            response = add_members(admin, group, *members)
            expect_error(response, 400, BAD, ("cycle", needle))
    a_now = ok(admin.get(f"{SCIM}/Groups/{a}"))
    assert a_now["members"] == [], "a rejected PATCH left members behind"
    b_now = ok(admin.get(f"{SCIM}/Groups/{b}"))
    assert [m["value"] for m in b_now["members"]] == [a]


def test_group_cycle_through_replace_is_rejected(mutating_world: World) -> None:
    world = mutating_world
    admin = world.admin
    _, a = new_group(admin)
    b_name, b = new_group(admin)
    ok(add_members(admin, b, a))
    with unchanged(world, "replace creating a cycle", frozenset({PRINCIPALS})):
        response = admin.patch(
            f"{SCIM}/Groups/{a}",
            json={"Operations": [{"op": "replace", "path": "members", "value": [{"value": b}]}]},
        )
        expect_error(response, 400, BAD, ("cycle", b_name))


# -- authorization: non-admins and non-owners ---------------------------------------------

ADMIN_ONLY_CASES = [
    case("create-catalog", "POST", "/catalogs", {"name": "{new}"}, 403, DENIED, ("CREATE CATALOG", "METASTORE"), who="user"),
    case("create-user", "POST", f"{SCIM}/Users", {"userName": "{new}"}, 403, DENIED, "metastore admin", who="user"),
    case("delete-user", "DELETE", f"{SCIM}/Users/{{other_id}}", status=403, code=DENIED, needles="metastore admin", who="user"),
    case("create-sp", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}"}, 403, DENIED, "metastore admin", who="user"),
    case("delete-sp", "DELETE", f"{SCIM}/ServicePrincipals/{{sp_id}}", status=403, code=DENIED, needles="metastore admin", who="user"),
    case("create-group", "POST", f"{SCIM}/Groups", {"displayName": "{new}"}, 403, DENIED, "metastore admin", who="user"),
    case("delete-group", "DELETE", f"{SCIM}/Groups/{{group_id}}", status=403, code=DENIED, needles="metastore admin", who="user"),
    case(
        "patch-own-group", "PATCH", f"{SCIM}/Groups/{{group_id}}",
        {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}]},
        403, DENIED, "metastore admin", who="user",
    ),
    case("obo-for-self", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}"}, 403, DENIED, "metastore admin", who="user"),
    case("obo-for-admin", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "admin"}, 403, DENIED, "metastore admin", who="user"),
    case("list-all-tokens", "GET", f"{API}/token-management/tokens", status=403, code=DENIED, needles="metastore admin", who="user"),
    case("delete-any-token", "DELETE", f"{API}/token-management/tokens/{{user_token_id}}", status=403, code=DENIED, needles="metastore admin", who="other"),
]  # fmt: skip


@pytest.mark.parametrize("c", ADMIN_ONLY_CASES)
def test_non_admin_on_admin_route_is_403_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


#: Inside a catalog the first privilege a stranger lacks is the USE CATALOG gate (SPEC §6),
#: named with the catalog; owners-only actions on the catalog itself name MANAGE.
INSIDE_A_CATALOG = ("MANAGE", "USE CATALOG", "USE SCHEMA")
NON_OWNER_CASES = [
    case("catalog.get", "GET", "/catalogs/{user_catalog}", status=403, code=DENIED, needles=("BROWSE", "{user_catalog}"), who="other"),
    case("catalog.update", "PATCH", "/catalogs/{user_catalog}", {"comment": "mine now"}, 403, DENIED, ("MANAGE", "{user_catalog}"), who="other"),
    case("catalog.update.owner", "PATCH", "/catalogs/{user_catalog}", {"owner": "{other}"}, 403, DENIED, ("MANAGE", "{user_catalog}"), who="other"),
    case("catalog.update.rename", "PATCH", "/catalogs/{user_catalog}", {"new_name": "{new}"}, 403, DENIED, ("MANAGE", "{user_catalog}"), who="other"),
    case("catalog.delete", "DELETE", "/catalogs/{user_catalog}", params={"force": "true"}, status=403, code=DENIED, needles=("MANAGE", "{user_catalog}"), who="other"),
    case("admin-catalog.update", "PATCH", "/catalogs/{catalog}", {"comment": "mine now"}, 403, DENIED, ("MANAGE", "{catalog}"), who="user"),
    case("admin-catalog.delete", "DELETE", "/catalogs/{catalog}", params={"force": "true"}, status=403, code=DENIED, needles=("MANAGE", "{catalog}"), who="user"),
    case("schema.create", "POST", "/schemas", {"name": "{new}", "catalog_name": "{user_catalog}"}, 403, DENIED, (("CREATE SCHEMA", *INSIDE_A_CATALOG), "{user_catalog}"), who="other"),
    case("schema.update", "PATCH", "/schemas/{user_schema}", {"comment": "mine now"}, 403, DENIED, (INSIDE_A_CATALOG, "{user_catalog}"), who="other"),
    case("schema.delete", "DELETE", "/schemas/{user_schema}", params={"force": "true"}, status=403, code=DENIED, needles=(INSIDE_A_CATALOG, "{user_catalog}"), who="other"),
    case("table.create", "POST", "/tables", table_body("{user_catalog}", "s", "{new}"), 403, DENIED, (("CREATE TABLE", *INSIDE_A_CATALOG), "{user_catalog}"), who="other"),
    case("table.delete", "DELETE", "/tables/{user_table}", status=403, code=DENIED, needles=(INSIDE_A_CATALOG, "{user_catalog}"), who="other"),
    case("model.create", "POST", "/models", model_body("{user_catalog}", "s", "{new}"), 403, DENIED, (("CREATE MODEL", *INSIDE_A_CATALOG), "{user_catalog}"), who="other"),
    case("model.update", "PATCH", "/models/{user_model}", {"comment": "mine now"}, 403, DENIED, (INSIDE_A_CATALOG, "{user_catalog}"), who="other"),
    case("model.delete", "DELETE", "/models/{user_model}", params={"force": "true"}, status=403, code=DENIED, needles=(INSIDE_A_CATALOG, "{user_catalog}"), who="other"),
    case("version.create", "POST", "/models/versions", USER_VERSION, 403, DENIED, (("CREATE MODEL VERSION", *INSIDE_A_CATALOG), "{user_catalog}"), who="other"),
    case("version.update", "PATCH", "/models/{user_model}/versions/1", {"comment": "mine now"}, 403, DENIED, (INSIDE_A_CATALOG, "{user_catalog}"), who="other"),
    case("version.delete", "DELETE", "/models/{user_model}/versions/1", status=403, code=DENIED, needles=(INSIDE_A_CATALOG, "{user_catalog}"), who="other"),
    case("version.finalize", "PATCH", "/models/{user_model}/versions/1/finalize", status=403, code=DENIED, needles=(("CREATE MODEL VERSION", *INSIDE_A_CATALOG), "{user_catalog}"), who="other"),
    case("system.schema.create", "POST", "/schemas", {"name": "{new}", "catalog_name": "system"}, 403, DENIED, "system", who="admin"),
    case("system.update", "PATCH", "/catalogs/system", {"comment": "mine now"}, 403, DENIED, "system", who="admin"),
    case("system.delete", "DELETE", "/catalogs/system", params={"force": "true"}, status=403, code=DENIED, needles="system", who="admin"),
]  # fmt: skip


@pytest.mark.parametrize("c", NON_OWNER_CASES)
def test_non_owner_is_403_naming_privilege_and_object(world: World, c: Case) -> None:
    run_case(world, c)


def test_non_empty_containers_are_not_dropped(world: World) -> None:
    for path in (f"/catalogs/{world.catalog}", f"/schemas/{world.schema}"):
        with unchanged(world, f"DELETE {path}", frozenset({NAMESPACE})):
            response = world.admin.delete(UC + path)
            expect_error(response, 400, None, ("empty",))
    with unchanged(world, "DELETE model with versions", frozenset({NAMESPACE})):
        response = world.admin.delete(f"{UC}/models/{world.model}")
        expect_error(response, 400, None, ("version",))


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
    ]
    full_name = next((v for p, v in prefix_to_full_name if path.startswith(p)), "dummy")
    return (
        path.replace("{name}", names["catalog"])
        .replace("{full_name}", full_name)
        .replace("{version}", "1")
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


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param(f"{SCIM}/Users", {"startIndex": str(10**20)}, id="scim-start-beyond-int64"),
        pytest.param(f"{SCIM}/Groups", {"startIndex": str(2**63)}, id="scim-start-2^63"),
        pytest.param(f"{SCIM}/Groups", {"count": str(10**20)}, id="scim-count-huge"),
        pytest.param(f"{UC}/catalogs", {"max_results": str(10**20)}, id="catalogs-max-huge"),
        pytest.param(
            f"{UC}/models/{{model}}/versions",
            {"page_token": "eyJhZnRlciI6ICI5OTk5OTk5OTk5OTk5OTk5OTk5OTk5In0"},
            id="versions-token-after-huge",
        ),
    ],
)
def test_out_of_range_numbers_are_never_a_500(
    world: World, path: str, params: dict[str, str]
) -> None:
    """Numbers past what the database can hold: an empty page or a 400, not a crash."""
    response = world.admin.get(fill(path, world.vars), params=params)
    if response.status_code == 200:
        body = response.json()
        items = body.get("Resources", body.get("catalogs", body.get("model_versions")))
        assert isinstance(items, list), body
        if "startIndex" in params or "page_token" in params:
            assert items == [], f"a page past the end should be empty: {body}"
    else:
        expect_error(response, 400, BAD, (tuple(params),))


@pytest.mark.parametrize(
    ("kind", "attribute"),
    [("Users", "userName"), ("ServicePrincipals", "applicationId"), ("Groups", "displayName")],
)
def test_scim_filter_on_empty_value_matches_nobody(world: World, kind: str, attribute: str) -> None:
    response = world.admin.get(f"{SCIM}/{kind}", params={"filter": f'{attribute} eq ""'})
    if response.status_code == 200:
        body = response.json()
        assert body["totalResults"] == 0, (
            f'filter {attribute} eq "" matched {body["totalResults"]} principals'
        )
    else:
        expect_error(response, 400, BAD, ("filter",))


def test_finalizing_a_ready_version_is_rejected(mutating_world: World) -> None:
    world = mutating_world
    model = unique("fin")
    ok(world.admin.post(f"{UC}/models", json=model_body(world.catalog, "sch2", model)))
    created = ok(
        world.admin.post(f"{UC}/models/versions", json=version_body(world.catalog, "sch2", model))
    )
    write_mlmodel(created["storage_location"])
    full_name = f"{world.catalog}.sch2.{model}"
    ok(world.admin.patch(f"{UC}/models/{full_name}/versions/1/finalize"))
    before = ok(world.reader.get(f"{UC}/models/{full_name}/versions/1"))
    response = world.admin.patch(f"{UC}/models/{full_name}/versions/1/finalize")
    expect_error(response, 400, BAD, ("READY",))
    assert ok(world.reader.get(f"{UC}/models/{full_name}/versions/1")) == before


def test_deleting_a_user_revokes_its_tokens(mutating_world: World) -> None:
    world = mutating_world
    name, token = world.server.create_user()
    client = world.server.client(token)
    ok(client.get(f"{SCIM}/Me"))
    user_id = scim_id(world.admin, "Users", "userName", name)
    ok(world.admin.delete(f"{SCIM}/Users/{user_id}"))
    expect_error(client.get(f"{SCIM}/Me"), 401, UNAUTH, ("token",))
    owners = {
        t.get("owner_id")
        for t in ok(world.admin.get(f"{API}/token-management/tokens"))["token_infos"]
    }
    assert user_id not in owners, "a deleted user's tokens are still listed"


def test_revoked_token_stops_working_immediately(mutating_world: World) -> None:
    world = mutating_world
    issued = ok(world.user_client.post(f"{API}/token/create", json={"comment": "short"}))
    client = world.server.client(issued["token_value"])
    ok(client.get(f"{SCIM}/Me"))
    ok(client.post(f"{API}/token/delete", json={"token_id": issued["token_info"]["token_id"]}))
    expect_error(client.get(f"{SCIM}/Me"), 401, UNAUTH, ("token",))
    # Revoking it again is a 404, not a second success.
    response = world.user_client.post(
        f"{API}/token/delete", json={"token_id": issued["token_info"]["token_id"]}
    )
    expect_error(response, 404, MISSING, (issued["token_info"]["token_id"],))


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


def test_request_ids_are_unique(world: World) -> None:
    ids = {world.admin.get(f"{UC}/catalogs/nocat_x").json()["request_id"] for _ in range(5)}
    assert len(ids) == 5
