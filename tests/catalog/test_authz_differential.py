"""Differential test of the authorization rules: Steward against a brute-force reading of them.

``policy.privileges.decide`` and ``sees`` are short, but they lean on the indexed Casbin engine
(``PolicyEngine``) for the hard parts: inheritance through nested groups and down the
container hierarchy, ALL PRIVILEGES sparing MANAGE, and changes taking effect at once. A bug
there (a stale cache, an index that misses a line, a role manager that stops short) would not
show in a handful of example tests, so this module checks the real engine against a second,
deliberately naive evaluator over many random worlds.

The reference below is written from the rules in ``policy/privileges.py``'s module docstring
and the table in docs/privileges.md only. It does not call ``PolicyEngine``, ``decide`` or
``holds``: it walks every grant, computes a subject's groups by iterating memberships to a
fixpoint, and finds containers by following parent pointers. It is slow on purpose, so that
it is obviously right. Any disagreement prints the facts that matter for the failing check.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.access.authorizer import Authorizer, Caller, Hidden
from catalog.records import PrincipalRecord, SecurableRecord
from common.errors import PermissionDenied
from policy.enforcer import Grant, PolicyEngine
from policy.privileges import (
    APPLICABLE,
    InapplicablePrivilege,
    Node,
    Subject,
    check_applicable,
    decide,
    sees,
)
from policy.securables import Privilege, SecurableType

P = Privilege
T = SecurableType

# -- the rules, retyped from docs/privileges.md (not imported: drift in APPLICABLE is caught) --

_ON_TABLE = {P.SELECT, P.MODIFY, P.APPLY_TAG, P.BROWSE, P.MANAGE, P.ALL_PRIVILEGES}
_ON_MODEL = {
    P.EXECUTE,
    P.CREATE_MODEL_VERSION,
    P.APPLY_TAG,
    P.BROWSE,
    P.MANAGE,
    P.ALL_PRIVILEGES,
}
_ON_FUNCTION = {P.EXECUTE, P.BROWSE, P.MANAGE, P.ALL_PRIVILEGES}
_ON_SCHEMA = {
    P.USE_SCHEMA,
    P.CREATE_TABLE,
    P.CREATE_MODEL,
    P.CREATE_FUNCTION,
    P.BROWSE,
    P.MANAGE,
    P.ALL_PRIVILEGES,
} | (_ON_TABLE | _ON_MODEL | _ON_FUNCTION)
_ON_CATALOG = {P.USE_CATALOG, P.CREATE_SCHEMA, P.BROWSE, P.MANAGE, P.ALL_PRIVILEGES} | _ON_SCHEMA
SPEC_APPLICABLE: dict[SecurableType, list[Privilege]] = {
    securable_type: sorted(privileges)
    for securable_type, privileges in {
        T.METASTORE: {P.CREATE_CATALOG},
        T.CATALOG: _ON_CATALOG,
        T.SCHEMA: _ON_SCHEMA,
        T.TABLE: _ON_TABLE,
        T.MODEL: _ON_MODEL,
        T.FUNCTION: _ON_FUNCTION,
        T.SERVING_ENDPOINT: {P.QUERY, P.MANAGE, P.ALL_PRIVILEGES},
    }.items()
}
#: Rule 1: never implied by metastore admin status.
SPEC_DATA = {P.SELECT, P.MODIFY, P.EXECUTE, P.QUERY}
#: Rule 2: the privilege a container of each type demands of anything inside it.
SPEC_GATES = {T.CATALOG: P.USE_CATALOG, T.SCHEMA: P.USE_SCHEMA}
#: Rule 2: creating inside a node also needs the node's own gate.
SPEC_CREATE_INSIDE = {P.CREATE_SCHEMA, P.CREATE_TABLE, P.CREATE_MODEL, P.CREATE_FUNCTION}
#: What lives directly under each container type (for securables created later).
CHILD_TYPES = {
    T.METASTORE: (T.CATALOG, T.SERVING_ENDPOINT),
    T.CATALOG: (T.SCHEMA,),
    T.SCHEMA: (T.TABLE, T.MODEL, T.FUNCTION),
}
METASTORE = "metastore"

# -- a world of facts ---------------------------------------------------------------------


@dataclass
class World:
    """Every fact both sides decide from. Mutable: mutations change it and the engine alike."""

    types: dict[str, SecurableType]
    parent: dict[str, str | None]
    owner: dict[str, str]
    users: list[str]
    groups: list[str]
    memberships: set[tuple[str, str]]  # (member, group)
    grants: set[tuple[str, str, str]]  # (principal, securable, privilege)
    admins: set[str]
    history: list[str] = field(default_factory=list)
    created: int = 0
    #: Dropped securables (key → type, container), so a later one may come back under the
    #: same key: the engine must have forgotten everything about the old one.
    dropped: dict[str, tuple[SecurableType, str]] = field(default_factory=dict)

    @property
    def principals(self) -> list[str]:
        return self.users + self.groups

    def engine(self) -> PolicyEngine:
        """A real engine loaded with the same facts, as the catalog loads it at start-up."""
        engine = PolicyEngine()
        engine.load(
            [Grant(*line) for line in sorted(self.grants)],
            sorted(self.memberships),
            [(key, parent) for key, parent in self.parent.items() if parent is not None],
        )
        return engine


# -- the reference evaluator: plain loops over all facts -------------------------------------


def closure(world: World, principal: str) -> set[str]:
    """The principal, every group it reaches through memberships (iterated to a fixpoint),
    and the built-in ``account users`` that holds everyone."""
    reached = {principal, "account users"}
    changed = True
    while changed:
        changed = False
        for member, group in world.memberships:
            if member in reached and group not in reached:
                reached.add(group)
                changed = True
    return reached


def path(world: World, key: str) -> list[str]:
    """The node and its containers, innermost first, by following parent pointers."""
    keys = [key]
    while (parent := world.parent[keys[-1]]) is not None:
        keys.append(parent)
    return keys


class Reference:
    """The docstring's four rules for one subject, evaluated by brute force."""

    def __init__(self, world: World, user: str) -> None:
        self.world = world
        self.principals = closure(world, user)
        self.admin = user in world.admins

    def owns(self, key: str) -> bool:
        return self.world.owner[key] in self.principals

    def granted(self, privilege: Privilege, key: str) -> bool:
        """A grant of the privilege, or of ALL PRIVILEGES unless it is MANAGE, on the node
        or a container, to the subject or one of its groups."""
        on_or_above = path(self.world, key)
        for principal, securable, granted in self.world.grants:
            if principal not in self.principals or securable not in on_or_above:
                continue
            if granted == privilege.value:
                return True
            if granted == P.ALL_PRIVILEGES.value and privilege is not P.MANAGE:
                return True
        return False

    def held(self, privilege: Privilege, key: str) -> bool:
        """Rule 1."""
        if self.owns(key):
            return True
        if self.admin and privilege not in SPEC_DATA:
            return True
        return self.granted(privilege, key)

    def gates_pass(self, key: str, own: bool = False) -> bool:
        """Rule 2: every catalog and schema above the node (and the node itself when ``own``)
        lets the subject in."""
        for container in path(self.world, key)[0 if own else 1 :]:
            gate = SPEC_GATES.get(self.world.types[container])
            if gate is not None and not self.held(gate, container):
                return False
        return True

    def allowed(self, privilege: Privilege, key: str) -> bool:
        """Rules 2 and 3."""
        if privilege is P.OWNERSHIP:
            if self.admin or any(self.owns(k) for k in path(self.world, key)):
                return True
            return self.held(P.MANAGE, key) and self.gates_pass(key)
        if privilege is P.BROWSE:
            return self.held(privilege, key)
        return self.held(privilege, key) and self.gates_pass(key, privilege in SPEC_CREATE_INSIDE)

    def sees(self, key: str) -> bool:
        """Rule 4: a grant on the node or a container shows the node only when its privilege
        applies to the node's type."""
        on_or_above = path(self.world, key)
        if self.admin or self.world.types[key] is T.METASTORE:
            return True
        if any(self.owns(k) for k in on_or_above):
            return True
        applies = {p.value for p in SPEC_APPLICABLE[self.world.types[key]]}
        return any(
            principal in self.principals and securable in on_or_above and granted in applies
            for principal, securable, granted in self.world.grants
        )


