"""Helpers of the bad-input tests (docs/running.md–§4), shared by their modules by area.

``tests/catalog/test_bad_input_namespace.py``, ``tests/catalog/test_bad_input_identity.py``,
``tests/registry/test_bad_input_registry.py`` and ``tests/catalog/test_bad_input_routes.py``
each build the same world (``build_world``) on their own module-scoped server. Each case checks
the status, the ``error_code``, that the message names the problem (the field or the name),
that a request id comes back, and that nothing changed: the state is read before and after the
rejected call. The state is read by area (``read_area``): the namespace, the user's and the
scratch objects, principals, tokens, grants (every ``casbin_rule`` line), the rows of the
tables that hold some, lineage (its nodes and edges) and serving endpoints (with their
config); a request is checked against the areas it could change (``areas_of``).
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
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.support import ServerHandle, unique, write_mlmodel

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
API = "/api/2.0"
SQL = f"{API}/sql/statements"
ENDPOINTS = f"{API}/serving-endpoints"
LINEAGE = "/api/v1/lineage"
BAD = "INVALID_PARAMETER_VALUE"
UNAUTH = "UNAUTHENTICATED"
DENIED = "PERMISSION_DENIED"
MISSING = "RESOURCE_DOES_NOT_EXIST"
EXISTS = "RESOURCE_ALREADY_EXISTS"
TOO_BIG = "REQUEST_LIMIT_EXCEEDED"


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


def lineage_event(source: str, target: str) -> dict[str, Any]:
    """An OpenLineage run event: the table ``source`` read, the path ``target`` written, its
    ``id`` from the table's ``id``."""
    from_id = {"inputFields": [{"namespace": "steward", "name": source, "field": "id"}]}
    columns = {"columnLineage": {"_producer": "tests", "fields": {"id": from_id}}}
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-23T10:00:00Z",
        "run": {"runId": unique("run")},
        "job": {"namespace": "etl", "name": "bad-input"},
        "inputs": [{"namespace": "steward", "name": source}],
        "outputs": [{"namespace": "s3", "name": target, "facets": columns}],
    }


