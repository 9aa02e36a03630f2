"""Rows of managed tables: write by merge (upsert) or append, read by key and point in time.

This is what the rows and lookup routes, SQL ``INSERT``/``MERGE``, training sets and
serving endpoints share. Authorization is the caller's business (route guards, the SQL
executor, the serving service): the service trusts that it was asked on behalf of
someone allowed to. Writes run in one transaction, so the audit event written by the
transaction's hook commits with them or not at all.

Feature tables are keyed by their primary key; a timeseries column in the key makes each
key a history. A lookup by key returns the latest row of each key, or with ``as_of`` the
latest row not later than each key's time (point-in-time correctness: a training row
never sees a feature value from its future), optionally within a ``lookback`` window.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from catalog.audit.recorder import detached
from catalog.data.assumed_versions import AssumedVersions
from catalog.data.physical import (
    bump_data_version,
    column_name,
    ensure_storage,
    has_storage,
    lock_against_writers,
    physical_table,
    row_identity_condition,
    storage_exists,
    upsert_insert,
)
from catalog.data.row_cache import RowCache
from catalog.names import SYSTEM_CATALOG
from catalog.persistence.driver import DriverStatement
from catalog.persistence.engine import Database
from catalog.persistence.schema import Securable, TableDataVersion
from catalog.records import ColumnRecord, SecurableRecord, TableRecord
from common.errors import InvalidParameter, NotFound, PayloadTooLarge, PermissionDenied
from common.values import INT_RANGES, check_rows, columns_by_name

if TYPE_CHECKING:  # built on the SQL compiler, which reads tables through this module
    from catalog.row_access.table_access import RowAccess

#: Keys per ``IN (…)`` list: well under SQLite's 32,766 variables, cheap to plan.
_CHUNK = 500
#: Rows per INSERT statement of a write: a large write runs as several bounded statements.
_WRITE_CHUNK = 1000
#: Default of :attr:`TableDataService.max_rows_per_write` (``STEWARD_MAX_ROWS_PER_WRITE``).
DEFAULT_MAX_ROWS_PER_WRITE = 10_000


@dataclass(frozen=True)
class WriteResult:
    """Counts as Databricks reports them for MERGE and INSERT."""

    num_affected_rows: int
    num_inserted_rows: int
    num_updated_rows: int


@dataclass(frozen=True)
class TableLayout:
    """A table's physical table and the columns that key it."""

    record: TableRecord
    table: sa.Table
    #: Primary key columns without the timeseries column: what a lookup gives.
    lookup_columns: tuple[ColumnRecord, ...]
    timeseries: ColumnRecord | None

    @cached_property
    def columns(self) -> list[ColumnRecord]:
        """In position order: the order of a row read from the physical table."""
        return sorted(self.record.detail.columns, key=lambda c: c.position)

    @cached_property
    def column_index(self) -> dict[str, int]:
        """Column name → its place in a row (serving merges features by it per request)."""
        return {c.name: i for i, c in enumerate(self.columns)}

    @cached_property
    def lookup_positions(self) -> tuple[int, ...]:
        """Where the lookup columns are in a row."""
        return tuple(self.column_index[c.name] for c in self.lookup_columns)

    @property
    def key_columns(self) -> tuple[ColumnRecord, ...]:
        return self.lookup_columns + ((self.timeseries,) if self.timeseries else ())

    def physical(self, column: ColumnRecord) -> sa.Column:
        return self.table.c[column_name(column.position)]


def layout_of(record: TableRecord) -> TableLayout:
    detail = record.detail
    if record.securable.full_name.split(".")[0] == SYSTEM_CATALOG:
        raise PermissionDenied(
            f"'{record.securable.full_name}' is a system table: read it with SELECT through SQL"
        )
    if detail.table_type == "VIEW":
        raise InvalidParameter(
            f"'{record.securable.full_name}' is a view: read it with SELECT through SQL"
        )
    if not has_storage(detail):
        raise InvalidParameter(
            f"'{record.securable.full_name}' is an {detail.table_type} table: its data lives at "
            f"{record.securable.storage_location}, not in Steward"
        )
    by_name = columns_by_name(detail.columns)
    keys = [by_name[name.lower()] for name in detail.primary_key_columns or ()]
    ts_name = (detail.timeseries_column or "").lower()
    timeseries = by_name.get(ts_name) if ts_name else None
    lookup = tuple(c for c in keys if c is not timeseries)
    return TableLayout(record, physical_table(record.securable.id, detail), lookup, timeseries)


