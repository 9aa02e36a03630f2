"""The console's way into the API: in-process HTTP calls as the signed-in user.

Each call goes through the whole app — request id, audit, authentication, the route's
guard — exactly as a call over the network would, with the session's token and the
browser's user agent (marked as the console's) and address. Nothing is cached: the page
shows what the API answers now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from catalog.http.middleware import ASGIApp

#: Added to the browser's user agent in audit events.
CONSOLE_AGENT = "steward-console/1"


class ApiError(Exception):
    """A non-2xx answer of the API: shown to the user as the API said it."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True)
class Api:
    """The API as one signed-in user reaches it from the console."""

    app: ASGIApp
    token: str | None
    user_agent: str
    client: tuple[str, int]

    def _client(self) -> httpx.AsyncClient:
        headers = {"user-agent": f"{self.user_agent} {CONSOLE_AGENT}".strip()}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        transport = httpx.ASGITransport(app=self.app, client=self.client)  # type: ignore[arg-type]
        return httpx.AsyncClient(
            transport=transport, base_url="http://console.local", headers=headers, timeout=60
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        token: str | None = None,
    ) -> Any:
        """The decoded JSON answer; :class:`ApiError` for an error answer. ``token``
        overrides the session's (sign-in calls with the personal access token)."""
        async with self._client() as client:
            headers = {"authorization": f"Bearer {token}"} if token else None
            response = await client.request(
                method, path, params=_clean(params), json=json, headers=headers
            )
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = None
        if response.status_code >= 400:
            detail = body if isinstance(body, dict) else {}
            raise ApiError(
                response.status_code,
                str(detail.get("error_code", "ERROR")),
                str(detail.get("message", response.text[:500])),
            )
        return body

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def sql(self, statement: str, **fields: Any) -> dict[str, Any]:
        """A statement through the SQL endpoint; the whole answer (state, error, result)."""
        body = {"statement": statement, "wait_timeout": "50s", **fields}
        answer = await self.call("POST", "/api/2.0/sql/statements", json=body)
        return answer if isinstance(answer, dict) else {}

    async def rows(self, statement: str, **fields: Any) -> list[dict[str, Any]]:
        """The rows of a statement that must succeed, as dicts by column name."""
        answer = await self.sql(statement, **fields)
        status = answer.get("status", {})
        if status.get("state") != "SUCCEEDED":
            error = status.get("error", {})
            raise ApiError(400, error.get("error_code", "ERROR"), error.get("message", ""))
        columns = [c["name"] for c in answer["manifest"]["schema"]["columns"]]
        data = answer.get("result", {}).get("data_array", [])
        return [dict(zip(columns, row, strict=True)) for row in data]


def _clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None and v != ""}
