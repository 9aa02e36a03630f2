"""Walks the audit log and names the first event that is not what was written.

Each lane is checked as a hash chain: ``seq`` must count up from 1 without gaps (a
gap is a deleted event), every event's hash must be the hash of its own content
(else it was modified) and its ``prev_hash`` the hash of the event before it (else
an event was inserted or events were reordered). A lane's stored head must be its
last event (else its tail was cut). Checkpoints must chain, carry a valid HMAC
when a key is given, and every lane must still hold the event a checkpoint pinned,
unchanged (else the log was truncated or rewritten after the checkpoint). An event
appended after a checkpoint may not be dated before it by more than :data:`MAX_SKEW`
(else it was forged and back-dated: hashed correctly and appended at a lane's head, it
would otherwise pass as an old event).

Of all problems found, the one on the earliest event (by ``event_time``, then
chain order) is reported first; problems that are not about one event (a cut tail, a
checkpoint) come after those.
"""

from __future__ import annotations

import bisect
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import orjson
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from catalog.audit.events import GENESIS, event_hash, from_row, utc
from catalog.audit.log import Anchor, checkpoint_digest, sign
from catalog.persistence import schema as t

#: Rows read per round trip while walking a lane.
BATCH = 5_000
#: How far an event appended after a checkpoint may be dated before it: an event is dated
#: when its request starts and appended when its transaction commits, and replicas'
#: clocks differ a little. Requests are bounded well below this.
MAX_SKEW = timedelta(minutes=5)


#: Where problems that are not about one event sort: after every event.
LAST = ("9999", 0, 0)


@dataclass(frozen=True, order=True)
class Problem:
    #: (event_time, lane, seq) of the event at fault, for ordering; :data:`LAST` otherwise.
    position: tuple[str, int, int]
    kind: str
    message: str
    event_id: str | None = None


@dataclass
class Report:
    events: int = 0
    lanes: int = 0
    checkpoints: int = 0
    signed_checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems) if self.problems else None


@dataclass(frozen=True, order=True)
class Pin:
    """What a checkpoint recorded of one lane: its head ``seq`` at ``created`` time."""

    seq: int
    created: datetime
    label: str


def verify(
    session: Session,
    key: bytes | None = None,
    expect: Sequence[Anchor] = (),
    max_skew: timedelta = MAX_SKEW,
) -> Report:
    """Walk the whole log. ``expect``: checkpoint anchors kept outside the database; each
    must still be in the log, unchanged (a truncation that also removed the checkpoints
    after it leaves a consistent log that only such an anchor contradicts)."""
    report = Report()
    lanes = {
        lane: (seq, head)
        for lane, seq, head in session.execute(
            select(t.AuditLane.lane, t.AuditLane.seq, t.AuditLane.head)
        )
    }
    report.lanes = len(lanes)
    pins, lane_pins = _checkpoint_pins(session, key, report, expect)
    last_in_lane: dict[int, tuple[int, str]] = {}  # lane → (seq, hash)
    pinned: dict[tuple[int, int], tuple[str, tuple[str, int, int], str]] = {}
    current_lane: int | None = None
    expected_seq, prev = 1, GENESIS

    def problem(row: t.AuditEvent, kind: str, what: str) -> None:
        where = f"event {row.event_id} (id {row.id}, lane {row.lane}, seq {row.seq})"
        report.problems.append(Problem(_position(row), kind, f"{where}: {what}", row.event_id))

    for row in _rows(session):
        report.events += 1
        if row.lane != current_lane:
            current_lane, expected_seq, prev = row.lane, 1, GENESIS
        if row.lane not in lanes:
            problem(row, "inserted", f"lane {row.lane} does not exist; the event was inserted")
        if row.seq != expected_seq:
            gap = f"seq {expected_seq}" + (f"..{row.seq - 1}" if row.seq - 1 > expected_seq else "")
            problem(row, "deleted", f"lane {row.lane} lacks {gap} before it; events were deleted")
        if event_hash(from_row(row)) != row.hash or _stored_date(row) != _date_of(row):
            problem(
                row,
                "modified",
                "its content does not match its hash; the event was modified, or moved "
                "(reordered, renumbered or inserted)",
            )
        elif row.prev_hash != prev and row.seq == expected_seq:
            problem(
                row,
                "reordered",
                "it does not follow the event before it in its lane; events were inserted "
                "or reordered",
            )
        after = _last_checkpoint_before(lane_pins.get(row.lane, []), row.seq)
        if after is not None and utc(row.event_time) < after.created - max_skew:
            problem(
                row,
                "backdated",
                f"appended after {after.label} (which pinned lane {row.lane} at seq "
                f"{after.seq}, at {after.created:%Y-%m-%dT%H:%M:%SZ}) but dated "
                f"{utc(row.event_time):%Y-%m-%dT%H:%M:%SZ}, earlier by more than "
                f"{int(max_skew.total_seconds())} s; the event was forged and back-dated",
            )
        prev, expected_seq = row.hash, row.seq + 1
        last_in_lane[row.lane] = (row.seq, row.hash)
        if (row.lane, row.seq) in pins:
            pinned[(row.lane, row.seq)] = (row.hash, _position(row), row.event_id)
    for lane, (seq, head) in sorted(lanes.items()):
        last_seq, last_hash = last_in_lane.get(lane, (0, GENESIS))
        if last_seq < seq:
            cause = "events after the last one were removed (truncated)"
        elif last_seq > seq:
            cause = "events were appended without moving the head (inserted)"
        elif last_hash != head:
            cause = "its last event is not the one the head records (rewritten)"
        else:
            continue
        report.problems.append(
            Problem(
                LAST,
                "truncated" if last_seq < seq else "inserted",
                f"lane {lane} ends at seq {last_seq} but its head records seq {seq}: {cause}",
            )
        )
    for (lane, seq), pins_here in sorted(pins.items()):
        found = pinned.get((lane, seq))
        for label, head in pins_here:
            if found is None:
                report.problems.append(
                    Problem(
                        LAST,
                        "truncated",
                        f"{label} pinned lane {lane} at seq {seq}, which is no longer in the "
                        "log; the log was truncated after the checkpoint",
                    )
                )
            elif found[0] != head:
                report.problems.append(
                    Problem(
                        found[1],
                        "rewritten",
                        f"event {found[2]}: {label} pinned lane {lane} at seq {seq} with "
                        "another hash; the lane was rewritten up to here",
                        found[2],
                    )
                )
    return report


