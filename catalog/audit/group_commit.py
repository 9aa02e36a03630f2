"""Group commit: many requests' audit events made durable by one transaction.

A serving invocation must not be answered before its audit event is durable (docs/audit.md),
and an invocation changes nothing else in the catalog, so it has no transaction of its
own to carry the event. Writing one transaction per invocation would put a commit (an
fsync on SQLite, a round trip and a WAL flush on PostgreSQL) on every request's path.

Instead each request hands its event — and optionally a *payload* that must commit with
it, such as its row of an endpoint's inference table — to :class:`GroupCommitter` and
waits. One writer at a time takes everything queued, writes it in one transaction (the
payloads through ``write_payloads``, then every event chained onto one audit lane with
:func:`catalog.audit.log.append_many`), commits, and only then releases the waiting
requests. Under load a batch holds whatever arrived during the previous commit, so the
commit cost is shared instead of skipped; with one request in flight a batch is that
request alone.

One batch is written at a time, by whoever is free first: a request waiting on a worker
thread (:meth:`GroupCommitter.commit_blocking`) that finds no commit in progress writes
the batch itself, which spares it two thread switches, and so may a request alone on an
event loop (:meth:`GroupCommitter.commit_on_loop`); what is queued while a commit is
in progress goes to the writer thread when it ends, as do the events of requests waiting
on the event loop (:meth:`GroupCommitter.commit`). Each waiting request is woken alone,
when its own event is durable; the requests of one batch waiting on an event loop are
woken with a single wake-up of that loop.

An item may carry data versions it assumed instead of reading them
(:mod:`catalog.data.assumed_versions`): the transaction checks them before writing, and
an item whose versions no longer hold is left out of it, its waiter told
:class:`~catalog.data.assumed_versions.StaleAssumption`.

An item may also be a payload alone, with no event (a request whose event an earlier
transaction of its own already wrote, or one whose event is switched off): it commits with
the batch all the same.

If a batch fails (a payload that no longer fits its table, say), its items are retried
one by one, each in a transaction of its own; an item whose payload still fails gets its
event written alone (the payload is logged as lost) — an event is never dropped to save a
payload. A waiter whose event could not be written at all gets the exception.

The transactions are marked :data:`catalog.audit.recorder.HANDLED`, so the recorder's
per-transaction hook writes nothing more; the caller marks its request's scope
``written`` so the HTTP middleware does not write a second event.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from catalog.audit import log as chain
from catalog.audit.events import AuditEvent, ChainedEvent
from catalog.audit.recorder import HANDLED, emit
from catalog.audit.riders import Rider
from catalog.data.assumed_versions import AssumedVersions, StaleAssumption, stale
from catalog.logs import get_logger
from catalog.persistence.engine import Database

_log = get_logger("steward.audit")
#: Writes the payloads of one batch inside its transaction (grouped as it likes), on its
#: session …
PayloadWriter = Callable[[Session, Sequence[Any]], None]
#: … or on its bare connection (``GroupCommitter(on_connection=True)``): no session, no
#: commit hooks, for payloads that are plain statements.
ConnectionPayloadWriter = Callable[[Connection, Sequence[Any]], None]


Done = Callable[[ChainedEvent | None, BaseException | None], None]


@dataclass
class _Pending:
    event: AuditEvent | None
    payload: Any
    done: Done
    #: The event loop ``done`` must run on (requests waiting in :meth:`GroupCommitter.commit`);
    #: None: ``done`` may run on the writing thread.
    loop: asyncio.AbstractEventLoop | None = None
    #: Data versions the item's answer assumed, checked when it commits.
    assumed: AssumedVersions | None = None


#: Per item of a written batch: its chained event, None (no event), or why nothing of it
#: was written.
Written = ChainedEvent | StaleAssumption | None


class GroupCommitter:
    """One writer thread committing queued events (and payloads) in batches."""

    def __init__(
        self,
        db: Database,
        write_payloads: PayloadWriter | ConnectionPayloadWriter | None = None,
        max_batch: int = 1000,
        name: str = "steward-audit-group-commit",
        *,
        on_connection: bool = False,
        payload_riders: Callable[[Any], Sequence[Rider] | None] | None = None,
    ) -> None:
        """``on_connection``: ``write_payloads`` is a :data:`ConnectionPayloadWriter`, and a
        batch with payloads is written on a bare connection (the session's bookkeeping
        cost more than a kept statement answer's one INSERT). ``payload_riders``: a
        payload as rows that may ride its event's statement (:mod:`catalog.audit.riders`),
        or None where it must be written by ``write_payloads``; on PostgreSQL a request
        committing alone is then one statement instead of a transaction of four round
        trips."""
        self.db = db
        self.write_payloads = write_payloads
        self.on_connection = on_connection
        self.payload_riders = payload_riders
        self.max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        #: Whether a batch is being written (by the writer thread or a waiting request).
        self._writing = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        #: Batches and events written, and batches a lone request wrote in place
        #: (:meth:`commit_if_idle`): for tests and rough measurements.
        self.batches = 0
        self.events = 0
        self.written_in_place = 0

    # -- producers ----------------------------------------------------------------------

    def submit(
        self,
        event: AuditEvent | None,
        payload: Any,
        done: Done,
        loop: asyncio.AbstractEventLoop | None = None,
        assumed: AssumedVersions | None = None,
    ) -> None:
        with self._cond:
            if self._stopping:
                raise RuntimeError("the audit group commit is stopped")
            self._queue.append(_Pending(event, payload, done, loop, assumed))
            if not self._writing:
                self._cond.notify_all()  # the writer thread; a writer at work looks again

    async def commit(
        self,
        event: AuditEvent | None,
        payload: Any = None,
        assumed: AssumedVersions | None = None,
    ) -> ChainedEvent | None:
        """Queue ``event`` (and ``payload``) and return once both are durable; ``event``
        may be None when only ``payload`` is to be written. Raises
        :class:`~catalog.data.assumed_versions.StaleAssumption`, having written nothing,
        when a version in ``assumed`` no longer holds."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ChainedEvent | None] = loop.create_future()

        def settle(chained: ChainedEvent | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(chained)

        self.submit(event, payload, settle, loop, assumed)
        return await future

    def commit_blocking(self, event: AuditEvent | None, payload: Any = None) -> ChainedEvent | None:
        """:meth:`commit` for a caller on a worker thread, which may write the batch itself;
        ``event`` may be None when only ``payload`` is to be written."""
        finished = threading.Event()
        outcome: list[Any] = [None, None]

        def done(chained: ChainedEvent | None, error: BaseException | None) -> None:
            outcome[0], outcome[1] = chained, error
            finished.set()

        with self._cond:
            if self._stopping:
                raise RuntimeError("the audit group commit is stopped")
            self._queue.append(_Pending(event, payload, done))
            batch = self._take() if not self._writing else None
        if batch is not None:  # no commit in progress: this thread writes
            self._write_taken(batch)
        finished.wait()  # woken alone, by whoever writes this item's batch
        if outcome[1] is not None:
            raise outcome[1]
        return outcome[0]

    def commit_if_idle(
        self,
        event: AuditEvent,
        payload: Any = None,
        assumed: AssumedVersions | None = None,
    ) -> ChainedEvent | None:
        """Write ``event`` (and ``payload``) right here and return it, if no commit is
        queued or in progress; None: nothing was written, wait with :meth:`commit`.

        For a request that is alone (nothing in flight to share a commit with): it spares
        the hand-off to the writer thread and back, two thread wake-ups that cost a lone
        request more than the commit itself. It never waits for another writer."""
        outcome: list[Any] = []
        with self._cond:
            if self._stopping or self._writing or self._queue:
                return None
            item = _Pending(event, payload, lambda *done: outcome.extend(done), assumed=assumed)
            self._queue.append(item)
            batch = self._take()
        self._write_taken(batch)
        self.written_in_place += 1
        chained, error = outcome
        if error is not None:
            raise error
        return chained

    async def commit_on_loop(
        self,
        event: AuditEvent,
        alone: Callable[[], bool],
        payload: Any = None,
        assumed: AssumedVersions | None = None,
    ) -> ChainedEvent | None:
        """:meth:`commit` for a request on an event loop that writes its own commit there
        when it is ``alone()`` (no other request of the process between its start and its
        event) and nothing is being written: see :meth:`commit_if_idle`.

        Alone is asked twice, around one turn of the loop: requests that arrived together
        are each alone for an instant, since the loop runs one at a time up to its first
        wait, and an fsync on the loop would hold every one of them up in turn. The turn
        lets those already queued reach this point first; then they share commits on the
        writer thread, whose fsync no longer stops the loop."""
        if alone():
            await asyncio.sleep(0)
            if alone():
                chained = self.commit_if_idle(event, payload, assumed)
                if chained is not None:
                    return chained
        return await self.commit(event, payload, assumed)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- the writer ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while (self._writing or not self._queue) and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    while self._writing:
                        self._cond.wait()
                    if not self._queue:
                        return
                batch = self._take()
            self._write_taken(batch)

    def _take(self) -> list[_Pending]:
        """The next batch; the caller holds the lock and becomes the writer."""
        self._writing = True
        return [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]

    def _write_taken(self, batch: list[_Pending]) -> None:
        """Write a batch this thread took with :meth:`_take`, then give up being the writer."""
        try:
            self._write(batch)
        finally:
            with self._cond:
                self._done_writing()

    def _done_writing(self) -> None:
        """The caller holds the lock. What was queued meanwhile goes to the writer thread,
        the only one waiting on the condition (waiting requests each wait on their own
        event, so a commit wakes just the requests it wrote)."""
        self._writing = False
        if self._queue or self._stopping:
            self._cond.notify_all()

    def _write(self, batch: list[_Pending]) -> None:
        try:
            chained = self._transaction(batch, with_payloads=True)
        except Exception as exc:  # retried item by item below
            if len(batch) > 1:
                _log.warning("audit group commit failed; retrying one by one", error=str(exc))
                for item in batch:
                    self._write_one(item)
                return
            self._write_one(batch[0], first_error=exc)
            return
        self._finish(batch, chained)

    def _write_one(self, item: _Pending, first_error: BaseException | None = None) -> None:
        if first_error is None:
            try:
                self._finish([item], self._transaction([item], with_payloads=True))
                return
            except Exception as exc:
                first_error = exc
        if item.payload is not None and item.event is not None:
            _log.error(
                "payload lost; writing the audit event alone",
                action_name=item.event.action_name,
                audit_request_id=item.event.request_id,
                error=str(first_error),
            )
            try:
                self._finish([item], self._transaction([item], with_payloads=False))
                return
            except Exception as exc:
                first_error = exc
        _log.error(
            "audit event could not be written" if item.event else "payload could not be written",
            audit_request_id=item.event.request_id if item.event else None,
            error=str(first_error),
        )
        _notify([(item, None, first_error)])

    def _transaction(self, batch: list[_Pending], *, with_payloads: bool) -> list[Written]:
        """Write ``batch`` in one transaction: what each item got, in batch order."""
        payloads = (
            with_payloads
            and self.write_payloads is not None
            and any(item.payload is not None for item in batch)
        )
        if payloads and (alone := self._alone_with_riders(batch)) is not None:
            return alone
        if payloads and self.on_connection:
            with self.db.core_transaction() as connection:
                return self._write_in(connection, batch, payloads=True)
        if payloads:
            with self.db.transaction() as session:
                session.info[HANDLED] = True
                return self._write_in(session, batch, payloads=True)
        if all(item.event is None for item in batch):
            return [None] * len(batch)
        return self._events_only(batch)

    def _alone_with_riders(self, batch: list[_Pending]) -> list[Written] | None:
        """PostgreSQL, a batch of one event whose payload rides it: written by the event's
        one statement — or None, nothing written, when the payload cannot ride or the
        statement wrote nothing (no lane free among those tried, or an assumed version no
        longer holds: the transaction then tells which)."""
        if self.payload_riders is None or len(batch) != 1 or self.db.backend != "postgresql":
            return None
        item = batch[0]
        if item.event is None or item.payload is None:
            return None
        riders = self.payload_riders(item.payload)
        if riders is None:
            return None
        with self.db.single_statement() as connection:
            alone = chain.append_alone(connection, item.event, item.assumed, riders=riders)
        return [alone] if alone is not None else None

    def _events_only(self, batch: list[_Pending]) -> list[Written]:
        """The events of ``batch`` and nothing else: no session needed. A lone event on
        PostgreSQL is one statement (:func:`catalog.audit.log.append_alone`, its assumed
        versions checked in it) unless the lanes it tried were all taken — or a version
        it assumed no longer holds, which the transaction below then tells apart."""
        with_event = [item for item in batch if item.event is not None]
        if len(with_event) == 1 and self.db.backend == "postgresql":
            item = with_event[0]
            assert item.event is not None
            with self.db.single_statement() as connection:
                alone = chain.append_alone(connection, item.event, item.assumed)
            if alone is not None:
                return [alone if candidate is item else None for candidate in batch]
        with self.db.core_transaction() as connection:
            return self._write_in(connection, batch, payloads=False)

    def _write_in(
        self,
        target: Session | Connection,
        batch: list[_Pending],
        *,
        payloads: bool,
    ) -> list[Written]:
        """Write the items of ``batch`` whose assumed versions hold (all, when none
        assumed any) in ``target``'s transaction."""
        connection = target.connection() if isinstance(target, Session) else target
        if any(item.assumed for item in batch):
            stale_items = stale(connection, [item.assumed for item in batch])
        else:
            stale_items = [False] * len(batch)
        kept = [item for item, is_stale in zip(batch, stale_items, strict=True) if not is_stale]
        if payloads:
            written = [item.payload for item in kept if item.payload is not None]
            if written and self.on_connection:
                cast(ConnectionPayloadWriter, self.write_payloads)(connection, written)
            elif written:
                cast(PayloadWriter, self.write_payloads)(cast(Session, target), written)
        events = [item.event for item in kept if item.event is not None]
        chained = iter(chain.append_many(target, events) if events else [])
        return [
            StaleAssumption("a data version it assumed has changed")
            if is_stale
            else (next(chained) if item.event is not None else None)
            for item, is_stale in zip(batch, stale_items, strict=True)
        ]

    def _finish(self, batch: list[_Pending], written: list[Written]) -> None:
        self.batches += 1
        outcomes: list[tuple[_Pending, ChainedEvent | None, BaseException | None]] = []
        for item, outcome in zip(batch, written, strict=True):
            if isinstance(outcome, StaleAssumption):
                outcomes.append((item, None, outcome))
                continue
            if outcome is not None:
                self.events += 1
                emit(outcome)
            outcomes.append((item, outcome, None))
        _notify(outcomes)


def _notify(outcomes: list[tuple[_Pending, ChainedEvent | None, BaseException | None]]) -> None:
    """Tell each item's waiter its outcome. Waiters on an event loop are told with one
    wake-up of that loop for the whole batch (each ``call_soon_threadsafe`` writes to the
    loop's wake-up pipe: on a batch of ten, ten system calls and ten wake-ups otherwise)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Callable[[], None]]] = {}
    for item, chained, error in outcomes:
        if item.loop is None:
            item.done(chained, error)
        else:
            by_loop.setdefault(item.loop, []).append(partial(item.done, chained, error))
    for loop, calls in by_loop.items():
        with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_run_all, calls)


def _run_all(calls: list[Callable[[], None]]) -> None:
    for call in calls:
        call()
