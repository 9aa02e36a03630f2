"""The audit log: the events, filtered as ``steward audit`` filters them, a live follow of
what commits next, and the chain's verification status with its last checkpoint. All of
it through the audit API, so only those who may read ``system.access.audit`` see it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from steward.console.app import Page, signed_in

router = APIRouter()
PageDep = Annotated[Page, Depends(signed_in)]
AUDIT = "/api/2.1/steward/audit"
PAGE_SIZE = 100


@dataclass
class Filters:
    """The audit log's filters, as ``steward audit`` takes them (query parameters)."""

    user: str = ""
    action: str = ""
    object: str = ""
    service: str = ""
    since: str = ""
    until: str = ""
    request_id: str = ""
    failed: str = ""

    def params(self) -> dict[str, Any]:
        """As the audit API takes them: the empty ones left out, ``failed`` only if set."""
        found = {k: v for k, v in asdict(self).items() if v}
        if found.get("failed") not in (None, "true", "false"):
            del found["failed"]
        return found


FiltersDep = Annotated[Filters, Depends()]


@router.get("/console/audit")
async def audit_log(page: PageDep, filters: FiltersDep, page_token: str = "") -> Response:
    listed = await page.api.get(
        AUDIT, **filters.params(), max_results=PAGE_SIZE, page_token=page_token or None
    )
    template = "fragments/audit_page.html" if page.htmx else "audit.html"
    return page.render(
        template,
        events=listed.get("events", []),
        next_page_token=listed.get("next_page_token"),
        follow_token=listed.get("follow_page_token"),
        filters=filters.params(),
        failed=filters.failed,
    )


@router.get("/console/audit/follow")
async def follow(page: PageDep, filters: FiltersDep, token: str) -> Response:
    """What committed after ``token`` (oldest first), for the live view to put on top."""
    wanted = filters.params()
    for bound in ("since", "until"):  # following goes on past the time window shown
        wanted.pop(bound, None)
    listed = await page.api.get(
        AUDIT, **wanted, order="asc", page_token=token, max_results=PAGE_SIZE
    )
    events = listed.get("events", [])
    # The next poll continues from where this page ended, or from the same place.
    next_token = listed.get("next_page_token") or listed.get("follow_page_token") or token
    return page.render(
        "fragments/audit_follow.html",
        events=list(reversed(events)),
        follow_token=next_token,
        filters=wanted,
        failed=filters.failed,
    )


@router.get("/console/audit/verification")
async def verification(page: PageDep) -> Response:
    report = await page.api.get(f"{AUDIT}/verification")
    return page.render("fragments/audit_verification.html", report=report)
