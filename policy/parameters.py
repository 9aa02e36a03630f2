"""Binding named ``:parameters`` of a statement tree to values.

``parameter_names(node) -> list[str]`` (sorted), ``bind_parameters(node, values) -> exp.Expression``
    Named ``:parameters`` may stand wherever a literal may (SELECT expressions, COMMENT
    values). Binding replaces ``exp.Placeholder`` nodes with literal nodes in a copy of the
    tree; parameter values are never spliced into SQL text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from sqlglot import exp


class ParameterError(Exception):
    """A named parameter is missing a value, or has one SQL cannot carry as a literal."""


def parameter_names(node: exp.Expression) -> list[str]:
    """Names of the ``:parameters`` in a tree, sorted, without duplicates.

    Sorted because a tree's argument order is not source order; the executor only needs
    the set, to report missing and unexpected parameters deterministically.
    """
    return sorted({placeholder.name for placeholder in node.find_all(exp.Placeholder)})


def _literal(name: str, value: object) -> exp.Expression:
    if isinstance(value, exp.Expression):
        return value.copy()
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if not finite:
            raise ParameterError(f"parameter :{name} is not a finite number")
        literal = exp.Literal.number(abs(value))
        return exp.Neg(this=literal) if value < 0 else literal
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise ParameterError(f"parameter :{name} has an unsupported value type {type(value).__name__}")


def bind_parameters(node: exp.Expression, values: Mapping[str, object]) -> exp.Expression:
    """A copy of ``node`` with every ``:parameter`` replaced by a literal node.

    Values may be ``str``, ``int``, finite ``float``/``Decimal``, ``bool``, ``None`` or a
    ready ``exp.Expression`` (e.g. a typed cast built from the API's ``type`` field). The
    replacement happens in the tree, so a value can never change the statement's shape.
    """

    def replace(current: exp.Expr) -> exp.Expr:
        if isinstance(current, exp.Placeholder):
            name = current.name
            if name not in values:
                raise ParameterError(f"no value given for parameter :{name}")
            return _literal(name, values[name])
        return current

    return node.transform(replace)
