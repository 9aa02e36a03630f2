"""An audit event chained and committed by PostgreSQL in one statement
(catalog/audit/log.py ``append_alone``): the hash PostgreSQL computes is the one Python
computes and verification recomputes, whatever the event holds; the chain goes on from it
in either direction; and when the lanes it tries are taken it writes nothing, so the
group commit falls back to its transaction, which waits for a lane."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from catalog.audit import log as chain
from catalog.audit.events import (
    ChainedEvent,
    canonical,
    canonical_around_chain,
    event_hash,
    from_row,
)
from catalog.audit.group_commit import GroupCommitter
from catalog.audit.verify import verify
from catalog.persistence import schema as t
from catalog.runtime import Runtime
from tests.catalog.in_process import an_event

#: Text PostgreSQL stores (no NUL, no lone surrogates: AuditScope.event makes any text so).
STORABLE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


@settings(max_examples=200, deadline=None)
@given(
    user=st.none() | STORABLE,
    params=STORABLE,
    error=st.none() | STORABLE,
    agent=st.none() | STORABLE,
    lane=st.integers(0, 15),
    seq=st.integers(1, 2**62),
    head=st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_the_holes_left_for_the_chain_give_the_canonical_encoding(
    user: str | None,
    params: str,
    error: str | None,
    agent: str | None,
    lane: int,
    seq: int,
    head: str,
) -> None:
    event = an_event(user_name=user, request_params=params, error_message=error, user_agent=agent)
    before_lane, before_prev, before_seq, after_seq = canonical_around_chain(event)
    spliced = before_lane + str(lane) + before_prev + head + before_seq + str(seq) + after_seq
    assert spliced.encode() == canonical(ChainedEvent(event, lane, seq, head))


def _heads(session: Session) -> dict[int, str]:
    return dict(session.execute(select(t.AuditLane.lane, t.AuditLane.head)).tuples().all())


def _postgres_only(runtime: Runtime) -> None:
    if runtime.db.backend != "postgresql":
        pytest.skip("one-statement commits are PostgreSQL's")


TRICKY = [
    an_event(),
    an_event(user_name="zoë@example.com", object_name="main.ventes.commandes_été"),
    an_event(request_params='{"q":"a \\"quoted\\" \\\\ back\\nslash"}', user_agent="x'); --"),
    an_event(error_message="line one\nline two\ttab \u2028 sep 🚀", status_code=403),
    an_event(request_params="{" + '"k":"' + "é" * 5000 + '"}', source_ip_address="::1"),
    an_event(user_name=None, object_name=None, error_message=None, user_agent=None),
    an_event(event_time=datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
]


def test_postgresql_hashes_an_event_as_python_does_and_the_log_verifies(runtime: Runtime) -> None:
    _postgres_only(runtime)
    written = []
    for event in TRICKY:
        with runtime.db.single_statement() as connection:
            chained = chain.append_alone(connection, event)
        assert chained is not None
        assert chained.hash == event_hash(chained), event
        written.append(chained)
    with runtime.db.read() as session:
        rows = {
            row.event_id: row
            for row in session.execute(
                select(t.AuditEvent).where(
                    t.AuditEvent.event_id.in_([c.event.event_id for c in written])
                )
            ).scalars()
        }
        heads = _heads(session)
        report = verify(session)
    assert report.ok, report
    for chained in written:
        stored = from_row(rows[chained.event.event_id])
        assert (stored.lane, stored.seq, stored.prev_hash, stored.hash) == (
            chained.lane,
            chained.seq,
            chained.prev_hash,
            chained.hash,
        )
        assert event_hash(stored) == stored.hash
    last_by_lane = {c.lane: c.hash for c in written}
    for lane, head in last_by_lane.items():
        assert heads[lane] == head


def test_the_chain_goes_on_across_both_ways_of_appending(runtime: Runtime) -> None:
    _postgres_only(runtime)
    for i in range(40):
        if i % 3:
            with runtime.db.single_statement() as connection:
                assert chain.append_alone(connection, an_event(request_id=f"mix-{i}"))
        else:
            with runtime.db.core_transaction() as connection:
                chain.append_many(connection, [an_event(request_id=f"mix-{i}")])
    with runtime.db.read() as session:
        report = verify(session)
        seqs = session.execute(
            text("SELECT lane, count(*), max(seq) FROM audit_events GROUP BY lane")
        )
        assert all(count == top for _lane, count, top in seqs)
    assert report.ok, report


def test_with_every_lane_taken_nothing_is_written_and_the_group_commit_waits_for_one(
    runtime: Runtime,
) -> None:
    _postgres_only(runtime)
    holder = runtime.db.engine.connect()
    holder.execute(text("SELECT lane FROM audit_lanes FOR UPDATE"))
    try:
        with runtime.db.single_statement() as connection:
            assert chain.append_alone(connection, an_event(request_id="taken")) is None
        committer = GroupCommitter(runtime.db, name="test-lanes-taken")
        outcome: list[ChainedEvent | None] = []
        waiting = threading.Thread(
            target=lambda: outcome.append(committer.commit_blocking(an_event(request_id="late")))
        )
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive() and not outcome  # queued behind a lane, not lost
    finally:
        holder.rollback()
        holder.close()
    waiting.join(10)
    committer.stop()
    assert outcome and outcome[0] is not None and outcome[0].event.request_id == "late"
    with runtime.db.read() as session:
        ids = list(session.execute(select(t.AuditEvent.request_id)).scalars())
        report = verify(session)
    assert "taken" not in ids and ids.count("late") == 1
    assert report.ok, report


def test_inside_a_transaction_the_lane_stays_taken_until_it_ends_and_a_rollback_leaves_none(
    runtime: Runtime,
) -> None:
    _postgres_only(runtime)
    with runtime.db.read() as session:
        heads_before = _heads(session)
    for outcome in ("rollback", "commit"):
        connection = runtime.db.engine.connect()
        connection.begin()
        [chained] = chain.append_many(connection, [an_event(request_id=f"in-tx-{outcome}")])
        with runtime.db.engine.connect() as other:
            taken = other.execute(
                text("SELECT lane FROM audit_lanes WHERE lane = :lane FOR UPDATE SKIP LOCKED"),
                {"lane": chained.lane},
            ).all()
            other.rollback()
        assert taken == []  # held by the appending transaction
        getattr(connection, outcome)()
        connection.close()
    with runtime.db.read() as session:
        ids = list(session.execute(select(t.AuditEvent.request_id)).scalars())
        heads = _heads(session)
        report = verify(session)
    assert "in-tx-rollback" not in ids and ids.count("in-tx-commit") == 1
    assert sum(heads[lane] != heads_before[lane] for lane in heads) == 1
    assert report.ok, report
