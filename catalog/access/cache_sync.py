"""How caches hear of changes made by any worker or replica: through the policy feed.

A process caches what every request reads — verified tokens
(:class:`catalog.identity.IdentityService`), securables and table details
(:class:`catalog.store.namespace_cache.NamespaceCache`). A change committed anywhere must
reach each of those caches as surely as a REVOKE reaches each policy engine, so it takes
the same road: an op in the policy feed, written in the transaction of the change
(delivered only if it commits, in commit order), applied after commit here at once and
everywhere else by the change-log follower (SQLite's workers, before their next request)
or the NOTIFY listener (PostgreSQL's replicas). Applying the op drops the cache.

The identity service publishes its ``tokens~`` op itself (a revoked token, a deleted or
deactivated principal) and registers its own hook; the namespace's changes are marked by
the namespace store and published here, at commit, for whichever transaction made them.
A transaction that only added objects publishes one narrower ``namespace+`` op per object
instead: creating a table must not make every worker read again the catalogs, schemas and
tables it already knew (on SQLite each such read after a CREATE TABLE also re-reads the
database's whole schema first).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from catalog.access.replica_sync import (
    NAMESPACE_ADDED,
    NAMESPACE_CHANGED,
    Op,
    PolicyFeed,
    namespace_added_op,
    namespace_changed_op,
)
from catalog.persistence.engine import Database
from catalog.store.base import NAMESPACE_ADDED_INFO, NAMESPACE_CHANGED_INFO


def drop_on_namespace_changes(
    db: Database,
    feed: PolicyFeed,
    drop: Callable[[], None],
    forget_added: Callable[[str, str | None], None],
) -> None:
    """Every transaction the namespace store marked publishes its ops; ``drop`` (any
    change) or ``forget_added`` (an object added: its full name and parent id) runs here
    right after its commit and on every other process when the op arrives."""
    feed.hooks[NAMESPACE_CHANGED] = drop

    def added(full_name: str | None = None, parent_id: str | None = None) -> None:
        if full_name is None:  # a full reload: anything may have changed
            drop()
        else:
            forget_added(full_name, parent_id or None)

    feed.hooks[NAMESPACE_ADDED] = added

    def ops_of(session: Session) -> list[Op]:
        if session.info.get(NAMESPACE_CHANGED_INFO):
            return [namespace_changed_op()]
        additions = session.info.get(NAMESPACE_ADDED_INFO, {})
        return [namespace_added_op(name, parent) for name, parent in additions.values()]

    def publish(session: Session) -> None:
        ops = ops_of(session)
        if ops:
            feed.publish(session, ops)  # applied with the transaction's other ops

    db.before_commit.append(publish)
