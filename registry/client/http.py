"""The one HTTP client of Steward's tools: the Python client and the CLI both talk through it.

It reads ``STEWARD_URL`` and ``STEWARD_TOKEN`` when not given them, sends the token as a
bearer header, retries a request whose connection could not be made (httpx's transport
retries only connection failures, so nothing is ever sent twice), and turns every error
answer into :class:`~registry.client.errors.StewardError` with the server's error code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from registry.client.errors import StewardError

DEFAULT_URL = "http://127.0.0.1:8080"
#: Connection attempts retried (with httpx's exponential back-off) before giving up.
CONNECT_RETRIES = 3
UC = "/api/2.1/unity-catalog"
STEWARD = "/api/2.1/steward"


def quote_part(name: str) -> str:
    """A name as one path segment (dots stay, slashes and the rest are escaped)."""
    return quote(name, safe="")


class RestClient:
    """Steward's REST API with the caller's token; ``request`` answers the decoded JSON."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 120.0,
        retries: int = CONNECT_RETRIES,
    ) -> None:
        self.url = (url or os.environ.get("STEWARD_URL") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("STEWARD_TOKEN")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=timeout,
            transport=httpx.HTTPTransport(retries=retries),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send one request; ``params`` set to None are left out. 204 or no body is ``{}``."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=clean, **kwargs)
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from exc
        raise_for(response)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    @contextmanager
    def stream(self, method: str, path: str) -> Iterator[httpx.Response]:
        """A streamed answer (downloads), already checked for an error status; a broken
        transfer raises httpx's error for the caller to name."""
        with self._http.stream(method, path) as response:
            if response.status_code >= 400:
                response.read()
                raise_for(response)
            yield response

    def unreachable(self, exc: Exception) -> StewardError:
        return StewardError("UNAVAILABLE", f"cannot reach Steward at {self.url}: {exc}")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params)

    def pages(self, path: str, key: str, limit: int, **params: Any) -> Iterator[dict[str, Any]]:
        """Follow ``next_page_token`` until ``limit`` items or the end."""
        token: str | None = None
        seen = 0
        while True:
            body = self.get(path, page_token=token, **params)
            for item in body.get(key, []):
                yield item
                seen += 1
                if seen >= limit:
                    return
            token = body.get("next_page_token")
            if not token:
                return


def raise_for(response: httpx.Response) -> None:
    """Raise the server's error (code, message, request id) for an error status."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    raise StewardError(
        str(body.get("error_code") or "HTTP_ERROR"),
        str(body.get("message") or response.text[:500]),
        response.status_code,
        body.get("request_id"),
    )
