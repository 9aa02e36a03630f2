"""Where SQL function definitions are kept: one row per FUNCTION securable, in the
caller's unit of work."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property

import sqlglot
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlglot import exp

from catalog.persistence import schema as t
from catalog.records import SecurableRecord

_T = exp.DataType.Type


@dataclass(frozen=True)
class FunctionBody:
    """What a function computes: parameters (name, type) in order, its return type and
    its body, canonical SQL of one expression."""

    parameters: tuple[tuple[str, str], ...]
    return_type: str
    body: str


def data_type(type_text: str) -> exp.DataType:
    """A stored type (``STRING``, ``decimal(10,2)``) as a tree, for comparing and casting."""
    return exp.DataType.build(type_text, dialect="databricks")


@dataclass(frozen=True)
class FunctionDefinition:
    """A stored function: the securable and what it computes."""

    record: SecurableRecord
    body: FunctionBody

    @property
    def full_name(self) -> str:
        return self.record.full_name

    @cached_property
    def tree(self) -> exp.Expression:
        """The body as a tree (each use copies it)."""
        return sqlglot.parse_one(self.body.body, read="databricks")

    @property
    def returns_boolean(self) -> bool:
        return data_type(self.body.return_type).this is _T.BOOLEAN


_NUMBERS = frozenset({_T.TINYINT, _T.SMALLINT, _T.INT, _T.BIGINT, _T.FLOAT, _T.DOUBLE, _T.DECIMAL})
_TEXTS = frozenset({_T.TEXT, _T.VARCHAR, _T.CHAR})


def castable(source: str, target: str) -> bool:
    """Whether a value of type ``source`` may stand for a column of type ``target`` (a
    mask's result): the same type, or both numbers, or both text."""
    a, b = data_type(source), data_type(target)
    return a == b or {a.this, b.this} <= _NUMBERS or {a.this, b.this} <= _TEXTS


class FunctionStore(ABC):
    @abstractmethod
    def put(self, securable_id: str, body: FunctionBody) -> None:
        """Store or replace the definition of a function."""

    @abstractmethod
    def get(self, securable_id: str) -> FunctionBody | None: ...


class SqlFunctionStore(FunctionStore):
    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, securable_id: str, body: FunctionBody) -> None:
        row = self.session.get(t.SqlFunction, securable_id)
        parameters = [list(p) for p in body.parameters]
        if row is None:
            self.session.add(
                t.SqlFunction(
                    securable_id=securable_id,
                    parameters=parameters,
                    return_type=body.return_type,
                    body=body.body,
                )
            )
        else:
            row.parameters, row.return_type, row.body = parameters, body.return_type, body.body
        self.session.flush()

    def get(self, securable_id: str) -> FunctionBody | None:
        row = self.session.execute(
            select(t.SqlFunction.parameters, t.SqlFunction.return_type, t.SqlFunction.body).where(
                t.SqlFunction.securable_id == securable_id
            )
        ).first()
        if row is None:
            return None
        parameters, return_type, body = row
        return FunctionBody(tuple((str(n), str(k)) for n, k in parameters), return_type, body)
