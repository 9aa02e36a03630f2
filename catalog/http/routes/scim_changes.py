"""SCIM 2.0 PATCH operations (RFC 7644 §3.5.2) as the :class:`PrincipalUpdate` they mean.

What an operation may name, per resource (docs/clients.md, "SCIM changes"):

- ``members`` (groups) and ``groups`` (any principal: the groups it is a direct member
  of): ``add`` adds the values' ids, ``remove`` removes them — or all of them without a
  value, or the one a filter path ``members[value eq "id"]`` names — and ``replace`` makes
  the set exactly the values (none: empty; the Databricks SDK leaves an empty value out
  of the request altogether).
- ``displayName``: ``add``/``replace`` sets it, ``remove`` clears it (a group's is its name:
  only its spelling may change).
- ``active`` (users, service principals): ``true``/``false``, also as the strings and as
  Databricks' ``[{"value": "false"}]``.
- ``userName``/``applicationId``: may be sent, but only as the name the principal has.

Without a ``path`` the value is an object of those attributes, each applied with the
operation's ``op``. Anything else (``roles``, ``entitlements``, ``emails``, ``name``,
``externalId``) is a 400 saying why, never a silent success. Attribute names are matched
without regard to case (RFC 7643 §2.1), and may carry their schema's URN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from catalog.principal_changes import PrincipalUpdate, SetEdit, SetOp
from catalog.records import PrincipalKind
from common.errors import InvalidParameter

_FILTER = re.compile(r'^(members|groups)\s*\[\s*value\s+eq\s+"([^"]*)"\s*\]$', re.IGNORECASE)
_UNQUOTED = re.compile(r"^(members|groups)\s*\[\s*value\s+eq\s+[^\"]*\]$", re.IGNORECASE)
_SCHEMA_PREFIXES = (
    "urn:ietf:params:scim:schemas:core:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:group:",
    "urn:ietf:params:scim:schemas:core:2.0:serviceprincipal:",
)
#: Attributes Steward does not keep, and why a change to them cannot be honoured.
_NOT_KEPT = {
    "roles": "Steward's one role, metastore admin, is not assigned through SCIM",
    "entitlements": "Steward has no workspace entitlements; access is granted with "
    "privileges (GRANT, or the permissions APIs)",
    "emails": "a user's email is its userName",
    "name": "Steward keeps no given or family name; use displayName",
    "externalid": "Steward keeps no externalId",
}


@dataclass
class _Draft:
    """The update being assembled, operation by operation."""

    kind: str
    principal_id: str
    name: str | None = None
    set_display_name: bool = False
    display_name: str | None = None
    active: bool | None = None
    members: list[SetEdit] = field(default_factory=list)
    groups: list[SetEdit] = field(default_factory=list)

    def done(self) -> PrincipalUpdate:
        return PrincipalUpdate(
            name=self.name,
            set_display_name=self.set_display_name,
            display_name=self.display_name,
            active=self.active,
            members=tuple(self.members),
            groups=tuple(self.groups),
        )


def patch_update(
    kind: str, principal_id: str, operations: list[tuple[str, str | None, Any]]
) -> PrincipalUpdate:
    """The update ``operations`` (``(op, path, value)``, in order) make to the ``kind``
    principal ``principal_id``."""
    draft = _Draft(kind, principal_id)
    for op, path, value in operations:
        _apply(draft, op.lower(), path, value)
    return draft.done()


def ref_ids(refs: list[Any] | None) -> tuple[str, ...]:
    """Ids of ``[{"value": id}, …]`` references."""
    return tuple(getattr(r, "value", r) for r in refs or [])


def check_not_kept(attribute: str, value: Any) -> None:
    """A replacing body may repeat what Steward answers for an attribute it does not keep
    (no entitlements); asking for anything else is refused, naming why."""
    if value:
        refuse(attribute)


def refuse(attribute: str) -> NoReturn:
    raise InvalidParameter(f"'{attribute}' cannot be set: {_NOT_KEPT[attribute.lower()]}")


def _apply(draft: _Draft, op: str, path: str | None, value: Any) -> None:
    if path is None or not path.strip():
        if op == "remove":
            raise InvalidParameter("a remove operation needs a path")
        if not isinstance(value, dict) or not value:
            raise InvalidParameter(
                f"a {op} operation without a path needs an object of attributes as its value"
            )
        for attribute, item in value.items():
            bare = _bare(str(attribute))
            if bare.lower() in ("schemas", "meta"):
                continue  # about the message, not the principal
            if bare.lower() == "id":
                if item != draft.principal_id:
                    raise InvalidParameter(f"'id' cannot be changed (it is {draft.principal_id})")
                continue
            _attribute(draft, op, bare, None, item)
        return
    bare = _bare(path)
    if _UNQUOTED.match(bare):
        raise InvalidParameter(f"the id in PATCH path '{bare}' must be double-quoted")
    matched = _FILTER.match(bare)
    if matched:
        _attribute(draft, op, matched.group(1).lower(), matched.group(2), value)
    else:
        _attribute(draft, op, bare.lower(), None, value)


def _bare(path: str) -> str:
    stripped = path.strip()
    lowered = stripped.lower()
    for prefix in _SCHEMA_PREFIXES:
        if lowered.startswith(prefix):
            return stripped[len(prefix) :]
    return stripped


def _attribute(draft: _Draft, op: str, attribute: str, one: str | None, value: Any) -> None:
    attribute = attribute.lower()
    if attribute in ("members", "groups"):
        edits = _set_edits(op, attribute, one, value)
        if attribute == "members":
            if draft.kind != PrincipalKind.GROUP:
                raise InvalidParameter("only groups have members")
            draft.members.extend(edits)
        else:
            draft.groups.extend(edits)
    elif attribute == "displayname":
        if op == "remove":
            draft.set_display_name, draft.display_name = True, None
        else:
            draft.set_display_name, draft.display_name = True, _text(value, "displayName")
    elif attribute == "active" and draft.kind != PrincipalKind.GROUP:
        if op == "remove":
            raise InvalidParameter("'active' cannot be removed; replace it with true or false")
        draft.active = _boolean(value)
    elif attribute in ("username", "applicationid") and _names_principal(draft.kind, attribute):
        if op == "remove":
            raise InvalidParameter(f"'{attribute}' cannot be removed")
        draft.name = _text(value, attribute)
    elif attribute in _NOT_KEPT:
        raise InvalidParameter(f"'{attribute}' cannot be changed: {_NOT_KEPT[attribute]}")
    else:
        raise InvalidParameter(
            f"unsupported PATCH path '{attribute}' for a {draft.kind.lower().replace('_', ' ')}"
        )


def _names_principal(kind: str, attribute: str) -> bool:
    return (kind, attribute) in (
        (PrincipalKind.USER, "username"),
        (PrincipalKind.SERVICE_PRINCIPAL, "applicationid"),
    )


def _set_edits(op: str, attribute: str, one: str | None, value: Any) -> list[SetEdit]:
    if one is not None:  # members[value eq "id"]
        if op == "remove":
            return [SetEdit(SetOp.REMOVE, (one,))]
        if op == "replace":  # that one reference, replaced by the value's
            return [SetEdit(SetOp.REMOVE, (one,)), SetEdit(SetOp.ADD, _ids(value, attribute))]
        raise InvalidParameter(f"'add' takes the path '{attribute}', not a filter")
    if op == "add":
        if value is None:
            raise InvalidParameter(f"adding to '{attribute}' needs a value")
        return [SetEdit(SetOp.ADD, _ids(value, attribute))]
    if op == "remove":
        if value is None:  # RFC 7644 §3.5.2.2: no filter, no value: all of them
            return [SetEdit(SetOp.REPLACE, ())]
        return [SetEdit(SetOp.REMOVE, _ids(value, attribute))]
    return [SetEdit(SetOp.REPLACE, _ids(value, attribute) if value is not None else ())]


def _ids(value: Any, attribute: str) -> tuple[str, ...]:
    """``[{"value": id}, …]``, a single ``{"value": id}``, or ``{attribute: [...]}``."""
    items = value.get(attribute) if isinstance(value, dict) and attribute in value else value
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"] for i in items
    ):
        raise InvalidParameter(f'the value of {attribute} must be [{{"value": "<id>"}}, …]')
    return tuple(i["value"] for i in items)


def _text(value: Any, attribute: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter(f"'{attribute}' must be a non-empty string")
    return value


def _boolean(value: Any) -> bool:
    """``false``, ``"false"`` or Databricks' ``[{"value": "false"}]``."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0].get("value")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidParameter(f"'active' must be true or false, not {value!r}")
