"""Logs: one JSON object per line in server mode, a request id on every line and error."""

from __future__ import annotations

import json

from tests.support import ServerHandle


def test_request_ids_tie_responses_errors_and_log_lines(server: ServerHandle) -> None:
    ok = server.admin.get("/api/2.1/unity-catalog/catalogs")
    bad = server.admin.get("/api/2.1/unity-catalog/catalogs/does_not_exist_anywhere")
    assert bad.status_code == 404
    body = bad.json()
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert body["request_id"] == bad.headers["x-request-id"]
    assert ok.headers["x-request-id"] and ok.headers["x-request-id"] != body["request_id"]

    lines = [line for line in server.logs().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
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
