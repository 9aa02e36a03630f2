"""Appending to the hash chain, and signed checkpoints of its heads.

**Lanes.** One chain for the whole log would make every writing transaction wait
for the previous one to commit (the head is read, the event hashed onto it and the
head moved, all before commit). Instead the log is a fixed set of :data:`LANES`
chains. A transaction appends to whichever lane is free — on PostgreSQL
``SELECT … FOR UPDATE SKIP LOCKED`` picks one no other transaction holds — so
unrelated requests on any replica never wait for each other while a lane is free,
and the lock is held only from the append (the last statement) to the commit.
SQLite has one writer at a time anyway and uses lane 0. Each lane is an ordinary
hash chain; ``event_time`` and ``id`` order events across lanes.

**Checkpoints** record every lane's ``(seq, head)`` at one moment, chained to the
previous checkpoint and signed with an HMAC-SHA256 key kept outside the database
(``STEWARD_AUDIT_KEY``) when one is configured. Without the key anyone who can
write the database can rewrite a lane and its head consistently; with it they
cannot forge the checkpoint that pins the old head, and truncating a lane below a
checkpointed ``seq`` is caught.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Sequence
from dataclasses import fields
from functools import partial
from typing import NamedTuple

import orjson
from sqlalchemy import (
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from catalog.audit.events import (
    GENESIS,
    AuditEvent,
    ChainedEvent,
    canonical_around_chain,
    now,
)
from catalog.audit.riders import Rider, RiderTable
from catalog.audit.riders import prefix as rider_prefix
from catalog.audit.riders import shape as rider_shape
from catalog.audit.riders import write as write_riders
from catalog.data.assumed_versions import AssumedVersions
from catalog.data.assumed_versions import condition as versions_hold
from catalog.persistence import schema as t
from catalog.persistence.driver import DriverStatement
from catalog.persistence.engine import Notification, notification_carried, notification_to_carry

#: Lanes created by migration c0003.
LANES = 16
#: Arbitrary constant for PostgreSQL's advisory lock that serializes checkpoint writers.
CHECKPOINT_LOCK = 0x5354_4557_4152_4431


def append(session: Session, event: AuditEvent, riders: Sequence[Rider] = ()) -> ChainedEvent:
    """Chain ``event`` onto a free lane inside the caller's transaction and insert it,
    with ``riders`` (:mod:`catalog.audit.riders`: rows that commit with it).

    Call it last in the transaction: the lane stays locked until commit.
    """
    return append_many(session, [event], riders)[0]


def append_many(
    session: Session | Connection, events: Sequence[AuditEvent], riders: Sequence[Rider] = ()
) -> list[ChainedEvent]:
    """Chain ``events`` one after another onto one free lane and insert them together,
    with ``riders``.

    The group commit of serving invocations (:mod:`catalog.audit.group_commit`) writes a
    batch of events this way: one lane lock, one multi-row insert and one head update for
    the whole batch. Like :func:`append`, call it last in the transaction.
    """
    if not events:
        if riders:
            raise ValueError("rows ride with an event")
        return []
    # Core statements on the session's connection: the same transaction, without the
    # ORM's per-statement bookkeeping (an append runs on every request).
    connection = session.connection() if isinstance(session, Session) else session
    if len(events) == 1 and connection.dialect.name == "postgresql":
        # A change's event is its transaction's closing statement: it carries the
        # change's NOTIFY (offer_notification) and its riders too, a round trip fewer
        # for each.
        change = session if isinstance(session, Session) else None
        notification = notification_to_carry(change) if change is not None else None
        alone = append_alone(connection, events[0], notification=notification, riders=riders)
        if alone is not None:
            if change is not None and notification is not None:
                notification_carried(change, notification)
            return [alone]
    write_riders(connection, riders)
    lane, seq, head = _take_lane(connection)
    chained: list[ChainedEvent] = []
    for event in events:
        sealed = ChainedEvent(event, lane, seq + 1, head).sealed()
        chained.append(sealed)
        seq, head = sealed.seq, sealed.hash
    moved = {"lane_": lane, "seq_": seq, "head_": head}
    if len(chained) == 1 and connection.dialect.name == "postgresql":
        row = {f"e_{column}": value for column, value in chained[0].row().items()}
        _INSERT_AND_MOVE.execute(connection, {**row, **moved}).close()
        return chained
    if len(chained) == 1:
        _INSERT_EVENT.execute(connection, chained[0].row()).close()
    else:
        _INSERT_EVENT.executemany(connection, [c.row() for c in chained])
    _MOVE_HEAD.execute(connection, moved).close()
    return chained


def append_alone(
    connection: Connection,
    event: AuditEvent,
    assumed: AssumedVersions | None = None,
    notification: Notification | None = None,
    riders: Sequence[Rider] = (),
) -> ChainedEvent | None:
    """PostgreSQL: chain ``event`` onto a free lane and insert it in one statement — or
    None, having written nothing, when none of four lanes tried is free or a data version
    in ``assumed`` is no longer its table's (:mod:`catalog.data.assumed_versions`).

    On a connection of :meth:`~catalog.persistence.engine.Database.single_statement` the
    statement is its own transaction, durable when it returns: a request committing its
    event alone (nothing to share a group commit with) paid four round trips for it —
    BEGIN, the lane, the insert and head move, COMMIT — a third of a served prediction's
    time on a loopback PostgreSQL. Inside a caller's transaction (:func:`append_many` of
    one event: every audited change) it is one round trip instead of two, the lane locked
    until that transaction ends, as :func:`append` holds it.

    The statement takes a free lane, hashes the event onto its head (PostgreSQL's
    ``sha256`` over the canonical encoding, the lane's number, seq and head put in the
    holes that :func:`~catalog.audit.events.canonical_around_chain` leaves), inserts it
    and moves the head. The stored row is what :func:`append` would have stored, so
    verification is the same. With a ``notification`` it also sends that NOTIFY (a
    change's, :func:`~catalog.persistence.engine.offer_notification`) when it writes;
    when it writes nothing the caller sends it (PostgreSQL delivers a NOTIFY sent twice
    in one transaction once). Its ``riders`` (:mod:`catalog.audit.riders`) are inserted
    by the same statement when it writes the event, and not at all when it does not: the
    caller then writes them with the event the long way.
    """
    before_lane, before_prev, before_seq, after_seq = canonical_around_chain(event)
    start = random.randrange(LANES)
    params: dict[str, object] = {f"e_{name}": getattr(event, name) for name in _OWN_COLUMNS}
    params.update(
        before_lane=before_lane,
        before_prev=before_prev,
        before_seq=before_seq,
        after_seq=after_seq,
        **{f"lane{i}": (start + i) % LANES for i in range(4)},
    )
    if assumed:
        params.update(assumed.params())
    if notification is not None:
        params.update(channel=notification[0], payload=notification[1])
    for index, rider in enumerate(riders):
        params.update(rider.params(rider_prefix(index)))
    statement = _chain_alone(
        len(assumed) if assumed else 0, notification is not None, rider_shape(riders)
    )
    row = statement.first(connection, params)
    if row is None:
        return None
    lane, seq, prev_hash, hashed = row
    return ChainedEvent(event, lane, seq, prev_hash, hashed)


# Built once, on the Core tables, and run on the driver's cursor
# (catalog/persistence/driver.py): an append runs on every request, and SQLAlchemy's
# execution of these one-row statements cost more than the database's work.
_EVENTS = t.AuditEvent.__table__
_LANES = t.AuditLane.__table__
#: The columns an event's row sets (:meth:`ChainedEvent.row`).
#: The columns of the event itself (``event_date`` is a property of it) …
_OWN_COLUMNS = [*(f.name for f in fields(AuditEvent)), "event_date"]
#: … and with its place in the chain.
_EVENT_COLUMNS = [*_OWN_COLUMNS, "lane", "seq", "prev_hash", "hash"]
_INSERT_EVENT = DriverStatement(insert(_EVENTS), column_keys=_EVENT_COLUMNS)
_MOVE_HEAD = DriverStatement(
    update(_LANES)
    .where(_LANES.c.lane == bindparam("lane_"))
    .values(seq=bindparam("seq_"), head=bindparam("head_"))
)
#: PostgreSQL, one event: the insert and the head move as one statement (a data-modifying
#: CTE), one round trip fewer for a request committing alone.
_INSERT_AND_MOVE = DriverStatement(
    insert(_EVENTS)
    .values({column: bindparam(f"e_{column}") for column in _EVENT_COLUMNS})
    .add_cte(
        update(_LANES)
        .where(_LANES.c.lane == bindparam("lane_"))
        .values(seq=bindparam("seq_"), head=bindparam("head_"))
        .cte("moved")
    )
)
_LANE_COLUMNS = (_LANES.c.lane, _LANES.c.seq, _LANES.c.head)


def _chain_alone(
    assumed: int, notifies: bool = False, rides: tuple[RiderTable, ...] = ()
) -> DriverStatement:
    """The statement of :func:`append_alone` (PostgreSQL; data-modifying CTEs), taking a
    lane only while ``assumed`` data versions all hold, sending the NOTIFY of parameters
    ``channel`` and ``payload`` when ``notifies``, and inserting a row into each table of
    ``rides`` with the event: built once per shape."""
    found = _CHAIN_ALONE.get((assumed, notifies, rides))
    if found is not None:
        return found
    lanes = _LANES.c.lane.in_([bindparam(f"lane{i}") for i in range(4)])
    free = (
        select(*_LANE_COLUMNS)
        .where(lanes if not assumed else and_(lanes, versions_hold(assumed)))
        .limit(1)
        .with_for_update(skip_locked=True)
        .cte("free")
    )
    seq = free.c.seq + 1
    hole = partial(bindparam, type_=Text)
    encoded = (
        hole("before_lane")
        + cast(free.c.lane, Text)
        + hole("before_prev")
        + free.c.head
        + hole("before_seq")
        + cast(seq, Text)
        + hole("after_seq")
    )
    digest = func.encode(func.sha256(func.convert_to(encoded, literal_column("'UTF8'"))), "hex")
    chained = select(
        *(bindparam(f"e_{c}", type_=_EVENTS.c[c].type) for c in _OWN_COLUMNS),
        free.c.lane,
        seq,
        free.c.head,
        digest,
    )
    inserted = (
        insert(_EVENTS)
        .from_select(_EVENT_COLUMNS, chained)
        .returning(_EVENTS.c.lane, _EVENTS.c.seq, _EVENTS.c.prev_hash, _EVENTS.c.hash)
        .cte("inserted")
    )
    moved = (
        update(_LANES)
        .where(_LANES.c.lane == inserted.c.lane)
        .values(seq=inserted.c.seq, head=inserted.c.hash)
        .cte("moved")
    )
    answer = select(inserted.c.lane, inserted.c.seq, inserted.c.prev_hash, inserted.c.hash)
    if notifies:
        # Joined to the event written, so sent only when one was: a CTE that writes
        # nothing runs only as far as the query reads it.
        notified = select(
            func.pg_notify(bindparam("channel", type_=Text), bindparam("payload", type_=Text))
        ).cte("notified")
        answer = answer.select_from(inserted.join(notified, true()))
    answer = answer.add_cte(moved)
    for index, table in enumerate(rides):
        answer = answer.add_cte(table.cte_from(inserted, rider_prefix(index)))
    found = _CHAIN_ALONE[(assumed, notifies, rides)] = DriverStatement(answer)
    return found


#: :func:`_chain_alone`'s statements by how many data versions they check, whether they
#: notify and the tables their riders go into.
_CHAIN_ALONE: dict[tuple[int, bool, tuple[RiderTable, ...]], DriverStatement] = {}
_LANE_ZERO = DriverStatement(select(*_LANE_COLUMNS).where(_LANES.c.lane == 0))


def _free_lane(count: int) -> DriverStatement:
    """PostgreSQL: the first of ``count`` given lanes (``lane0`` …) nobody holds, or none."""
    lanes = [bindparam(f"lane{i}") for i in range(count)]
    return DriverStatement(
        select(*_LANE_COLUMNS)
        .where(_LANES.c.lane.in_(lanes))
        .limit(1)
        .with_for_update(skip_locked=True)
    )


_FREE_OF_FOUR = _free_lane(4)
_FREE_OF_ALL = _free_lane(LANES)
#: PostgreSQL: one lane, waiting for whoever holds it.
_QUEUE_ON_LANE = DriverStatement(
    select(*_LANE_COLUMNS).where(_LANES.c.lane == bindparam("lane")).with_for_update()
)


def _take_lane(connection: Connection) -> tuple[int, int, str]:
    if connection.dialect.name != "postgresql":
        row = _LANE_ZERO.first(connection, {})
        assert row is not None, "lane 0 is created by migration c0003"
        return row[0], row[1], row[2]
    start = random.randrange(LANES)
    order = [(start + i) % LANES for i in range(LANES)]
    row = _FREE_OF_FOUR.first(connection, {f"lane{i}": lane for i, lane in enumerate(order[:4])})
    if row is None:
        row = _FREE_OF_ALL.first(connection, {f"lane{i}": lane for i, lane in enumerate(order)})
    if row is None:  # every lane is busy: queue behind one
        row = _QUEUE_ON_LANE.first(connection, {"lane": start})
        assert row is not None
    return row[0], row[1], row[2]


# -- checkpoints -----------------------------------------------------------------------------


def checkpoint_digest(lanes: dict[str, list[int | str]], prev_digest: str, created: str) -> str:
    body = orjson.dumps(
        {"created_at": created, "lanes": lanes, "prev_digest": prev_digest},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(body).hexdigest()


def sign(digest: str, key: bytes | None) -> str | None:
    if key is None:
        return None
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


class Anchor(NamedTuple):
    """A checkpoint's id and digest, to keep outside the database (a log line, a ticket):
    ``steward audit verify --expect ID:DIGEST`` then notices if that checkpoint was removed
    together with the events it pinned, which nothing inside the database can."""

    id: int
    digest: str

    def __str__(self) -> str:
        return f"{self.id}:{self.digest}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        number, _, digest = text.strip().partition(":")
        if not number.isdigit() or len(digest) != 64:
            raise ValueError(f"'{text}' is not a checkpoint anchor (ID:SHA256-HEX)")
        return cls(int(number), digest.lower())


def write_checkpoint(session: Session, key: bytes | None) -> Anchor | None:
    """Record the current heads of every lane; None when nothing changed since the last."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHECKPOINT_LOCK})
    heads = {
        str(lane): [seq, head]
        for lane, seq, head in session.execute(
            select(t.AuditLane.lane, t.AuditLane.seq, t.AuditLane.head).order_by(t.AuditLane.lane)
        )
    }
    last = session.execute(
        select(t.AuditCheckpoint.lanes, t.AuditCheckpoint.digest)
        .order_by(t.AuditCheckpoint.id.desc())
        .limit(1)
    ).first()
    if last is not None and orjson.loads(last.lanes) == heads:
        return None
    prev = last.digest if last is not None else GENESIS
    created = now()
    digest = checkpoint_digest(heads, prev, created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    result = session.execute(
        insert(t.AuditCheckpoint)
        .values(
            created_at=created,
            lanes=orjson.dumps(heads, option=orjson.OPT_SORT_KEYS).decode(),
            prev_digest=prev,
            digest=digest,
            signature=sign(digest, key),
        )
        .returning(t.AuditCheckpoint.id)
    )
    return Anchor(int(result.scalar_one()), digest)
