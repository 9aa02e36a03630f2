"""The storage root: one server per SQLite root, private files, bounded headers.

Findings of an attack run, each reproduced against real server processes: two servers on
one SQLite root both started and the second never saw the first's REVOKE; the database
was created world-readable; a 16 MB ``Authorization`` header was read and hashed whole.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import ROOT, free_port, start_server


def second_server(storage: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STEWARD_STORAGE_ROOT": str(storage),
        "STEWARD_PORT": str(free_port()),
        "STEWARD_DATABASE_URL": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "steward", "server"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def sqlite_url(storage: Path) -> str:
    return f"sqlite:///{storage / 'steward.db'}"


def test_a_second_server_on_one_sqlite_root_refuses_to_start(tmp_path: Path) -> None:
    storage = tmp_path / "root"
    first = start_server(sqlite_url(storage), storage)
    try:
        started = time.monotonic()
        refused = second_server(storage)
        assert time.monotonic() - started < 30
        assert refused.returncode == 1
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert lines[-1].startswith("error: storage root ")
        assert str(storage) in lines[-1] and f"pid {first.process.pid}" in lines[-1]
        assert "Traceback" not in refused.stderr
        # The first server is untouched.
        assert first.admin.get("/api/2.1/unity-catalog/catalogs").status_code == 200
    finally:
        first.stop()


def test_the_lock_goes_with_a_crashed_server(tmp_path: Path) -> None:
    storage = tmp_path / "root"
    first = start_server(sqlite_url(storage), storage)
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    again = start_server(sqlite_url(storage), storage)
    try:
        # The metastore admin of the first start is still the admin.
        admin = again.client(first.admin_token)
        assert admin.get("/api/2.1/unity-catalog/catalogs").status_code == 200
    finally:
        again.stop()


def test_the_storage_root_and_the_database_are_private(tmp_path: Path) -> None:
    storage = tmp_path / "root"
    server = start_server(sqlite_url(storage), storage)
    try:
        assert stat.S_IMODE(storage.stat().st_mode) == 0o700
        assert stat.S_IMODE((storage / "steward.db").stat().st_mode) == 0o600
    finally:
        server.stop()


def test_oversized_headers_are_431_before_the_token_is_read(tmp_path: Path) -> None:
    storage = tmp_path / "root"
    server = start_server(
        sqlite_url(storage), storage, extra_env={"STEWARD_MAX_HEADER_BYTES": "8192"}
    )
    try:
        huge = "Bearer " + "x" * (2 << 20)
        answer = httpx.get(
            f"{server.url}/api/2.1/unity-catalog/catalogs",
            headers={"Authorization": huge},
            timeout=30,
        )
        assert answer.status_code == 431
        body = answer.json()
        assert body["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert "STEWARD_MAX_HEADER_BYTES" in body["message"]
        audited = server.admin.get(
            "/api/2.1/steward/audit", params={"request_id": body["request_id"]}
        )
        assert audited.status_code == 200, audited.text
        assert len(audited.json()["events"]) == 1
        # Headers under the limit are served as before.
        ok = server.admin.get("/api/2.1/unity-catalog/catalogs", headers={"X-Pad": "y" * 4000})
        assert ok.status_code == 200
    finally:
        server.stop()


def test_two_authorization_headers_are_refused_whichever_is_valid(tmp_path: Path) -> None:
    """The attack run found the first of two ``Authorization`` headers winning; a proxy on
    the way may pick the other, so a request carrying two is answered for neither."""
    storage = tmp_path / "root"
    server = start_server(sqlite_url(storage), storage)
    try:
        valid = f"Bearer {server.admin_token}"
        for pair in ((valid, "Bearer nope"), ("Bearer nope", valid), (valid, valid)):
            answer = httpx.get(
                f"{server.url}/api/2.1/unity-catalog/catalogs",
                headers=[("Authorization", pair[0]), ("Authorization", pair[1])],
                timeout=30,
            )
            assert answer.status_code == 400, answer.text
            body = answer.json()
            assert body["error_code"] == "INVALID_PARAMETER_VALUE"
            assert "2 Authorization headers" in body["message"]
            assert server.admin_token not in answer.text
            audited = server.admin.get(
                "/api/2.1/steward/audit", params={"request_id": body["request_id"]}
            )
            assert [e["response"]["status_code"] for e in audited.json()["events"]] == [400]
        assert server.admin.get("/api/2.1/unity-catalog/catalogs").status_code == 200
    finally:
        server.stop()
