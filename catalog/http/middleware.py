"""ASGI middleware: a request id on every log line and response, and a cap on body size.

Both are plain ASGI so they see chunked bodies and streamed responses alike.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from catalog.logs import REQUEST_ID, get_logger
from common.errors import Unauthenticated
from common.ids import random_hex

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = b"x-request-id"
log = get_logger("steward.http")


class RequestContextMiddleware:
    """Assigns a request id, binds it for structlog, returns it, and logs one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = random_hex()
        scope.setdefault("state", {})["request_id"] = request_id
        bound = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            REQUEST_ID.reset(bound)


#: ``openapi_extra`` key of routes that stream their body to disk and enforce their own
#: size limits (artifact uploads): the body limit and the audit's body capture skip them.
STREAMED_BODY = "x-steward-streamed-body"


def streams_body(route: Any) -> bool:
    extra = getattr(route, "openapi_extra", None)
    return bool(extra and extra.get(STREAMED_BODY))


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, whether announced or streamed.

    ``exempt``: (path regex, methods) of routes marked :data:`STREAMED_BODY`.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        exempt: Sequence[tuple[re.Pattern[str], frozenset[str]]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.exempt
            and any(
                scope["method"] in methods and pattern.match(scope["path"])
                for pattern, methods in self.exempt
            )
        ):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await send_error(scope, send, 413, "REQUEST_LIMIT_EXCEEDED", self._message)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched
                    # and reaches the error handlers as a 413.
                    raise HTTPException(413, self._message)
            return message

        await self.app(scope, limited_receive, send)

    @property
    def _message(self) -> str:
        return f"request body exceeds the limit of {self.max_bytes} bytes"


async def send_error(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    """Answer with Steward's error body straight from ASGI, before any route runs."""
    state = scope.get("state", {})
    request_id = state.get("request_id", "")
    audit = state.get("audit")
    if audit is not None:  # the audit event says why (see catalog.http.request_audit)
        audit.params["_error"] = f"{code}: {message}"
    body = orjson.dumps({"error_code": code, "message": message, "request_id": request_id})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HeaderLimitMiddleware:
    """Refuses a request whose headers together exceed ``max_bytes`` with 431, before the
    token is hashed or looked up: a 16 MB ``Authorization`` header costs no more than a
    short one. (The HTTP parser has read the headers by then; this bounds what Steward
    does with them.) Installed inside the audit middleware, so the refusal is audited."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", []))
            if size > self.max_bytes:
                message = (
                    f"request headers total {size} bytes, over the limit of {self.max_bytes} "
                    "(STEWARD_MAX_HEADER_BYTES)"
                )
                await send_error(scope, send, 431, "REQUEST_LIMIT_EXCEEDED", message)
                return
        await self.app(scope, receive, send)


class AuthenticationMiddleware:
    """Authenticates every request before routing, so nothing about a route or its body is
    revealed to a caller without a valid token. The caller lands in ``request.state.caller``.

    ``authenticate`` maps a bearer token to a caller or raises
    :class:`common.errors.Unauthenticated`; it is resolved from the app state lazily so
    the middleware can be installed before the runtime exists.
    """

    def __init__(self, app: ASGIApp, public_paths: frozenset[str]) -> None:
        self.app = app
        self.public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        authorizations = [v for n, v in scope.get("headers", []) if n == b"authorization"]
        if len(authorizations) > 1:
            # Which one would count is up to each proxy on the way; answer none of them.
            message = (
                f"the request carries {len(authorizations)} Authorization headers; send exactly one"
            )
            await send_error(scope, send, 400, "INVALID_PARAMETER_VALUE", message)
            return
        token = _bearer_token(authorizations[0]) if authorizations else None
        runtime = scope["app"].state.runtime
        feed = runtime.authorizer.feed
        if feed.behind():
            # Another worker acknowledged a change before this request arrived: decide
            # (and resolve the caller's groups) with it (catalog/access/change_beacon.py).
            await run_in_threadpool(feed.catch_up)
        try:
            # A token verified within the last second needs no database read, so no
            # worker thread either; the others are read on one.
            caller = runtime.identity.cached(token) if token else None
            if caller is None:
                caller = await run_in_threadpool(runtime.identity.authenticate, token)
        except Unauthenticated as exc:
            await send_error(scope, send, 401, exc.error_code, exc.message)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


def _bearer_token(authorization: bytes) -> str | None:
    scheme, _, credentials = authorization.decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None
