"""SQL, grants, audit and lineage for the Python client: the catalog's governance over REST.

Functions of a :class:`~registry.client.http.RestClient`, which :class:`Client` exposes as
methods (``client.sql(...)``, ``client.grant(...)`` …), so the REST shapes live here and
not in the client's class of models and features.
"""

from __future__ import annotations

from typing import Any

from registry.client.errors import StewardError
from registry.client.http import STEWARD, UC, RestClient, quote_part

SQL_PATH = "/api/2.0/sql/statements"
AUDIT_PATH = f"{STEWARD}/audit"
LINEAGE_PATH = f"{STEWARD}/lineage"
#: Most audit events asked for in one request (the server's page size).
AUDIT_PAGE = 1000


def run_sql(rest: RestClient, statement: str) -> tuple[list[str], list[list[Any]]]:
    """Run one statement; its column names and rows. A statement that failed raises
    :class:`StewardError` with the server's code and message (line and column included)."""
    body = rest.request("POST", SQL_PATH, json={"statement": statement})
    status = body.get("status", {})
    if status.get("state") != "SUCCEEDED":
        error = status.get("error") or {}
        raise StewardError(
            str(error.get("error_code") or "BAD_REQUEST"),
            str(error.get("message") or f"the statement ended {status.get('state')}"),
            400,
            body.get("request_id"),
        )
    columns = body.get("manifest", {}).get("schema", {}).get("columns", [])
    rows = body.get("result", {}).get("data_array") or []
    return [str(c["name"]) for c in columns], rows


def privilege_assignments(
    rest: RestClient, securable_type: str, full_name: str, principal: str | None = None
) -> dict[str, list[str]]:
    """principal → privileges on one object, as the caller may see them."""
    body = rest.request(
        "GET",
        _permissions_path(securable_type, full_name),
        params={"principal": principal},
    )
    return _assignments(body)


def change_privileges(
    rest: RestClient,
    securable_type: str,
    full_name: str,
    principal: str,
    add: list[str] | None = None,
    remove: list[str] | None = None,
) -> dict[str, list[str]]:
    """Grant ``add`` and revoke ``remove`` for ``principal`` in one change; the object's
    assignments afterwards."""
    change = {"principal": principal, "add": add or [], "remove": remove or []}
    body = rest.request(
        "PATCH",
        _permissions_path(securable_type, full_name),
        json={"changes": [change]},
    )
    return _assignments(body)


def _permissions_path(securable_type: str, full_name: str) -> str:
    return f"{UC}/permissions/{quote_part(securable_type.lower())}/{quote_part(full_name)}"


def _assignments(body: dict[str, Any]) -> dict[str, list[str]]:
    """principal → privileges, from a permissions answer."""
    return {
        a["principal"]: list(a.get("privileges", [])) for a in body.get("privilege_assignments", [])
    }


def audit_events(rest: RestClient, limit: int, **filters: Any) -> list[dict[str, Any]]:
    """Up to ``limit`` audit events, newest first, filtered as ``steward audit`` filters
    (action, user, object, service, since, until, failed)."""
    if limit < 1:
        raise StewardError("INVALID_PARAMETER_VALUE", "limit must be 1 or more", 400)
    clean = {k: v for k, v in filters.items() if v is not None}
    if isinstance(clean.get("failed"), bool):
        clean["failed"] = str(clean["failed"]).lower()
    events: list[dict[str, Any]] = []
    token = None
    while len(events) < limit:
        params = {**clean, "max_results": min(AUDIT_PAGE, limit - len(events)), "page_token": token}
        page = rest.request("GET", AUDIT_PATH, params=params)
        events += page.get("events", [])
        token = page.get("next_page_token")
        if not token:
            break
    return events[:limit]


def lineage_graph(
    rest: RestClient, full_name: str, direction: str, depth: int, include_columns: bool
) -> dict[str, Any]:
    """What an object comes from and what comes from it: nodes and edges."""
    if direction not in ("upstream", "downstream", "both"):
        raise StewardError(
            "INVALID_PARAMETER_VALUE", "direction must be upstream, downstream or both", 400
        )
    result: dict[str, Any] = rest.request(
        "GET",
        LINEAGE_PATH,
        params={
            "full_name": full_name,
            "direction": direction,
            "depth": depth,
            "include_columns": str(include_columns).lower(),
        },
    )
    return result