# -- comparing the two ---------------------------------------------------------------------

STATS: Counter[str] = Counter()


def chain_of(world: World, key: str) -> list[Node]:
    """The metastore-first chain the catalog would resolve for ``key``."""
    return [Node(k, world.types[k], world.owner[k], k) for k in reversed(path(world, key))]


def subject_of(world: World, user: str) -> Subject:
    return Subject(user, frozenset(closure(world, user) - {user}), user in world.admins)


def describe(world: World, user: str, key: str) -> str:
    """The facts a check on (user, key) depends on, and how the world got there."""
    principals = closure(world, user)
    chain = list(reversed(path(world, key)))
    lines = [
        f"  subject {user}: metastore admin={user in world.admins}, "
        f"memberships reaching it: {sorted(m for m in world.memberships if m[0] in principals)}",
        "  chain: "
        + " > ".join(f"{world.types[k].value} {k} (owner {world.owner[k]})" for k in chain),
        "  grants on the chain to the subject or its groups: "
        + str(sorted(g for g in world.grants if g[0] in principals and g[1] in chain)),
        f"  engine loaded with {len(world.grants)} grants, {len(world.memberships)} "
        f"memberships, {len(world.types)} securables; then: {world.history or 'no changes'}",
    ]
    return "\n".join(lines)


