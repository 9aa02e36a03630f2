"""Text every backend can store: PostgreSQL refuses NUL characters and no database can
encode a lone UTF-16 surrogate, so both are refused up front as bad input."""

from __future__ import annotations

from typing import Any

from common.errors import InvalidParameter

#: Column widths of the stores; requests are checked against them before any write.
NAME_LENGTH = 255
TYPE_TEXT_LENGTH = 1000
SHORT_TEXT_LENGTH = 64


def storable_problem(value: str) -> str | None:
    for ch in value:
        if ch == "\x00":
            return "contains a NUL character"
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return "contains an unpaired surrogate"
    return None


def check_storable(value: Any, what: str) -> None:
    """Raise if ``value`` (or any string nested in it) cannot be stored."""
    if isinstance(value, str):
        problem = storable_problem(value)
        if problem:
            raise InvalidParameter(f"'{what}' {problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, what)
            check_storable(item, f"{what}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            check_storable(item, what)
