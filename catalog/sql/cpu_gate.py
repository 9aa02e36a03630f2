"""One statement's CPU-bound work at a time in a server process.

Parsing, planning and compiling a statement and tracing its lineage are pure Python: they
hold the interpreter's lock for as long as they run (a 256-column query costs ~0.1–0.2 s).
Four such statements side by side starved every other request of the interpreter (a light
GET went from 6 ms to ~360 ms median). With this gate at most one thread does that work at
a time, so the rest of the service always competes with one statement's CPU, not with
every statement in flight; statements queue behind each other (their own users wait for
each other, not everyone). What does not hold the interpreter is outside the gate: the
database running a query or a write.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_GATE = threading.Lock()
_HELD = threading.local()


@contextmanager
def statement_cpu() -> Iterator[None]:
    """Hold the gate for a block of CPU-bound statement work; re-entrant per thread, so a
    step may call another gated step."""
    if getattr(_HELD, "depth", 0):
        _HELD.depth += 1
        try:
            yield
        finally:
            _HELD.depth -= 1
        return
    with _GATE:
        _HELD.depth = 1
        try:
            yield
        finally:
            _HELD.depth = 0
