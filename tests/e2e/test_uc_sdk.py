"""The official Unity Catalog Python SDK (``unitycatalog-client``) drives a real Steward.

Every scenario goes through the SDK's generated request models and response
deserializers, so a field our JSON spells differently from the reference spec, or a
request body our server rejects, fails here. The SDK is asyncio/aiohttp based; each
test runs its scenario with ``asyncio.run`` and builds the client inside the loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from unitycatalog.client import (
    ApiClient,
    CatalogsApi,
    Configuration,
    MetastoresApi,
    ModelVersionsApi,
    RegisteredModelsApi,
    SchemasApi,
    TablesApi,
)
from unitycatalog.client.exceptions import (
    ApiException,
    BadRequestException,
    NotFoundException,
    UnauthorizedException,
)
from unitycatalog.client.models import (
    ColumnInfo,
    ColumnTypeName,
    CreateCatalog,
    CreateModelVersion,
    CreateRegisteredModel,
    CreateSchema,
    CreateTable,
    DataSourceFormat,
    FinalizeModelVersion,
    ModelVersionStatus,
    TableType,
    UpdateCatalog,
    UpdateModelVersion,
    UpdateRegisteredModel,
    UpdateSchema,
)

from tests.support import ServerHandle, unique, write_mlmodel

UC_PATH = "/api/2.1/unity-catalog"


@asynccontextmanager
async def sdk(server: ServerHandle, token: str | None = None) -> AsyncIterator[ApiClient]:
    """An SDK client for ``server``, authenticated with a bearer token (admin by default)."""
    config = Configuration(host=f"{server.url}{UC_PATH}")
    bearer = server.admin_token if token is None else token
    async with ApiClient(
        config, header_name="Authorization", header_value=f"Bearer {bearer}"
    ) as client:
        yield client


def run(
    server: ServerHandle, scenario: Callable[[ApiClient], Awaitable[None]], token: str | None = None
) -> None:
    async def main() -> None:
        async with sdk(server, token) as client:
            await scenario(client)

    asyncio.run(main())


def error_body(exc: ApiException) -> dict[str, Any]:
    assert exc.body, f"the SDK exception carries no body: {exc}"
    body = json.loads(exc.body)
    assert isinstance(body, dict)
    assert isinstance(body.get("message"), str) and body["message"]
    return body


async def new_catalog(client: ApiClient, **kwargs: Any) -> str:
    name = unique("sdkcat")
    created = await CatalogsApi(client).create_catalog(CreateCatalog(name=name, **kwargs))
    assert created.name == name
    return name


async def new_schema(client: ApiClient) -> tuple[str, str]:
    catalog = await new_catalog(client)
    schema = unique("sdksch")
    await SchemasApi(client).create_schema(CreateSchema(name=schema, catalog_name=catalog))
    return catalog, schema


async def all_pages(fetch: Callable[[str | None], Awaitable[Any]], attr: str) -> list[Any]:
    """Follow ``next_page_token`` to the end; returns every item of every page."""
    items: list[Any] = []
    token: str | None = None
    for _ in range(1000):
        page = await fetch(token)
        items.extend(getattr(page, attr) or [])
        token = page.next_page_token
        if not token:
            return items
    raise AssertionError("pagination did not terminate")


# -- metastore --------------------------------------------------------------------------


def test_metastore_summary(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        summary = await MetastoresApi(client).summary()
        assert summary.metastore_id

    run(server, scenario)


# -- catalogs ---------------------------------------------------------------------------


def test_catalog_lifecycle(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        api = CatalogsApi(client)
        name = unique("sdkcat")

        created = await api.create_catalog(
            CreateCatalog(name=name, comment="first", properties={"team": "ml"})
        )
        assert created.name == name
        assert created.comment == "first"
        assert created.properties == {"team": "ml"}
        assert created.id
        assert created.owner
        assert isinstance(created.created_at, int) and created.created_at > 0
        assert created.created_by

        got = await api.get_catalog(name)
        assert got.id == created.id
        assert got.comment == "first"
        assert got.properties == {"team": "ml"}

        listed = await all_pages(
            lambda token: api.list_catalogs(page_token=token, max_results=50), "catalogs"
        )
        assert name in {c.name for c in listed}

        updated = await api.update_catalog(
            name, UpdateCatalog(comment="second", properties={"team": "ml", "tier": "gold"})
        )
        assert updated.name == name
        assert updated.comment == "second"
        assert updated.properties == {"team": "ml", "tier": "gold"}
        assert updated.id == created.id
        assert isinstance(updated.updated_at, int) and updated.updated_at >= created.created_at
        assert (await api.get_catalog(name)).comment == "second"

        renamed = unique("sdkcat")
        moved = await api.update_catalog(name, UpdateCatalog(new_name=renamed))
        assert moved.name == renamed
        assert moved.id == created.id
        assert moved.comment == "second"
        with pytest.raises(NotFoundException):
            await api.get_catalog(name)

        await api.delete_catalog(renamed)
        with pytest.raises(NotFoundException) as caught:
            await api.get_catalog(renamed)
        assert caught.value.status == 404
        assert error_body(caught.value)["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    run(server, scenario)


def test_delete_non_empty_catalog_needs_force(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        catalog, schema = await new_schema(client)
        api = CatalogsApi(client)
        with pytest.raises(ApiException) as caught:
            await api.delete_catalog(catalog)
        assert caught.value.status in (400, 409)
        assert (await SchemasApi(client).get_schema(f"{catalog}.{schema}")).name == schema

        await api.delete_catalog(catalog, force=True)
        with pytest.raises(NotFoundException):
            await api.get_catalog(catalog)
        with pytest.raises(NotFoundException):
            await SchemasApi(client).get_schema(f"{catalog}.{schema}")

    run(server, scenario)


# -- schemas ----------------------------------------------------------------------------


def test_schema_lifecycle(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        catalog = await new_catalog(client)
        api = SchemasApi(client)
        name = unique("sdksch")
        full_name = f"{catalog}.{name}"

        created = await api.create_schema(
            CreateSchema(name=name, catalog_name=catalog, comment="first", properties={"k": "v"})
        )
        assert created.name == name
        assert created.catalog_name == catalog
        assert created.full_name == full_name
        assert created.comment == "first"
        assert created.properties == {"k": "v"}
        assert created.schema_id
        assert created.owner
        assert isinstance(created.created_at, int)

        got = await api.get_schema(full_name)
        assert got.schema_id == created.schema_id
        assert got.full_name == full_name

        listed = await api.list_schemas(catalog_name=catalog)
        assert [s.full_name for s in listed.schemas or []] == [full_name]
        assert not listed.next_page_token

        updated = await api.update_schema(full_name, UpdateSchema(comment="second"))
        assert updated.comment == "second"
        assert updated.full_name == full_name
        assert updated.schema_id == created.schema_id
        assert (await api.get_schema(full_name)).comment == "second"

        renamed = unique("sdksch")
        moved = await api.update_schema(full_name, UpdateSchema(new_name=renamed))
        assert moved.name == renamed
        assert moved.full_name == f"{catalog}.{renamed}"
        assert moved.schema_id == created.schema_id

        await api.delete_schema(f"{catalog}.{renamed}")
        with pytest.raises(NotFoundException) as caught:
            await api.get_schema(f"{catalog}.{renamed}")
        assert error_body(caught.value)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert (await api.list_schemas(catalog_name=catalog)).schemas in (None, [])

        await CatalogsApi(client).delete_catalog(catalog)

    run(server, scenario)


# -- tables -----------------------------------------------------------------------------


def _columns() -> list[ColumnInfo]:
    return [
        ColumnInfo(
            name="id",
            type_text="bigint",
            type_json='{"name":"id","type":"long","nullable":false,"metadata":{}}',
            type_name=ColumnTypeName.LONG,
            position=0,
            nullable=False,
            comment="key",
        ),
        ColumnInfo(
            name="price",
            type_text="decimal(10,2)",
            type_json='{"name":"price","type":"decimal(10,2)","nullable":true,"metadata":{}}',
            type_name=ColumnTypeName.DECIMAL,
            type_precision=10,
            type_scale=2,
            position=1,
            nullable=True,
        ),
        ColumnInfo(
            name="day",
            type_text="date",
            type_json='{"name":"day","type":"date","nullable":true,"metadata":{}}',
            type_name=ColumnTypeName.DATE,
            position=2,
            partition_index=0,
        ),
    ]


def test_table_lifecycle(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        catalog, schema = await new_schema(client)
        api = TablesApi(client)
        name = unique("sdktbl")
        full_name = f"{catalog}.{schema}.{name}"
        location = f"file:///tmp/steward-sdk/{name}"

        created = await api.create_table(
            CreateTable(
                name=name,
                catalog_name=catalog,
                schema_name=schema,
                table_type=TableType.EXTERNAL,
                data_source_format=DataSourceFormat.DELTA,
                columns=_columns(),
                storage_location=location,
                comment="prices",
                properties={"quality": "silver"},
            )
        )
        assert created.name == name
        assert created.catalog_name == catalog
        assert created.schema_name == schema
        assert created.table_type == TableType.EXTERNAL
        assert created.data_source_format == DataSourceFormat.DELTA
        assert created.storage_location == location
        assert created.comment == "prices"
        assert created.properties == {"quality": "silver"}
        assert created.table_id
        assert created.owner
        columns = created.columns or []
        assert [c.name for c in columns] == ["id", "price", "day"]
        assert [c.type_name for c in columns] == [
            ColumnTypeName.LONG,
            ColumnTypeName.DECIMAL,
            ColumnTypeName.DATE,
        ]
        assert columns[0].nullable is False
        assert (columns[1].type_precision, columns[1].type_scale) == (10, 2)
        assert columns[2].partition_index == 0

        got = await api.get_table(full_name)
        assert got.table_id == created.table_id
        assert [c.name for c in got.columns or []] == ["id", "price", "day"]
        assert (got.columns or [])[1].type_text == "decimal(10,2)"

        listed = await api.list_tables(catalog_name=catalog, schema_name=schema)
        assert [t.name for t in listed.tables or []] == [name]
        assert not listed.next_page_token

        with pytest.raises(ApiException) as caught:
            await api.create_table(
                CreateTable(
                    name=name,
                    catalog_name=catalog,
                    schema_name=schema,
                    table_type=TableType.EXTERNAL,
                    data_source_format=DataSourceFormat.DELTA,
                    columns=_columns(),
                    storage_location=location,
                )
            )
        assert caught.value.status == 409
        assert error_body(caught.value)["error_code"] == "RESOURCE_ALREADY_EXISTS"

        await api.delete_table(full_name)
        with pytest.raises(NotFoundException) as missing:
            await api.get_table(full_name)
        assert error_body(missing.value)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        listed = await api.list_tables(catalog_name=catalog, schema_name=schema)
        assert listed.tables in (None, [])

    run(server, scenario)


# -- registered models and model versions -----------------------------------------------


def test_registered_model_and_version_lifecycle(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        catalog, schema = await new_schema(client)
        models = RegisteredModelsApi(client)
        versions = ModelVersionsApi(client)
        name = unique("sdkmdl")
        full_name = f"{catalog}.{schema}.{name}"

        model = await models.create_registered_model(
            CreateRegisteredModel(
                name=name, catalog_name=catalog, schema_name=schema, comment="first"
            )
        )
        assert model.name == name
        assert model.full_name == full_name
        assert model.catalog_name == catalog
        assert model.schema_name == schema
        assert model.comment == "first"
        assert model.id
        assert model.owner
        assert model.storage_location

        got = await models.get_registered_model(full_name)
        assert got.id == model.id

        listed = await models.list_registered_models(catalog_name=catalog, schema_name=schema)
        assert [m.full_name for m in listed.registered_models or []] == [full_name]

        updated = await models.update_registered_model(
            full_name, UpdateRegisteredModel(comment="second")
        )
        assert updated.comment == "second"
        assert updated.id == model.id
        assert (await models.get_registered_model(full_name)).comment == "second"

        # create -> finalize -> get -> list -> update comment -> delete
        version = await versions.create_model_version(
            CreateModelVersion(
                model_name=name,
                catalog_name=catalog,
                schema_name=schema,
                source="file:///tmp/mlruns/0/abc/artifacts/model",
                run_id="abc",
                comment="v1",
            )
        )
        assert version.version == 1
        assert version.model_name == name
        assert version.catalog_name == catalog
        assert version.schema_name == schema
        assert version.source == "file:///tmp/mlruns/0/abc/artifacts/model"
        assert version.run_id == "abc"
        assert version.comment == "v1"
        assert version.status == ModelVersionStatus.PENDING_REGISTRATION
        assert version.storage_location
        assert version.id

        write_mlmodel(version.storage_location)
        finalized = await versions.finalize_model_version(
            full_name, 1, FinalizeModelVersion(full_name=full_name, version=1)
        )
        assert finalized.status == ModelVersionStatus.READY
        assert finalized.id == version.id

        got_version = await versions.get_model_version(full_name, 1)
        assert got_version.status == ModelVersionStatus.READY
        assert got_version.source == version.source

        listed_versions = await versions.list_model_versions(full_name)
        assert [v.version for v in listed_versions.model_versions or []] == [1]

        commented = await versions.update_model_version(
            full_name, 1, UpdateModelVersion(comment="v1, reviewed")
        )
        assert commented.comment == "v1, reviewed"
        assert commented.status == ModelVersionStatus.READY
        assert (await versions.get_model_version(full_name, 1)).comment == "v1, reviewed"

        await versions.delete_model_version(full_name, 1)
        with pytest.raises(NotFoundException) as caught:
            await versions.get_model_version(full_name, 1)
        assert error_body(caught.value)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert (await versions.list_model_versions(full_name)).model_versions in (None, [])

        await models.delete_registered_model(full_name)
        with pytest.raises(NotFoundException) as caught:
            await models.get_registered_model(full_name)
        assert error_body(caught.value)["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    run(server, scenario)


def test_delete_model_with_versions_needs_force(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        catalog, schema = await new_schema(client)
        models = RegisteredModelsApi(client)
        name = unique("sdkmdl")
        full_name = f"{catalog}.{schema}.{name}"
        await models.create_registered_model(
            CreateRegisteredModel(name=name, catalog_name=catalog, schema_name=schema)
        )
        await ModelVersionsApi(client).create_model_version(
            CreateModelVersion(
                model_name=name, catalog_name=catalog, schema_name=schema, source="file:///m"
            )
        )
        with pytest.raises(ApiException) as caught:
            await models.delete_registered_model(full_name)
        assert caught.value.status in (400, 409)

        await models.delete_registered_model(full_name, force=True)
        with pytest.raises(NotFoundException):
            await models.get_registered_model(full_name)

    run(server, scenario)


# -- pagination -------------------------------------------------------------------------


def test_pagination_through_the_sdk(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        catalog = await new_catalog(client)
        schemas_api = SchemasApi(client)
        names = sorted(unique(f"sdkp{i}") for i in range(5))
        for name in names:
            await schemas_api.create_schema(CreateSchema(name=name, catalog_name=catalog))

        pages: list[list[str]] = []
        token: str | None = None
        while True:
            page = await schemas_api.list_schemas(
                catalog_name=catalog, max_results=2, page_token=token
            )
            pages.append([s.name for s in page.schemas or []])
            token = page.next_page_token
            if not token:
                break
            assert len(pages) < 10, "pagination did not terminate"
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sorted(n for p in pages for n in p) == names

        # Registered models and model versions page the same way.
        schema = names[0]
        models = RegisteredModelsApi(client)
        model_names = sorted(unique("sdkpm") for _ in range(3))
        for name in model_names:
            await models.create_registered_model(
                CreateRegisteredModel(name=name, catalog_name=catalog, schema_name=schema)
            )
        first = await models.list_registered_models(
            catalog_name=catalog, schema_name=schema, max_results=2
        )
        assert len(first.registered_models or []) == 2
        assert first.next_page_token
        listed_models = await all_pages(
            lambda t: models.list_registered_models(
                catalog_name=catalog, schema_name=schema, max_results=2, page_token=t
            ),
            "registered_models",
        )
        assert sorted(m.name for m in listed_models) == model_names

        versions = ModelVersionsApi(client)
        model = model_names[0]
        for _ in range(3):
            await versions.create_model_version(
                CreateModelVersion(
                    model_name=model, catalog_name=catalog, schema_name=schema, source="file:///m"
                )
            )
        full_name = f"{catalog}.{schema}.{model}"
        first_versions = await versions.list_model_versions(full_name, max_results=2)
        assert len(first_versions.model_versions or []) == 2
        assert first_versions.next_page_token
        listed_versions = await all_pages(
            lambda t: versions.list_model_versions(full_name, max_results=2, page_token=t),
            "model_versions",
        )
        assert sorted(v.version for v in listed_versions) == [1, 2, 3]

        # Tables too (the spec caps a table page at 50).
        tables = TablesApi(client)
        table_names = sorted(unique("sdkpt") for _ in range(3))
        for name in table_names:
            await tables.create_table(
                CreateTable(
                    name=name,
                    catalog_name=catalog,
                    schema_name=schema,
                    table_type=TableType.EXTERNAL,
                    data_source_format=DataSourceFormat.PARQUET,
                    columns=_columns()[:1],
                    storage_location=f"file:///tmp/steward-sdk/{name}",
                )
            )
        listed_tables = await all_pages(
            lambda t: tables.list_tables(
                catalog_name=catalog, schema_name=schema, max_results=2, page_token=t
            ),
            "tables",
        )
        assert sorted(t.name for t in listed_tables) == table_names

        # Catalogs: every page respects max_results and ours are all reachable.
        catalogs = CatalogsApi(client)
        seen: list[str] = []
        token = None
        while True:
            page = await catalogs.list_catalogs(max_results=2, page_token=token)
            assert len(page.catalogs or []) <= 2
            seen.extend(c.name for c in page.catalogs or [] if c.name)
            token = page.next_page_token
            if not token:
                break
        assert catalog in seen
        assert len(seen) == len(set(seen))

        await catalogs.delete_catalog(catalog, force=True)

    run(server, scenario)


# -- errors -----------------------------------------------------------------------------


def test_sdk_surfaces_not_found(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        missing = unique("nosuch")
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: CatalogsApi(client).get_catalog(missing),
            lambda: SchemasApi(client).get_schema(f"{missing}.s"),
            lambda: TablesApi(client).get_table(f"{missing}.s.t"),
            lambda: RegisteredModelsApi(client).get_registered_model(f"{missing}.s.m"),
            lambda: ModelVersionsApi(client).get_model_version(f"{missing}.s.m", 1),
            lambda: CatalogsApi(client).update_catalog(missing, UpdateCatalog(comment="x")),
            lambda: SchemasApi(client).list_schemas(catalog_name=missing),
        ]
        for call in calls:
            with pytest.raises(NotFoundException) as caught:
                await call()
            assert caught.value.status == 404
            assert error_body(caught.value)["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    run(server, scenario)


def test_sdk_surfaces_already_exists(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        catalog, schema = await new_schema(client)

        with pytest.raises(ApiException) as caught:
            await CatalogsApi(client).create_catalog(CreateCatalog(name=catalog))
        assert caught.value.status == 409
        assert error_body(caught.value)["error_code"] == "RESOURCE_ALREADY_EXISTS"

        with pytest.raises(ApiException) as caught:
            await SchemasApi(client).create_schema(
                CreateSchema(name=schema.upper(), catalog_name=catalog)
            )
        assert caught.value.status == 409
        assert error_body(caught.value)["error_code"] == "RESOURCE_ALREADY_EXISTS"

        name = unique("sdkmdl")
        request = CreateRegisteredModel(name=name, catalog_name=catalog, schema_name=schema)
        await RegisteredModelsApi(client).create_registered_model(request)
        with pytest.raises(ApiException) as caught:
            await RegisteredModelsApi(client).create_registered_model(request)
        assert caught.value.status == 409
        assert error_body(caught.value)["error_code"] == "RESOURCE_ALREADY_EXISTS"

    run(server, scenario)


def test_sdk_surfaces_bad_input_and_bad_credentials(server: ServerHandle) -> None:
    async def scenario(client: ApiClient) -> None:
        with pytest.raises(BadRequestException) as caught:
            await CatalogsApi(client).list_catalogs(max_results=-1)
        assert error_body(caught.value)["error_code"] == "INVALID_PARAMETER_VALUE"

        with pytest.raises(BadRequestException) as caught:
            await CatalogsApi(client).list_catalogs(page_token="not a token")
        assert error_body(caught.value)["error_code"] == "INVALID_PARAMETER_VALUE"

    run(server, scenario)

    async def unauthenticated(client: ApiClient) -> None:
        with pytest.raises(UnauthorizedException) as caught:
            await CatalogsApi(client).list_catalogs()
        assert caught.value.status == 401
        assert error_body(caught.value)["error_code"] == "UNAUTHENTICATED"

    run(server, unauthenticated, token="dapi-not-a-real-token")


def test_create_table_view_fields_are_typed_and_never_dropped(server: ServerHandle) -> None:
    """SDK >= 0.7 models ``view_definition``/``view_dependencies`` on CreateTable: the server
    accepts the reference shape, rejects a malformed one, and refuses to silently drop a view
    definition on a table type that has none."""
    admin = server.admin
    catalog, schema = unique("sdkcat"), unique("sdksch")
    assert admin.post(f"{UC_PATH}/catalogs", json={"name": catalog}).status_code == 200
    created = admin.post(f"{UC_PATH}/schemas", json={"name": schema, "catalog_name": catalog})
    assert created.status_code == 200, created.text
    base = {
        "catalog_name": catalog,
        "schema_name": schema,
        "table_type": "EXTERNAL",
        "data_source_format": "DELTA",
        "storage_location": "file:///tmp/steward-sdk/view-fields",
        "columns": [{"name": "id", "type_name": "LONG", "type_text": "bigint", "position": 0}],
    }
    dependencies = {"dependencies": [{"table": {"table_full_name": f"{catalog}.{schema}.x"}}]}

    malformed = admin.post(
        f"{UC_PATH}/tables",
        json={**base, "name": unique("t"), "view_dependencies": {"tables": ["x"]}},
    )
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["error_code"] == "INVALID_PARAMETER_VALUE"

    for extra in (
        {"view_definition": "SELECT 1"},
        {"view_dependencies": dependencies},
    ):
        response = admin.post(f"{UC_PATH}/tables", json={**base, "name": unique("t"), **extra})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "view_definition" in body["message"]

    plain = admin.post(f"{UC_PATH}/tables", json={**base, "name": unique("t")})
    assert plain.status_code == 200, plain.text
