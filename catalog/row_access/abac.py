"""ABAC policies: row filters and column masks that reach tables through governed tags.

A policy is defined on a catalog, schema or table (``CREATE POLICY p ON SCHEMA c.s …``) and
reaches every table under it — including tables created later — whose tags satisfy its
``WHEN`` condition; tags set on the catalog or schema count as the table's own. Its
``MATCH COLUMNS`` conditions pick columns by their tags and name them with aliases; a row
filter passes the ``USING COLUMNS`` to its function, a column mask masks every column its
``ON COLUMN`` alias matched (passing the ``USING COLUMNS`` after it). A policy reaches a
caller who is, or belongs (transitively) to, one of its ``TO`` principals and to none of
its ``EXCEPT`` principals. A policy whose MATCH COLUMNS find no column does not apply to
that table, as on Databricks.

This module answers *which* policies reach a table (:class:`PolicyIndex`, kept per
namespace generation: any policy or tag change anywhere moves it) and evaluates tag
conditions. Binding them to a caller is :mod:`catalog.row_access.table_access`'s, beside
the table's own filter and masks, so every read path applies both alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlglot import exp

from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from catalog.records import TableRecord
from catalog.row_access.policy_store import PolicyRecord, SqlPolicyStore
from catalog.sql.session_functions import ACCOUNT_USERS, SessionContext
from catalog.tags.store import OBJECT, SqlTagStore
from common.errors import InvalidState
from common.text import fold_identifier
from policy.dialect import SqlSyntaxError, parse_statement
from policy.securables import SecurableType

#: One object's tags as (key, value) pairs (value None for a key-only tag).
Tags = frozenset[tuple[str, str | None]]


@dataclass(frozen=True)
class TablePolicies:
    """The policies that reach one table (their WHEN holds), and the tags their MATCH
    COLUMNS are evaluated against."""

    table: str
    policies: tuple[PolicyRecord, ...]
    #: Lower-cased column name → the column's tags.
    column_tags: Mapping[str, Tags]


def applies_to(policy: PolicyRecord, session: SessionContext) -> bool:
    """Whether the caller is among the policy's TO principals and none of its EXCEPT."""
    names = session.groups | {session.user}

    def named(principals: tuple[str, ...]) -> bool:
        return any(_principal(p) in names for p in principals)

    return named(policy.to) and not named(policy.except_)


def _principal(name: str) -> str:
    folded = fold_identifier(name).strip()
    return ACCOUNT_USERS if folded == ACCOUNT_USERS else folded


@lru_cache(maxsize=1024)
def _condition(sql: str) -> exp.Expression:
    """A stored tag condition as a tree (it was checked when the policy was created)."""
    try:
        node = parse_statement(f"SELECT 1 WHERE {sql}")
    except SqlSyntaxError as err:  # a stored condition is canonical SQL; never expected
        raise InvalidState(f"a policy's tag condition cannot be read: {sql}") from err
    where = node.args["where"]
    return where.this


def condition_holds(sql: str, tags: Tags) -> bool:
    """Evaluate ``has_tag('k')`` / ``has_tag_value('k', 'v')`` with AND, OR, NOT over an
    object's tags. Keys and values compare exactly, as tags are stored."""

    def holds(node: exp.Expression) -> bool:
        if isinstance(node, exp.Paren):
            return holds(node.this)
        if isinstance(node, exp.Not):
            return not holds(node.this)
        if isinstance(node, exp.And):
            return holds(node.left) and holds(node.right)
        if isinstance(node, exp.Or):
            return holds(node.left) or holds(node.right)
        if isinstance(node, exp.Anonymous):
            values = [a.name for a in node.expressions]
            if node.name.lower() == "has_tag" and len(values) == 1:
                return any(key == values[0] for key, _ in tags)
            if node.name.lower() == "has_tag_value" and len(values) == 2:
                return (values[0], values[1]) in tags
        raise InvalidState(f"a policy's tag condition is not a tag test: {sql}")

    return holds(_condition(sql))


def covers(policy: PolicyRecord, table_full_name: str) -> bool:
    """Whether a policy's object is the table or one of its containers."""
    if policy.on_type == SecurableType.TABLE:
        return policy.on_name == table_full_name
    return table_full_name.startswith(policy.on_name + ".")


class PolicyIndex:
    """Every policy, and the tags of the tables policies reach, read once per namespace
    generation (``generation`` as :class:`catalog.row_access.table_access.RowAccessPolicies`
    takes it; None: nothing kept). With no policy anywhere, a table costs one comparison."""

    def __init__(self, db: Database, generation: Callable[[], int | None]) -> None:
        self.db = db
        self.generation = generation
        self._lock = threading.Lock()
        self._kept_generation: int | None = None
        self._policies: tuple[PolicyRecord, ...] | None = None
        self._tables: dict[str, TablePolicies | None] = {}

    def for_table(self, table: TableRecord) -> TablePolicies | None:
        generation = self.generation()
        with self._lock:
            if generation is None or generation != self._kept_generation:
                self._kept_generation, self._policies, self._tables = generation, None, {}
            policies, key = self._policies, table.securable.id
            if policies is not None and key in self._tables:
                return self._tables[key]
        if policies is None:
            with self.db.read() as session:
                policies = tuple(SqlPolicyStore(session).everywhere())
        found = self._reaching(table, policies) if policies else None
        with self._lock:
            if generation is not None and generation == self._kept_generation:
                self._policies = policies
                if len(self._tables) > 10_000:
                    self._tables.clear()
                self._tables[key] = found
        return found

    def _reaching(
        self, table: TableRecord, policies: tuple[PolicyRecord, ...]
    ) -> TablePolicies | None:
        full_name = table.securable.full_name
        covering = [p for p in policies if covers(p, full_name)]
        if not covering:
            return None
        catalog, schema, _ = full_name.split(".")
        with self.db.read() as session:
            ids = dict(
                session.execute(
                    select(t.Securable.full_name, t.Securable.id).where(
                        t.Securable.full_name.in_([catalog, f"{catalog}.{schema}"]),
                        t.Securable.securable_type.in_(
                            [SecurableType.CATALOG.value, SecurableType.SCHEMA.value]
                        ),
                    )
                ).all()
            )
            records = SqlTagStore(session).on_objects([*ids.values(), table.securable.id])
        object_tags: set[tuple[str, str | None]] = set()
        column_tags: dict[str, set[tuple[str, str | None]]] = {}
        for record in records:
            pair = (record.key, record.value)
            if record.column_name == OBJECT:
                object_tags.add(pair)
            elif record.securable_id == table.securable.id:
                column_tags.setdefault(record.column_name.lower(), set()).add(pair)
        tags = frozenset(object_tags)
        reaching = tuple(p for p in covering if p.when is None or condition_holds(p.when, tags))
        if not reaching:
            return None
        return TablePolicies(
            full_name, reaching, {name: frozenset(found) for name, found in column_tags.items()}
        )
