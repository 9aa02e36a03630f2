"""Read-your-writes across the worker processes of one SQLite server.

The workers follow each other's policy changes through the change log
(:class:`catalog.access.replica_sync.ChangeLogFollower`), polled four times a second. A
poll alone leaves a window: an admin grants a privilege through one worker, the user's
next request lands on another worker a moment later and is refused, as if the grant had
never been acknowledged. Clients that script a setup (grant, then act as the grantee)
hit that window every time.

So the workers also share a beacon: eight bytes in ``<storage-root>/policy-changes.seq``,
mapped into every worker's memory, holding the number of the last change any worker
has committed and applied. A worker bumps it after applying its own change and before
answering; every request first compares it with what its worker has applied (a memory
read, no system call) and reads the log on the spot when it is behind. A request that
starts after a change was acknowledged is therefore decided with that change, on every
worker. Why a mapped file and not a read of the log per request: the comparison costs
nanoseconds, the log is read only when there is something to read.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from pathlib import Path

BEACON_FILE = "policy-changes.seq"
_SEQ = struct.Struct("<q")


class ChangeBeacon:
    """The shared counter; one per worker process, all mapping the same file."""

    def __init__(self, root: Path) -> None:
        self.path = root / BEACON_FILE
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < _SEQ.size:
            with self._locked():
                if os.fstat(self._fd).st_size < _SEQ.size:
                    os.ftruncate(self._fd, _SEQ.size)
        self._map = mmap.mmap(self._fd, _SEQ.size)

    def latest(self) -> int:
        """The last change applied by any worker."""
        return int(_SEQ.unpack_from(self._map, 0)[0])

    def advance(self, seq: int) -> None:
        """Raise the counter to ``seq``; never lowers it (two workers may race to set it)."""
        if seq <= self.latest():
            return
        with self._locked():
            if seq > self.latest():
                _SEQ.pack_into(self._map, 0, seq)

    def settle(self, expected: int, seq: int) -> None:
        """Lower the counter from ``expected`` to ``seq``, unless it moved meanwhile.

        The file outlives the server: one started later on a new or restored database finds
        a number its log never reached, and every request would read the log. A follower
        that read the whole log *after* seeing ``expected`` and found it ends at ``seq``
        knows no change numbered above ``seq`` was committed, so it settles the counter."""
        with self._locked():
            if self.latest() == expected:
                _SEQ.pack_into(self._map, 0, seq)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def _locked(self) -> _FileLock:
        return _FileLock(self._fd)


class _FileLock:
    """``flock`` held for a read-modify-write of the counter."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
