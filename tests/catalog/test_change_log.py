"""The SQLite change log the workers of one server follow, and the beacon beside it
(catalog/access/replica_sync.py, catalog/access/change_beacon.py), in process: several
followers on one database stand for several workers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from catalog.access import replica_sync
from catalog.access.change_beacon import ChangeBeacon
from catalog.access.replica_sync import ChangeLogFollower, PolicyFeed, member_added_op
from catalog.persistence.engine import Database
from catalog.persistence.migrate import upgrade
from catalog.persistence.schema import PolicyChange
from policy.enforcer import PolicyEngine


@pytest.fixture
def db(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'steward.db'}"
    upgrade(url)
    return Database(url)


def worker(db: Database, root: Path) -> tuple[PolicyFeed, ChangeLogFollower]:
    """One worker's feed and follower, as ``steward.app.start`` wires them."""
    engine = PolicyEngine()
    feed = PolicyFeed(engine, "sqlite")
    feed.follower = ChangeLogFollower(
        db, engine, ChangeLogFollower.last_seq(db), ChangeBeacon(root)
    )
    return feed, feed.follower


def commit(db: Database, feed: PolicyFeed, member: str, group: str) -> None:
    ops = [member_added_op(member, group)]
    with db.transaction() as session:
        feed.publish(session, ops)
    feed.applied(ops)


def test_a_change_acknowledged_by_one_worker_is_seen_by_the_next_request_on_another(
    db: Database, tmp_path: Path
) -> None:
    first, _ = worker(db, tmp_path)
    second, follower = worker(db, tmp_path)
    assert not second.behind()
    commit(db, first, "ann", "analysts")
    # Nothing polled: the second worker knows from the beacon that it is behind.
    assert second.behind()
    assert "analysts" not in follower.engine.groups("ann")
    second.catch_up()
    assert not second.behind()
    assert "analysts" in follower.engine.groups("ann")


def test_pruning_the_log_never_restarts_its_numbering(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite numbers a row one past the largest left: an emptied log would number the
    next change 1, below where every follower stands, and nobody would apply it."""
    first, writer_follower = worker(db, tmp_path)
    second, follower = worker(db, tmp_path)
    for name in ("a", "b", "c"):
        commit(db, first, name, "old")
    second.catch_up()
    with db.transaction() as session:  # every change older than the log is kept
        session.execute(update(PolicyChange).values(created_at=0))
    monkeypatch.setattr(replica_sync, "KEEP_CHANGES_SECONDS", 0.0)
    writer_follower._prune()
    assert ChangeLogFollower.last_seq(db) == follower.after  # the newest row stays
    commit(db, first, "dan", "new")
    second.catch_up()
    assert "new" in follower.engine.groups("dan")


def test_a_beacon_left_by_an_earlier_server_settles_on_the_first_read(
    db: Database, tmp_path: Path
) -> None:
    ChangeBeacon(tmp_path).advance(1_000)  # a database since replaced
    feed, follower = worker(db, tmp_path)
    assert feed.behind()
    feed.catch_up()
    assert not feed.behind()
    assert follower.beacon is not None and follower.beacon.latest() == follower.after
    commit(db, feed, "eve", "analysts")
    assert follower.beacon.latest() == ChangeLogFollower.last_seq(db)


def test_the_beacon_only_moves_forward_between_workers(tmp_path: Path) -> None:
    one, other = ChangeBeacon(tmp_path), ChangeBeacon(tmp_path)
    one.advance(7)
    other.advance(5)  # a worker that applied less, writing late
    assert (one.latest(), other.latest()) == (7, 7)
    other.settle(6, 2)  # settles only from the value it read
    assert one.latest() == 7


def publish(db: Database, feed: PolicyFeed, member: str, group: str) -> tuple[list, int]:
    """Commit a change through ``feed``; its ops and its entry's number in the log."""
    ops = [member_added_op(member, group)]
    with db.transaction() as session:
        feed.publish(session, ops)
    return ops, session.info[replica_sync.PUBLISHED_SEQ]  # written at commit


def test_a_worker_applies_its_own_next_change_without_reading_the_log(
    db: Database, tmp_path: Path
) -> None:
    first, first_follower = worker(db, tmp_path)
    second, second_follower = worker(db, tmp_path)
    ops, seq = publish(db, first, "ann", "analysts")
    # Emptied in the log before it is applied: only the change in hand can apply it.
    with db.transaction() as session:
        session.execute(update(PolicyChange).values(payload='{"ops": []}'))
    first.applied(ops, seq)
    assert "analysts" in first_follower.engine.groups("ann")
    assert first_follower.after == seq
    assert second.behind()  # the beacon moved as after a read

    # The second worker has not applied the first's change, so its own is not next:
    # it reads the log (the first's row, emptied above, and its own).
    ops, seq = publish(db, second, "bob", "analysts")
    assert not second_follower.apply_own(seq, ops)
    assert "analysts" not in second_follower.engine.groups("bob")
    second.applied(ops, seq)
    assert "analysts" in second_follower.engine.groups("bob")
    assert second_follower.after == seq


def test_a_transaction_is_one_entry_however_often_it_publishes(
    db: Database, tmp_path: Path
) -> None:
    first, _ = worker(db, tmp_path)
    second, follower = worker(db, tmp_path)
    before = ChangeLogFollower.last_seq(db)
    ops = [member_added_op("ann", "analysts"), member_added_op("bob", "analysts")]
    with db.transaction() as session:
        first.publish(session, ops[:1])
        first.publish(session, [])
        first.publish(session, ops[1:])
    assert ChangeLogFollower.last_seq(db) == before + 1
    assert session.info[replica_sync.PUBLISHED_SEQ] == before + 1
    second.catch_up()
    assert "analysts" in follower.engine.groups("ann")
    assert "analysts" in follower.engine.groups("bob")
