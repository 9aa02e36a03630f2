"""The one authorization entry point every route, statement and registry action uses.

The rules live in :mod:`policy.privileges` (docs/privileges.md); grants are decided by
Casbin through :class:`policy.enforcer.PolicyEngine`. This module turns catalog
records into the policy's view of a securable chain and raises on a denial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog.access.casbin_adapter import METASTORE_KEY
from catalog.access.replica_sync import PolicyFeed
from catalog.names import SYSTEM_CATALOG, split_full_name
from catalog.records import PrincipalRecord, SecurableRecord
from catalog.store.base import NamespaceStore
from common.errors import NotFound, PermissionDenied
from policy.enforcer import PolicyEngine
from policy.privileges import Node, Subject, decide, holds, sees
from policy.requirements import Access, Requirement
from policy.securables import Privilege, SecurableType


@dataclass(frozen=True)
class Caller:
    """An authenticated principal and every group it belongs to, transitively."""

    principal: PrincipalRecord
    groups: frozenset[str]

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def is_metastore_admin(self) -> bool:
        return self.principal.is_metastore_admin

    def is_or_member_of(self, principal_name: str) -> bool:
        return principal_name == self.principal.name or principal_name in self.groups


def ancestor_names(full_name: str) -> list[str]:
    """``a.b.c`` → ``['a', 'a.b', 'a.b.c']``: the object and its containers, outermost first."""
    parts = full_name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


class Authorizer:
    """Answers every authorization question through :func:`policy.privileges.decide`,
    with grants decided by the Casbin-backed :class:`policy.enforcer.PolicyEngine`."""

    def __init__(self, engine: PolicyEngine | None = None, backend: str = "sqlite") -> None:
        self.engine = engine or PolicyEngine()
        #: Where services publish their policy changes (and apply them after commit).
        self.feed = PolicyFeed(self.engine, backend)

    def require(
        self,
        caller: Caller,
        requirement: Requirement,
        full_name: str | None,
        store: NamespaceStore | None,
    ) -> SecurableRecord | None:
        """Allow or raise; returns the securable the requirement was checked on, if any.

        ``store`` is only read for privilege requirements on a named securable.
        """
        if requirement.access is Access.AUTHENTICATED:
            return None
        if requirement.access is Access.METASTORE_ADMIN:
            if not caller.is_metastore_admin:
                raise PermissionDenied("only a metastore admin may do this")
            return None
        if requirement.access is Access.SYSTEM_TABLE:
            assert requirement.system_table is not None and store is not None
            return self.require_system_read(caller, requirement.system_table, store)
        assert requirement.privilege is not None and requirement.securable_type is not None
        assert store is not None, "a privilege requirement is checked against a store"
        return self.require_privilege(
            caller, requirement.privilege, requirement.securable_type, full_name, store
        )

    def require_privilege(
        self,
        caller: Caller,
        privilege: Privilege,
        securable_type: SecurableType,
        full_name: str | None,
        store: NamespaceStore,
    ) -> SecurableRecord | None:
        records: list[SecurableRecord] = []
        if securable_type is not SecurableType.METASTORE:
            assert full_name is not None
            name = ".".join(split_full_name(full_name, securable_type))
            records = self.resolve_chain(name, securable_type, store)
        return self.require_on_chain(caller, privilege, records)

    def require_on_chain(
        self, caller: Caller, privilege: Privilege, records: Sequence[SecurableRecord]
    ) -> SecurableRecord | None:
        """:meth:`require_privilege` on a chain already resolved (outermost first): only
        in-memory work, so it may run on the event loop."""
        nodes = self.nodes(records)
        # One view of the caller's grants on the chain answers the gates and the target.
        view = self.engine.view(caller.name, nodes[-1].key)
        decision = decide(self.subject(caller), privilege, nodes, view.granted)
        if not decision.allowed:
            raise PermissionDenied(f"{decision.denial()} is required")
        return records[-1] if records else None

    def require_system_read(
        self, caller: Caller, full_name: str, store: NamespaceStore
    ) -> SecurableRecord:
        """Reading a system table (docs/audit.md): SELECT on it, which metastore admins hold by
        default. The ``system`` catalog and its schemas are open to every principal (no USE
        CATALOG / USE SCHEMA needed), so ``GRANT SELECT ON TABLE system.access.audit TO g``
        alone opens the table to ``g``."""
        records = self.resolve_chain(full_name, SecurableType.TABLE, store)
        if not self.is_system(full_name):
            raise PermissionDenied(f"'{full_name}' is not a system table")
        if caller.is_metastore_admin:
            return records[-1]
        node = self.nodes(records)[-1]
        view = self.engine.view(caller.name, node.key)
        if not holds(self.subject(caller), Privilege.SELECT, node, view.granted):
            raise PermissionDenied(f"SELECT on table '{full_name}' is required")
        return records[-1]

    def allows(
        self,
        caller: Caller,
        privilege: Privilege,
        securable_type: SecurableType,
        full_name: str,
        store: NamespaceStore,
    ) -> bool:
        """Whether :meth:`require_privilege` would let the caller through (no exception)."""
        try:
            self.require_privilege(caller, privilege, securable_type, full_name, store)
        except PermissionDenied:
            return False
        return True

    def resolve_chain(
        self, full_name: str, securable_type: SecurableType, store: NamespaceStore
    ) -> list[SecurableRecord]:
        """The object and its containers, outermost first; NotFound names the first missing."""
        names = ancestor_names(full_name)
        found = store.get_many(names)
        chain: list[SecurableRecord] = []
        kinds = _container_kinds(securable_type, len(names))
        for name, kind in zip(names, kinds, strict=True):
            record = found.get(name)
            if record is None or (kind is not None and record.securable_type is not kind):
                raise NotFound(f"{(kind or securable_type).value} '{name}' does not exist")
            chain.append(record)
        return chain

    @staticmethod
    def subject(caller: Caller) -> Subject:
        return Subject(caller.name, caller.groups, caller.is_metastore_admin)

    @staticmethod
    def nodes(records: Sequence[SecurableRecord]) -> list[Node]:
        """The policy view of a chain: the metastore, then each record."""
        return [METASTORE_NODE] + [
            Node(r.id, r.securable_type, r.owner, r.full_name) for r in records
        ]

    def can_see_all_children(self, caller: Caller, chain: Sequence[SecurableRecord]) -> bool:
        """Whether everything inside the last object of ``chain`` is visible to ``caller``."""
        return sees(self.subject(caller), self.nodes(chain), self.engine.has_any_grant)

    def can_see(self, caller: Caller, record: SecurableRecord) -> bool:
        """Visibility of one object whose containers were already found not to grant it."""
        return caller.is_or_member_of(record.owner) or self.engine.has_any_grant(
            caller.name, record.id
        )

    @staticmethod
    def is_system(full_name: str) -> bool:
        return full_name.split(".")[0] == SYSTEM_CATALOG


#: The metastore as a policy node: owned by nobody, managed by metastore admins.
METASTORE_NODE = Node(METASTORE_KEY, SecurableType.METASTORE, "", "metastore")


def _container_kinds(securable_type: SecurableType, depth: int) -> list[SecurableType | None]:
    """The type each level of a name must have; None where several types are possible."""
    containers: list[SecurableType | None] = [SecurableType.CATALOG, SecurableType.SCHEMA][
        : depth - 1
    ]
    return [*containers, securable_type]
