"""What ``UPDATE``, ``DELETE`` and ``MERGE`` share: rows found again by their identity,
written only if nothing wrote the table since they were read.

Each of those statements decides which rows to change with one read-only query through
the compiler, as the caller (filters and masks applied, every table authorized), then
changes them in one write transaction. Between the two:

- **Row identity.** The query reads each target row's identity in the database
  (``rowid`` / ``ctid``: :data:`catalog.data.physical.ROW_IDENTITY`) under a hidden column
  name no user column has and no user expression may name; the write finds the rows by
  it. So a table without a primary key is changed like any other, two equal rows stay
  two rows, and a key masked for the caller does not matter.
- **Optimistic concurrency.** The query reads the table's data version in its snapshot;
  the write transaction holds the table against other writers and proceeds only if the
  version is still that one, else the statement starts again (:data:`ATTEMPTS` times,
  then 409). No identity is used after its row moved, and no value computed from a row
  overwrites a change committed after it was read (``SET n = n + 1`` from several
  clients at once loses no increment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from sqlglot import exp

from catalog.runtime import Runtime
from catalog.sql.compiler import CompiledQuery, ReadQuery
from catalog.sql.errors import refuse
from catalog.sql.readonly import physical_schema, run_readonly_with_version
from catalog.sql.table_sources import GovernedSource
from catalog.sql.writes import Target
from common.errors import InvalidState, PayloadTooLarge

#: How often a statement starts again when a write came in between its read and its write.
ATTEMPTS = 5
#: The hidden column a row's identity is read under (``_`` appended while a column has it).
ROW_ID = "__steward_row_id"

T = TypeVar("T")


class TableChanged(Exception):
    """Another write committed between the statement's read and its write."""


def retried(verb: str, attempt: Callable[[], T]) -> T:
    """``attempt()``, started again while the table changes under it."""
    for _ in range(ATTEMPTS):
        try:
            return attempt()
        except TableChanged:
            continue
    raise InvalidState(
        f"{verb} did not run: the table kept changing while it ran ({ATTEMPTS} tries); run it again"
    )


def hidden_row_id(target: Target, statement: exp.Expression) -> str:
    """The name the target's row identity is read under; refuses a statement naming it."""
    taken = {c.name.lower() for c in target.columns}
    name = ROW_ID
    while name in taken:
        name += "_"
    for reference in statement.find_all(exp.Column):
        if reference.name.lower() == name:
            raise refuse(f"cannot resolve column '{reference.name}'", reference)
    return name


@dataclass(frozen=True)
class ReadRows:
    """What the statement's query found, and the table's data version it read them at."""

    compiled: CompiledQuery
    rows: list[tuple[Any, ...]]
    version: int


def read_rows(
    runtime: Runtime, query: ReadQuery, target: Target, row_id: str, verb: str
) -> ReadRows:
    """Run the planned ``query`` with the target's row identity readable as ``row_id``;
    more than ``STEWARD_MAX_ROWS_PER_WRITE`` rows refuse the statement (413)."""
    key = target.full_name
    read = query.sources[key]
    assert isinstance(read, GovernedSource)  # resolve_target found a managed table by it
    query.sources[key] = replace(read, row_identity=row_id)
    db = runtime.db
    limit = runtime.data.max_rows_per_write
    compiled = query.compile(db.backend, physical_schema(db), limit)
    table_id = target.layout.record.securable.id
    rows, version = run_readonly_with_version(db, compiled.sql, compiled.tables, table_id)
    if len(rows) > limit:
        raise PayloadTooLarge(
            f"{verb} changes at most {limit} rows per statement (STEWARD_MAX_ROWS_PER_WRITE); "
            "this one would change more: narrow it (or split its source)"
        )
    return ReadRows(compiled, rows, version)


def write_if_unchanged(
    runtime: Runtime, target: Target, read_at: int, change: Callable[[Session], T]
) -> T:
    """``change`` in one transaction that holds the table, if nothing wrote it since it
    was read at version ``read_at``; else :class:`TableChanged`."""
    with runtime.db.transaction() as session:
        if runtime.data.hold_against_writers(session, target.layout) != read_at:
            raise TableChanged
        return change(session)
