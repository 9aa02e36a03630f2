"""Statement answers kept for a while, so the caller who ran a statement can read it again
by id (Databricks' ``GET /api/2.0/sql/statements/{id}``, which its SDKs poll).

Steward runs every statement to the end before answering, so what is kept is the final
answer, in Steward's own shape (the route renders it for the asking client). It is kept
in the database, not in the process: with several worker processes or replicas, the
read may reach another one. The answer commits with the statement's audit event, through
the request audit's group commit (see :func:`keep`): statements answered at the same time
share one commit, and each is answered once its own answer and event are durable. Rows
live ``STEWARD_STATEMENT_RESULT_SECONDS``; expired ones are deleted by whichever process
next keeps an answer, at most once a minute per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from catalog.audit.events import AuditEvent
from catalog.audit.group_commit import GroupCommitter
from catalog.audit.riders import Rider, RiderTable
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from catalog.records import now_ms

#: Prune at most this often per process, in seconds.
PRUNE_EVERY_SECONDS = 60.0

_pruned_at = 0.0
_prune_lock = threading.Lock()


#: The kept answers' table: a rider of events (catalog/audit/riders.py), and the group
#: commit's batch insert.
ANSWERS = RiderTable(
    t.StatementResult.__table__, ("statement_id", "principal_id", "created_at", "response")
)


@dataclass(frozen=True)
class KeptAnswer:
    """A statement's answer to keep: a payload of the request audit's group commit,
    written by :func:`write_kept_answers` with the batch's other answers."""

    row: dict[str, object]
    #: An answer kept for the statement before (with its change) is replaced.
    replace: bool = False
    #: Expired answers (created before this, in ms) are deleted in the same commit.
    prune_before: int | None = None


def keep(
    commits: GroupCommitter,
    statement_id: str,
    principal_id: str,
    response: str,
    retention_seconds: float,
    event: AuditEvent | None,
    replace: bool = False,
) -> None:
    """Store ``response`` (JSON) for ``principal_id``, with the request's audit ``event``
    when it is not written yet (None: a transaction of the statement wrote it, or it is
    switched off), in one commit of ``commits`` (the request audit's, whose payloads are
    :class:`KeptAnswer` records); returns once both are durable."""
    answer = _kept(statement_id, principal_id, response, retention_seconds, replace)
    commits.commit_blocking(event, answer)


async def keep_on_loop(
    commits: GroupCommitter,
    alone: Callable[[], bool],
    statement_id: str,
    principal_id: str,
    response: str,
    retention_seconds: float,
    event: AuditEvent | None,
) -> None:
    """:func:`keep` for a statement answered on the event loop: written there when the
    request is ``alone()`` (see :meth:`GroupCommitter.commit_on_loop`), else by the
    writer thread with whatever else is queued. A commit that prunes expired answers (a
    DELETE of up to a minute's statements) is always the writer thread's."""
    answer = _kept(statement_id, principal_id, response, retention_seconds)
    if event is None or answer.prune_before is not None:
        await commits.commit(event, answer)
    else:
        await commits.commit_on_loop(event, alone, answer)


def _kept(
    statement_id: str,
    principal_id: str,
    response: str,
    retention_seconds: float,
    replace: bool = False,
) -> KeptAnswer:
    now = now_ms()
    return KeptAnswer(
        _row(statement_id, principal_id, response, now),
        replace,
        now - int(retention_seconds * 1000) if _prune_due() else None,
    )


def write_kept_answers(connection: Connection, answers: Sequence[KeptAnswer]) -> None:
    """The request audit's payload writer: a batch's answers in one INSERT (one round
    trip on PostgreSQL, where an INSERT per answer took a sixth of the server's CPU for
    SHOW statements from 32 connections), after the answers they replace are deleted."""
    for answer in answers:
        if answer.replace:
            connection.execute(
                delete(t.StatementResult).where(
                    t.StatementResult.statement_id == answer.row["statement_id"]
                )
            )
    ANSWERS.insert(connection, [answer.row for answer in answers])
    prune = [answer.prune_before for answer in answers if answer.prune_before is not None]
    if prune:
        _prune(connection, max(prune))


def answer_rider(statement_id: str, principal_id: str, response: str) -> Rider:
    """``response`` kept as a row that rides a change's audit event (a GRANT's answer
    commits with the grant: see :data:`catalog.sql.executor.ANSWERED_IN_THEIR_CHANGE`)."""
    return ANSWERS.row(_row(statement_id, principal_id, response, now_ms()))


def riders_of(answer: KeptAnswer) -> list[Rider] | None:
    """The request audit's payload riders (:class:`GroupCommitter`'s ``payload_riders``):
    an answer that only inserts its row can ride its event's statement; one that replaces
    an answer or prunes expired ones cannot."""
    if answer.replace or answer.prune_before is not None:
        return None
    return [ANSWERS.row(answer.row)]


def _row(statement_id: str, principal_id: str, response: str, created_at: int) -> dict[str, object]:
    return {
        "statement_id": statement_id,
        "principal_id": principal_id,
        "created_at": created_at,
        "response": response,
    }


def find(
    db: Database, statement_id: str, principal_id: str, retention_seconds: float
) -> str | None:
    """The answer ``principal_id`` got for ``statement_id``, if it is still kept; another
    principal's statement is not found, the same as a missing one."""
    oldest = now_ms() - int(retention_seconds * 1000)
    with db.read() as session:
        return session.scalar(
            select(t.StatementResult.response).where(
                t.StatementResult.statement_id == statement_id,
                t.StatementResult.principal_id == principal_id,
                t.StatementResult.created_at >= oldest,
            )
        )


def _prune_due() -> bool:
    global _pruned_at
    with _prune_lock:
        now = time.monotonic()
        if now - _pruned_at < PRUNE_EVERY_SECONDS:
            return False
        _pruned_at = now
        return True


def _prune(connection: Connection, before_ms: int) -> None:
    connection.execute(delete(t.StatementResult).where(t.StatementResult.created_at < before_ms))