class TableDataService:
    """Reads and writes the rows of managed tables; ``namespace`` resolves names."""

    def __init__(
        self,
        db: Database,
        namespace: Any,
        max_rows_per_write: int = DEFAULT_MAX_ROWS_PER_WRITE,
    ) -> None:
        self.db = db
        self.namespace = namespace
        #: Most rows one request may write: a write holds the one SQLite writer for its
        #: whole transaction, so its size is what bounds how long others wait.
        self.max_rows_per_write = max_rows_per_write
        self._ready: set[str] = set()
        self._ready_lock = threading.Lock()
        #: Latest rows by key, for serving's lookups (see :meth:`latest_by_key`).
        self.row_cache = RowCache()

    # -- resolution -------------------------------------------------------------------

    def layout(self, full_name: str) -> TableLayout:
        layout = layout_of(self.namespace.get_table(full_name))
        self._ensure_storage(layout)
        return layout

    def _ensure_storage(self, layout: TableLayout) -> None:
        """A managed table gets its rows' physical table on first use, not when it is
        created (catalog/namespace.py): made here once, by whichever request, process or
        replica uses it first."""
        table_id = layout.record.securable.id
        if table_id in self._ready:
            return
        with self._ready_lock:
            if table_id in self._ready:
                return
            with self.db.read() as session:
                exists = storage_exists(session.connection(), table_id)
            if not exists:
                # Housekeeping, not the request's change: the request's event is written by
                # the transaction that makes its change.
                with detached(), self.db.transaction() as session:
                    self._make_storage(session, layout.record.securable)
            self._ready.add(table_id)

    def _make_storage(self, session: Session, securable: SecurableRecord) -> None:
        """Create the physical table of ``securable`` in ``session``'s transaction, from
        its columns as they are now. The securable's row is locked first (on PostgreSQL;
        SQLite's one writer is held already), so that another process making it, or adding
        columns (ALTER TABLE updates that row), goes before or after this, never between
        the check and the create; a table dropped meanwhile is not there any more."""
        held = session.execute(
            sa.select(Securable.id).where(Securable.id == securable.id).with_for_update()
        ).first()
        if held is None:
            raise NotFound(f"TABLE '{securable.full_name}' does not exist")
        store = self.namespace.stores.namespace(session)
        detail = store.get_table_details([securable.id])[securable.id]
        ensure_storage(session.connection(), securable.id, detail)

    # -- writes -----------------------------------------------------------------------

    def write(
        self,
        full_name: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        text: bool = False,
        merge: bool = True,
    ) -> WriteResult:
        """Check every row, then write them in one transaction (merge: upsert by key)."""
        rows = rows if isinstance(rows, Sequence) else list(rows)
        self.check_write_size(len(rows), "the request")
        layout = self.layout(full_name)
        checked = check_rows(layout.record.detail.columns, rows, text=text)
        with self.db.transaction() as session:
            return self.write_checked(session, layout, checked, merge=merge)

    def check_write_size(self, count: int, what: str) -> None:
        """Refuse (413) a write of more than :attr:`max_rows_per_write` rows before any
        work: the caller splits it, and nobody waits behind one unbounded transaction."""
        if count > self.max_rows_per_write:
            raise PayloadTooLarge(
                f"{what} writes {count} rows; at most {self.max_rows_per_write} rows may be "
                "written by one request (STEWARD_MAX_ROWS_PER_WRITE): split it into several"
            )

    def write_checked(
        self,
        session: Session,
        layout: TableLayout,
        rows: Sequence[dict[int, Any]],
        *,
        merge: bool = True,
    ) -> WriteResult:
        """Write rows already checked by :func:`common.values.check_rows`."""
        if not rows:
            return WriteResult(0, 0, 0)
        keys = layout.key_columns
        if not keys:  # no primary key: every row is a new row
            _execute_chunked(session, sa.insert(layout.table), rows)
            self._bump_version(session, layout)
            return WriteResult(len(rows), len(rows), 0)
        _refuse_duplicate_keys(layout, rows)
        existing = self._existing_keys(session, layout, rows)
        if existing and not merge:
            number, row = next((i, r) for i, r in enumerate(rows, 1) if _key(layout, r) in existing)
            raise InvalidParameter(
                f"row {number}: a row with primary key {_shown_key(layout, row)} already exists; "
                "use MERGE INTO (or the rows API, which merges) to update it"
            )
        _execute_chunked(session, self._upsert(session, layout), rows)
        self._bump_version(session, layout)
        updated = sum(1 for r in rows if _key(layout, r) in existing)
        return WriteResult(len(rows), len(rows) - updated, updated)

    def update_rows(
        self,
        session: Session,
        layout: TableLayout,
        rows: Sequence[tuple[Any, Mapping[int, Any]]],
        positions: Sequence[int],
    ) -> int:
        """Set the columns at ``positions`` of each stored row named by its row identity
        (:data:`catalog.data.physical.ROW_IDENTITY`): ``rows`` are (row id, {position:
        value}) with values checked by :func:`common.values.check_rows`. Only those
        columns are written. How many rows changed. Used by SQL ``UPDATE`` and ``MERGE``,
        which hold the table against other writers (:meth:`hold_against_writers`)."""
        if not rows:
            return 0
        backend = session.get_bind().dialect.name
        statement = (
            sa.update(layout.table)
            .where(row_identity_condition(backend))
            .values({column_name(p): sa.bindparam(f"v{p}") for p in positions})
        )
        parameters = [
            {"row_id": row_id, **{f"v{p}": values.get(p) for p in positions}}
            for row_id, values in rows
        ]
        changed = 0
        for start in range(0, len(parameters), _CHUNK):
            result = session.execute(statement, parameters[start : start + _CHUNK])
            changed += result.rowcount or 0
        if changed:
            self._bump_version(session, layout)
        return changed

    def delete_rows(self, session: Session, layout: TableLayout, row_ids: Sequence[Any]) -> int:
        """Delete the stored rows named by their row identity; how many went. Used by
        SQL ``DELETE`` and ``MERGE``, which hold the table against other writers."""
        if not row_ids:
            return 0
        backend = session.get_bind().dialect.name
        statement = sa.delete(layout.table).where(row_identity_condition(backend))
        deleted = 0
        for start in range(0, len(row_ids), _CHUNK):
            chunk = [{"row_id": row_id} for row_id in row_ids[start : start + _CHUNK]]
            deleted += session.execute(statement, chunk).rowcount or 0
        if deleted:
            self._bump_version(session, layout)
        return deleted

    @staticmethod
    def hold_against_writers(session: Session, layout: TableLayout) -> int:
        """Keep other writers off the table until the session's transaction ends; the
        table's data version now (0: never written). A statement that read rows at some
        version changes them by row identity only if the version is still that one."""
        connection = session.connection()
        lock_against_writers(connection, layout.table)
        return data_version(connection, layout.record.securable.id)

    @staticmethod
    def _bump_version(session: Session, layout: TableLayout) -> None:
        bump_data_version(session, layout.record.securable.id)

    def _upsert(self, session: Session, layout: TableLayout) -> Any:
        statement = upsert_insert(session, layout.table)
        key_names = [column_name(c.position) for c in layout.key_columns]
        rest = {
            column_name(c.position): statement.excluded[column_name(c.position)]
            for c in layout.columns
            if column_name(c.position) not in key_names
        }
        if not rest:
            return statement.on_conflict_do_nothing(index_elements=key_names)
        return statement.on_conflict_do_update(index_elements=key_names, set_=rest)

    def _existing_keys(
        self, session: Session, layout: TableLayout, rows: Sequence[dict[int, Any]]
    ) -> set[tuple[Any, ...]]:
        columns = [layout.physical(c) for c in layout.key_columns]
        wanted = [tuple(r.get(c.position) for c in layout.key_columns) for r in rows]
        found: set[tuple[Any, ...]] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            condition = (
                columns[0].in_([k[0] for k in chunk])
                if len(columns) == 1
                else sa.tuple_(*columns).in_(chunk)
            )
            for row in session.execute(sa.select(*columns).where(condition)):
                found.add(_normalized(layout.key_columns, tuple(row)))
        return found

    # -- reads by key -----------------------------------------------------------------

    def lookup(
        self,
        full_name: str,
        keys: Sequence[Mapping[str, Any]],
        *,
        as_of: Sequence[Any] | None = None,
        lookback: timedelta | None = None,
        access: Callable[[TableLayout], RowAccess | None] | None = None,
    ) -> tuple[TableLayout, list[dict[str, Any] | None]]:
        """For each key (a mapping of the lookup columns), its row or None.

        A timeseries table answers the latest row of the key, or with ``as_of`` (one time
        per key) the latest row whose time is not later, and not earlier than
        ``as_of - lookback`` when a lookback is given. ``access`` gives the caller's row
        filter and masks for the table, if any (:mod:`catalog.row_access.table_access`).
        """
        layout = self.layout(full_name)
        found = self.lookup_in(
            layout,
            keys,
            as_of=as_of,
            lookback=lookback,
            access=access(layout) if access is not None else None,
        )
        return layout, found

    def lookup_in(
        self,
        layout: TableLayout,
        keys: Sequence[Mapping[str, Any]],
        *,
        as_of: Sequence[Any] | None = None,
        lookback: timedelta | None = None,
        access: RowAccess | None = None,
    ) -> list[dict[str, Any] | None]:
        """As :meth:`lookup`. With ``access``, rows the filter hides are not there (the
        latest row of a key is its latest visible one) and masked columns read masked."""
        if not layout.lookup_columns:
            raise InvalidParameter(
                f"'{layout.record.securable.full_name}' has no primary key, so rows cannot be "
                "looked up by key"
            )
        raw = self._checked_keys(layout, keys)
        times = self._checked_times(layout, as_of, len(raw))
        if layout.timeseries is None or times is None:
            names = [c.name for c in layout.columns]
            return [
                None if row is None else dict(zip(names, row, strict=True))
                for row in self._latest_rows(layout, raw, access)
            ]
        wanted = [_normalized(layout.lookup_columns, k) for k in raw]
        unique = list(dict.fromkeys(raw))
        with self.db.read() as session:
            history = self._histories(session, layout, unique, max(times), access)
        out: list[dict[str, Any] | None] = []
        for key, moment in zip(wanted, times, strict=True):
            stamps, values = history.get(key, ([], []))
            index = bisect.bisect_right(stamps, moment) - 1
            if index < 0 or (lookback is not None and stamps[index] < moment - lookback):
                out.append(None)
            else:
                out.append(values[index])
        return out

    def latest_by_key(
        self,
        layout: TableLayout,
        key_columns: Sequence[Sequence[Any]],
        access: RowAccess | None = None,
        assumed: AssumedVersions | None = None,
    ) -> list[tuple[Any, ...] | None]:
        """For each key, given by column (one sequence per lookup column, in key order),
        the latest stored row as a tuple of the table's columns in position order, or None.

        This is the lookup serving runs on every request, so it works a column at a time:
        keys that are plainly of their column's type (whole numbers in range, text) are not
        checked one by one, and rows stay tuples. Anything else takes the checks of
        :meth:`lookup_in`, which name the first bad key. Rows come from the row cache
        while the table's data version is unchanged (:mod:`catalog.data.row_cache`); a
        table with a row filter or masks for the reader (``access``) is read every time.

        With ``assumed``, when the row cache holds every key's row the version it holds
        them at is taken as the table's without reading it, and recorded in ``assumed``
        for the caller's commit to confirm (:mod:`catalog.data.assumed_versions`).
        """
        if all(
            _plain_keys(column, values)
            for column, values in zip(layout.lookup_columns, key_columns, strict=True)
        ):
            keys = list(zip(*key_columns, strict=True))
        else:
            names = [c.name for c in layout.lookup_columns]
            given = [dict(zip(names, key, strict=True)) for key in zip(*key_columns, strict=True)]
            keys = [
                _normalized(layout.lookup_columns, k) for k in self._checked_keys(layout, given)
            ]
        if access is not None:
            return self._latest_rows(layout, keys, access)
        table_id = layout.record.securable.id
        if assumed is not None:
            held = self.row_cache.held(table_id)
            if held is not None:
                version, rows = held
                found = [rows.get(k) for k in keys]
                if None not in found and assumed.assume(table_id, version):
                    return found
        with self.db.statement_read() as connection:
            version = data_version(connection, table_id)
            cached = self.row_cache.rows(table_id, version)
            if cached is None:  # rows of a newer version are cached: read, don't keep
                found = self._latest(connection, layout, list(dict.fromkeys(keys)))
                return [found.get(k) for k in keys]
            missing = [k for k in dict.fromkeys(keys) if k not in cached]
            if missing:
                self.row_cache.store(table_id, version, self._latest(connection, layout, missing))
        return [cached.get(k) for k in keys]

    def _latest_rows(
        self,
        layout: TableLayout,
        keys: Sequence[tuple[Any, ...]],
        access: RowAccess | None = None,
    ) -> list[tuple[Any, ...] | None]:
        """The latest (visible) row of each key (checked key tuples), read now."""
        if not keys:
            return []
        with self.db.statement_read() as connection:
            found = self._latest(connection, layout, list(dict.fromkeys(keys)), access)
        return [found.get(_normalized(layout.lookup_columns, k)) for k in keys]

    def _checked_keys(
        self, layout: TableLayout, keys: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Any, ...]]:
        checked = check_rows(layout.record.detail.columns, keys, partial=True)
        names = ", ".join(c.name for c in layout.lookup_columns)
        positions = [c.position for c in layout.lookup_columns]
        allowed = set(positions)
        if layout.timeseries is not None:
            allowed.add(layout.timeseries.position)
        wanted: list[tuple[Any, ...]] = []
        for number, row in enumerate(checked, start=1):
            key = tuple(row.get(p) for p in positions)
            extra = row.keys() - allowed
            if None not in key and not extra:  # the usual key: nothing more to look at
                wanted.append(key)
                continue
            missing = [c.name for c in layout.lookup_columns if row.get(c.position) is None]
            if missing:
                raise InvalidParameter(
                    f"key {number}: no value for lookup key column '{missing[0]}' "
                    f"(a key gives {names})"
                )
            if extra:
                column = next(c for c in layout.columns if c.position in extra)
                raise InvalidParameter(
                    f"key {number}: '{column.name}' is not a lookup key column "
                    f"(a key gives {names})"
                )
        return wanted

    @staticmethod
    def _checked_times(
        layout: TableLayout, as_of: Sequence[Any] | None, count: int
    ) -> list[datetime] | None:
        if as_of is None:
            return None
        if layout.timeseries is None:
            raise InvalidParameter(
                f"'{layout.record.securable.full_name}' has no TIMESERIES key column, so it "
                "cannot be looked up as of a time"
            )
        if len(as_of) != count:
            raise InvalidParameter("as_of needs one time per key")
        column = layout.timeseries
        checked = check_rows(
            layout.record.detail.columns, ({column.name: t} for t in as_of), partial=True
        )
        times: list[datetime] = []
        for number, row in enumerate(checked, start=1):
            value = row.get(column.position)
            if value is None:
                raise InvalidParameter(f"key {number}: no time to look the key up as of")
            times.append(_comparable(value))
        return times

    def _select_for(self, layout: TableLayout, access: RowAccess | None = None) -> sa.Select:
        return _visible(layout, access, self.db.backend)

    def _key_condition(self, layout: TableLayout, chunk: Sequence[tuple[Any, ...]]) -> Any:
        columns = [layout.physical(c) for c in layout.lookup_columns]
        if len(columns) == 1:
            return columns[0].in_([k[0] for k in chunk])
        return sa.tuple_(*columns).in_(chunk)

    def _latest(
        self,
        connection: Connection,
        layout: TableLayout,
        keys: Sequence[tuple[Any, ...]],
        access: RowAccess | None = None,
    ) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """One statement per chunk of keys (a request's keys are one chunk): each key's
        latest (visible) row, by its normalized key tuple."""
        found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        if access is None:
            statement = _latest_statement(layout.table, layout)
        else:
            statement = _build_latest(layout, access, self.db.backend)
        bare = len(layout.lookup_columns) == 1
        positions = layout.lookup_positions
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            values_of = [k[0] for k in chunk] if bare else list(chunk)
            # Plain tuples: cached, compared with None and indexed many times over.
            for row in map(tuple, connection.execute(statement, {"keys": values_of})):
                found[_normalized(layout.lookup_columns, tuple(row[i] for i in positions))] = row
        return found

    def _histories(
        self,
        session: Session,
        layout: TableLayout,
        keys: Sequence[tuple[Any, ...]],
        until: datetime,
        access: RowAccess | None = None,
    ) -> dict[tuple[Any, ...], tuple[list[datetime], list[dict[str, Any]]]]:
        assert layout.timeseries is not None
        ts = layout.physical(layout.timeseries)
        histories: dict[tuple[Any, ...], tuple[list[datetime], list[dict[str, Any]]]] = {}
        bound = _bound(layout.timeseries, until, session)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            query = (
                self._select_for(layout, access)
                .where(self._key_condition(layout, chunk), ts <= bound)
                .order_by(ts)
            )
            for row in session.execute(query):
                values = dict(zip((c.name for c in layout.columns), row, strict=True))
                key = _normalized(
                    layout.lookup_columns, tuple(values[c.name] for c in layout.lookup_columns)
                )
                stamps, rows = histories.setdefault(key, ([], []))
                stamps.append(_comparable(values[layout.timeseries.name]))
                rows.append(values)
        return histories


