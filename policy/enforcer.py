"""Casbin enforcement of grants at any scale.

Plain pycasbin evaluates its matcher against every policy line on each check
(and recompiles the matcher each time), so a check costs time in proportion to
the number of grants. Here the policy lines live in an index (securable →
principal → lines). Before each check the index is narrowed to the lines that
can possibly match — those on the securable or one of its containers, held by
the principal or one of its groups — and Casbin's matcher, with its role
managers for groups (``g``) and the hierarchy (``g2``), decides over those
lines. The cost of a check therefore depends on the depth of the hierarchy and
the number of groups of the caller, not on the number of grants.

This module knows nothing of databases: the catalog loads policies into a
:class:`PolicyEngine` and tells it about every change.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import casbin
from casbin.model import Model
from casbin.rbac.default_role_manager import RoleManager

MODEL_PATH = Path(__file__).with_name("model.conf")
ALL_PRIVILEGES = "ALL PRIVILEGES"
MANAGE = "MANAGE"
#: How many membership (or containment) links a check may follow.
MAX_LINK_DEPTH = 10_000
Line = tuple[str, str, str]


class _PolicyLines(ABC):
    """What pycasbin needs of a policy container beyond iteration: positional access
    (rarely used: priority sorting, explain)."""

    @abstractmethod
    def __iter__(self) -> Iterator[list[str]]: ...

    def __getitem__(self, index: int) -> list[str]:
        for i, line in enumerate(self):
            if i == index:
                return line
        raise IndexError(index)


class IndexedPolicy(_PolicyLines):
    """Policy lines indexed by securable then principal.

    Casbin iterates a policy container to evaluate its matcher; this one yields
    only the current check's candidates while a filter is set (like pycasbin's
    FastPolicy, but filtering on sets of keys rather than one exact key).
    """

    def __init__(self) -> None:
        self.by_object: dict[str, dict[str, set[Line]]] = {}
        self._candidates: list[list[str]] | None = None
        self._count = 0

    def __iter__(self) -> Iterator[list[str]]:
        if self._candidates is not None:
            return iter(self._candidates)
        return (
            list(line)
            for by_subject in self.by_object.values()
            for lines in by_subject.values()
            for line in lines
        )

    def __len__(self) -> int:
        return len(self._candidates) if self._candidates is not None else self._count

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, list | tuple) or len(item) != 3:
            return False
        return tuple(item) in self.by_object.get(item[1], {}).get(item[0], ())

    def append(self, item: Sequence[str]) -> None:
        line = (item[0], item[1], item[2])
        lines = self.by_object.setdefault(line[1], {}).setdefault(line[0], set())
        if line not in lines:
            lines.add(line)
            self._count += 1

    def remove(self, item: Sequence[str]) -> bool:
        line = (item[0], item[1], item[2])
        by_subject = self.by_object.get(line[1])
        lines = by_subject.get(line[0]) if by_subject else None
        if lines and line in lines:
            lines.remove(line)
            self._count -= 1
            if not lines:
                del by_subject[line[0]]  # type: ignore[index]
                if not by_subject:
                    del self.by_object[line[1]]
        return True

    def narrow(
        self, objects: Iterable[str], subjects: Iterable[str], privilege: str | None = None
    ) -> int:
        """Keep only lines on ``objects`` held by ``subjects`` (and, given a privilege, lines
        that could grant it); return how many remain. Casbin's matcher decides over them."""
        subject_set = subjects if isinstance(subjects, set | frozenset) else set(subjects)
        wanted = (
            None
            if privilege is None
            else {privilege} | ({ALL_PRIVILEGES} if privilege != MANAGE else set())
        )
        candidates: list[list[str]] = []
        for obj in objects:
            by_subject = self.by_object.get(obj)
            if not by_subject:
                continue
            # Walk whichever side is smaller: the grants on the object or the caller's groups.
            if len(by_subject) <= len(subject_set):
                held = (lines for s, lines in by_subject.items() if s in subject_set)
            else:
                held = (by_subject[s] for s in subject_set if s in by_subject)
            for lines in held:
                candidates.extend(
                    list(line) for line in lines if wanted is None or line[2] in wanted
                )
        self._candidates = candidates
        return len(candidates)

    def widen(self) -> None:
        self._candidates = None


