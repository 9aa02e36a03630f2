"""Personal access tokens at the Databricks token paths (docs/api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field, model_validator

from catalog.http.client_dialect import Dialect, DialectDep, numeric_id
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import AUTHENTICATED, METASTORE_ADMIN, guard
from catalog.http.models import RequestBody
from catalog.identity import IssuedToken, normalize_principal_name
from catalog.records import PrincipalKind, TokenRecord
from catalog.runtime import Runtime
from common.errors import InvalidParameter, NotFound

router = APIRouter(prefix="/api/2.0", tags=["Tokens"])


class CreateToken(RequestBody):
    lifetime_seconds: int | None = Field(default=None, ge=-1)
    comment: str | None = Field(default=None, max_length=1000)


class CreateOboToken(CreateToken):
    application_id: str | None = None
    user_name: str | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> CreateOboToken:
        if bool(self.application_id) == bool(self.user_name):
            raise ValueError("give exactly one of application_id or user_name")
        return self


class DeleteToken(RequestBody):
    token_id: str


class TokenFields(RequestBody):
    """A token as the Databricks SDK sends it in an update: ``PublicTokenInfo`` (own tokens)
    or ``TokenInfo`` (token management). Only the fields the ``update_mask`` names are read;
    the rest are what a GET answered, accepted so a read-modify-write round trip works."""

    comment: str | None = Field(default=None, max_length=1000)
    scopes: list[str] | None = None
    token_id: str | None = Field(default=None, max_length=64)
    creation_time: int | None = None
    expiry_time: int | None = None
    owner_id: int | str | None = None
    created_by_id: int | str | None = None
    created_by_username: str | None = Field(default=None, max_length=255)
    workspace_id: int | None = None
    last_used_day: int | None = None
    autoscope_state: str | None = Field(default=None, max_length=255)
    backfill_scopes: list[str] | None = None
    inferred_scopes: list[str] | None = None


class UpdateToken(RequestBody):
    token: TokenFields
    #: Comma-separated field names (a protobuf FieldMask); ``*`` is every updatable one.
    update_mask: str = Field(max_length=1000)


def token_info(
    t: TokenRecord, owner: str | None = None, dialect: Dialect = Dialect.UNITY_CATALOG
) -> dict[str, Any]:
    """A token's info. ``owner``: the owning principal's id, for the admin's listings; a
    Databricks SDK parses ids as integers, so it gets the id's number
    (:func:`~catalog.http.client_dialect.numeric_id`), everyone else the id itself."""
    info: dict[str, Any] = {
        "token_id": t.id,
        "creation_time": t.created_at,
        "expiry_time": t.expiry_time if t.expiry_time is not None else -1,
        "comment": t.comment or "",
        "created_by_username": t.created_by,
    }
    if owner is not None:
        info["owner_id"] = numeric_id(owner) if dialect is Dialect.DATABRICKS else owner
    return info


def _issued(issued: IssuedToken) -> dict[str, Any]:
    return {"token_value": issued.value, "token_info": token_info(issued.record)}


@router.post("/token/create", dependencies=[guard(AUTHENTICATED)], operation_id="createToken")
def create_token(body: CreateToken, caller: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    issued = rt.identity.issue_token(
        caller.principal, caller.name, body.lifetime_seconds, body.comment
    )
    return _issued(issued)


@router.get("/token/list", dependencies=[guard(AUTHENTICATED)], operation_id="listTokens")
def list_tokens(caller: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    return {"token_infos": [token_info(t) for t in rt.identity.list_tokens(caller.principal.id)]}


@router.post("/token/delete", dependencies=[guard(AUTHENTICATED)], operation_id="revokeToken")
def revoke_token(body: DeleteToken, caller: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    rt.identity.revoke_token(body.token_id, owner_id=caller.principal.id)
    return {}


@router.patch("/token/{token_id}", dependencies=[guard(AUTHENTICATED)], operation_id="updateToken")
def update_token(
    token_id: str, body: UpdateToken, caller: CallerDep, rt: RuntimeDep
) -> dict[str, Any]:
    """Databricks' ``tokens.update``: the caller's own token; another's answers as missing."""
    comment = _new_comment(token_id, body)
    rt.identity.update_token_comment(token_id, comment, owner_id=caller.principal.id)
    return {}


