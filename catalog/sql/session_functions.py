"""The session functions of Databricks SQL, answered for the caller before a query runs.

``current_user()`` and ``session_user()`` are the caller's name; ``is_account_group_member(g)``
and ``is_member(g)`` say whether the caller belongs to group ``g``, directly or through
nested groups (Steward has one kind of group, so the two agree). They appear in queries and,
above all, in the bodies of row filters and column masks, where they decide what each
user sees.

They are bound once per statement, never per row: the caller's name becomes a string
literal, and a membership test becomes ``g IN ('<group>', …)`` over the caller's groups as
the policy engine holds them (the transitive closure, kept current on every commit and
across replicas), so the database evaluates a constant list instead of looking anything
up. A group name written as a literal is folded like every principal name (NFKC,
lower-case), so ``is_member('Analysts')`` means the group ``analysts``. Every user is a
member of the built-in group ``account users``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlglot import exp

from catalog.sql.errors import refuse
from common.text import fold_identifier
from policy.securables import ACCOUNT_USERS

#: Membership tests, by the (lower-case) name users write.
MEMBERSHIP_FUNCTIONS = frozenset({"is_account_group_member", "is_member"})
#: sqlglot's own nodes for the caller's name.
USER_FUNCTIONS: tuple[type[exp.Expression], ...] = (exp.CurrentUser, exp.SessionUser)


@dataclass(frozen=True)
class SessionContext:
    """Who runs a statement: the values the session functions answer."""

    user: str
    #: Every group the user belongs to, transitively (``account users`` included).
    groups: frozenset[str]

    @classmethod
    def of(cls, user: str, groups: Iterable[str]) -> SessionContext:
        return cls(user, frozenset(groups) | {ACCOUNT_USERS})


def is_session_function(node: exp.Expression) -> bool:
    if isinstance(node, USER_FUNCTIONS):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in MEMBERSHIP_FUNCTIONS


def uses_session_functions(tree: exp.Expression) -> bool:
    return any(is_session_function(node) for node in tree.walk())


def check_session_function(node: exp.Expression) -> None:
    """A membership test takes exactly one argument; the user functions none."""
    if isinstance(node, exp.Anonymous) and len(node.expressions) != 1:
        raise refuse(f"{node.name.lower()}() takes one argument, a group name", node)


def bind_session_functions(tree: exp.Expression, session: SessionContext) -> exp.Expression:
    """Replace every session function of ``tree`` (in place) by its value for ``session``;
    the tree (itself replaced when it is one)."""
    for node in list(tree.walk()):
        if not is_session_function(node):
            continue
        check_session_function(node)
        bound = _value(node, session)
        if node is tree:
            return bound
        node.replace(bound)
    return tree


def _value(node: exp.Expression, session: SessionContext) -> exp.Expression:
    if isinstance(node, USER_FUNCTIONS):
        return exp.Literal.string(session.user)
    group = node.expressions[0]
    if isinstance(group, exp.Literal) and group.is_string:
        return exp.Boolean(this=fold_identifier(group.this).strip() in session.groups)
    # A group computed per row (a column, say): a constant list all the same.
    names = [exp.Literal.string(g) for g in sorted(session.groups)]
    return exp.Paren(this=exp.In(this=exp.Lower(this=group.copy()), expressions=names))
