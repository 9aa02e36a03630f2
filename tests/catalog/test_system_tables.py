"""SELECT over the system tables through the SQL endpoint (docs/audit.md, docs/lineage.md),
over HTTP.

Results are checked against ``GET /api/2.1/steward/audit`` for the same filters; the attack
corpus checks that nothing but the system tables is reachable and nothing changes; the
permission tests check the SELECT rule. A few tests drive the read-only runner directly to
show the database's own guard holds even for SQL the compiler would never produce.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, inspect, select

from catalog.audit.verify import verify
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from catalog.runtime import Runtime
from catalog.sql.compiler import ReadQuery
from catalog.sql.readonly import QueryTimedOut, physical_schema, run_readonly
from catalog.sql.select_runner import present
from catalog.system_tables import SYSTEM_TABLES
from common.errors import InvalidParameter
from policy.dialect import (
    parse_statement,
)
from tests.support import ServerHandle, unique

SQL = "/api/2.0/sql/statements"
AUDIT = "/api/2.1/steward/audit"
LINEAGE = "/api/v1/lineage"


def run(client: httpx.Client, statement: str, **extra: Any) -> dict[str, Any]:
    response = client.post(SQL, json={"statement": statement, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def ok(client: httpx.Client, statement: str, **extra: Any) -> list[list[Any]]:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    assert body["result"]["row_count"] == len(body["result"]["data_array"])
    return body["result"]["data_array"]


def records(client: httpx.Client, statement: str, **extra: Any) -> list[dict[str, Any]]:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    names = [c["name"] for c in body["manifest"]["schema"]["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["result"]["data_array"]]


def failed(client: httpx.Client, statement: str, code: str, **extra: Any) -> str:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "FAILED", (statement, body)
    assert body["status"]["error"]["error_code"] == code, (statement, body)
    assert "result" not in body
    return body["status"]["error"]["message"]


def rest_events(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    while True:
        query = {**params, "max_results": 1000, **({"page_token": token} if token else {})}
        response = client.get(AUDIT, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        events += body["events"]
        token = body.get("next_page_token")
        if not token or not body["events"]:
            return events


def _no_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nones(v) for k, v in value.items() if v is not None}
    return value


def as_rest(row: dict[str, Any]) -> dict[str, Any]:
    """A ``SELECT *`` row in the shape ``GET /api/2.1/steward/audit`` gives an event."""
    shaped = {
        **row,
        "user_identity": json.loads(row["user_identity"]),
        "response": json.loads(row["response"]),
        "request_params": json.loads(row["request_params"]),
    }
    return _no_nones(shaped)


# -- a user with a known history -----------------------------------------------------------


@dataclass
class Actor:
    name: str
    client: httpx.Client
    catalog: str


@pytest.fixture(scope="module")
def actor(server: ServerHandle) -> Actor:
    """A user whose events are known and stop changing once the fixture is set up."""
    admin = server.admin
    name, token = server.create_user()
    client = server.client(token)
    catalog = unique("sq")
    assert run(client, f"CREATE CATALOG {catalog}")["status"]["state"] == "FAILED"  # 403
    ok(admin, f"GRANT CREATE CATALOG ON METASTORE TO `{name}`")
    ok(client, f"CREATE CATALOG {catalog}")  # createCatalog, 200
    assert run(client, f"CREATE CATALOG {catalog}")["status"]["state"] == "FAILED"  # 409
    ok(client, f"CREATE SCHEMA {catalog}.s")
    assert client.get("/api/2.1/unity-catalog/catalogs").status_code == 200
    client.get("/api/2.1/unity-catalog/catalogs/nope_" + catalog)
    assert client.get(AUDIT).status_code == 403
    return Actor(name, client, catalog)


def test_select_star_has_the_public_columns(server: ServerHandle, actor: Actor) -> None:
    body = run(server.admin, "SELECT * FROM system.access.audit LIMIT 1")
    columns = body["manifest"]["schema"]["columns"]
    audit = next(table for table in SYSTEM_TABLES if table.full_name == "system.access.audit")
    assert [c["name"] for c in columns] == [name for name, _, _ in audit.columns]
    assert [c["position"] for c in columns] == list(range(len(audit.columns)))
    types = {c["name"]: c["type_text"] for c in columns}
    assert types["event_time"] == "timestamp" and types["event_date"] == "date"
    assert types["user_identity"] == "struct<email: string>"
    assert types["response"] == "struct<status_code: int, error_message: string>"
    assert types["seq"] == "bigint" and types["lane"] == "int"


def test_rows_equal_the_audit_api(server: ServerHandle, actor: Actor) -> None:
    admin = server.admin
    rows = records(
        admin,
        "SELECT * FROM system.access.audit WHERE user_identity.email = :who "
        "ORDER BY event_time DESC, seq DESC",
        parameters=[{"name": "who", "value": actor.name}],
    )
    expected = rest_events(admin, user=actor.name)
    assert len(expected) >= 6
    assert [as_rest(row) for row in rows] == [_no_nones(e) for e in expected]
    first = rows[0]
    assert first["event_time"].endswith("Z") and "T" in first["event_time"]
    assert json.loads(first["user_identity"]) == {"email": actor.name}


@pytest.mark.parametrize(
    ("where", "params"),
    [
        ("action_name = 'createCatalog'", {"action": "createCatalog"}),
        ("action_name = 'listCatalogs'", {"action": "listCatalogs"}),
        ("response.status_code >= 400", {"failed": "true"}),
        ("response.status_code < 400", {"failed": "false"}),
        ("service_name = 'unityCatalog'", {"service": "unityCatalog"}),
        ("(object_name = '{catalog}' OR object_name LIKE '{catalog}.%')", {"object": "{catalog}"}),
    ],
)
def test_filters_match_the_audit_api(
    server: ServerHandle, actor: Actor, where: str, params: dict[str, str]
) -> None:
    admin = server.admin
    where = where.format(catalog=actor.catalog)
    params = {k: v.format(catalog=actor.catalog) for k, v in params.items()}
    got = ok(
        admin,
        f"SELECT event_id FROM system.access.audit WHERE user_identity.email = '{actor.name}' "
        f"AND {where}",
    )
    expected = rest_events(admin, user=actor.name, **params)
    assert expected, params
    assert sorted(row[0] for row in got) == sorted(e["event_id"] for e in expected)


def test_time_and_date_filters(server: ServerHandle, actor: Actor) -> None:
    admin = server.admin
    events = rest_events(admin, user=actor.name, order="asc")
    who = f"user_identity.email = '{actor.name}'"
    day = events[0]["event_date"]
    on_day = ok(
        admin, f"SELECT event_id FROM system.access.audit WHERE {who} AND event_date = '{day}'"
    )
    assert sorted(r[0] for r in on_day) == sorted(
        e["event_id"] for e in events if e["event_date"] == day
    )
    pivot = events[3]["event_time"]  # ISO 8601 with Z, as the API writes it
    later = ok(
        admin, f"SELECT event_id FROM system.access.audit WHERE {who} AND event_time >= '{pivot}'"
    )
    assert sorted(r[0] for r in later) == sorted(
        e["event_id"] for e in rest_events(admin, user=actor.name, since=pivot)
    )
    stamp = ok(
        admin,
        f"SELECT count(*) FROM system.access.audit WHERE {who} "
        f"AND event_time >= TIMESTAMP '{pivot[:-1]}' "
        "AND event_time <= current_timestamp() "
        "AND event_time > current_timestamp() - INTERVAL 1 DAY "
        "AND event_date >= current_date() - INTERVAL 2 DAYS",
    )
    assert stamp == [[len(events) - 3]]
    between = ok(
        admin,
        f"SELECT count(*) FROM system.access.audit WHERE {who} "
        f"AND event_time BETWEEN '{events[1]['event_time']}' AND '{events[2]['event_time']}'",
    )
    assert between == [[2]]


def test_an_event_of_this_moment_is_not_later_than_now(server: ServerHandle) -> None:
    """``current_timestamp()`` is not behind the events just written: SQLite's own has whole
    seconds, so without care an event of the current second would look later than "now"."""
    admin = server.admin
    for _ in range(3):
        request_id = admin.get("/api/2.1/unity-catalog/catalogs").headers["x-request-id"]
        got = ok(
            admin,
            "SELECT count(*) FROM system.access.audit WHERE request_id = :rid "
            "AND event_time <= current_timestamp() "
            "AND event_time > current_timestamp() - INTERVAL 1 MINUTE",
            parameters=[{"name": "rid", "value": request_id}],
        )
        assert got == [[1]]


def test_group_by_and_order_by(server: ServerHandle, actor: Actor) -> None:
    admin = server.admin
    events = rest_events(admin, user=actor.name)
    counts = ok(
        admin,
        "SELECT action_name, count(*) AS n FROM system.access.audit "
        f"WHERE user_identity.email = '{actor.name}' "
        "GROUP BY action_name ORDER BY n DESC, action_name",
    )
    assert dict(map(tuple, counts)) == dict(Counter(e["action_name"] for e in events))
    assert [row[1] for row in counts] == sorted((row[1] for row in counts), reverse=True)
    newest = ok(
        admin,
        "SELECT event_id, event_time FROM system.access.audit "
        f"WHERE user_identity.email = '{actor.name}' ORDER BY event_time DESC LIMIT 3",
    )
    assert [row[0] for row in newest] == [e["event_id"] for e in events[:3]]
    outcomes = records(
        admin,
        "SELECT response.status_code AS status, count(*) AS n, max(event_time) AS last "
        f"FROM system.access.audit WHERE user_identity.email = '{actor.name}' "
        "GROUP BY response.status_code HAVING count(*) >= 1 ORDER BY status",
    )
    expected = Counter(e["response"]["status_code"] for e in events)
    assert {r["status"]: r["n"] for r in outcomes} == dict(expected)
    assert {200, 403, 409} <= set(expected)


def test_structs_fields_and_json(server: ServerHandle, actor: Actor) -> None:
    admin = server.admin
    rows = records(
        admin,
        "SELECT user_identity, response, response.error_message AS error, "
        "request_params:statement AS statement, "
        "get_json_object(request_params, '$.statement') AS same "
        "FROM system.access.audit "
        f"WHERE user_identity.email = '{actor.name}' AND response.status_code = 409",
    )
    assert len(rows) == 1
    row = rows[0]
    assert json.loads(row["user_identity"]) == {"email": actor.name}
    response = json.loads(row["response"])
    assert response["status_code"] == 409 and response["error_message"] == row["error"]
    assert row["statement"] == row["same"] == f"CREATE CATALOG {actor.catalog}"


def test_ctes_subqueries_joins_and_set_operations(server: ServerHandle, actor: Actor) -> None:
    admin = server.admin
    who = f"'{actor.name}'"
    total = len(rest_events(admin, user=actor.name))
    assert ok(
        admin,
        f"WITH mine AS (SELECT * FROM system.access.audit WHERE user_identity.email = {who}), "
        "bad AS (SELECT event_id FROM mine WHERE response.status_code >= 400) "
        "SELECT (SELECT count(*) FROM mine), (SELECT count(*) FROM bad)",
    ) == [[total, len(rest_events(admin, user=actor.name, failed="true"))]]
    joined = ok(
        admin,
        "SELECT count(*) FROM system.access.audit a JOIN system.access.audit b "
        "ON a.request_id = b.request_id AND a.event_id = b.event_id "
        f"WHERE a.user_identity.email = {who}",
    )
    assert joined == [[total]]
    inside = ok(
        admin,
        "SELECT count(*) FROM system.access.audit WHERE event_id IN "
        f"(SELECT event_id FROM system.access.audit WHERE user_identity.email = {who}) "
        "AND EXISTS (SELECT 1 FROM system.access.table_lineage WHERE 1 = 0) = false",
    )
    assert inside == [[total]]
    union = ok(
        admin,
        f"SELECT action_name FROM system.access.audit WHERE user_identity.email = {who} "
        "UNION SELECT entity_type FROM system.access.table_lineage WHERE 1 = 0 ORDER BY 1",
    )
    assert [r[0] for r in union] == sorted(
        {e["action_name"] for e in rest_events(admin, user=actor.name)}
    )
    ranked = ok(
        admin,
        "SELECT seq, row_number() OVER (ORDER BY event_time) AS n FROM system.access.audit "
        f"WHERE user_identity.email = {who} ORDER BY n LIMIT 2",
    )
    assert [r[1] for r in ranked] == [1, 2]


def test_functions_agree_across_backends(server: ServerHandle, actor: Actor) -> None:
    admin = server.admin
    rows = records(
        admin,
        "SELECT event_date, date_trunc('DAY', event_time) AS day, "
        "date_trunc('HOUR', event_time) AS hour, to_date(event_time) AS d, "
        "upper(substring(action_name, 1, 6)) AS head, length(event_id) AS n, "
        "coalesce(object_name, 'none') AS obj, if(response.status_code >= 400, 'bad', 'ok') AS ok "
        f"FROM system.access.audit WHERE user_identity.email = '{actor.name}' "
        "AND action_name = 'createCatalog' AND response.status_code = 200",
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["day"] == row["event_date"] + "T00:00:00.000000Z" and row["d"] == row["event_date"]
    assert row["hour"].endswith(":00:00.000000Z")
    assert row | {"day": 0, "hour": 0, "d": 0, "event_date": 0} == {
        "event_date": 0,
        "day": 0,
        "hour": 0,
        "d": 0,
        "head": "CREATE",
        "n": 36,
        "obj": actor.catalog,
        "ok": "ok",
    }
    body = run(
        admin,
        "SELECT avg(x) AS a, avg(y) AS b, sum(x) AS s, count(*) AS c, max(x) AS m "
        "FROM (SELECT 1 AS x, 1 AS y UNION ALL SELECT 2, 1)",
    )
    assert body["result"]["data_array"] == [[1.5, 1.0, 3, 2, 2]]
    types = [c["type_text"] for c in body["manifest"]["schema"]["columns"]]
    assert types == ["double", "double", "bigint", "bigint", "int"]


def test_like_is_case_sensitive_with_backslash_escapes_on_both_backends(
    server: ServerHandle,
) -> None:
    """Databricks' LIKE: case-sensitive, ``%`` and ``_`` wildcards, ``\\`` escapes the next
    character. SQLite's own LIKE is none of these; the compiler and runner make it so, also
    when the query orders its rows (where SQLite is kept off the LIKE's index)."""
    values = "SELECT 'a_b.x' AS v UNION ALL SELECT 'aXb.x' UNION ALL SELECT 'A_B.x'"
    cases = {
        "v LIKE 'a_b.%'": ["aXb.x", "a_b.x"],
        "v LIKE 'a\\_b.%'": ["a_b.x"],
        "v LIKE 'A%'": ["A_B.x"],
        "NOT v LIKE 'a%'": ["A_B.x"],
        "v ILIKE 'a\\_b%'": ["A_B.x", "a_b.x"],
    }
    for where, expected in cases.items():
        for order in ("", " ORDER BY v"):
            got = ok(server.admin, f"SELECT v FROM ({values}) WHERE {where}{order}")
            assert sorted(r[0] for r in got) == expected, (where, order)


def test_names_quoting_case_and_defaults(server: ServerHandle, actor: Actor) -> None:
    admin = server.admin
    who = f"user_identity.email = '{actor.name}'"
    expected = [[len(rest_events(admin, user=actor.name))]]
    for name in (
        "system.access.audit",
        "`system`.`access`.`audit`",
        "SYSTEM.Access.AUDIT",
        "system.`access`.audit",
    ):
        assert ok(admin, f"SELECT count(*) FROM {name} WHERE {who}") == expected, name
    assert (
        ok(admin, f"SELECT count(*) FROM audit WHERE {who}", catalog="system", schema="access")
        == expected
    )
    assert ok(admin, f"SELECT count(*) FROM access.audit WHERE {who}", catalog="system") == expected
    named = run(
        admin, f"SELECT count(*), Count(*) AS Total, max(seq) FROM system.access.audit WHERE {who}"
    )
    assert [c["name"] for c in named["manifest"]["schema"]["columns"]] == [
        "count(*)",
        "Total",
        "max(seq)",
    ]
    assert [c["type_text"] for c in named["manifest"]["schema"]["columns"]] == ["bigint"] * 3


def test_lineage_tables(server: ServerHandle) -> None:
    admin = server.admin
    catalog = unique("lin")
    ok(admin, f"CREATE CATALOG {catalog}")
    ok(admin, f"CREATE SCHEMA {catalog}.s")
    for name in ("src", "dst"):
        ok(admin, f"CREATE TABLE {catalog}.s.{name} (id BIGINT, v STRING)")
    src, dst = f"{catalog}.s.src", f"{catalog}.s.dst"
    body = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-02T03:04:05.678Z",
        "run": {"runId": "0190c4f5-2b1e-7c9d-8f00-000000000001"},
        "job": {"namespace": "airflow", "name": "nightly"},
        "inputs": [
            {"namespace": "steward", "name": src},
            {"namespace": "s3://bucket", "name": "raw/users"},
        ],
        "outputs": [
            {
                "namespace": "steward",
                "name": dst,
                "facets": {
                    "columnLineage": {
                        "_producer": "test",
                        "fields": {
                            "v": {
                                "inputFields": [{"namespace": "steward", "name": src, "field": "v"}]
                            }
                        },
                    }
                },
            }
        ],
        "producer": "https://example.com/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    posted = admin.post(LINEAGE, json=body)
    assert posted.status_code == 201, posted.text
    post_request = posted.headers.get("x-request-id")
    edges = records(
        admin,
        "SELECT * FROM system.access.table_lineage WHERE target_table_full_name = :dst "
        "ORDER BY source_type, source_table_full_name",
        parameters=[{"name": "dst", "value": dst}],
    )
    assert [(e["source_type"], e["source_table_full_name"], e["source_path"]) for e in edges] == [
        ("EXTERNAL", None, "s3://bucket/raw/users"),
        ("TABLE", src, None),
    ]
    table_edge = edges[1]
    assert table_edge["source_table_catalog"] == catalog
    assert table_edge["source_table_schema"] == "s" and table_edge["source_table_name"] == "src"
    assert table_edge["target_table_name"] == "dst" and table_edge["target_type"] == "TABLE"
    assert table_edge["entity_type"] == "OPENLINEAGE" and table_edge["count"] == 1
    assert table_edge["created_by"] == "admin"
    assert (
        table_edge["event_time"].endswith("Z")
        and table_edge["event_date"] == table_edge["event_time"][:10]
    )
    if post_request:
        assert table_edge["request_id"] == post_request
    columns = records(
        admin,
        "SELECT source_table_full_name, source_column_name, target_column_name, count "
        f"FROM system.access.column_lineage WHERE target_table_full_name = '{dst}'",
    )
    assert columns == [
        {
            "source_table_full_name": src,
            "source_column_name": "v",
            "target_column_name": "v",
            "count": 1,
        }
    ]
    # The audit event of the POST names the same request as the edge.
    audited = ok(
        admin,
        "SELECT count(*) FROM system.access.audit a JOIN system.access.table_lineage l "
        f"ON a.request_id = l.request_id WHERE l.target_table_full_name = '{dst}'",
    )
    assert audited[0][0] >= 1


# -- permissions ---------------------------------------------------------------------------


def test_non_admins_need_select(server: ServerHandle) -> None:
    admin = server.admin
    name, token = server.create_user()
    user = server.client(token)
    for table in (
        "system.access.audit",
        "system.access.table_lineage",
        "system.access.column_lineage",
    ):
        message = failed(user, f"SELECT * FROM {table}", "PERMISSION_DENIED")
        assert f"SELECT on table '{table}'" in message
    group = unique("auditors")
    ok(admin, f"CREATE GROUP {group}")
    ok(admin, f"ALTER GROUP {group} ADD USER `{name}`")
    ok(admin, f"GRANT SELECT ON TABLE system.access.audit TO {group}")
    assert ok(user, "SELECT count(*) FROM system.access.audit")[0][0] > 0
    # Every system table read needs its own SELECT.
    message = failed(
        user,
        "SELECT count(*) FROM system.access.audit a JOIN system.access.table_lineage l "
        "ON a.request_id = l.request_id",
        "PERMISSION_DENIED",
    )
    assert "SELECT on table 'system.access.table_lineage'" in message
    ok(admin, f"GRANT SELECT ON TABLE system.access.table_lineage TO `{name}`")
    assert ok(user, "SELECT count(*) FROM system.access.table_lineage")[0][0] >= 0
    ok(admin, f"REVOKE SELECT ON TABLE system.access.audit FROM {group}")
    message = failed(user, "SELECT * FROM system.access.audit", "PERMISSION_DENIED")
    assert "SELECT on table 'system.access.audit'" in message
    # The attempt itself is audited, as a denial.
    denied = rest_events(admin, user=name, failed="true")
    assert any(e["response"]["status_code"] == 403 for e in denied)


def test_non_admins_cannot_reach_physical_tables_either(server: ServerHandle) -> None:
    _, token = server.create_user()
    user = server.client(token)
    for statement in ("SELECT * FROM audit_events", "SELECT token_hash FROM access_tokens"):
        assert "is not a table" in failed(user, statement, "RESOURCE_DOES_NOT_EXIST")


# -- the attack corpus ---------------------------------------------------------------------

#: Physical names, missing tables and tables the caller may not see: one answer.
NOT_SYSTEM = ("RESOURCE_DOES_NOT_EXIST", "is not a table")
SYNTAX = "PARSE_SYNTAX_ERROR"
BAD = "INVALID_PARAMETER_VALUE"

#: (statement, error code, words the message must contain)
CORPUS: list[tuple[str, str, tuple[str, ...]]] = [
    # physical and catalog names, however spelled
    (
        "SELECT * FROM audit_events",
        NOT_SYSTEM[0],
        ("'audit_events'", NOT_SYSTEM[1], "line 1, column 15"),
    ),
    ('SELECT * FROM "audit_events"', *NOT_SYSTEM[:1], ("'audit_events'", NOT_SYSTEM[1])),
    ("SELECT * FROM `audit_events`", *NOT_SYSTEM[:1], ("'audit_events'", NOT_SYSTEM[1])),
    ("SELECT * FROM AUDIT_Events", *NOT_SYSTEM[:1], (NOT_SYSTEM[1],)),
    ("SELECT * FROM main.audit_events", *NOT_SYSTEM[:1], ("'main.audit_events'", NOT_SYSTEM[1])),
    ("SELECT * FROM public.audit_events", *NOT_SYSTEM[:1], (NOT_SYSTEM[1],)),
    ("SELECT * FROM system.access.audit_events", *NOT_SYSTEM[:1], (NOT_SYSTEM[1],)),
    ("SELECT * FROM `system`.`access`.`audit_events`", *NOT_SYSTEM[:1], (NOT_SYSTEM[1],)),
    ("SELECT * FROM system.access.\u0430udit", *NOT_SYSTEM[:1], (NOT_SYSTEM[1],)),  # Cyrillic а
    ("SELECT token_hash FROM access_tokens", *NOT_SYSTEM[:1], ("'access_tokens'",)),
    ("SELECT * FROM securables", *NOT_SYSTEM[:1], ("'securables'",)),
    ("SELECT v0, v1, v2 FROM casbin_rule", *NOT_SYSTEM[:1], ("'casbin_rule'",)),
    ("SELECT * FROM sqlite_master", *NOT_SYSTEM[:1], ("'sqlite_master'",)),
    ("SELECT * FROM pg_catalog.pg_tables", *NOT_SYSTEM[:1], ("'pg_catalog.pg_tables'",)),
    ("SELECT * FROM information_schema.tables", *NOT_SYSTEM[:1], ("'information_schema.tables'",)),
    ("SELECT * FROM system.information_schema.tables", *NOT_SYSTEM[:1], (NOT_SYSTEM[1],)),
    ("SELECT * FROM corpus_catalog.s.nope", *NOT_SYSTEM[:1], ("'corpus_catalog.s.nope'",)),
    (
        "SELECT * FROM system.access.audit a JOIN principals p ON true",
        *NOT_SYSTEM[:1],
        ("'principals'",),
    ),
    (
        "SELECT * FROM system.access.audit WHERE event_id IN (SELECT v1 FROM casbin_rule)",
        *NOT_SYSTEM[:1],
        ("'casbin_rule'",),
    ),
    ("SELECT (SELECT count(*) FROM access_tokens)", *NOT_SYSTEM[:1], ("'access_tokens'",)),
    (
        "SELECT * FROM system.access.audit UNION ALL SELECT * FROM audit_events",
        *NOT_SYSTEM[:1],
        ("line 1",),
    ),
    (
        "WITH a AS (SELECT * FROM audit_events) SELECT * FROM a",
        *NOT_SYSTEM[:1],
        ("'audit_events'",),
    ),
    ("SELECT user_name FROM system.access.audit", BAD, ("user_name", "could not be resolved")),
    ("SELECT `user_identity.email` FROM system.access.audit", BAD, ("could not be resolved",)),
    # more than one statement, however hidden
    (
        "SELECT * FROM system.access.audit; DROP TABLE audit_events",
        SYNTAX,
        ("line 1, column 34", "one statement"),
    ),
    ("SELECT 1; DELETE FROM audit_events", SYNTAX, ("one statement",)),
    ("SELECT 1;;", SYNTAX, ("one statement",)),
    ("SELECT 1 -- comment\n; DELETE FROM audit_events", SYNTAX, ("line 2, column 1",)),
    ("SELECT 1 /* ; */ ; DELETE FROM audit_events", SYNTAX, ("one statement",)),
    ("SELECT 1 /* unterminated; DELETE FROM audit_events", SYNTAX, ("*/",)),
    ("SELECT 1\n;\nUPDATE audit_events SET hash = 'x'", SYNTAX, ("line 2",)),
    ("SELECT 1\uff1b DELETE FROM audit_events", SYNTAX, ("line 1",)),  # fullwidth semicolon
    (
        "SELECT 1 FROM system.access.audit WHERE action_name = $$x$$; DROP TABLE x",
        SYNTAX,
        ("line 1",),
    ),
    # writes and DDL in disguise
    (
        "WITH x AS (DELETE FROM audit_events RETURNING *) SELECT * FROM x",
        BAD,
        ("DELETE", "not supported"),
    ),
    (
        "WITH x AS (INSERT INTO audit_events (event_id) VALUES ('x') RETURNING *) SELECT * FROM x",
        BAD,
        ("INSERT", "not supported"),
    ),
    (
        "WITH x AS (UPDATE audit_events SET hash = 'x' RETURNING *) SELECT * FROM x",
        BAD,
        ("UPDATE",),
    ),
    ("WITH x AS (SELECT * FROM system.access.audit) DELETE FROM audit_events", SYNTAX, ("line 1",)),
    ("SELECT * INTO stolen FROM system.access.audit", SYNTAX, ("INTO",)),
    # A real CTAS (copying the audit log needs SELECT on it); this one names no schema.
    ("CREATE TABLE stolen AS SELECT * FROM system.access.audit", BAD, ("not fully qualified",)),
    ("ATTACH DATABASE '/tmp/steward-stolen.db' AS stolen", SYNTAX, ("line 1, column 1",)),
    ("PRAGMA query_only = OFF", SYNTAX, ("line 1, column 1",)),
    ("SET TRANSACTION READ WRITE", SYNTAX, ("line 1, column 5", "expected TAG")),
    ("SELECT * FROM system.access.audit FOR UPDATE", SYNTAX, ("FOR UPDATE",)),
    # functions with effects, table functions, unbounded constructs
    ("SELECT pg_sleep(10)", BAD, ("pg_sleep()", "not allowed", "line 1, column 8")),
    ("SELECT pg_read_file('/etc/passwd')", BAD, ("pg_read_file()",)),
    ("SELECT load_extension('/tmp/evil.so')", BAD, ("load_extension()",)),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", BAD, ("set_config()",)),
    ("SELECT nextval('some_sequence')", BAD, ("nextval()",)),
    ("SELECT lo_import('/etc/passwd')", BAD, ("lo_import()",)),
    ("SELECT randomblob(1000000000)", BAD, ("randomblob()",)),
    ("SELECT current_setting('data_directory')", BAD, ("current_setting()",)),
    ("SELECT version()", BAD, ("version()",)),
    ("SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a INT)", BAD, ("table-valued functions",)),
    ("SELECT * FROM read_files('/etc/passwd')", BAD, ("table-valued functions",)),
    ("SELECT * FROM range(100000000000)", BAD, ("table-valued functions",)),
    (
        "SELECT * FROM system.access.audit LATERAL VIEW explode(array(1, 2)) t AS x",
        BAD,
        ("LATERAL VIEW",),
    ),
    ("SELECT transform(event_id) USING 'cat' FROM system.access.audit", BAD, ("not supported",)),
    (
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        BAD,
        ("WITH RECURSIVE",),
    ),
    ("SELECT * FROM system.access.audit TIMESTAMP AS OF '2020-01-01'", BAD, ("time travel",)),
    ("SELECT /*+ BROADCAST(a) */ * FROM system.access.audit a", BAD, ("hint",)),
    (
        "SELECT event_id FROM system.access.audit WHERE event_id = 'a' COLLATE \"C\"",
        BAD,
        ("collate",),
    ),
    ("SELECT * FROM system.access.audit WHERE event_time > 'yesterday'", BAD, ("not a timestamp",)),
    ("SELECT 1 FROM system.access.audit LIMIT 1 + 1", BAD, ("LIMIT",)),
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000, SYNTAX, ("nested",)),
]


