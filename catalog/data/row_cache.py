"""The latest rows of managed tables by key, kept while the table's data version holds.

Serving looks the same feature rows up again and again; reading them is most of a large
request's lookup (an ``IN`` list of a hundred keys, rows built, on every request). Every
write of a table's rows raises its data version in the writing transaction
(``table_data_versions``, :meth:`catalog.data.table_data.TableDataService.write_checked`), so
a reader that reads the version first and finds it unchanged may use the rows it read
before: one indexed read of one number instead of the rows, and no staleness — a request
that starts after a write commits sees the write, on this replica or any other.
A reader whose answer is confirmed by a commit before it is given (a warm serving
invocation, whose audit event must be durable first) need not read even that number: it
takes the version held here and lets its commit check it (:mod:`catalog.data.assumed_versions`).

The cache only moves forward: rows read under an older version than the one it holds
(a request that began before a write and finished after another reader saw it) are
neither stored nor used, and a newer version empties it. A request may thus get rows
newer than the version it read — never older than one it read.

Rows are tuples in the table's column order, which cannot change under the same table id
(there is no ALTER TABLE of columns; a re-created table has a new id). Whatever changes
columns one day must raise the data version too.
"""

from __future__ import annotations

import threading
from typing import Any

#: Rows kept per table; past it the table's rows are dropped and read again as needed.
MAX_ROWS_PER_TABLE = 100_000

Key = tuple[Any, ...]
Row = tuple[Any, ...]


class RowCache:
    def __init__(self, max_rows_per_table: int = MAX_ROWS_PER_TABLE) -> None:
        self.max_rows = max_rows_per_table
        #: Table id → (data version, latest row by normalized key).
        self._tables: dict[str, tuple[int, dict[Key, Row]]] = {}
        self._lock = threading.Lock()

    def rows(self, table_id: str, version: int) -> dict[Key, Row] | None:
        """The rows known at ``version``: a copy-free view to read from (None: this
        version is older than what the cache holds, so use nothing from it)."""
        with self._lock:
            held = self._tables.get(table_id)
            if held is None or held[0] < version:
                held = (version, {})
                self._tables[table_id] = held
            return held[1] if held[0] == version else None

    def held(self, table_id: str) -> tuple[int, dict[Key, Row]] | None:
        """The version the cache holds of ``table_id`` and its rows, unread from the
        database: for a reader that lets its commit confirm the version
        (:mod:`catalog.data.assumed_versions`). The rows of one version are never mixed
        with another's: a newer version gets a new mapping."""
        with self._lock:
            return self._tables.get(table_id)

    def store(self, table_id: str, version: int, found: dict[Key, Row]) -> None:
        """Keep rows read at ``version``, if the cache still holds that version."""
        if not found:
            return
        with self._lock:
            held = self._tables.get(table_id)
            if held is None or held[0] != version:
                return
            rows = held[1]
            if len(rows) + len(found) > self.max_rows:
                rows.clear()
            rows.update(found)

    def drop(self, table_id: str) -> None:
        with self._lock:
            self._tables.pop(table_id, None)
