"""``/api/2.1/unity-catalog/catalogs``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import AUTHENTICATED, guard
from catalog.http.models import (
    CatalogInfo,
    CreateCatalog,
    Empty,
    ListCatalogsResponse,
    SecurableInfo,
    UpdateCatalog,
)
from catalog.names import SYSTEM_CATALOG, normalize_part
from catalog.namespace import NewSecurable
from catalog.records import SecurableRecord
from common.errors import InvalidParameter
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["Catalogs"])
CATALOG = SecurableType.CATALOG
BY_NAME = NameFrom.path("name")
PAGE_MAX = 1000


def catalog_info(r: SecurableRecord) -> CatalogInfo:
    return CatalogInfo(
        name=r.name,
        comment=r.comment,
        properties=r.properties,
        **SecurableInfo.stamps(r),
        id=r.id,
        storage_root=r.storage_root,
        storage_location=r.storage_location,
    )


@router.post(
    "/catalogs",
    dependencies=[guard(privilege=Privilege.CREATE_CATALOG, on=SecurableType.METASTORE)],
    operation_id="createCatalog",
)
def create_catalog(body: CreateCatalog, caller: CallerDep, rt: RuntimeDep) -> CatalogInfo:
    if normalize_part(body.name) == SYSTEM_CATALOG:
        raise InvalidParameter("'system' is a reserved catalog name")
    record = rt.namespace.create(
        caller,
        NewSecurable(CATALOG, body.name, body.comment, body.properties, body.storage_root),
    )
    return catalog_info(record)


@router.get("/catalogs", dependencies=[guard(AUTHENTICATED)], operation_id="listCatalogs")
async def list_catalogs(
    caller: CallerDep,
    rt: RuntimeDep,
    max_results: int | None = None,
    page_token: str | None = None,
) -> ListCatalogsResponse:
    page = await run_in_threadpool(
        rt.namespace.list, caller, CATALOG, None, max_results, page_token, PAGE_MAX
    )
    return ListCatalogsResponse(
        catalogs=[catalog_info(r) for r in page.items], next_page_token=page.next_page_token
    )


@router.get(
    "/catalogs/{name}",
    dependencies=[guard(privilege=Privilege.BROWSE, on=CATALOG, name_from=BY_NAME)],
    operation_id="getCatalog",
)
def get_catalog(name: str, rt: RuntimeDep) -> CatalogInfo:
    return catalog_info(rt.namespace.get(CATALOG, name))


@router.patch(
    "/catalogs/{name}",
    dependencies=[guard(privilege=Privilege.MANAGE, on=CATALOG, name_from=BY_NAME)],
    operation_id="updateCatalog",
)
def update_catalog(
    name: str, body: UpdateCatalog, caller: CallerDep, rt: RuntimeDep
) -> CatalogInfo:
    record = rt.namespace.update(
        caller,
        CATALOG,
        name,
        comment=body.comment,
        properties=body.properties,
        owner=rt.identity.require_principal_name(body.owner, "owner")
        if body.owner is not None
        else None,
        new_name=body.new_name,
    )
    return catalog_info(record)


@router.delete(
    "/catalogs/{name}",
    dependencies=[guard(privilege=Privilege.OWNERSHIP, on=CATALOG, name_from=BY_NAME)],
    operation_id="deleteCatalog",
)
def delete_catalog(name: str, rt: RuntimeDep, force: bool = False) -> Empty:
    rt.namespace.delete(CATALOG, name, force=force)
    return Empty()
