"""One walk of the audit chain at a time per process, shared by whoever asks meanwhile.

A walk (:func:`catalog.audit.verify.verify`) is CPU-bound and as long as the log (about
45 µs an event on a small VM), so a caller asking for it repeatedly, or many at once,
could keep a worker busy. Callers asking while a walk runs wait for it — on the event
loop, holding no worker thread — and share its answer, and an answer younger than
:data:`REUSE_SECONDS` is given again; the answer itself says when its walk ran.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

#: A walk finished less than this many seconds ago answers who asks after it.
REUSE_SECONDS = 2.0

T = TypeVar("T")


class SharedWalks(Generic[T]):
    def __init__(self) -> None:
        self._running: asyncio.Future[T] | None = None
        self._finished_at = 0.0
        self._last: T | None = None

    async def answer(self, walk: Callable[[], T]) -> T:
        """The answer of ``walk`` run on a worker thread now, or of the one in progress,
        or of one that finished within :data:`REUSE_SECONDS`."""
        if self._last is not None and time.monotonic() - self._finished_at < REUSE_SECONDS:
            return self._last
        if self._running is None:
            self._running = asyncio.ensure_future(run_in_threadpool(walk))
        running = self._running
        try:
            return await asyncio.shield(running)
        finally:
            if running.done() and self._running is running:
                self._running = None
                if not running.cancelled() and running.exception() is None:
                    self._last, self._finished_at = running.result(), time.monotonic()
