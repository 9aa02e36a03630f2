"""Rows per write (``STEWARD_MAX_ROWS_PER_WRITE``) and SQLite's durability, on both backends.

A write holds the database's one writer (SQLite) for its whole transaction, so one request
may write at most so many rows: the rows API, ``INSERT … VALUES``, ``INSERT … SELECT`` and
``MERGE`` over the limit are ``REQUEST_LIMIT_EXCEEDED`` naming the limit and the setting,
write nothing and are audited; just at the limit they write. A write of the default limit
(10,000 rows) leaves other users served meanwhile. Commits are ``synchronous=FULL`` on
SQLite unless ``STEWARD_SQLITE_SYNCHRONOUS=normal`` says otherwise.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from catalog.config import Settings
from catalog.persistence.engine import Database
from steward.app import shutdown, start
from tests.support import ServerHandle, server_fixture, unique

SQL = "/api/2.0/sql/statements"
TABLES = "/api/2.1/steward/tables"
AUDIT = "/api/2.1/steward/audit"
LIMIT = 50


#: A server allowing :data:`LIMIT` rows per write.
small = server_fixture("small", {"STEWARD_MAX_ROWS_PER_WRITE": str(LIMIT)})


def statement(client: httpx.Client, sql: str) -> dict[str, Any]:
    response = client.post(SQL, json={"statement": sql})
    assert response.status_code == 200, response.text
    return response.json() | {"request_id": response.headers["x-request-id"]}


def ok(client: httpx.Client, sql: str) -> dict[str, Any]:
    body = statement(client, sql)
    assert body["status"]["state"] == "SUCCEEDED", (sql[:200], body)
    return body


def count(client: httpx.Client, table: str) -> int:
    return int(ok(client, f"SELECT count(*) FROM {table}")["result"]["data_array"][0][0])


def audited_status(server: ServerHandle, request_id: str) -> list[int]:
    listed = server.admin.get(AUDIT, params={"request_id": request_id})
    assert listed.status_code == 200, listed.text
    return [e["response"]["status_code"] for e in listed.json()["events"]]


def make_tables(server: ServerHandle) -> tuple[str, str]:
    """A keyed target ``t`` (empty) and a source ``src`` of ``LIMIT + 1`` rows."""
    admin = server.admin
    schema = f"{unique('wb')}.s"
    ok(admin, f"CREATE CATALOG {schema.split('.')[0]}")
    ok(admin, f"CREATE SCHEMA {schema}")
    for name in ("t", "src"):
        ok(
            admin,
            f"CREATE TABLE {schema}.{name} (id BIGINT NOT NULL, v STRING, "
            "CONSTRAINT pk PRIMARY KEY (id))",
        )
    rows = [{"id": i, "v": f"s{i}"} for i in range(LIMIT + 1)]
    for batch in (rows[:LIMIT], rows[LIMIT:]):  # each within the limit
        written = admin.post(f"{TABLES}/{schema}.src/rows", json={"rows": batch})
        assert written.status_code == 200, written.text
    assert count(admin, f"{schema}.src") == LIMIT + 1
    return f"{schema}.t", f"{schema}.src"


def test_the_rows_api_over_the_limit_is_413_and_writes_nothing(small: ServerHandle) -> None:
    target, _ = make_tables(small)
    rows = [{"id": i, "v": "x"} for i in range(LIMIT + 1)]
    refused = small.admin.post(f"{TABLES}/{target}/rows", json={"rows": rows})
    assert refused.status_code == 413, refused.text
    body = refused.json()
    assert body["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert f"writes {LIMIT + 1} rows" in body["message"]
    assert f"at most {LIMIT} rows" in body["message"]
    assert "STEWARD_MAX_ROWS_PER_WRITE" in body["message"]
    assert count(small.admin, target) == 0
    assert audited_status(small, refused.headers["x-request-id"]) == [413]
    written = small.admin.post(f"{TABLES}/{target}/rows", json={"rows": rows[:LIMIT]})
    assert written.status_code == 200, written.text
    assert written.json()["num_inserted_rows"] == LIMIT


@pytest.mark.parametrize(
    "kind",
    ["values", "select", "merge"],
)
def test_sql_writes_over_the_limit_fail_and_write_nothing(small: ServerHandle, kind: str) -> None:
    target, source = make_tables(small)
    over = {
        "values": f"INSERT INTO {target} VALUES "
        + ", ".join(f"({i}, 'v')" for i in range(LIMIT + 1)),
        "select": f"INSERT INTO {target} SELECT id, v FROM {source}",
        "merge": f"MERGE INTO {target} t USING {source} s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
    }[kind]
    body = statement(small.admin, over)
    assert body["status"]["state"] == "FAILED", body
    error = body["status"]["error"]
    assert error["error_code"] == "REQUEST_LIMIT_EXCEEDED", error
    assert str(LIMIT) in error["message"] and "STEWARD_MAX_ROWS_PER_WRITE" in error["message"]
    assert count(small.admin, target) == 0
    assert audited_status(small, body["request_id"]) == [413]
    # Just at the limit the same statement writes.
    at = {
        "values": f"INSERT INTO {target} VALUES " + ", ".join(f"({i}, 'v')" for i in range(LIMIT)),
        "select": f"INSERT INTO {target} SELECT id, v FROM {source} WHERE id < {LIMIT}",
        "merge": f"MERGE INTO {target} t USING (SELECT * FROM {source} WHERE id < {LIMIT}) s "
        "ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
    }[kind]
    ok(small.admin, at)
    assert count(small.admin, target) == LIMIT


def test_a_write_at_the_default_limit_leaves_others_served(server: ServerHandle) -> None:
    """10,000 rows (the default limit) in one request, written a thousand per statement in
    one transaction, while another user's reads are answered (each within a second)."""
    admin = server.admin
    schema = f"{unique('wbig')}.s"
    ok(admin, f"CREATE CATALOG {schema.split('.')[0]}")
    ok(admin, f"CREATE SCHEMA {schema}")
    ok(
        admin,
        f"CREATE TABLE {schema}.t (id BIGINT NOT NULL, v STRING, CONSTRAINT pk PRIMARY KEY (id))",
    )
    rows = [{"id": i, "v": "v"} for i in range(10_000)]
    outcome: list[httpx.Response] = []

    def write() -> None:
        outcome.append(server.admin.post(f"{TABLES}/{schema}.t/rows", json={"rows": rows}))

    writer = threading.Thread(target=write)
    writer.start()
    latencies: list[float] = []
    reader = server.admin
    while writer.is_alive() or len(latencies) < 5:
        started = time.monotonic()
        assert reader.get(f"/api/2.1/unity-catalog/schemas/{schema}").status_code == 200
        latencies.append(time.monotonic() - started)
    writer.join()
    assert outcome[0].status_code == 200, outcome[0].text
    assert outcome[0].json()["num_inserted_rows"] == 10_000
    assert max(latencies) < 1.0, latencies
    assert count(admin, f"{schema}.t") == 10_000
    over = server.admin.post(
        f"{TABLES}/{schema}.t/rows", json={"rows": [*rows, {"id": 10_000, "v": "v"}]}
    )
    assert over.status_code == 413, over.text


