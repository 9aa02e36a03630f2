"""How many statements one caller may have in flight at once.

A statement holds a worker thread from its arrival to its answer, and its CPU-bound work
queues behind other statements' (:mod:`catalog.sql.cpu_gate`). Without a cap, one caller
sending many statements at once would fill the worker threads every synchronous route
shares, and everyone would wait for that one caller's queue. With it, the caller's extra
statements fail at once (``REQUEST_LIMIT_EXCEEDED``, audited as 429) and free their
threads; other callers are not affected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from common.errors import TooManyRequests


class StatementAdmission:
    """Counts each caller's statements in flight in this server process."""

    def __init__(self, per_caller: int) -> None:
        self.per_caller = per_caller
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}

    @contextmanager
    def admit(self, caller: str) -> Iterator[None]:
        """Hold one of ``caller``'s places for the block, or refuse when all are taken."""
        with self._lock:
            running = self._in_flight.get(caller, 0)
            if running >= self.per_caller:
                raise TooManyRequests(
                    f"{running} statements of this user are running already, the limit "
                    f"(STEWARD_SQL_MAX_STATEMENTS_PER_USER); wait for one to finish"
                )
            self._in_flight[caller] = running + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._in_flight[caller] - 1
                if left:
                    self._in_flight[caller] = left
                else:
                    del self._in_flight[caller]