@pytest.fixture(scope="module")
def corpus_catalog(server: ServerHandle) -> str:
    admin = server.admin
    if run(admin, "DESCRIBE CATALOG corpus_catalog")["status"]["state"] == "FAILED":
        ok(admin, "CREATE CATALOG corpus_catalog")
        ok(admin, "CREATE SCHEMA corpus_catalog.s")
        ok(admin, "CREATE TABLE corpus_catalog.s.t (id BIGINT)")
    return "corpus_catalog"


@pytest.mark.parametrize(("statement", "code", "words"), CORPUS, ids=[c[0][:40] for c in CORPUS])
def test_attack_corpus(
    server: ServerHandle, corpus_catalog: str, statement: str, code: str, words: tuple[str, ...]
) -> None:
    message = failed(server.admin, statement, code)
    for word in words:
        assert word.lower() in message.lower(), (statement, word, message)


def _snapshot(database: Database) -> dict[str, Any]:
    """Row counts of every table but the logs of requests (the audit log's, and each
    statement's kept answer), and the list of tables."""
    names = sorted(inspect(database.engine).get_table_names())
    skip = {"audit_events", "audit_lanes", "audit_checkpoints", "statement_results"}
    counts: dict[str, Any] = {"tables": names}
    with database.read() as session:
        for table in t.Base.metadata.sorted_tables:
            if table.name not in skip and table.name in names:
                counts[table.name] = session.scalar(select(func.count()).select_from(table))
    return counts


