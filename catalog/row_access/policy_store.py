"""Where ABAC policies are kept: one row per (object defined on, name), in the catalog's
database, in the caller's unit of work. Every write marks the transaction as a namespace
change, so each worker's and replica's bound filters and masks are dropped at commit
(:mod:`catalog.store.namespace_cache`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from catalog.persistence import schema as t
from catalog.store.base import NAMESPACE_CHANGED_INFO

ROW_FILTER = "ROW FILTER"
COLUMN_MASK = "COLUMN MASK"


@dataclass(frozen=True)
class UsingArgument:
    """One ``USING COLUMNS`` entry: a ``MATCH COLUMNS`` alias, or a literal (SQL text)."""

    text: str
    is_literal: bool = False


@dataclass(frozen=True)
class PolicyRecord:
    id: str
    #: The catalog, schema or table it is defined on, and that object's full name and type.
    securable_id: str
    on_name: str
    on_type: str
    name: str
    policy_type: str
    function_name: str
    to: tuple[str, ...]
    except_: tuple[str, ...]
    when: str | None
    match: tuple[tuple[str, str], ...]
    on_column: str | None
    using: tuple[UsingArgument, ...]
    comment: str | None
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str


def shown_fields(p: PolicyRecord) -> tuple[str | None, ...]:
    """How SHOW POLICIES and ``system.information_schema.policies`` show a policy: name, what
    it is on, its kind and function, then TO, EXCEPT, WHEN, MATCH COLUMNS, ON COLUMN and
    USING COLUMNS as text (None when absent), and its comment."""
    return (
        p.name,
        p.on_type,
        p.on_name,
        p.policy_type,
        p.function_name,
        ", ".join(p.to),
        ", ".join(p.except_) or None,
        p.when,
        ", ".join(f"{condition} AS {alias}" for condition, alias in p.match) or None,
        p.on_column,
        ", ".join(u.text for u in p.using) or None,
        p.comment,
    )


class SqlPolicyStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _changed(self) -> None:
        self.session.info[NAMESPACE_CHANGED_INFO] = True

    def put(self, record: PolicyRecord) -> PolicyRecord:
        """Insert, or replace the definition of the policy of that name on that object
        (keeping its id and creation)."""
        row = self.session.scalars(
            select(t.AbacPolicy).where(
                t.AbacPolicy.securable_id == record.securable_id,
                t.AbacPolicy.name == record.name,
            )
        ).first()
        if row is None:
            row = t.AbacPolicy(
                id=record.id or str(uuid.uuid4()),
                securable_id=record.securable_id,
                name=record.name,
                created_at=record.created_at,
                created_by=record.created_by,
            )
            self.session.add(row)
        row.policy_type = record.policy_type
        row.function_name = record.function_name
        row.to_principals = list(record.to)
        row.except_principals = list(record.except_)
        row.when_condition = record.when
        row.match_columns = [list(m) for m in record.match]
        row.on_column = record.on_column
        row.using_columns = [[u.text, u.is_literal] for u in record.using]
        row.comment = record.comment
        row.updated_at, row.updated_by = record.updated_at, record.updated_by
        self.session.flush()
        self._changed()
        return _record(row, record.on_name, record.on_type)

    def remove(self, securable_id: str, name: str) -> bool:
        result = self.session.execute(
            delete(t.AbacPolicy).where(
                t.AbacPolicy.securable_id == securable_id, t.AbacPolicy.name == name
            )
        )
        self._changed()
        return bool(getattr(result, "rowcount", 0))

    def on(self, securable_id: str, on_name: str, on_type: str) -> list[PolicyRecord]:
        rows = self.session.scalars(
            select(t.AbacPolicy)
            .where(t.AbacPolicy.securable_id == securable_id)
            .order_by(t.AbacPolicy.name)
        )
        return [_record(row, on_name, on_type) for row in rows]

    def everywhere(self) -> list[PolicyRecord]:
        """Every policy with the full name of what it is on (policies are few: one per
        rule a team writes, not per table)."""
        rows = self.session.execute(
            select(t.AbacPolicy, t.Securable.full_name, t.Securable.securable_type)
            .join(t.Securable, t.Securable.id == t.AbacPolicy.securable_id)
            .order_by(t.Securable.full_name, t.AbacPolicy.name)
        )
        return [_record(row, full_name, str(kind)) for row, full_name, kind in rows]


def _record(row: t.AbacPolicy, on_name: str, on_type: str) -> PolicyRecord:
    return PolicyRecord(
        id=row.id,
        securable_id=row.securable_id,
        on_name=on_name,
        on_type=on_type,
        name=row.name,
        policy_type=row.policy_type,
        function_name=row.function_name,
        to=tuple(row.to_principals),
        except_=tuple(row.except_principals),
        when=row.when_condition,
        match=tuple((str(c), str(a)) for c, a in row.match_columns),
        on_column=row.on_column,
        using=tuple(UsingArgument(str(text), bool(lit)) for text, lit in row.using_columns),
        comment=row.comment,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )
