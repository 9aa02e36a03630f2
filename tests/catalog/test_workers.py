"""``steward server --workers N`` (docs/running.md): N processes on one port.

The workers are replicas of one another: a GRANT or REVOKE answered by one is enforced by
every other within a second (NOTIFY on PostgreSQL, the change log on SQLite), checked here
with each request on a fresh connection so that the workers take turns. On SQLite the
command holds the storage root for its own workers and nobody else.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import (
    ServerHandle,
    backends,
    database_url_for,
    last_stale_probe,
    run_steward,
    staleness,
    start_server,
    unique,
)

SQL = "/api/2.0/sql/statements"


def fresh_connection_select(server: ServerHandle, token: str, table: str) -> str:
    """The state of one SELECT, sent on a connection of its own (any worker may take it)."""
    answer = httpx.post(
        f"{server.url}{SQL}",
        json={"statement": f"SELECT count(*) FROM {table}"},
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"]["state"])


def all_agree(server: ServerHandle, token: str, table: str, state: str) -> float:
    """Seconds until 20 SELECTs in a row, on fresh connections, all end in ``state``."""
    started = time.monotonic()
    streak = 0
    while streak < 20:
        streak = streak + 1 if fresh_connection_select(server, token, table) == state else 0
        assert time.monotonic() - started < 10, f"workers disagree on {table}"
    return time.monotonic() - started


@pytest.mark.parametrize("backend", backends())
def test_workers_follow_each_others_grants(backend: str, tmp_path: Path) -> None:
    with database_url_for(backend, tmp_path) as url:
        server = start_server(url, tmp_path / "storage", {"STEWARD_WORKERS": "2"})
        try:
            # Both workers up: the first one answering is enough to start, and the second
            # migrates after it (one write transaction), so on a busy machine it may take
            # a few seconds more. A worker that died never logs it.
            deadline = time.monotonic() + 30
            while server.logs().count('"event":"started"') < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert server.logs().count('"event":"started"') == 2, server.logs()[-2000:]
            admin = server.admin
            schema = f"{unique('w')}.s"
            for statement in (
                f"CREATE CATALOG {schema.split('.')[0]}",
                f"CREATE SCHEMA {schema}",
                f"CREATE TABLE {schema}.t (id BIGINT)",
            ):
                body = admin.post(SQL, json={"statement": statement}).json()
                assert body["status"]["state"] == "SUCCEEDED", body
            user, token = server.create_user()
            table = f"{schema}.t"
            assert all_agree(server, token, table, "FAILED") < 10
            grant = (
                f"GRANT USE CATALOG ON CATALOG {schema.split('.')[0]} TO `{user}`; "
                f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{user}`; "
                f"GRANT SELECT ON TABLE {table} TO `{user}`"
            )
            for statement in grant.split("; "):
                assert admin.post(SQL, json={"statement": statement}).status_code == 200
            # Within a second every worker lets the user read; and after the REVOKE none.
            assert all_agree(server, token, table, "SUCCEEDED") < 10
            revoke = f"REVOKE SELECT ON TABLE {table} FROM `{user}`"
            started = time.monotonic()
            assert admin.post(SQL, json={"statement": revoke}).status_code == 200
            acknowledged = time.monotonic()
            stale = last_stale_probe(
                lambda: fresh_connection_select(server, token, table) == "FAILED", started
            )
            assert stale - started < 1.0, f"a worker still served {stale - started:.2f} s later"
            if backend == "sqlite":
                # Read-your-writes: no request sent after the REVOKE was acknowledged is
                # decided without it, on any worker (catalog/access/change_beacon.py).
                assert stale < acknowledged, "a worker served after REVOKE was answered"

            # Memberships: the group holds the grants; adding the user lets it read on
            # every worker within a second.
            group = unique("g")
            catalog = schema.split(".")[0]
            for statement in (
                f"CREATE GROUP `{group}`",
                f"GRANT USE CATALOG ON CATALOG {catalog} TO `{group}`",
                f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{group}`",
                f"GRANT SELECT ON TABLE {table} TO `{group}`",
            ):
                body = admin.post(SQL, json={"statement": statement}).json()
                assert body["status"]["state"] == "SUCCEEDED", body
            started = time.monotonic()
            added = admin.post(SQL, json={"statement": f"ALTER GROUP `{group}` ADD USER `{user}`"})
            assert added.json()["status"]["state"] == "SUCCEEDED", added.text
            acknowledged = time.monotonic()
            stale = last_stale_probe(
                lambda: fresh_connection_select(server, token, table) == "SUCCEEDED", started
            )
            assert stale - started < 1.0, f"a worker still refused {stale - started:.2f} s later"
            if backend == "sqlite":
                assert stale < acknowledged, "a worker refused after the membership was answered"

            # Tokens: a revoked token is refused by every worker within a second.
            me = httpx.get(
                f"{server.url}/api/2.0/preview/scim/v2/Me",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).json()["id"]
            infos = admin.get("/api/2.0/token-management/tokens").json()["token_infos"]
            (token_id,) = [i["token_id"] for i in infos if i.get("owner_id") == me]
            started = time.monotonic()
            deleted = admin.delete(f"/api/2.0/token-management/tokens/{token_id}")
            assert deleted.status_code == 200, deleted.text

            def token_refused() -> bool:
                answer = httpx.get(
                    f"{server.url}/api/2.0/preview/scim/v2/Me",
                    headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                    timeout=30,
                )
                return answer.status_code == 401

            accepted = staleness(token_refused, started)
            assert accepted < 1.0, f"a worker still accepted the token {accepted:.2f} s later"
        finally:
            server.stop()


def test_only_the_servers_own_workers_share_a_sqlite_root(tmp_path: Path) -> None:
    """The supervisor holds the storage root's lock for its workers: another server on the
    same root is refused as before, naming the root."""
    storage = tmp_path / "storage"
    url = f"sqlite:///{storage}/steward.db"
    server = start_server(url, storage, {"STEWARD_WORKERS": "2"})
    try:
        other = run_steward(
            "server", "--storage-root", str(storage), "--database-url", url, check=False
        )
        assert other.returncode != 0
        assert f"storage root {storage} is in use" in other.stderr, other.stderr
        assert server.admin.get("/api/2.1/unity-catalog/catalogs").status_code == 200
    finally:
        server.stop()


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_end_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """kill -9 of the supervisor (an OOM kill, say) frees the storage root's lock; its
    workers must not go on serving and writing beside the next server: they stop too,
    and a new server can take the root."""
    storage = tmp_path / "storage"
    url = f"sqlite:///{storage}/steward.db"
    server = start_server(url, storage, {"STEWARD_WORKERS": "2"})
    try:
        time.sleep(1)  # both workers up
        workers = children_of(server.process.pid)
        assert len(workers) >= 2, workers
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline, [p for p in workers if alive(p)]
            time.sleep(0.1)
    finally:
        server.stop()
    again = start_server(url, storage, {"STEWARD_ADMIN_TOKEN": server.admin_token})
    try:
        assert again.admin.get("/api/2.1/unity-catalog/catalogs").status_code == 200
    finally:
        again.stop()
