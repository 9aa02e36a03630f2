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
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from catalog.access.replica_sync import NAMESPACE_CHANGED, PolicyFeed, namespace_changed_op
from catalog.persistence.engine import Database
from catalog.store.base import NAMESPACE_CHANGED_INFO


def drop_on_namespace_changes(db: Database, feed: PolicyFeed, drop: Callable[[], None]) -> None:
    """Every transaction the namespace store marked publishes the op; ``drop`` runs here
    right after its commit and on every other process when the op arrives."""
    feed.hooks[NAMESPACE_CHANGED] = drop

    def publish(session: Session) -> None:
        if session.info.get(NAMESPACE_CHANGED_INFO):
            feed.publish(session, [namespace_changed_op()])

    def applied(session: Session) -> None:
        if session.info.get(NAMESPACE_CHANGED_INFO):
            feed.applied([namespace_changed_op()])

    db.before_commit.append(publish)
    db.after_commit.append(applied)
