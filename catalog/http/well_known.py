"""``GET /.well-known/databricks-config``: the Databricks SDKs' start-up probe.

Every ``WorkspaceClient`` asks this path, without a token, before anything else, for
the host's metadata (OIDC endpoint, workspace and account ids). Refused, the SDK logs a
warning on every start and the refusal would be an unauthenticated request in the audit
log each time. Steward has none of that metadata, so it answers ``{}``: the SDK then
uses the host and token it was given, as it would have anyway (docs/clients.md).

Answered like the health probes, before everything else: no token, no audit event, no
access line at the default level. The answer is a constant, the same for everyone, so
answering it unauthenticated reveals nothing, not even whether anything exists. Leaving
out ``workspace_id`` matters: the SDK would send it as a header on every call.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.logs import get_logger

DATABRICKS_CONFIG = "/.well-known/databricks-config"
_BODY = b"{}"

log = get_logger("steward.http")


class WellKnownMiddleware:
    """Answers :data:`DATABRICKS_CONFIG`; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != DATABRICKS_CONFIG:
            await self.app(scope, receive, send)
            return
        allowed = scope["method"] in ("GET", "HEAD")
        body = _BODY if allowed else b'{"error_code":"BAD_REQUEST","message":"use GET"}'
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if not allowed:
            headers.append((b"allow", b"GET, HEAD"))
        status = 200 if allowed else 405
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
        log.debug("well_known", path=scope["path"], status=status)
