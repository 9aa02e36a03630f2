"""Logs: one JSON object per line in server mode, a request id on every line and error."""

from __future__ import annotations

import time
from typing import Any

from tests.support import ServerHandle


def log_records(server: ServerHandle, request_id: str, events: set[str]) -> list[dict[str, Any]]:
    """The JSON log records of one request, waiting briefly: the access line follows the reply."""
    deadline = time.monotonic() + 5
    while True:
        records = server.log_records()
        mine = [r for r in records if r.get("request_id") == request_id]
        if events <= {r["event"] for r in mine} or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_request_ids_tie_responses_errors_and_log_lines(server: ServerHandle) -> None:
    ok = server.admin.get("/api/2.1/unity-catalog/catalogs")
    bad = server.admin.get("/api/2.1/unity-catalog/catalogs/does_not_exist_anywhere")
    assert bad.status_code == 404
    body = bad.json()
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert body["request_id"] == bad.headers["x-request-id"]
    assert ok.headers["x-request-id"] and ok.headers["x-request-id"] != body["request_id"]

    records = log_records(server, body["request_id"], {"request", "request_failed"})
    assert records, "server logs are JSON lines"
    by_request = [r for r in records if r.get("request_id") == body["request_id"]]
    assert {r["event"] for r in by_request} >= {"request", "request_failed"}
    access = next(r for r in by_request if r["event"] == "request")
    assert access["status"] == 404 and access["method"] == "GET"
    assert all("request_id" in r for r in records if r["event"] == "request")


def test_no_token_ever_reaches_the_log(server: ServerHandle) -> None:
    _, token = server.create_user()
    server.client(token).get("/api/2.0/preview/scim/v2/Me")
    server.client(token + "x").get("/api/2.0/preview/scim/v2/Me")
    logs = server.logs()
    assert token not in logs
    assert server.admin_token not in logs
