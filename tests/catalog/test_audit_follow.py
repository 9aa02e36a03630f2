"""Following the audit log (``order=asc`` tokens, ``steward audit --follow``) is gap-free.

Writers on different lanes commit in any order, so an event can commit after one with
a higher id was already delivered. These tests drive the real server over HTTP and check
that every event is delivered exactly once anyway: under concurrent writers (and two
replicas on PostgreSQL), in the late-commit case forced deterministically, and through
the CLI. Malformed tokens are a 400.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from catalog.audit.events import AuditEvent
from catalog.audit.log import append
from catalog.pagination import encode_token
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from tests.support import ROOT, ServerHandle, start_server, stop_process, unique

AUDIT = "/api/2.1/steward/audit"
UC = "/api/2.1/unity-catalog"


def on_postgres(server: ServerHandle) -> bool:
    return server.database_url.startswith("postgresql")


def follow_page(client: httpx.Client, token: str | None, **params: Any) -> httpx.Response:
    query = {"order": "asc", **params, **({"page_token": token} if token else {})}
    response = client.get(AUDIT, params=query)
    assert response.status_code == 200, response.text
    assert response.json()["next_page_token"], "following always hands back a cursor"
    return response


def stored_events(database_url: str) -> list[tuple[int, str, str, int, int]]:
    """Every stored event as (id, event_id, request_id, lane, seq), read past the server."""
    e = t.AuditEvent
    db = Database(database_url)
    try:
        with db.read() as session:
            rows = session.execute(select(e.id, e.event_id, e.request_id, e.lane, e.seq))
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        db.dispose()


def marker(name: str) -> AuditEvent:
    """An event appended in-process, as a server's transaction would append it."""
    return AuditEvent(
        service_name="steward",
        action_name="testLateCommit",
        request_id=unique("req"),
        user_name="admin",
        status_code=200,
        object_name=name,
    )


