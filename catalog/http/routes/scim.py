"""The SCIM 2.0 subset Steward serves (docs/api.md): Users, ServicePrincipals and Groups,
plus ``/Me``.

Any authenticated principal may read; only metastore admins may change principals.
Changes follow RFC 7644 as Databricks serves it: ``PUT`` replaces a resource, ``PATCH``
applies add/remove/replace operations (:mod:`catalog.http.routes.scim_changes`). A
principal's name (``userName``, ``applicationId``, a group's folded ``displayName``) never
changes: grants, ownership and tokens name the principal by it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import ConfigDict, Field, field_validator

from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import AUTHENTICATED, METASTORE_ADMIN, guard
from catalog.http.models import RequestBody, ShortName
from catalog.http.routes.scim_changes import check_not_kept, patch_update, ref_ids, refuse
from catalog.identity import IdentityService, normalize_principal_name
from catalog.principal_changes import PrincipalUpdate, SetEdit, SetOp
from catalog.records import PrincipalKind, PrincipalRecord
from catalog.runtime import Runtime
from common.errors import InvalidParameter

router = APIRouter(prefix="/api/2.0/preview/scim/v2", tags=["SCIM"])

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
SP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_COUNT = 10_000
#: Offsets beyond a 32-bit integer cannot address a principal and overflow some backends.
MAX_INDEX = 2**31 - 1


class ScimRef(RequestBody):
    """A member or group reference; SCIM clients send ``$ref``/``type`` alongside, so extra
    fields are tolerated here (and still checked for storable text)."""

    model_config = ConfigDict(extra="allow")

    value: str
    display: str | None = None


class CreateUser(RequestBody):
    schemas: list[str] | None = None
    userName: ShortName
    displayName: ShortName | None = None
    active: bool = True
    emails: list[dict[str, Any]] | None = None
    groups: list[ScimRef] | None = None


class CreateServicePrincipal(RequestBody):
    schemas: list[str] | None = None
    applicationId: ShortName
    displayName: ShortName | None = None
    active: bool = True
    groups: list[ScimRef] | None = None


class CreateGroup(RequestBody):
    schemas: list[str] | None = None
    displayName: ShortName
    members: list[ScimRef] | None = None


class _Replacing(RequestBody):
    """What every PUT body may carry besides its resource's own attributes.

    Steward keeps no ``roles`` (it answers the one it has, metastore admin) and no
    ``entitlements``: a body may repeat what a GET answered (a read-modify-write round
    trip), and asking for anything else is a 400 saying why.
    """

    schemas: list[str] | None = None
    id: str | None = Field(default=None, max_length=64)
    roles: list[ScimRef] | None = None
    entitlements: list[ScimRef] | None = None


class ReplaceUser(_Replacing):
    """PUT of a user. Left out: ``displayName`` is cleared (shown as the userName);
    ``active`` and ``groups`` keep their value — a replace that forgets ``active`` must not
    bring a deactivated user's tokens back to life, and group membership is a group's to
    change (RFC 7643: a user's ``groups`` are read-only), though given here it is honoured."""

    userName: ShortName | None = None
    displayName: ShortName | None = None
    active: bool | None = None
    emails: list[dict[str, Any]] | None = None
    groups: list[ScimRef] | None = None


class ReplaceServicePrincipal(_Replacing):
    """PUT of a service principal: as :class:`ReplaceUser`, named by ``applicationId``."""

    applicationId: ShortName | None = None
    displayName: ShortName | None = None
    active: bool | None = None
    groups: list[ScimRef] | None = None


class ReplaceGroup(_Replacing):
    """PUT of a group: ``members`` become exactly those given (none when left out, as a
    replace means); ``displayName`` may change its spelling only; ``groups`` as for users."""

    displayName: ShortName | None = None
    members: list[ScimRef] | None = Field(default=None, max_length=10_000)
    groups: list[ScimRef] | None = None


class PatchOperation(RequestBody):
    op: str
    path: str | None = Field(default=None, max_length=1000)
    value: Any = None

    @field_validator("op")
    @classmethod
    def _known_op(cls, value: str) -> str:
        if value.lower() not in ("add", "remove", "replace"):
            raise ValueError(f"op must be add, remove or replace, not {value!r}")
        return value.lower()


class PatchRequest(RequestBody):
    schemas: list[str] | None = None
    Operations: list[PatchOperation] = Field(min_length=1, max_length=1000)


def _user_json(p: PrincipalRecord, identity: IdentityService) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [SP_SCHEMA if p.kind == PrincipalKind.SERVICE_PRINCIPAL else USER_SCHEMA],
        "id": p.id,
        "displayName": p.display_name or p.name,
        "active": p.active,
        "groups": [{"value": g.id, "display": g.name} for g in identity.direct_groups(p.id)],
    }
    if p.kind == PrincipalKind.SERVICE_PRINCIPAL:
        body["applicationId"] = p.name
    else:
        body["userName"] = p.name
        body["emails"] = [{"value": p.name, "primary": True}] if "@" in p.name else []
    if p.is_metastore_admin:
        body["roles"] = [{"value": "metastore_admin"}]
    return body


