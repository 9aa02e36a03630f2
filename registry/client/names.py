"""Dotted names checked on the client side, before a request is sent."""

from __future__ import annotations

from registry.client.errors import invalid


def split_name(value: str, depth: int, what: str, last: str = "name") -> list[str]:
    """``value`` as its ``depth`` dotted parts, or an error naming the expected shape
    (``last`` names the third part: ``catalog.schema.model`` reads better for a model)."""
    shape = {2: "catalog.schema", 3: f"catalog.schema.{last}"}[depth]
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != depth or not all(parts):
        raise invalid(f"{what} must look like '{shape}', got '{value}'")
    return parts


def two_parts(value: str, what: str) -> tuple[str, str]:
    first, second = split_name(value, 2, what)
    return first, second


def three_parts(value: str, what: str, last: str = "name") -> tuple[str, str, str]:
    first, second, third = split_name(value, 3, what, last)
    return first, second, third