def data_version(connection: Connection, table_id: str) -> int:
    """The table's data version as ``connection``'s transaction sees it (0: never written)."""
    found = _VERSION.first(connection, {"table_id": table_id})
    return int(found[0]) if found is not None else 0


#: A table's data version (no row: never written, version 0).
_VERSION = DriverStatement(
    sa.select(TableDataVersion.__table__.c.version).where(
        TableDataVersion.__table__.c.table_id == sa.bindparam("table_id")
    )
)

#: The latest-row statement of each physical table, built once: a lookup by key (what
#: serving runs on every request) then costs one execution of a compiled statement, with
#: the keys bound as one expanding parameter.
_LATEST: dict[sa.Table, sa.Select] = {}


def _latest_statement(table: sa.Table, layout: TableLayout) -> sa.Select:
    statement = _LATEST.get(table)
    if statement is not None:
        return statement
    statement = _LATEST[table] = _build_latest(layout)
    return statement


def _visible(layout: TableLayout, access: RowAccess | None, backend: str) -> sa.Select:
    """Every column of the physical table, as the reader sees it: with ``access``, masked
    columns are their masks' SQL and the filter's SQL is the WHERE. That SQL is generated
    from sqlglot trees (catalog/row_access/table_access.py), never from request text;
    ``literal_column`` keeps SQLAlchemy from reading anything in it as a parameter."""
    if access is None:
        return sa.select(*(layout.physical(c) for c in layout.columns))
    columns = []
    for column in layout.columns:
        physical = layout.physical(column)
        masked = access.column_sql(column, backend)
        columns.append(
            physical
            if masked is None
            else sa.literal_column(masked, type_=physical.type).label(physical.name)
        )
    statement = sa.select(*columns).select_from(layout.table)
    condition = access.filter_sql(backend)
    if condition is not None:
        statement = statement.where(sa.literal_column(condition, type_=sa.Boolean))
    return statement


