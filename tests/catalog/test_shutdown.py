"""A stopping server drains (docs/running.md): SIGTERM under load loses no answered request.

Writes of 5,000 rows are in flight when the server gets SIGTERM: it stops listening, lets
them finish, writes the audit checkpoint and exits 0 within ``STEWARD_SHUTDOWN_SECONDS``.
Every write that was answered 200 is there when the server starts again, with exactly one
audit event, and the audit log verifies. A request that could not connect any more was
never accepted (a load balancer sends it to another replica).
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support import backends, database_url_for, run_steward, start_server, unique

SQL = "/api/2.0/sql/statements"
TABLES = "/api/2.1/steward/tables"
AUDIT = "/api/2.1/steward/audit"
ROWS_PER_WRITE = 5_000


def ok(client: httpx.Client, statement: str) -> dict:
    body = client.post(SQL, json={"statement": statement}).json()
    assert body["status"]["state"] == "SUCCEEDED", body
    return body


@pytest.mark.parametrize("backend", backends())
def test_sigterm_under_writes_drains_them_and_exits_0(backend: str, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    env = {"STEWARD_SHUTDOWN_SECONDS": "20", "STEWARD_AUDIT_KEY": "k" * 32}
    with database_url_for(backend, tmp_path) as url:
        server = start_server(url, storage, env)
        try:
            schema = f"{unique('drain')}.s"
            ok(server.admin, f"CREATE CATALOG {schema.split('.')[0]}")
            ok(server.admin, f"CREATE SCHEMA {schema}")
            ok(
                server.admin,
                f"CREATE TABLE {schema}.t (id BIGINT NOT NULL, v STRING, "
                "CONSTRAINT pk PRIMARY KEY (id))",
            )
            answered: list[int] = []
            refused: list[str] = []
            lock = threading.Lock()

            def writer(worker: int) -> None:
                client = httpx.Client(
                    base_url=server.url,
                    headers={"Authorization": f"Bearer {server.admin_token}"},
                    timeout=60,
                )
                batch = 0
                while True:
                    first = (worker * 1000 + batch) * ROWS_PER_WRITE
                    rows = [{"id": first + i, "v": "x"} for i in range(ROWS_PER_WRITE)]
                    try:
                        answer = client.post(f"{TABLES}/{schema}.t/rows", json={"rows": rows})
                    except httpx.ConnectError as exc:  # not accepted: nothing acknowledged
                        with lock:
                            refused.append(str(exc))
                        return
                    except httpx.HTTPError:
                        return  # closed after the drain: it was never answered
                    assert answer.status_code == 200, answer.text
                    with lock:
                        answered.append(first)
                    batch += 1

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
            for thread in threads:
                thread.start()
            time.sleep(1.5)
            server.process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = server.process.wait(timeout=40)
            stopped_after = time.monotonic() - started
            for thread in threads:
                thread.join(timeout=60)
            assert code == 0, server.logs()[-2000:]
            assert stopped_after < 25, stopped_after
            assert answered, "no write was answered before the signal"
            assert "audit_checkpoint" in server.logs()
        finally:
            server.stop()

        again = start_server(url, storage, {**env, "STEWARD_ADMIN_TOKEN": server.admin_token})
        try:
            count = ok(again.admin, f"SELECT count(*) FROM {schema}.t")["result"]["data_array"]
            assert count[0][0] == len(answered) * ROWS_PER_WRITE, (count, len(answered))
            events = again.admin.get(
                AUDIT, params={"action": "writeTableRows", "max_results": 1000}
            ).json()["events"]
            assert sum(1 for e in events if e["response"]["status_code"] == 200) == len(answered)
        finally:
            again.stop()
        run_steward(
            "audit",
            "verify",
            "--database-url",
            url,
            extra_env={"STEWARD_AUDIT_KEY": "k" * 32, "STEWARD_STORAGE_ROOT": str(storage)},
        )
