"""Rows that ride with an audit event: written by the statement that writes the event, and
only when it writes it.

Some rows must commit with a request's event and with nothing else: a SQL statement's
kept answer (``GET /api/2.0/sql/statements/{id}`` reads it) commits with the statement's
event. On PostgreSQL an event is one statement (:func:`catalog.audit.log.append_alone`:
a free lane, the hash, the insert and the head's move), and a row of its own cost a round
trip more — inside a change's transaction — or a transaction of four (BEGIN, the row, the
event, COMMIT) where the event alone would have been one statement. A rider is instead a
data-modifying CTE of the event's statement that inserts the row *from* the event's
``inserted`` CTE: no event written (none of the lanes tried was free), no row either, and
the caller writes both the long way (:func:`write`, then the event, in one transaction).
On SQLite, where a statement is no round trip, riders are plain inserts before the event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.selectable import CTE

from catalog.persistence.driver import DriverStatement


@dataclass(frozen=True, eq=False)
class RiderTable:
    """A table rows may ride into, and the columns they set: one shape of the event's
    statement per combination (compared by identity, so define each once, at import)."""

    table: Table
    columns: tuple[str, ...]
    _insert: DriverStatement = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_insert", DriverStatement(insert(self.table), column_keys=self.columns)
        )

    def row(self, values: Mapping[str, object]) -> Rider:
        return Rider(self, values)

    def insert(self, connection: Connection, rows: Sequence[Mapping[str, object]]) -> None:
        """Rows as a plain INSERT, in ``connection``'s transaction (a batch's, or a rider
        whose event took the long way)."""
        self._insert.executemany(connection, rows)

    def cte_from(self, inserted: CTE, prefix: str) -> CTE:
        """``INSERT INTO table (columns) SELECT :prefix_column, … FROM inserted``: one row
        per event the statement wrote (PostgreSQL runs a data-modifying CTE whether or not
        the query reads it)."""
        values = select(
            *(
                bindparam(f"{prefix}{column}", type_=self.table.c[column].type)
                for column in self.columns
            )
        ).select_from(inserted)
        return insert(self.table).from_select(list(self.columns), values).cte(f"{prefix}rode")


@dataclass(frozen=True)
class Rider:
    """One row to write with an event: ``values`` for ``into``'s columns."""

    into: RiderTable
    values: Mapping[str, object]

    def params(self, prefix: str) -> dict[str, object]:
        return {f"{prefix}{column}": self.values[column] for column in self.into.columns}


def shape(riders: Sequence[Rider]) -> tuple[RiderTable, ...]:
    return tuple(rider.into for rider in riders)


def prefix(index: int) -> str:
    """The parameter prefix of the ``index``-th rider of a statement."""
    return f"r{index}_"


def write(connection: Connection, riders: Sequence[Rider]) -> None:
    """The riders as plain inserts in ``connection``'s transaction (SQLite; or the event took
    the long way): call it before the event's append, which must be the transaction's last
    statement."""
    for rider in riders:
        rider.into.insert(connection, [rider.values])
