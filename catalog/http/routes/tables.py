"""``/api/2.1/unity-catalog/tables`` and ``table-summaries``."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.direct import DIRECT
from catalog.http.guards import AUTHENTICATED, guard, require_visible
from catalog.http.models import (
    ColumnInfo,
    ColumnMask,
    ColumnTypeName,
    CreateTable,
    Empty,
    ListTablesResponse,
    PrimaryKeyConstraint,
    RequestBody,
    SecurableInfo,
    TableConstraint,
    TableInfo,
    TableRowFilter,
)
from catalog.names import normalize_part
from catalog.namespace import NewSecurable
from catalog.records import ColumnRecord, TableRecord
from catalog.runtime import Runtime
from catalog.table_summaries import list_summaries
from catalog.tables import build_table_detail
from common.errors import InvalidParameter, NotFound
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["Tables"])
TABLE = SecurableType.TABLE
BY_NAME = NameFrom.path("full_name")
#: The reference spec caps a page of tables at 50.
PAGE_MAX = 50
#: Summaries are small; Databricks pages them by the thousand.
SUMMARIES_PAGE_MAX = 1000


class SerializedTables:
    """Each table's answer as JSON, made once per generation of the namespace cache.

    A table's answer changes only with the namespace, which bumps the cache's generation
    (catalog/store/namespace_cache.py); GET and list send the same bytes until then. The
    generation is noted before the table is read, so bytes of a table read before a change
    are never kept under the generation after it.
    """

    def __init__(self) -> None:
        self.generation = -1
        self.by_id: dict[str, bytes] = {}

    @staticmethod
    def generation_of(rt: Runtime) -> int | None:
        cache = rt.authorizer.cache
        return cache.generation if cache is not None else None

    def table(self, generation: int | None, record: TableRecord) -> bytes:
        if generation is None or generation < self.generation:
            return _table_json(record)  # no cache, or read under an older generation
        if generation > self.generation:
            self.by_id, self.generation = {}, generation
        found = self.by_id.get(record.securable.id)
        if found is None:
            found = self.by_id[record.securable.id] = _table_json(record)
        return found


def _table_json(record: TableRecord) -> bytes:
    """What FastAPI would send for the TableInfo of ``record``."""
    return TableInfo.__pydantic_serializer__.to_json(table_info(record), by_alias=True)


def json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


_SERIALIZED = SerializedTables()


def table_info(t: TableRecord) -> TableInfo:
    s, d = t.securable, t.detail
    catalog_name, schema_name, _ = s.full_name.split(".")
    constraints = None
    if d.primary_key_columns:
        constraints = [
            TableConstraint(
                primary_key_constraint=PrimaryKeyConstraint(
                    name=d.primary_key_name or f"{s.name}_pk",
                    child_columns=d.primary_key_columns,
                    timeseries_columns=[d.timeseries_column] if d.timeseries_column else None,
                )
            )
        ]
    return TableInfo(
        name=s.name,
        catalog_name=catalog_name,
        schema_name=schema_name,
        full_name=s.full_name,
        table_type=d.table_type,
        data_source_format=d.data_source_format,
        # Columns come from the store, already checked on the way in: no second scan.
        columns=[
            ColumnInfo.model_construct(
                name=c.name,
                type_text=c.type_text,
                type_json=c.type_json,
                # The enum itself: a plain string would make the serializer warn.
                type_name=ColumnTypeName(c.type_name),
                type_precision=c.type_precision,
                type_scale=c.type_scale,
                type_interval_type=c.type_interval_type,
                position=c.position,
                comment=c.comment,
                nullable=c.nullable,
                partition_index=c.partition_index,
                mask=ColumnMask(
                    function_name=c.mask.function_name,
                    using_column_names=list(c.mask.columns),
                )
                if c.mask is not None
                else None,
            )
            for c in d.columns
        ],
        storage_location=s.storage_location,
        comment=s.comment,
        properties=s.properties,
        **SecurableInfo.stamps(s),
        table_id=s.id,
        view_definition=d.view_definition,
        table_constraints=constraints,
        row_filter=TableRowFilter(
            function_name=d.row_filter.function_name,
            input_column_names=list(d.row_filter.columns),
        )
        if d.row_filter is not None
        else None,
    )


def _columns(body: CreateTable) -> list[ColumnRecord]:
    masked = next((c.name for c in body.columns if c.mask is not None), None)
    if masked is not None:
        # Setting a mask checks the function (EXECUTE, arguments, type): SQL does that.
        raise InvalidParameter(
            f"columns: a mask (on '{masked}') is set with SQL: ALTER TABLE … ALTER COLUMN "
            "… SET MASK, or CREATE TABLE … MASK"
        )
    return [
        ColumnRecord(
            name=c.name,
            type_text=c.type_text or c.type_name.value.lower(),
            type_name=c.type_name.value,
            position=c.position if c.position is not None else i,
            nullable=c.nullable if c.nullable is not None else True,
            comment=c.comment,
            type_json=c.type_json,
            type_precision=c.type_precision,
            type_scale=c.type_scale,
            type_interval_type=c.type_interval_type,
            partition_index=c.partition_index,
        )
        for i, c in enumerate(body.columns)
    ]


@router.post(
    "/tables",
    dependencies=[
        guard(
            privilege=Privilege.CREATE_TABLE,
            on=SecurableType.SCHEMA,
            name_from=NameFrom.body("catalog_name", "schema_name"),
        )
    ],
    operation_id="createTable",
    response_model=TableInfo,
    openapi_extra=DIRECT,
)
def create_table(body: CreateTable, caller: CallerDep, rt: RuntimeDep) -> Response:
    """Answers the table serialised here, on the worker thread: a returned model would be
    validated again by FastAPI on a second hand-off to a worker thread, then serialised.
    A direct route (catalog/http/direct.py): the body validated as the router would,
    without its matching and solver."""
    pks = [
        c.primary_key_constraint for c in body.table_constraints or [] if c.primary_key_constraint
    ]
    if len(pks) > 1:
        raise InvalidParameter("a table may have only one primary key constraint")
    pk = pks[0] if pks else None
    detail = build_table_detail(
        table_type=body.table_type.value,
        data_source_format=body.data_source_format.value if body.data_source_format else None,
        columns=_columns(body),
        storage_location=body.storage_location,
        primary_key_name=pk.name if pk else None,
        primary_key_columns=pk.child_columns if pk else None,
        timeseries_columns=pk.timeseries_columns if pk else None,
    )
    if body.view_definition is not None or body.view_dependencies is not None:
        # Only view-like table types have a definition; never drop one silently.
        raise InvalidParameter(
            f"view_definition and view_dependencies do not apply to a {body.table_type} table"
        )
    full_name = ".".join(
        [
            normalize_part(body.catalog_name, "catalog_name"),
            normalize_part(body.schema_name, "schema_name"),
            normalize_part(body.name),
        ]
    )
    record = rt.namespace.create(
        caller,
        NewSecurable(
            TABLE,
            full_name,
            body.comment,
            body.properties,
            storage_location=body.storage_location,
        ),
        table=detail,
    )
    return json_response(_table_json(TableRecord(record, detail)))


@router.get(
    "/tables",
    # The schema must be visible: a hidden one lists as a missing one (404).
    dependencies=[
        guard(
            privilege=Privilege.BROWSE,
            on=SecurableType.SCHEMA,
            name_from=NameFrom.query("catalog_name", "schema_name"),
        )
    ],
    operation_id="listTables",
    response_model=ListTablesResponse,
    openapi_extra=DIRECT,
)
async def list_tables(
    catalog_name: str,
    schema_name: str,
    caller: CallerDep,
    rt: RuntimeDep,
    max_results: int | None = None,
    page_token: str | None = None,
) -> Response:
    catalog = normalize_part(catalog_name, "catalog_name")
    parent = f"{catalog}.{normalize_part(schema_name, 'schema_name')}"
    generation = _SERIALIZED.generation_of(rt)  # before anything is read
    # The guard just resolved the schema: mostly the page is cached too, and answered here.
    page = rt.namespace.cached_list_tables(caller, parent, max_results, page_token, PAGE_MAX)
    if page is None:
        page = await run_in_threadpool(
            rt.namespace.list_tables, caller, parent, max_results, page_token, PAGE_MAX
        )
    tables = b",".join(_SERIALIZED.table(generation, t) for t in page.items)
    token = orjson.dumps(page.next_page_token)
    return json_response(b'{"tables":[' + tables + b'],"next_page_token":' + token + b"}")


@router.get(
    "/tables/{full_name}",
    # Metadata: whoever sees the table (BROWSE, SELECT, MODIFY … on it or inherited).
    dependencies=[guard(privilege=Privilege.BROWSE, on=TABLE, name_from=BY_NAME)],
    operation_id="getTable",
    response_model=TableInfo,
    openapi_extra=DIRECT,
)
async def get_table(
    full_name: str,
    rt: RuntimeDep,
    read_streaming_table_as_managed: bool = True,
    read_materialized_view_as_managed: bool = True,
) -> Response:
    generation = _SERIALIZED.generation_of(rt)  # before anything is read
    # The guard just resolved the table: mostly it is cached, and answered here.
    found = rt.namespace.cached_table(full_name)
    if found is None:
        found = await run_in_threadpool(rt.namespace.get_table, full_name)
    return json_response(_SERIALIZED.table(generation, found))


class TableExists(BaseModel):
    table_exists: bool


@router.get(
    "/tables/{full_name}/exists",
    # Checked in the handler: a missing table is an answer here, not a 404.
    dependencies=[guard(AUTHENTICATED)],
    operation_id="tableExists",
)
def table_exists(full_name: str, caller: CallerDep, rt: RuntimeDep) -> TableExists:
    """Databricks' ``tables.exists``: whether the table exists and the caller sees it. A
    table the caller may not see answers false, exactly as a missing one (it would be a
    404 on GET, docs/privileges.md "Visibility"); a malformed name is a 400."""
    try:
        require_visible(rt, caller, TABLE, full_name)
    except NotFound:
        return TableExists(table_exists=False)
    return TableExists(table_exists=True)


class UpdateTable(RequestBody):
    """Databricks' ``tables.update`` sends ``owner``; ``comment`` is SQL's ``COMMENT ON
    TABLE`` in this shape. A table's columns, type and name change through neither."""

    owner: str | None = Field(default=None, max_length=255)
    comment: str | None = None


