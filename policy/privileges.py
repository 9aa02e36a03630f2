"""Unity Catalog's privilege model (docs/privileges.md) as one pure decision function.

The rules, exactly as :func:`decide` applies them (the differential test checks
an independent evaluator of this text against it):

1. A privilege is *held* on a node when the subject (or a group it belongs to,
   transitively) owns the node, or the subject is a metastore admin and the
   privilege is not a data privilege (SELECT, MODIFY, EXECUTE, QUERY), or a
   grant of the privilege — or of ALL PRIVILEGES, unless the privilege is
   MANAGE — exists on the node or any container of it for the subject or one of
   its groups.
2. Using anything inside a catalog needs USE CATALOG held on the catalog; inside
   a schema, also USE SCHEMA held on the schema (the *gates*). BROWSE needs no
   gate. A privilege on a node is allowed when it is held on the node and every
   gate above the node passes; creating inside a node (CREATE SCHEMA, CREATE
   TABLE, CREATE MODEL) also needs the node's own gate.
3. Changing grants or the owner of a node, or dropping it (OWNERSHIP here), is
   allowed to the owner of the node or of any container, to a metastore admin,
   and to a holder of MANAGE on the node (granted on it or a container) who
   passes the gates.
4. A subject sees a node when it is a metastore admin, the node is the
   metastore, the subject owns the node or a container, or it holds (rule 1's
   grants: on the node or a container, to it or one of its groups) a privilege
   that applies to the node's type. A grant on a container of a privilege that
   does not apply to the node does not show it: USE CATALOG or CREATE SCHEMA
   on a catalog shows the catalog, not its schemas; USE SCHEMA on a catalog
   shows its schemas, not their tables; CREATE CATALOG shows no catalog.

Whether the privilege applies to the node's type is checked before deciding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policy.securables import Privilege, SecurableType

P = Privilege
TABLE_PRIVILEGES = frozenset(
    {P.SELECT, P.MODIFY, P.APPLY_TAG, P.BROWSE, P.MANAGE, P.ALL_PRIVILEGES}
)
MODEL_PRIVILEGES = frozenset(
    {P.EXECUTE, P.CREATE_MODEL_VERSION, P.APPLY_TAG, P.BROWSE, P.MANAGE, P.ALL_PRIVILEGES}
)
FUNCTION_PRIVILEGES = frozenset({P.EXECUTE, P.BROWSE, P.MANAGE, P.ALL_PRIVILEGES})
SCHEMA_PRIVILEGES = (
    frozenset({P.USE_SCHEMA, P.CREATE_TABLE, P.CREATE_MODEL, P.CREATE_FUNCTION, P.BROWSE})
    | frozenset({P.MANAGE, P.ALL_PRIVILEGES})
    | TABLE_PRIVILEGES
    | MODEL_PRIVILEGES
    | FUNCTION_PRIVILEGES
)
CATALOG_PRIVILEGES = (
    frozenset({P.USE_CATALOG, P.CREATE_SCHEMA, P.BROWSE, P.MANAGE, P.ALL_PRIVILEGES})
    | SCHEMA_PRIVILEGES
)
APPLICABLE: dict[SecurableType, frozenset[Privilege]] = {
    SecurableType.METASTORE: frozenset({P.CREATE_CATALOG}),
    SecurableType.CATALOG: CATALOG_PRIVILEGES,
    SecurableType.SCHEMA: SCHEMA_PRIVILEGES,
    SecurableType.TABLE: TABLE_PRIVILEGES,
    SecurableType.MODEL: MODEL_PRIVILEGES,
    SecurableType.FUNCTION: FUNCTION_PRIVILEGES,
    SecurableType.SERVING_ENDPOINT: frozenset({P.QUERY, P.MANAGE, P.ALL_PRIVILEGES}),
}
#: Privileges that reach data or running code: never implied for metastore admins.
DATA_PRIVILEGES = frozenset({P.SELECT, P.MODIFY, P.EXECUTE, P.QUERY})
GATES = {SecurableType.CATALOG: P.USE_CATALOG, SecurableType.SCHEMA: P.USE_SCHEMA}
#: Privileges exercised inside the node they are held on, so its own gate applies too.
CREATE_INSIDE = frozenset({P.CREATE_SCHEMA, P.CREATE_TABLE, P.CREATE_MODEL, P.CREATE_FUNCTION})


class InapplicablePrivilege(ValueError):
    def __init__(self, privilege: Privilege, securable_type: SecurableType) -> None:
        allowed = ", ".join(sorted(p.value for p in APPLICABLE[securable_type]))
        super().__init__(
            f"privilege {privilege.value} does not apply to a {securable_type.value}; "
            f"applicable: {allowed}"
        )


def check_applicable(privilege: Privilege, securable_type: SecurableType) -> None:
    if privilege not in APPLICABLE[securable_type]:
        raise InapplicablePrivilege(privilege, securable_type)


@dataclass(frozen=True)
class Node:
    """One securable on the path from the metastore: its policy key, type, owner and name."""

    key: str
    securable_type: SecurableType
    owner: str
    full_name: str


@dataclass(frozen=True)
class Subject:
    name: str
    groups: frozenset[str]
    is_metastore_admin: bool

    def is_or_in(self, principal: str) -> bool:
        return principal == self.name or principal in self.groups


#: ``granted(principal, node_key, privilege)``: whether grants on the node or its
#: containers give the privilege to the principal or its groups (the Casbin engine).
Granted = Callable[[str, str, str], bool]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    privilege: Privilege
    node: Node

    def denial(self) -> str:
        return f"{self.privilege.value} on {self.node.securable_type.value} '{self.node.full_name}'"


def holds(subject: Subject, privilege: Privilege, node: Node, granted: Granted) -> bool:
    """Rule 1: the privilege is held on the node."""
    if subject.is_or_in(node.owner):
        return True
    if subject.is_metastore_admin and privilege not in DATA_PRIVILEGES:
        return True
    return granted(subject.name, node.key, privilege.value)


def decide(
    subject: Subject, privilege: Privilege, chain: Sequence[Node], granted: Granted
) -> Decision:
    """Rules 2 and 3 for ``privilege`` on the last node of ``chain`` (metastore first)."""
    target = chain[-1]
    if privilege is P.OWNERSHIP:
        return _decide_manage_grants(subject, chain, granted)
    if privilege is not P.BROWSE:
        gated = chain if privilege in CREATE_INSIDE else chain[:-1]
        for node in gated:
            gate = GATES.get(node.securable_type)
            if gate is not None and not holds(subject, gate, node, granted):
                return Decision(False, gate, node)
    return Decision(holds(subject, privilege, target, granted), privilege, target)


def _decide_manage_grants(subject: Subject, chain: Sequence[Node], granted: Granted) -> Decision:
    target = chain[-1]
    if subject.is_metastore_admin or any(subject.is_or_in(n.owner) for n in chain):
        return Decision(True, P.MANAGE, target)
    managed = decide(subject, P.MANAGE, chain, granted)
    if managed.allowed or not holds(subject, P.MANAGE, target, granted):
        return Decision(managed.allowed, P.MANAGE, target)
    return managed  # MANAGE is held on the node; name the usage gate that is missing


def sees(subject: Subject, chain: Sequence[Node], granted: Granted) -> bool:
    """Rule 4 for the last node of ``chain`` (metastore first); ``granted`` as for
    :func:`decide`."""
    target = chain[-1]
    if subject.is_metastore_admin or target.securable_type is SecurableType.METASTORE:
        return True
    if any(subject.is_or_in(n.owner) for n in chain):
        return True
    return any(
        granted(subject.name, target.key, p.value) for p in APPLICABLE[target.securable_type]
    )