def compare(world: World, engine: PolicyEngine, user: str, key: str) -> None:
    """Every applicable privilege, OWNERSHIP and visibility of ``key`` for ``user``."""
    reference = Reference(world, user)
    subject = subject_of(world, user)
    assert engine.groups(user) == subject.groups, (
        f"groups of {user}: engine {sorted(engine.groups(user))}, "
        f"reference {sorted(subject.groups)}\n{describe(world, user, key)}"
    )
    chain = chain_of(world, key)
    for privilege in [*SPEC_APPLICABLE[world.types[key]], P.OWNERSHIP]:
        expected = reference.allowed(privilege, key)
        actual = decide(subject, privilege, chain, engine.is_granted).allowed
        STATS["checks"] += 1
        STATS["allowed" if expected else "denied"] += 1
        assert actual == expected, (
            f"{privilege.value} on {world.types[key].value} {key} for {user}: "
            f"reference {expected}, steward {actual}\n{describe(world, user, key)}"
        )
    expected = reference.sees(key)
    actual = sees(subject, chain, engine.is_granted)
    STATS["checks"] += 1
    assert actual == expected, (
        f"visibility of {key} for {user}: reference {expected}, steward {actual}\n"
        f"{describe(world, user, key)}"
    )
    if world.types[key] is not T.METASTORE:
        compare_route_guard(world, engine, user, key)


