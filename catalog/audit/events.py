"""An audit event, its canonical encoding and its hash.

The hash of an event is SHA-256 over a canonical JSON encoding (sorted keys, no
whitespace, UTF-8, times as UTC ISO-8601 with microseconds) of every column but
``id`` and ``hash`` — ``lane``, ``seq`` and ``prev_hash`` included, which is what
chains it. Verification recomputes it from the stored row, so the encoding must
depend only on what the database gives back: times are cut to microseconds and
normalised to UTC on both sides.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any

import orjson

from common.ids import random_uuid

GENESIS = "0" * 64
#: Largest request_params kept, in characters of JSON; larger ones keep their keys only.
MAX_PARAMS_CHARS = 16_384


def utc(moment: datetime) -> datetime:
    """A database time as an aware UTC datetime (SQLite gives naive UTC back)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before it has a place in the chain."""

    service_name: str
    action_name: str
    request_id: str
    user_name: str | None
    status_code: int
    request_params: str = "{}"
    object_name: str | None = None
    error_message: str | None = None
    source_ip_address: str | None = None
    user_agent: str | None = None
    event_time: datetime = field(default_factory=now)
    event_id: str = field(default_factory=random_uuid)  # unique, not secret: the chain protects it

    @property
    def event_date(self) -> date:
        return utc(self.event_time).date()


@dataclass(frozen=True)
class ChainedEvent:
    """An event with its place in a lane: what is stored and hashed."""

    event: AuditEvent
    lane: int
    seq: int
    prev_hash: str
    hash: str = ""

    def sealed(self) -> ChainedEvent:
        return replace(self, hash=event_hash(self))

    def row(self) -> dict[str, Any]:
        # Shallow (asdict would deep-copy the parameters: a tenth of an append's time), by
        # the field names listed once (``fields()`` per row was 3% of a loaded server).
        event = self.event
        values = {name: getattr(event, name) for name in _EVENT_FIELDS}
        values.update(
            event_date=self.event.event_date,
            lane=self.lane,
            seq=self.seq,
            prev_hash=self.prev_hash,
            hash=self.hash,
        )
        return values


_EVENT_FIELDS = tuple(f.name for f in fields(AuditEvent))


def _event_document(e: AuditEvent) -> dict[str, Any]:
    """What is hashed of the event itself (the chain adds lane, seq and prev_hash)."""
    return {
        "action_name": e.action_name,
        "error_message": e.error_message,
        "event_date": e.event_date.isoformat(),
        "event_id": e.event_id,
        "event_time": utc(e.event_time).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "object_name": e.object_name,
        "request_id": e.request_id,
        "request_params": e.request_params,
        "service_name": e.service_name,
        "source_ip_address": e.source_ip_address,
        "status_code": e.status_code,
        "user_agent": e.user_agent,
        "user_name": e.user_name,
    }


def canonical(chained: ChainedEvent) -> bytes:
    document = _event_document(chained.event)
    document["lane"] = chained.lane
    document["prev_hash"] = chained.prev_hash
    document["seq"] = chained.seq
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


#: The chain's keys, in the canonical (sorted) order: they split an event's keys into four.
_CHAIN_KEYS = ("lane", "prev_hash", "seq")
#: The event's own keys (:func:`_event_document`'s), sorted, in those four groups.
_KEYS_AROUND_CHAIN = tuple(
    tuple(
        key
        for key in sorted(_event_document(AuditEvent("", "", "", None, 0)))
        if sum(key > chain_key for chain_key in _CHAIN_KEYS) == group
    )
    for group in range(4)
)


def canonical_around_chain(event: AuditEvent) -> tuple[str, str, str, str]:
    """The canonical encoding of ``event`` with holes where its chain goes: for any lane,
    seq and prev_hash, ``before_lane + str(lane) + before_prev + prev_hash + before_seq +
    str(seq) + after_seq``, UTF-8 encoded, is :func:`canonical` of the chained event.

    For a database that chains the event itself (PostgreSQL hashes it in the statement
    that takes a lane: :func:`catalog.audit.log.append_alone`): the lane's head is only
    known there. lane and seq are whole numbers (JSON's digits are ``str``'s) and a hash
    is hex (nothing to escape), so the holes need no encoding."""
    document = _event_document(event)
    inner = [
        orjson.dumps({key: document[key] for key in keys}).decode()[1:-1]
        for keys in _KEYS_AROUND_CHAIN
    ]
    joined = ["," + text if text else "" for text in inner]
    return (
        "{" + inner[0] + ("," if inner[0] else "") + '"lane":',
        joined[1] + ',"prev_hash":"',
        '"' + joined[2] + ',"seq":',
        joined[3] + "}",
    )


def event_hash(chained: ChainedEvent) -> str:
    return hashlib.sha256(canonical(chained)).hexdigest()


def from_row(row: Any) -> ChainedEvent:
    """The chained event a stored row describes (for verification and reads)."""
    event = AuditEvent(
        service_name=row.service_name,
        action_name=row.action_name,
        request_id=row.request_id,
        user_name=row.user_name,
        status_code=row.status_code,
        request_params=row.request_params,
        object_name=row.object_name,
        error_message=row.error_message,
        source_ip_address=row.source_ip_address,
        user_agent=row.user_agent,
        event_time=utc(row.event_time),
        event_id=row.event_id,
    )
    return ChainedEvent(event, row.lane, row.seq, row.prev_hash, row.hash)


def encode_params(params: dict[str, Any]) -> str:
    """request_params as stored: JSON, bounded in size."""
    try:
        text = orjson.dumps(params, option=orjson.OPT_SORT_KEYS, default=str).decode()
    except orjson.JSONEncodeError:  # lone surrogates in a refused request: escape them
        text = json.dumps(params, sort_keys=True, default=str, ensure_ascii=True)
    if len(text) <= MAX_PARAMS_CHARS:
        return text
    return orjson.dumps(
        {"truncated": True, "keys": sorted(params)}, option=orjson.OPT_SORT_KEYS
    ).decode()
