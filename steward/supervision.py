"""Workers of ``steward server --workers N`` end with the supervisor that started them.

The supervisor holds what the workers share: the listening socket and, on SQLite, the
storage root's lock. A worker left running after its supervisor was killed (``kill -9``,
an OOM kill) would go on serving and writing while the lock is free for another server
to take. So each worker asks Linux to send it SIGTERM when its parent dies
(``PR_SET_PDEATHSIG``), which drains it like any stop, and a worker whose supervisor is
already gone by the time it starts does not start at all.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from catalog.persistence.root_lock import WORKER_OF

#: prctl(2) option: the signal this process gets when its parent thread exits.
PR_SET_PDEATHSIG = 1


def end_with_supervisor() -> None:
    """In a worker (``WORKER_OF`` names its supervisor): SIGTERM when the supervisor dies;
    exit now if it already has. Elsewhere nothing."""
    supervisor = os.environ.get(WORKER_OF)
    if supervisor is None:
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    # Checked after asking, so a supervisor that dies in between is noticed either way.
    if str(os.getppid()) != supervisor:
        print(
            f"error: the server process {supervisor} that started this worker is gone",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1)
