"""The audit log: the events, filtered as ``steward audit`` filters them, a live follow of
what commits next, and the chain's verification status with its last checkpoint. All of
it through the audit API, so only those who may read ``system.access.audit`` see it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from steward.console.app import Page, signed_in

router = APIRouter()
PageDep = Annotated[Page, Depends(signed_in)]
AUDIT = "/api/2.1/steward/audit"
PAGE_SIZE = 100
FILTERS = ("user", "action", "object", "service", "since", "until", "request_id")


def _filters(
    user: str,
    action: str,
    object_name: str,
    service: str,
    since: str,
    until: str,
    request_id: str,
    failed: str,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "user": user,
        "action": action,
        "object": object_name,
        "service": service,
        "since": since,
        "until": until,
        "request_id": request_id,
    }
    if failed in ("true", "false"):
        found["failed"] = failed
    return {k: v for k, v in found.items() if v}


@router.get("/console/audit")
async def audit_log(
    page: PageDep,
    user: str = "",
    action: str = "",
    object: str = "",
    service: str = "",
    since: str = "",
    until: str = "",
    request_id: str = "",
    failed: str = "",
    page_token: str = "",
) -> Response:
    filters = _filters(user, action, object, service, since, until, request_id, failed)
    listed = await page.api.get(
        AUDIT, **filters, max_results=PAGE_SIZE, page_token=page_token or None
    )
    template = "fragments/audit_page.html" if page.htmx else "audit.html"
    return page.render(
        template,
        events=listed.get("events", []),
        next_page_token=listed.get("next_page_token"),
        follow_token=listed.get("follow_page_token"),
        filters=filters,
        failed=failed,
    )


@router.get("/console/audit/follow")
async def follow(
    page: PageDep,
    token: str,
    user: str = "",
    action: str = "",
    object: str = "",
    service: str = "",
    failed: str = "",
) -> Response:
    """What committed after ``token`` (oldest first), for the live view to put on top."""
    filters = _filters(user, action, object, service, "", "", "", failed)
    listed = await page.api.get(
        AUDIT, **filters, order="asc", page_token=token, max_results=PAGE_SIZE
    )
    events = listed.get("events", [])
    # The next poll continues from where this page ended, or from the same place.
    next_token = listed.get("next_page_token") or listed.get("follow_page_token") or token
    return page.render(
        "fragments/audit_follow.html",
        events=list(reversed(events)),
        follow_token=next_token,
        filters=filters,
        failed=failed,
    )


@router.get("/console/audit/verification")
async def verification(page: PageDep) -> Response:
    report = await page.api.get(f"{AUDIT}/verification")
    return page.render("fragments/audit_verification.html", report=report)