def served_config(model: str, version: int = 1) -> dict[str, Any]:
    return {"served_entities": [{"entity_name": model, "entity_version": str(version)}]}


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
    #: the server's database, for what no route lists whole (grants, lineage)
    database: Engine | None = None

    def invalidate(self) -> None:
        self.baseline.clear()

    def __getattr__(self, name: str) -> str:
        try:
            return self.__dict__["vars"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def client(self, who: str) -> httpx.Client:
        return {"admin": self.admin, "user": self.user_client, "other": self.other_client}[who]

    def rows(self, table: str, reader: httpx.Client) -> list[Any]:
        """A table's rows, as ``reader`` reads them with SQL."""
        return sql(reader, f"SELECT * FROM {table} ORDER BY id")["result"]["data_array"]

    def db_rows(self, table: str, order_by: str = "id") -> list[tuple[str, ...]]:
        """Every row of one of the server's tables, read from its database."""
        if self.database is None:
            self.database = create_engine(self.server.database_url, poolclass=NullPool)
        with self.database.connect() as conn:
            found = conn.execute(text(f"SELECT * FROM {table} ORDER BY {order_by}"))
            return [tuple(str(v) for v in row) for row in found]

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


def sql(client: httpx.Client, statement: str) -> dict[str, Any]:
    body = ok(client.post(SQL, json={"statement": statement}))
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    return dict(body)


def scim_id(admin: httpx.Client, kind: str, attribute: str, name: str) -> str:
    found = ok(admin.get(f"{SCIM}/{kind}", params={"filter": f'{attribute} eq "{name}"'}))
    assert found["totalResults"] == 1, found
    return str(found["Resources"][0]["id"])


def build_world(server: ServerHandle) -> World:
    """The objects, principals and bad credentials every case runs against; each test module
    builds its own from a module-scoped ``world`` fixture."""
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

    # Rows, grants, lineage and a serving endpoint, for the state to hold some of each. The
    # grants go to the service principal, which sends no request: no case's answer changes.
    # (Rows are data: the admin holds no MODIFY or SELECT on the user's table.)
    sql(admin, f"INSERT INTO {cat}.sch.tbl VALUES (1), (2)")
    sql(user_client, f"INSERT INTO {ucat}.s.t VALUES (1), (2)")
    for statement in (
        f"GRANT USE CATALOG ON CATALOG {cat} TO `{sp}`",
        f"GRANT USE SCHEMA ON SCHEMA {cat}.sch TO `{sp}`",
        f"GRANT SELECT ON TABLE {cat}.sch.tbl TO `{sp}`",
        f"GRANT EXECUTE ON MODEL {cat}.sch.mdl TO `{sp}`",
        f"GRANT USE CATALOG ON CATALOG {ucat} TO `{sp}`",
    ):
        sql(admin, statement)
    ok(admin.post(LINEAGE, json=lineage_event(f"{cat}.sch.tbl", "exports/tbl")))
    served = ok(admin.post(f"{UC}/models/versions", json=version_body(cat, "sch", "mdl2")))
    write_mlmodel(served["storage_location"])
    ok(admin.patch(f"{UC}/models/{cat}.sch.mdl2/versions/1/finalize"))
    endpoint = unique("bad_ep")
    ok(admin.post(ENDPOINTS, json={"name": endpoint, "config": served_config(f"{cat}.sch.mdl2")}))

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
        "endpoint": endpoint,
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
GRANTS, ROWS, LINEAGE_AREA, SERVING = "grants", "rows", "lineage", "serving endpoints"
EVERYTHING = frozenset(
    {NAMESPACE, OWNED, SCRATCH, PRINCIPALS, TOKENS, GRANTS, ROWS, LINEAGE_AREA, SERVING}
)
#: What any request on the namespace, the rows, models or serving could change besides the
#: objects it names: a drop takes grants, rows, lineage and endpoints along.
BESIDES_OBJECTS = frozenset({GRANTS, ROWS, LINEAGE_AREA, SERVING})


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
    elif area == TOKENS:
        state["tokens"] = get(f"{API}/token-management/tokens")["token_infos"]
    elif area == GRANTS:  # every grant on every object: casbin's ``p`` lines
        state["grants"] = w.db_rows("casbin_rule", "ptype, v0, v1, v2")
    elif area == ROWS:  # read by their owners: the admin holds no SELECT on the user's
        state[f"rows {w.table}"] = w.rows(w.table, w.reader)
        state[f"rows {w.user_table}"] = w.rows(w.user_table, w.user_client)
    elif area == LINEAGE_AREA:
        for table in ("lineage_nodes", "lineage_edges", "lineage_column_edges"):
            state[table] = w.db_rows(table)
    elif area == SERVING:
        endpoints: list[Any] = []
        params: dict[str, Any] = {"max_results": 100}
        while True:
            page = get(ENDPOINTS, **params)
            endpoints += page["endpoints"]
            if not page.get("next_page_token"):
                break
            params["page_token"] = page["next_page_token"]
        state["serving endpoints"] = endpoints
    else:
        raise AssertionError(f"no such area: {area}")
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
    if path.startswith(SCIM):  # deleting a principal takes its tokens and grants along
        return frozenset({PRINCIPALS, TOKENS, GRANTS})
    if path.startswith(SQL):
        return EVERYTHING
    if path.startswith(LINEAGE):
        return frozenset({LINEAGE_AREA})
    if path.startswith(API) and not path.startswith(ENDPOINTS):
        return frozenset({TOKENS})
    text = repr((path, *request))
    areas = {NAMESPACE, *BESIDES_OBJECTS}
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


def mutating(world: World) -> Iterator[World]:
    """For tests that change state on purpose: later tests re-read it from scratch.

    The body of each module's ``mutating_world`` fixture (``yield from mutating(world)``).
    """
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


# -- values the backends cannot store ------------------------------------------------------

#: NUL is refused by PostgreSQL text columns; a lone surrogate cannot be encoded as UTF-8.
#: Either must be a 400 on every backend: never a 500, never a backend-dependent success.
UNSTORABLE = [pytest.param("a\x00b", id="nul"), pytest.param("a\ud800b", id="lone-surrogate")]

SCRATCH_TABLE = table_body("{scratch}", "s", "{new}")
SCRATCH_MODEL = model_body("{scratch}", "s", "{new}")
SCRATCH_VERSION = version_body("{scratch}", "s", "m")


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


def replace_name(value: Any, bad: str) -> Any:
    if value == "NAME":
        return bad
    if isinstance(value, dict):
        return {k: replace_name(v, bad) for k, v in value.items()}
    return value


def send_bad_name(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str, bad: str
) -> None:
    """Send ``body`` with ``bad`` in place of ``NAME``: a 400 naming it, nothing changed."""
    names = {**world.vars, "new": unique("new")}
    payload = replace_name(fill(body, names), bad)
    # The message names the field, or quotes the offending value.
    needle: Needle = (field_name, bad[:40]) if bad else field_name
    with unchanged(world, f"{method} {path} with name {bad!r}", frozenset({NAMESPACE})):
        response = world.admin.request(method, UC + fill(path, names), json=payload)
        expect_error(response, 400, BAD, (needle,))


# -- pagination --------------------------------------------------------------------------

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


def expect_bad_page(
    world: World, path: str, base: dict[str, str], params: dict[str, str], needle: str
) -> None:
    response = world.admin.get(fill(path, world.vars), params={**fill(base, world.vars), **params})
    expect_error(response, 400, BAD, (needle,))


def expect_empty_page_or_400(world: World, path: str, params: dict[str, str]) -> None:
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


# -- authorization -----------------------------------------------------------------------

#: Inside a catalog the first privilege a stranger lacks is the USE CATALOG gate
#: (docs/privileges.md), named with the catalog; owners-only actions on the catalog itself
#: name MANAGE.
INSIDE_A_CATALOG = ("MANAGE", "USE CATALOG", "USE SCHEMA")
