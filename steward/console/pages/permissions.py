"""The permissions tab of every object: who holds what (directly and inherited), and
grant / revoke with a picker that offers only the privileges that apply to the object.
Changes go through the Grants API (``PATCH …/permissions/…``) as the signed-in user, so
only someone who may manage the object's grants can make them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from policy.privileges import APPLICABLE
from policy.securables import API_SECURABLE_TYPES
from steward.console.api import ApiError
from steward.console.app import Page, signed_in

router = APIRouter()
PageDep = Annotated[Page, Depends(signed_in)]
UC = "/api/2.1/unity-catalog"


def applicable(securable_type: str) -> list[str]:
    """The privileges a picker offers for an object of ``securable_type``, as SQL spells them."""
    found = API_SECURABLE_TYPES.get(securable_type.lower())
    if found is None:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"no securable type '{securable_type}'")
    return sorted(privilege.value.replace("_", " ") for privilege in APPLICABLE[found])


async def _render(
    page: Page, securable_type: str, full_name: str, message: str | None, error: ApiError | None
) -> Response:
    path = f"{securable_type}/{full_name}"
    direct = await page.api.get(f"{UC}/permissions/{path}")
    effective = await page.api.get(f"{UC}/effective-permissions/{path}")
    return page.render(
        "fragments/permissions.html",
        status_code=200,
        securable_type=securable_type,
        full_name=full_name,
        direct=direct.get("privilege_assignments", []),
        effective=effective.get("privilege_assignments", []),
        privileges=applicable(securable_type),
        message=message,
        error=error,
    )


@router.get("/console/permissions/{securable_type}/{full_name}")
async def permissions(securable_type: str, full_name: str, page: PageDep) -> Response:
    return await _render(page, securable_type, full_name, None, None)


@router.post("/console/permissions/{securable_type}/{full_name}")
async def change(
    securable_type: str,
    full_name: str,
    page: PageDep,
    action: Annotated[str, Form(pattern="^(grant|revoke)$")],
    principal: Annotated[str, Form(min_length=1, max_length=255)],
    privilege: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    await page.check_csrf()
    if privilege not in applicable(securable_type):
        error = ApiError(400, "INVALID_PARAMETER_VALUE", f"{privilege} does not apply here")
        return await _render(page, securable_type, full_name, None, error)
    change = {"principal": principal.strip(), "add" if action == "grant" else "remove": [privilege]}
    try:
        await page.api.call(
            "PATCH", f"{UC}/permissions/{securable_type}/{full_name}", json={"changes": [change]}
        )
    except ApiError as exc:
        return await _render(page, securable_type, full_name, None, exc)
    done = "Granted" if action == "grant" else "Revoked"
    preposition = "to" if action == "grant" else "from"
    message = f"{done} {privilege} {preposition} {principal.strip()}."
    return await _render(page, securable_type, full_name, message, None)