def _last_checkpoint_before(pins: list[Pin], seq: int) -> Pin | None:
    """The latest checkpoint taken before the event ``seq`` of a lane was appended: the
    last one that pinned the lane below ``seq`` (``pins`` sorted by seq, then time)."""
    index = bisect.bisect_left(pins, seq, key=lambda pin: pin.seq)
    return pins[index - 1] if index else None


def _position(row: t.AuditEvent) -> tuple[str, int, int]:
    """Time order, and chain order among events of the same instant."""
    return (utc(row.event_time).strftime("%Y-%m-%dT%H:%M:%S.%f"), row.lane, row.seq)


def _date_of(row: t.AuditEvent) -> date:
    return utc(row.event_time).date()


def _stored_date(row: t.AuditEvent) -> date:
    stored = row.event_date
    return stored.date() if isinstance(stored, datetime) else stored


def _rows(session: Session) -> Iterator[t.AuditEvent]:
    """Every event, lane by lane in ``seq`` order, a batch at a time."""
    columns = t.AuditEvent.__table__.c
    after: tuple[int, int] = (-1, 0)
    while True:
        batch = session.execute(
            select(t.AuditEvent.__table__)
            # A row-value comparison, so both backends walk the (lane, seq) index; the
            # spelled-out OR made PostgreSQL rescan from the start for every batch.
            .where(tuple_(columns.lane, columns.seq) > tuple_(after[0], after[1]))
            .order_by(columns.lane, columns.seq)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield from batch  # type: ignore[misc]
        after = (batch[-1].lane, batch[-1].seq)


def _checkpoint_pins(
    session: Session, key: bytes | None, report: Report, expect: Sequence[Anchor] = ()
) -> tuple[dict[tuple[int, int], list[tuple[str, str]]], dict[int, list[Pin]]]:
    """Check the checkpoints' own chain and signatures, and the anchors kept outside the
    database; return what each checkpoint pins: (lane, seq) → [(checkpoint label, head)],
    and per lane every checkpoint's :class:`Pin` (a lane it does not list is at seq 0)."""
    pins: dict[tuple[int, int], list[tuple[str, str]]] = {}
    taken: list[tuple[datetime, str, dict[int, int]]] = []
    prev = GENESIS
    digests: dict[int, str] = {}
    for cp in session.execute(select(t.AuditCheckpoint).order_by(t.AuditCheckpoint.id)).scalars():
        report.checkpoints += 1
        digests[cp.id] = cp.digest
        lanes = orjson.loads(cp.lanes)
        created = utc(cp.created_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        label = f"checkpoint {cp.id}"
        if checkpoint_digest(lanes, cp.prev_digest, created) != cp.digest or (
            cp.prev_digest != prev
        ):
            report.problems.append(
                Problem(LAST, "checkpoint", f"{label} was altered, removed or inserted")
            )
        if key is not None:
            expected = sign(cp.digest, key) or ""
            if cp.signature is None or not hmac.compare_digest(expected, cp.signature):
                report.problems.append(
                    Problem(
                        LAST,
                        "checkpoint",
                        f"{label} does not carry a valid signature for the given key",
                    )
                )
            else:
                report.signed_checkpoints += 1
        prev = cp.digest
        taken.append((utc(cp.created_at), label, {int(k): int(v[0]) for k, v in lanes.items()}))
        for lane_text, (seq, head) in lanes.items():
            if seq:
                pins.setdefault((int(lane_text), int(seq)), []).append((label, head))
    for anchor in expect:
        found = digests.get(anchor.id)
        if found is None:
            what = "is not in the log: it, and the events it pinned, were removed (truncated)"
        elif not hmac.compare_digest(found, anchor.digest):
            what = "differs from the digest recorded outside the database (rewritten)"
        else:
            continue
        report.problems.append(
            Problem(
                LAST,
                "truncated" if found is None else "checkpoint",
                f"checkpoint {anchor.id} {what}",
            )
        )
    known = {lane for _, _, seqs in taken for lane in seqs} | {lane for lane, _ in pins}
    lane_pins = {
        lane: sorted(Pin(seqs.get(lane, 0), created, label) for created, label, seqs in taken)
        for lane in known
    }
    return pins, lane_pins


@dataclass(frozen=True)
class LastCheckpoint:
    id: int
    created_at: datetime
    signed: bool


def last_checkpoint(session: Session) -> LastCheckpoint | None:
    """The newest checkpoint, as the console's chain status shows it (none yet: None)."""
    row = session.execute(
        select(t.AuditCheckpoint.id, t.AuditCheckpoint.created_at, t.AuditCheckpoint.signature)
        .order_by(t.AuditCheckpoint.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return LastCheckpoint(row.id, utc(row.created_at), row.signature is not None)