@router.patch(
    "/tables/{full_name}",
    # As for catalogs, schemas and models: the owner, or MANAGE with the usage gates.
    dependencies=[guard(privilege=Privilege.MANAGE, on=TABLE, name_from=BY_NAME)],
    operation_id="updateTable",
)
def update_table(full_name: str, body: UpdateTable, caller: CallerDep, rt: RuntimeDep) -> TableInfo:
    owner = (
        rt.identity.require_principal_name(body.owner, "owner") if body.owner is not None else None
    )
    rt.namespace.update(caller, TABLE, full_name, comment=body.comment, owner=owner)
    return table_info(rt.namespace.get_table(full_name))


class TableSummary(BaseModel):
    full_name: str
    table_type: str


class ListTableSummariesResponse(BaseModel):
    tables: list[TableSummary]
    next_page_token: str | None = None


@router.get(
    "/table-summaries",
    # The catalog must be visible: a hidden one answers as a missing one (404).
    dependencies=[
        guard(
            privilege=Privilege.BROWSE,
            on=SecurableType.CATALOG,
            name_from=NameFrom.query("catalog_name"),
        )
    ],
    operation_id="listTableSummaries",
)
async def list_table_summaries(
    catalog_name: str,
    caller: CallerDep,
    rt: RuntimeDep,
    schema_name_pattern: str | None = None,
    table_name_pattern: str | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
    include_manifest_capabilities: bool = False,
) -> ListTableSummariesResponse:
    """Databricks' ``tables.list_summaries``: every table of the catalog the caller sees
    (:mod:`catalog.table_summaries`). ``include_manifest_capabilities`` asks for a manifest
    Steward does not have; it is accepted and none is sent, as for a table without one."""
    page = await run_in_threadpool(
        list_summaries,
        rt.namespace,
        caller,
        normalize_part(catalog_name, "catalog_name"),
        schema_name_pattern,
        table_name_pattern,
        max_results,
        page_token,
        SUMMARIES_PAGE_MAX,
    )
    return ListTableSummariesResponse(
        tables=[TableSummary(full_name=t.full_name, table_type=t.table_type) for t in page.items],
        next_page_token=page.next_page_token,
    )


@router.delete(
    "/tables/{full_name}",
    dependencies=[guard(privilege=Privilege.OWNERSHIP, on=TABLE, name_from=BY_NAME)],
    operation_id="deleteTable",
)
def delete_table(full_name: str, rt: RuntimeDep) -> Empty:
    rt.namespace.delete(TABLE, full_name)
    return Empty()
