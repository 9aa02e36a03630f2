"""Model versions by alias, read once and kept until the registry changes.

``models:/name@champion`` is how MLflow loads a model, and every load asks for the alias
first; a serving endpoint following an alias asks too. Each such GET read the alias, the
version and the version's tags and aliases: four statements per request for rows that
change only when someone registers, finalizes, tags or moves an alias.

They are kept here under the namespace cache's rules (catalog/store/namespace_cache.py):
**any** change to a version, an alias or a tag, in any worker or replica, drops everything
kept. The model store marks each transaction that writes one (:data:`REGISTRY_CHANGED_INFO`);
at commit that becomes a ``registry~`` op in the policy feed, so it reaches every worker
and replica in commit order, as grants do. A miss is read in a transaction of its own,
begun after the generation was noted, and kept only if nothing was dropped meanwhile.
Records are handed out as copies. Entries are keyed by the model's id, so a model dropped
and created again under its name never meets the old one's entries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from catalog.access.replica_sync import Op, PolicyFeed
from catalog.persistence.engine import Database
from registry.model_store import REGISTRY_CHANGED_INFO, VersionRecord

#: The policy feed's op kind for such a change.
REGISTRY_CHANGED = "registry~"
#: Past this many entries the cache is emptied (aliases probed by a client need no memory).
MAX_ENTRIES = 50_000
_ABSENT = object()


class VersionCache:
    def __init__(self) -> None:
        #: Bumped by every drop; a fill noted under an older one is not kept.
        self.generation = 0
        self._by_alias: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        #: Reads that went to the database (for tests and measurements).
        self.misses = 0

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._by_alias = {}

    def by_alias(
        self, model_id: str, alias: str, read: Callable[[], VersionRecord | None]
    ) -> VersionRecord | None:
        """The version ``alias`` of the model points at (tags and aliases filled in), or
        None; ``read`` reads it in a transaction of its own when it is not kept."""
        key = (model_id, alias)
        entry = self._by_alias.get(key)
        if entry is None:
            generation = self.generation
            found = read()
            self.misses += 1
            with self._lock:
                if generation == self.generation:
                    if len(self._by_alias) >= MAX_ENTRIES:
                        self._by_alias = {}
                    self._by_alias[key] = found if found is not None else _ABSENT
            return _copy(found) if found is not None else None
        if entry is _ABSENT:
            return None
        assert isinstance(entry, VersionRecord)
        return _copy(entry)

    def peek(self, model_id: str, alias: str) -> VersionRecord | None:
        """The kept version ``alias`` points at; None when nothing is kept for it, or it is
        kept as missing (the caller then takes :meth:`by_alias`, which says so). Memory
        only, so a route may ask on the event loop."""
        entry = self._by_alias.get((model_id, alias))
        return _copy(entry) if isinstance(entry, VersionRecord) else None


def _copy(record: VersionRecord) -> VersionRecord:
    """A record of the caller's own, tags and aliases included."""
    copied = object.__new__(VersionRecord)
    copied.__dict__.update(record.__dict__)
    copied.tags = dict(record.tags)
    copied.aliases = list(record.aliases)
    return copied


def registry_changed_op() -> Op:
    return [REGISTRY_CHANGED]


def drop_on_registry_changes(db: Database, feed: PolicyFeed, cache: VersionCache) -> None:
    """Every transaction the model store marked publishes the op; the cache is dropped
    here right after its commit (the feed applies what a transaction published) and on
    every other process when the op arrives."""
    feed.hooks[REGISTRY_CHANGED] = cache.invalidate

    def publish(session: Session) -> None:
        if session.info.get(REGISTRY_CHANGED_INFO):
            feed.publish(session, [registry_changed_op()])

    db.before_commit.append(publish)
