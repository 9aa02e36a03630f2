"""``/api/2.0/permissions/{object_type}/{object_id}``: Databricks' object permissions
(``w.permissions``, ``w.serving_endpoints.get_permissions`` …), where they mean something.

They mean something on serving endpoints, whose access Steward already governs with
grants; the permission levels are those grants under Databricks' names
(docs/clients.md, "Object permissions"):

- ``CAN_QUERY`` is ``QUERY`` on the endpoint (``ALL PRIVILEGES`` reads as it too).
- ``CAN_MANAGE`` is ``MANAGE`` — update, delete and grant, as Databricks' level allows —
  and, given here, ``QUERY`` with it (Databricks' manager may query). The owner is listed
  with ``CAN_MANAGE``: it holds everything, by ownership, not by a grant, so setting the
  list never takes it away (``ALTER SERVING ENDPOINT … OWNER TO`` transfers it).
- ``CAN_VIEW`` does not map: a Steward endpoint is seen by whoever may query or manage it,
  there is no view-only privilege. Asking for it is a 400 saying so, not a grant of more.

Nothing else maps either, and says why in a 400: ``registered-models`` are the workspace
model registry's (Steward's models are Unity Catalog models, governed by grants), and
Steward has no clusters, jobs, warehouses or token permissions.

Databricks names the endpoint by its id; the name is accepted too. The route's guard
asks only for a token, because the guard finds securables by name: the handler resolves
the id and then makes exactly the check its neighbours' guards make (QUERY or ownership
to read, ownership to change), answering an endpoint the caller may not see exactly as a
missing one — named as the caller named it, so an id never reveals a name.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, model_validator

from catalog.access.authorizer import Caller, Hidden, missing_message
from catalog.access.grants import PrivilegeChange
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import AUTHENTICATED, guard
from catalog.http.models import RequestBody, ShortName
from catalog.records import PrincipalKind, SecurableRecord
from catalog.runtime import Runtime
from catalog.store.base import NamespaceStore
from common.errors import InvalidParameter, NotFound, PermissionDenied
from policy.securables import Privilege, SecurableType

router = APIRouter(prefix="/api/2.0/permissions", tags=["Permissions"])
PATH = "/{request_object_type}/{request_object_id}"
ENDPOINT = SecurableType.SERVING_ENDPOINT
SERVING_ENDPOINTS = "serving-endpoints"

#: What each level grants when it is set.
LEVEL_GRANTS: dict[str, frozenset[str]] = {
    "CAN_QUERY": frozenset({Privilege.QUERY.value}),
    "CAN_MANAGE": frozenset({Privilege.MANAGE.value, Privilege.QUERY.value}),
}
#: The level each granted privilege is shown as.
PRIVILEGE_LEVEL: dict[str, str] = {
    Privilege.QUERY.value: "CAN_QUERY",
    Privilege.ALL_PRIVILEGES.value: "CAN_QUERY",
    Privilege.MANAGE.value: "CAN_MANAGE",
}
LEVEL_DESCRIPTIONS = {
    "CAN_QUERY": "Query the endpoint and see it (the QUERY privilege)",
    "CAN_MANAGE": "Update, delete and grant the endpoint, and query it (MANAGE and QUERY)",
}
_NOT_MAPPED = {
    "registered-models": "registered-models permissions are the workspace model registry's; "
    "Steward's models are Unity Catalog models, governed by grants: use "
    "/api/2.1/unity-catalog/permissions/model/{full_name} (the SDK's w.grants) or SQL GRANT … "
    "ON MODEL",
}
_LEVEL_REFUSALS = {
    "CAN_VIEW": "CAN_VIEW does not map to Steward: an endpoint is seen by whoever may query "
    "or manage it, there is no view-only privilege; grant CAN_QUERY",
    "IS_OWNER": "IS_OWNER is not granted: the owner changes with ALTER SERVING ENDPOINT … "
    "OWNER TO …",
}


class AccessControlRequest(RequestBody):
    """One entry of Databricks' ``access_control_list``: one principal and its level."""

    user_name: ShortName | None = None
    group_name: ShortName | None = None
    service_principal_name: ShortName | None = None
    permission_level: str = Field(max_length=64)

    @model_validator(mode="after")
    def _one_principal(self) -> AccessControlRequest:
        given = [n for n in (self.user_name, self.group_name, self.service_principal_name) if n]
        if len(given) != 1:
            raise ValueError("give exactly one of user_name, group_name or service_principal_name")
        return self


class SetPermissions(RequestBody):
    access_control_list: list[AccessControlRequest] = Field(default_factory=list, max_length=1000)


class Permission(BaseModel):
    permission_level: str
    inherited: bool = False


class AccessControlResponse(BaseModel):
    user_name: str | None = None
    group_name: str | None = None
    service_principal_name: str | None = None
    display_name: str | None = None
    all_permissions: list[Permission]


