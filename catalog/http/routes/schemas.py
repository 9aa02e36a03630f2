"""``/api/2.1/unity-catalog/schemas``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import guard
from catalog.http.models import (
    CreateSchema,
    Empty,
    ListSchemasResponse,
    SchemaInfo,
    SecurableInfo,
    UpdateSchema,
)
from catalog.names import normalize_part
from catalog.namespace import NewSecurable
from catalog.records import SecurableRecord
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["Schemas"])
SCHEMA = SecurableType.SCHEMA
BY_NAME = NameFrom.path("full_name")
PAGE_MAX = 1000


def schema_info(r: SecurableRecord) -> SchemaInfo:
    catalog_name, _ = r.full_name.split(".")
    return SchemaInfo(
        name=r.name,
        catalog_name=catalog_name,
        comment=r.comment,
        properties=r.properties,
        full_name=r.full_name,
        **SecurableInfo.stamps(r),
        schema_id=r.id,
        storage_root=r.storage_root,
        storage_location=r.storage_location,
    )


@router.post(
    "/schemas",
    dependencies=[
        guard(
            privilege=Privilege.CREATE_SCHEMA,
            on=SecurableType.CATALOG,
            name_from=NameFrom.body("catalog_name"),
        )
    ],
    operation_id="createSchema",
)
def create_schema(body: CreateSchema, caller: CallerDep, rt: RuntimeDep) -> SchemaInfo:
    full_name = f"{normalize_part(body.catalog_name, 'catalog_name')}.{normalize_part(body.name)}"
    record = rt.namespace.create(
        caller,
        NewSecurable(SCHEMA, full_name, body.comment, body.properties, body.storage_root),
    )
    return schema_info(record)


@router.get(
    "/schemas",
    # The catalog must be visible: a hidden one lists as a missing one (404).
    dependencies=[
        guard(
            privilege=Privilege.BROWSE,
            on=SecurableType.CATALOG,
            name_from=NameFrom.query("catalog_name"),
        )
    ],
    operation_id="listSchemas",
)
async def list_schemas(
    catalog_name: str,
    caller: CallerDep,
    rt: RuntimeDep,
    max_results: int | None = None,
    page_token: str | None = None,
) -> ListSchemasResponse:
    parent = normalize_part(catalog_name, "catalog_name")
    page = await run_in_threadpool(
        rt.namespace.list, caller, SCHEMA, parent, max_results, page_token, PAGE_MAX
    )
    return ListSchemasResponse(
        schemas=[schema_info(r) for r in page.items], next_page_token=page.next_page_token
    )


@router.get(
    "/schemas/{full_name}",
    dependencies=[guard(privilege=Privilege.BROWSE, on=SCHEMA, name_from=BY_NAME)],
    operation_id="getSchema",
)
def get_schema(full_name: str, rt: RuntimeDep) -> SchemaInfo:
    return schema_info(rt.namespace.get(SCHEMA, full_name))


@router.patch(
    "/schemas/{full_name}",
    dependencies=[guard(privilege=Privilege.MANAGE, on=SCHEMA, name_from=BY_NAME)],
    operation_id="updateSchema",
)
def update_schema(
    full_name: str, body: UpdateSchema, caller: CallerDep, rt: RuntimeDep
) -> SchemaInfo:
    record = rt.namespace.update(
        caller,
        SCHEMA,
        full_name,
        comment=body.comment,
        properties=body.properties,
        owner=rt.identity.require_principal_name(body.owner, "owner")
        if body.owner is not None
        else None,
        new_name=body.new_name,
    )
    return schema_info(record)


@router.delete(
    "/schemas/{full_name}",
    dependencies=[guard(privilege=Privilege.OWNERSHIP, on=SCHEMA, name_from=BY_NAME)],
    operation_id="deleteSchema",
)
def delete_schema(full_name: str, rt: RuntimeDep, force: bool = False) -> Empty:
    rt.namespace.delete(SCHEMA, full_name, force=force)
    return Empty()
