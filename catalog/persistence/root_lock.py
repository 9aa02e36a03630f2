"""One server process per SQLite storage root.

SQLite serves one machine's processes through one file, and each server keeps its policy
engine and caches in memory, refreshed only by its own writes: a second process on the
same root would keep enforcing grants the first one revoked. So a server on SQLite holds
an exclusive OS lock on ``<storage-root>/steward.lock`` for as long as it runs; the OS
releases it when the process exits or crashes, so a stale lock file never blocks a
restart. A server's own worker processes (``steward server --workers N``) share the root:
the supervisor holds the lock and its workers follow each other's changes through the
change log (:class:`catalog.access.replica_sync.ChangeLogFollower`). (Several servers share
one database on PostgreSQL, where changes are published to every replica.)
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "steward.lock"
#: Set by ``steward server --workers N`` for its workers: the pid of the supervisor that
#: holds the lock (not a ``STEWARD_`` setting: nothing to configure).
WORKER_OF = "_STEWARD_WORKER_OF"


class StorageRootInUse(RuntimeError):
    """Another live process holds the storage root."""


class RootLock:
    """The held lock; :meth:`stop` releases it (the runtime stops it at shutdown)."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RootLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StorageRootInUse(
                f"storage root {self.path.parent} is in use by another Steward server "
                f"(pid {holder}); stop it first, or run several servers on PostgreSQL"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def acquire_or_join_parent(self) -> RootLock:
        """:meth:`acquire`, unless this process is a worker of the server holding the lock:
        its parent, named by :data:`WORKER_OF`, wrote its pid into the held lock file. A
        server's own workers share the root; any other process is refused as before."""
        parent = os.environ.get(WORKER_OF)
        if parent is None or parent != str(os.getppid()):
            return self.acquire()
        try:
            holder = self.path.read_text().strip()
        except OSError:
            holder = ""
        if holder != parent or not self._held_elsewhere():
            return self.acquire()  # the parent does not hold it: take it, or be refused
        return self  # nothing held here: the parent's lock covers its workers

    def _held_elsewhere(self) -> bool:
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def stop(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
