"""Runs one compiled query so that it cannot write, cannot read elsewhere, cannot run long.

The SQL comes from :mod:`catalog.sql.compiler`, which already allows only reads of the
physical tables of the tables the query resolved (``tables``: a per-query set); this is
the database's own guard on top of it.

PostgreSQL
    The query runs in a transaction opened ``READ ONLY`` (any write, DDL, ``nextval``,
    large-object or lock statement fails), with ``statement_timeout`` as the deadline and
    ``TimeZone`` UTC (Databricks' default, so dates and truncation are UTC). ``SET LOCAL``
    keeps all three to this one transaction on the pooled connection.

SQLite
    The query runs on the reader engine's connection (never the writer's) with
    ``PRAGMA query_only`` on, and an authorizer (``sqlite3.Connection.set_authorizer``)
    that allows only SELECT, reading the query's ``tables`` (and its own CTEs), and
    functions other than a few with effects outside the query (``load_extension``,
    ``readfile``, ``writefile`` …); ATTACH, PRAGMA, writes and reads of any other table
    (``sqlite_master`` included) are denied while it is installed. A progress handler
    interrupts the query at the deadline. ``case_sensitive_like`` is on, as LIKE is on
    Databricks. All of this is undone before the connection goes back to the pool.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from catalog.persistence.engine import Database
from common.errors import InvalidParameter, StewardError

#: Longest a query may run, in seconds.
TIMEOUT_SECONDS = 10.0
#: SQLite virtual-machine instructions between two deadline checks.
_PROGRESS_STEPS = 5_000
_SQLITE_DENIED_FUNCTIONS = frozenset(
    {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "randomblob"}
    | {"zeroblob", "sqlite_compileoption_get", "sqlite_compileoption_used", "sqlite_offset"}
)
_QUERY_CANCELED = "57014"  # PostgreSQL: statement_timeout (or a cancel request)


class QueryTimedOut(StewardError):
    """A query ran past its deadline and was stopped."""

    status_code = 504
    error_code = "DEADLINE_EXCEEDED"


def run_readonly(
    db: Database, sql: str, tables: frozenset[str], timeout: float = TIMEOUT_SECONDS
) -> list[tuple[Any, ...]]:
    """Every row of ``sql`` (the compiler caps them), read-only, reading only ``tables``
    (enforced by SQLite's authorizer; on PostgreSQL by the compiler), within ``timeout``."""
    return _run(db, sql, tables, timeout, None)[0]


def run_readonly_with_version(
    db: Database, sql: str, tables: frozenset[str], table_id: str, timeout: float = TIMEOUT_SECONDS
) -> tuple[list[tuple[Any, ...]], int]:
    """As :func:`run_readonly`, and the data version of table ``table_id`` read in the
    same snapshot: ``UPDATE`` and ``DELETE`` write what they read only if it still holds."""
    rows, version = _run(db, sql, tables, timeout, table_id)
    return rows, version if version is not None else 0


def _run(
    db: Database, sql: str, tables: frozenset[str], timeout: float, table_id: str | None
) -> tuple[list[tuple[Any, ...]], int | None]:
    if db.backend == "sqlite":
        return _run_sqlite(db, sql, tables, timeout, table_id)
    return _run_postgres(db, sql, timeout, table_id)


def _version(connection: Any, table_id: str | None) -> int | None:
    from catalog.data.table_data import data_version

    return data_version(connection, table_id) if table_id is not None else None


def physical_schema(db: Database) -> str:
    """The schema holding the service's tables, to qualify physical names with."""
    if db.backend == "sqlite":
        return "main"
    name = db.engine.dialect.default_schema_name
    if name:
        return name
    with db.read() as session:
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            return str(cursor.fetchone()[0])


def _timed_out(timeout: float) -> QueryTimedOut:
    return QueryTimedOut(
        f"the query ran longer than {timeout:g} seconds and was stopped; narrow it with WHERE "
        "(e.g. on event_date) or LIMIT"
    )


def _failed(exc: Exception) -> InvalidParameter:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InvalidParameter(f"the query failed on the database: {text}")


# -- PostgreSQL ----------------------------------------------------------------------------


def _run_postgres(
    db: Database, sql: str, timeout: float, table_id: str | None
) -> tuple[list[tuple[Any, ...]], int | None]:
    import psycopg

    try:
        with db.read() as session:
            connection = session.connection()
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor:
                # Must come first in the transaction: nothing has run in it yet.
                cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
                cursor.execute("SET LOCAL TimeZone = 'UTC'")
                version = _version(connection, table_id)  # one REPEATABLE READ snapshot
                cursor.execute(sql)
                return list(cursor.fetchall()), version
    except psycopg.Error as exc:
        if getattr(exc, "sqlstate", None) == _QUERY_CANCELED:
            raise _timed_out(timeout) from None
        raise _failed(exc) from None


# -- SQLite --------------------------------------------------------------------------------


def _authorizer(tables: frozenset[str]) -> Any:
    def authorize(
        action: int, arg1: str | None, arg2: str | None, database: str | None, _trigger: str | None
    ) -> int:
        if action == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            # A table of the main database must be one of this query's physical tables;
            # the query's own CTEs come without a database.
            allowed = database is None or (database == "main" and arg1 in tables)
            return sqlite3.SQLITE_OK if allowed else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            denied = (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS
            return sqlite3.SQLITE_DENY if denied else sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return authorize


def _run_sqlite(
    db: Database, sql: str, tables: frozenset[str], timeout: float, table_id: str | None
) -> tuple[list[tuple[Any, ...]], int | None]:
    deadline = time.monotonic() + timeout
    stopped = False

    def progress() -> int:
        nonlocal stopped
        stopped = time.monotonic() > deadline
        return 1 if stopped else 0

    with db.read() as session:
        connection = session.connection()
        raw: sqlite3.Connection = connection.connection.driver_connection
        version = _version(connection, table_id)  # begins the snapshot the query reads
        raw.execute("PRAGMA query_only = ON")
        raw.execute("PRAGMA case_sensitive_like = ON")
        raw.set_authorizer(_authorizer(tables))
        raw.set_progress_handler(progress, _PROGRESS_STEPS)
        try:
            return list(raw.execute(sql).fetchall()), version
        except sqlite3.Error as exc:
            if stopped:
                raise _timed_out(timeout) from None
            raise _failed(exc) from None
        finally:
            raw.set_progress_handler(None, 0)
            raw.set_authorizer(None)
            raw.execute("PRAGMA case_sensitive_like = OFF")
            raw.execute("PRAGMA query_only = OFF")
