"""``GET /api/2.1/steward/audit``: the audit log, filtered and paged (SPEC §7).

Reading it needs SELECT on ``system.access.audit`` (metastore admins by default),
the same rule as ``SELECT … FROM system.access.audit`` on the SQL endpoint.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel

from catalog.audit.events import ChainedEvent
from catalog.audit.query import AuditFilter, latest_id, parse_moment, search
from catalog.errors import InvalidParameter
from catalog.http.deps import RuntimeDep
from catalog.http.guards import SYSTEM_TABLE, guard
from catalog.pagination import decode_token, encode_token, page_size
from catalog.system_tables import AUDIT

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
    #: With ``order=desc``: a token that lists, with ``order=asc``, what comes after the newest
    #: event of this page (or after everything so far): how ``steward audit --follow`` tails.
    follow_page_token: str | None = None


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
    """Newest first by default; ``order=asc`` with the last page token follows new events."""
    limit = page_size(max_results, MAX_PAGE)
    cursor = decode_token(page_token)
    try:
        after_id = int(cursor) if cursor is not None else None
    except ValueError as exc:
        raise InvalidParameter(f"page_token '{page_token}' is not a valid page token") from exc
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
    ascending = order == "asc"
    with rt.db.read() as session:
        found = search(session, where, limit, after_id, ascending)
        follow_from = None
        if not ascending:
            follow_from = found[0][0] if found and after_id is None else latest_id(session)
    events = [AuditEventInfo.of(chained) for _, chained in found]
    # Following (asc) always hands back a cursor: new events may arrive after the last one.
    more = len(found) == limit or ascending
    last = found[-1][0] if found else after_id
    if ascending and last is None:
        last = 0
    token = encode_token(str(last)) if more and last is not None else None
    follow = encode_token(str(follow_from)) if follow_from is not None else None
    return ListAuditEventsResponse(events=events, next_page_token=token, follow_page_token=follow)
