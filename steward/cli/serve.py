"""Run the server with uvicorn and say where it listens.

Imported only by ``steward server``, so the client commands never load uvicorn.
"""

from __future__ import annotations

import math
import os
import signal
import socket
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from uvicorn.supervisors import Multiprocess

from catalog.config import Settings
from catalog.logs import get_logger
from catalog.persistence.root_lock import WORKER_OF, RootLock
from steward.app import prepare_storage_root


def serve(app: FastAPI, settings: Settings) -> None:
    """Serve ``app`` until stopped; quiet uvicorn (Steward logs its own requests).

    SIGTERM or SIGINT drains: the listening socket closes at once (a load balancer sends
    new requests to another replica), requests in flight finish for up to
    ``shutdown_seconds``, then the app's shutdown writes the audit checkpoint and the
    process exits 0."""
    config = uvicorn_config(app, settings)
    # uvicorn re-raises the signal it drained for, with the handler that was there before
    # it: make that a clean exit, as an orchestrator expects of a requested stop.
    signal.signal(signal.SIGTERM, _stopped_on_request)
    AnnouncingServer(config, settings).run()


def serve_workers(settings: Settings) -> None:
    """Serve with ``settings.workers`` processes on one socket (uvicorn's supervisor), each
    building the app from the environment (``steward.app:create_app``) as a replica of the
    others: they share the database and follow each other's grant changes (NOTIFY on
    PostgreSQL, the change log on SQLite, whose storage root the supervisor holds). The
    settings the command resolved (flags included) reach the workers through their
    ``STEWARD_*`` variables."""
    if settings.resolved_database_url.startswith("sqlite"):
        # The supervisor holds the storage root for its workers, and for them only.
        prepare_storage_root(settings.storage_root)
        RootLock(settings.storage_root).acquire()  # released when this process exits
    os.environ[WORKER_OF] = str(os.getpid())  # workers end with this process
    os.environ.update(
        {
            "STEWARD_HOST": settings.host,
            "STEWARD_PORT": str(settings.port),
            "STEWARD_DATABASE_URL": settings.resolved_database_url,
            "STEWARD_STORAGE_ROOT": str(settings.storage_root),
            "STEWARD_LOG_FORMAT": settings.log_format,
            "STEWARD_WORKERS": "1",  # each worker is one process
        }
    )
    config = uvicorn_config(
        "steward.app:create_app", settings, factory=True, workers=settings.workers
    )
    socket_ = config.bind_socket()
    announce_listening(settings, int(socket_.getsockname()[1]))
    # The supervisor passes SIGTERM on to the workers, which drain as one server does.
    Supervisor(config, sockets=[socket_]).run()


class Supervisor(Multiprocess):
    """uvicorn's supervisor, which stops listening before its workers drain and passes
    every stop signal on to them.

    The supervisor keeps its own copy of the listening socket. Left open while the workers
    drain, the port would go on completing connections that no process accepts any more:
    a load balancer's request would wait there for the whole drain and then be reset,
    instead of being refused at once and sent to another replica. And a second SIGTERM
    while the workers wait out ``STEWARD_SHUTDOWN_DELAY_SECONDS`` must reach them (it
    means: stop now), where uvicorn's supervisor would only queue it."""

    def terminate_all(self) -> None:
        for socket_ in self.sockets:
            socket_.close()
        super().terminate_all()

    def join_all(self) -> None:
        for process in self.processes:
            while process.process.exitcode is None:
                process.process.join(timeout=0.2)
                if self.signal_queue:
                    self.signal_queue.clear()
                    for worker in self.processes:
                        if worker.process.exitcode is None and worker.pid is not None:
                            os.kill(worker.pid, signal.SIGTERM)


def uvicorn_config(app: FastAPI | str, settings: Settings, **more: Any) -> uvicorn.Config:
    """uvicorn quiet (Steward logs its own requests and where it listens), with the drain
    bound of the settings; ``more``: the workers' factory and count."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_seconds) or None,
        **more,
    )


def _stopped_on_request(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, logging where it listens once the socket is bound.

    uvicorn's own ``Uvicorn running on …`` is at info level, which is kept quiet; this
    line goes through Steward's logger like every other, and only after the bind
    succeeded (a port in use stays uvicorn's error, with no false announcement).
    """

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            port = int(self.servers[0].sockets[0].getsockname()[1])  # the real one for port 0
            announce_listening(self.settings, port)


def announce_listening(settings: Settings, port: int) -> None:
    """One log line: the URL, the database (password masked) and the storage root."""
    url = listening_url(settings.host, port)
    database = masked_database_url(settings.resolved_database_url)
    get_logger("steward.server").info(
        f"Steward listening on {url} (database: {database}, storage: {settings.storage_root})",
        url=url,
    )


def listening_url(host: str, port: int) -> str:
    """``http://host:port``, an IPv6 host in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def masked_database_url(url: str) -> str:
    """The database URL with its password (if any) shown as ``***``: never a secret in a log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable database URL)"