def compare_route_guard(world: World, engine: PolicyEngine, user: str, key: str) -> None:
    """The exact path of a route guard: :meth:`Authorizer.require_on_chain` on the chain of
    records, one grant view for the chain answering the gates and the target, BROWSE
    meaning "sees it", and a refusal answered as missing exactly when the caller does not
    see the object. The catalog's metastore is owned by nobody (admins hold it by being
    metastore admins), so the reference reads this world with an unowned metastore."""
    reference = Reference(replace(world, owner={**world.owner, METASTORE: ""}), user)
    records = [
        SecurableRecord(
            id=k,
            securable_type=world.types[k],
            parent_id=world.parent[k],
            name=k.rsplit(".", 1)[-1],
            full_name=k,
            owner=world.owner[k],
            created_at=0,
            created_by="test",
        )
        for k in reversed(path(world, key))
        if world.types[k] is not T.METASTORE
    ]
    caller = Caller(
        PrincipalRecord(
            id=user,
            kind="user",
            name=user,
            display_name=None,
            active=True,
            is_metastore_admin=user in world.admins,
            created_at=0,
        ),
        engine.groups(user),
    )
    authorizer = Authorizer(engine)
    visible = reference.sees(key)
    for privilege in [*SPEC_APPLICABLE[world.types[key]], P.OWNERSHIP]:
        expected = visible if privilege is P.BROWSE else reference.allowed(privilege, key)
        try:
            authorizer.require_on_chain(caller, privilege, records)
        except Hidden:
            outcome = "hidden"
        except PermissionDenied:
            outcome = "denied"
        else:
            outcome = "allowed"
        STATS["route guard checks"] += 1
        wanted = "allowed" if expected else ("denied" if visible else "hidden")
        assert outcome == wanted, (
            f"route guard, {privilege.value} on {world.types[key].value} {key} for {user}: "
            f"reference {wanted}, steward {outcome}\n{describe(world, user, key)}"
        )


# -- random worlds and changes ---------------------------------------------------------------


@st.composite
def worlds(draw: st.DrawFn) -> World:
    users = [f"u{i}" for i in range(draw(st.integers(1, 4)))]
    groups = [f"g{i}" for i in range(draw(st.integers(0, 5)))]
    memberships: set[tuple[str, str]] = set()
    if groups:
        # Group i may only join group j > i: nesting of any depth, never a cycle.
        for i, j in draw(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 5)), max_size=6)):
            if i < j < len(groups):
                memberships.add((groups[i], groups[j]))
        for u, g in draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=8)):
            if u < len(users) and g < len(groups):
                memberships.add((users[u], groups[g]))
    types: dict[str, SecurableType] = {METASTORE: T.METASTORE}
    parent: dict[str, str | None] = {METASTORE: None}
    for c in range(draw(st.integers(1, 4))):
        catalog = f"cat{c}"
        types[catalog], parent[catalog] = T.CATALOG, METASTORE
        for s in range(draw(st.integers(0, 3))):
            schema = f"{catalog}.sch{s}"
            types[schema], parent[schema] = T.SCHEMA, catalog
            for t in range(draw(st.integers(0, 3))):
                types[f"{schema}.tbl{t}"], parent[f"{schema}.tbl{t}"] = T.TABLE, schema
            for m in range(draw(st.integers(0, 2))):
                types[f"{schema}.mdl{m}"], parent[f"{schema}.mdl{m}"] = T.MODEL, schema
    for e in range(draw(st.integers(0, 1))):
        types[f"endpoint{e}"], parent[f"endpoint{e}"] = T.SERVING_ENDPOINT, METASTORE
    principals = users + groups
    owner = {key: draw(st.sampled_from(principals)) for key in types}
    principals = [*principals, "account users"]  # grantable, never an owner
    admins = {u for u in users if draw(st.integers(0, 4)) == 0}
    # Containers are listed three times so that gates (and inherited grants) are often met.
    keys = list(types)
    weighted = [k for k in keys if types[k] in CHILD_TYPES] * 3 + keys
    grants = set()
    for who, where, which in draw(
        st.lists(
            st.tuples(st.sampled_from(principals), st.sampled_from(weighted), st.integers(0, 20)),
            max_size=30,
        )
    ):
        applicable = SPEC_APPLICABLE[types[where]]
        grants.add((who, where, applicable[which % len(applicable)].value))
    return World(types, parent, owner, users, groups, memberships, grants, admins)


MUTATIONS = (
    "grant",
    "revoke",
    "add_member",
    "remove_member",
    "add_securable",
    "remove_securable",
    "set_owner",
    "toggle_admin",
    "remove_principal",
)