@pytest.fixture
def database(server: ServerHandle) -> Iterator[Database]:
    database = Database(server.database_url)
    try:
        yield database
    finally:
        database.dispose()


def test_attack_corpus_changes_nothing(
    server: ServerHandle, corpus_catalog: str, database: Database
) -> None:
    admin = server.admin
    before = _snapshot(database)
    with database.read() as session:
        events_before = session.scalar(select(func.count()).select_from(t.AuditEvent))
    for statement, _, _ in CORPUS:
        assert run(admin, statement)["status"]["state"] == "FAILED", statement
    # A semicolon sent as a JSON unicode escape is still a semicolon.
    raw = '{"statement": "SELECT 1\\u003b DELETE FROM audit_events"}'
    response = admin.post(SQL, content=raw, headers={"content-type": "application/json"})
    assert response.json()["status"]["error"]["error_code"] == SYNTAX
    assert _snapshot(database) == before
    assert not Path("/tmp/steward-stolen.db").exists()
    with database.read() as session:
        events_after = session.scalar(select(func.count()).select_from(t.AuditEvent))
        report = verify(session)
    # Every attempt was recorded (one event each) and the chain still verifies.
    assert events_after >= events_before + len(CORPUS) + 1
    assert report.ok, report.first
    assert ok(admin, "SELECT count(*) FROM system.access.audit")[0][0] >= events_after


