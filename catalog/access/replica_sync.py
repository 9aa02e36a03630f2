"""Keeps every replica's policy engine in step with the database.

Each change to grants, memberships or the hierarchy is a list of small *ops*.
The service that makes the change applies them to its own engine right after
commit, and — on PostgreSQL — publishes them with ``pg_notify`` inside the same
transaction, so they are delivered to every listening replica only if and when
the change commits, in commit order. A listener thread per replica applies them.

Staleness bound: a committed change reaches other replicas' decisions after
PostgreSQL delivers the notification (milliseconds; ``tests/catalog/test_replicas.py``
measures it and holds it under one second). If the listening connection drops,
the listener reconnects every second and reloads everything, buffering
notifications that arrive during the reload so none is lost. On SQLite the ops go
to a table instead, which the worker processes of one server follow
(:class:`ChangeLogFollower`).

A replica also receives its own notifications and applies them again, on purpose:
notifications arrive in commit order, so replaying every change in that order is
what makes all replicas converge on the database's state when two replicas change
the same grant at nearly the same time (applying only others' changes could leave a
replica with its own later-applied but earlier-committed change on top). The cost
is a window, bounded like the staleness above, in which a replica may briefly show
its own earlier change again before its echo of the later one arrives.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from catalog.access.change_beacon import ChangeBeacon
from catalog.logs import get_logger
from catalog.persistence.driver import DriverStatement
from catalog.persistence.engine import (
    Database,
    Notification,
    carried_notification,
    offer_notification,
    write_last,
)
from catalog.persistence.schema import PolicyChange
from policy.enforcer import PolicyEngine

CHANNEL = "steward_policy"
#: PostgreSQL refuses payloads of 8000 bytes or more; larger batches ask for a reload.
MAX_PAYLOAD = 7900
Op = list[str]
log = get_logger("steward.policy_sync")

# Every grant, membership change and create writes one of the first two; the third reads
# the log (SQLite) after another worker's change or a commit of this process that is not
# the next entry (see ChangeLogFollower.apply_own). Compiled once, run on the driver
# (catalog/persistence/driver.py).
_APPEND_CHANGE = DriverStatement(
    insert(PolicyChange.__table__), column_keys=["payload", "created_at"]
)
_NOTIFY = DriverStatement(select(func.pg_notify(bindparam("channel"), bindparam("payload"))))
_CHANGES_AFTER = DriverStatement(
    select(PolicyChange.seq, PolicyChange.payload)
    .where(PolicyChange.seq > bindparam("after"))
    .order_by(PolicyChange.seq)
)


def grant_op(principal: str, securable: str, privilege: str) -> Op:
    return ["grant", principal, securable, privilege]


def revoke_op(principal: str, securable: str, privilege: str) -> Op:
    return ["revoke", principal, securable, privilege]


def member_added_op(member: str, group: str) -> Op:
    return ["member+", member, group]


def member_removed_op(member: str, group: str) -> Op:
    return ["member-", member, group]


def securable_added_op(securable: str, container: str) -> Op:
    return ["securable+", securable, container]


def securable_removed_op(securable: str) -> Op:
    return ["securable-", securable]


def principal_removed_op(principal: str) -> Op:
    return ["principal-", principal]


#: Ops that change no grant but tell every process to drop what it cached of something
#: (:attr:`PolicyFeed.hooks` says what each drops): travelling with the policy changes,
#: they reach every worker and replica in commit order, within the same bound.
NAMESPACE_CHANGED = "namespace~"
#: One object added (its full name and parent id, "" for none): a narrower
#: :data:`NAMESPACE_CHANGED`, which the hook may treat as the whole (on a full reload it is
#: run with no arguments).
NAMESPACE_ADDED = "namespace+"
TOKENS_CHANGED = "tokens~"


def namespace_changed_op() -> Op:
    return [NAMESPACE_CHANGED]


def namespace_added_op(full_name: str, parent_id: str | None) -> Op:
    return [NAMESPACE_ADDED, full_name, parent_id or ""]


def tokens_changed_op() -> Op:
    return [TOKENS_CHANGED]


def is_cache_op(kind: str) -> bool:
    """Whether ``kind`` only drops a cache: every such kind ends in ``~`` (the registry's
    ``registry~`` too, which the catalog does not name), and ``namespace+`` narrows
    ``namespace~``. A process without a hook for one skips it; any other unknown kind is
    an error."""
    return kind.endswith("~") or kind == NAMESPACE_ADDED


#: What a process runs when a cache-dropping op arrives, by op kind, with the op's arguments.
Hooks = dict[str, Callable[..., None]]


def run_all(hooks: Hooks) -> None:
    """After a full reload of the policy, anything may have changed: every cache goes."""
    for hook in list(hooks.values()):
        hook()


def apply_ops(
    engine: PolicyEngine, ops: Sequence[Sequence[str]], hooks: Hooks | None = None
) -> None:
    """Apply ops in order; every op is idempotent, so replaying a suffix is harmless."""
    for op in ops:
        kind, args = op[0], op[1:]
        if kind == "grant":
            engine.grant(*args)
        elif kind == "revoke":
            engine.revoke(*args)
        elif kind == "member+":
            engine.add_member(*args)
        elif kind == "member-":
            engine.remove_member(*args)
        elif kind == "securable+":
            engine.add_securable(*args)
        elif kind == "securable-":
            engine.remove_securable(*args)
        elif kind == "principal-":
            engine.remove_principal(*args)
        elif hooks and kind in hooks:  # a cache's op, registered by the cache's owner
            hooks[kind](*args)
        elif is_cache_op(kind):
            pass  # a cache this process does not keep (the registry's, in a bare catalog)
        else:
            raise ValueError(f"unknown policy op {kind!r}")


#: ``session.info`` key: the ops published in the transaction, applied once it commits.
PUBLISHED_INFO = "steward_policy_ops"
#: SQLite: the number of the transaction's entry in the change log.
PUBLISHED_SEQ = "steward_policy_seq"


class PolicyFeed:
    """What services call: publish ops with the change; once :meth:`attach` ed to the
    database, the ops of every transaction are applied right after it commits."""

    def __init__(self, engine: PolicyEngine, backend: str) -> None:
        self.engine = engine
        self.notifies = backend == "postgresql"
        self.origin = uuid.uuid4().hex
        #: SQLite: the change log's follower, once started (see :meth:`applied`).
        self.follower: ChangeLogFollower | None = None
        #: Caches to drop when a cache-dropping op arrives (registered by their owners;
        #: the follower and the listener share this mapping).
        self.hooks: Hooks = {}

    def attach(self, db: Database) -> None:
        """Apply each transaction's ops after it commits, before the transaction's caller
        goes on (so the caller's next step sees its change), once per transaction however
        many times it published, and while the committing connection is still first in
        the writer's pool (on SQLite the follower reads the log through it, and a
        connection that did not run a CREATE TABLE would re-read the whole schema first)."""

        def applied(session: Session) -> None:
            ops = session.info.pop(PUBLISHED_INFO, None)
            if ops:
                self.applied(ops, session.info.pop(PUBLISHED_SEQ, None))

        db.after_commit.append(applied)

    def publish(self, session: Session, ops: Sequence[Op]) -> None:
        """Call inside the transaction of the change (one of ``Database.transaction``):
        delivered only if it commits, and applied here after it commits (see
        :meth:`attach`). Everything a transaction publishes goes out as one entry of the
        change log, or one NOTIFY, written last in the transaction (a create published
        twice: its securable, then what caches it makes stale)."""
        if not ops:
            return
        published = session.info.get(PUBLISHED_INFO)
        if published is None:
            published = session.info[PUBLISHED_INFO] = []
            write_last(session, self._write_published)
            if self.notifies:
                offer_notification(session, partial(self._notification, published))
        published.extend(ops)

    def _notification(self, ops: Sequence[Op]) -> Notification:
        """PostgreSQL: the NOTIFY of ``ops`` (a reload when they do not fit one)."""
        payload = orjson.dumps({"origin": self.origin, "ops": ops}).decode()
        if len(payload.encode()) > MAX_PAYLOAD:
            payload = orjson.dumps({"origin": self.origin, "reload": True}).decode()
        return CHANNEL, payload

    def _write_published(self, session: Session) -> None:
        ops = session.info[PUBLISHED_INFO]
        connection = session.connection()
        if self.notifies:
            notification = self._notification(ops)
            # Sent already by the transaction's closing statement, unless something was
            # published after that statement was built (then this one says it all).
            if carried_notification(session) != notification:
                channel, payload = notification
                _NOTIFY.execute(connection, {"channel": channel, "payload": payload}).close()
            return
        # SQLite: the log the server's workers follow.
        payload = orjson.dumps({"origin": self.origin, "ops": ops}).decode()
        row = {"payload": payload, "created_at": int(time.time() * 1000)}
        cursor = _APPEND_CHANGE.execute(connection, row)
        try:  # its number in the log: see ChangeLogFollower.apply_own
            session.info[PUBLISHED_SEQ] = int(cursor.lastrowid)
        finally:
            cursor.close()

    def applied(self, ops: Sequence[Op], seq: int | None = None) -> None:
        """Run after commit (:meth:`attach`): this process sees its own change at once.

        On SQLite, by reading the change log up to and including it: the change and every
        other process's change committed before it are applied in commit order, so no
        earlier change is replayed over it later (applying it alone, then its place in the
        log, would briefly undo it: a membership removed would come back for a moment).
        When the change is the very next in the log (``seq``: its entry's number), there
        is nothing before it to read: it is applied as it is."""
        if self.follower is not None:
            try:
                if seq is None or not self.follower.apply_own(seq, ops):
                    self.follower.follow()
                return
            except Exception as exc:  # the follower retries; the change holds meanwhile
                log.warning("policy_follower_failed", error=str(exc))
        apply_ops(self.engine, ops, self.hooks)

    def behind(self) -> bool:
        """SQLite workers: whether another worker committed a change this one has not
        applied yet (see :mod:`catalog.access.change_beacon`); a memory read."""
        return self.follower is not None and self.follower.behind()

    def catch_up(self) -> None:
        """Apply what :meth:`behind` found: reads the log, so off the event loop."""
        if self.follower is not None:
            self.follower.follow()


class PolicyListener(threading.Thread):
    """Applies other replicas' changes, delivered by LISTEN/NOTIFY.

    A change this process made (``origin``: its feed's) comes back too, and is skipped:
    the feed applied it when it committed (:meth:`PolicyFeed.attach`), and applied again,
    later, it could briefly undo a change of this process made since (a grant's NOTIFY
    read after its revoke was applied)."""

    def __init__(
        self,
        database_url: str,
        engine: PolicyEngine,
        reload: Callable[[], None],
        hooks: Hooks | None = None,
        origin: str | None = None,
    ) -> None:
        super().__init__(name="steward-policy-listener", daemon=True)
        self.origin = origin
        url = make_url(database_url).set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.engine = engine
        self._reload = reload
        self.hooks: Hooks = hooks if hooks is not None else {}
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._listening = threading.Event()
        #: Set while a LISTEN connection is up and everything before it is applied.
        self._following = threading.Event()

    @property
    def current(self) -> bool:
        """Whether grant changes of other replicas reach this one now (readiness)."""
        return self.is_alive() and self._following.is_set()

    def start_and_wait_listening(self, timeout: float = 10.0) -> None:
        self.start()
        if not self._listening.wait(timeout):
            raise RuntimeError("the policy listener could not LISTEN on PostgreSQL")

    def reload(self) -> None:
        """Everything again from the database, and every cache dropped."""
        self._reload()
        run_all(self.hooks)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end and wait for it (it checks between notifications)."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        import psycopg

        first = True
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    buffered: list[Any] = []
                    if not first:
                        # Anything may have been missed while disconnected: reload, and
                        # replay what arrives meanwhile (ops are idempotent).
                        loader = threading.Thread(target=self.reload, daemon=True)
                        loader.start()
                        while loader.is_alive():
                            buffered.extend(conn.notifies(timeout=0.2))
                        self._handle(buffered)
                    first = False
                    while not self.ready.is_set() and not self._stopping.is_set():
                        buffered.extend(conn.notifies(timeout=0.1))
                    self._handle(buffered)
                    self._following.set()
                    while not self._stopping.is_set():
                        # Apply each notification as it arrives; the timeout only bounds
                        # how long a stop request waits.
                        for note in conn.notifies(timeout=0.5):
                            self._handle([note])
            except Exception as exc:  # reconnect; never let the thread die
                self._following.clear()
                log.warning("policy_listener_reconnecting", error=str(exc))
                self._stopping.wait(1.0)

    def _handle(self, notifications: Sequence[Any]) -> None:
        for note in notifications:
            message = orjson.loads(note.payload)
            if self.origin is not None and message.get("origin") == self.origin:
                continue
            if message.get("reload"):
                self.reload()
            else:
                apply_ops(self.engine, message.get("ops", []), self.hooks)


#: How often a worker reads the change log (SQLite): the staleness bound is this plus one
#: read, well under a second.
FOLLOW_SECONDS = 0.25
#: Change-log rows older than this are pruned (every worker has long applied them).
KEEP_CHANGES_SECONDS = 3600.0


class ChangeLogFollower(threading.Thread):
    """SQLite: applies the changes other worker processes of this server committed.

    Every change to the policy is also a row of ``policy_changes`` written in its own
    transaction (:meth:`PolicyFeed.publish`), numbered in commit order (one writer).
    Each worker reads the rows after the last it applied every
    :data:`FOLLOW_SECONDS` and applies them in order, its own included (replayed, as
    replicas replay their NOTIFY echoes, so every worker converges on the committed
    order). Why a table polled and not a signal between processes: it needs nothing but
    the database every worker already has, a worker that was busy catches up from where
    it was, and one indexed read of nothing four times a second costs nothing.
    """

    def __init__(
        self,
        db: Database,
        engine: PolicyEngine,
        after: int,
        beacon: ChangeBeacon | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        super().__init__(name="steward-policy-follower", daemon=True)
        self.db = db
        self.engine = engine
        self.hooks: Hooks = hooks if hooks is not None else {}
        #: Shared with the other workers: the last change any of them applied.
        self.beacon = beacon
        #: The last change applied (or loaded with the engine).
        self.after = after
        self._stopping = threading.Event()
        self._pruned_at = 0.0
        #: One reader at a time applies the log: order matters.
        self._following = threading.Lock()
        self._healthy = threading.Event()
        self._healthy.set()

    @staticmethod
    def last_seq(db: Database) -> int:
        """Read before the engine is loaded: what commits meanwhile is replayed, not lost."""
        with db.read() as session:
            return int(session.scalar(select(func.max(PolicyChange.seq))) or 0)

    @property
    def current(self) -> bool:
        """Whether this worker follows the others' changes now (readiness)."""
        return self.is_alive() and self._healthy.is_set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)

    def behind(self) -> bool:
        """Whether another worker has applied a change this one has not (a memory read)."""
        return self.beacon is not None and self.beacon.latest() > self.after

    def run(self) -> None:
        while not self._stopping.wait(FOLLOW_SECONDS):
            try:
                self.follow()
                self._prune()  # here only: never from a request's thread
                self._healthy.set()
            except Exception as exc:  # keep following; readiness says so meanwhile
                self._healthy.clear()
                log.warning("policy_follower_failed", error=str(exc))

    def follow(self) -> None:
        """Apply every change committed after :attr:`after`, in order."""
        with self._following:
            announced = self.beacon.latest() if self.beacon is not None else 0
            # One statement, so one snapshot without a transaction; on the writer's pool,
            # where the connection that just committed a CREATE TABLE needs no new schema.
            with self.db.writer_statement_read() as connection:
                rows = _CHANGES_AFTER.all(connection, {"after": self.after})
            for seq, payload in rows:
                apply_ops(self.engine, orjson.loads(payload).get("ops", []), self.hooks)
                self.after = seq
            if self.beacon is None:
                return
            if self.after >= announced:
                self.beacon.advance(self.after)
            else:  # the log, read after the beacon, ends below it: an earlier server's
                self.beacon.settle(announced, self.after)

    def apply_own(self, seq: int, ops: Sequence[Op]) -> bool:
        """Apply this process's own just-committed change, entry ``seq`` of the log,
        without reading it back, if it comes right after the last change applied: nothing
        can be between them (SQLite has one writer, so an entry is numbered right after
        every entry committed before it). False: it does not, and :meth:`follow` must
        read the log. Reading back a change one has in hand was a twentieth of a GRANT's
        or a create's CPU."""
        with self._following:
            if seq != self.after + 1:
                return False
            apply_ops(self.engine, ops, self.hooks)
            self.after = seq
            if self.beacon is not None:
                self.beacon.advance(self.after)
        return True

    def _prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at > KEEP_CHANGES_SECONDS / 4:
            self._pruned_at = now
            cutoff = int((time.time() - KEEP_CHANGES_SECONDS) * 1000)
            # The newest row always stays: SQLite numbers a row one past the largest left,
            # so an emptied log would restart at 1, below where every follower stands.
            newest = select(func.max(PolicyChange.seq)).scalar_subquery()
            with self.db.core_transaction() as connection:
                connection.execute(
                    delete(PolicyChange).where(
                        PolicyChange.created_at < cutoff, PolicyChange.seq < newest
                    )
                )
