"""Rows that ride with an audit event (catalog/audit/riders.py): a statement's kept answer
is written with its event — on PostgreSQL by the event's own statement — and only when
the event is: never without it, never twice, never lost when the event takes the long way
(every lane tried taken), and a rider that cannot be written does not cost the event."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from catalog.audit import log as chain
from catalog.audit.events import ChainedEvent
from catalog.audit.group_commit import GroupCommitter
from catalog.audit.verify import verify
from catalog.persistence import schema as t
from catalog.records import now_ms
from catalog.runtime import Runtime
from catalog.sql import statement_results
from catalog.sql.statement_results import KeptAnswer
from tests.catalog.in_process import an_event


def _principal(runtime: Runtime) -> str:
    with runtime.db.read() as session:
        found = session.execute(select(t.Principal.id).limit(1)).scalar_one()
    return str(found)


def _answer(runtime: Runtime, statement_id: str, response: str = '{"ok":1}') -> KeptAnswer:
    row = {
        "statement_id": statement_id,
        "principal_id": _principal(runtime),
        "created_at": now_ms(),
        "response": response,
    }
    return KeptAnswer(row)


def _written(runtime: Runtime, statement_id: str) -> tuple[list[str], list[str]]:
    """The kept answers of ``statement_id`` and the request ids of its events."""
    with runtime.db.read() as session:
        answers = list(
            session.execute(
                select(t.StatementResult.response).where(
                    t.StatementResult.statement_id == statement_id
                )
            ).scalars()
        )
        events = list(
            session.execute(
                select(t.AuditEvent.request_id).where(t.AuditEvent.request_id == statement_id)
            ).scalars()
        )
        report = verify(session)
    assert report.ok, report
    return answers, events


def _request_audit_commits(runtime: Runtime, name: str) -> GroupCommitter:
    """The request audit's group commit, as the app builds it (steward/app.py)."""
    return GroupCommitter(
        runtime.db,
        write_payloads=statement_results.write_kept_answers,
        name=name,
        on_connection=True,
        payload_riders=statement_results.riders_of,
    )


def _postgres_only(runtime: Runtime) -> None:
    if runtime.db.backend != "postgresql":
        pytest.skip("one-statement commits are PostgreSQL's")


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_a_rider_commits_with_its_event_or_not_at_all(runtime: Runtime, outcome: str) -> None:
    statement_id = f"in-tx-{outcome}"
    rider = statement_results.riders_of(_answer(runtime, statement_id))
    assert rider is not None
    connection = runtime.db.engine.connect()
    connection.begin()
    chain.append_many(connection, [an_event(request_id=statement_id)], rider)
    getattr(connection, outcome)()
    connection.close()
    answers, events = _written(runtime, statement_id)
    expected = 1 if outcome == "commit" else 0
    assert (len(answers), len(events)) == (expected, expected)


def test_no_rider_without_an_event(runtime: Runtime) -> None:
    rider = statement_results.riders_of(_answer(runtime, "alone"))
    assert rider is not None
    with runtime.db.core_transaction() as connection, pytest.raises(ValueError):
        chain.append_many(connection, [], rider)


def test_on_postgresql_the_events_statement_writes_its_rider_only_when_it_writes_the_event(
    runtime: Runtime,
) -> None:
    _postgres_only(runtime)
    riders = statement_results.riders_of(_answer(runtime, "free-lane"))
    assert riders is not None
    with runtime.db.single_statement() as connection:
        chained = chain.append_alone(connection, an_event(request_id="free-lane"), riders=riders)
    assert chained is not None
    assert _written(runtime, "free-lane") == (['{"ok":1}'], ["free-lane"])
    with runtime.db.read() as session:  # one statement: one transaction wrote both
        xmins = session.execute(
            text(
                "SELECT (SELECT xmin::text FROM statement_results WHERE statement_id = :id),"
                " (SELECT xmin::text FROM audit_events WHERE request_id = :id)"
            ),
            {"id": "free-lane"},
        ).one()
    assert xmins[0] == xmins[1]

    holder = runtime.db.engine.connect()
    holder.execute(text("SELECT lane FROM audit_lanes FOR UPDATE"))
    try:
        taken = statement_results.riders_of(_answer(runtime, "lanes-taken"))
        assert taken is not None
        with runtime.db.single_statement() as connection:
            assert (
                chain.append_alone(connection, an_event(request_id="lanes-taken"), riders=taken)
                is None
            )
        assert _written(runtime, "lanes-taken") == ([], [])  # no event, no row
    finally:
        holder.rollback()
        holder.close()


def test_a_lone_kept_answer_taking_the_long_way_is_written_once(runtime: Runtime) -> None:
    """The group commit of the request audit, as the app builds it: alone, an answer rides
    its event's statement; with every lane taken it waits in the transaction and is
    written once, with its event, when a lane frees."""
    committer = _request_audit_commits(runtime, "test-riders")
    try:
        first = committer.commit_blocking(an_event(request_id="quick"), _answer(runtime, "quick"))
        assert first is not None
        assert _written(runtime, "quick") == (['{"ok":1}'], ["quick"])
        if runtime.db.backend != "postgresql":
            return  # one writer at a time: no lane is ever taken by another
        holder = runtime.db.engine.connect()
        holder.execute(text("SELECT lane FROM audit_lanes FOR UPDATE"))
        outcome: list[ChainedEvent | None] = []
        waiting = threading.Thread(
            target=lambda: outcome.append(
                committer.commit_blocking(an_event(request_id="slow"), _answer(runtime, "slow"))
            )
        )
        try:
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive() and not outcome  # queued behind a lane, not lost
            assert _written(runtime, "slow") == ([], [])
        finally:
            holder.rollback()
            holder.close()
        waiting.join(10)
        assert outcome and outcome[0] is not None
        assert _written(runtime, "slow") == (['{"ok":1}'], ["slow"])
    finally:
        committer.stop()


def test_a_rider_that_cannot_be_written_does_not_cost_its_event(runtime: Runtime) -> None:
    """A second answer under a kept statement id breaks the key: the event's statement
    fails as a whole, and the group commit writes the event alone (the payload is lost,
    as any payload that no longer fits), once."""
    committer = _request_audit_commits(runtime, "test-riders-fail")
    try:
        committer.commit_blocking(an_event(request_id="dup"), _answer(runtime, "dup", '"first"'))
        again = committer.commit_blocking(
            an_event(request_id="dup"), _answer(runtime, "dup", '"second"')
        )
        assert again is not None
    finally:
        committer.stop()
    assert _written(runtime, "dup") == (['"first"'], ["dup", "dup"])


def test_an_answer_that_replaces_or_prunes_does_not_ride(runtime: Runtime) -> None:
    answer = _answer(runtime, "x")
    assert statement_results.riders_of(answer) is not None
    assert statement_results.riders_of(KeptAnswer(answer.row, replace=True)) is None
    assert statement_results.riders_of(KeptAnswer(answer.row, prune_before=1)) is None
