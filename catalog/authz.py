"""The one authorization entry point every route, statement and registry action uses.

Until the policy issue backs it with Casbin and grants, a decision rests on
ownership and metastore-admin status only (SPEC §6): the owner of an object or
of any container of it may do anything to it; metastore admins manage all
metadata but, as in Unity Catalog, get no implicit access to data, models or
endpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog.errors import NotFound, PermissionDenied
from catalog.names import SYSTEM_CATALOG, split_full_name
from catalog.records import PrincipalRecord, SecurableRecord
from catalog.store.base import NamespaceStore
from policy.requirements import Access, Requirement
from policy.securables import Privilege, SecurableType

#: Privileges that reach data or running code; a metastore admin needs a grant for these.
DATA_PRIVILEGES = frozenset(
    {Privilege.SELECT, Privilege.MODIFY, Privilege.EXECUTE, Privilege.QUERY}
)


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
        if securable_type is SecurableType.METASTORE:
            if caller.is_metastore_admin:
                return None
            raise PermissionDenied(f"{privilege.value} on METASTORE is required")
        assert full_name is not None
        name = ".".join(split_full_name(full_name, securable_type))
        chain = self.resolve_chain(name, securable_type, store)
        if self.is_allowed(caller, privilege, chain):
            return chain[-1]
        raise PermissionDenied(f"{privilege.value} on {securable_type.value} '{name}' is required")

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

    def is_allowed(
        self, caller: Caller, privilege: Privilege, chain: Sequence[SecurableRecord]
    ) -> bool:
        if any(caller.is_or_member_of(s.owner) for s in chain):
            return True
        return caller.is_metastore_admin and privilege not in DATA_PRIVILEGES

    def can_see_all_children(self, caller: Caller, chain: Sequence[SecurableRecord]) -> bool:
        """Whether everything inside the last object of ``chain`` is visible to ``caller``."""
        return caller.is_metastore_admin or any(caller.is_or_member_of(s.owner) for s in chain)

    def can_see(self, caller: Caller, record: SecurableRecord) -> bool:
        """Visibility of one object whose containers were already found not to grant it."""
        return caller.is_or_member_of(record.owner)

    @staticmethod
    def is_system(full_name: str) -> bool:
        return full_name.split(".")[0] == SYSTEM_CATALOG


def _container_kinds(securable_type: SecurableType, depth: int) -> list[SecurableType | None]:
    """The type each level of a name must have; None where several types are possible."""
    containers: list[SecurableType | None] = [SecurableType.CATALOG, SecurableType.SCHEMA][
        : depth - 1
    ]
    return [*containers, securable_type]