def _new_comment(token_id: str, body: UpdateToken) -> str | None:
    """The comment an update sets, once its mask is checked: a token's comment is the one
    thing about it that may change (its value, owner and expiry are fixed at creation, and
    Steward tokens carry no scopes: a token acts with all its owner's privileges)."""
    if body.token.token_id is not None and body.token.token_id != token_id:
        raise InvalidParameter(
            f"token.token_id '{body.token.token_id}' is not the path's '{token_id}'"
        )
    paths = {p.strip() for p in body.update_mask.split(",") if p.strip()}
    if not paths:
        raise InvalidParameter("update_mask names no field: give 'comment'")
    if "*" in paths:
        paths = (paths - {"*"}) | {"comment", "scopes"}
    fixed = sorted(paths - {"comment", "scopes"})
    if fixed:
        raise InvalidParameter(f"'{fixed[0]}' cannot be changed: only a token's comment can")
    if "scopes" in paths and body.token.scopes:
        raise InvalidParameter(
            "Steward tokens carry no scopes: a token acts with all its owner's privileges"
        )
    if "comment" not in paths:
        raise InvalidParameter("update_mask names no field that can change: give 'comment'")
    return body.token.comment


@router.post(
    "/token-management/on-behalf-of/tokens",
    dependencies=[guard(METASTORE_ADMIN)],
    operation_id="createOboToken",
)
def create_obo_token(body: CreateOboToken, caller: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    target = body.application_id or body.user_name or ""
    field = "application_id" if body.application_id else "user_name"
    name = normalize_principal_name(target, field)
    principal = rt.identity.get_by_name(name)
    if principal is None:
        raise NotFound(f"principal '{target}' does not exist")
    wanted = PrincipalKind.SERVICE_PRINCIPAL if body.application_id else PrincipalKind.USER
    if principal.kind != wanted:
        field = "application_id" if body.application_id else "user_name"
        raise InvalidParameter(
            f"{field} '{target}' names a {principal.kind.lower().replace('_', ' ')}, "
            f"not a {wanted.lower().replace('_', ' ')}"
        )
    issued = rt.identity.issue_token(principal, caller.name, body.lifetime_seconds, body.comment)
    return _issued(issued)


@router.get(
    "/token-management/tokens",
    dependencies=[guard(METASTORE_ADMIN)],
    operation_id="listAllTokens",
)
def list_all_tokens(
    rt: RuntimeDep,
    dialect: DialectDep,
    created_by_id: str | None = Query(default=None, max_length=64),
    created_by_username: str | None = Query(default=None, max_length=255),
) -> dict[str, Any]:
    """Every token; ``created_by_username`` keeps those a principal created (its own, and
    those it created on behalf of others); ``created_by_id`` the same by the creator's id,
    given as its id or as the number a Databricks SDK was shown as ``owner_id``."""
    tokens = rt.identity.list_tokens(None)
    if created_by_username is not None:
        wanted = normalize_principal_name(created_by_username, "created_by_username")
        tokens = [t for t in tokens if t.created_by == wanted]
    if created_by_id is not None:
        creators = {name: _ids_of(rt, name) for name in {t.created_by for t in tokens}}
        tokens = [t for t in tokens if created_by_id in creators[t.created_by]]
    return {"token_infos": [token_info(t, t.principal_id, dialect) for t in tokens]}


def _ids_of(rt: Runtime, name: str) -> tuple[str, ...]:
    """How a principal's id may be given: as it is, or as its number."""
    found = rt.identity.get_by_name(name)
    return () if found is None else (found.id, str(numeric_id(found.id)))


@router.get(
    "/token-management/tokens/{token_id}",
    dependencies=[guard(METASTORE_ADMIN)],
    operation_id="getAnyToken",
)
def get_any_token(token_id: str, rt: RuntimeDep, dialect: DialectDep) -> dict[str, Any]:
    found = rt.identity.get_token(token_id)
    return {"token_info": token_info(found, found.principal_id, dialect)}


@router.delete(
    "/token-management/tokens/{token_id}",
    dependencies=[guard(METASTORE_ADMIN)],
    operation_id="deleteAnyToken",
)
def delete_any_token(token_id: str, rt: RuntimeDep) -> dict[str, Any]:
    rt.identity.revoke_token(token_id, owner_id=None)
    return {}


@router.patch(
    "/token-management/tokens/{token_id}",
    dependencies=[guard(METASTORE_ADMIN)],
    operation_id="updateAnyToken",
)
def update_any_token(
    token_id: str, body: UpdateToken, rt: RuntimeDep, dialect: DialectDep
) -> dict[str, Any]:
    """Databricks' ``token_management.update_token_management``: answers the token's info."""
    comment = _new_comment(token_id, body)
    updated = rt.identity.update_token_comment(token_id, comment, owner_id=None)
    return token_info(updated, updated.principal_id, dialect)
