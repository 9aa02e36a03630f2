"""Securables, table details and pages of children, read once and kept until the
namespace changes.

Every request that names an object resolves it and its containers (the route guard asks
the authorizer, which needs their ids and owners), and a GET reads the object again for
its answer. Profiles of ``GET /tables/{name}`` put a third of the server's time in those
reads — the same few rows, unchanged between writes, read and mapped anew per request.

So they are kept here, with one rule that keeps them right: **any** change to the
namespace (a drop, rename, owner or comment change of any object, in any worker or
replica) drops everything cached. Adding an object is the one narrower case: what it can
make stale is its own name (cached as not found) and its parent's pages of children, and
only those are forgotten (:meth:`NamespaceCache.forget_added`): a job creating tables
must not make every worker read again all it knew. The namespace store marks the
transaction of each change (:data:`catalog.store.base.NAMESPACE_CHANGED_INFO`, or
``NAMESPACE_ADDED_INFO`` for additions); at commit that becomes an op in the policy feed
(:mod:`catalog.access.cache_sync`), so it reaches every worker and replica in commit order,
as grants do — on SQLite's workers before their next request (the change beacon), on
PostgreSQL's replicas within NOTIFY's delay. Other changes are rare beside reads, so
dropping everything for them is cheap and leaves nothing to get wrong about which entry a
change touched.

Two more rules keep a fill from outliving a change:

* a miss is read in a transaction of its own that starts after the generation was noted
  (never through the caller's session, whose snapshot may be older than a change already
  dropped here), and is kept only if no change was dropped or forgotten meanwhile;
* only read sessions use the cache: a write transaction sees its own uncommitted changes,
  which must never be kept.

Entries are handed out as copies, so a caller that changes a record changes its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from catalog.persistence.engine import Database
from catalog.records import SecurableRecord, TableDetailRecord
from catalog.store.base import NamespaceStore
from catalog.store.factory import CatalogStores
from policy.securables import SecurableType

#: Past this many entries a table is emptied (names probed by a client need no memory).
MAX_ENTRIES = 50_000
_ABSENT = object()
T = TypeVar("T")


class NamespaceCache:
    def __init__(self, db: Database, stores: CatalogStores) -> None:
        self.db = db
        self.stores = stores
        #: Bumped by every dropped change; a fill noted under an older one is not kept.
        self.generation = 0
        self._securables: dict[str, object] = {}
        self._details: dict[str, TableDetailRecord] = {}
        #: Pages of children by (parent id, types, after, limit).
        self._children: dict[tuple[object, ...], list[SecurableRecord]] = {}
        self._lock = threading.Lock()
        #: Reads that went to the database (for tests and measurements).
        self.misses = 0

    def invalidate(self) -> None:
        """Drop everything (a change committed here or elsewhere)."""
        with self._lock:
            self.generation += 1
            self._securables = {}
            self._details = {}
            self._children = {}

    def forget_added(self, full_name: str, parent_id: str | None) -> None:
        """An object was added (committed here or elsewhere): forget that its name was not
        found and its parent's pages of children; nothing else it could have changed. The
        generation moves too, so a fill read before the addition is not kept after it."""
        with self._lock:
            self.generation += 1
            self._securables.pop(full_name, None)
            self._children = {
                key: page for key, page in self._children.items() if key[0] != parent_id
            }

    def securables(self, full_names: Iterable[str]) -> dict[str, SecurableRecord]:
        """What ``store.get_many`` answers, from the cache where it can."""
        found: dict[str, SecurableRecord] = {}
        missing: list[str] = []
        entries = self._securables
        for name in full_names:
            entry = entries.get(name)
            if entry is None:
                missing.append(name)
            elif entry is not _ABSENT:
                assert isinstance(entry, SecurableRecord)
                found[name] = _copy(entry)
        if missing:

            def keep(loaded: dict[str, SecurableRecord]) -> None:
                self._trim(self._securables)
                for name in missing:
                    self._securables[name] = loaded.get(name, _ABSENT)

            loaded = self._fill(lambda store: store.get_many(missing), keep)
            found.update({name: _copy(record) for name, record in loaded.items()})
        return found

    def children(
        self,
        parent_id: str | None,
        securable_types: Sequence[SecurableType],
        after_name: str | None,
        limit: int,
        *,
        shared: bool = False,
    ) -> list[SecurableRecord]:
        """What ``store.list_children`` answers (one keyset page of a container's
        children), from the cache where it can. ``shared``: the cached records themselves,
        not copies, for a caller that only reads them (copying a page of 100 was a tenth
        of a SHOW TABLES statement's CPU)."""
        key = (parent_id, tuple(securable_types), after_name, limit)
        entry = self._children.get(key)
        if entry is None:

            def keep(page: list[SecurableRecord]) -> None:
                self._trim(self._children)
                self._children[key] = page

            entry = self._fill(
                lambda store: store.list_children(parent_id, securable_types, after_name, limit),
                keep,
            )
        return list(entry) if shared else [_copy(record) for record in entry]

    def peek_children(
        self,
        parent_id: str | None,
        securable_types: Sequence[SecurableType],
        after_name: str | None,
        limit: int,
        *,
        shared: bool = False,
    ) -> list[SecurableRecord] | None:
        """What :meth:`children` would answer (``shared`` as there), if that page is
        cached; None (and no database read) otherwise."""
        entry = self._children.get((parent_id, tuple(securable_types), after_name, limit))
        if entry is None:
            return None
        return list(entry) if shared else [_copy(record) for record in entry]

    def peek(self, full_names: Sequence[str]) -> dict[str, SecurableRecord] | None:
        """What :meth:`securables` would answer, if every name is cached; None (and no
        database read) otherwise: for callers on the event loop, which must not wait."""
        entries = self._securables
        found: dict[str, SecurableRecord] = {}
        for name in full_names:
            entry = entries.get(name)
            if entry is None:
                return None
            if entry is not _ABSENT:
                assert isinstance(entry, SecurableRecord)
                found[name] = _copy(entry)
        return found

    def peek_table_detail(self, securable_id: str) -> TableDetailRecord | None:
        """:meth:`table_details` of one table if cached; None (and no read) otherwise."""
        entry = self._details.get(securable_id)
        return _copy_detail(entry) if entry is not None else None

    def table_details(self, securable_ids: Sequence[str]) -> dict[str, TableDetailRecord]:
        """What ``store.get_table_details`` answers, from the cache where it can."""
        found: dict[str, TableDetailRecord] = {}
        missing: list[str] = []
        for securable_id in securable_ids:
            entry = self._details.get(securable_id)
            if entry is None:
                missing.append(securable_id)
            else:
                found[securable_id] = _copy_detail(entry)
        if missing:

            def keep(loaded: dict[str, TableDetailRecord]) -> None:
                self._trim(self._details)
                self._details.update(loaded)

            loaded = self._fill(lambda store: store.get_table_details(missing), keep)
            found.update({k: _copy_detail(v) for k, v in loaded.items()})
        return found

    def _fill(self, read: Callable[[NamespaceStore], T], keep: Callable[[T], None]) -> T:
        """Read a miss in a transaction of its own, begun after the generation is noted, and
        ``keep`` it (under the lock) only if no change was dropped meanwhile."""
        generation = self.generation
        with self.db.read() as session:
            value = read(self.stores.namespace(session))
        self.misses += 1
        with self._lock:
            if generation == self.generation:
                keep(value)
        return value

    @staticmethod
    def _trim(entries: dict[Any, Any]) -> None:
        if len(entries) >= MAX_ENTRIES:
            entries.clear()


def _copy(record: T) -> T:
    """A shallow copy, as ``copy.copy`` makes of these dataclasses, in a sixth of its time
    (a page of 100 tables is handed out per listing)."""
    copied = object.__new__(type(record))
    copied.__dict__.update(record.__dict__)
    return copied


def _copy_detail(detail: TableDetailRecord) -> TableDetailRecord:
    """A detail of its own with a list of its own (no code changes a column in place)."""
    copied = _copy(detail)
    copied.columns = list(detail.columns)
    return copied
