"""Writes each request's audit event exactly once, in the right transaction.

The HTTP layer opens an :class:`AuditScope` for every request (who, from where,
which action on what). Then:

* a request that changes something gets its event inside the transaction that
  makes the change — :class:`~catalog.persistence.engine.Database` calls
  :meth:`AuditRecorder.before_commit` as the last step of every write transaction,
  so no service has to remember to audit, and a change never lands without its
  event;
* a request that changes nothing — denied, failed, a read, a SQL statement that
  FAILED — gets its event in a transaction of its own, written before the
  response is sent.

Transactions outside a request (start-up, the CLI's database commands) have no
scope and write no event.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from catalog.audit import log as chain
from catalog.audit.events import AuditEvent, ChainedEvent, encode_params
from catalog.audit.riders import Rider
from catalog.logs import get_logger
from catalog.persistence.engine import Database

_log = get_logger("steward.audit")
#: session.info key: the event this transaction wrote, or that it needs none.
_WRITTEN = "audit_event"
#: session.info key: the transaction writes its events itself (the group commit does).
HANDLED = "audit_handled"
_HANDLED = HANDLED


def never_alone() -> bool:
    """An ``alone`` test for a request that must never commit on the event loop."""
    return False


@dataclass
class AuditScope:
    """What one request's event will say; filled in as the request is understood."""

    request_id: str
    source_ip_address: str | None = None
    user_agent: str | None = None
    user_name: str | None = None
    service_name: str = "steward"
    #: Set once the request is routed (or by the SQL executor per statement kind).
    action_name: str | None = None
    object_name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: The status a successful change answers with (201 for creates).
    success_status: int = 200
    #: Whether the request only reads metadata (its event may be switched off).
    metadata_read: bool = False
    #: (status, message) of an outcome that is a failure despite a 200 (a FAILED statement).
    failure: tuple[int, str] | None = None
    written: bool = False
    #: A row to commit with this request's event if a change's transaction writes it (a
    #: GRANT's answer, kept for ``GET /statements/{id}``: no second commit for it; it rides
    #: the event's own statement, :mod:`catalog.audit.riders`), and whether it has
    #: committed.
    with_event: Callable[[], Rider] | None = None
    with_event_committed: bool = False
    #: Whether the request is alone in its process right now (no other between its start
    #: and its event): then it may commit its event on the event loop itself
    #: (:meth:`catalog.audit.group_commit.GroupCommitter.commit_on_loop`).
    alone: Callable[[], bool] = never_alone

    def event(self, status_code: int, error_message: str | None = None) -> AuditEvent:
        return AuditEvent(
            service_name=storable(self.service_name, 64) or "steward",
            action_name=storable(self.action_name or "unknown", 128) or "unknown",
            request_id=storable(self.request_id, 64) or "",
            user_name=storable(self.user_name, 255),
            status_code=status_code,
            request_params=encode_params(self.params),
            object_name=storable(self.object_name, 1024),
            error_message=storable(error_message, 16_384),
            source_ip_address=storable(self.source_ip_address, 64),
            user_agent=storable(self.user_agent, 512),
        )


def storable(value: str | None, limit: int) -> str | None:
    """Text any backend stores: a refused request may carry NUL characters or lone
    surrogates (PostgreSQL rejects both), and must still get its event. They are written
    as escapes, and the text is cut to the column's size."""
    if value is None:
        return None
    cleaned = value.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode()
    return cleaned[:limit]


_current: contextvars.ContextVar[AuditScope | None] = contextvars.ContextVar(
    "steward_audit_scope", default=None
)


def current_scope() -> AuditScope | None:
    return _current.get()


def enter_scope(scope: AuditScope) -> contextvars.Token[AuditScope | None]:
    return _current.set(scope)


def leave_scope(token: contextvars.Token[AuditScope | None]) -> None:
    _current.reset(token)


@contextmanager
def detached() -> Iterator[None]:
    """Work done for a request whose event is written elsewhere (a serving invocation's
    event goes through the group commit, :mod:`catalog.audit.group_commit`): inside, a
    write transaction (creating a table's storage once, say) writes no event of its own."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


class AuditRecorder:
    def __init__(self, db: Database, record_metadata_reads: bool = True) -> None:
        self.db = db
        self.record_metadata_reads = record_metadata_reads
        if db.closing_hook is not None:
            raise RuntimeError("a database's transactions have one closing hook")
        # Last of the hooks before a commit: its statement closes the transaction, and
        # carries the NOTIFY of everything the other hooks published.
        db.closing_hook = self.before_commit
        db.after_commit.append(self.after_commit)

    # -- inside a change's transaction ----------------------------------------------------

    def before_commit(self, session: Session) -> None:
        scope = _current.get()
        if scope is None or scope.written or scope.action_name is None:
            return
        if session.info.get(_HANDLED) or _WRITTEN in session.info:
            return
        if scope.failure is not None:  # a failed statement commits nothing of its own
            return
        riders = (scope.with_event(),) if scope.with_event is not None else ()
        session.info[_WRITTEN] = chain.append(session, scope.event(scope.success_status), riders)

    def after_commit(self, session: Session) -> None:
        chained: ChainedEvent | None = session.info.pop(_WRITTEN, None)
        if chained is None:
            return
        scope = _current.get()
        if scope is not None:
            scope.written = True
            scope.with_event_committed = scope.with_event is not None
        emit(chained)

    # -- on its own ------------------------------------------------------------------------

    def needs_event(self, scope: AuditScope, status: int) -> bool:
        """Whether a request that answers ``status`` still needs its event written."""
        if scope.written:
            return False
        if status >= 400 or scope.failure is not None:
            return True
        if scope.action_name is None:
            return False
        return self.record_metadata_reads or not scope.metadata_read

    @staticmethod
    def closing_event(scope: AuditScope, status: int, message: str | None = None) -> AuditEvent:
        """The event of a request no transaction wrote, as its answer says (or as its
        statement failed), for the group commit to write."""
        if scope.failure is not None:
            status, message = scope.failure
        return scope.event(status, message)


def emit(chained: ChainedEvent) -> None:
    """Each event is also one structlog line (JSON when not on a terminal)."""
    e = chained.event
    _log.info(
        "audit",
        event_id=e.event_id,
        event_time=e.event_time.isoformat(),
        user=e.user_name,
        service_name=e.service_name,
        action_name=e.action_name,
        object=e.object_name,
        status_code=e.status_code,
        error_message=e.error_message,
        audit_request_id=e.request_id,
        source_ip_address=e.source_ip_address,
        lane=chained.lane,
        seq=chained.seq,
        hash=chained.hash,
    )