def test_following_delivers_every_event_once_under_concurrent_writers(
    server: ServerHandle, tmp_path: Path
) -> None:
    """From the first event on, with small pages while several threads write (through two
    replicas on PostgreSQL, following through both in turn): no event is skipped or
    repeated, and each lane's events come in seq order without a hole."""
    servers = [server]
    if on_postgres(server):
        servers.append(
            start_server(
                server.database_url,
                tmp_path / "replica",
                {"STEWARD_ADMIN_TOKEN": server.admin_token},
            )
        )
    try:
        failures: list[str] = []

        def write(target: ServerHandle) -> None:
            client = target.client(target.admin_token)
            for _ in range(12):
                response = client.post(f"{UC}/catalogs", json={"name": unique("follow")})
                if response.status_code != 200:
                    failures.append(response.text)

        threads = [
            threading.Thread(target=write, args=(target,))
            for target in servers
            for _ in range(6 // len(servers))
        ]
        for thread in threads:
            thread.start()
        followers = [target.client(target.admin_token) for target in servers]
        delivered: list[dict[str, Any]] = []
        token: str | None = None
        polls = 0
        last_poll = ""  # its request id
        while True:
            finished = not any(thread.is_alive() for thread in threads)
            response = follow_page(followers[polls % len(followers)], token, max_results=5)
            polls += 1
            body = response.json()
            delivered += body["events"]
            token = body["next_page_token"]
            last_poll = response.headers["x-request-id"]
            if finished and len(body["events"]) < 5:
                break  # caught up after the last write was acknowledged
        for thread in threads:
            thread.join()
    finally:
        for extra in servers[1:]:
            extra.stop()
    assert not failures, failures[:3]
    ids = [event["event_id"] for event in delivered]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    # Everything stored but the last poll's own event (written after its snapshot).
    stored = stored_events(server.database_url)
    expected = {event_id for _, event_id, request_id, _, _ in stored if request_id != last_poll}
    missing = expected - set(ids)
    assert not missing, f"{len(missing)} events never delivered"
    assert set(ids) == expected
    by_lane: dict[int, list[int]] = defaultdict(list)
    for event in delivered:
        by_lane[event["lane"]].append(event["seq"])
    for lane, seqs in by_lane.items():
        assert seqs == list(range(1, len(seqs) + 1)), f"lane {lane} out of order"
    if on_postgres(server):
        assert len(by_lane) > 1, "concurrent writers should have used several lanes"


def test_an_event_committed_late_with_a_lower_id_is_still_delivered(
    server: ServerHandle,
) -> None:
    """The case an ``id`` cursor gets wrong: event A's id is allocated in an open
    transaction, B (higher id, another lane) commits and is delivered, then A commits.
    The next page must hold A (an id cursor would have moved past it for good)."""
    if not on_postgres(server):
        pytest.skip("SQLite has one writer and one lane: commits are in id order")
    admin = server.admin
    token = admin.get(AUDIT, params={"max_results": 1}).json()["follow_page_token"]
    db = Database(server.database_url)
    try:
        with db.transaction() as holding:
            late = append(holding, marker(unique("late")))  # its id is taken; not committed
            with db.transaction() as other:
                early = append(other, marker(unique("early")))
            first = follow_page(admin, token, max_results=1000).json()
        # Now the late event is committed.
    finally:
        db.dispose()
    ids = {event_id: row_id for row_id, event_id, _, _, _ in stored_events(server.database_url)}
    late_id, early_id = late.event.event_id, early.event.event_id
    assert late.lane != early.lane and ids[late_id] < ids[early_id], "not the late-commit case"
    first_ids = [e["event_id"] for e in first["events"]]
    assert early_id in first_ids and late_id not in first_ids
    second = follow_page(admin, first["next_page_token"], max_results=1000).json()
    second_ids = [e["event_id"] for e in second["events"]]
    assert late_id in second_ids, "the late commit was skipped"
    assert early_id not in second_ids, "an event was delivered twice"
    third = follow_page(admin, second["next_page_token"], max_results=1000).json()
    assert {late_id, early_id}.isdisjoint(e["event_id"] for e in third["events"])


def test_a_desc_page_id_token_still_follows(server: ServerHandle) -> None:
    """An ``id`` token (a desc page's, or one from a server before lane cursors) given to
    ``order=asc`` lists what came after that id, and hands back a lane cursor."""
    admin = server.admin
    catalog = unique("c")
    admin.post(f"{UC}/catalogs", json={"name": catalog})
    admin.post(f"{UC}/catalogs", json={"name": unique("c")})
    page = admin.get(AUDIT, params={"action": "createCatalog", "max_results": 2}).json()
    older = page["next_page_token"]  # the id of the first catalog's event
    after = follow_page(admin, older, action="createCatalog").json()
    assert [e["event_id"] for e in after["events"]] == [page["events"][0]["event_id"]]
    assert catalog not in [e.get("object_name") for e in after["events"]]


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        encode_token("lanes:0=x"),
        encode_token("lanes:0=1,0=2"),
        encode_token("lanes:-1=3"),
        encode_token("lanes:0=+3"),
        encode_token("lanes:0=3,"),
        encode_token("lanes:1=99999999999999999999"),
        encode_token("12x"),
        encode_token("99999999999999999999"),
    ],
)
def test_a_malformed_token_is_a_400_naming_it(server: ServerHandle, token: str) -> None:
    for order in ("asc", "desc"):
        response = server.admin.get(AUDIT, params={"order": order, "page_token": token})
        assert response.status_code == 400, (order, response.text)
        body = response.json()
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert token in body["message"]


def test_a_follow_token_is_refused_for_a_desc_page(server: ServerHandle) -> None:
    admin = server.admin
    token = admin.get(AUDIT, params={"max_results": 1}).json()["follow_page_token"]
    response = admin.get(AUDIT, params={"page_token": token})
    assert response.status_code == 400
    assert token in response.json()["message"] and "order=asc" in response.json()["message"]


def test_cli_follow_prints_a_new_event(server: ServerHandle) -> None:
    """``steward audit --follow`` shows the newest event, then one written after it."""
    catalog = unique("c")
    assert server.admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    env = {
        **os.environ,
        "STEWARD_URL": server.url,
        "STEWARD_TOKEN": server.admin_token,
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "steward", "audit", "--object", catalog]
    process = subprocess.Popen(
        [*command, "--follow", "--limit", "1", "--interval", "0.2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in iter(process.stdout.readline, "")],  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()

    def wait_for(action: str) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
                continue
            if action in line:
                return line
        raise AssertionError(f"steward audit --follow printed no {action} in time")

    try:
        assert catalog in wait_for("createCatalog")  # the newest event: following started
        created = server.admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog})
        assert created.status_code == 200, created.text
        assert f"{catalog}.s" in wait_for("createSchema")  # delivered by a follow poll
    finally:
        stop_process(process)
