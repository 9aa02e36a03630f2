"""Casbin enforcement of grants at any scale.

The Casbin model (``policy/model.conf``) states who may do what: requests, grant
lines (``p``), group membership (``g``), the securable hierarchy (``g2``) and the
matcher over them. Plain pycasbin evaluates that matcher against every policy
line on each check and re-parses it each time through simpleeval, so a check
costs time in proportion to the number of grants (about 8 µs a line). Three
changes keep Casbin's semantics and drop that cost:

* **Indexed policy**: grant lines live in an index (securable → principal →
  lines). A check first takes the lines that can possibly match — those on the
  securable or one of its containers, held by the principal or one of its
  groups — so its cost depends on the depth of the hierarchy and the caller's
  groups, not on the number of grants.
* **Compiled matcher**: the model's matcher is translated exactly as pycasbin
  translates it (``&&`` → ``and`` …), checked to contain nothing but
  comparisons, boolean operators and the role functions, and compiled once into
  a Python function. The effect ``some(where (p.eft == allow))`` is ``any`` over
  the candidate lines.
* **Closure role managers**: ``g`` and ``g2`` are answered by a Casbin
  :class:`~casbin.rbac.RoleManager` that keeps each name's transitive closure
  (no 10-hop limit, cycle-safe), so a role function is one set lookup.

A :class:`GrantView` collects the candidates once for one principal and one
securable; every question a decision asks about that chain (gates and target)
is then answered from them. ``tests/policy/test_enforcer.py`` checks the compiled
matcher against ``casbin.Enforcer.enforce`` on the same model and facts.

This module knows nothing of databases: the catalog loads policies into a
:class:`PolicyEngine` and tells it about every change.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin
from casbin.model import Model
from casbin.persist import Adapter
from casbin.rbac.role_manager import RoleManager

from policy.securables import ACCOUNT_USERS

MODEL_PATH = Path(__file__).with_name("model.conf")
ALL_PRIVILEGES = "ALL PRIVILEGES"
#: How many containers a securable may have (metastore > catalog > schema > object is 3).
MAX_DEPTH = 16
Line = tuple[str, str, str]
Matcher = Callable[..., bool]


class IndexedPolicy:
    """Grant lines indexed by securable then principal, behind the container interface
    pycasbin's model uses for a policy (iterate, ``in``, append, remove).

    The lines of one (securable, principal) pair are an immutable tuple, replaced whole on
    a change, so a check can read the index without a lock while a writer changes it
    (single dict reads and writes are atomic in CPython).
    """

    def __init__(self) -> None:
        self.by_object: dict[str, dict[str, tuple[Line, ...]]] = {}
        self._count = 0

    def __iter__(self) -> Iterator[list[str]]:
        return (
            list(line)
            for by_subject in list(self.by_object.values())
            for lines in list(by_subject.values())
            for line in list(lines)
        )

    def __getitem__(self, index: int) -> list[str]:  # priority sorting and explain only
        for i, line in enumerate(self):
            if i == index:
                return line
        raise IndexError(index)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, list | tuple) or len(item) != 3:
            return False
        return tuple(item) in self.by_object.get(item[1], {}).get(item[0], ())

    def append(self, item: Sequence[str]) -> None:
        line = (item[0], item[1], item[2])
        by_subject = self.by_object.setdefault(line[1], {})
        lines = by_subject.get(line[0], ())
        if line not in lines:
            by_subject[line[0]] = (*lines, line)
            self._count += 1

    def remove(self, item: Sequence[str]) -> bool:
        line = (item[0], item[1], item[2])
        by_subject = self.by_object.get(line[1])
        lines = by_subject.get(line[0], ()) if by_subject else ()
        if line in lines:
            rest = tuple(x for x in lines if x != line)
            self._count -= 1
            assert by_subject is not None
            if rest:
                by_subject[line[0]] = rest
            else:
                del by_subject[line[0]]
                if not by_subject:
                    self.by_object.pop(line[1], None)
        return True

    def candidates(
        self, securable: str, containers: Iterable[str], principal: str, groups: frozenset[str]
    ) -> list[Line]:
        """The lines on the securable or its containers held by the principal or its groups:
        all a matcher could match."""
        found: list[Line] = []
        by_object = self.by_object
        asked = len(groups) + 1
        for obj in (securable, *containers):
            by_subject = by_object.get(obj)
            if not by_subject:
                continue
            if len(by_subject) <= asked:  # few holders here: look at each of them
                for subject, lines in tuple(by_subject.items()):
                    if subject == principal or subject in groups:
                        found.extend(lines)
                continue
            lines = by_subject.get(principal)
            if lines:
                found.extend(lines)
            for group in groups:
                lines = by_subject.get(group)
                if lines:
                    found.extend(lines)
        return found


class GroupingPolicy:
    """Grouping lines (``g``, ``g2``) with O(1) membership, addition and removal.

    pycasbin keeps them in a list, which makes every add and remove scan all lines:
    quadratic to load a hierarchy of a million securables.
    """

    def __init__(self) -> None:
        self._lines: dict[tuple[str, ...], None] = {}

    def __iter__(self) -> Iterator[list[str]]:
        return (list(line) for line in list(self._lines))

    def __getitem__(self, index: int) -> list[str]:
        return list(list(self._lines)[index])

    def __len__(self) -> int:
        return len(self._lines)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, list | tuple) and tuple(item) in self._lines

    def append(self, item: Sequence[str]) -> None:
        self._lines[tuple(item)] = None

    def remove(self, item: Sequence[str]) -> bool:
        self._lines.pop(tuple(item), None)
        return True


class ClosureRoleManager(RoleManager):
    """A Casbin role manager that answers ``has_link`` from each name's transitive closure.

    pycasbin's default manager walks links on every call and stops after ten hops;
    groups nest and the hierarchy deepens without such a limit. Closures are computed
    on first use and forgotten on any change (changes are rare next to checks).
    """

    def __init__(self) -> None:
        self._up: dict[str, set[str]] = {}
        self._down: dict[str, set[str]] = {}
        self._closure: dict[str, frozenset[str]] = {}

    def clear(self) -> None:
        self._up, self._down, self._closure = {}, {}, {}

    def add_link(self, name1: str, name2: str, *domain: str) -> None:
        roles = self._up.setdefault(name1, set())
        if name2 not in roles:
            roles.add(name2)
            self._down.setdefault(name2, set()).add(name1)
            self._closure = {}

    def delete_link(self, name1: str, name2: str, *domain: str) -> None:
        roles = self._up.get(name1)
        if roles and name2 in roles:
            roles.discard(name2)
            self._down[name2].discard(name1)
            self._closure = {}

    def has_link(self, name1: str, name2: str, *domain: str) -> bool:
        return name1 == name2 or name2 in self.closure(name1)

    def get_roles(self, name: str, *domain: str) -> list[str]:
        return sorted(self._up.get(name, ()))

    def get_users(self, name: str, *domain: str) -> list[str]:
        return sorted(self._down.get(name, ()))

    def print_roles(self) -> None:  # pycasbin's interface; nothing to print in a server
        return None

    #: Roles everything reaches without a link (none here; see MembershipRoleManager).
    implicit: frozenset[str] = frozenset()

    def closure(self, name: str) -> frozenset[str]:
        """Every role ``name`` reaches through one or more links (never ``name`` itself
        unless a cycle leads back), and the :attr:`implicit` ones."""
        cached = self._closure.get(name)
        if cached is not None:
            return cached
        seen: set[str] = set()
        frontier = [name]
        while frontier:
            step: list[str] = []
            for member in frontier:
                for role in self._up.get(member, ()):
                    if role not in seen:
                        seen.add(role)
                        step.append(role)
            frontier = step
        closure = frozenset(seen) | self.implicit
        self._closure[name] = closure
        return closure

    def parent(self, name: str) -> str | None:
        """The one role of ``name`` (the hierarchy gives every securable one container)."""
        roles = self._up.get(name)
        return next(iter(roles)) if roles else None


#: What a compiled matcher may contain: comparisons, boolean logic, names, string
#: constants and calls of the role functions. Anything else in model.conf is refused.
_MATCHER_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
)


class MembershipRoleManager(ClosureRoleManager):
    """Group membership (``g``): as :class:`ClosureRoleManager`, and every principal is
    also in ``account users``, with no line saying so (nothing to keep in step)."""

    implicit = frozenset({ACCOUNT_USERS})


def compile_matcher(model: Model, functions: dict[str, Callable[..., bool]]) -> Matcher:
    """The model's matcher as ``f(r_sub, r_obj, r_act, p_sub, p_obj, p_act) -> bool``.

    The text is translated the way pycasbin's ``_get_expression`` translates it, so it
    means what Casbin means by it; it comes from the packaged model file, never from a
    request, and is still checked node by node before it is compiled.
    """
    text = model.model["m"]["m"].value
    text = re.sub(r"!(?!=)", "not ", text.replace("&&", "and").replace("||", "or"))
    parameters = [*model.model["r"]["r"].tokens, *model.model["p"]["p"].tokens]
    tree = ast.parse(text, mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _MATCHER_NODES):
            raise ValueError(f"matcher may not contain {type(node).__name__}: {text}")
        if isinstance(node, ast.Name) and node.id not in {*parameters, *functions}:
            raise ValueError(f"matcher names unknown '{node.id}': {text}")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in functions
        ):
            raise ValueError(f"matcher calls something other than a role function: {text}")
    source = f"lambda {', '.join(parameters)}: {text}"
    code = compile(source, "<model.conf matcher>", "eval")
    return eval(code, {"__builtins__": {}, **functions})


class _IndexedModel(Model):
    def add_def(self, sec: str, key: str, value: Any) -> Any:
        result = super().add_def(sec, key, value)
        if not result:  # pycasbin probes g, g2, g3… until one is undefined
            return result
        if sec == "p" and key == "p":
            self.model[sec][key].policy = IndexedPolicy()
        elif sec == "g":
            self.model[sec][key].policy = GroupingPolicy()
        return result

    def clear_policy(self) -> None:
        super().clear_policy()
        self.model["p"]["p"].policy = IndexedPolicy()
        for assertion in self.model.get("g", {}).values():
            assertion.policy = GroupingPolicy()


class IndexedEnforcer(casbin.Enforcer):
    """A Casbin enforcer whose policies are indexed, whose role managers keep closures, and
    whose matcher is compiled once (:attr:`matcher`)."""

    def new_model(self, path: str = "", text: str = "") -> Model:
        model = _IndexedModel()
        if path:
            model.load_model(path)
        else:
            model.load_model_from_text(text)
        return model

    def init_rm_map(self) -> None:
        for ptype, assertion in self.model.model.get("g", {}).items():
            if ptype not in self.rm_map:
                assertion.rm = MembershipRoleManager() if ptype == "g" else ClosureRoleManager()
                self.rm_map[ptype] = assertion.rm
        super().init_rm_map()

    @property
    def policy(self) -> IndexedPolicy:
        return self.model.model["p"]["p"].policy

    def role_manager(self, ptype: str) -> ClosureRoleManager:
        return self.rm_map[ptype]

    def compiled_matcher(self) -> Matcher:
        functions = {ptype: rm.has_link for ptype, rm in self.rm_map.items()}
        return compile_matcher(self.model, functions)


@dataclass(frozen=True)
class Grant:
    principal: str
    securable: str
    privilege: str


def add_policy_lines(
    model: Model,
    grants: Iterable[Grant],
    memberships: Iterable[tuple[str, str]],
    parents: Iterable[tuple[str, str]],
) -> None:
    """Put ``p``, ``g`` and ``g2`` lines straight into a model's containers, for an adapter's
    ``load_policy`` (Casbin links the roles afterwards, in one pass)."""
    policy = model.model["p"]["p"].policy
    for grant in grants:
        policy.append((grant.principal, grant.securable, grant.privilege))
    for ptype, pairs in (("g", memberships), ("g2", parents)):
        lines = model.model["g"][ptype].policy
        for pair in pairs:
            lines.append(pair)


class FactsAdapter(Adapter):
    """A read-only Casbin adapter over facts held in memory (tests, benchmarks)."""

    def __init__(
        self,
        grants: Iterable[Grant],
        memberships: Iterable[tuple[str, str]],
        parents: Iterable[tuple[str, str]],
    ) -> None:
        self.facts = (grants, memberships, parents)

    def load_policy(self, model: Model) -> None:
        add_policy_lines(model, *self.facts)


class GrantView:
    """The grant lines that bear on one principal and one securable with its containers.

    A decision asks several questions about one chain (the gates above the target,
    then the target); the view finds the candidate lines once and lets the compiled
    matcher answer each question over them.
    """

    __slots__ = ("_candidates", "_matcher", "principal")

    def __init__(self, principal: str, candidates: list[Line], matcher: Matcher) -> None:
        self.principal = principal
        self._candidates = candidates
        self._matcher = matcher

    def granted(self, principal: str, securable: str, privilege: str) -> bool:
        """Casbin's answer to ``(principal, securable, privilege)`` for a node of the chain."""
        if principal != self.principal:
            raise ValueError(f"a view for '{self.principal}' cannot answer for '{principal}'")
        match = self._matcher
        # A plain loop: any() over a generator costs a frame per check on CPython 3.11.
        for line in self._candidates:
            # Lines that name another privilege (and not ALL PRIVILEGES) cannot match: skip
            # them before calling the matcher, which decides every line that could.
            if line[2] != privilege and line[2] != ALL_PRIVILEGES:
                continue
            if match(principal, securable, privilege, *line):
                return True
        return False

    def any_grant(self) -> bool:
        """Whether any grant on the chain names the principal or one of its groups."""
        return bool(self._candidates)