def mutate(data: st.DataObject, world: World, engine: PolicyEngine) -> list[str]:
    """Apply one random change to the world and the engine alike; return the keys it touched."""
    kind = data.draw(st.sampled_from(MUTATIONS))
    STATS[f"mutation {kind}"] += 1
    keys = sorted(world.types)
    if kind == "grant":
        who = data.draw(st.sampled_from(world.principals))
        key = data.draw(st.sampled_from(keys))
        privilege = data.draw(st.sampled_from(SPEC_APPLICABLE[world.types[key]])).value
        world.grants.add((who, key, privilege))
        engine.grant(who, key, privilege)
        world.history.append(f"grant {privilege} on {key} to {who}")
        return [key]
    if kind == "revoke":
        if world.grants and data.draw(st.integers(0, 4)) > 0:
            who, key, privilege = data.draw(st.sampled_from(sorted(world.grants)))
        else:  # revoking what was never granted succeeds and changes nothing
            who = data.draw(st.sampled_from(world.principals))
            key = data.draw(st.sampled_from(keys))
            privilege = data.draw(st.sampled_from(SPEC_APPLICABLE[world.types[key]])).value
        world.grants.discard((who, key, privilege))
        engine.revoke(who, key, privilege)
        world.history.append(f"revoke {privilege} on {key} from {who}")
        return [key]
    if kind == "add_member":
        # member joins group: allowed unless the group already reaches member (a cycle).
        candidates = [
            (member, group)
            for member in world.principals
            for group in world.groups
            if member not in closure(world, group) and (member, group) not in world.memberships
        ]
        if candidates:
            member, group = data.draw(st.sampled_from(candidates))
            world.memberships.add((member, group))
            engine.add_member(member, group)
            world.history.append(f"add {member} to {group}")
        return []
    if kind == "remove_member":
        if world.memberships:
            member, group = data.draw(st.sampled_from(sorted(world.memberships)))
            world.memberships.discard((member, group))
            engine.remove_member(member, group)
            world.history.append(f"remove {member} from {group}")
        return []
    if kind == "add_securable":
        again = sorted(k for k, (_, c) in world.dropped.items() if c in world.types)
        if again and data.draw(st.integers(0, 2)) > 0:
            key = data.draw(st.sampled_from(again))
            child_type, container = world.dropped.pop(key)
            STATS["mutation add_securable (re-created key)"] += 1
        else:
            containers = [k for k in keys if world.types[k] in CHILD_TYPES]
            container = data.draw(st.sampled_from(containers))
            child_type = data.draw(st.sampled_from(CHILD_TYPES[world.types[container]]))
            world.created += 1
            key = f"{container}.new{world.created}".removeprefix(f"{METASTORE}.")
        world.types[key], world.parent[key] = child_type, container
        world.owner[key] = data.draw(st.sampled_from(world.principals))
        engine.add_securable(key, container)
        world.history.append(f"create {child_type.value} {key} owned by {world.owner[key]}")
        return [key]
    if kind == "remove_securable":
        victims = [k for k in keys if k != METASTORE]
        if not victims:
            return []
        root = data.draw(st.sampled_from(victims))
        container = world.parent[root]
        assert container is not None
        # DROP … CASCADE: the catalog forgets the contents first, innermost first.
        doomed = sorted(
            (k for k in world.types if root in path(world, k)),
            key=lambda k: -len(path(world, k)),
        )
        for key in doomed:
            engine.remove_securable(key)
            world.dropped[key] = (world.types[key], world.parent[key] or METASTORE)
            del world.types[key], world.parent[key], world.owner[key]
            world.grants = {g for g in world.grants if g[1] != key}
        world.history.append(f"drop {root} cascade")
        if data.draw(st.booleans()):  # and create it again at once, under the same key
            world.types[root], world.parent[root] = world.dropped.pop(root)[0], container
            world.owner[root] = data.draw(st.sampled_from(world.principals))
            engine.add_securable(root, container)
            STATS["mutation add_securable (re-created key)"] += 1
            world.history.append(f"re-create {root} owned by {world.owner[root]}")
            return [container, root]
        return [container]  # its remaining contents must not see the dropped grants
    if kind == "set_owner":
        key = data.draw(st.sampled_from(keys))
        world.owner[key] = data.draw(st.sampled_from(world.principals))
        world.history.append(f"alter {key} owner to {world.owner[key]}")
        return [key]
    if kind == "remove_principal":
        # Dropped and at once re-created under the same name: it must start with nothing.
        who = data.draw(st.sampled_from(world.principals))
        engine.remove_principal(who)
        world.grants = {g for g in world.grants if g[0] != who}
        world.memberships = {m for m in world.memberships if who not in m}
        world.history.append(f"drop and re-create principal {who}")
        return []
    user = data.draw(st.sampled_from(world.users))
    world.admins ^= {user}
    world.history.append(f"{user} metastore admin={user in world.admins}")
    return []


