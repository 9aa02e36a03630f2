"""PostgreSQL: a change's NOTIFY (what the policy feed tells the other replicas) goes with
the audit event that closes its transaction, one statement instead of two
(``offer_notification`` in catalog/persistence/engine.py, ``append_alone``'s
``notification``). Whatever way the transaction ends — the event written in that one
statement, written the long way because the lanes it tried were taken, or something
published after the event's statement — listeners get every op the change published, and
nothing when it rolls back."""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from catalog.access.replica_sync import CHANNEL, grant_op, revoke_op
from catalog.audit import log as chain
from catalog.audit.recorder import AuditScope, enter_scope, leave_scope
from catalog.persistence.engine import carried_notification, write_last
from catalog.runtime import Runtime
from tests.catalog.in_process import an_event


class _Listener:
    """A replica's view: a LISTEN connection of its own."""

    def __init__(self, runtime: Runtime) -> None:
        url = make_url(runtime.db.url).set(drivername="postgresql")
        self.conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    def ops(self, seconds: float = 1.0) -> list[list[list[Any]]]:
        """The ops of each notification that arrives within ``seconds``."""
        return [
            orjson.loads(note.payload)["ops"]
            for note in self.conn.notifies(timeout=seconds, stop_after=None)
        ]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def listener(runtime: Runtime) -> Any:
    if runtime.db.backend != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    found = _Listener(runtime)
    yield found
    found.close()


def _grant(i: int) -> list[Any]:
    return grant_op(f"p{i}", "s", "SELECT")


def test_the_notify_goes_with_the_closing_event(runtime: Runtime, listener: _Listener) -> None:
    feed = runtime.authorizer.feed
    with runtime.db.transaction() as session:
        feed.publish(session, [_grant(1)])
        feed.publish(session, [_grant(2)])
        chain.append(session, an_event(request_id="r-carried"))
        assert carried_notification(session) == feed._notification([_grant(1), _grant(2)])
    assert listener.ops() == [[_grant(1), _grant(2)]]


def test_ops_published_after_the_closing_event_are_sent_too(
    runtime: Runtime, listener: _Listener
) -> None:
    feed = runtime.authorizer.feed
    with runtime.db.transaction() as session:
        feed.publish(session, [_grant(1)])
        chain.append(session, an_event(request_id="r-late"))
        feed.publish(session, [revoke_op("p1", "s", "SELECT")])
    received = listener.ops()
    # The closing statement's, then one with everything (ops apply idempotently).
    assert received == [[_grant(1)], [_grant(1), revoke_op("p1", "s", "SELECT")]]


def test_what_hooks_registered_later_publish_goes_with_the_event(
    runtime: Runtime, listener: _Listener
) -> None:
    """A hook added after the audit recorder (the registry's, which publishes when a model
    version or alias changed) still runs before the event's statement: one NOTIFY with
    everything, carried by that statement."""
    feed = runtime.authorizer.feed
    carried: list[object] = []

    def publishes_late(session: Any) -> None:
        if session.info.get("late"):
            feed.publish(session, [_grant(5)])

    def looks(session: Any) -> None:
        carried.append(carried_notification(session))

    runtime.db.before_commit.append(publishes_late)
    token = enter_scope(AuditScope(request_id="r-late-hook", action_name="updatePermissions"))
    try:
        with runtime.db.transaction() as session:
            session.info["late"] = True
            feed.publish(session, [_grant(4)])
            write_last(session, looks)
    finally:
        leave_scope(token)
        runtime.db.before_commit.remove(publishes_late)
    assert carried == [feed._notification([_grant(4), _grant(5)])]
    assert listener.ops() == [[_grant(4), _grant(5)]]


def test_the_lanes_taken_the_event_takes_the_long_way_and_notifies_once(
    runtime: Runtime, listener: _Listener
) -> None:
    """Every lane held by another transaction: the one statement writes nothing (and so
    sends nothing, or a NOTIFY PostgreSQL folds with the one sent after), the event
    waits for a lane, and the change is announced once."""
    feed = runtime.authorizer.feed
    done = threading.Event()

    def change() -> None:
        with runtime.db.transaction() as session:
            feed.publish(session, [_grant(7)])
            chain.append(session, an_event(request_id="r-long-way"))
            assert carried_notification(session) is None
        done.set()

    with runtime.db.engine.connect() as holder:
        holder.execute(text("SELECT lane FROM audit_lanes FOR UPDATE"))
        changer = threading.Thread(target=change)
        changer.start()
        time.sleep(0.4)
        assert not done.is_set()  # waiting for a lane
        holder.rollback()
    changer.join(timeout=10)
    assert done.is_set()
    assert listener.ops() == [[_grant(7)]]


def test_a_change_rolled_back_notifies_nothing(runtime: Runtime, listener: _Listener) -> None:
    feed = runtime.authorizer.feed
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        feed.publish(session, [_grant(9)])
        chain.append(session, an_event(request_id="r-undone"))
        raise RuntimeError("the change fails after its event's statement")
    assert listener.ops(0.5) == []


def test_a_grant_notifies_once(runtime: Runtime, listener: _Listener) -> None:
    """The everyday change, in process: a GRANT's ops reach a listener once."""
    from catalog.access.grants import PrivilegeChange
    from catalog.namespace import NewSecurable
    from policy.securables import SecurableType
    from tests.catalog.in_process import admin

    caller = admin(runtime)
    runtime.namespace.create(caller, NewSecurable(SecurableType.CATALOG, "n"))
    runtime.identity.create_principal("GROUP", "g")
    listener.ops(0.3)  # what the setup announced
    catalog = runtime.namespace.get(SecurableType.CATALOG, "n")
    runtime.grants.update(
        caller, SecurableType.CATALOG, "n", [PrivilegeChange("g", add=["USE CATALOG"])]
    )
    assert listener.ops() == [[grant_op("g", catalog.id, "USE CATALOG")]]


def test_a_process_applies_its_own_change_once_and_another_replicas_from_its_notify(
    runtime: Runtime, listener: _Listener
) -> None:
    """The feed applies a change when it commits; the process's own listener gets its
    NOTIFY too and skips it (applied again it came late, after any change made since),
    while another replica's arrives only by NOTIFY and is applied."""
    feed = runtime.authorizer.feed
    seen: list[tuple[str, ...]] = []
    feed.hooks["count~"] = lambda *args: seen.append(args)
    with runtime.db.transaction() as session:
        feed.publish(session, [["count~", "own"]])
    assert seen == [("own",)]  # at commit
    assert listener.ops() == [[["count~", "own"]]]  # and announced to the others
    theirs = orjson.dumps({"origin": "another-replica", "ops": [["count~", "theirs"]]})
    with runtime.db.single_statement() as connection:
        connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": theirs.decode()},
        )
    deadline = time.monotonic() + 5
    while ("theirs",) not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
    # Delivered in commit order: by now the own NOTIFY has been read, and skipped.
    assert seen == [("own",), ("theirs",)]
