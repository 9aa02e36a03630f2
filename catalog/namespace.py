"""The namespace's domain rules: create, read, list, update and drop securables.

Authorization of the request itself happens before these methods run (route
guards, SQL statement checks); here live the rules about the objects: names,
parents, the reserved ``system`` catalog, non-empty containers and who can see
what in a listing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy.orm import Session

from catalog.access import casbin_rules
from catalog.access.authorizer import METASTORE_NODE, Authorizer, Caller, ancestor_names
from catalog.access.replica_sync import securable_added_op, securable_removed_op
from catalog.data.physical import (
    add_storage_columns,
    bump_data_version,
    create_storage,
    drop_storage,
    has_storage,
    storage_exists,
)
from catalog.names import SYSTEM_CATALOG, normalize_part, split_full_name
from catalog.pagination import decode_token, encode_token, page_size
from catalog.persistence.engine import Database
from catalog.records import (
    ColumnRecord,
    MetastoreRecord,
    Page,
    PolicyFunctionRef,
    SecurableRecord,
    TableDetailRecord,
    TableRecord,
    new_id,
    now_ms,
)
from catalog.store.base import NamespaceStore
from catalog.store.factory import CatalogStores
from catalog.store.namespace_cache import NamespaceCache
from catalog.system_tables import SYSTEM_TABLES
from common.errors import AlreadyExists, InvalidParameter, NotEmpty, NotFound, PermissionDenied
from policy.securables import SecurableType

T = TypeVar("T")
SYSTEM_OWNER = "System user"
#: How many rows a filtered listing may scan before it returns a short page.
_MAX_SCAN_BATCHES = 20
#: Rows per batch of :meth:`NamespaceService.list_full_names` (and so per page of the
#: namespace cache's children it keeps).
_NAMES_PAGE = 250
#: How many batches of ``_NAMES_PAGE`` cached records a listing answered on the event loop
#: (:meth:`NamespaceService.cached_full_names`) may scan for the ones its caller sees: a
#: few milliseconds at most, where a caller who sees one table of 6,000 would otherwise
#: hold the loop for the whole scan (37 ms on a small VM).
_LOOP_SCAN_BATCHES = 2


@dataclass
class NewSecurable:
    """What a caller supplies to create an object; the service fills in the rest."""

    securable_type: SecurableType
    full_name: str
    comment: str | None = None
    properties: dict[str, str] | None = None
    storage_root: str | None = None
    storage_location: str | None = None


class NamespaceService:
    def __init__(self, db: Database, authorizer: Authorizer, stores: CatalogStores) -> None:
        self.db = db
        self.authorizer = authorizer
        self.stores = stores

    # -- bootstrap ------------------------------------------------------------------

    def bootstrap(self, metastore_name: str = "steward") -> None:
        """Create the metastore row and the read-only ``system`` catalog on first start."""
        with self.db.transaction() as session:
            store = self.stores.namespace(session)
            if store.get_metastore() is None:
                store.insert_metastore(MetastoreRecord(new_id(), metastore_name, "admin", now_ms()))
            system = store.get(SecurableType.CATALOG, SYSTEM_CATALOG)
            if system is None:
                system = self._record(
                    NewSecurable(
                        SecurableType.CATALOG,
                        SYSTEM_CATALOG,
                        comment="System catalog: audit log, lineage and other system tables",
                    ),
                    None,
                    SYSTEM_OWNER,
                )
                store.insert(system)
            if store.get(SecurableType.SCHEMA, "system.access") is None:
                store.insert(
                    self._record(
                        NewSecurable(
                            SecurableType.SCHEMA,
                            "system.access",
                            comment="Audit and lineage system tables",
                        ),
                        system.id,
                        SYSTEM_OWNER,
                    )
                )
            access = store.get(SecurableType.SCHEMA, "system.access")
            assert access is not None
            for table in SYSTEM_TABLES:
                if store.get(SecurableType.TABLE, table.full_name) is None:
                    record = self._record(
                        NewSecurable(SecurableType.TABLE, table.full_name, comment=table.comment),
                        access.id,
                        SYSTEM_OWNER,
                    )
                    store.insert(record)
                    store.insert_table_detail(record.id, table.detail())

    def metastore(self) -> MetastoreRecord:
        with self.db.read() as session:
            found = self.stores.namespace(session).get_metastore()
        if found is None:
            raise NotFound("the metastore has not been initialised")
        return found

    # -- create ---------------------------------------------------------------------

    def create(
        self,
        caller: Caller,
        new: NewSecurable,
        table: TableDetailRecord | None = None,
        extra: Callable[[Session, SecurableRecord], None] | None = None,
        record_id: str | None = None,
    ) -> SecurableRecord:
        """Create an object under its (existing) parent, owned by the caller.

        ``extra`` runs in the same transaction so type-specific rows (a model's
        registry entry, say) commit with the object or not at all.
        """
        parts = split_full_name(new.full_name, new.securable_type)
        new.full_name = ".".join(parts)
        if parts[0] == SYSTEM_CATALOG:
            raise PermissionDenied("the system catalog is read-only")
        with self.db.transaction() as session:
            store = self.stores.namespace(session)
            record = self._record(new, None, caller.name, record_id)
            # A managed table's rows get their physical table on first use
            # (TableDataService.layout): a create leaves the database's schema alone, which
            # cost it more than everything else it writes (a CREATE TABLE is most of a
            # create's time on PostgreSQL).
            if len(parts) == 1:  # a catalog
                store.insert(record)
            else:
                parent_type = new.securable_type.parent_type
                assert parent_type is not None
                parent_name = ".".join(parts[:-1])
                written = store.insert_child(record, parent_type, parent_name, table)
                if written is None:
                    raise NotFound(f"{parent_type.value} '{parent_name}' does not exist")
                record = written
            parent_id = record.parent_id
            if extra is not None:
                extra(session, record)
            ops = [securable_added_op(record.id, parent_id or METASTORE_NODE.key)]
            self.authorizer.feed.publish(session, ops)
        return record

    @staticmethod
    def _record(
        new: NewSecurable, parent_id: str | None, owner: str, record_id: str | None = None
    ) -> SecurableRecord:
        return SecurableRecord(
            id=record_id or new_id(),
            securable_type=new.securable_type,
            parent_id=parent_id,
            name=new.full_name.split(".")[-1],
            full_name=new.full_name,
            owner=owner,
            created_at=now_ms(),
            created_by=owner,
            comment=new.comment,
            properties=dict(new.properties or {}),
            storage_root=new.storage_root,
            storage_location=new.storage_location,
        )

    # -- read -----------------------------------------------------------------------

    def get(self, securable_type: SecurableType, full_name: str) -> SecurableRecord:
        name = ".".join(split_full_name(full_name, securable_type))
        with self.db.read() as session:
            found = self.stores.namespace(session).get(securable_type, name)
        if found is None:
            raise NotFound(f"{securable_type.value} '{name}' does not exist")
        return found

    def find(
        self, store: NamespaceStore, securable_type: SecurableType, full_name: str
    ) -> SecurableRecord | None:
        """``store.get``, answered from the namespace cache when ``store`` only reads."""
        cache = self.authorizer.cache
        if cache is None or not store.reads_committed():
            return store.get(securable_type, full_name)
        found = cache.securables([full_name]).get(full_name)
        return found if found is not None and found.securable_type is securable_type else None

    def cached_table(self, full_name: str) -> TableRecord | None:
        """:meth:`get_table` from the namespace cache alone, or None (nothing read)."""
        cache = self.authorizer.cache
        if cache is None:
            return None
        name = ".".join(split_full_name(full_name, SecurableType.TABLE))
        found = (cache.peek([name]) or {}).get(name)
        if found is None or found.securable_type is not SecurableType.TABLE:
            return None
        detail = cache.peek_table_detail(found.id)
        return TableRecord(found, detail) if detail is not None else None

    def _table_details(
        self, store: NamespaceStore, securable_ids: list[str]
    ) -> dict[str, TableDetailRecord]:
        """``store.get_table_details``, answered from the namespace cache when ``store``
        only reads."""
        cache = self.authorizer.cache
        if cache is None or not store.reads_committed():
            return store.get_table_details(securable_ids)
        return cache.table_details(securable_ids)

    def get_table(self, full_name: str) -> TableRecord:
        name = ".".join(split_full_name(full_name, SecurableType.TABLE))
        with self.db.read() as session:
            store = self.stores.namespace(session)
            found = self.find(store, SecurableType.TABLE, name)
            if found is None:
                raise NotFound(f"TABLE '{name}' does not exist")
            detail = self._table_details(store, [found.id])[found.id]
        return TableRecord(found, detail)

    def list(
        self,
        caller: Caller,
        securable_type: SecurableType,
        parent_full_name: str | None,
        max_results: int | None,
        page_token: str | None,
        server_max: int,
    ) -> Page[SecurableRecord]:
        """One page of the children of a container that the caller may see, by name."""
        limit = page_size(max_results, server_max)
        after = decode_token(page_token)
        with self.db.read() as session:
            store = self.stores.namespace(session)
            return self._list(store, caller, securable_type, parent_full_name, after, limit)

    def list_full_names(
        self, caller: Caller, securable_type: SecurableType, parent_full_name: str | None
    ) -> list[str]:
        """The full names of every child of a container that the caller may see, by name
        (SQL's SHOW …): all pages in one read, the cached records read, not copied; from
        the namespace cache alone when it keeps the container and every page (no session
        opened: a tenth of a SHOW TABLES statement's CPU)."""
        cached = self.cached_full_names(caller, securable_type, parent_full_name, whole=True)
        if cached is not None:
            return cached
        with self.db.read() as session:
            store = self.stores.namespace(session)
            return self._all_names(
                lambda after: self._list(
                    store, caller, securable_type, parent_full_name, after, _NAMES_PAGE, True
                )
            )

    def cached_full_names(
        self,
        caller: Caller,
        securable_type: SecurableType,
        parent_full_name: str | None,
        *,
        whole: bool = False,
    ) -> list[str] | None:
        """:meth:`list_full_names` from the namespace cache alone, or None (nothing read):
        the container's chain and the pages must be kept. Unless ``whole`` (a caller on a
        worker thread), bounded for a caller on the event loop: one page of at most
        ``_NAMES_PAGE`` names, found in at most ``_LOOP_SCAN_BATCHES`` batches."""
        cached = self._cached_chain_of(securable_type, parent_full_name)
        if cached is None:
            return None
        chain, cache = cached

        def page_after(after: str | None) -> Page[SecurableRecord]:
            return self._page(
                caller,
                securable_type,
                chain,
                _kept_children(cache, shared=True),
                after,
                _NAMES_PAGE,
                _MAX_SCAN_BATCHES if whole else _LOOP_SCAN_BATCHES,
            )

        try:
            if whole:
                return self._all_names(page_after)
            page = page_after(None)
        except _NotKept:
            return None
        return None if page.next_page_token else [record.full_name for record in page.items]

    def _cached_chain_of(
        self, securable_type: SecurableType, parent_full_name: str | None
    ) -> tuple[list[SecurableRecord] | None, NamespaceCache] | None:
        """The chain of the container whose children of ``securable_type`` are listed (None
        for the metastore's) and the namespace cache, when the cache keeps that chain;
        None otherwise."""
        cache = self.authorizer.cache
        if cache is None:
            return None
        if parent_full_name is None:
            return None, cache
        parent_type = securable_type.parent_type
        assert parent_type is not None
        chain = self.authorizer.cached_chain(parent_full_name, parent_type)
        return None if chain is None else (chain, cache)

    @staticmethod
    def _all_names(
        page_after: Callable[[str | None], Page[SecurableRecord]],
    ) -> list[str]:
        names: list[str] = []
        after: str | None = None
        while True:
            page = page_after(after)
            names.extend(record.full_name for record in page.items)
            if not page.next_page_token:
                return names
            after = decode_token(page.next_page_token)

    def list_tables(
        self,
        caller: Caller,
        parent_full_name: str,
        max_results: int | None,
        page_token: str | None,
        server_max: int,
    ) -> Page[TableRecord]:
        limit = page_size(max_results, server_max)
        after = decode_token(page_token)
        with self.db.read() as session:
            store = self.stores.namespace(session)
            page = self._list(store, caller, SecurableType.TABLE, parent_full_name, after, limit)
            details = self._table_details(store, [s.id for s in page.items])
        return Page([TableRecord(s, details[s.id]) for s in page.items], page.next_page_token)

    def cached_list_tables(
        self,
        caller: Caller,
        parent_full_name: str,
        max_results: int | None,
        page_token: str | None,
        server_max: int,
    ) -> Page[TableRecord] | None:
        """:meth:`list_tables` from the namespace cache alone, or None (nothing read): the
        schema's chain, the pages of its children the listing needs and every table's
        detail must all be kept. In memory only, so a route may answer on the event loop."""
        limit = page_size(max_results, server_max)
        after = decode_token(page_token)
        cached = self._cached_chain_of(SecurableType.TABLE, parent_full_name)
        if cached is None:
            return None
        chain, cache = cached
        try:
            page = self._page(
                caller, SecurableType.TABLE, chain, _kept_children(cache), after, limit
            )
        except _NotKept:
            return None
        tables: list[TableRecord] = []
        for record in page.items:
            detail = cache.peek_table_detail(record.id)
            if detail is None:
                return None
            tables.append(TableRecord(record, detail))
        return Page(tables, page.next_page_token)

    def list_all(
        self,
        caller: Caller,
        securable_type: SecurableType,
        max_results: int | None,
        page_token: str | None,
        server_max: int,
    ) -> Page[SecurableRecord]:
        """Every object of one type the caller may see, across containers, by full name."""
        limit = page_size(max_results, server_max)
        with self.db.read() as session:
            store = self.stores.namespace(session)

            def visible_in(batch: list[SecurableRecord]) -> list[SecurableRecord]:
                containers = store.get_many(
                    name for r in batch for name in ancestor_names(r.full_name)[:-1]
                )
                return [
                    record
                    for record in batch
                    if self.authorizer.can_see(caller, record)
                    or self.authorizer.can_see_all_children(
                        caller, [containers[n] for n in ancestor_names(record.full_name)[:-1]]
                    )
                ]

            return _scan(
                lambda after: store.list_by_type(securable_type, after, limit),
                visible_in,
                lambda record: record.full_name,
                decode_token(page_token),
                limit,
            )

    def _list(
        self,
        store: NamespaceStore,
        caller: Caller,
        securable_type: SecurableType,
        parent_full_name: str | None,
        after: str | None,
        limit: int,
        shared: bool = False,
    ) -> Page[SecurableRecord]:
        """``shared``: the page may hold the namespace cache's own records (see
        :meth:`NamespaceCache.children`), for a caller that only reads them."""
        chain: list[SecurableRecord] | None = None
        if parent_full_name is not None:
            parent_type = securable_type.parent_type
            assert parent_type is not None
            # In its stored spelling: SQL's SHOW … IN hands the container on as written.
            parent = ".".join(split_full_name(parent_full_name, parent_type))
            chain = self.authorizer.resolve_chain(parent, parent_type, store)
        cache = self.authorizer.cache if store.reads_committed() else None
        list_children: ListChildren = store.list_children
        if cache is not None:
            list_children = functools.partial(cache.children, shared=shared)
        return self._page(caller, securable_type, chain, list_children, after, limit)

    def _page(
        self,
        caller: Caller,
        securable_type: SecurableType,
        chain: list[SecurableRecord] | None,
        list_children: ListChildren,
        after: str | None,
        limit: int,
        max_batches: int = _MAX_SCAN_BATCHES,
    ) -> Page[SecurableRecord]:
        """One page of the children of ``chain``'s last level (of the metastore when None)
        that ``caller`` may see (scanning at most ``max_batches`` batches: see :func:`_scan`)."""
        parent_id: str | None = None
        everything_visible = caller.is_metastore_admin
        if chain is not None:
            parent_id = chain[-1].id
            everything_visible = self.authorizer.can_see_all_children(caller, chain, securable_type)
        if everything_visible:
            rows = list_children(parent_id, [securable_type], after, limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            return Page(rows, encode_token(rows[-1].name) if more else None)
        return _scan(
            lambda cursor: list_children(parent_id, [securable_type], cursor, limit),
            lambda batch: [r for r in batch if self.authorizer.can_see(caller, r)],
            lambda record: record.name,
            after,
            limit,
            max_batches,
        )

    # -- update ---------------------------------------------------------------------

    def update(
        self,
        caller: Caller,
        securable_type: SecurableType,
        full_name: str,
        *,
        comment: str | None = None,
        properties: dict[str, str] | None = None,
        remove_properties: Sequence[str] = (),
        owner: str | None = None,
        new_name: str | None = None,
    ) -> SecurableRecord:
        name = ".".join(split_full_name(full_name, securable_type))
        if name.split(".")[0] == SYSTEM_CATALOG:
            raise PermissionDenied("the system catalog is read-only")
        with self.db.transaction() as session:
            store = self.stores.namespace(session)
            record = store.get(securable_type, name)
            if record is None:
                raise NotFound(f"{securable_type.value} '{name}' does not exist")
            record.updated_at = now_ms()
            record.updated_by = caller.name
            if comment is not None:
                record.comment = comment
            if properties is not None:
                record.properties = {**record.properties, **properties}
            if remove_properties:
                gone = set(remove_properties)
                record.properties = {k: v for k, v in record.properties.items() if k not in gone}
            if owner is not None:
                record.owner = owner
            store.update(record)
            if new_name is not None:
                part = normalize_part(new_name, "new_name")
                if record.parent_id is None and part == SYSTEM_CATALOG:
                    raise InvalidParameter("'system' is a reserved catalog name")
                if part != record.name:
                    new_full = ".".join([*record.name_parts[:-1], part])
                    store.rename(record, part, new_full)
                    record.name, record.full_name = part, new_full
        return record

    def replace_table(
        self,
        caller: Caller,
        full_name: str,
        detail: TableDetailRecord,
        comment: str | None,
        extra: Callable[[Session, SecurableRecord], None] | None = None,
        *,
        view: bool = False,
    ) -> SecurableRecord:
        """CREATE OR REPLACE TABLE (or, with ``view``, VIEW) of an existing one: its
        definition and rows replaced in one transaction (``extra`` writes the new rows in
        it); the object — its id, owner, grants, tags and lineage — stays, as on
        Databricks. The caller is authorized already."""
        with self.db.transaction() as session:
            store = self.stores.namespace(session)
            record = self._touched(store, caller, full_name)
            record.comment = comment
            store.update(record)
            old = store.get_table_details([record.id]).get(record.id)
            if old is not None and (old.table_type == "VIEW") != view:
                what, use = ("a view", "VIEW") if old.table_type == "VIEW" else ("a table", "TABLE")
                raise InvalidParameter(f"'{full_name}' is {what}: use CREATE OR REPLACE {use}")
            store.replace_table_detail(record.id, detail)
            connection = session.connection()
            drop_storage(connection, [record.id])
            create_storage(connection, record.id, detail)
            bump_data_version(session, record.id)
            if extra is not None:
                extra(session, record)
        return record

    def add_columns(
        self, caller: Caller, full_name: str, columns: Sequence[ColumnRecord]
    ) -> TableDetailRecord:
        """ALTER TABLE … ADD COLUMNS: the columns appended (positions after the last) to
        the definition and to the rows' physical table, in one transaction. The caller is
        authorized already."""
        with self.db.transaction() as session:
            store = self.stores.namespace(session)
            record = self._touched(store, caller, full_name)
            detail = store.get_table_details([record.id])[record.id]
            taken = {c.name.lower() for c in detail.columns}
            start = max((c.position for c in detail.columns), default=-1) + 1
            added = []
            for offset, column in enumerate(columns):
                if column.name.lower() in taken:
                    raise AlreadyExists(f"TABLE '{full_name}' already has a column '{column.name}'")
                if not column.nullable:
                    raise InvalidParameter(
                        f"column '{column.name}' cannot be NOT NULL: the table's existing rows "
                        "have no value for it"
                    )
                taken.add(column.name.lower())
                added.append(replace(column, position=start + offset))
            store.add_columns(record.id, added)
            detail.columns = [*detail.columns, *added]
            # No physical table yet (never used): it will be made with these columns.
            if has_storage(detail) and storage_exists(session.connection(), record.id):
                add_storage_columns(session.connection(), record.id, added)
                bump_data_version(session, record.id)
        return detail

    def set_row_filter(
        self, caller: Caller, full_name: str, row_filter: PolicyFunctionRef | None
    ) -> None:
        """Set or (None) drop a table's row filter; the caller is authorized already."""
        with self.db.transaction() as session:
            store = self.stores.namespace(session)
            record = self._touched(store, caller, full_name)
            store.set_row_filter(record.id, row_filter)

    def set_column_mask(
        self, caller: Caller, full_name: str, column: str, mask: PolicyFunctionRef | None
    ) -> None:
        """Set or (None) drop a column's mask; the caller is authorized already."""
        with self.db.transaction() as session:
            store = self.stores.namespace(session)
            record = self._touched(store, caller, full_name)
            detail = store.get_table_details([record.id])[record.id]
            found = next(c for c in detail.columns if c.name == column)
            store.set_column_mask(record.id, found.position, mask)

    @staticmethod
    def _touched(store: NamespaceStore, caller: Caller, full_name: str) -> SecurableRecord:
        record = store.get(SecurableType.TABLE, full_name)
        if record is None:
            raise NotFound(f"TABLE '{full_name}' does not exist")
        record.updated_at, record.updated_by = now_ms(), caller.name
        store.update(record)
        return record

    # -- delete ---------------------------------------------------------------------

    def delete(
        self,
        securable_type: SecurableType,
        full_name: str,
        force: bool = False,
        before_delete: Callable[[Session, SecurableRecord], None] | None = None,
    ) -> SecurableRecord:
        name = ".".join(split_full_name(full_name, securable_type))
        if name.split(".")[0] == SYSTEM_CATALOG:
            raise PermissionDenied("the system catalog is read-only")
        with self.db.transaction() as session:
            store = self.stores.namespace(session)
            record = store.get(securable_type, name)
            if record is None:
                raise NotFound(f"{securable_type.value} '{name}' does not exist")
            if not force and store.has_children(record.id):
                raise NotEmpty(
                    f"{securable_type.value} '{name}' is not empty; "
                    "drop its contents first or delete with force=true (SQL: CASCADE)"
                )
            if before_delete is not None:
                before_delete(session, record)
            gone = [record.id, *store.descendant_ids(record.full_name)]
            drop_storage(session.connection(), gone)
            casbin_rules.remove_grants_on(session, gone)
            store.delete(record.id)
            ops = [securable_removed_op(securable_id) for securable_id in gone]
            self.authorizer.feed.publish(session, ops)
        return record

    def resolve_chain(
        self, securable_type: SecurableType, full_name: str
    ) -> Sequence[SecurableRecord]:
        name = ".".join(split_full_name(full_name, securable_type))
        with self.db.read() as session:
            return self.authorizer.resolve_chain(
                name, securable_type, self.stores.namespace(session)
            )


__all__ = ["NamespaceService", "NewSecurable", "ancestor_names"]


def _kept_children(cache: NamespaceCache, *, shared: bool = False) -> ListChildren:
    """The cache's pages of children as a :data:`ListChildren` that reads nothing: a page
    not kept raises :class:`_NotKept`."""

    def kept(
        parent_id: str | None, types: Sequence[SecurableType], cursor: str | None, n: int
    ) -> list[SecurableRecord]:
        page = cache.peek_children(parent_id, types, cursor, n, shared=shared)
        if page is None:
            raise _NotKept
        return page

    return kept


class _NotKept(Exception):
    """A page a cache-only listing needs is not in the namespace cache."""


#: ``store.list_children``'s shape: (parent id, types, after name, limit) → one page.
ListChildren = Callable[
    [str | None, Sequence[SecurableType], str | None, int], list[SecurableRecord]
]


def _scan(
    fetch: Callable[[str | None], list[SecurableRecord]],
    visible: Callable[[list[SecurableRecord]], list[SecurableRecord]],
    key: Callable[[SecurableRecord], str],
    after: str | None,
    limit: int,
    max_batches: int = _MAX_SCAN_BATCHES,
) -> Page[SecurableRecord]:
    """One page of a listing filtered by visibility, by keyset batches of ``limit`` rows.

    Stops at a full page, at the end, or after ``max_batches`` batches, when it returns a
    short page whose token resumes the scan where it stopped.
    """
    items: list[SecurableRecord] = []
    cursor = after
    for _ in range(max_batches):
        batch = fetch(cursor)
        shown = {id(r) for r in visible(batch)}
        for record in batch:
            cursor = key(record)
            if id(record) in shown:
                items.append(record)
                if len(items) == limit:
                    return Page(items, encode_token(cursor))
        if len(batch) < limit:
            return Page(items, None)
    return Page(items, encode_token(cursor) if cursor else None)