def compare_some(
    world: World, engine: PolicyEngine, rnd: random.Random, touched: list[str]
) -> None:
    """Up to 12 random (user, node) pairs, plus every user against each touched node and
    one thing inside it (where inherited grants show first)."""
    pairs = [(u, k) for u in world.users for k in sorted(world.types)]
    chosen = rnd.sample(pairs, min(12, len(pairs)))
    for key in touched:
        inside = [k for k in sorted(world.types) if key in path(world, k)]
        chosen += [(u, key) for u in world.users]
        chosen += [(u, rnd.choice(inside)) for u in world.users]
    for user, key in chosen:
        compare(world, engine, user, key)


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(world=worlds(), data=st.data(), rnd=st.randoms(use_true_random=False))
def _engine_agrees_with_reference(world: World, data: st.DataObject, rnd: random.Random) -> None:
    engine = world.engine()
    compare_some(world, engine, rnd, [])
    for _ in range(data.draw(st.integers(0, 8))):
        touched = mutate(data, world, engine)
        compare_some(world, engine, rnd, touched)


def test_engine_agrees_with_reference_on_random_worlds_and_changes() -> None:
    """The property itself; run through a wrapper so the number of checks can be asserted."""
    STATS.clear()
    _engine_agrees_with_reference()
    print(
        f"\nauthz differential: {STATS['checks']} checks compared "
        f"({STATS['allowed']} allowed, {STATS['denied']} denied by the reference) and "
        f"{STATS['route guard checks']} through the route guards' path, 0 mismatches; "
        + ", ".join(f"{k} ×{n}" for k, n in sorted(STATS.items()) if k.startswith("mutation"))
    )
    assert STATS["checks"] >= 10_000
    assert STATS["route guard checks"] >= 10_000
    assert STATS["allowed"] > STATS["checks"] // 10 and STATS["denied"] > STATS["checks"] // 10


# -- the tables themselves -------------------------------------------------------------------


def test_applicability_matches_the_spec_table() -> None:
    """What is checked above is exactly what docs/privileges.md lists; anything else is an
    error."""
    for securable_type in T:
        assert sorted(APPLICABLE[securable_type]) == SPEC_APPLICABLE[securable_type]
        for privilege in P:
            if privilege in SPEC_APPLICABLE[securable_type]:
                check_applicable(privilege, securable_type)
            else:
                with pytest.raises(InapplicablePrivilege):
                    check_applicable(privilege, securable_type)


# -- hand-written cases from the Databricks documentation -------------------------------------


