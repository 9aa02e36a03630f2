"""Values of ``INSERT … VALUES`` rows that are constants, computed without the database.

Most rows of ``INSERT INTO t VALUES (…), (…)`` are literals: numbers, strings, NULL,
booleans, typed literals (``DATE '2026-01-02'``, ``TIMESTAMP '2026-01-02 10:00:00Z'``),
``X'00ff'`` binary and ``array(…)`` of those. They are turned into Python values here, so
a batch of thousands of rows costs no query; :func:`common.values.check_rows` then
checks them against the columns like every other way rows come in. A row holding
anything else (``1 + 1``, ``upper('x')``, ``current_timestamp()``) is computed by a
read-only query through the compiler instead (:mod:`catalog.sql.insert`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

from common.values import BadValue, parse_timestamp


class NotConstant(Exception):
    """The expression needs the database to compute."""


_T = exp.DataType.Type
_INTEGER_TYPES = frozenset({_T.TINYINT, _T.SMALLINT, _T.INT, _T.BIGINT})
_FRACTION_TYPES = frozenset({_T.FLOAT, _T.DOUBLE})
_TEXT_TYPES = frozenset({_T.TEXT, _T.VARCHAR, _T.CHAR})


def constant(node: exp.Expression) -> Any:
    """The Python value of a constant expression; raises :class:`NotConstant`."""
    if isinstance(node, exp.Paren):
        return constant(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else _number(node.this)
    if isinstance(node, exp.Neg):
        value = constant(node.this)
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return -value
        raise NotConstant
    if isinstance(node, exp.HexString):
        try:
            return bytes.fromhex(node.this)
        except ValueError:
            raise NotConstant from None
    if isinstance(node, exp.Array):
        return [constant(item) for item in node.expressions]
    if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
        return _cast(constant(node.this), node.to)
    raise NotConstant


def _number(text: str) -> int | Decimal | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return Decimal(text)
    except InvalidOperation:
        raise NotConstant from None


def _cast(value: Any, to: exp.DataType) -> Any:
    """The casts a typed literal is made of; any other cast is left to the database."""
    if value is None:
        return None
    kind = to.this
    try:
        if kind is _T.DATE and isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                return parse_timestamp(value).date()
        if kind is _T.TIMESTAMPNTZ and isinstance(value, str):
            return parse_timestamp(value).replace(tzinfo=None)
        if kind in (_T.TIMESTAMP, _T.TIMESTAMPTZ, _T.TIMESTAMPLTZ) and isinstance(value, str):
            return parse_timestamp(value)
    except BadValue:
        raise NotConstant from None
    if kind in _INTEGER_TYPES and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in _FRACTION_TYPES and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return float(value)
    if kind is _T.DECIMAL and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    if kind in _TEXT_TYPES and isinstance(value, str):
        return value
    raise NotConstant
