"""The invocation path's TTL cache (registry/serving/cache.py): an entry that just expired
still answers while one background read replaces it; past the grace, or after a failed
read, nothing stale is answered."""

from __future__ import annotations

import threading
import time

from registry.serving.cache import TtlCache


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.005)


def test_an_expired_entry_answers_while_one_background_read_replaces_it() -> None:
    cache: TtlCache[str, int] = TtlCache(0.05, grace=5.0)
    reads: list[str] = []
    gate = threading.Event()
    value = [1]

    def load() -> int:
        reads.append(threading.current_thread().name)
        if len(reads) > 1:
            assert gate.wait(5)
        return value[0]

    assert cache.get("k", load) == 1 and len(reads) == 1
    time.sleep(0.06)
    value[0] = 2
    # Expired: the old value answers, on this thread nothing is read, one refresh runs.
    assert cache.fresh("k") == 1
    assert cache.get("k", load) == 1
    assert cache.fresh("k") == 1
    wait_for(lambda: len(reads) == 2)
    assert reads[1].startswith("steward-cache-refresh")
    gate.set()
    wait_for(lambda: cache.fresh("k") == 2)
    assert len(reads) == 2


def test_past_the_grace_or_after_a_failed_read_nothing_stale_answers() -> None:
    cache: TtlCache[str, int] = TtlCache(0.02, grace=0.02)
    assert cache.get("k", lambda: 1) == 1
    time.sleep(0.06)
    assert cache.fresh("k") is None
    assert cache.get("k", lambda: 3) == 3

    failing: TtlCache[str, int] = TtlCache(0.02, grace=5.0)

    def boom() -> int:
        raise LookupError("gone")

    assert failing.get("k", lambda: 1) == 1
    failing._entries["k"] = (time.monotonic() - 0.01, 1, boom)  # expired, refresh fails
    assert failing.fresh("k") == 1
    wait_for(lambda: failing.fresh("k") is None)
