"""``/api/2.1/unity-catalog/permissions/{securable_type}/{full_name}`` (UC Grants API) and
``effective-permissions`` (Databricks' ``grants.get_effective``).

Privileges are taken in either spelling (``USE CATALOG`` or ``USE_CATALOG``) and answered
in the one the caller's client parses (:mod:`catalog.http.client_dialect`).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from catalog.access.grants import Inherited, PrivilegeChange
from catalog.http.client_dialect import Dialect, DialectDep, privilege_name, privilege_names
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.direct import DIRECT
from catalog.http.guards import guard, securable_type_from_path
from catalog.http.models import RequestBody, ShortName
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["Grants"])
PATH = "/permissions/{securable_type}/{full_name}"
EFFECTIVE_PATH = "/effective-permissions/{securable_type}/{full_name}"
BY_NAME = NameFrom.path("full_name")


class PrivilegeAssignment(BaseModel):
    principal: str
    privileges: list[str]


class PermissionsList(BaseModel):
    privilege_assignments: list[PrivilegeAssignment]


class EffectivePrivilege(BaseModel):
    privilege: str
    #: The container the privilege was granted on (``CATALOG``, ``SCHEMA``, ``METASTORE``);
    #: absent when it was granted on the object itself.
    inherited_from_type: str | None = None
    inherited_from_name: str | None = None


class EffectivePrivilegeAssignment(BaseModel):
    principal: str
    privileges: list[EffectivePrivilege]


class EffectivePermissionsList(BaseModel):
    privilege_assignments: list[EffectivePrivilegeAssignment]


class PermissionsChange(RequestBody):
    principal: ShortName
    add: list[ShortName] = Field(default_factory=list)
    remove: list[ShortName] = Field(default_factory=list)


class UpdatePermissions(RequestBody):
    changes: list[PermissionsChange] = Field(max_length=1000)


def _listing(assignments: list[tuple[str, list[str]]], dialect: Dialect) -> PermissionsList:
    return PermissionsList(
        privilege_assignments=[
            PrivilegeAssignment(principal=p, privileges=privilege_names(privs, dialect))
            for p, privs in assignments
        ]
    )


def _effective(held: Inherited, dialect: Dialect) -> EffectivePrivilege:
    return EffectivePrivilege(
        privilege=privilege_name(held.privilege, dialect),
        inherited_from_type=held.from_type.value if held.from_type is not None else None,
        inherited_from_name=held.from_name,
    )


def _name(securable_type: SecurableType, full_name: str) -> str | None:
    return None if securable_type is SecurableType.METASTORE else full_name


@router.get(
    PATH,
    dependencies=[guard(privilege=Privilege.BROWSE, name_from=BY_NAME, type_from="securable_type")],
    operation_id="getPermissions",
    response_model=PermissionsList,
    openapi_extra=DIRECT,
)
async def get_permissions(
    securable_type: str,
    full_name: str,
    caller: CallerDep,
    rt: RuntimeDep,
    dialect: DialectDep,
    principal: str | None = None,
) -> Response:
    """The grants on an object the caller sees: all of them for whoever may change them,
    else those held by the caller or its groups (as SHOW GRANTS; docs/privileges.md).
    Answered on the event loop when the object's chain is cached (mostly: the guard just
    resolved it) and the question is about every principal; else in a worker thread."""
    kind = securable_type_from_path(securable_type)
    name = _name(kind, full_name)
    shown = (
        rt.grants.cached_assignments_seen_by(caller, kind, full_name)
        if name is not None and principal is None
        else None
    )
    if shown is None:
        shown = await run_in_threadpool(
            rt.grants.assignments_seen_by, caller, kind, name, principal
        )
    body = PermissionsList.__pydantic_serializer__.to_json(_listing(shown, dialect))
    return Response(body, media_type="application/json")


@router.get(
    EFFECTIVE_PATH,
    dependencies=[guard(privilege=Privilege.BROWSE, name_from=BY_NAME, type_from="securable_type")],
    operation_id="getEffectivePermissions",
    response_model_exclude_none=True,
)
def get_effective_permissions(
    securable_type: str,
    full_name: str,
    caller: CallerDep,
    rt: RuntimeDep,
    dialect: DialectDep,
    principal: str | None = None,
) -> EffectivePermissionsList:
    """What each principal holds on the object, granted on it or inherited from its
    containers, with where each came from; the same visibility as GET permissions at
    every level (docs/privileges.md, "Effective permissions")."""
    kind = securable_type_from_path(securable_type)
    held = rt.grants.effective_seen_by(caller, kind, _name(kind, full_name), principal)
    return EffectivePermissionsList(
        privilege_assignments=[
            EffectivePrivilegeAssignment(
                principal=who, privileges=[_effective(h, dialect) for h in privileges]
            )
            for who, privileges in held
        ]
    )


@router.patch(
    PATH,
    dependencies=[
        guard(privilege=Privilege.OWNERSHIP, name_from=BY_NAME, type_from="securable_type")
    ],
    operation_id="updatePermissions",
)
def update_permissions(
    securable_type: str,
    full_name: str,
    body: UpdatePermissions,
    caller: CallerDep,
    rt: RuntimeDep,
    dialect: DialectDep,
) -> PermissionsList:
    """Grant and revoke; privileges may be spelled ``USE CATALOG`` or ``USE_CATALOG``."""
    kind = securable_type_from_path(securable_type)
    changes = [PrivilegeChange(c.principal, c.add, c.remove) for c in body.changes]
    return _listing(rt.grants.update(caller, kind, _name(kind, full_name), changes), dialect)
