"""Name rules (docs/api.md, names): a securable name is folded to one spelling at the
boundary (NFKC, lower-case: :func:`common.text.fold_identifier`, whose docstring says why
NFKC), holds no dots, spaces, slashes or control characters in a part, and a dotted full
name has the right depth.

Names go through :func:`normalize_part` where they arrive (the routes' body fields, path
names through :func:`split_full_name`, SQL statements through the namespace and the
authorizer, which split and normalize the names the executor hands them, OpenLineage
datasets in a catalog namespace, the grant store's lookups, SQL's table references), so a
lookup of any spelling finds the stored one.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from common.errors import InvalidParameter
from common.text import describe_character, fold_identifier, refuse_controls, shown
from policy.securables import SecurableType

MAX_NAME_LENGTH = 255
#: Longer than this before folding cannot fold to MAX_NAME_LENGTH characters but in
#: contrived text (more than three combining marks a letter); refused unread.
_MAX_RAW_LENGTH = 4 * MAX_NAME_LENGTH
SYSTEM_CATALOG = "system"
_FORBIDDEN = {".", "/"}


def normalize_part(value: str, what: str = "name") -> str:
    """Validate one name part and return its stored spelling (folded: NFKC, lower-case).

    Control and invisible characters are refused as sent (their position is the
    sender's); the other rules apply to the folded name, so a look-alike of a forbidden
    character (a fullwidth ``．``, a no-break space) is refused like the character itself.
    """
    if not isinstance(value, str) or value == "":
        raise InvalidParameter(f"{what} must be a non-empty string")
    if len(value) > _MAX_RAW_LENGTH:
        raise InvalidParameter(
            f"{what} {shown(value, 40)} is longer than {MAX_NAME_LENGTH} characters"
        )
    refuse_controls(value, what)
    folded = fold_identifier(value)
    if len(folded) > MAX_NAME_LENGTH:
        raise InvalidParameter(
            f"{what} {shown(value, 40)} is longer than {MAX_NAME_LENGTH} characters"
        )
    found = _forbidden_in(value, folded)
    if found:
        raise InvalidParameter(
            f"{what} {shown(value)} is not valid: it may not contain '.', space, '/' "
            f"or control characters (found {found})"
        )
    return folded


def forbidden_character(folded: str) -> str | None:
    """The first character of a folded part that no part may hold ('.', '/', a space
    of any kind), or None; control characters are :func:`refuse_controls`'s."""
    for ch in folded:
        if ch in _FORBIDDEN or unicodedata.category(ch) == "Zs":
            return ch
    return None


def _forbidden_in(value: str, folded: str) -> str | None:
    """How to name the forbidden character behind ``folded``: as the existing message
    did for the character itself ('.', space), or by code point and position when it is
    a look-alike that folds to one."""
    if forbidden_character(folded) is None:
        return None
    for position, ch in enumerate(value, start=1):
        target = forbidden_character(fold_identifier(ch))
        if target is None:
            continue
        plain = "space" if unicodedata.category(target) == "Zs" else repr(target)
        if ch == target:
            return plain
        return f"{describe_character(ch)} at position {position}, read as {plain}"
    return repr(forbidden_character(folded))


def split_full_name(full_name: str, securable_type: SecurableType) -> list[str]:
    """Split and normalize a dotted name, checking it has exactly the right number of parts.

    Each part is checked as the Unity Catalog field it is (``catalog_name``,
    ``schema_name``, ``name``: :func:`part_fields`), so an error names the field even when
    the name was joined from a request's fields before it got here (a route guard's).
    """
    fields = part_fields(securable_type)
    if not isinstance(full_name, str) or not full_name:
        raise InvalidParameter(f"{securable_type.value.lower()} name must be a non-empty string")
    parts = full_name.split(".")
    depth = securable_type.depth
    if len(parts) != depth:
        shape = ".".join(["catalog", "schema", "name"][:depth]) if depth <= 3 else "name"
        field = f"{fields[0]} " if len(fields) == 1 else ""  # a one-part name is one field
        raise InvalidParameter(
            f"{field}{shown(full_name)} is not a valid {securable_type.value.lower()} name: "
            f"expected {depth} part(s) like '{shape}'"
        )
    return [normalize_part(part, field) for part, field in zip(parts, fields, strict=True)]


def part_fields(securable_type: SecurableType) -> tuple[str, ...]:
    """The request field each part of a full name comes from, in Unity Catalog's words."""
    if securable_type is SecurableType.SERVING_ENDPOINT:
        return ("name",)
    if securable_type is SecurableType.MODEL:  # a version's model is its ``model_name``
        return ("catalog_name", "schema_name", "model_name")
    return _PART_FIELDS[securable_type.depth]


_PART_FIELDS: dict[int, tuple[str, ...]] = {
    0: (),
    1: ("catalog_name",),
    2: ("catalog_name", "schema_name"),
    3: ("catalog_name", "schema_name", "name"),
}


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
