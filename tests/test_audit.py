"""The audit log over HTTP (SPEC §7): one event per request, in the change's transaction,
for successes, denials and failures alike; queried by REST and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from catalog.audit.verify import verify
from catalog.http.app import CATALOG_ROUTERS
from catalog.persistence.engine import Database
from registry.composition import REGISTRY_ROUTERS
from tests.support import ROOT, ServerHandle, start_server, unique, write_mlmodel
from tests.test_bad_input import api_routes, table_body

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
AUDIT = "/api/2.1/steward/audit"
SQL = "/api/2.0/sql/statements"


def events_of(server: ServerHandle, response: httpx.Response) -> list[dict[str, Any]]:
    """The audit events written for the request that produced ``response``."""
    request_id = response.headers["x-request-id"]
    listed = server.admin.get(AUDIT, params={"request_id": request_id})
    assert listed.status_code == 200, listed.text
    return listed.json()["events"]


def one_event(
    server: ServerHandle,
    response: httpx.Response,
    action: str,
    user: str | None,
    status: int,
    service: str | None = None,
) -> dict[str, Any]:
    events = events_of(server, response)
    assert len(events) == 1, (action, response.status_code, response.text, events)
    event = events[0]
    assert event["action_name"] == action, (event, response.text)
    assert event["user_identity"].get("email") == user, event
    assert event["response"]["status_code"] == status, (event, response.text)
    if status >= 400:
        assert event["response"]["error_message"], event
    if service is not None:
        assert event["service_name"] == service, event
    assert event["request_id"] == response.headers["x-request-id"]
    return event


# -- every mutating route --------------------------------------------------------------------


@dataclass
class World:
    """Names created along the way by the mutation walk."""

    catalog: str
    schema: str
    table: str
    model: str
    user: str = ""
    user_id: str = ""
    sp_id: str = ""
    group_id: str = ""
    token_id: str = ""
    obo_token_id: str = ""
    version: int = 0


Call = Callable[[httpx.Client, World], httpx.Response]


def _remember(world: World, field_name: str, value: Any) -> None:
    setattr(world, field_name, value)


#: (method, route path, action, status on success, the call). Order matters: later calls use
#: what earlier ones created; deletes come last.
MUTATIONS: list[tuple[str, str, str, int, Call]] = [
    (
        "POST",
        f"{UC}/catalogs",
        "createCatalog",
        200,
        lambda c, w: c.post(f"{UC}/catalogs", json={"name": w.catalog}),
    ),
    (
        "PATCH",
        f"{UC}/catalogs/{{name}}",
        "updateCatalog",
        200,
        lambda c, w: c.patch(f"{UC}/catalogs/{w.catalog}", json={"comment": "x"}),
    ),
    (
        "POST",
        f"{UC}/schemas",
        "createSchema",
        200,
        lambda c, w: c.post(
            f"{UC}/schemas", json={"name": w.schema.split(".")[1], "catalog_name": w.catalog}
        ),
    ),
    (
        "PATCH",
        f"{UC}/schemas/{{full_name}}",
        "updateSchema",
        200,
        lambda c, w: c.patch(f"{UC}/schemas/{w.schema}", json={"comment": "x"}),
    ),
    (
        "POST",
        f"{UC}/tables",
        "createTable",
        200,
        lambda c, w: c.post(
            f"{UC}/tables",
            json=table_body(
                *w.table.split("."),
                table_constraints=[
                    {"primary_key_constraint": {"name": "pk", "child_columns": ["id"]}}
                ],
            ),
        ),
    ),
    (
        "POST",
        "/api/2.1/steward/tables/{full_name}/rows",
        "writeTableRows",
        200,
        lambda c, w: c.post(
            f"/api/2.1/steward/tables/{w.table}/rows", json={"rows": [{"id": 1}, {"id": 2}]}
        ),
    ),
    (
        "POST",
        "/api/2.1/steward/tables/{full_name}/lookup",
        "lookupTableRows",
        200,
        lambda c, w: c.post(
            f"/api/2.1/steward/tables/{w.table}/lookup", json={"keys": [{"id": 1}]}
        ),
    ),
    (
        "PATCH",
        f"{UC}/permissions/{{securable_type}}/{{full_name}}",
        "updatePermissions",
        200,
        lambda c, w: c.patch(
            f"{UC}/permissions/table/{w.table}",
            json={"changes": [{"principal": "admin", "add": ["SELECT"]}]},
        ),
    ),
    (
        "POST",
        f"{UC}/models",
        "createRegisteredModel",
        200,
        lambda c, w: c.post(
            f"{UC}/models",
            json={
                "catalog_name": w.catalog,
                "schema_name": w.schema.split(".")[1],
                "name": w.model.split(".")[2],
            },
        ),
    ),
    (
        "PATCH",
        f"{UC}/models/{{full_name}}",
        "updateRegisteredModel",
        200,
        lambda c, w: c.patch(f"{UC}/models/{w.model}", json={"comment": "x"}),
    ),
    (
        "POST",
        f"{UC}/models/versions",
        "createModelVersion",
        200,
        lambda c, w: c.post(
            f"{UC}/models/versions",
            json={
                "catalog_name": w.catalog,
                "schema_name": w.schema.split(".")[1],
                "model_name": w.model.split(".")[2],
                "source": "file:/tmp/m",
            },
        ),
    ),
    (
        "PATCH",
        f"{UC}/models/{{full_name}}/versions/{{version}}",
        "updateModelVersion",
        200,
        lambda c, w: c.patch(f"{UC}/models/{w.model}/versions/{w.version}", json={"comment": "x"}),
    ),
    (
        "PUT",
        "/api/2.1/steward/models/{full_name}/versions/{version}/artifacts/{path:path}",
        "uploadModelVersionArtifact",
        200,
        lambda c, w: c.put(
            f"/api/2.1/steward/models/{w.model}/versions/{w.version}/artifacts/notes.txt",
            content=b"uploaded",
        ),
    ),
    (
        "PATCH",
        f"{UC}/models/{{full_name}}/versions/{{version}}/finalize",
        "finalizeModelVersion",
        200,
        lambda c, w: c.patch(
            f"{UC}/models/{w.model}/versions/{w.version}/finalize",
            json={"full_name": w.model, "version": w.version},
        ),
    ),
    (
        "POST",
        f"{SCIM}/Users",
        "createUser",
        201,
        lambda c, w: c.post(f"{SCIM}/Users", json={"userName": w.user}),
    ),
    (
        "POST",
        f"{SCIM}/ServicePrincipals",
        "createServicePrincipal",
        201,
        lambda c, w: c.post(f"{SCIM}/ServicePrincipals", json={"applicationId": unique("app")}),
    ),
    (
        "POST",
        f"{SCIM}/Groups",
        "createGroup",
        201,
        lambda c, w: c.post(f"{SCIM}/Groups", json={"displayName": unique("grp")}),
    ),
    (
        "PATCH",
        f"{SCIM}/Groups/{{group_id}}",
        "patchGroup",
        200,
        lambda c, w: c.patch(
            f"{SCIM}/Groups/{w.group_id}",
            json={"Operations": [{"op": "add", "value": {"members": [{"value": w.user_id}]}}]},
        ),
    ),
    (
        "POST",
        "/api/2.0/token/create",
        "createToken",
        200,
        lambda c, w: c.post("/api/2.0/token/create", json={"comment": "audit test"}),
    ),
    (
        "POST",
        "/api/2.0/token/delete",
        "revokeToken",
        200,
        lambda c, w: c.post("/api/2.0/token/delete", json={"token_id": w.token_id}),
    ),
    (
        "POST",
        "/api/2.0/token-management/on-behalf-of/tokens",
        "createOboToken",
        200,
        lambda c, w: c.post(
            "/api/2.0/token-management/on-behalf-of/tokens",
            json={"user_name": w.user, "comment": "obo"},
        ),
    ),
    (
        "DELETE",
        "/api/2.0/token-management/tokens/{token_id}",
        "deleteAnyToken",
        200,
        lambda c, w: c.delete(f"/api/2.0/token-management/tokens/{w.obo_token_id}"),
    ),
    (
        "POST",
        SQL,
        "createSchema",
        200,
        lambda c, w: c.post(SQL, json={"statement": f"CREATE SCHEMA {w.catalog}.{unique('q')}"}),
    ),
    (
        "POST",
        "/api/v1/lineage",
        "postLineageEvent",
        201,
        lambda c, w: c.post(
            "/api/v1/lineage",
            json={
                "eventType": "COMPLETE",
                "eventTime": "2026-11-23T10:00:00Z",
                "run": {"runId": unique("run")},
                "job": {"namespace": "etl", "name": "nightly"},
                "inputs": [{"namespace": "s3", "name": "raw/orders"}],
                "outputs": [{"namespace": "s3", "name": "clean/orders"}],
            },
        ),
    ),
    (
        "PUT",
        f"{UC}/models/{{full_name}}/aliases/{{alias}}",
        "setRegisteredModelAlias",
        200,
        lambda c, w: c.put(f"{UC}/models/{w.model}/aliases/champion", json={"version_num": 1}),
    ),
    (
        "DELETE",
        f"{UC}/models/{{full_name}}/aliases/{{alias}}",
        "deleteRegisteredModelAlias",
        200,
        lambda c, w: c.delete(f"{UC}/models/{w.model}/aliases/champion"),
    ),
    (
        "POST",
        "/api/2.0/serving-endpoints",
        "createServingEndpoint",
        200,
        lambda c, w: c.post(
            "/api/2.0/serving-endpoints",
            json={
                "name": f"{w.catalog}_ep",
                "config": {
                    "served_entities": [{"entity_name": w.model, "entity_version": w.version}]
                },
            },
        ),
    ),
    (
        "PUT",
        "/api/2.0/serving-endpoints/{name}/config",
        "updateServingEndpointConfig",
        200,
        lambda c, w: c.put(
            f"/api/2.0/serving-endpoints/{w.catalog}_ep/config",
            json={"served_entities": [{"entity_name": w.model, "entity_version": w.version}]},
        ),
    ),
    (
        "POST",
        "/serving-endpoints/{name}/invocations",
        "queryServingEndpoint",
        400,  # no rows to score: a refused invocation still writes its one event
        lambda c, w: c.post(f"/serving-endpoints/{w.catalog}_ep/invocations", json={"inputs": []}),
    ),
    (
        "DELETE",
        "/api/2.0/serving-endpoints/{name}",
        "deleteServingEndpoint",
        200,
        lambda c, w: c.delete(f"/api/2.0/serving-endpoints/{w.catalog}_ep"),
    ),
    (
        "DELETE",
        f"{UC}/models/{{full_name}}/versions/{{version}}",
        "deleteModelVersion",
        200,
        lambda c, w: c.delete(f"{UC}/models/{w.model}/versions/{w.version}"),
    ),
    (
        "DELETE",
        f"{UC}/models/{{full_name}}",
        "deleteRegisteredModel",
        200,
        lambda c, w: c.delete(f"{UC}/models/{w.model}"),
    ),
    (
        "DELETE",
        f"{UC}/tables/{{full_name}}",
        "deleteTable",
        200,
        lambda c, w: c.delete(f"{UC}/tables/{w.table}"),
    ),
    (
        "DELETE",
        f"{UC}/schemas/{{full_name}}",
        "deleteSchema",
        200,
        lambda c, w: c.delete(f"{UC}/schemas/{w.schema}"),
    ),
    (
        "DELETE",
        f"{UC}/catalogs/{{name}}",
        "deleteCatalog",
        200,
        lambda c, w: c.delete(f"{UC}/catalogs/{w.catalog}", params={"force": "true"}),
    ),
    (
        "DELETE",
        f"{SCIM}/Groups/{{group_id}}",
        "deleteGroup",
        204,
        lambda c, w: c.delete(f"{SCIM}/Groups/{w.group_id}"),
    ),
    (
        "DELETE",
        f"{SCIM}/ServicePrincipals/{{sp_id}}",
        "deleteServicePrincipal",
        204,
        lambda c, w: c.delete(f"{SCIM}/ServicePrincipals/{w.sp_id}"),
    ),
    (
        "DELETE",
        f"{SCIM}/Users/{{user_id}}",
        "deleteUser",
        204,
        lambda c, w: c.delete(f"{SCIM}/Users/{w.user_id}"),
    ),
]


def mutating_routes() -> set[tuple[str, str]]:
    return {
        (method, path)
        for router in (*CATALOG_ROUTERS, *REGISTRY_ROUTERS)
        for path, methods, _ in api_routes(router.routes)
        for method in methods
        if method not in ("GET", "HEAD")
    }


def test_the_walk_covers_every_mutating_route() -> None:
    covered = {(method, path) for method, path, *_ in MUTATIONS}
    missing = mutating_routes() - covered
    assert not missing, f"mutating routes without an audit check: {sorted(missing)}"


def _learn(world: World, action: str, body: Any) -> None:
    """Keep the ids later calls need."""
    if action == "createModelVersion":
        world.version = body["version"]
        write_mlmodel(body["storage_location"])
    elif action == "createUser":
        world.user_id = body["id"]
    elif action == "createServicePrincipal":
        world.sp_id = body["id"]
    elif action == "createGroup":
        world.group_id = body["id"]
    elif action == "createToken":
        world.token_id = body["token_info"]["token_id"]
    elif action == "createOboToken":
        world.obo_token_id = body["token_info"]["token_id"]


def test_every_mutation_writes_exactly_one_event(server: ServerHandle) -> None:
    c = unique("c")
    world = World(c, f"{c}.s", f"{c}.s.t", f"{c}.s.m", user=f"{unique('u')}@example.com")
    admin = server.admin
    for _method, _path, action, status, call in MUTATIONS:
        response = call(admin, world)
        assert response.status_code == status, (action, response.text)
        event = one_event(server, response, action, "admin", status)
        if response.content:
            _learn(world, action, response.json())
        assert "token_value" not in json.dumps(event)  # secrets never reach the log


def test_denied_and_failed_attempts_are_recorded(server: ServerHandle) -> None:
    admin = server.admin
    name, token = server.create_user()
    user = server.client(token)
    catalog = unique("c")
    # Denied: a user without CREATE CATALOG.
    denied = user.post(f"{UC}/catalogs", json={"name": catalog})
    assert denied.status_code == 403
    event = one_event(server, denied, "createCatalog", name, 403, "unityCatalog")
    assert "CREATE CATALOG" in event["response"]["error_message"]
    assert admin.get(f"{UC}/catalogs/{catalog}").status_code == 404
    # Failed: a duplicate, and a missing object.
    assert admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    duplicate = admin.post(f"{UC}/catalogs", json={"name": catalog})
    assert duplicate.status_code == 409
    one_event(server, duplicate, "createCatalog", "admin", 409)
    missing = admin.delete(f"{UC}/tables/{catalog}.nope.t")
    assert missing.status_code == 404
    one_event(server, missing, "deleteTable", "admin", 404)
    # Bad input is a failure too, and names the route's action.
    bad = admin.post(f"{UC}/schemas", json={"name": "x"})
    assert bad.status_code == 400
    one_event(server, bad, "createSchema", "admin", 400)
    # Unauthenticated: no user, the action of the route it was meant for.
    anonymous = server.client().post(f"{UC}/catalogs", json={"name": unique("c")})
    assert anonymous.status_code == 401
    one_event(server, anonymous, "createCatalog", None, 401)
    bad_token = server.client("dapi-not-a-token").delete(f"{UC}/catalogs/{catalog}")
    assert bad_token.status_code == 401
    one_event(server, bad_token, "deleteCatalog", None, 401)


#: One statement per statement kind: (statement template, action, status).
STATEMENTS: list[tuple[str, str, int]] = [
    ("CREATE CATALOG {c}", "createCatalog", 200),
    ("CREATE SCHEMA {c}.s", "createSchema", 200),
    ("CREATE TABLE {c}.s.t (id BIGINT)", "createTable", 200),
    ("COMMENT ON TABLE {c}.s.t IS 'x'", "updateTable", 200),
    ("GRANT SELECT ON TABLE {c}.s.t TO `{u}`", "updatePermissions", 200),
    ("SHOW GRANTS ON TABLE {c}.s.t", "getPermissions", 200),
    ("REVOKE SELECT ON TABLE {c}.s.t FROM `{u}`", "updatePermissions", 200),
    ("ALTER SCHEMA {c}.s OWNER TO `{u}`", "updateSchema", 200),
    ("SHOW CATALOGS", "listCatalogs", 200),
    ("SHOW SCHEMAS IN {c}", "listSchemas", 200),
    ("SHOW TABLES IN {c}.s", "listTables", 200),
    ("SHOW MODELS IN {c}.s", "listRegisteredModels", 200),
    ("DESCRIBE CATALOG {c}", "getCatalog", 200),
    ("DESCRIBE SCHEMA {c}.s", "getSchema", 200),
    ("DESCRIBE TABLE {c}.s.t", "getTable", 200),
    # Reads and writes of table data: databrickssql executeStatement, always recorded.
    ("INSERT INTO {c}.s.t VALUES (1), (2)", "executeStatement", 200),
    ("INSERT INTO {c}.s.t (id) SELECT id + 10 FROM {c}.s.t", "executeStatement", 200),
    ("SELECT * FROM {c}.s.t WHERE id > 1", "executeStatement", 200),
    ("INSERT INTO {c}.s.t VALUES ('one')", "executeStatement", 400),
    (
        "MERGE INTO {c}.s.t t USING {c}.s.t s ON t.id = s.id WHEN MATCHED THEN DELETE",
        "executeStatement",
        400,
    ),  # no primary key to match rows by
    ("CREATE GROUP `{g}`", "createGroup", 200),
    ("ALTER GROUP `{g}` ADD USER `{u}`", "patchGroup", 200),
    ("SHOW GROUPS", "listGroups", 200),
    ("SHOW USERS", "listUsers", 200),
    ("DROP GROUP `{g}`", "deleteGroup", 200),
    ("DROP TABLE {c}.s.t", "deleteTable", 200),
    ("DROP MODEL IF EXISTS {c}.s.m", "deleteRegisteredModel", 200),
    ("DROP SCHEMA {c}.s CASCADE", "deleteSchema", 200),
    ("DROP CATALOG {c} CASCADE", "deleteCatalog", 200),
    # Failures: a missing object, a syntax error, a denial (run as the user, below).
    ("DESCRIBE TABLE {c}.nope.t", "getTable", 404),
    ("SELEC 1", "executeStatement", 400),
]


def test_every_statement_kind_writes_exactly_one_event(server: ServerHandle) -> None:
    admin = server.admin
    user, _ = server.create_user()
    names = {"c": unique("c"), "u": user, "g": unique("g")}
    for template, action, status in STATEMENTS:
        statement = template.format(**names)
        response = admin.post(SQL, json={"statement": statement})
        assert response.status_code == 200
        state = response.json()["status"]["state"]
        assert state == ("SUCCEEDED" if status == 200 else "FAILED"), (statement, response.json())
        event = one_event(server, response, action, "admin", status)
        assert event["request_params"]["statement"] == statement


def test_a_denied_statement_is_recorded_with_the_denial(server: ServerHandle) -> None:
    name, token = server.create_user()
    response = server.client(token).post(SQL, json={"statement": "CREATE CATALOG nope"})
    assert response.json()["status"]["state"] == "FAILED"
    event = one_event(server, response, "createCatalog", name, 403)
    assert "PERMISSION_DENIED" in event["response"]["error_message"]


def test_metadata_reads_are_recorded(server: ServerHandle) -> None:
    response = server.admin.get(f"{UC}/catalogs")
    one_event(server, response, "listCatalogs", "admin", 200)


# -- reading the log --------------------------------------------------------------------------


def test_filters_and_paging(server: ServerHandle) -> None:
    admin = server.admin
    catalog = unique("c")
    for i in range(5):
        admin.post(f"{UC}/catalogs", json={"name": f"{catalog}_{i}"})
    admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": f"{catalog}_0"})
    by_action = admin.get(AUDIT, params={"action": "createCatalog", "max_results": 2})
    body = by_action.json()
    assert len(body["events"]) == 2 and body["next_page_token"]
    assert all(e["action_name"] == "createCatalog" for e in body["events"])
    seen = [e["event_id"] for e in body["events"]]
    token = body["next_page_token"]
    while token:
        page = admin.get(
            AUDIT, params={"action": "createCatalog", "max_results": 2, "page_token": token}
        ).json()
        seen += [e["event_id"] for e in page["events"]]
        token = page.get("next_page_token")
    assert len(seen) == len(set(seen)) >= 5
    # Object: the catalog and what is inside it.
    inside = admin.get(AUDIT, params={"object": f"{catalog}_0"}).json()["events"]
    assert {e["action_name"] for e in inside} >= {"createCatalog", "createSchema"}
    assert {e.get("object_name") for e in inside} == {f"{catalog}_0", f"{catalog}_0.s"}
    # Newest first; time window.
    times = [e["event_time"] for e in inside]
    assert times == sorted(times, reverse=True)
    recent = admin.get(AUDIT, params={"since": "1h", "user": "admin", "max_results": 5})
    assert recent.status_code == 200 and recent.json()["events"]
    future = admin.get(AUDIT, params={"since": "2999-01-01"}).json()["events"]
    assert future == []
    failed = admin.get(AUDIT, params={"failed": "true", "max_results": 50}).json()["events"]
    assert all(e["response"]["status_code"] >= 400 for e in failed)
    bad = admin.get(AUDIT, params={"since": "yesterday-ish"})
    assert bad.status_code == 400 and "since" in bad.json()["message"]
    bad_token = admin.get(AUDIT, params={"page_token": "garbage!"})
    assert bad_token.status_code == 400


def test_reading_the_log_needs_select_on_the_audit_table(server: ServerHandle) -> None:
    name, token = server.create_user()
    user = server.client(token)
    denied = user.get(AUDIT)
    assert denied.status_code == 403
    assert "SELECT on table 'system.access.audit'" in denied.json()["message"]
    group = unique("auditors")
    admin = server.admin
    for statement in (
        f"CREATE GROUP `{group}`",
        f"ALTER GROUP `{group}` ADD USER `{name}`",
        f"GRANT SELECT ON TABLE system.access.audit TO `{group}`",
    ):
        assert admin.post(SQL, json={"statement": statement}).json()["status"]["state"] == (
            "SUCCEEDED"
        ), statement
    allowed = user.get(AUDIT, params={"max_results": 3})
    assert allowed.status_code == 200 and allowed.json()["events"]


def test_follow_token_lists_what_comes_next(server: ServerHandle) -> None:
    admin = server.admin
    head = admin.get(AUDIT, params={"max_results": 1}).json()
    token = head["follow_page_token"]
    catalog = unique("c")
    admin.post(f"{UC}/catalogs", json={"name": catalog})
    after = admin.get(AUDIT, params={"order": "asc", "page_token": token}).json()
    assert catalog in [e.get("object_name") for e in after["events"]]
    assert after["next_page_token"]


def test_cli_lists_and_verifies(server: ServerHandle) -> None:
    env = {
        **os.environ,
        "STEWARD_URL": server.url,
        "STEWARD_TOKEN": server.admin_token,
        "STEWARD_DATABASE_URL": server.database_url,
    }
    catalog = unique("c")
    server.admin.post(f"{UC}/catalogs", json={"name": catalog})
    listed = subprocess.run(
        [sys.executable, "-m", "registry", "audit", "--object", catalog, "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert [e["action_name"] for e in json.loads(listed.stdout)] == ["createCatalog"]
    verified = subprocess.run(
        [sys.executable, "-m", "registry", "audit", "verify"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit log OK" in verified.stdout


def test_log_of_the_server_verifies(server: ServerHandle) -> None:
    db = Database(server.database_url)
    try:
        with db.read() as session:
            report = verify(session)
    finally:
        db.dispose()
    assert report.ok, report.problems[:5]
    assert report.events > 10


def test_events_are_also_log_lines(server: ServerHandle) -> None:
    catalog = unique("c")
    response = server.admin.post(f"{UC}/catalogs", json={"name": catalog})
    request_id = response.headers["x-request-id"]
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    audit_lines = [
        line
        for line in lines
        if line.get("event") == "audit" and line.get("audit_request_id") == request_id
    ]
    assert len(audit_lines) == 1
    assert audit_lines[0]["action_name"] == "createCatalog"
    assert server.admin_token not in server.logs()


def test_events_commit_with_their_change(server: ServerHandle) -> None:
    """Every committed catalog has its createCatalog event: same transaction."""
    admin = server.admin
    names = [unique("c") for _ in range(5)]
    for name in names:
        assert admin.post(f"{UC}/catalogs", json={"name": name}).status_code == 200
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = (
                conn.execute(
                    text(
                        "SELECT object_name FROM audit_events WHERE action_name = 'createCatalog' "
                        "AND status_code = 200"
                    )
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert set(names) <= set(rows)


def test_metadata_reads_can_be_switched_off(tmp_path: Path) -> None:
    server = start_server(
        f"sqlite:///{tmp_path / 's.db'}",
        tmp_path / "storage",
        {"STEWARD_AUDIT_METADATA_READS": "0"},
    )
    try:
        admin = server.admin
        catalog = unique("c")
        created = admin.post(f"{UC}/catalogs", json={"name": catalog})
        one_event(server, created, "createCatalog", "admin", 200)
        read = admin.get(f"{UC}/catalogs/{catalog}")
        assert read.status_code == 200 and events_of(server, read) == []
        shown = admin.post(SQL, json={"statement": "SHOW CATALOGS"})
        assert events_of(server, shown) == []
        _, token = server.create_user()
        denied = server.client(token).get(f"{UC}/catalogs/{catalog}")
        assert denied.status_code == 403
        one_event(server, denied, "getCatalog", denied_user(server, token), 403)
        audit_read = admin.get(AUDIT, params={"max_results": 1})
        assert audit_read.status_code == 200
    finally:
        server.stop()


def denied_user(server: ServerHandle, token: str) -> str:
    me = server.client(token).get(f"{SCIM}/Me")
    return str(me.json()["userName"])
