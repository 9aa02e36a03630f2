"""The SCIM 2.0 subset Steward serves (docs/api.md): Users, ServicePrincipals and Groups,
plus ``/Me``.

Any authenticated principal may read; only metastore admins may change principals.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import ConfigDict, Field

from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import AUTHENTICATED, METASTORE_ADMIN, guard
from catalog.http.models import RequestBody, ShortName
from catalog.identity import IdentityService, normalize_principal_name
from catalog.records import PrincipalKind, PrincipalRecord
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


class PatchOperation(RequestBody):
    op: Literal["add", "remove", "replace", "Add", "Remove", "Replace"]
    path: str | None = None
    value: Any = None


class PatchRequest(RequestBody):
    schemas: list[str] | None = None
    Operations: list[PatchOperation] = Field(min_length=1)


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


def _member_ids_from_path(path: str) -> list[str]:
    """``members[value eq "ID"]`` → ``["ID"]``."""
    prefix = "members[value eq "
    if not (path.startswith(prefix) and path.endswith("]")):
        raise InvalidParameter(f"unsupported PATCH path '{path}': use members[value eq \"id\"]")
    literal = path[len(prefix) : -1].strip()
    if len(literal) < 2 or literal[0] != '"' or literal[-1] != '"':
        raise InvalidParameter(f"member id in PATCH path '{path}' must be double-quoted")
    return [literal[1:-1]]


def _member_ids_from_value(value: Any) -> list[str]:
    members = value.get("members") if isinstance(value, dict) else value
    if not isinstance(members, list) or not all(
        isinstance(m, dict) and isinstance(m.get("value"), str) for m in members
    ):
        raise InvalidParameter('PATCH value must be {"members": [{"value": "<id>"}, …]}')
    return [m["value"] for m in members]


@router.patch(
    "/Groups/{group_id}", dependencies=[guard(METASTORE_ADMIN)], operation_id="patchGroup"
)
def patch_group(group_id: str, body: PatchRequest, rt: RuntimeDep) -> dict[str, Any]:
    add: list[str] = []
    remove: list[str] = []
    for op in body.Operations:
        kind = op.op.lower()
        if kind == "add" or (kind == "replace" and op.path in (None, "members")):
            add.extend(_member_ids_from_value(op.value))
        elif kind == "remove":
            if op.path and op.path != "members":
                remove.extend(_member_ids_from_path(op.path))
            else:
                remove.extend(_member_ids_from_value(op.value))
        else:
            raise InvalidParameter(f"unsupported PATCH operation '{op.op}' on '{op.path}'")
    group = rt.identity.change_members(group_id, add=add, remove=remove)
    return _group_json(group, rt.identity)
