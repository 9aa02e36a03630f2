"""Reading the audit log with filters, newest first (or oldest first, for following)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from catalog.audit.events import ChainedEvent, from_row, now, utc
from catalog.errors import InvalidParameter
from catalog.persistence import schema as t

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


def search(
    session: Session,
    where: AuditFilter,
    limit: int,
    after_id: int | None = None,
    ascending: bool = False,
) -> list[tuple[int, ChainedEvent]]:
    """Up to ``limit`` events matching ``where``, keyset-paged on ``id``."""
    e = t.AuditEvent
    query: Select = select(e.__table__)
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
    if after_id is not None:
        query = query.where(e.id > after_id if ascending else e.id < after_id)
    query = query.order_by(e.id.asc() if ascending else e.id.desc()).limit(limit)
    return [(row.id, from_row(row)) for row in session.execute(query)]


def latest_id(session: Session) -> int:
    """The id of the newest event (0 when the log is empty)."""
    return int(session.scalar(select(func.max(t.AuditEvent.id))) or 0)
