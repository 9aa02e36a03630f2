"""The audit group commit (catalog/audit/group_commit.py), in-process on both backends:
requests waiting on worker threads and on the event loop at once each get their event
written exactly once, in batches, the chains verify, and a payload that fails costs only
itself."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from catalog.audit.events import AuditEvent
from catalog.audit.group_commit import GroupCommitter
from catalog.audit.verify import verify
from catalog.http.app import build_app
from catalog.persistence import schema as t
from catalog.runtime import Runtime
from steward.app import REGISTRY_ROUTERS
from tests.catalog.in_process import an_event


def run_payloads(target: Session | Connection, payloads: Sequence[Callable[[Any], None]]) -> None:
    """A payload writer whose payloads are writes to run as given (each a function of the
    batch's session or connection)."""
    for payload in payloads:
        payload(target)


def event(request_id: str) -> AuditEvent:
    return an_event(request_id=request_id)


def stored(runtime: Runtime, prefix: str) -> list[str]:
    with runtime.db.read() as session:
        rows = session.execute(
            select(t.AuditEvent.request_id).where(t.AuditEvent.request_id.like(f"{prefix}%"))
        )
        return sorted(r[0] for r in rows)


def test_threads_and_the_event_loop_share_batches_exactly_once(runtime: Runtime) -> None:
    committer = GroupCommitter(runtime.db, name="test-group-commit")
    threads, per_thread = 8, 40
    chained: list[Any] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(per_thread):
            result = committer.commit_blocking(event(f"gc-t{k}-{i}"))
            with lock:
                chained.append(result)

    async def from_the_loop() -> list[Any]:
        return list(
            await asyncio.gather(*(committer.commit(event(f"gc-a-{i}")) for i in range(60)))
        )

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    chained.extend(asyncio.run(from_the_loop()))
    for thread in pool:
        thread.join()
    committer.stop()

    total = threads * per_thread + 60
    ids = stored(runtime, "gc-")
    assert len(ids) == total and len(set(ids)) == total
    assert sorted(c.event.request_id for c in chained) == ids
    assert len({(c.lane, c.seq) for c in chained}) == total
    assert committer.events == total and committer.batches <= total
    with runtime.db.read() as session:
        report = verify(session)
    assert report.ok, report


def test_a_failing_payload_loses_only_itself(runtime: Runtime) -> None:
    written: list[Any] = []

    def write_payloads(_session: Session, payloads: Sequence[Any]) -> None:
        if "bad" in payloads:
            raise ValueError("this payload does not fit")
        written.extend(payloads)

    committer = GroupCommitter(runtime.db, write_payloads, name="test-group-commit-payloads")
    results: dict[str, Any] = {}

    def worker(name: str, payload: str) -> None:
        results[name] = committer.commit_blocking(event(f"gp-{name}"), payload)

    pool = [
        threading.Thread(target=worker, args=(f"n{i}", "bad" if i == 3 else f"p{i}"))
        for i in range(8)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    committer.stop()
    assert stored(runtime, "gp-") == sorted(f"gp-n{i}" for i in range(8))
    assert sorted(written) == sorted(f"p{i}" for i in range(8) if i != 3)
    with runtime.db.read() as session:
        count = session.execute(
            select(func.count())
            .select_from(t.AuditEvent)
            .where(t.AuditEvent.request_id.like("gp-%"))
        ).scalar_one()
        assert count == 8
        assert verify(session).ok


def test_a_lone_request_commits_itself_and_never_waits_for_another_writer(
    runtime: Runtime,
) -> None:
    release = threading.Event()
    writing = threading.Event()

    def slow_payloads(_session: Session, _payloads: Sequence[Any]) -> None:
        writing.set()
        assert release.wait(10)

    committer = GroupCommitter(runtime.db, write_payloads=slow_payloads, name="test-gc-idle")
    try:
        alone = committer.commit_if_idle(event("gc-idle-alone"))
        assert alone is not None and alone.event.request_id == "gc-idle-alone"
        assert stored(runtime, "gc-idle-alone") == ["gc-idle-alone"]  # durable on return
        # While another batch is being written it writes nothing and does not wait.
        busy = threading.Thread(target=committer.commit_blocking, args=(event("gc-idle-b"), 1))
        busy.start()
        assert writing.wait(10)
        assert committer.commit_if_idle(event("gc-idle-skipped")) is None
        release.set()
        busy.join(10)
        assert stored(runtime, "gc-idle-skipped") == []
        assert stored(runtime, "gc-idle-b") == ["gc-idle-b"]
    finally:
        release.set()
        committer.stop()
    with runtime.db.read() as session:
        assert verify(session).ok


@pytest.mark.parametrize("on_connection", [False, True], ids=["session", "connection"])
def test_payloads_without_events_commit_in_the_batches_of_others(
    runtime: Runtime, on_connection: bool
) -> None:
    """A payload alone (a statement's kept answer whose event its own transaction wrote)
    commits with the batch; items with events keep theirs, in order, and chain. Payloads
    are written on the batch's session, or on its bare connection (the request audit's
    committer: kept statement answers)."""
    committer = GroupCommitter(
        runtime.db,
        write_payloads=run_payloads,
        name="test-gc-payloads",
        on_connection=on_connection,
    )
    kept: list[str] = []

    def remember(name: str) -> Callable[[Session | Connection], None]:
        def write(target: Session | Connection) -> None:
            assert isinstance(target, Connection) is on_connection
            target.execute(select(func.count()).select_from(t.AuditEvent))  # in the batch
            kept.append(name)

        return write

    outcomes: list[Any] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(10):
            with_event = (k + i) % 2 == 0
            result = committer.commit_blocking(
                event(f"gcp-{k}-{i}") if with_event else None, remember(f"{k}-{i}")
            )
            with lock:
                outcomes.append((with_event, result))

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    committer.stop()
    assert sorted(kept) == sorted(f"{k}-{i}" for k in range(4) for i in range(10))
    assert all((result is not None) == with_event for with_event, result in outcomes)
    assert len(stored(runtime, "gcp-")) == 20
    with runtime.db.read() as session:
        assert verify(session).ok


API = "/api/2.1/unity-catalog"
TABLE = {
    "name": "t",
    "catalog_name": "gc",
    "schema_name": "s",
    "table_type": "MANAGED",
    "data_source_format": "DELTA",
    "columns": [{"name": "id", "type_name": "LONG", "type_text": "bigint", "position": 0}],
}


def test_concurrent_requests_share_commits_and_a_lone_one_commits_alone(runtime: Runtime) -> None:
    """Over the app: requests arriving together are each alone for an instant (the event
    loop runs one at a time up to its commit); they must still go to the writer thread
    instead of each writing its own commit on the loop, one after another (an fsync each,
    holding up all the others). A lone request writes its own."""
    app = build_app(runtime, REGISTRY_ROUTERS)
    commits = runtime.audit_commits
    headers = {"Authorization": "Bearer dapi-admin"}

    async def load() -> tuple[tuple[int, int], tuple[int, int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as http:
            for path, body in (
                (f"{API}/catalogs", {"name": "gc"}),
                (f"{API}/schemas", {"name": "s", "catalog_name": "gc"}),
                (f"{API}/tables", TABLE),
            ):
                created = await http.post(path, json=body)
                assert created.status_code == 200, created.text
            # GET table: once cached, answered on the loop with no await before its commit.
            path = f"{API}/tables/gc.s.t"
            assert (await http.get(path)).status_code == 200
            before = commits.written_in_place, commits.events
            await http.get(path)
            lone = commits.written_in_place - before[0], commits.events - before[1]
            before = commits.written_in_place, commits.events
            answers = await asyncio.gather(*(http.get(path) for _ in range(32)))
            assert all(a.status_code == 200 for a in answers)
            return lone, (commits.written_in_place - before[0], commits.events - before[1])

    (lone_in_place, lone_events), (in_place, events) = asyncio.run(load())
    assert (lone_in_place, lone_events) == (1, 1)
    assert events == 32
    assert in_place <= 1, f"{in_place} of 32 concurrent reads committed on the event loop"
    with runtime.db.read() as session:
        assert verify(session).ok