def _build_latest(
    layout: TableLayout, access: RowAccess | None = None, backend: str = ""
) -> sa.Select:
    """Each key's latest row (its only row, without a timeseries column); with ``access``,
    its latest visible row, as the reader sees it."""
    lookup = [layout.physical(c) for c in layout.lookup_columns]
    keys = sa.bindparam("keys", expanding=True)
    condition = lookup[0].in_(keys) if len(lookup) == 1 else sa.tuple_(*lookup).in_(keys)
    statement = _visible(layout, access, backend).where(condition)
    if layout.timeseries is not None:
        ts = layout.physical(layout.timeseries)
        newest_rows = sa.select(*lookup, sa.func.max(ts).label("newest")).where(condition)
        hidden = access.filter_sql(backend) if access is not None else None
        if hidden is not None:
            newest_rows = newest_rows.where(sa.literal_column(hidden, type_=sa.Boolean))
        newest = newest_rows.group_by(*lookup).subquery()
        statement = statement.join(
            newest,
            sa.and_(*(column == newest.c[column.name] for column in lookup), ts == newest.c.newest),
        )
    return statement


def _plain_keys(column: ColumnRecord, values: Sequence[Any]) -> bool:
    """Whether :func:`check_rows` would take every key value of ``column`` unchanged:
    whole numbers (not booleans) in the column's range, or plain ASCII text without NUL.
    (Time keys are not plain: they are parsed and normalized.)"""
    if not values:
        return False
    types = set(map(type, values))
    if column.type_name in INT_RANGES:
        low, high = INT_RANGES[column.type_name]
        return types == {int} and low <= min(values) and max(values) <= high
    if column.type_name == "STRING":
        return types == {str} and all(v.isascii() and "\x00" not in v for v in values)
    return False


