"""The peer of ``benchmarks/api.py``: the framework's ceiling for Steward's metadata API.

A FastAPI app on the same uvicorn stack that does the least a real API must do per
request: match the route, authenticate the bearer token (a SHA-256 digest compared in
constant time, as Steward stores tokens) and answer. What it answers is Steward's own
answer to the same request, recorded by the benchmark before the run, so both sides send
the same bytes. Nothing is authorized, audited or read from a database: the distance
between this and Steward is what Steward's own work costs.

Started by the benchmark as ``uvicorn benchmarks.bare_api:create_app --factory`` with
``BARE_API_ANSWERS`` naming a JSON file of ``[{"method", "path", "status", "body"}]`` and
``BARE_API_TOKEN_SHA256`` the token's digest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response

UNAUTHENTICATED = b'{"error_code":"UNAUTHENTICATED","message":"invalid or revoked token"}'


def answer_route(status: int, body: bytes, digest: str) -> Callable[[Request], Awaitable[Response]]:
    """A handler answering ``body`` to a request that carries the token of ``digest``."""

    async def handler(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        given = hashlib.sha256(token.strip().encode()).hexdigest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, digest):
            return Response(UNAUTHENTICATED, status_code=401, media_type="application/json")
        if request.method != "GET":
            await request.body()  # read, as any handler of a body does
        return Response(body, status_code=status, media_type="application/json")

    return handler


def create_app() -> FastAPI:
    answers = json.loads(Path(os.environ["BARE_API_ANSWERS"]).read_text())
    digest = os.environ["BARE_API_TOKEN_SHA256"]
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for answer in answers:
        app.add_api_route(
            answer["path"],
            answer_route(answer["status"], answer["body"].encode(), digest),
            methods=[answer["method"]],
        )
    return app
