"""``/api/2.1/unity-catalog/models`` and model versions, as in the UC reference spec."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from catalog.access.authorizer import Caller
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.direct import DIRECT, json_answer
from catalog.http.guards import AUTHENTICATED, guard, require_visible
from catalog.http.models import Empty, RequestBody, SecurableInfo, ShortName
from catalog.names import normalize_part
from catalog.records import SecurableRecord
from common.errors import InvalidParameter
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType
from registry.http.deps import RegistryDep
from registry.model_store import VersionRecord
from registry.version_dependencies import Dependencies, FeatureLookupSpec

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["RegisteredModels"])
MODEL = SecurableType.MODEL
BY_NAME = NameFrom.path("full_name")
PAGE_MAX = 50
#: Model metadata (the model, its versions and aliases): whoever sees the model — BROWSE,
#: EXECUTE or any other privilege on it or inherited (docs/privileges.md, "Visibility").
BROWSE = guard(privilege=Privilege.BROWSE, on=MODEL, name_from=BY_NAME)


class CreateRegisteredModel(RequestBody):
    name: str
    catalog_name: str
    schema_name: str
    comment: str | None = None


class UpdateRegisteredModel(RequestBody):
    comment: str | None = None
    new_name: str | None = None
    owner: str | None = None
    #: MLflow's client repeats the path's name in the body; it must match.
    full_name: str | None = None


class RegisteredModelInfo(SecurableInfo):
    name: str
    catalog_name: str
    schema_name: str
    storage_location: str | None = None
    full_name: str
    comment: str | None = None
    id: str
    aliases: list[RegisteredModelAlias] | None = None


class RegisteredModelTag(BaseModel):
    key: str
    value: str | None = None


class RegisteredModelWithTags(RegisteredModelInfo):
    """``GET …/models/{full_name}?include_tags=true``, Steward's: the model's tags (its tag
    assignments, docs/api.md) with it, in one request. MLflow's client reads a model's tags
    with every read of the model (the ``steward:`` plugin asks this way)."""

    tags: list[RegisteredModelTag]


class ListRegisteredModelsResponse(BaseModel):
    registered_models: list[RegisteredModelInfo]
    next_page_token: str | None = None


class ModelVersionStatus(StrEnum):
    MODEL_VERSION_STATUS_UNKNOWN = "MODEL_VERSION_STATUS_UNKNOWN"
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


class Tag(RequestBody):
    key: str = Field(min_length=1, max_length=250)
    value: str = Field(default="", max_length=5000)


class FeatureLookupBody(RequestBody):
    table_name: str = Field(min_length=1, max_length=1024)
    lookup_key: list[str] = Field(min_length=1, max_length=32)
    feature_names: list[str] | None = Field(default=None, max_length=1000)
    timestamp_lookup_key: str | None = Field(default=None, max_length=255)
    rename_outputs: dict[str, str] | None = Field(default=None, max_length=1000)


class DependenciesBody(RequestBody):
    """Steward's extension: what the version was trained from (becomes lineage)."""

    training_tables: list[str] = Field(default_factory=list, max_length=100)
    feature_lookups: list[FeatureLookupBody] = Field(default_factory=list, max_length=100)

    def to_domain(self) -> Dependencies:
        return Dependencies(
            training_tables=list(self.training_tables),
            feature_lookups=[
                FeatureLookupSpec(**f.model_dump(exclude_none=True)) for f in self.feature_lookups
            ],
        )


class CreateModelVersion(RequestBody):
    model_name: str
    catalog_name: str
    schema_name: str
    source: str = Field(min_length=1)
    run_id: ShortName | None = None
    comment: str | None = None
    tags: list[Tag] | None = Field(default=None, max_length=100)
    dependencies: DependenciesBody | None = None


class UpdateModelVersion(RequestBody):
    comment: str | None = None
    #: MLflow's client repeats the path's name and version in the body; they must match.
    full_name: str | None = None
    version: int | None = None
    #: Tags to set (replacing a tag with the same key) and keys to delete.
    tags: list[Tag] | None = Field(default=None, max_length=100)
    delete_tags: list[str] | None = Field(default=None, max_length=100)