def small_world(grants: Iterable[tuple[str, str, str]] = ()) -> World:
    """metastore > main > main.sales > main.sales.orders (+ a model), everything owned by
    ``root`` unless a case changes it; users alice, bob, carol, dana, admin."""
    types = {
        METASTORE: T.METASTORE,
        "main": T.CATALOG,
        "main.sales": T.SCHEMA,
        "main.sales.orders": T.TABLE,
        "main.sales.churn": T.MODEL,
    }
    parent: dict[str, str | None] = {
        METASTORE: None,
        "main": METASTORE,
        "main.sales": "main",
        "main.sales.orders": "main.sales",
        "main.sales.churn": "main.sales",
    }
    return World(
        types=types,
        parent=parent,
        owner=dict.fromkeys(types, "root"),
        users=["root", "alice", "bob", "carol", "dana", "admin"],
        groups=["analysts", "team", "squad"],
        memberships=set(),
        grants=set(grants),
        admins={"admin"},
    )


def allows(world: World, engine: PolicyEngine, user: str, privilege: Privilege, key: str) -> bool:
    """Steward's answer, after checking it against the reference for the whole node."""
    compare(world, engine, user, key)
    return decide(
        subject_of(world, user), privilege, chain_of(world, key), engine.is_granted
    ).allowed


def test_schema_owner_can_grant_but_not_read() -> None:
    """Databricks: an object's owner manages grants on what it contains, but reading a table
    owned by someone else still needs SELECT (and USE CATALOG)."""
    world = small_world({("alice", "main", "USE CATALOG")})
    world.owner["main.sales"] = "alice"
    engine = world.engine()
    assert allows(world, engine, "alice", P.OWNERSHIP, "main.sales.orders")
    assert allows(world, engine, "alice", P.USE_SCHEMA, "main.sales")
    assert not allows(world, engine, "alice", P.SELECT, "main.sales.orders")
    assert not allows(world, engine, "alice", P.EXECUTE, "main.sales.churn")
    assert allows(world, engine, "alice", P.CREATE_TABLE, "main.sales")  # own gate: owner
    world.grants.add(("alice", "main.sales.orders", "SELECT"))
    engine.grant("alice", "main.sales.orders", "SELECT")
    assert allows(world, engine, "alice", P.SELECT, "main.sales.orders")


def test_create_inside_needs_the_containers_own_gate() -> None:
    """Databricks: CREATE TABLE on a schema needs USE CATALOG and USE SCHEMA as well."""
    world = small_world({("bob", "main.sales", "CREATE TABLE"), ("bob", "main", "USE CATALOG")})
    engine = world.engine()
    assert not allows(world, engine, "bob", P.CREATE_TABLE, "main.sales")
    world.grants.add(("bob", "main.sales", "USE SCHEMA"))
    engine.grant("bob", "main.sales", "USE SCHEMA")
    assert allows(world, engine, "bob", P.CREATE_TABLE, "main.sales")


def test_a_securable_recreated_under_the_same_key_starts_clean() -> None:
    """The engine must forget a dropped object's grants, or a new object that reuses its
    key would inherit them."""
    world = small_world({("bob", "main.sales.orders", "SELECT"), ("bob", "main", "USE CATALOG")})
    world.grants.add(("bob", "main.sales", "USE SCHEMA"))
    engine = world.engine()
    assert allows(world, engine, "bob", P.SELECT, "main.sales.orders")
    engine.remove_securable("main.sales.orders")
    world.grants.discard(("bob", "main.sales.orders", "SELECT"))
    engine.add_securable("main.sales.orders", "main.sales")
    assert not allows(world, engine, "bob", P.SELECT, "main.sales.orders")


def test_metastore_admin_needs_a_grant_to_read() -> None:
    """Databricks: metastore admins manage everything but get no implicit data access; they
    can grant it to themselves."""
    world = small_world()
    engine = world.engine()
    assert allows(world, engine, "admin", P.OWNERSHIP, "main.sales.orders")
    assert allows(world, engine, "admin", P.USE_CATALOG, "main")
    assert allows(world, engine, "admin", P.MANAGE, "main.sales.orders")
    assert not allows(world, engine, "admin", P.SELECT, "main.sales.orders")
    assert not allows(world, engine, "admin", P.EXECUTE, "main.sales.churn")
    world.grants.add(("admin", "main.sales", "SELECT"))
    engine.grant("admin", "main.sales", "SELECT")
    assert allows(world, engine, "admin", P.SELECT, "main.sales.orders")