class PolicyEngine:
    """Grants, memberships and the securable hierarchy, and the checks over them.

    Securables and principals are opaque keys here (the catalog uses securable ids
    and principal names). All methods are thread-safe.
    """

    def __init__(self, model_path: Path = MODEL_PATH) -> None:
        self._lock = threading.RLock()
        self._model_path = model_path
        self._install(IndexedEnforcer(str(model_path)))

    def _install(self, enforcer: IndexedEnforcer) -> None:
        enforcer.enable_auto_build_role_links(True)
        self._enforcer = enforcer
        self._members = enforcer.role_manager("g")
        self._hierarchy = enforcer.role_manager("g2")
        self._matcher = enforcer.compiled_matcher()

    # -- loading and changes -----------------------------------------------------------

    def load_policy(self, adapter: Adapter) -> None:
        """Replace everything with what the Casbin adapter loads (start-up, or a full
        resync). The new enforcer is built aside and swapped in, so checks never see a
        half-loaded policy."""
        enforcer = IndexedEnforcer(str(self._model_path), adapter)
        with self._lock:
            self._install(enforcer)

    def load(
        self,
        grants: Iterable[Grant],
        memberships: Iterable[tuple[str, str]],
        parents: Iterable[tuple[str, str]],
    ) -> None:
        """Replace everything with the given facts."""
        self.load_policy(FactsAdapter(grants, memberships, parents))

    def grant(self, principal: str, securable: str, privilege: str) -> None:
        with self._lock:
            self._enforcer.policy.append((principal, securable, privilege))

    def revoke(self, principal: str, securable: str, privilege: str) -> None:
        with self._lock:
            self._enforcer.policy.remove((principal, securable, privilege))

    def add_member(self, member: str, group: str) -> None:
        with self._lock:
            if not self._enforcer.has_named_grouping_policy("g", member, group):
                self._enforcer.add_named_grouping_policy("g", member, group)

    def remove_member(self, member: str, group: str) -> None:
        with self._lock:
            if self._enforcer.has_named_grouping_policy("g", member, group):
                self._enforcer.remove_named_grouping_policy("g", member, group)

    def add_securable(self, securable: str, container: str) -> None:
        with self._lock:
            current = self._hierarchy.parent(securable)
            if current == container:
                return
            if current is not None:
                self._enforcer.remove_named_grouping_policy("g2", securable, current)
            self._enforcer.add_named_grouping_policy("g2", securable, container)

    def remove_securable(self, securable: str) -> None:
        """Forget an object: its place in the hierarchy and every grant on it."""
        with self._lock:
            container = self._hierarchy.parent(securable)
            if container is not None:
                self._enforcer.remove_named_grouping_policy("g2", securable, container)
            policy = self._enforcer.policy
            for lines in list(policy.by_object.get(securable, {}).values()):
                for line in list(lines):
                    policy.remove(line)

    def remove_principal(self, principal: str) -> None:
        """Forget a principal: its grants and its memberships."""
        with self._lock:
            policy = self._enforcer.policy
            for by_subject in list(policy.by_object.values()):
                for line in list(by_subject.get(principal, ())):
                    policy.remove(line)
            for group in self._members.get_roles(principal):
                self.remove_member(principal, group)
            for member in self._members.get_users(principal):
                self.remove_member(member, principal)

    # -- questions -----------------------------------------------------------------------

    def ancestors(self, securable: str) -> list[str]:
        """The securable and its containers, innermost first."""
        chain = [securable]
        parent = self._hierarchy.parent(securable)
        while parent is not None and len(chain) < MAX_DEPTH:
            chain.append(parent)
            parent = self._hierarchy.parent(parent)
        return chain

    def groups(self, principal: str) -> frozenset[str]:
        """Every group the principal belongs to, directly or through nested groups."""
        return self._members.closure(principal)

    def view(self, principal: str, securable: str) -> GrantView:
        """Everything needed to answer questions about ``principal`` on ``securable`` and its
        containers (see :class:`GrantView`)."""
        candidates = self._enforcer.policy.candidates(
            securable,
            self._hierarchy.closure(securable),
            principal,
            self._members.closure(principal),
        )
        return GrantView(principal, candidates, self._matcher)

    def is_granted(self, principal: str, securable: str, privilege: str) -> bool:
        """Whether a grant on the securable or a container gives ``privilege`` to the
        principal or one of its groups."""
        return self.view(principal, securable).granted(principal, securable, privilege)

    def grants_on(self, securable: str) -> list[Grant]:
        with self._lock:
            return self._grants_on(securable)

    def grants_on_now(self, securable: str) -> list[Grant] | None:
        """:meth:`grants_on` if no change is being applied this instant, else None rather
        than wait: for callers on the event loop, which must not block on a reload."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._grants_on(securable)
        finally:
            self._lock.release()

    def _grants_on(self, securable: str) -> list[Grant]:
        by_subject = self._enforcer.policy.by_object.get(securable, {})
        return sorted(
            (Grant(*line) for lines in by_subject.values() for line in lines),
            key=lambda g: (g.principal, g.privilege),
        )

    def grant_count(self) -> int:
        return len(self._enforcer.policy)

    def casbin_enforcer(self) -> casbin.Enforcer:
        """The underlying Casbin enforcer (its ``enforce`` walks every candidate the slow,
        interpreted way; tests compare it with the compiled path)."""
        return self._enforcer