def test_runaway_query_times_out_cleanly(server: ServerHandle) -> None:
    admin = server.admin
    many = " UNION ALL ".join(["SELECT 1 AS x"] * 12)
    joins = ", ".join(f"n AS n{i}" for i in range(12))
    message = failed(admin, f"WITH n AS ({many}) SELECT count(*) FROM {joins}", "DEADLINE_EXCEEDED")
    assert "seconds" in message and "stopped" in message
    # The connection went back clean: reads and writes work right after.
    assert ok(admin, "SELECT count(*) FROM system.access.audit")[0][0] > 0
    ok(admin, f"CREATE CATALOG {unique('after')}")


def test_long_queries_work_or_fail_cleanly(server: ServerHandle) -> None:
    admin = server.admin
    ors = " OR ".join(f"action_name = 'nothing_{i}'" for i in range(300))
    assert ok(admin, f"SELECT count(*) FROM system.access.audit WHERE {ors}") == [[0]]
    listed = ", ".join(f"'nothing_{i}'" for i in range(1000))
    where = f"action_name IN ({listed})"
    assert ok(admin, f"SELECT count(*) FROM system.access.audit WHERE {where}") == [[0]]
    # Longer than the statement budget: refused before it is parsed, naming the setting.
    listed = ", ".join(f"'nothing_{i}'" for i in range(5000))
    message = failed(
        admin,
        f"SELECT count(*) FROM system.access.audit WHERE action_name IN ({listed})",
        "INVALID_PARAMETER_VALUE",
    )
    assert "STEWARD_SQL_MAX_CHARS" in message
    # Too deep to resolve cheaply (and deeper than SQLite takes): refused up front.
    ors = " OR ".join(f"action_name = 'nothing_{i}'" for i in range(450))
    message = failed(
        admin, f"SELECT count(*) FROM system.access.audit WHERE {ors}", "INVALID_PARAMETER_VALUE"
    )
    assert "levels deep" in message and "IN (" in message


