"""Data versions assumed from the row cache and confirmed by the commit
(catalog/data/assumed_versions.py), in process on both backends: a lookup assumes only
what the cache holds for every key; the group commit writes an item only while what it
assumed holds — in a batch, alone, and in PostgreSQL's one statement — and otherwise
writes nothing of it and says so."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.orm import Session

from catalog.audit import log as chain
from catalog.audit.events import ChainedEvent
from catalog.audit.group_commit import GroupCommitter
from catalog.audit.verify import verify
from catalog.data.assumed_versions import AssumedVersions, StaleAssumption, stale
from catalog.data.physical import bump_data_version
from catalog.runtime import Runtime
from tests.catalog.in_process import keyed_table
from tests.catalog.test_group_commit import event, stored


def table_id(rt: Runtime, full_name: str) -> str:
    return rt.namespace.get_table(full_name).securable.id


def bump(rt: Runtime, table: str) -> None:
    with rt.db.transaction() as session:
        bump_data_version(session, table)


def assuming(*versions: tuple[str, int]) -> AssumedVersions:
    assumed = AssumedVersions()
    for table, version in versions:
        assert assumed.assume(table, version)
    return assumed


def test_one_table_is_assumed_at_one_version() -> None:
    assumed = AssumedVersions()
    assert not assumed and assumed.params() == {}
    assert assumed.assume("t", 1) and assumed.assume("t", 1)
    assert not assumed.assume("t", 2)  # the caller reads the table instead
    assert assumed.assume("u", 0)
    assert assumed.versions == {"t": 1, "u": 0} and len(assumed) == 2
    assert assumed.params() == {
        "assumed_table0": "t",
        "assumed_version0": 1,
        "assumed_table1": "u",
        "assumed_version1": 0,
    }


def test_stale_reads_every_assumption_at_once(runtime: Runtime) -> None:
    """A table never written is at version 0; more tables than one read takes are read
    in several; nothing assumed is never stale."""
    a = table_id(runtime, keyed_table(runtime, "a"))
    b = table_id(runtime, keyed_table(runtime, "b"))
    bump(runtime, a)
    many_unwritten = [(f"no-such-table-{i}", 0) for i in range(11)]
    cases: list[tuple[AssumedVersions | None, bool]] = [
        (assuming((a, 1)), False),
        (assuming((b, 0)), False),
        (assuming((a, 0)), True),
        (assuming((a, 1), (b, 1)), True),
        (assuming((a, 1), (b, 0)), False),
        (assuming(*many_unwritten), False),
        (assuming(*many_unwritten, (a, 2)), True),
        (None, False),
        (AssumedVersions(), False),
    ]
    with runtime.db.core_transaction() as connection:
        assert stale(connection, [c for c, _ in cases]) == [s for _, s in cases]
        assert stale(connection, [None, None]) == [False, False]


def test_a_lookup_assumes_only_what_the_cache_holds_for_every_key(runtime: Runtime) -> None:
    """The first lookup reads (and caches); the next assumes the version it cached at and
    answers the same rows; a key the cache lacks is read, assuming nothing; after a
    write the assumed version is stale, and a lookup that reads sees the write."""
    full_name = keyed_table(runtime, "f")
    data = runtime.data
    data.write(full_name, [{"id": 1, "a": 1.0}, {"id": 2, "a": 2.0}])
    layout = data.layout(full_name)
    read = data.latest_by_key(layout, [[1, 2]])
    first = AssumedVersions()
    assert data.latest_by_key(layout, [[1, 2]], None, first) == read
    assert first.versions == {layout.record.securable.id: 1}
    unknown = AssumedVersions()
    found = data.latest_by_key(layout, [[1, 3]], None, unknown)
    assert found[0] == read[0] and found[1] is None and not unknown
    data.write(full_name, [{"id": 1, "a": 10.0}])
    with runtime.db.core_transaction() as connection:
        assert stale(connection, [first]) == [True]
    again = AssumedVersions()
    before = data.latest_by_key(layout, [[1]], None, again)  # still the cached version
    assert before == [read[0]] and again.versions == first.versions
    fresh = data.latest_by_key(layout, [[1]])
    assert fresh[0] is not None and fresh[0][1] == 10.0
    now = AssumedVersions()
    assert data.latest_by_key(layout, [[1]], None, now) == fresh
    assert now.versions == {layout.record.securable.id: 2}


def test_a_batch_writes_only_the_items_whose_versions_hold(runtime: Runtime) -> None:
    """Items queued behind a busy writer commit together: the one whose version changed
    gets StaleAssumption and neither its event nor its payload is written; the others,
    assuming or not, are written and chain."""
    table = table_id(runtime, keyed_table(runtime, "g"))
    bump(runtime, table)
    release, writing = threading.Event(), threading.Event()
    payloads: list[Any] = []

    def write_payloads(_session: Session, batch: Sequence[Any]) -> None:
        if "block" in batch:
            writing.set()
            assert release.wait(10)
        payloads.extend(batch)

    committer = GroupCommitter(runtime.db, write_payloads=write_payloads, name="test-assumed")
    outcomes: dict[str, tuple[ChainedEvent | None, BaseException | None]] = {}
    done = threading.Event()

    def settle(key: str) -> Any:
        def record(chained: ChainedEvent | None, error: BaseException | None) -> None:
            outcomes[key] = (chained, error)
            if len(outcomes) == 3:
                done.set()

        return record

    try:
        busy = threading.Thread(target=committer.commit_blocking, args=(event("as-block"), "block"))
        busy.start()
        assert writing.wait(10)
        committer.submit(event("as-holds"), "p-holds", settle("holds"), None, assuming((table, 1)))
        committer.submit(event("as-stale"), "p-stale", settle("stale"), None, assuming((table, 0)))
        committer.submit(event("as-plain"), "p-plain", settle("plain"), None)
        release.set()
        busy.join(10)
        assert done.wait(10)
    finally:
        release.set()
        committer.stop()
    assert outcomes["holds"][1] is None and outcomes["plain"][1] is None
    assert outcomes["stale"][0] is None and isinstance(outcomes["stale"][1], StaleAssumption)
    assert stored(runtime, "as-") == ["as-block", "as-holds", "as-plain"]
    assert sorted(payloads) == ["block", "p-holds", "p-plain"]
    with runtime.db.read() as session:
        assert verify(session).ok


def test_a_lone_commit_checks_what_it_assumed(runtime: Runtime) -> None:
    """Written in place (on PostgreSQL by the one statement), on the loop and by the
    writer thread: an assumption that holds commits, a stale one raises and writes
    nothing."""
    table = table_id(runtime, keyed_table(runtime, "h"))
    bump(runtime, table)
    committer = GroupCommitter(runtime.db, name="test-assumed-alone")
    try:
        written = committer.commit_if_idle(event("al-holds"), None, assuming((table, 1)))
        assert written is not None and written.event.request_id == "al-holds"
        with pytest.raises(StaleAssumption):
            committer.commit_if_idle(event("al-stale"), None, assuming((table, 0)))

        async def on_the_loop() -> None:
            alone = await committer.commit_on_loop(
                event("al-loop"), lambda: True, None, assuming((table, 1))
            )
            assert alone is not None
            with pytest.raises(StaleAssumption):
                await committer.commit_on_loop(
                    event("al-loop-stale"), lambda: True, None, assuming((table, 2))
                )
            queued = await committer.commit(event("al-queued"), None, assuming((table, 1)))
            assert queued is not None
            with pytest.raises(StaleAssumption):
                await committer.commit(event("al-queued-stale"), None, assuming((table, 0)))

        asyncio.run(on_the_loop())
    finally:
        committer.stop()
    assert stored(runtime, "al-") == ["al-holds", "al-loop", "al-queued"]
    with runtime.db.read() as session:
        assert verify(session).ok


def test_postgresql_one_statement_writes_only_while_versions_hold(runtime: Runtime) -> None:
    if runtime.db.backend != "postgresql":
        pytest.skip("one-statement commits are PostgreSQL's")
    a = table_id(runtime, keyed_table(runtime, "p"))
    b = table_id(runtime, keyed_table(runtime, "q"))
    bump(runtime, a)
    with runtime.db.single_statement() as connection:
        assert chain.append_alone(connection, event("ps-stale"), assuming((a, 1), (b, 1))) is None
        assert chain.append_alone(connection, event("ps-old"), assuming((a, 0))) is None
        holds = chain.append_alone(connection, event("ps-holds"), assuming((a, 1), (b, 0)))
        assert holds is not None
    assert stored(runtime, "ps-") == ["ps-holds"]
    with runtime.db.read() as session:
        assert verify(session).ok