def _execute_chunked(session: Session, statement: Any, rows: Sequence[dict[int, Any]]) -> None:
    """Run ``statement`` for ``rows`` :data:`_WRITE_CHUNK` at a time: the parameters of
    one statement stay bounded however many rows the (already size-checked) write has."""
    for start in range(0, len(rows), _WRITE_CHUNK):
        session.execute(statement, [_physical_row(r) for r in rows[start : start + _WRITE_CHUNK]])


def _physical_row(row: dict[int, Any]) -> dict[str, Any]:
    return {column_name(position): value for position, value in row.items()}


def _key(layout: TableLayout, row: dict[int, Any]) -> tuple[Any, ...]:
    return _normalized(layout.key_columns, tuple(row.get(c.position) for c in layout.key_columns))


_TIMES = frozenset({"TIMESTAMP", "TIMESTAMP_NTZ", "DATE"})


def _normalized(columns: Sequence[ColumnRecord], values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Key values as comparable Python values (times UTC-aware, whatever the backend gave)."""
    if not any(c.type_name in _TIMES for c in columns):  # the usual key: nothing to do
        return values
    return tuple(
        _comparable(v) if c.type_name in ("TIMESTAMP", "TIMESTAMP_NTZ", "DATE") else v
        for c, v in zip(columns, values, strict=True)
    )


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):  # SQLite hands back text where the type is lost
        return _comparable(datetime.fromisoformat(value))
    if hasattr(value, "isoformat"):  # a date
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


def _bound(column: ColumnRecord, until: datetime, session: Session) -> Any:
    """``until`` in the form the timeseries column stores."""
    if column.type_name == "DATE":
        return until.date()
    if column.type_name == "TIMESTAMP_NTZ" or session.get_bind().dialect.name == "sqlite":
        return until.astimezone(UTC).replace(tzinfo=None)
    return until


def _shown_key(layout: TableLayout, row: dict[int, Any]) -> str:
    return ", ".join(f"{c.name}={row.get(c.position)!s}" for c in layout.key_columns)


def _refuse_duplicate_keys(layout: TableLayout, rows: Sequence[dict[int, Any]]) -> None:
    seen: dict[tuple[Any, ...], int] = {}
    for number, row in enumerate(rows, start=1):
        key = _key(layout, row)
        if key in seen:
            raise InvalidParameter(
                f"rows {seen[key]} and {number} have the same primary key "
                f"({_shown_key(layout, row)}); a batch may write each key once"
            )
        seen[key] = number