class GroupingPolicy(_PolicyLines):
    """Grouping lines (``g``, ``g2``) with O(1) membership, addition and removal.

    pycasbin keeps them in a list, which makes every add and remove scan all lines:
    quadratic to load a hierarchy of a million securables.
    """

    def __init__(self) -> None:
        self._lines: dict[tuple[str, ...], None] = {}

    def __iter__(self) -> Iterator[list[str]]:
        return (list(line) for line in self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, list | tuple) and tuple(item) in self._lines

    def append(self, item: Sequence[str]) -> None:
        self._lines[tuple(item)] = None

    def remove(self, item: Sequence[str]) -> bool:
        self._lines.pop(tuple(item), None)
        return True


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
    """A Casbin enforcer over an :class:`IndexedPolicy` with its matcher compiled once."""

    def new_model(self, path: str = "", text: str = "") -> Model:
        model = _IndexedModel()
        if path:
            model.load_model(path)
        else:
            model.load_model_from_text(text)
        return model

    def init_rm_map(self) -> None:
        # pycasbin's role managers stop following links after 10 hops; groups nest and
        # the hierarchy deepens without such a limit, so give both room.
        for ptype, assertion in self.model.model.get("g", {}).items():
            if ptype not in self.rm_map and len(assertion.tokens) <= 2:
                assertion.rm = RoleManager(MAX_LINK_DEPTH)
                self.rm_map[ptype] = assertion.rm
        super().init_rm_map()

    def _get_expression(self, expr: str, functions: Any = None) -> Any:
        # pycasbin compiles the matcher on every enforce; the role-manager functions it
        # closes over are stable for this enforcer's life, so one compilation serves all.
        cache: dict[str, Any] = self.__dict__.setdefault("_expression_cache", {})
        compiled = cache.get(expr)
        if compiled is None:
            compiled = cache[expr] = super()._get_expression(expr, functions)
        return compiled

    @property
    def policy(self) -> IndexedPolicy:
        return self.model.model["p"]["p"].policy


@dataclass(frozen=True)
class Grant:
    principal: str
    securable: str
    privilege: str