def _group_json(p: PrincipalRecord, identity: IdentityService) -> dict[str, Any]:
    members = identity.members(p.id)
    return {
        "schemas": [GROUP_SCHEMA],
        "id": p.id,
        "displayName": p.display_name or p.name,
        "members": [
            {
                "value": m.id,
                "display": m.name,
                "$ref": f"{'Groups' if m.kind == PrincipalKind.GROUP else 'Users'}/{m.id}",
            }
            for m in members
        ],
        "groups": [{"value": g.id, "display": g.name} for g in identity.direct_groups(p.id)],
    }


def parse_eq_filter(expression: str | None, attribute: str) -> str | None:
    """Parse the one filter form we support: ``<attribute> eq "value"``."""
    if expression is None or not expression.strip():
        return None
    attr, _, rest = expression.strip().partition(" ")
    op, _, literal = rest.strip().partition(" ")
    literal = literal.strip()
    if attr.lower() != attribute.lower() or op.lower() != "eq":
        raise InvalidParameter(f"unsupported filter '{expression}': use {attribute} eq \"value\"")
    if len(literal) < 2 or literal[0] != '"' or literal[-1] != '"':
        raise InvalidParameter(f"filter value in '{expression}' must be double-quoted")
    return literal[1:-1]


def _list(
    identity: IdentityService,
    kinds: list[str],
    name: str | None,
    start_index: int,
    count: int,
    render: Any,
) -> dict[str, Any]:
    if not 1 <= start_index <= MAX_INDEX:
        raise InvalidParameter(f"startIndex must be between 1 and {MAX_INDEX}")
    if count < 0:
        raise InvalidParameter("count must not be negative")
    items, total = identity.list_principals(kinds, name, start_index, min(count, MAX_COUNT))
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(items),
        "Resources": [render(p, identity) for p in items],
    }


def _group_ids(refs: list[ScimRef] | None) -> list[str]:
    return [r.value for r in refs or []]


# -- users ------------------------------------------------------------------------------

USERS = [PrincipalKind.USER]
SPS = [PrincipalKind.SERVICE_PRINCIPAL]
GROUPS = [PrincipalKind.GROUP]


