"""Token verification under concurrency (catalog/identity.py): when a client's concurrent
requests all find its token's cache entry expired at once, one of them reads the token
and the others wait for that read, instead of each opening a database connection (on
SQLite each new pooled connection re-reads the whole schema: the p99 of creates at 32
connections was those stalls, once a second)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event

from catalog.records import PrincipalKind
from catalog.runtime import Runtime
from common.errors import Unauthenticated

CONCURRENT = 16


#: How long each read of a token is held up: time enough for every request to arrive
#: while it is in progress, however slowly the threads are scheduled.
READ_DELAY_SECONDS = 0.3


def _token_reads(runtime: Runtime) -> list[str]:
    """Statements that read the tokens table, as the read engine runs them (each held up
    by :data:`READ_DELAY_SECONDS`)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "tokens" in statement:
            seen.append(statement)
            time.sleep(READ_DELAY_SECONDS)

    event.listen(runtime.db._read_engine, "before_cursor_execute", record)
    return seen


def _all_at_once(call: Any) -> list[Any]:
    start = threading.Barrier(CONCURRENT)

    def run(_: int) -> Any:
        start.wait()
        try:
            return call()
        except Unauthenticated as exc:
            return exc

    with ThreadPoolExecutor(CONCURRENT) as pool:
        return list(pool.map(run, range(CONCURRENT)))


def test_concurrent_requests_with_one_token_read_it_once(runtime: Runtime) -> None:
    principal = runtime.identity.create_principal(PrincipalKind.USER, "reader")
    token = runtime.identity.issue_token(principal, "admin", None, None).value
    reads = _token_reads(runtime)
    callers = _all_at_once(lambda: runtime.identity.authenticate(token))
    assert [c.name for c in callers] == ["reader"] * CONCURRENT
    assert len(reads) == 1


@pytest.mark.parametrize("revoked", [False, True])
def test_a_refusal_is_shared_and_a_revocation_holds(runtime: Runtime, revoked: bool) -> None:
    principal = runtime.identity.create_principal(PrincipalKind.USER, "leaver")
    issued = runtime.identity.issue_token(principal, "admin", None, None)
    runtime.identity.authenticate(issued.value)  # cached
    if revoked:
        runtime.identity.revoke_token(issued.record.id, None)
        token = issued.value
    else:
        token = "dapi-" + "0" * 32
    reads = _token_reads(runtime)
    outcomes = _all_at_once(lambda: runtime.identity.authenticate(token))
    assert all(isinstance(o, Unauthenticated) for o in outcomes), outcomes
    assert {o.message for o in outcomes} == {"invalid or revoked token"}
    assert len(reads) == 1