class ObjectPermissions(BaseModel):
    object_id: str
    object_type: str
    access_control_list: list[AccessControlResponse]


class PermissionsDescription(BaseModel):
    permission_level: str
    description: str


class PermissionLevels(BaseModel):
    permission_levels: list[PermissionsDescription]


# -- routes ------------------------------------------------------------------------------


@router.get(
    PATH,
    dependencies=[guard(AUTHENTICATED)],
    operation_id="getObjectPermissions",
    response_model_exclude_none=True,
)
def get_object_permissions(
    request_object_type: str,
    request_object_id: str,
    request: Request,
    caller: CallerDep,
    rt: RuntimeDep,
) -> ObjectPermissions:
    """The endpoint's levels: all of them to whoever may change them, else the caller's
    own and its groups' (and the owner's), as the grants API shows grants."""
    record = _endpoint(rt, caller, request, request_object_type, request_object_id, read=True)
    return _permissions(rt, caller, record)


@router.get(
    PATH + "/permissionLevels",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="getObjectPermissionLevels",
)
def get_permission_levels(
    request_object_type: str,
    request_object_id: str,
    request: Request,
    caller: CallerDep,
    rt: RuntimeDep,
) -> PermissionLevels:
    _endpoint(rt, caller, request, request_object_type, request_object_id, read=True)
    return PermissionLevels(
        permission_levels=[
            PermissionsDescription(permission_level=level, description=text)
            for level, text in LEVEL_DESCRIPTIONS.items()
        ]
    )


@router.put(
    PATH,
    dependencies=[guard(AUTHENTICATED)],
    operation_id="setObjectPermissions",
    response_model_exclude_none=True,
)
def set_object_permissions(
    request_object_type: str,
    request_object_id: str,
    body: SetPermissions,
    request: Request,
    caller: CallerDep,
    rt: RuntimeDep,
) -> ObjectPermissions:
    """Replace every grant on the endpoint with the list (none: no grants are left; the
    owner keeps what ownership gives)."""
    record = _endpoint(rt, caller, request, request_object_type, request_object_id, read=False)
    wanted = _wanted(rt, body.access_control_list)
    current = dict(rt.grants.assignments(ENDPOINT, record.full_name))
    for who in current:
        wanted.setdefault(who, frozenset())
    _apply(rt, caller, record, current, wanted)
    return _permissions(rt, caller, record)


@router.patch(
    PATH,
    dependencies=[guard(AUTHENTICATED)],
    operation_id="updateObjectPermissions",
    response_model_exclude_none=True,
)
def update_object_permissions(
    request_object_type: str,
    request_object_id: str,
    body: SetPermissions,
    request: Request,
    caller: CallerDep,
    rt: RuntimeDep,
) -> ObjectPermissions:
    """Give each listed principal its level (in place of what it held directly); the
    principals not listed keep theirs."""
    record = _endpoint(rt, caller, request, request_object_type, request_object_id, read=False)
    wanted = _wanted(rt, body.access_control_list)
    current = dict(rt.grants.assignments(ENDPOINT, record.full_name))
    _apply(rt, caller, record, current, wanted)
    return _permissions(rt, caller, record)


# -- the endpoint, and who may ask -------------------------------------------------------


def _endpoint(
    rt: Runtime, caller: Caller, request: Request, object_type: str, object_id: str, read: bool
) -> SecurableRecord:
    """The endpoint ``object_id`` names (its id, or its name), once the caller passes the
    check its neighbours' guards make: QUERY or ownership to ``read``, else ownership."""
    if object_type != SERVING_ENDPOINTS:
        raise InvalidParameter(
            _NOT_MAPPED.get(
                object_type,
                f"Steward has no permissions on '{object_type}': object permissions apply "
                f"to {SERVING_ENDPOINTS}; catalog objects take grants "
                "(/api/2.1/unity-catalog/permissions/{securable_type}/{full_name})",
            )
        )
    with rt.db.read() as session:
        store = rt.stores.namespace(session)
        by_id = store.get_by_id(ENDPOINT, object_id)
        name = by_id.full_name if by_id is not None else object_id
        audit = getattr(request.state, "audit", None)
        if audit is not None:
            audit.object_name = name
        try:
            found = _require(rt, caller, name, store, read)
        except Hidden as exc:
            if by_id is None:
                raise
            raise Hidden(missing_message(ENDPOINT, object_id), exc.truth) from None
    if found is None:  # pragma: no cover - a named securable is always returned
        raise NotFound(missing_message(ENDPOINT, object_id))
    return found


