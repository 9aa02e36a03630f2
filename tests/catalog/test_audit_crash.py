"""A kill -9 in the middle of a stream of writes leaves a log that verifies and holds an event
for every change the server acknowledged (docs/audit.md: events commit with their changes)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from catalog.audit.verify import verify
from catalog.persistence.engine import Database
from tests.support import backends, database_url_for, start_server, unique

UC = "/api/2.1/unity-catalog"


@pytest.mark.parametrize("backend", backends())
def test_kill_dash_nine_loses_no_acknowledged_event(backend: str, tmp_path: Path) -> None:
    with database_url_for(backend, tmp_path) as url:
        server = start_server(url, tmp_path / "storage")
        acknowledged: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer() -> None:
            client = httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {server.admin_token}"},
                timeout=10,
            )
            with client:
                while not stop.is_set():
                    name = unique("k")
                    try:
                        response = client.post(f"{UC}/catalogs", json={"name": name})
                    except httpx.HTTPError:
                        return  # the server is gone
                    if response.status_code == 200:
                        with lock:
                            acknowledged.append(name)

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        server.stop()
        assert len(acknowledged) >= 40

        db = Database(url)
        try:
            with db.read() as session:
                report = verify(session)
        finally:
            db.dispose()
        assert report.ok, report.problems[:5]
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                recorded = set(
                    conn.execute(
                        text(
                            "SELECT object_name FROM audit_events "
                            "WHERE action_name = 'createCatalog' AND status_code = 200"
                        )
                    ).scalars()
                )
                created = set(
                    conn.execute(
                        text("SELECT name FROM securables WHERE securable_type = 'CATALOG'")
                    ).scalars()
                )
        finally:
            engine.dispose()
        missing = [name for name in acknowledged if name not in recorded]
        assert not missing, f"{len(missing)} acknowledged changes have no event: {missing[:5]}"
        # And no change landed without its event (the in-flight ones are all or nothing).
        unaudited = {n for n in created if n.startswith("k_")} - recorded
        assert not unaudited, unaudited