@router.get("/Me", dependencies=[guard(AUTHENTICATED)], operation_id="scimMe")
def me(caller: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return _user_json(caller.principal, rt.identity)


@router.get("/Users", dependencies=[guard(AUTHENTICATED)], operation_id="listUsers")
def list_users(
    rt: RuntimeDep, filter: str | None = None, startIndex: int = 1, count: int = 100
) -> dict[str, Any]:
    name = parse_eq_filter(filter, "userName")
    return _list(rt.identity, USERS, name, startIndex, count, _user_json)


@router.post(
    "/Users", dependencies=[guard(METASTORE_ADMIN)], status_code=201, operation_id="createUser"
)
def create_user(body: CreateUser, rt: RuntimeDep) -> dict[str, Any]:
    name = normalize_principal_name(body.userName, "userName")
    user = rt.identity.create_principal(
        PrincipalKind.USER,
        name,
        body.displayName or body.userName,
        body.active,
        groups=_group_ids(body.groups),
    )
    return _user_json(user, rt.identity)


@router.get("/Users/{user_id}", dependencies=[guard(AUTHENTICATED)], operation_id="getUser")
def get_user(user_id: str, rt: RuntimeDep) -> dict[str, Any]:
    return _user_json(rt.identity.get_principal(user_id, USERS), rt.identity)


@router.put("/Users/{user_id}", dependencies=[guard(METASTORE_ADMIN)], operation_id="updateUser")
def replace_user(user_id: str, body: ReplaceUser, rt: RuntimeDep) -> dict[str, Any]:
    current = _replaced(rt, user_id, USERS, body)
    name = body.userName if body.userName is not None else current.name
    _check_emails(body.emails, name)
    update = PrincipalUpdate(
        name=body.userName,
        set_display_name=True,
        display_name=body.displayName,
        active=body.active,
        groups=_replaced_groups(body.groups),
    )
    return _user_json(rt.identity.update_principal(current.id, USERS, update), rt.identity)


@router.patch("/Users/{user_id}", dependencies=[guard(METASTORE_ADMIN)], operation_id="patchUser")
def patch_user(user_id: str, body: PatchRequest, rt: RuntimeDep) -> dict[str, Any]:
    return _user_json(_patched(rt, user_id, USERS, body), rt.identity)


def _check_emails(emails: list[dict[str, Any]] | None, user_name: str) -> None:
    """A user's email is its userName (when that is an address): a body may repeat it."""
    wanted = normalize_principal_name(user_name, "userName")
    for email in emails or []:
        value = email.get("value")
        if not isinstance(value, str) or normalize_principal_name(value, "email") != wanted:
            refuse("emails")


@router.delete(
    "/Users/{user_id}",
    dependencies=[guard(METASTORE_ADMIN)],
    status_code=204,
    operation_id="deleteUser",
)
def delete_user(user_id: str, rt: RuntimeDep) -> Response:
    rt.identity.delete_principal(user_id, USERS)
    return Response(status_code=204)


# -- service principals ----------------------------------------------------------------


@router.get(
    "/ServicePrincipals", dependencies=[guard(AUTHENTICATED)], operation_id="listServicePrincipals"
)
def list_service_principals(
    rt: RuntimeDep, filter: str | None = None, startIndex: int = 1, count: int = 100
) -> dict[str, Any]:
    name = parse_eq_filter(filter, "applicationId")
    return _list(rt.identity, SPS, name, startIndex, count, _user_json)


@router.post(
    "/ServicePrincipals",
    dependencies=[guard(METASTORE_ADMIN)],
    status_code=201,
    operation_id="createServicePrincipal",
)
def create_service_principal(body: CreateServicePrincipal, rt: RuntimeDep) -> dict[str, Any]:
    name = normalize_principal_name(body.applicationId, "applicationId")
    sp = rt.identity.create_principal(
        PrincipalKind.SERVICE_PRINCIPAL,
        name,
        body.displayName,
        body.active,
        groups=_group_ids(body.groups),
    )
    return _user_json(sp, rt.identity)


@router.get(
    "/ServicePrincipals/{sp_id}",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="getServicePrincipal",
)
def get_service_principal(sp_id: str, rt: RuntimeDep) -> dict[str, Any]:
    return _user_json(rt.identity.get_principal(sp_id, SPS), rt.identity)


@router.put(
    "/ServicePrincipals/{sp_id}",
    dependencies=[guard(METASTORE_ADMIN)],
    operation_id="updateServicePrincipal",
)
def replace_service_principal(
    sp_id: str, body: ReplaceServicePrincipal, rt: RuntimeDep
) -> dict[str, Any]:
    current = _replaced(rt, sp_id, SPS, body)
    update = PrincipalUpdate(
        name=body.applicationId,
        set_display_name=True,
        display_name=body.displayName,
        active=body.active,
        groups=_replaced_groups(body.groups),
    )
    return _user_json(rt.identity.update_principal(current.id, SPS, update), rt.identity)


@router.patch(
    "/ServicePrincipals/{sp_id}",
    dependencies=[guard(METASTORE_ADMIN)],
    operation_id="patchServicePrincipal",
)
def patch_service_principal(sp_id: str, body: PatchRequest, rt: RuntimeDep) -> dict[str, Any]:
    return _user_json(_patched(rt, sp_id, SPS, body), rt.identity)


@router.delete(
    "/ServicePrincipals/{sp_id}",
    dependencies=[guard(METASTORE_ADMIN)],
    status_code=204,
    operation_id="deleteServicePrincipal",
)
def delete_service_principal(sp_id: str, rt: RuntimeDep) -> Response:
    rt.identity.delete_principal(sp_id, SPS)
    return Response(status_code=204)


# -- groups -----------------------------------------------------------------------------


@router.get("/Groups", dependencies=[guard(AUTHENTICATED)], operation_id="listGroups")
def list_groups(
    rt: RuntimeDep, filter: str | None = None, startIndex: int = 1, count: int = 100
) -> dict[str, Any]:
    name = parse_eq_filter(filter, "displayName")
    return _list(rt.identity, GROUPS, name, startIndex, count, _group_json)


@router.post(
    "/Groups", dependencies=[guard(METASTORE_ADMIN)], status_code=201, operation_id="createGroup"
)
def create_group(body: CreateGroup, rt: RuntimeDep) -> dict[str, Any]:
    name = normalize_principal_name(body.displayName, "displayName")
    group = rt.identity.create_principal(
        PrincipalKind.GROUP, name, body.displayName, members=_group_ids(body.members)
    )
    return _group_json(group, rt.identity)


@router.get("/Groups/{group_id}", dependencies=[guard(AUTHENTICATED)], operation_id="getGroup")
def get_group(group_id: str, rt: RuntimeDep) -> dict[str, Any]:
    return _group_json(rt.identity.get_principal(group_id, GROUPS), rt.identity)


@router.delete(
    "/Groups/{group_id}",
    dependencies=[guard(METASTORE_ADMIN)],
    status_code=204,
    operation_id="deleteGroup",
)
def delete_group(group_id: str, rt: RuntimeDep) -> Response:
    rt.identity.delete_principal(group_id, GROUPS)
    return Response(status_code=204)


@router.put("/Groups/{group_id}", dependencies=[guard(METASTORE_ADMIN)], operation_id="updateGroup")
def replace_group(group_id: str, body: ReplaceGroup, rt: RuntimeDep) -> dict[str, Any]:
    current = _replaced(rt, group_id, GROUPS, body)
    update = PrincipalUpdate(
        set_display_name=body.displayName is not None,
        display_name=body.displayName,
        members=(SetEdit(SetOp.REPLACE, ref_ids(body.members)),),
        groups=_replaced_groups(body.groups),
    )
    group = rt.identity.update_principal(current.id, GROUPS, update)
    return _group_json(group, rt.identity)


@router.patch(
    "/Groups/{group_id}", dependencies=[guard(METASTORE_ADMIN)], operation_id="patchGroup"
)
def patch_group(group_id: str, body: PatchRequest, rt: RuntimeDep) -> dict[str, Any]:
    group = _patched(rt, group_id, GROUPS, body)
    return _group_json(group, rt.identity)


# -- changes, shared by the three resources --------------------------------------------


def _patched(
    rt: Runtime, principal_id: str, kinds: list[str], body: PatchRequest
) -> PrincipalRecord:
    operations = [(o.op, o.path, o.value) for o in body.Operations]
    update = patch_update(kinds[0], principal_id, operations)
    return rt.identity.update_principal(principal_id, kinds, update)


def _replaced(
    rt: Runtime, principal_id: str, kinds: list[str], body: _Replacing
) -> PrincipalRecord:
    """The principal a PUT replaces, once what the body may not change is checked."""
    current = rt.identity.get_principal(principal_id, kinds)
    if body.id is not None and body.id != current.id:
        raise InvalidParameter(f"the body's id '{body.id}' is not the path's '{current.id}'")
    check_not_kept("entitlements", body.entitlements)
    if body.roles is not None and {r.value for r in body.roles} != _roles(current):
        refuse("roles")
    return current


def _replaced_groups(refs: list[ScimRef] | None) -> tuple[SetEdit, ...]:
    return () if refs is None else (SetEdit(SetOp.REPLACE, ref_ids(refs)),)


def _roles(p: PrincipalRecord) -> set[str]:
    return {"metastore_admin"} if p.is_metastore_admin else set()