class SetAlias(RequestBody):
    version_num: int = Field(ge=1, le=2**31 - 1)


class RegisteredModelAlias(BaseModel):
    alias_name: str
    version_num: int


class TagInfo(BaseModel):
    key: str
    value: str


class ModelSignature(BaseModel):
    inputs: Any
    outputs: Any


class FinalizeModelVersion(RequestBody):
    full_name: str
    version: int


class ModelVersionInfo(BaseModel):
    model_name: str
    catalog_name: str
    schema_name: str
    version: int
    source: str
    run_id: str | None = None
    status: ModelVersionStatus
    #: Left out for callers who may not load the model (it is where the artifacts are).
    storage_location: str | None = None
    comment: str | None = None
    created_at: int
    created_by: str
    updated_at: int | None = None
    updated_by: str | None = None
    id: str
    status_message: str | None = None
    aliases: list[RegisteredModelAlias] = Field(default_factory=list)
    tags: list[TagInfo] = Field(default_factory=list)
    signature: ModelSignature | None = None
    dependencies: dict[str, Any] | None = None
    artifact_digest: str | None = None
    artifact_size: int | None = None


class ListModelVersionsResponse(BaseModel):
    model_versions: list[ModelVersionInfo]
    next_page_token: str | None = None


def model_info(r: SecurableRecord) -> RegisteredModelInfo:
    catalog_name, schema_name, name = r.full_name.split(".")
    return RegisteredModelInfo(
        name=name,
        catalog_name=catalog_name,
        schema_name=schema_name,
        storage_location=r.storage_location,
        full_name=r.full_name,
        comment=r.comment,
        **SecurableInfo.stamps(r),
        id=r.id,
    )


def version_info(
    model: SecurableRecord, v: VersionRecord, location: str | None
) -> ModelVersionInfo:
    """``location``: the ``storage_location`` to show (:func:`location_of`), or None."""
    catalog_name, schema_name, name = model.full_name.split(".")
    return ModelVersionInfo(
        model_name=name,
        catalog_name=catalog_name,
        schema_name=schema_name,
        version=v.version,
        source=v.source,
        run_id=v.run_id,
        status=ModelVersionStatus(v.status),
        storage_location=location,
        comment=v.comment,
        created_at=v.created_at,
        created_by=v.created_by,
        updated_at=v.updated_at,
        updated_by=v.updated_by,
        id=v.id,
        status_message=v.status_message,
        aliases=[RegisteredModelAlias(alias_name=a, version_num=v.version) for a in v.aliases],
        tags=[TagInfo(key=k, value=value) for k, value in v.tags.items()],
        signature=ModelSignature(**orjson.loads(v.signature)) if v.signature else None,
        dependencies=orjson.loads(v.dependencies) if v.dependencies else None,
        artifact_digest=v.artifact_digest,
        artifact_size=v.artifact_size,
    )


# -- registered models ------------------------------------------------------------------


@router.post(
    "/models",
    dependencies=[
        guard(
            privilege=Privilege.CREATE_MODEL,
            on=SecurableType.SCHEMA,
            name_from=NameFrom.body("catalog_name", "schema_name"),
        )
    ],
    operation_id="createRegisteredModel",
)
def create_model(
    body: CreateRegisteredModel, caller: CallerDep, registry: RegistryDep
) -> RegisteredModelInfo:
    full_name = ".".join(
        [
            normalize_part(body.catalog_name, "catalog_name"),
            normalize_part(body.schema_name, "schema_name"),
            normalize_part(body.name),
        ]
    )
    return model_info(registry.create_model(caller, full_name, body.comment))


