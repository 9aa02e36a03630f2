"""One SQLite write transaction at a time, handed from writer to writer by the kernel.

SQLite allows one writer per database file. A second ``BEGIN IMMEDIATE`` does not wait in
a queue: SQLite's busy handler retries it after sleeps of 1, 2, 5, 10 … up to 100 ms. One
writer that commits every few milliseconds (the audit log's group commit does, on every
request) then keeps the others sleeping far longer than the lock is held: with two worker
processes on SQLite, reads (each audited) scaled 1.4× instead of 2×, on two cores that
were not busy.

So writers queue before they begin: threads of one process on a lock, processes (the
workers of ``steward server --workers N``) on an ``flock`` of a file beside the database,
which the kernel hands to the next waiter the moment it is released. SQLite's own lock
still guards the file against anyone who does not take the gate (``steward db upgrade``,
``steward audit verify``), through the busy handler as before.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriterGate:
    """Held around every write transaction on one SQLite file. Reentrant in a thread: a
    block that must exclude other processes (the first start's bootstrap) holds it across
    several transactions of its own."""

    def __init__(self, database_path: Path | None) -> None:
        """``database_path``: the SQLite file; None for an in-memory database, which no
        other process can open (the thread lock alone then)."""
        self._threads = threading.RLock()
        self._depth = threading.local()
        self._path = (
            database_path.with_name(database_path.name + ".writer-lock") if database_path else None
        )
        self._fd: int | None = None
        self._pid: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            depth = getattr(self._depth, "value", 0)
            self._depth.value = depth + 1
            try:
                if depth == 0 and self._path is not None:
                    fd = self._file()
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        yield
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                else:
                    yield
            finally:
                self._depth.value = depth

    def _file(self) -> int:
        """The lock file's descriptor, opened once per process (a descriptor inherited
        through fork would share its lock with the parent)."""
        if self._fd is None or self._pid != os.getpid():
            assert self._path is not None
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


class NoGate:
    """PostgreSQL: writers lock the rows they change and wait for each other there."""

    @contextmanager
    def held(self) -> Iterator[None]:
        yield
