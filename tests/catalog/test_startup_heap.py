"""A started app keeps what it built out of the garbage collector's full walks.

Unfrozen, every full collection of a loaded server walked the whole heap (modules, routes,
caches: 100–140 ms), holding up every request in flight; its p99 latency was those pauses
(benchmarks/README.md). The app's start-up collects once and freezes what is left.
"""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from catalog.http.app import build_app
from catalog.runtime import Runtime
from steward.app import REGISTRY_ROUTERS


def test_the_app_freezes_its_start_up_heap(runtime: Runtime) -> None:
    app = build_app(runtime, REGISTRY_ROUTERS)
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        with TestClient(app):
            frozen = gc.get_freeze_count()
        # At least the app's routes, their dependants and the modules behind them.
        assert frozen > 10_000, frozen
    finally:
        gc.unfreeze()