@router.get("/models", dependencies=[guard(AUTHENTICATED)], operation_id="listRegisteredModels")
async def list_models(
    caller: CallerDep,
    rt: RuntimeDep,
    registry: RegistryDep,
    catalog_name: str | None = None,
    schema_name: str | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> ListRegisteredModelsResponse:
    catalog = normalize_part(catalog_name, "catalog_name") if catalog_name else None
    schema = normalize_part(schema_name, "schema_name") if schema_name else None
    if catalog and schema:
        # A schema the caller cannot see lists as a missing one (404), as its GET does.
        await run_in_threadpool(
            require_visible, rt, caller, SecurableType.SCHEMA, f"{catalog}.{schema}"
        )
    page = await run_in_threadpool(
        registry.list_models, caller, catalog, schema, max_results, page_token, PAGE_MAX
    )
    return ListRegisteredModelsResponse(
        registered_models=[model_info(r) for r in page.items],
        next_page_token=page.next_page_token,
    )


@router.get(
    "/models/{full_name}",
    dependencies=[BROWSE],
    operation_id="getRegisteredModel",
    response_model=RegisteredModelInfo,
    openapi_extra=DIRECT,
)
async def get_model(full_name: str, registry: RegistryDep, include_tags: bool = False) -> Response:
    """MLflow's client asks for the model (and its tags) twice per registration: a direct
    route. ``include_tags=true`` (Steward's) answers the tags too, from the same read."""
    info = await run_in_threadpool(_model_info, full_name, registry, include_tags)
    return json_answer(info)


def _model_info(full_name: str, registry: RegistryDep, include_tags: bool) -> RegisteredModelInfo:
    model, aliases, tags = registry.model_details(full_name, with_tags=include_tags)
    info = model_info(model)
    info.aliases = [
        RegisteredModelAlias(alias_name=a.alias, version_num=a.version) for a in aliases
    ]
    if not include_tags:
        return info
    return RegisteredModelWithTags(
        **{name: getattr(info, name) for name in RegisteredModelInfo.model_fields},
        tags=[RegisteredModelTag(key=t.key, value=t.value) for t in tags],
    )


@router.patch(
    "/models/{full_name}",
    dependencies=[guard(privilege=Privilege.MANAGE, on=MODEL, name_from=BY_NAME)],
    operation_id="updateRegisteredModel",
)
def update_model(
    full_name: str,
    body: UpdateRegisteredModel,
    caller: CallerDep,
    rt: RuntimeDep,
    registry: RegistryDep,
) -> RegisteredModelInfo:
    _same_target(full_name, body.full_name)
    owner = (
        rt.identity.require_principal_name(body.owner, "owner") if body.owner is not None else None
    )
    record = registry.update_model(caller, full_name, body.comment, body.new_name, owner)
    return model_info(record)


@router.delete(
    "/models/{full_name}",
    dependencies=[guard(privilege=Privilege.OWNERSHIP, on=MODEL, name_from=BY_NAME)],
    operation_id="deleteRegisteredModel",
)
def delete_model(full_name: str, registry: RegistryDep, force: bool = False) -> Empty:
    registry.delete_model(full_name, force)
    return Empty()


# -- model versions ---------------------------------------------------------------------


@router.post(
    "/models/versions",
    dependencies=[
        guard(
            privilege=Privilege.CREATE_MODEL_VERSION,
            on=MODEL,
            name_from=NameFrom.body("catalog_name", "schema_name", "model_name"),
        )
    ],
    operation_id="createModelVersion",
    tags=["ModelVersions"],
)
def create_version(
    body: CreateModelVersion, caller: CallerDep, rt: RuntimeDep, registry: RegistryDep
) -> ModelVersionInfo:
    full_name = f"{body.catalog_name}.{body.schema_name}.{body.model_name}"
    model, version = registry.create_version(
        caller,
        full_name,
        body.source,
        body.run_id,
        body.comment,
        tags={t.key: t.value for t in body.tags or []},
        dependencies=body.dependencies.to_domain() if body.dependencies else None,
    )
    return version_info(model, version, location_of(rt, model, version))


@router.get(
    "/models/{full_name}/versions",
    dependencies=[BROWSE],
    operation_id="listModelVersions",
    tags=["ModelVersions"],
)
def list_versions(
    full_name: str,
    caller: CallerDep,
    rt: RuntimeDep,
    registry: RegistryDep,
    max_results: int | None = None,
    page_token: str | None = None,
) -> ListModelVersionsResponse:
    model, page = registry.list_versions(full_name, max_results, page_token, PAGE_MAX)
    loads = may_load(rt, caller, model.full_name)
    return ListModelVersionsResponse(
        model_versions=[
            version_info(model, v, location_of(rt, model, v) if loads else None) for v in page.items
        ],
        next_page_token=page.next_page_token,
    )


@router.get(
    "/models/{full_name}/versions/{version}",
    dependencies=[BROWSE],
    operation_id="getModelVersion",
    tags=["ModelVersions"],
)
def get_version(
    full_name: str, version: int, caller: CallerDep, rt: RuntimeDep, registry: RegistryDep
) -> ModelVersionInfo:
    model, record = registry.get_version(full_name, version)
    return _shown(rt, caller, model, record)


@router.patch(
    "/models/{full_name}/versions/{version}",
    dependencies=[guard(privilege=Privilege.MANAGE, on=MODEL, name_from=BY_NAME)],
    operation_id="updateModelVersion",
    tags=["ModelVersions"],
)
def update_version(
    full_name: str,
    version: int,
    body: UpdateModelVersion,
    caller: CallerDep,
    rt: RuntimeDep,
    registry: RegistryDep,
) -> ModelVersionInfo:
    _same_target(full_name, body.full_name, version, body.version)
    model, record = registry.update_version(
        caller,
        full_name,
        version,
        body.comment,
        set_tags={t.key: t.value for t in body.tags or []},
        delete_tags=body.delete_tags,
    )
    return version_info(model, record, location_of(rt, model, record))


@router.delete(
    "/models/{full_name}/versions/{version}",
    dependencies=[guard(privilege=Privilege.OWNERSHIP, on=MODEL, name_from=BY_NAME)],
    operation_id="deleteModelVersion",
    tags=["ModelVersions"],
)
def delete_version(full_name: str, version: int, registry: RegistryDep) -> Empty:
    registry.delete_version(full_name, version)
    return Empty()


@router.patch(
    "/models/{full_name}/versions/{version}/finalize",
    dependencies=[guard(privilege=Privilege.CREATE_MODEL_VERSION, on=MODEL, name_from=BY_NAME)],
    operation_id="finalizeModelVersion",
    tags=["ModelVersions"],
)
def finalize_version(
    full_name: str,
    version: int,
    caller: CallerDep,
    rt: RuntimeDep,
    registry: RegistryDep,
    body: FinalizeModelVersion | None = None,
) -> ModelVersionInfo:
    if body is not None:
        _same_target(full_name, body.full_name, version, body.version)
    model, record = registry.finalize_version(caller, full_name, version)
    return version_info(model, record, location_of(rt, model, record))


# -- aliases (Databricks paths) ----------------------------------------------------------


@router.put(
    "/models/{full_name}/aliases/{alias}",
    dependencies=[guard(privilege=Privilege.MANAGE, on=MODEL, name_from=BY_NAME)],
    operation_id="setRegisteredModelAlias",
    tags=["ModelAliases"],
)
def set_alias(
    full_name: str, alias: str, body: SetAlias, caller: CallerDep, registry: RegistryDep
) -> RegisteredModelAlias:
    """Point the alias at a READY version, creating or moving it atomically."""
    record, _previous = registry.set_alias(caller, full_name, alias, body.version_num)
    return RegisteredModelAlias(alias_name=record.alias, version_num=record.version)


@router.delete(
    "/models/{full_name}/aliases/{alias}",
    dependencies=[guard(privilege=Privilege.MANAGE, on=MODEL, name_from=BY_NAME)],
    operation_id="deleteRegisteredModelAlias",
    tags=["ModelAliases"],
)
def delete_alias(full_name: str, alias: str, caller: CallerDep, registry: RegistryDep) -> Empty:
    registry.delete_alias(caller, full_name, alias)
    return Empty()


@router.get(
    "/models/{full_name}/aliases/{alias}",
    dependencies=[BROWSE],
    operation_id="getModelVersionByAlias",
    tags=["ModelAliases"],
    response_model=ModelVersionInfo,
    openapi_extra=DIRECT,
)
async def get_by_alias(
    full_name: str, alias: str, caller: CallerDep, rt: RuntimeDep, registry: RegistryDep
) -> Response:
    """Every load by alias (``models:/name@champion``) asks this first. When the model's
    chain and the version are kept in memory (mostly: the guard just resolved the chain),
    it is answered here on the event loop, as GET table is; else in a worker thread."""
    kept = registry.cached_by_alias(full_name, alias)
    if kept is None:
        info = await run_in_threadpool(_by_alias, full_name, alias, caller, rt, registry)
    else:
        chain, record = kept
        loads = rt.authorizer.allows_on_chain(caller, Privilege.EXECUTE, chain)
        info = _as_seen(rt, chain[-1], record, loads)
    body = ModelVersionInfo.__pydantic_serializer__.to_json(info, by_alias=True)
    return Response(body, media_type="application/json")


def _by_alias(
    full_name: str, alias: str, caller: Caller, rt: RuntimeDep, registry: RegistryDep
) -> ModelVersionInfo:
    model, record = registry.get_by_alias(full_name, alias)
    return _shown(rt, caller, model, record)


def location_of(rt: RuntimeDep, model: SecurableRecord, v: VersionRecord) -> str:
    """Where a version's files are, as a client should reach them: their URL under
    ``STEWARD_PUBLIC_URL`` (Steward's artifact routes) when the server knows its address,
    else the ``file:`` path, which only a client on the server's machine can use."""
    public = rt.settings.public_url
    if public is None:
        return v.storage_location
    name = quote(model.full_name, safe="")
    return f"{public}/api/2.1/steward/models/{name}/versions/{v.version}/artifacts"


def _shown(
    rt: RuntimeDep, caller: Caller, model: SecurableRecord, record: VersionRecord
) -> ModelVersionInfo:
    """A version as a reader sees it: the location only for who may load the model."""
    return _as_seen(rt, model, record, may_load(rt, caller, model.full_name))


def _as_seen(
    rt: RuntimeDep, model: SecurableRecord, record: VersionRecord, loads: bool
) -> ModelVersionInfo:
    """The version with its location shown only to a caller who may load the model."""
    return version_info(model, record, location_of(rt, model, record) if loads else None)


def may_load(rt: RuntimeDep, caller: Caller, full_name: str) -> bool:
    """Whether the caller may load the model's artifacts (USE gates + EXECUTE, docs/privileges.md).

    A version's ``storage_location`` is where MLflow's ``file:`` flow reads the model
    from directly, so it is only shown to callers who may load the model; seeing the model
    shows the rest of the version.
    """
    with rt.db.read() as session:
        return rt.authorizer.allows(
            caller, Privilege.EXECUTE, MODEL, full_name, rt.stores.namespace(session)
        )


def _same_target(
    path_name: str,
    body_name: str | None,
    path_version: int | None = None,
    body_version: int | None = None,
) -> None:
    """Bodies that repeat the path's name (and version) must repeat it exactly."""
    if body_name is not None and body_name.lower() != path_name.lower():
        raise InvalidParameter("body full_name must match the path")
    if body_version is not None and body_version != path_version:
        raise InvalidParameter("body version must match the path")


@router.post(
    "/temporary-model-version-credentials",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="generateTemporaryModelVersionCredentials",
)
def temporary_model_version_credentials() -> None:
    """Unity Catalog hands MLflow's ``uc:`` client short-lived cloud storage credentials
    here when a version's files are not on a path it can write itself. Steward keeps a
    version's files behind its own artifact routes instead, which MLflow reaches through
    Steward's plugin: the answer says so, so the user learns what to change rather than
    seeing a client error about credential types."""
    raise InvalidParameter(
        "Steward hands out no cloud storage credentials: a client that cannot write a "
        "version's file: storage location uploads and downloads through Steward. With "
        "MLflow, use the registry URI steward:http(s)://host:port instead of uc:… "
        "(pip install 'steward[mlflow]'; see docs/registry.md)"
    )