def test_all_privileges_on_a_catalog_reaches_a_table_created_later() -> None:
    """Databricks: a grant on a container applies to current and future objects in it;
    ALL PRIVILEGES does not include MANAGE."""
    world = small_world({("analysts", "main", "ALL PRIVILEGES")})
    world.memberships.add(("bob", "analysts"))
    engine = world.engine()
    world.types["main.sales.later"], world.parent["main.sales.later"] = T.TABLE, "main.sales"
    world.owner["main.sales.later"] = "root"
    engine.add_securable("main.sales.later", "main.sales")
    assert allows(world, engine, "bob", P.SELECT, "main.sales.later")
    assert allows(world, engine, "bob", P.MODIFY, "main.sales.later")
    assert not allows(world, engine, "bob", P.MANAGE, "main.sales.later")
    assert not allows(world, engine, "bob", P.OWNERSHIP, "main.sales.later")
    assert not allows(world, engine, "carol", P.SELECT, "main.sales.later")


def test_manage_lets_a_non_owner_grant() -> None:
    """Databricks: MANAGE lets a principal manage grants on an object without owning it; it
    does not let them read, and they still need USE CATALOG / USE SCHEMA to reach it."""
    world = small_world({("carol", "main.sales", "MANAGE")})
    engine = world.engine()
    assert not allows(world, engine, "carol", P.OWNERSHIP, "main.sales.orders")  # gates shut
    for gate, key in (("USE CATALOG", "main"), ("USE SCHEMA", "main.sales")):
        world.grants.add(("carol", key, gate))
        engine.grant("carol", key, gate)
    assert allows(world, engine, "carol", P.OWNERSHIP, "main.sales.orders")
    assert allows(world, engine, "carol", P.OWNERSHIP, "main.sales.churn")
    assert not allows(world, engine, "carol", P.SELECT, "main.sales.orders")
    world.grants.discard(("carol", "main.sales", "MANAGE"))
    engine.revoke("carol", "main.sales", "MANAGE")
    assert not allows(world, engine, "carol", P.OWNERSHIP, "main.sales.orders")


def test_privileges_reach_through_nested_groups() -> None:
    """Databricks: a user gets the privileges of every group it belongs to, transitively."""
    world = small_world(
        {
            ("analysts", "main", "USE CATALOG"),
            ("analysts", "main.sales", "USE SCHEMA"),
            ("analysts", "main.sales.orders", "SELECT"),
        }
    )
    world.memberships |= {("dana", "squad"), ("squad", "team"), ("team", "analysts")}
    engine = world.engine()
    assert allows(world, engine, "dana", P.SELECT, "main.sales.orders")
    world.memberships.discard(("squad", "team"))
    engine.remove_member("squad", "team")
    assert not allows(world, engine, "dana", P.SELECT, "main.sales.orders")
    world.memberships.add(("squad", "analysts"))
    engine.add_member("squad", "analysts")
    assert allows(world, engine, "dana", P.SELECT, "main.sales.orders")


def test_groups_nested_deeper_than_casbins_default_role_depth() -> None:
    """Rule 1 says "transitively", with no limit. pycasbin's role manager stops after ten
    levels by default, so a twelve-deep chain probes that the engine does not."""
    world = small_world({("level11", "main", "ALL PRIVILEGES")})
    world.groups = [f"level{i}" for i in range(12)]
    world.memberships = {("dana", "level0")} | {(f"level{i}", f"level{i + 1}") for i in range(11)}
    engine = world.engine()
    assert allows(world, engine, "dana", P.SELECT, "main.sales.orders")