def test_rows_are_capped(server: ServerHandle, actor: Actor) -> None:
    admin = server.admin
    count = ok(admin, "SELECT count(*) FROM system.access.audit")[0][0]
    assert count**3 > 10_000
    rows = ok(
        admin,
        "SELECT a.seq FROM system.access.audit a, system.access.audit b, system.access.audit c",
    )
    assert len(rows) == 10_000


# -- the read-only runner and the compiler, in-process -------------------------------------


def _compile(runtime: Runtime, statement: str, max_rows: int = 100) -> Any:
    db = runtime.db
    query = ReadQuery.plan(parse_statement(statement))
    return query.compile(db.backend, physical_schema(db), max_rows)


def test_truncation_is_reported(runtime: Runtime) -> None:
    compiled = _compile(runtime, "SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3", max_rows=2)
    rows, truncated = present(
        run_readonly(runtime.db, compiled.sql, compiled.tables), compiled.kinds, 2
    )
    assert len(rows) == 2 and truncated
    rows, truncated = present(
        run_readonly(runtime.db, compiled.sql, compiled.tables), compiled.kinds, 3
    )
    assert len(rows) == 3 and not truncated


def test_runner_deadline(runtime: Runtime) -> None:
    many = " UNION ALL ".join(["SELECT 1 AS x"] * 12)
    joins = ", ".join(f"n AS n{i}" for i in range(12))
    compiled = _compile(runtime, f"WITH n AS ({many}) SELECT count(*) FROM {joins}")
    with pytest.raises(QueryTimedOut):
        run_readonly(runtime.db, compiled.sql, compiled.tables, timeout=0.3)
    assert run_readonly(runtime.db, _compile(runtime, "SELECT 1").sql, frozenset()) == [(1,)]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM audit_events",
        "UPDATE audit_events SET hash = 'x'",
        "CREATE TABLE stolen (a INT)",
        "SELECT token_hash FROM access_tokens",
    ],
)
def test_runner_refuses_writes_and_other_tables_itself(runtime: Runtime, sql: str) -> None:
    """SQL the compiler never produces still cannot write, nor (on SQLite) read elsewhere."""
    if runtime.db.backend != "sqlite" and sql.startswith("SELECT"):
        pytest.skip("PostgreSQL's guard is the read-only transaction; reads are the compiler's")
    with pytest.raises(InvalidParameter):
        run_readonly(runtime.db, sql, frozenset({"audit_events"}))
    with runtime.db.transaction() as session:  # the connection is usable for writes again
        assert session.scalar(select(func.count()).select_from(t.AuditEvent)) is not None
