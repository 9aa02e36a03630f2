"""``GET /api/2.1/steward/audit``: the audit log, filtered and paged (docs/audit.md), and
``GET …/audit/verification``: the hash chain walked now, with the newest checkpoint.

Reading it needs SELECT on ``system.access.audit`` (metastore admins by default),
the same rule as ``SELECT … FROM system.access.audit`` on the SQL endpoint.

Two kinds of page token. Newest first (``order=desc``), ``next_page_token`` is an
``id`` to page back from. Following (``order=asc``, and every ``follow_page_token``)
the token is a cursor per lane, the last ``seq`` delivered in each, which no event
committing late can slip behind (see :func:`catalog.audit.query.follow`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel

from catalog.audit.events import ChainedEvent
from catalog.audit.query import AuditFilter, cursor_at, follow, lane_heads, parse_moment, search
from catalog.audit.verify import last_checkpoint, verify
from catalog.http.deps import RuntimeDep
from catalog.http.guards import SYSTEM_TABLE, guard
from catalog.pagination import decode_token, encode_token, page_size
from catalog.runtime import Runtime
from catalog.system_tables import AUDIT
from common.errors import InvalidParameter

router = APIRouter(prefix="/api/2.1/steward", tags=["Audit"])
MAX_PAGE = 1000


class UserIdentity(BaseModel):
    email: str | None


class AuditResponseInfo(BaseModel):
    status_code: int
    error_message: str | None = None


class AuditEventInfo(BaseModel):
    event_id: str
    event_time: str
    event_date: str
    user_identity: UserIdentity
    service_name: str
    action_name: str
    request_id: str
    request_params: dict[str, Any]
    response: AuditResponseInfo
    source_ip_address: str | None = None
    user_agent: str | None = None
    object_name: str | None = None
    lane: int
    seq: int
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, chained: ChainedEvent) -> AuditEventInfo:
        e = chained.event
        try:
            params = orjson.loads(e.request_params)
        except orjson.JSONDecodeError:
            params = {"raw": e.request_params}
        return cls(
            event_id=e.event_id,
            event_time=e.event_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            event_date=e.event_date.isoformat(),
            user_identity=UserIdentity(email=e.user_name),
            service_name=e.service_name,
            action_name=e.action_name,
            request_id=e.request_id,
            request_params=params if isinstance(params, dict) else {"value": params},
            response=AuditResponseInfo(status_code=e.status_code, error_message=e.error_message),
            source_ip_address=e.source_ip_address,
            user_agent=e.user_agent,
            object_name=e.object_name,
            lane=chained.lane,
            seq=chained.seq,
            prev_hash=chained.prev_hash,
            hash=chained.hash,
        )


class ListAuditEventsResponse(BaseModel):
    events: list[AuditEventInfo]
    next_page_token: str | None = None
    #: With ``order=desc``: a token that lists, with ``order=asc``, everything committed
    #: after this page was read (each lane's head then): how ``steward audit --follow`` tails.
    follow_page_token: str | None = None


#: A follow cursor inside a page token: ``lanes:`` then ``lane=seq`` pairs (lanes at 0 left
#: out), e.g. ``lanes:0=812,3=790``. A plain number is an ``id`` keyset.
_CURSOR_PREFIX = "lanes:"
_NUMBER = re.compile(r"[0-9]{1,19}")
#: Ids and seqs are BIGINT; a larger number would fail in the database, not here.
_BIGINT_MAX = 2**63 - 1
_LANE_MAX = 2**31 - 1


def encode_cursor(cursor: Mapping[int, int]) -> str:
    """The page token of a follow cursor."""
    pairs = ",".join(f"{lane}={seq}" for lane, seq in sorted(cursor.items()) if seq > 0)
    return encode_token(_CURSOR_PREFIX + pairs)


def decode_cursor(page_token: str | None) -> int | dict[int, int] | None:
    """An ``id`` (a desc page's token), a lane cursor (a follow token) or None; anything
    else is a 400 naming the token, never a database error later."""
    after = decode_token(page_token)
    if after is None:
        return None

    def number(text: str, largest: int) -> int:
        if not _NUMBER.fullmatch(text) or int(text) > largest:
            raise InvalidParameter(f"page_token '{page_token}' is not a valid page token")
        return int(text)

    if not after.startswith(_CURSOR_PREFIX):
        return number(after, _BIGINT_MAX)
    cursor: dict[int, int] = {}
    body = after.removeprefix(_CURSOR_PREFIX)
    for pair in body.split(",") if body else []:
        lane, _, seq = pair.partition("=")
        key = number(lane, _LANE_MAX)
        if key in cursor:
            raise InvalidParameter(f"page_token '{page_token}' is not a valid page token")
        cursor[key] = number(seq, _BIGINT_MAX)
    return cursor


Text = Annotated[str | None, Query(max_length=1024)]


@router.get(
    "/audit",
    dependencies=[guard(SYSTEM_TABLE, system_table=AUDIT)],
    operation_id="listAuditEvents",
    response_model_exclude_none=True,
)
def list_audit_events(
    rt: RuntimeDep,
    action: Text = None,
    user: Text = None,
    object: Text = None,
    service: Text = None,
    since: Text = None,
    until: Text = None,
    failed: bool | None = None,
    request_id: Text = None,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    max_results: int | None = None,
    page_token: Text = None,
) -> ListAuditEventsResponse:
    """Newest first by default; ``order=asc`` from a follow token lists what came after it."""
    limit = page_size(max_results, MAX_PAGE)
    cursor = decode_cursor(page_token)
    ascending = order == "asc"
    if isinstance(cursor, dict) and not ascending:
        raise InvalidParameter(
            f"page_token '{page_token}' is a follow token: list with order=asc to use it"
        )
    where = AuditFilter(
        action=action,
        user=user,
        object=object,
        service=service,
        since=parse_moment(since, "since") if since else None,
        until=parse_moment(until, "until") if until else None,
        failed=failed,
        request_id=request_id,
    )
    if ascending:
        return _following(rt, where, limit, cursor)
    with rt.db.read() as session:
        page = search(session, where, limit, cursor if isinstance(cursor, int) else None)
        # The heads in the page's snapshot: what it could not see is what follows them.
        heads = lane_heads(session)
    return ListAuditEventsResponse(
        events=[AuditEventInfo.of(chained) for _, chained in page],
        next_page_token=encode_token(str(page[-1][0])) if len(page) == limit else None,
        follow_page_token=encode_cursor(heads),
    )


def _following(
    rt: Runtime, where: AuditFilter, limit: int, cursor: int | dict[int, int] | None
) -> ListAuditEventsResponse:
    """An ``order=asc`` page: what comes after ``cursor`` (from the first event without one)."""
    with rt.db.read() as session:
        if cursor is None:
            after: dict[int, int] = {}
        elif isinstance(cursor, int):  # an id token: a desc page's, or an older server's
            after = cursor_at(session, cursor)
        else:
            after = cursor
        found, advanced = follow(session, where, limit, after)
    # Following always hands back a cursor: new events may come after the last.
    return ListAuditEventsResponse(
        events=[AuditEventInfo.of(chained) for chained in found],
        next_page_token=encode_cursor(advanced),
    )


class AuditCheckpointInfo(BaseModel):
    id: int
    #: ISO 8601, UTC.
    created_at: str
    #: Signed with the server's audit key (``STEWARD_AUDIT_KEY``).
    signed: bool


class AuditVerificationResponse(BaseModel):
    ok: bool
    events: int
    lanes: int
    checkpoints: int
    #: Checkpoint signatures checked with the server's key (0 without one).
    signed_checkpoints_checked: int
    #: The first problem found (``null`` when the chain holds).
    first_bad: str | None = None
    #: The problems found, in log order, at most 100.
    problems: list[str]
    last_checkpoint: AuditCheckpointInfo | None = None
    #: When this walk was made (ISO 8601, UTC).
    verified_at: str


@router.get(
    "/audit/verification",
    dependencies=[guard(SYSTEM_TABLE, system_table=AUDIT)],
    operation_id="verifyAuditLog",
)
async def verify_audit_log(rt: RuntimeDep) -> AuditVerificationResponse:
    """Walk the whole hash chain, as ``steward audit verify`` does (with the server's audit
    key, when it has one, checking checkpoint signatures), and name the newest checkpoint.
    Needs what reading the log needs. Walks are shared (:mod:`catalog.audit.shared_walks`):
    the answer may be up to two seconds older than the request, and says when it ran."""
    answer: AuditVerificationResponse = await rt.audit_walks.answer(lambda: _walk(rt))
    return answer


def _walk(rt: Runtime) -> AuditVerificationResponse:
    with rt.db.read() as session:
        report = verify(session, rt.settings.audit_key)
        last = last_checkpoint(session)
    problems = sorted(report.problems)
    return AuditVerificationResponse(
        ok=report.ok,
        events=report.events,
        lanes=report.lanes,
        checkpoints=report.checkpoints,
        signed_checkpoints_checked=report.signed_checkpoints,
        first_bad=None if report.first is None else report.first.message,
        problems=[p.message for p in problems[:100]],
        last_checkpoint=None
        if last is None
        else AuditCheckpointInfo(
            id=last.id,
            created_at=last.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            signed=last.signed,
        ),
        verified_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
