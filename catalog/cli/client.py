"""A small HTTP client for the CLI, reading ``STEWARD_URL`` and ``STEWARD_TOKEN``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiClient:
    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = (url or os.environ.get("STEWARD_URL") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("STEWARD_TOKEN")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=60.0)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method, path, params=clean, json=json, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            fail(f"cannot reach Steward at {self.url}: {exc}")
        if response.status_code >= 400:
            try:
                body = response.json()
                message = f"{body.get('error_code', 'ERROR')}: {body.get('message', '')}"
            except ValueError:
                message = response.text[:500]
            fail(f"{message} (HTTP {response.status_code})")
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

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


def fail(message: str) -> Any:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
