"""Grants: stored as Casbin ``p`` lines, mirrored into the process's policy engine.

The database is the truth; the engine is this process's index of it, loaded at start
by :mod:`catalog.access.casbin_adapter` and told of each change through the policy feed
(:mod:`catalog.access.replica_sync`), which also reaches the other replicas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from catalog.access import casbin_rules
from catalog.access.authorizer import Authorizer, Caller
from catalog.access.casbin_adapter import METASTORE_KEY
from catalog.access.replica_sync import Op, grant_op, revoke_op
from catalog.identity import normalize_principal_name
from catalog.names import split_full_name
from catalog.persistence import schema as t
from catalog.persistence.driver import DriverStatement
from catalog.persistence.engine import Database
from catalog.records import SecurableRecord
from catalog.store.factory import CatalogStores
from common.errors import InvalidParameter, NotFound
from policy.enforcer import PolicyEngine
from policy.privileges import InapplicablePrivilege, check_applicable
from policy.securables import ACCOUNT_USERS, Privilege, SecurableType

#: A grant's principal, read in its transaction on the driver (catalog/persistence/driver.py).
_PRINCIPAL_NAMED = DriverStatement(
    select(t.Principal.name).where(t.Principal.name == bindparam("name"))
)


@dataclass(frozen=True)
class PrivilegeChange:
    principal: str
    add: Sequence[str] = ()
    remove: Sequence[str] = ()


@dataclass(frozen=True)
class Inherited:
    """A privilege a principal holds on an object: granted on the object itself
    (``from_type`` None) or on the container ``from_type`` ``from_name``."""

    privilege: str
    from_type: SecurableType | None = None
    from_name: str | None = None


class GrantService:
    def __init__(self, db: Database, authorizer: Authorizer, stores: CatalogStores) -> None:
        self.db = db
        self.authorizer = authorizer
        self.stores = stores

    @property
    def engine(self) -> PolicyEngine:
        return self.authorizer.engine

    def _target(
        self, session: Session, securable_type: SecurableType, full_name: str | None
    ) -> tuple[str, SecurableRecord | None]:
        if securable_type is SecurableType.METASTORE:
            return METASTORE_KEY, None

        assert full_name is not None
        # In its stored spelling (SQL hands names on as written): ``ｍａｉｎ.s`` is ``main.s``.
        stored = ".".join(split_full_name(full_name, securable_type))
        chain = self.authorizer.resolve_chain(
            stored, securable_type, self.stores.namespace(session)
        )
        return chain[-1].id, chain[-1]

    def assignments(
        self, securable_type: SecurableType, full_name: str | None, principal: str | None = None
    ) -> list[tuple[str, list[str]]]:
        """Direct grants on the object, per principal (what SHOW GRANTS and GET permissions say).

        Filtering by a principal that does not exist is an error (docs/privileges.md), not an empty
        answer that would hide a misspelt name."""
        with self.db.read() as session:
            key, _ = self._target(session, securable_type, full_name)
            if principal is None:  # the policy engine holds every grant, current
                rows = [(g.principal, g.privilege) for g in self.authorizer.engine.grants_on(key)]
            else:
                who = self._principal(session, principal)
                rows = casbin_rules.grants_on(session, key, who)
        return _by_principal(rows)

    def assignments_seen_by(
        self,
        caller: Caller,
        securable_type: SecurableType,
        full_name: str | None,
        principal: str | None = None,
    ) -> list[tuple[str, list[str]]]:
        """:meth:`assignments` as ``caller`` may see them, for SHOW GRANTS and GET
        permissions alike: all for whoever may change them, else the caller's and its
        groups' own (:meth:`Authorizer.grants_shown`, docs/privileges.md)."""
        assignments = self.assignments(securable_type, full_name, principal)
        with self.db.read() as session:
            return self.authorizer.grants_shown(
                caller, securable_type, full_name, assignments, self.stores.namespace(session)
            )

    def cached_assignments_seen_by(
        self, caller: Caller, securable_type: SecurableType, full_name: str
    ) -> list[tuple[str, list[str]]] | None:
        """:meth:`assignments_seen_by` (every principal) from memory alone — the object's
        chain from the namespace cache, its grants from the policy engine — or None when
        either is not at hand (nothing is read, nothing waited for): for a route on the
        event loop."""
        chain = self.authorizer.cached_chain(full_name, securable_type)
        if chain is None:
            return None
        grants = self.authorizer.engine.grants_on_now(chain[-1].id)
        if grants is None:
            return None
        assignments = _by_principal((g.principal, g.privilege) for g in grants)
        return self.authorizer.grants_shown_on_chain(caller, chain, assignments)

    def grants_to_seen_by(
        self, caller: Caller, principal: str
    ) -> list[tuple[SecurableType, str | None, list[str]]]:
        """``SHOW GRANTS TO principal``: the principal's direct grants, on the objects the
        caller sees, each as SHOW GRANTS ON that object would show it to the caller (all
        for whoever may change them, else only the caller's and its groups' own)."""
        with self.db.read() as session:
            who = self._principal(session, principal)
            held: dict[str, list[str]] = {}
            for securable_id, privilege in casbin_rules.grants_to(session, who):
                held.setdefault(securable_id, []).append(privilege)
            store = self.stores.namespace(session)
            found: list[tuple[SecurableType, str | None, list[str]]] = []
            for securable_id, privileges in held.items():
                if securable_id == METASTORE_KEY:
                    kind, name = SecurableType.METASTORE, None
                else:
                    record = store.find_by_id(securable_id)
                    if record is None:
                        continue
                    kind, name = record.securable_type, record.full_name
                    try:
                        self.authorizer.require_privilege(
                            caller, Privilege.BROWSE, kind, name, store
                        )
                    except NotFound:
                        continue  # hidden: as if it did not exist
                shown = self.authorizer.grants_shown(
                    caller, kind, name, [(who, sorted(privileges))], store
                )
                found.extend((kind, name, held_) for _, held_ in shown)
        return sorted(found, key=lambda row: (row[0].value, row[1] or ""))

    def effective_seen_by(
        self,
        caller: Caller,
        securable_type: SecurableType,
        full_name: str | None,
        principal: str | None = None,
    ) -> list[tuple[str, list[Inherited]]]:
        """What each principal holds on the object directly and through its containers
        (the metastore, its catalog and schema), as ``caller`` may see each level's grants
        (:meth:`assignments_seen_by`). Group grants are listed under the group, as the
        grant says, not expanded to members."""
        levels: list[tuple[SecurableType, str | None, bool]] = [(securable_type, full_name, False)]
        if securable_type is not SecurableType.METASTORE:
            assert full_name is not None
            parts = split_full_name(full_name, securable_type)
            kind = securable_type.parent_type
            while kind is not None:
                name = ".".join(parts[: kind.depth]) if kind.depth else None
                levels.append((kind, name, True))
                kind = kind.parent_type
        held: dict[str, list[Inherited]] = {}
        for kind, name, inherited in levels:
            for who, privileges in self.assignments_seen_by(caller, kind, name, principal):
                for privilege in privileges:
                    source = (kind, name) if inherited else (None, None)
                    held.setdefault(who, []).append(Inherited(privilege, *source))
        return sorted(held.items())

    def update(
        self,
        caller: Caller,
        securable_type: SecurableType,
        full_name: str | None,
        changes: Iterable[PrivilegeChange],
        report: bool = True,
    ) -> list[tuple[str, list[str]]]:
        """Apply grant/revoke changes atomically; unknown principals and inapplicable
        privileges are errors and change nothing. Returns the assignments afterwards
        (what the permissions API answers), or nothing when ``report`` is false."""
        changes = list(changes)
        with self.db.transaction() as session:
            ops = self._one_in_one_statement(session, securable_type, full_name, changes)
            if ops is None:
                ops = self._apply(session, securable_type, full_name, changes)
            session.flush()
            self.authorizer.feed.publish(session, ops)
        return self.assignments(securable_type, full_name) if report else []

    def _one_in_one_statement(
        self,
        session: Session,
        securable_type: SecurableType,
        full_name: str | None,
        changes: Sequence[PrivilegeChange],
    ) -> list[Op] | None:
        """The everyday change — one privilege granted to or revoked from one principal
        on an object — as one statement that also finds the object and the principal
        (:func:`casbin_rules.change_grant_on_named`): its ops, or None when it wrote nothing
        (no such object or principal, a grant already there or not there, an invalid
        privilege, anything else) and :meth:`_apply` must find out what to say."""
        if securable_type is SecurableType.METASTORE or full_name is None or len(changes) != 1:
            return None
        change = changes[0]
        if len(change.add) + len(change.remove) != 1:
            return None
        try:
            principal = normalize_principal_name(change.principal, "principal")
            privilege = self._privilege([*change.add, *change.remove][0], securable_type)
        except InvalidParameter:
            return None  # said by _apply, after a missing object (its order)
        if principal == ACCOUNT_USERS or privilege is Privilege.ALL_PRIVILEGES:
            return None
        granting = bool(change.add)
        key = casbin_rules.change_grant_on_named(
            session,
            granting,
            principal,
            ".".join(split_full_name(full_name, securable_type)),
            securable_type.value,
            privilege.value,
        )
        if key is None:
            return None
        return [(grant_op if granting else revoke_op)(principal, key, privilege.value)]

    def _apply(
        self,
        session: Session,
        securable_type: SecurableType,
        full_name: str | None,
        changes: Sequence[PrivilegeChange],
    ) -> list[Op]:
        """Every change, reading the object's chain and each principal first: a missing
        level, principal or an invalid privilege is an error that ends the transaction."""
        ops: list[Op] = []
        key, _ = self._target(session, securable_type, full_name)
        for change in changes:
            who = self._principal(session, change.principal)
            for name in change.add:
                privilege = self._privilege(name, securable_type)
                if casbin_rules.add_grant(session, who, key, privilege.value):
                    ops.append(grant_op(who, key, privilege.value))
            for name in change.remove:
                privilege = self._privilege(name, securable_type)
                # REVOKE ALL PRIVILEGES removes everything held directly on the object.
                only = None if privilege is Privilege.ALL_PRIVILEGES else privilege.value
                gone = casbin_rules.remove_grants(session, who, key, only)
                ops.extend(revoke_op(who, key, p) for p in gone)
        return ops

    @staticmethod
    def _principal(session: Session, name: str) -> str:
        stored = normalize_principal_name(name, "principal")
        if stored == ACCOUNT_USERS:  # built in: every principal is a member
            return ACCOUNT_USERS
        found = _PRINCIPAL_NAMED.first(session.connection(), {"name": stored})
        if found is None:
            raise NotFound(f"principal '{stored}' does not exist")
        return str(found[0])

    @staticmethod
    def _privilege(name: str, securable_type: SecurableType) -> Privilege:
        normalized = " ".join(str(name).upper().replace("_", " ").split())
        try:
            privilege = Privilege(normalized)
        except ValueError as exc:
            raise InvalidParameter(f"'{name}' is not a privilege") from exc
        if privilege is Privilege.OWNERSHIP:
            raise InvalidParameter("ownership is changed with ALTER … OWNER TO, not granted")
        try:
            check_applicable(privilege, securable_type)
        except InapplicablePrivilege as exc:
            raise InvalidParameter(str(exc)) from exc
        return privilege


def _by_principal(rows: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """(principal, privilege) rows as each principal's privileges, principals in order."""
    grouped: dict[str, list[str]] = {}
    for who, privilege in rows:
        grouped.setdefault(who, []).append(privilege)
    return sorted(grouped.items())
