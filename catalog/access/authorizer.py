"""The one authorization entry point every route, statement and registry action uses.

The rules live in :mod:`policy.privileges` (docs/privileges.md); grants are decided by
Casbin through :class:`policy.enforcer.PolicyEngine`. This module turns catalog
records into the policy's view of a securable chain and raises on a denial.

It also owns the one visibility rule (docs/privileges.md, "Visibility"): what a caller
may not see answers exactly as what does not exist. A refusal on a hidden object is a
:class:`Hidden` error — a 404 whose message is, byte for byte, the one a missing object
of that name gets — and a missing object under a hidden container is reported at the
outermost level the caller cannot see, so no answer tells an existing hidden container
from a missing one. Lists (:meth:`Authorizer.can_see_all_children`,
:meth:`Authorizer.can_see`) and single reads (:meth:`Authorizer.sees`) apply the same
rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from catalog.access.casbin_adapter import METASTORE_KEY
from catalog.access.replica_sync import PolicyFeed
from catalog.names import SYSTEM_CATALOG, split_full_name
from catalog.records import PrincipalRecord, SecurableRecord
from catalog.store.base import NamespaceStore
from catalog.store.namespace_cache import NamespaceCache
from common.errors import NotFound, PermissionDenied, StewardError
from policy.enforcer import GrantView, PolicyEngine
from policy.privileges import APPLICABLE, Node, Subject, decide, holds, sees
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


class Hidden(NotFound):
    """A refusal on an object the caller may not see, answered as if it did not exist.

    The status, error code and message are exactly those of a missing object (so the
    answer reveals nothing); ``truth`` is what really happened — a denial, or a missing
    object below a hidden container — and goes to the audit log only, which is for
    admins (catalog/http/errors.py, catalog/http/routes/statements.py).
    """

    def __init__(self, message: str, truth: StewardError) -> None:
        super().__init__(message)
        self.truth = truth

    def audited(self) -> tuple[int, str]:
        """(status, error message) for the request's audit event: the truth, and what the
        caller was answered instead."""
        truth = self.truth
        return (
            truth.status_code,
            f"{truth.error_code}: {truth.message} (answered {self.status_code} "
            f"{self.error_code}: {self.message}: the caller may not see it)",
        )


def missing_message(securable_type: SecurableType, full_name: str) -> str:
    """What a missing object answers: the one format hidden objects answer with too."""
    return f"{securable_type.value} '{full_name}' does not exist"


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
        #: Securables read per request, kept until the namespace changes (set by the
        #: composition root; without it every chain is read from the store).
        self.cache: NamespaceCache | None = None

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
        """Allow or raise (see :meth:`require_on_chain`). A missing object is NotFound
        naming its first missing level — or, when a level above it is hidden from the
        caller, the outermost hidden level, as a hidden object of that name would be."""
        records: list[SecurableRecord] = []
        if securable_type is not SecurableType.METASTORE:
            assert full_name is not None
            name = ".".join(split_full_name(full_name, securable_type))
            records = self.resolve_for(caller, name, securable_type, store)
        return self.require_on_chain(caller, privilege, records)

    def resolve_for(
        self, caller: Caller, full_name: str, securable_type: SecurableType, store: NamespaceStore
    ) -> list[SecurableRecord]:
        """:meth:`resolve_chain` as ``caller`` may learn it: a missing level below a level
        the caller cannot see is reported at the outermost hidden level instead."""
        chain, missing = self._lookup(full_name, securable_type, store)
        if missing is None:
            return chain
        hidden = self._outermost_hidden(caller, chain)
        if hidden is not None:
            raise Hidden(missing_message(hidden.securable_type, hidden.full_name), missing)
        raise missing

    def require_on_chain(
        self, caller: Caller, privilege: Privilege, records: Sequence[SecurableRecord]
    ) -> SecurableRecord | None:
        """:meth:`require_privilege` on a chain already resolved (outermost first): only
        in-memory work, so it may run on the event loop.

        ``BROWSE`` — reading an object's metadata — is allowed to whoever sees the object
        (docs/privileges.md): holding BROWSE is one way to see it, holding any privilege
        that applies to it is another. Any other privilege is decided by the policy. A
        refusal is 403 naming what is missing when the caller sees the object, and
        :class:`Hidden` (404, as missing) when it does not.
        """
        nodes = self.nodes(records)
        subject = self.subject(caller)
        # One view of the caller's grants on the chain answers the gates and the target.
        view = self.engine.view(caller.name, nodes[-1].key)
        if privilege is Privilege.BROWSE:
            if self._sees(subject, nodes, view):
                return records[-1] if records else None
            target = nodes[-1]
            denial = PermissionDenied(
                f"a privilege on {target.securable_type.value} '{target.full_name}' "
                "(BROWSE or any other) is required to see it"
            )
            raise self._hidden(caller, records, denial)
        decision = decide(subject, privilege, nodes, view.granted)
        if not decision.allowed:
            denial = PermissionDenied(f"{decision.denial()} is required")
            if not self._sees(subject, nodes, view):
                raise self._hidden(caller, records, denial)
            raise denial
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
        except (PermissionDenied, NotFound):
            return False
        return True

    def allows_on_chain(
        self, caller: Caller, privilege: Privilege, records: Sequence[SecurableRecord]
    ) -> bool:
        """Whether :meth:`require_on_chain` would let the caller through: in memory only."""
        try:
            self.require_on_chain(caller, privilege, records)
        except (PermissionDenied, NotFound):
            return False
        return True

    def shows_all_grants(
        self,
        caller: Caller,
        securable_type: SecurableType,
        full_name: str | None,
        store: NamespaceStore,
    ) -> bool:
        """Whether the caller sees every grant on the object: those who may change them
        (owners of it or a container, MANAGE holders, metastore admins) do; anyone else
        who sees the object sees the grants held there by itself or its groups."""
        return self.allows(caller, Privilege.OWNERSHIP, securable_type, full_name or "", store)

    def grants_shown(
        self,
        caller: Caller,
        securable_type: SecurableType,
        full_name: str | None,
        assignments: list[tuple[str, list[str]]],
        store: NamespaceStore,
    ) -> list[tuple[str, list[str]]]:
        """The grants on an object the caller sees (GET permissions and SHOW GRANTS alike),
        filtered by :meth:`shows_all_grants`."""
        shows_all = self.shows_all_grants(caller, securable_type, full_name, store)
        return _shown(caller, assignments, shows_all)

    def grants_shown_on_chain(
        self,
        caller: Caller,
        chain: Sequence[SecurableRecord],
        assignments: list[tuple[str, list[str]]],
    ) -> list[tuple[str, list[str]]]:
        """:meth:`grants_shown` on a chain in hand: in memory only."""
        shows_all = self.allows_on_chain(caller, Privilege.OWNERSHIP, chain)
        return _shown(caller, assignments, shows_all)

    def resolve_chain(
        self, full_name: str, securable_type: SecurableType, store: NamespaceStore
    ) -> list[SecurableRecord]:
        """The object and its containers, outermost first; NotFound names the first missing.

        Not caller-aware: what a caller is told goes through :meth:`resolve_for`."""
        chain, missing = self._lookup(full_name, securable_type, store)
        if missing is not None:
            raise missing
        return chain

    def cached_chain(
        self, full_name: str, securable_type: SecurableType
    ) -> list[SecurableRecord] | None:
        """The whole chain of an object that exists, from the namespace cache alone; None
        when any level is not cached or not found (the caller then takes the path that reads
        the store and reports a missing level as this caller may learn it). In memory
        only, so a route guard may ask on the event loop."""
        if self.cache is None or securable_type is SecurableType.METASTORE:
            return None
        name = ".".join(split_full_name(full_name, securable_type))
        names = ancestor_names(name)
        found = self.cache.peek(names)
        if found is None:
            return None
        chain: list[SecurableRecord] = []
        for level, kind in zip(names, _container_kinds(securable_type, len(names)), strict=True):
            record = found.get(level)
            if record is None or record.securable_type is not (kind or securable_type):
                return None
            chain.append(record)
        return chain

    def _lookup(
        self, full_name: str, securable_type: SecurableType, store: NamespaceStore
    ) -> tuple[list[SecurableRecord], NotFound | None]:
        """The levels found, outermost first, up to the first missing one (and its error).
        Read-only work reads them through the namespace cache when there is one."""
        names = ancestor_names(full_name)
        if self.cache is not None and store.reads_committed():
            found = self.cache.securables(names)
        else:
            found = store.get_many(names)
        chain: list[SecurableRecord] = []
        kinds = _container_kinds(securable_type, len(names))
        for name, kind in zip(names, kinds, strict=True):
            record = found.get(name)
            if record is None or (kind is not None and record.securable_type is not kind):
                return chain, NotFound(missing_message(kind or securable_type, name))
            chain.append(record)
        return chain, None

    @staticmethod
    def subject(caller: Caller) -> Subject:
        return Subject(caller.name, caller.groups, caller.is_metastore_admin)

    @staticmethod
    def nodes(records: Sequence[SecurableRecord]) -> list[Node]:
        """The policy view of a chain: the metastore, then each record."""
        return [METASTORE_NODE] + [
            Node(r.id, r.securable_type, r.owner, r.full_name) for r in records
        ]

    # -- visibility (docs/privileges.md) ------------------------------------------------

    def sees(self, caller: Caller, chain: Sequence[SecurableRecord]) -> bool:
        """Whether ``caller`` sees the last object of ``chain`` (its containers first)."""
        nodes = self.nodes(chain)
        return self._sees(self.subject(caller), nodes, self.engine.view(caller.name, nodes[-1].key))

    def _sees(self, subject: Subject, nodes: Sequence[Node], view: GrantView) -> bool:
        """Rule 4 of :mod:`policy.privileges` (docs/privileges.md, "Visibility"), plus one
        thing the policy does not know of: everyone sees the ``system`` catalog, its
        schema and tables — the same, documented ones in every metastore, whose existence
        is no secret (their rows still need SELECT)."""
        target = nodes[-1]
        if target.securable_type is not SecurableType.METASTORE and self.is_system(
            target.full_name
        ):
            return True
        return sees(subject, nodes, view.granted)

    def _outermost_hidden(
        self, caller: Caller, chain: Sequence[SecurableRecord]
    ) -> SecurableRecord | None:
        """The outermost object of ``chain`` the caller does not see, if any."""
        for depth in range(1, len(chain) + 1):
            if not self.sees(caller, chain[:depth]):
                return chain[depth - 1]
        return None

    def _hidden(
        self, caller: Caller, records: Sequence[SecurableRecord], truth: StewardError
    ) -> Hidden:
        """The answer to a refusal on a hidden object: the outermost hidden level missing."""
        level = self._outermost_hidden(caller, records) or records[-1]
        return Hidden(missing_message(level.securable_type, level.full_name), truth)

    def can_see_all_children(
        self,
        caller: Caller,
        chain: Sequence[SecurableRecord],
        child_type: SecurableType | None = None,
    ) -> bool:
        """Whether every child (of ``child_type``, else of any type) of the last object of
        ``chain`` is visible to ``caller``: a metastore admin, an owner of an object of the
        chain, or a holder on the chain of a privilege that applies to the children. When
        False, :meth:`can_see` decides each child."""
        nodes = self.nodes(chain)
        subject = self.subject(caller)
        if subject.is_metastore_admin or any(subject.is_or_in(n.owner) for n in nodes):
            return True
        parent = nodes[-1]
        if parent.securable_type is not SecurableType.METASTORE and self.is_system(
            parent.full_name
        ):
            return True
        kinds = [child_type] if child_type is not None else _CHILD_TYPES[parent.securable_type]
        if not kinds:
            return False
        # A grant on the chain reaches every child; it shows them if it applies to each.
        applicable = frozenset.intersection(*(APPLICABLE[k] for k in kinds))
        view = self.engine.view(caller.name, parent.key)
        if not view.any_grant():
            return False
        return any(view.granted(caller.name, parent.key, p.value) for p in applicable)

    def can_see(self, caller: Caller, record: SecurableRecord) -> bool:
        """Visibility of one object whose containers were already found not to show all of
        their children (:meth:`can_see_all_children`): it is owned by the caller, or the
        caller holds a privilege that applies to it, on it or inherited."""
        node = Node(record.id, record.securable_type, record.owner, record.full_name)
        return self._sees(
            self.subject(caller), [METASTORE_NODE, node], self.engine.view(caller.name, record.id)
        )

    @staticmethod
    def is_system(full_name: str) -> bool:
        return full_name.split(".")[0] == SYSTEM_CATALOG


#: The metastore as a policy node: owned by nobody, managed by metastore admins.
METASTORE_NODE = Node(METASTORE_KEY, SecurableType.METASTORE, "", "metastore")


#: What each kind of container directly holds (the children its listings show).
_CHILD_TYPES: dict[SecurableType, list[SecurableType]] = {
    SecurableType.METASTORE: [SecurableType.CATALOG, SecurableType.SERVING_ENDPOINT],
    SecurableType.CATALOG: [SecurableType.SCHEMA],
    SecurableType.SCHEMA: [SecurableType.TABLE, SecurableType.MODEL, SecurableType.FUNCTION],
    SecurableType.TABLE: [],
    SecurableType.MODEL: [],
    SecurableType.FUNCTION: [],
    SecurableType.SERVING_ENDPOINT: [],
}


def _container_kinds(securable_type: SecurableType, depth: int) -> list[SecurableType | None]:
    """The type each level of a name must have; None where several types are possible."""
    containers: list[SecurableType | None] = [SecurableType.CATALOG, SecurableType.SCHEMA][
        : depth - 1
    ]
    return [*containers, securable_type]


def _shown(
    caller: Caller, assignments: list[tuple[str, list[str]]], shows_all: bool
) -> list[tuple[str, list[str]]]:
    """All the grants for whoever may change them, else the caller's and its groups' own."""
    if shows_all:
        return assignments
    return [(who, held) for who, held in assignments if caller.is_or_member_of(who)]