def _require(
    rt: Runtime, caller: Caller, name: str, store: NamespaceStore, read: bool
) -> SecurableRecord | None:
    """QUERY, or else ownership, to read (as GET of the endpoint); ownership to change."""
    if read:
        try:
            return rt.authorizer.require_privilege(caller, Privilege.QUERY, ENDPOINT, name, store)
        except PermissionDenied:
            pass  # it sees the endpoint; the denial below names what it lacks
    return rt.authorizer.require_privilege(caller, Privilege.OWNERSHIP, ENDPOINT, name, store)


# -- reading and writing levels ----------------------------------------------------------


def _permissions(rt: Runtime, caller: Caller, record: SecurableRecord) -> ObjectPermissions:
    """One level per principal, the highest it holds, as Databricks lists them: the owner
    and MANAGE holders ``CAN_MANAGE`` (a holder of MANAGE alone, granted in SQL, may give
    itself QUERY), QUERY or ALL PRIVILEGES holders ``CAN_QUERY``."""
    levels: dict[str, str] = {record.owner: "CAN_MANAGE"}
    for who, privileges in rt.grants.assignments_seen_by(caller, ENDPOINT, record.full_name):
        shown = {PRIVILEGE_LEVEL[p] for p in privileges if p in PRIVILEGE_LEVEL}
        if levels.get(who) == "CAN_MANAGE" or "CAN_MANAGE" in shown:
            levels[who] = "CAN_MANAGE"
        elif shown:
            levels[who] = "CAN_QUERY"
    return ObjectPermissions(
        object_id=f"/{SERVING_ENDPOINTS}/{record.id}",
        object_type="serving-endpoint",
        access_control_list=[_entry(rt, who, level) for who, level in sorted(levels.items())],
    )


def _entry(rt: Runtime, who: str, level: str) -> AccessControlResponse:
    principal = rt.identity.get_by_name(who)
    kind = principal.kind if principal is not None else PrincipalKind.USER
    permissions = [Permission(permission_level=level)]
    if kind == PrincipalKind.GROUP:
        return AccessControlResponse(group_name=who, all_permissions=permissions)
    display = (principal.display_name if principal else None) or who
    if kind == PrincipalKind.SERVICE_PRINCIPAL:
        return AccessControlResponse(
            service_principal_name=who, display_name=display, all_permissions=permissions
        )
    return AccessControlResponse(user_name=who, display_name=display, all_permissions=permissions)


def _wanted(rt: Runtime, entries: list[AccessControlRequest]) -> dict[str, frozenset[str]]:
    """Stored principal name → the privileges its levels grant."""
    wanted: dict[str, frozenset[str]] = {}
    for entry in entries:
        level = entry.permission_level.upper()
        if level not in LEVEL_GRANTS:
            raise InvalidParameter(
                _LEVEL_REFUSALS.get(
                    level,
                    f"'{entry.permission_level}' is not a serving endpoint permission level "
                    "Steward maps: give CAN_QUERY or CAN_MANAGE",
                )
            )
        who = _principal(rt, entry)
        wanted[who] = wanted.get(who, frozenset()) | LEVEL_GRANTS[level]
    return wanted


def _principal(rt: Runtime, entry: AccessControlRequest) -> str:
    for field, kind in (
        ("user_name", PrincipalKind.USER),
        ("group_name", PrincipalKind.GROUP),
        ("service_principal_name", PrincipalKind.SERVICE_PRINCIPAL),
    ):
        given = getattr(entry, field)
        if given:
            stored = rt.identity.require_principal_name(given, field)
            found = rt.identity.get_by_name(stored)
            if found is not None and found.kind != kind:
                raise InvalidParameter(
                    f"{field} '{given}' names a {found.kind.lower().replace('_', ' ')}"
                )
            return stored
    raise InvalidParameter("give exactly one of user_name, group_name or service_principal_name")


def _apply(
    rt: Runtime,
    caller: Caller,
    record: SecurableRecord,
    current: dict[str, list[str]],
    wanted: dict[str, frozenset[str]],
) -> None:
    """Make each principal of ``wanted`` hold exactly those privileges directly, in one
    transaction: removals first (a change applies its additions before its removals)."""
    removals: list[PrivilegeChange] = []
    additions: list[PrivilegeChange] = []
    for who, want in sorted(wanted.items()):
        held = set(current.get(who, []))
        if held == want:
            continue
        if Privilege.ALL_PRIVILEGES.value in held - want:
            # Revoking ALL PRIVILEGES revokes everything held directly: grant the rest anew.
            removals.append(PrivilegeChange(who, remove=[Privilege.ALL_PRIVILEGES.value]))
            held = set()
        elif held - want:
            removals.append(PrivilegeChange(who, remove=sorted(held - want)))
        if want - held:
            additions.append(PrivilegeChange(who, add=sorted(want - held)))
    if removals or additions:
        rt.grants.update(caller, ENDPOINT, record.full_name, [*removals, *additions], report=False)
