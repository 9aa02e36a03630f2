"""The Casbin adapter of the service database: where Steward's policies are persisted.

* ``p`` (grants) are rows of ``casbin_rule`` — written by :mod:`catalog.access.grants` in the
  transaction of the GRANT or REVOKE.
* ``g`` (memberships) are the rows of ``group_members``, by principal name.
* ``g2`` (the hierarchy) is each securable's ``parent_id`` (a catalog's container is the
  metastore).

Memberships and the hierarchy are read from the tables that own them rather than copied
into ``casbin_rule``: a copy would have to be kept in step on every create, drop, rename
and membership change, and a missed step would be a silent authorization bug. Reading
them here gives Casbin the same lines with one source of truth.

The adapter is read-only: changes are written by the services in the transaction that
makes them and reach the engine through :class:`catalog.access.replica_sync.PolicyFeed`, so
Casbin's auto-save is never used.
"""

from __future__ import annotations

from casbin.model import Model
from casbin.persist import Adapter
from sqlalchemy import select

from catalog.access import casbin_rules
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from policy.enforcer import Grant, PolicyEngine, add_policy_lines

#: The policy key of the metastore: the container of every catalog.
METASTORE_KEY = "metastore"


class ReadOnlyPolicyStore(RuntimeError):
    """Casbin asked the adapter to write; only the services write policies."""


class CatalogPolicyAdapter(Adapter):
    def __init__(self, db: Database) -> None:
        self.db = db

    def load_policy(self, model: Model) -> None:
        with self.db.read() as session:
            grants = [Grant(*line) for line in casbin_rules.all_grants(session)]
            member = t.Principal.__table__.alias("member")
            group = t.Principal.__table__.alias("grp")
            memberships = [
                (m, g)
                for m, g in session.execute(
                    select(member.c.name, group.c.name)
                    .select_from(t.GroupMember)
                    .join(member, member.c.id == t.GroupMember.member_id)
                    .join(group, group.c.id == t.GroupMember.group_id)
                )
            ]
            parents = [
                (sid, parent or METASTORE_KEY)
                for sid, parent in session.execute(select(t.Securable.id, t.Securable.parent_id))
            ]
        add_policy_lines(model, grants, memberships, parents)

    def save_policy(self, model: Model) -> bool:
        """Refused: saving the whole policy would bypass the services' transactions (and the
        audit events written in them)."""
        raise ReadOnlyPolicyStore(
            "policies are written by the services, in the transaction of each change"
        )


def load_engine(db: Database, engine: PolicyEngine) -> None:
    """Load (or reload) every policy of the database into ``engine``."""
    engine.load_policy(CatalogPolicyAdapter(db))
