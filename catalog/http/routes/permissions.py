"""``/api/2.1/unity-catalog/permissions/{securable_type}/{full_name}`` (UC Grants API)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from catalog.access.grants import PrivilegeChange
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import guard, securable_type_from_path
from catalog.http.models import RequestBody, ShortName
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["Grants"])
PATH = "/permissions/{securable_type}/{full_name}"
BY_NAME = NameFrom.path("full_name")


class PrivilegeAssignment(BaseModel):
    principal: str
    privileges: list[str]


class PermissionsList(BaseModel):
    privilege_assignments: list[PrivilegeAssignment]


class PermissionsChange(RequestBody):
    principal: ShortName
    add: list[ShortName] = Field(default_factory=list)
    remove: list[ShortName] = Field(default_factory=list)


class UpdatePermissions(RequestBody):
    changes: list[PermissionsChange] = Field(max_length=1000)


def _listing(assignments: list[tuple[str, list[str]]]) -> PermissionsList:
    return PermissionsList(
        privilege_assignments=[
            PrivilegeAssignment(principal=p, privileges=privs) for p, privs in assignments
        ]
    )


def _name(securable_type: SecurableType, full_name: str) -> str | None:
    return None if securable_type is SecurableType.METASTORE else full_name


@router.get(
    PATH,
    dependencies=[guard(privilege=Privilege.BROWSE, name_from=BY_NAME, type_from="securable_type")],
    operation_id="getPermissions",
)
def get_permissions(
    securable_type: str,
    full_name: str,
    caller: CallerDep,
    rt: RuntimeDep,
    principal: str | None = None,
) -> PermissionsList:
    """The grants on an object the caller sees: all of them for whoever may change them,
    else those held by the caller or its groups (as SHOW GRANTS; docs/privileges.md)."""
    kind = securable_type_from_path(securable_type)
    name = _name(kind, full_name)
    return _listing(rt.grants.assignments_seen_by(caller, kind, name, principal))


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
) -> PermissionsList:
    kind = securable_type_from_path(securable_type)
    changes = [PrivilegeChange(c.principal, c.add, c.remove) for c in body.changes]
    return _listing(rt.grants.update(caller, kind, _name(kind, full_name), changes))
