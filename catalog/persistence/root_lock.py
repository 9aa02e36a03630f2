"""One server process per SQLite storage root.

SQLite serves one machine's processes through one file, and each server keeps its policy
engine and caches in memory, refreshed only by its own writes: a second process on the
same root would keep enforcing grants the first one revoked. So a server on SQLite holds
an exclusive OS lock on ``<storage-root>/steward.lock`` for as long as it runs; the OS
releases it when the process exits or crashes, so a stale lock file never blocks a
restart. (Several servers share one database on PostgreSQL, where changes are published
to every replica.)
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "steward.lock"


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

    def stop(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
