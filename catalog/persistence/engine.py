"""Engines and sessions for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from catalog.persistence.writer_gate import NoGate, WriterGate

#: ``PRAGMA synchronous`` levels a server may run SQLite at (docs/running.md). FULL syncs the
#: WAL at every commit, so an acknowledged change survives a power cut; NORMAL syncs only at
#: checkpoints, so a power cut (not a process crash) can lose the last acknowledged commits.
SQLITE_SYNCHRONOUS_LEVELS = ("full", "normal")


def _sqlite_pragmas(synchronous: str) -> Callable[[Any, Any], None]:
    """WAL lets readers run beside the one writer; foreign keys are off by default in SQLite."""
    if synchronous not in SQLITE_SYNCHRONOUS_LEVELS:
        raise ValueError(f"SQLite synchronous level {synchronous!r} is not one of full, normal")
    level = synchronous.upper()

    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return set_pragmas


#: Execution option of :meth:`Database.statement_read` connections on SQLite: no BEGIN.
NO_BEGIN = "steward_no_begin"


def _autocommit(conn: Any) -> bool:
    return bool(conn.get_execution_options().get(NO_BEGIN))


def _sqlite_begin_immediate(conn: Any) -> None:
    """Take the write lock at BEGIN so two writers never deadlock upgrading read locks.

    Sent on the driver's connection: a constant statement gains nothing from SQLAlchemy's
    execution machinery, which cost a third of an empty transaction (every audited
    request's commit on SQLite begins here)."""
    if not _autocommit(conn):
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(conn: Any) -> None:
    if not _autocommit(conn):
        conn.connection.driver_connection.execute("BEGIN")


def make_engine(
    url: str, *, writer: bool = True, sqlite_synchronous: str = "full", autocommit: bool = False
) -> Engine:
    """An engine for ``url``. A writer engine begins IMMEDIATE on SQLite; a reader engine
    begins deferred on SQLite and REPEATABLE READ on PostgreSQL (see :class:`Database`);
    an ``autocommit`` engine (PostgreSQL) runs each statement as its own transaction."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
            # The most recently returned connection first: every SQLite connection re-reads
            # the whole schema on its first statement after any CREATE or DROP (a managed
            # table is a physical table), so reusing the warm one pays that once per change,
            # not once per pooled connection.
            pool_use_lifo=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_synchronous))

        # pysqlite's own transaction handling defers BEGIN; we issue it ourselves.
        @event.listens_for(engine, "connect")
        def _no_auto_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        if writer:
            event.listen(engine, "begin", _sqlite_begin_immediate)
        else:
            event.listen(engine, "begin", _sqlite_begin_deferred)
        return engine
    if autocommit:
        engine = create_engine(url, pool_size=5, max_overflow=20, isolation_level="AUTOCOMMIT")
    elif writer:
        engine = create_engine(url, pool_size=10, max_overflow=20)
    else:
        engine = create_engine(url, pool_size=5, max_overflow=20, isolation_level="REPEATABLE READ")
    _ping_when_idle(engine)
    return engine


#: A pooled PostgreSQL connection that has been idle longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling that pings only connections idle a while.

    ``pool_pre_ping`` pings on every checkout: one round trip more for each transaction and
    each lookup, twice per serving request. A connection checked in less than
    :data:`PING_AFTER_IDLE_SECONDS` ago was working then; one idle longer (the database
    may have restarted meanwhile) is pinged as ``pool_pre_ping`` would, and replaced if
    that fails (SQLAlchemy's documented custom pessimistic handling: a
    ``DisconnectionError`` raised at checkout makes the pool connect afresh).
    """

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            record.info.pop(_CHECKED_IN, None)
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc


_CHECKED_IN = "steward_checked_in_at"


def _writer_gate(url: str) -> WriterGate | NoGate:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return NoGate()
    database = parsed.database
    return WriterGate(Path(database) if database and database != ":memory:" else None)


#: Called with the session of a write transaction (see :attr:`Database.before_commit`).
CommitHook = Callable[[Session], None]


#: ``session.info`` key of the sessions :meth:`Database.read` hands out.
READ_ONLY_INFO = "steward_read_only"
#: ``session.info`` key of the writes :func:`write_last` queued.
_LAST_WRITES_INFO = "steward_last_writes"


def write_last(session: Session, write: CommitHook) -> None:
    """Run ``write`` in ``session``'s transaction (one of :meth:`Database.transaction`)
    after every :attr:`Database.before_commit` hook and the closing hook, right before it
    commits: for a write that gathers what the transaction and those hooks added (the
    policy feed writes one change-log entry, or sends one NOTIFY, per transaction, however
    many times it was published to)."""
    session.info.setdefault(_LAST_WRITES_INFO, []).append(write)


#: ``session.info`` keys of a NOTIFY the transaction's last statement may carry.
_NOTIFICATION_OFFER_INFO = "steward_notification_offer"
_NOTIFICATION_CARRIED_INFO = "steward_notification_carried"
#: A NOTIFY: (channel, payload).
Notification = tuple[str, str]


def offer_notification(session: Session, notification: Callable[[], Notification]) -> None:
    """PostgreSQL: a NOTIFY the statement that closes ``session``'s transaction (its audit
    event's, :func:`catalog.audit.log.append_alone`) may send with its own work instead
    of a statement of its own — one round trip fewer for every change. ``notification``
    is asked when that statement is built, so it holds what was published until then;
    whoever offered it checks :func:`carried_notification` before sending it itself."""
    session.info[_NOTIFICATION_OFFER_INFO] = notification


def notification_to_carry(session: Session) -> Notification | None:
    """The NOTIFY offered to the closing statement, as of now (see
    :func:`offer_notification`); :func:`notification_carried` once the statement sent it."""
    offer = session.info.get(_NOTIFICATION_OFFER_INFO)
    return offer() if offer is not None else None


def notification_carried(session: Session, notification: Notification) -> None:
    session.info[_NOTIFICATION_CARRIED_INFO] = notification


def carried_notification(session: Session) -> Notification | None:
    """The NOTIFY the closing statement sent for the offer, if it did."""
    found: Notification | None = session.info.get(_NOTIFICATION_CARRIED_INFO)
    return found


class Database:
    """Owns the engine and hands out one session per unit of work."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "full") -> None:
        """``sqlite_synchronous``: see :data:`SQLITE_SYNCHRONOUS_LEVELS`; FULL unless the
        operator trades power-loss durability for commit speed (PostgreSQL ignores it: its
        commits are durable by its own settings)."""
        self.url = url
        #: Run as the last step of every write transaction, after its changes are flushed;
        #: what they write commits with the change or not at all.
        self.before_commit: list[CommitHook] = []
        #: Run after every ``before_commit`` hook, whenever it was registered: the statement
        #: that closes the transaction (the audit event's, which carries the change's
        #: NOTIFY, so it must come after everything that publishes; see
        #: :func:`offer_notification`).
        self.closing_hook: CommitHook | None = None
        #: Run after a write transaction committed.
        self.after_commit: list[CommitHook] = []
        self.engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Readers get engines of their own. SQLite: they must not queue behind the write
        # lock (a WAL read transaction sees one snapshot from its first read). PostgreSQL:
        # its default READ COMMITTED gives each statement a new snapshot, so a read of
        # several statements (verify: the lane heads, then every event; a page of events and
        # the follow cursor) could see a writer's commit halfway; REPEATABLE READ gives the
        # whole transaction one snapshot, set once per connection (no statement per read),
        # and a transaction that only reads never fails to serialize.
        self._read_engine = make_engine(url, writer=False, sqlite_synchronous=sqlite_synchronous)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        #: PostgreSQL: connections on which every statement is its own transaction, set
        #: so once when connected (switching a pooled connection to AUTOCOMMIT and back on
        #: every checkout cost more than the statement), for :meth:`statement_read` and
        #: :meth:`single_statement`.
        self._autocommit_engine = (
            make_engine(url, autocommit=True) if self.backend == "postgresql" else None
        )
        #: SQLite: writers queue here before BEGIN (catalog/persistence/writer_gate.py).
        self._writers = _writer_gate(url)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self._writers.held(), self._sessions() as session:
            with session.begin():
                yield session
                session.flush()
                for hook in self.before_commit:
                    hook(session)
                if self.closing_hook is not None:
                    self.closing_hook(session)
                for write in session.info.pop(_LAST_WRITES_INFO, ()):
                    write(session)
            for hook in self.after_commit:
                hook(session)

    @contextmanager
    def core_transaction(self) -> Iterator[Connection]:
        """A bare connection inside one write transaction, with no session and none of the
        commit hooks: for a writer that writes its own audit events and nothing else (the
        group commit, on every serving request, where the session's bookkeeping cost more
        than the statements)."""
        with self._writers.held(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only: one consistent snapshot, no write lock taken."""
        with self._read_sessions() as session, session.begin():
            session.info[READ_ONLY_INFO] = True
            yield session

    @contextmanager
    def statement_read(self) -> Iterator[Connection]:
        """A connection for one read statement, outside any transaction: a single SELECT
        sees one consistent state anyway, and skipping BEGIN and COMMIT saves two round
        trips on PostgreSQL and two statements on SQLite (the lookups serving runs on
        every request use it). Never for several statements that must agree."""
        if self._autocommit_engine is not None:
            with self.single_statement() as connection:
                yield connection
            return
        with self._read_engine.connect() as connection:
            # No isolation-level switch (its reset on check-in would change how the
            # pooled sqlite3 connection begins transactions): the BEGIN is skipped.
            yield connection.execution_options(**{NO_BEGIN: True})

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """PostgreSQL: a connection on which each statement is a transaction of its own,
        durable when the statement returns. For a write that is one statement and nothing
        else (the audit event of a request committing alone: one round trip, where a
        transaction takes four — BEGIN, the statements, COMMIT), and for one-statement
        reads."""
        if self._autocommit_engine is None:
            raise RuntimeError("single-statement transactions are PostgreSQL's")
        with self._autocommit_engine.connect() as connection:
            yield connection

    @contextmanager
    def writer_statement_read(self) -> Iterator[Connection]:
        """:meth:`statement_read` on a connection of the writer's pool, for a read that
        follows this process's own write (the change-log follower after a commit). Every
        SQLite connection re-reads the whole schema on its first statement after another
        connection changed it, and a managed table is a physical table, so after a CREATE
        TABLE a reader connection pays that (3 ms at 1,000 tables) where the writer's
        connection that ran the CREATE, first in its pool again, pays nothing. No BEGIN, so
        no write lock is taken. (PostgreSQL has no such cost: :meth:`statement_read`.)"""
        if self._autocommit_engine is not None:
            with self.single_statement() as connection:
                yield connection
            return
        with self.engine.connect() as connection:
            yield connection.execution_options(**{NO_BEGIN: True})

    @contextmanager
    def exclusive(self, key: int) -> Iterator[None]:
        """Only one process at a time runs the block, across replicas: a PostgreSQL
        session advisory lock (``key`` names what is guarded). On SQLite, where only one
        server's workers share the file, the writer gate, held across the block: no other
        worker writes meanwhile."""
        if self.backend != "postgresql":
            with self._writers.held():
                yield
            return
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()
        if self._autocommit_engine is not None:
            self._autocommit_engine.dispose()
