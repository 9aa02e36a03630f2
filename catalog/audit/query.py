"""Reading the audit log with filters: newest first, or following what comes next.

Newest first pages back on ``id``. Following resumes from a cursor per lane, the last
``seq`` delivered in each (see :func:`follow`): with several writers, ids are not
handed out in commit order, so an ``id`` cursor can skip an event that commits late.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select, union_all
from sqlalchemy.orm import Session

from catalog.audit.events import ChainedEvent, from_row, now, utc
from catalog.persistence import schema as t
from common.errors import InvalidParameter

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(value: str, what: str) -> datetime:
    """``2026-11-23``, ``2026-11-23T10:00:00Z`` or a span back from now (``30m``, ``1d``)."""
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now() - timedelta(**{_UNITS[unit]: amount})
    try:
        return utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidParameter(
            f"{what} '{value}' is not a time: use ISO 8601 (2026-11-23T10:00:00Z) or a span "
            "back from now such as 30m, 12h, 1d"
        ) from exc


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    user: str | None = None
    #: An object's full name: matches it and everything inside it.
    object: str | None = None
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: Only failed (status >= 400) or only succeeded events.
    failed: bool | None = None
    #: The events of one request (its X-Request-Id).
    request_id: str | None = None


def _matching(where: AuditFilter) -> Select:
    """Every event column, restricted to what ``where`` asks for."""
    e = t.AuditEvent
    query: Select = select(_EVENTS)
    if where.action:
        query = query.where(e.action_name == where.action)
    if where.user:
        query = query.where(e.user_name == where.user.lower())
    if where.object:
        name = where.object.lower()
        query = query.where(
            (e.object_name == name) | e.object_name.startswith(name + ".", autoescape=True)
        )
    if where.service:
        query = query.where(e.service_name == where.service)
    if where.request_id:
        query = query.where(e.request_id == where.request_id)
    if where.since:
        query = query.where(e.event_time >= where.since)
    if where.until:
        query = query.where(e.event_time < where.until)
    if where.failed is not None:
        query = query.where(e.status_code >= 400 if where.failed else e.status_code < 400)
    return query


def search(
    session: Session, where: AuditFilter, limit: int, before_id: int | None = None
) -> list[tuple[int, ChainedEvent]]:
    """Up to ``limit`` events matching ``where``, newest first, keyset-paged on ``id``.

    Paging back into older events may use ``id``: an event that commits late with a
    lower id is newer than the page that missed it, so the follow cursor (see
    :func:`follow`), not this one, is what must not skip it.
    """
    query = _matching(where)
    if before_id is not None:
        query = query.where(_EVENTS.c.id < before_id)
    query = query.order_by(_EVENTS.c.id.desc()).limit(limit)
    return [(row.id, from_row(row)) for row in session.execute(query)]


def lane_heads(session: Session) -> dict[int, int]:
    """Every lane's last ``seq``: a follow cursor just past everything committed so far.

    Read it in the transaction that read the page it goes with (one snapshot), so that
    what the page could not see is exactly what following from it returns.
    """
    return {int(lane): int(seq) for lane, seq in session.execute(_HEADS)}


def cursor_at(session: Session, event_id: int) -> dict[int, int]:
    """The follow cursor of an ``id`` keyset: per lane, the last seq at or below the id.

    Tokens from servers before lane cursors were ids; converting one resumes where it
    pointed (within a lane, id order is seq order) and is gap-free from then on. One
    statement: per lane, a backward walk of the (lane, seq) index to the first id at or
    below ``event_id`` — short when the id is recent, as a follower's is.
    """
    e = _EVENTS.c
    last = (
        select(e.seq)
        .where(e.lane == _LANES.c.lane, e.id <= event_id)
        .order_by(e.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(select(_LANES.c.lane, last))
    return {int(lane): int(seq) for lane, seq in rows if seq}


def follow(
    session: Session, where: AuditFilter, limit: int, after: Mapping[int, int]
) -> tuple[list[ChainedEvent], dict[int, int]]:
    """The first ``limit`` events matching ``where`` past the cursor ``after``, by ``id``,
    and the cursor past them.

    Why a cursor per lane and not an id: a writer allocates its events' ids when it
    inserts them and commits later, and writers on different lanes commit in any order,
    so an event can become visible after one with a higher id was delivered — an id
    cursor would skip it for good. Within a lane the lane lock makes id order, seq order
    and commit order the same: what lane L has past ``after[L]`` (0 when absent) is a
    gap-free suffix, and the events returned from it are a prefix of that suffix. So
    nothing is skipped or repeated, whatever the lanes' commit order.

    Lanes whose head has not moved past the cursor are not read (an idle poll is one
    read of ``audit_lanes``); each other lane is one walk of the (lane, seq) index,
    limited, and the union is merged by ``id``.
    """
    cursor = dict(after)
    behind = [lane for lane, seq in lane_heads(session).items() if seq > after.get(lane, 0)]
    if not behind:
        return [], cursor
    parts = [
        _matching(where)
        .where(_EVENTS.c.lane == lane, _EVENTS.c.seq > after.get(lane, 0))
        .order_by(_EVENTS.c.seq)
        .limit(limit)
        for lane in sorted(behind)
    ]
    if len(parts) == 1:  # one lane (always, on SQLite): seq order is id order
        query = parts[0]
    else:  # SQLite forbids ORDER BY/LIMIT in union members: each is a subquery
        merged = union_all(*(select(part.subquery()) for part in parts)).subquery()
        query = select(merged).order_by(merged.c.id).limit(limit)
    events = [from_row(row) for row in session.execute(query)]
    for chained in events:
        cursor[chained.lane] = max(cursor.get(chained.lane, 0), chained.seq)
    return events, cursor


_EVENTS = t.AuditEvent.__table__
_LANES = t.AuditLane.__table__
_HEADS = select(_LANES.c.lane, _LANES.c.seq)