class PolicyEngine:
    """Grants, memberships and the securable hierarchy, and the checks over them.

    Securables and principals are opaque keys here (the catalog uses securable ids
    and principal names). All methods are thread-safe.
    """

    def __init__(self, model_path: Path = MODEL_PATH) -> None:
        self._lock = threading.RLock()
        self._enforcer = IndexedEnforcer(str(model_path))
        self._enforcer.enable_auto_build_role_links(True)
        self._parents: dict[str, str] = {}
        self._groups_of: dict[str, set[str]] = {}
        self._closure: dict[str, frozenset[str]] = {}

    # -- loading and changes -----------------------------------------------------------

    def load(
        self,
        grants: Iterable[Grant],
        memberships: Iterable[tuple[str, str]],
        parents: Iterable[tuple[str, str]],
    ) -> None:
        """Replace everything with the given facts (start-up, or a full resync)."""
        with self._lock:
            enforcer = IndexedEnforcer(str(MODEL_PATH))
            enforcer.enable_auto_build_role_links(False)
            policy = enforcer.policy
            for grant in grants:
                policy.append((grant.principal, grant.securable, grant.privilege))
            member_pairs = list(memberships)
            parent_pairs = list(parents)
            # Straight into the containers, then one pass to link roles: no per-line checks.
            for ptype, pairs in (("g", member_pairs), ("g2", parent_pairs)):
                lines = enforcer.model.model["g"][ptype].policy
                for pair in pairs:
                    lines.append(pair)
            enforcer.build_role_links()
            enforcer.enable_auto_build_role_links(True)
            self._enforcer = enforcer
            self._parents = dict(parent_pairs)
            self._groups_of = {}
            for member, group in member_pairs:
                self._groups_of.setdefault(member, set()).add(group)
            self._closure = {}

    def grant(self, principal: str, securable: str, privilege: str) -> None:
        with self._lock:
            self._enforcer.policy.append((principal, securable, privilege))

    def revoke(self, principal: str, securable: str, privilege: str) -> None:
        with self._lock:
            self._enforcer.policy.remove((principal, securable, privilege))

    def add_member(self, member: str, group: str) -> None:
        with self._lock:
            if group in self._groups_of.get(member, ()):
                return
            self._enforcer.add_named_grouping_policy("g", member, group)
            self._groups_of.setdefault(member, set()).add(group)
            self._closure = {}

    def remove_member(self, member: str, group: str) -> None:
        with self._lock:
            if group not in self._groups_of.get(member, ()):
                return
            self._enforcer.remove_named_grouping_policy("g", member, group)
            self._groups_of[member].discard(group)
            self._closure = {}

    def add_securable(self, securable: str, container: str) -> None:
        with self._lock:
            if self._parents.get(securable) == container:
                return
            self._enforcer.add_named_grouping_policy("g2", securable, container)
            self._parents[securable] = container

    def remove_securable(self, securable: str) -> None:
        """Forget an object: its place in the hierarchy and every grant on it."""
        with self._lock:
            container = self._parents.pop(securable, None)
            if container is not None:
                self._enforcer.remove_named_grouping_policy("g2", securable, container)
            for lines in list(self._enforcer.policy.by_object.get(securable, {}).values()):
                for line in list(lines):
                    self._enforcer.policy.remove(line)

    def remove_principal(self, principal: str) -> None:
        """Forget a principal: its grants and its memberships."""
        with self._lock:
            for by_subject in list(self._enforcer.policy.by_object.values()):
                for line in list(by_subject.get(principal, ())):
                    self._enforcer.policy.remove(line)
            for group in list(self._groups_of.get(principal, ())):
                self.remove_member(principal, group)
            for member, groups in list(self._groups_of.items()):
                if principal in groups:
                    self.remove_member(member, principal)

    # -- questions -----------------------------------------------------------------------

    def ancestors(self, securable: str) -> list[str]:
        """The securable and its containers, innermost first."""
        chain = [securable]
        parent = self._parents.get(securable)
        while parent is not None and len(chain) < 16:
            chain.append(parent)
            parent = self._parents.get(parent)
        return chain

    def groups(self, principal: str) -> frozenset[str]:
        """Every group the principal belongs to, directly or through nested groups."""
        cached = self._closure.get(principal)
        if cached is not None:
            return cached
        with self._lock:
            seen: set[str] = set()
            frontier = [principal]
            while frontier:
                nxt = []
                for member in frontier:
                    for group in self._groups_of.get(member, ()):
                        if group not in seen:
                            seen.add(group)
                            nxt.append(group)
                frontier = nxt
            closure = frozenset(seen)
            self._closure[principal] = closure
            return closure

    def is_granted(self, principal: str, securable: str, privilege: str) -> bool:
        """Whether a grant on the securable or a container gives ``privilege`` to the
        principal or one of its groups. Casbin's matcher decides over the candidates."""
        subjects = {principal, *self.groups(principal)}
        with self._lock:
            policy = self._enforcer.policy
            try:
                if policy.narrow(self.ancestors(securable), subjects, privilege) == 0:
                    return False  # the matcher has nothing to match: Casbin would deny
                return bool(self._enforcer.enforce(principal, securable, privilege))
            finally:
                policy.widen()

    def has_any_grant(self, principal: str, securable: str) -> bool:
        """Whether any grant on the securable or a container names the principal or a group."""
        subjects = {principal, *self.groups(principal)}
        with self._lock:
            policy = self._enforcer.policy
            try:
                return policy.narrow(self.ancestors(securable), subjects) > 0
            finally:
                policy.widen()

    def grants_on(self, securable: str) -> list[Grant]:
        with self._lock:
            by_subject = self._enforcer.policy.by_object.get(securable, {})
            return sorted(
                (Grant(*line) for lines in by_subject.values() for line in lines),
                key=lambda g: (g.principal, g.privilege),
            )

    def grant_count(self) -> int:
        return self._enforcer.policy._count
