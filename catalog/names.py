"""Name rules (docs/api.md, names): case-insensitive, stored lower-case, no dots, spaces,
slashes or control characters in a part, and dotted full names of the right depth."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from common.errors import InvalidParameter
from policy.securables import SecurableType

MAX_NAME_LENGTH = 255
SYSTEM_CATALOG = "system"
_FORBIDDEN = {".", " ", "/"}


def normalize_part(value: str, what: str = "name") -> str:
    """Validate one name part and return its stored (lower-case) spelling."""
    if not isinstance(value, str) or value == "":
        raise InvalidParameter(f"{what} must be a non-empty string")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidParameter(
            f"{what} '{value[:40]}…' is longer than {MAX_NAME_LENGTH} characters"
        )
    for ch in value:
        if ch in _FORBIDDEN or unicodedata.category(ch).startswith("C"):
            shown = repr(ch) if ch != " " else "space"
            raise InvalidParameter(
                f"{what} '{value}' is not valid: it may not contain '.', space, '/' "
                f"or control characters (found {shown})"
            )
    return value.lower()


def split_full_name(full_name: str, securable_type: SecurableType) -> list[str]:
    """Split and normalize a dotted name, checking it has exactly the right number of parts."""
    if not isinstance(full_name, str) or not full_name:
        raise InvalidParameter(f"{securable_type.value.lower()} name must be a non-empty string")
    parts = full_name.split(".")
    depth = securable_type.depth
    if len(parts) != depth:
        shape = ".".join(["catalog", "schema", "name"][:depth]) if depth <= 3 else "name"
        raise InvalidParameter(
            f"'{full_name}' is not a valid {securable_type.value.lower()} name: "
            f"expected {depth} part(s) like '{shape}'"
        )
    return [normalize_part(p) for p in parts]


def normalize_full_name(full_name: str, securable_type: SecurableType) -> str:
    """:func:`split_full_name` joined again; remembered for strings, as serving normalizes
    the same few names (its feature tables) on every request."""
    if not isinstance(full_name, str):
        split_full_name(full_name, securable_type)  # raises the error that names the problem
    return _normalized_full_name(full_name, securable_type)


@lru_cache(maxsize=4096)
def _normalized_full_name(full_name: str, securable_type: SecurableType) -> str:
    return ".".join(split_full_name(full_name, securable_type))


def join(*parts: str) -> str:
    return ".".join(parts)
