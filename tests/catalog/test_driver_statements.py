"""Statements run on the driver's cursor (catalog/persistence/driver.py) store exactly what
SQLAlchemy's own execution stores, on both backends: same text for times and dates on
SQLite, same values on PostgreSQL, read back the same through SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from catalog.access import casbin_rules
from catalog.persistence import schema as t
from catalog.persistence.driver import DriverStatement
from catalog.runtime import Runtime

EVENTS = t.AuditEvent.__table__


def row(event_id: str, seq: int) -> dict[str, object]:
    return {
        "event_id": event_id,
        "event_time": datetime(2026, 12, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "event_date": date(2026, 12, 2),
        "lane": 15,
        "seq": 10_000 + seq,
        "user_name": "u",
        "service_name": "serving",
        "action_name": "queryServingEndpoint",
        "request_id": "r",
        "object_name": None,
        "request_params": '{"a": 1}',
        "status_code": 200,
        "error_message": None,
        "source_ip_address": "127.0.0.1",
        "user_agent": "ua",
        "prev_hash": "0" * 64,
        "hash": str(seq) * 64,
    }


def test_the_driver_stores_what_sqlalchemy_stores(runtime: Runtime) -> None:
    insert = DriverStatement(sa.insert(EVENTS), column_keys=list(row("x", 1)))
    with runtime.db.core_transaction() as connection:
        connection.execute(sa.insert(EVENTS), [row("by-sqlalchemy", 1)])
        insert.execute(connection, row("by-driver", 2)).close()
        insert.executemany(connection, [row("by-driver-many", 3)])
    raw = sa.text(
        "SELECT event_id, event_time, event_date, request_params FROM audit_events "
        "WHERE event_id LIKE 'by-%' ORDER BY seq"
    )
    with runtime.db.read() as session:
        stored = [tuple(r)[1:] for r in session.execute(raw)]
        typed = session.execute(
            sa.select(EVENTS.c.event_time, EVENTS.c.event_date).where(
                EVENTS.c.event_id.like("by-%")
            )
        ).all()
    assert stored[0] == stored[1] == stored[2]
    assert len({tuple(r) for r in typed}) == 1


def test_a_statement_that_needs_sqlalchemys_execution_is_refused(runtime: Runtime) -> None:
    expanding = DriverStatement(
        sa.select(EVENTS.c.seq).where(EVENTS.c.lane.in_(sa.bindparam("lanes", expanding=True)))
    )
    with runtime.db.statement_read() as connection, pytest.raises(ValueError, match="expanding"):
        expanding.first(connection, {"lanes": [1]})


def test_values_carried_by_the_statement_bind_themselves(runtime: Runtime) -> None:
    lane_zero = DriverStatement(
        sa.select(t.AuditLane.__table__.c.lane).where(t.AuditLane.__table__.c.lane == 0)
    )
    with runtime.db.statement_read() as connection:
        assert lane_zero.first(connection, {}) == (0,)


def test_rows_read_on_the_driver_are_what_sqlalchemy_reads(runtime: Runtime) -> None:
    """JSON, text, integers and NULLs come back as SQLAlchemy's own execution gives them
    (SQLite hands JSON back as text; the column's result processor parses it)."""
    securables = t.Securable.__table__
    values = {
        "id": "driver-read-1",
        "securable_type": "CATALOG",
        "parent_id": None,
        "name": "driver_read",
        "full_name": "driver_read",
        "owner": "someone",
        "comment": None,
        "properties": {"k": "v", "n": "1"},
        "storage_root": None,
        "storage_location": None,
        "created_at": 1_700_000_000_000,
        "created_by": "someone",
        "updated_at": None,
        "updated_by": None,
    }
    query = sa.select(*securables.c).where(securables.c.full_name == sa.bindparam("name"))
    with runtime.db.core_transaction() as connection:
        connection.execute(sa.insert(securables), [values])
    with runtime.db.statement_read() as connection:
        by_driver = DriverStatement(query).all(connection, {"name": "driver_read"})
        by_sqlalchemy = [tuple(row) for row in connection.execute(query, {"name": "driver_read"})]
    assert by_driver == by_sqlalchemy
    assert dict(zip(securables.c.keys(), by_driver[0], strict=True)) == values


def test_grant_lines_written_on_the_driver_say_what_they_changed(runtime: Runtime) -> None:
    """add_grant tells a new line from one already there (ON CONFLICT DO NOTHING's row
    count); remove_grants answers the privileges its DELETE … RETURNING removed."""
    with runtime.db.transaction() as session:
        added = [
            casbin_rules.add_grant(session, "ann", "object-1", privilege)
            for privilege in ("SELECT", "MODIFY", "SELECT")
        ]
        casbin_rules.add_grant(session, "bob", "object-1", "SELECT")
        one = casbin_rules.remove_grants(session, "ann", "object-1", "MODIFY")
        none = casbin_rules.remove_grants(session, "ann", "object-1", "MODIFY")
        rest = casbin_rules.remove_grants(session, "ann", "object-1", None)
        left = casbin_rules.grants_on(session, "object-1")
    assert added == [True, True, False]
    assert (one, none, rest) == (["MODIFY"], [], ["SELECT"])
    assert left == [("bob", "SELECT")]