@pytest.mark.parametrize(("setting", "level"), [(None, 2), ("full", 2), ("normal", 1)])
def test_sqlite_commits_are_synchronous_full_by_default(
    tmp_path: Path, setting: str | None, level: int
) -> None:
    """FULL (2) syncs the WAL at each commit: an acknowledged change survives a power cut."""
    db = (
        Database(f"sqlite:///{tmp_path}/s.db")
        if setting is None
        else Database(f"sqlite:///{tmp_path}/s.db", sqlite_synchronous=setting)
    )
    try:
        with db.transaction() as session:
            assert session.execute(text("PRAGMA synchronous")).scalar() == level
        with db.read() as session:
            assert session.execute(text("PRAGMA synchronous")).scalar() == level
    finally:
        db.dispose()


@pytest.mark.parametrize(("setting", "level"), [(None, 2), ("normal", 1)])
def test_the_server_runs_the_level_of_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, level: int
) -> None:
    """``STEWARD_SQLITE_SYNCHRONOUS`` reaches the connections of the server's runtime."""
    if setting is None:
        monkeypatch.delenv("STEWARD_SQLITE_SYNCHRONOUS", raising=False)
    else:
        monkeypatch.setenv("STEWARD_SQLITE_SYNCHRONOUS", setting)
    storage = tmp_path / "storage"
    settings = Settings.from_env(
        storage_root=storage, database_url=f"sqlite:///{storage}/steward.db"
    )
    runtime, _registry = start(settings)
    try:
        with runtime.db.transaction() as session:
            assert session.execute(text("PRAGMA synchronous")).scalar() == level
    finally:
        shutdown(runtime)
