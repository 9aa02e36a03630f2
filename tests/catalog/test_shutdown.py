"""A stopping server drains (docs/running.md): SIGTERM under load loses no answered request.

Writes of 5,000 rows are in flight when the server gets SIGTERM: it stops listening, lets
them finish, writes the audit checkpoint and exits 0 within ``STEWARD_SHUTDOWN_SECONDS``.
Every write that was answered 200 is there when the server starts again, with exactly one
audit event, and the audit log verifies. A request that could not connect any more was
never accepted (a load balancer sends it to another replica): the port refuses new
connections within a second of the signal, with one process and with workers, whose
supervisor must not keep listening while they drain.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
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


def seconds_until_refused(url: str, signalled: float) -> float:
    """From the signal to the first connection refused. A connection accepted by the
    kernel and then left waiting (a socket still listening with nobody accepting) times
    out: that is the failure. One closed unanswered is uvicorn closing a connection it
    had just accepted as it stopped (a balancer retries it); the probe goes on."""
    while time.monotonic() - signalled < 30:
        try:
            httpx.get(f"{url}/health/live", headers={"Connection": "close"}, timeout=3)
        except httpx.ConnectError:
            return time.monotonic() - signalled
        except httpx.TimeoutException:
            return float("inf")
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return float("inf")


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("backend", backends())
def test_sigterm_under_writes_drains_them_and_exits_0(
    backend: str, workers: int, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    env = {
        "STEWARD_SHUTDOWN_SECONDS": "20",
        "STEWARD_AUDIT_KEY": "k" * 32,
        "STEWARD_WORKERS": str(workers),
    }
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
            refused_after = seconds_until_refused(server.url, started)
            code = server.process.wait(timeout=40)
            stopped_after = time.monotonic() - started
            for thread in threads:
                thread.join(timeout=60)
            assert code == 0, server.logs()[-2000:]
            assert stopped_after < 25, stopped_after
            assert refused_after < 1, f"new connections not refused ({refused_after} s)"
            assert answered, "no write was answered before the signal"
            # Written by the worker that stopped first; the others find nothing new.
            assert '"audit_checkpoint"' in server.logs(), server.logs()[-3000:]
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


@pytest.mark.parametrize("backend", backends())
def test_workers_stop_listening_at_once_while_a_slow_request_drains(
    backend: str, tmp_path: Path
) -> None:
    """A request whose body trickles in for three seconds keeps its worker draining; the
    port must refuse new connections anyway, not queue them until the drain ends, and
    the slow request is still answered."""
    env = {"STEWARD_SHUTDOWN_SECONDS": "20", "STEWARD_WORKERS": "2"}
    with database_url_for(backend, tmp_path) as url:
        server = start_server(url, tmp_path / "storage", env)
        name = unique("slow")
        answers: list[httpx.Response] = []

        def trickle() -> Iterator[bytes]:
            yield b'{"name": '
            for _ in range(30):
                time.sleep(0.1)
                yield b" "
            yield f'"{name}"}}'.encode()

        def slow_request() -> None:
            answers.append(
                httpx.post(
                    f"{server.url}/api/2.1/unity-catalog/catalogs",
                    content=trickle(),
                    headers={
                        "Authorization": f"Bearer {server.admin_token}",
                        "Content-Type": "application/json",
                    },
                    timeout=30,
                )
            )

        try:
            slow = threading.Thread(target=slow_request)
            slow.start()
            time.sleep(0.5)
            server.process.send_signal(signal.SIGTERM)
            refused_after = seconds_until_refused(server.url, time.monotonic())
            slow.join(timeout=30)
            code = server.process.wait(timeout=30)
        finally:
            server.stop()
        assert refused_after < 1, f"new connections not refused ({refused_after} s)"
        assert [a.status_code for a in answers] == [200], [a.text for a in answers]
        assert code == 0, server.logs()[-2000:]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_leaves_the_rotation_first_when_a_delay_is_set(
    workers: int, tmp_path: Path
) -> None:
    """With STEWARD_SHUTDOWN_DELAY_SECONDS, SIGTERM first makes /health/ready say 503 (on
    every worker) while everything else is still served; only after the delay does the
    port refuse connections, and then the process exits 0. A second SIGTERM cuts the
    delay short."""
    delay = 3.0
    env = {"STEWARD_SHUTDOWN_DELAY_SECONDS": str(delay), "STEWARD_WORKERS": str(workers)}
    url = f"sqlite:///{tmp_path / 'storage'}/steward.db"
    server = start_server(url, tmp_path / "storage", env)
    fresh = {"Authorization": f"Bearer {server.admin_token}", "Connection": "close"}
    try:
        time.sleep(1)  # every worker up
        assert httpx.get(f"{server.url}/health/ready").status_code == 200
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(1)  # the supervisor passes the signal on within half a second
        probes = [httpx.get(f"{server.url}/health/ready", headers=fresh) for _ in range(10)]
        assert {p.status_code for p in probes} == {503}, [p.text for p in probes]
        assert probes[0].json()["reason"] == "the server is stopping"
        served = [httpx.get(f"{server.url}/api/2.1/unity-catalog/catalogs", headers=fresh)]
        assert [s.status_code for s in served] == [200]
        refused_after = seconds_until_refused(server.url, signalled)
        assert delay - 0.5 < refused_after < delay + 2, refused_after
        assert server.process.wait(timeout=30) == 0, server.logs()[-2000:]
    finally:
        server.stop()

    again = start_server(url, tmp_path / "storage", {**env, "STEWARD_SHUTDOWN_DELAY_SECONDS": "60"})
    try:
        time.sleep(1)
        again.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert httpx.get(f"{again.url}/health/ready").status_code == 503
        again.process.send_signal(signal.SIGTERM)
        assert again.process.wait(timeout=15) == 0, again.logs()[-2000:]
    finally:
        again.stop()
