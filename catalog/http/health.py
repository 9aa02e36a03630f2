"""Liveness and readiness, for load balancers and orchestrators.

``GET /health/live``: the process answers. ``GET /health/ready``: this server can serve
correctly now — its database answers, the database's schema is the one this server's
code needs (not mid-migration, not ahead of or behind it), and on PostgreSQL its policy
engine follows the other replicas' (or workers') grant changes. Otherwise 503 with the reason, so a
load balancer takes the server out of rotation until it can answer right.

They answer before everything else (:class:`HealthMiddleware` is the outermost layer):
no token is needed, nothing is audited, and no access line is logged at the default
level (a load balancer probing every second would drown the log); they log at debug.
They say nothing about any object, so answering them unauthenticated reveals nothing.

A server told to stop (SIGTERM) behind a load balancer first leaves the rotation, if
``STEWARD_SHUTDOWN_DELAY_SECONDS`` asks for it: readiness answers 503 while every other
request is still served, and only after the delay does the server stop listening and
drain (:func:`leave_rotation_on_sigterm`). Closing at once would race the balancer, which
goes on sending requests until its checks notice: a connection it opened just as the
server closed, or an idle one it reused just as the server dropped it, ends without an
answer, and a balancer cannot safely send a POST again elsewhere.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import orjson
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.access.replica_sync import ChangeLogFollower, PolicyListener
from catalog.logs import get_logger
from catalog.runtime import Runtime

LIVE = "/health/live"
READY = "/health/ready"
HEALTH_PATHS = frozenset({LIVE, READY})

log = get_logger("steward.health")


class Readiness:
    """What stops this server from serving correctly right now, if anything.

    Made when the app is built, right after the server upgraded its database: the schema
    revisions stored then are the ones this server's code needs, and any other set later
    means a migration is pending or running (another version's server upgrading)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.revisions = self._stored_revisions()
        #: Set on SIGTERM when the server leaves the rotation before it stops.
        self.stopping = False

    def _stored_revisions(self) -> frozenset[str]:
        with self.runtime.db.read() as session:
            rows = session.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return frozenset(rows)

    def problem(self) -> str | None:
        if self.stopping:
            return "the server is stopping"
        try:
            found = self._stored_revisions()
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            return f"the database does not answer ({type(cause).__name__})"
        if found != self.revisions:
            return (
                f"the database schema is at {', '.join(sorted(found)) or 'nothing'}; this "
                f"server runs {', '.join(sorted(self.revisions))}: a migration is pending "
                "or running"
            )
        for task in self.runtime.background:
            if isinstance(task, PolicyListener | ChangeLogFollower) and not task.current:
                return "the policy engine is not following the other processes' grant changes"
        return None


def leave_rotation_on_sigterm(readiness: Readiness, delay_seconds: float) -> None:
    """Make the first SIGTERM mark ``readiness`` stopping and stop the server
    ``delay_seconds`` later; a second SIGTERM (or SIGINT, untouched) stops it at once.

    Called from the app's startup, when uvicorn (one process, or each worker of
    ``--workers``) has installed its own signal handlers: the stop it does later is
    uvicorn's own (stop listening, drain, the app's shutdown). Nothing is installed with a
    delay of 0, or off the main thread (an app run in a test client)."""
    if delay_seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return
    stop_now = signal.getsignal(signal.SIGTERM)
    if not callable(stop_now):
        return

    timers: list[threading.Timer] = []

    def stop_later(signum: int, frame: FrameType | None) -> None:
        if timers:  # asked again: no more waiting
            timers[0].cancel()
            stop_now(signum, frame)
            return
        readiness.stopping = True
        log.info("leaving_rotation", stopping_in_seconds=delay_seconds)
        timers.append(threading.Timer(delay_seconds, stop_now, (signum, frame)))
        timers[0].daemon = True
        timers[0].start()

    signal.signal(signal.SIGTERM, stop_later)


class HealthMiddleware:
    """Answers :data:`LIVE` and :data:`READY`; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, readiness: Readiness) -> None:
        self.app = app
        self.readiness = readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, scope, 405, {"status": "method not allowed"}, allow=True)
            return
        if scope["path"] == LIVE:
            await _answer(send, scope, 200, {"status": "live"})
            return
        problem = await run_in_threadpool(self.readiness.problem)
        if problem is None:
            await _answer(send, scope, 200, {"status": "ready"})
        else:
            log.debug("not_ready", reason=problem)
            await _answer(send, scope, 503, {"status": "unavailable", "reason": problem})


async def _answer(
    send: Send, scope: Scope, status: int, body: dict[str, str], allow: bool = False
) -> None:
    payload = orjson.dumps(body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if allow:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send(
        {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else payload}
    )
    log.debug("health", path=scope["path"], status=status)
