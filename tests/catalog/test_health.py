"""Health probes (docs/running.md): ``/health/live`` and ``/health/ready`` on a real server.

Both answer without a token, write no audit event and no access line at the default log
level. Readiness is 503 with the reason while the database's schema is not the one the
server runs (a migration pending or running) and while the database does not answer;
it comes back by itself once they are right again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support import ServerHandle, backends, database_url_for, start_server

AUDIT = "/api/2.1/steward/audit"


@pytest.fixture(params=backends())
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerHandle]:
    """A server of its own: these tests change its database under it."""
    with database_url_for(str(request.param), tmp_path) as url:
        handle = start_server(url, tmp_path / "storage")
        try:
            yield handle
        finally:
            handle.stop()


def probe(server: ServerHandle, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", timeout=10)


def wait_for(server: ServerHandle, status: int, seconds: float = 10.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        answer = probe(server, "/health/ready")
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_probes_need_no_token_and_leave_no_trace(fresh: ServerHandle) -> None:
    assert probe(fresh, "/health/live").json() == {"status": "live"}
    ready = probe(fresh, "/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}, ready.text
    assert ready.headers["cache-control"] == "no-store"
    head = httpx.head(f"{fresh.url}/health/ready", timeout=10)
    assert head.status_code == 200 and head.content == b""
    refused = httpx.post(f"{fresh.url}/health/ready", timeout=10)
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"

    before = fresh.admin.get(AUDIT, params={"max_results": 1000}).json()["events"]
    for _ in range(20):
        assert probe(fresh, "/health/ready").status_code == 200
        assert probe(fresh, "/health/live").status_code == 200
    after = fresh.admin.get(AUDIT, params={"max_results": 1000}).json()["events"]
    # Only the first listing's own event is new: no probe was audited.
    assert len(after) - len(before) == 1, [e["action_name"] for e in after[: len(after) - 1]]
    assert "/health/" not in fresh.logs()


def test_ready_is_503_while_the_schema_is_not_the_servers(fresh: ServerHandle) -> None:
    """Another version's server migrating the database: this one steps out of rotation."""
    engine = create_engine(fresh.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('x9999')"))
        answer = wait_for(fresh, 503)
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["status"] == "unavailable"
        assert "x9999" in body["reason"] and "migration" in body["reason"], body
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version WHERE version_num = 'x9999'"))
        assert wait_for(fresh, 200).status_code == 200
    finally:
        engine.dispose()


def test_ready_is_503_while_the_database_does_not_answer(fresh: ServerHandle) -> None:
    if fresh.database_url.startswith("sqlite"):
        pytest.skip("SQLite is a file the server holds open: it cannot stop answering")
    url = make_url(fresh.database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        answer = wait_for(fresh, 503)
        assert answer.status_code == 503, answer.text
        reason = answer.json()["reason"]
        assert "database does not answer" in reason or "policy engine" in reason, reason
        # Authenticated routes fail meanwhile too, but the process itself is live.
        assert probe(fresh, "/health/live").status_code == 200
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        back = wait_for(fresh, 200, seconds=15)
        assert back.status_code == 200, back.text
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
