"""Data versions a request took from the row cache instead of reading them, confirmed by
the transaction that commits its audit event.

Serving uses the feature rows it cached at a table's data version only after reading
that version (:mod:`catalog.data.row_cache`): on PostgreSQL, one round trip of every
invocation, a tenth of a small request's time. A warm invocation may instead assume the
version the cache holds is still the table's, score, and leave the check to the commit
that makes its audit event durable before the answer (:mod:`catalog.audit.group_commit`):
inside that transaction — in the very statement that writes a lone event on PostgreSQL —
every assumed version is compared with the table's, and the event is written only if all
still hold. If one does not (rows were written since they were cached, on any replica),
nothing of the request is written, its waiter gets :class:`StaleAssumption`, and it is
scored again from a fresh read. So an answer is never older than the table's rows at its
commit, as when the version was read first, and every answer still has exactly one event.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from catalog.persistence.driver import DriverStatement
from catalog.persistence.schema import TableDataVersion

_VERSIONS = TableDataVersion.__table__


class StaleAssumption(Exception):
    """A version a request assumed is no longer its table's: nothing of it was written."""


class AssumedVersions:
    """Table id → the data version a request's answer was computed at, unread."""

    __slots__ = ("versions",)

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}

    def assume(self, table_id: str, version: int) -> bool:
        """Record ``version`` of ``table_id``; False (nothing recorded) when another
        version of it was assumed already: the caller reads the table instead."""
        held = self.versions.setdefault(table_id, version)
        return held == version

    def __len__(self) -> int:
        return len(self.versions)

    def params(self) -> dict[str, object]:
        """The values of :func:`condition`'s parameters, in this object's order."""
        params: dict[str, object] = {}
        for i, (table_id, version) in enumerate(self.versions.items()):
            params[f"assumed_table{i}"] = table_id
            params[f"assumed_version{i}"] = version
        return params


def condition(count: int) -> sa.ColumnElement[bool]:
    """True when the ``count`` assumed versions (parameters ``assumed_table0``,
    ``assumed_version0`` …; :meth:`AssumedVersions.params`) are all still their tables'
    (a table never written is at version 0): for a statement that writes only if so."""
    return sa.and_(
        *(
            sa.func.coalesce(
                sa.select(_VERSIONS.c.version)
                .where(_VERSIONS.c.table_id == sa.bindparam(f"assumed_table{i}"))
                .scalar_subquery(),
                0,
            )
            == sa.bindparam(f"assumed_version{i}", type_=sa.BigInteger)
            for i in range(count)
        )
    )


def stale(connection: Connection, assumptions: Sequence[AssumedVersions | None]) -> list[bool]:
    """Whether each of ``assumptions`` (None: nothing assumed) no longer holds, as
    ``connection``'s transaction sees the tables: one read for all of them."""
    table_ids = sorted({table for a in assumptions if a for table in a.versions})
    if not table_ids:
        return [False] * len(assumptions)
    current: dict[str, int] = {}
    for start in range(0, len(table_ids), _READ_AT_ONCE):
        chunk = table_ids[start : start + _READ_AT_ONCE]
        padded = chunk + [chunk[-1]] * (_READ_AT_ONCE - len(chunk))
        rows = _READ_VERSIONS.all(connection, {f"t{i}": t for i, t in enumerate(padded)})
        current.update((table_id, int(version)) for table_id, version in rows)
    return [
        a is not None and any(current.get(t, 0) != v for t, v in a.versions.items())
        for a in assumptions
    ]


#: Tables whose versions one statement reads (a batch's are padded up to it).
_READ_AT_ONCE = 8
_READ_VERSIONS = DriverStatement(
    sa.select(_VERSIONS.c.table_id, _VERSIONS.c.version).where(
        _VERSIONS.c.table_id.in_([sa.bindparam(f"t{i}") for i in range(_READ_AT_ONCE)])
    )
)
