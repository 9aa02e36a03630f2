"""``/api/2.1/unity-catalog/entity-tag-assignments``: tags on catalogs, schemas, tables,
columns and registered models, as Databricks' tag-assignment API (which the Databricks
SDK calls ``entity_tag_assignments``) spells them.

The entity type is a path or body field and a column is named through its table, so the
route declares only an authenticated caller and the handler asks the one authorizer for
``APPLY TAG`` (writes) or visibility (reads) on the entity (:mod:`catalog.tags.service`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.responses import Response

from catalog.access.authorizer import Caller
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.direct import DIRECT, json_answer
from catalog.http.guards import AUTHENTICATED, guard
from catalog.http.models import RequestBody
from catalog.pagination import decode_token, encode_token, page_size
from catalog.runtime import Runtime
from catalog.tags.service import MAX_TAGS, Entity, Tag
from common.errors import InvalidParameter

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["EntityTagAssignments"])
BASE = "/entity-tag-assignments"
ONE = BASE + "/{entity_type}/{entity_name}/tags/{tag_key}"
ALL = BASE + "/{entity_type}/{entity_name}/tags"


class TagAssignment(BaseModel):
    entity_type: str
    entity_name: str
    tag_key: str
    tag_value: str | None = None
    #: RFC 3339, as Databricks answers it.
    update_time: str | None = None
    updated_by: str | None = None


class NewTagAssignment(RequestBody):
    entity_type: str = Field(max_length=64)
    entity_name: str = Field(max_length=2000)
    tag_key: str = Field(max_length=255)
    tag_value: str | None = Field(default=None, max_length=1000)


class TagAssignmentChange(RequestBody):
    entity_type: str | None = Field(default=None, max_length=64)
    entity_name: str | None = Field(default=None, max_length=2000)
    tag_key: str | None = Field(default=None, max_length=255)
    tag_value: str | None = Field(default=None, max_length=1000)


class TagAssignmentList(BaseModel):
    tag_assignments: list[TagAssignment]
    next_page_token: str | None = None


def _answer(tag: Tag) -> TagAssignment:
    moment = datetime.fromtimestamp(tag.updated_at / 1000, tz=UTC)
    return TagAssignment(
        entity_type=tag.entity.entity_type,
        entity_name=tag.entity.name,
        tag_key=tag.key,
        tag_value=tag.value,
        update_time=moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        updated_by=tag.updated_by,
    )


@router.post(
    BASE,
    dependencies=[guard(AUTHENTICATED)],
    operation_id="createEntityTagAssignment",
    response_model_exclude_none=True,
)
def create_tag_assignment(
    body: NewTagAssignment, caller: CallerDep, rt: RuntimeDep
) -> TagAssignment:
    """Set a tag (replacing the value of the same key): ``APPLY TAG`` on the entity."""
    entity = Entity.parse(body.entity_type, body.entity_name)
    return _answer(rt.tags.set(caller, entity, body.tag_key, body.tag_value))


@router.get(
    ONE,
    dependencies=[guard(AUTHENTICATED)],
    operation_id="getEntityTagAssignment",
    response_model_exclude_none=True,
)
def get_tag_assignment(
    entity_type: str, entity_name: str, tag_key: str, caller: CallerDep, rt: RuntimeDep
) -> TagAssignment:
    return _answer(rt.tags.get(caller, Entity.parse(entity_type, entity_name), tag_key))


@router.get(
    ALL,
    dependencies=[guard(AUTHENTICATED)],
    operation_id="listEntityTagAssignments",
    response_model=TagAssignmentList,
    response_model_exclude_none=True,
    openapi_extra=DIRECT,
)
async def list_tag_assignments(
    entity_type: str,
    entity_name: str,
    caller: CallerDep,
    rt: RuntimeDep,
    max_results: int | None = None,
    page_token: str | None = None,
) -> Response:
    """The entity's tags by key, paged (at most 50 an entity, so one page by default).
    MLflow's client reads a model's tags with every read of the model: a direct route."""
    page = await run_in_threadpool(
        _tag_page, entity_type, entity_name, caller, rt, max_results, page_token
    )
    return json_answer(page, exclude_none=True)


def _tag_page(
    entity_type: str,
    entity_name: str,
    caller: Caller,
    rt: Runtime,
    max_results: int | None,
    page_token: str | None,
) -> TagAssignmentList:
    tags = rt.tags.list(caller, Entity.parse(entity_type, entity_name))
    size = page_size(max_results, MAX_TAGS)
    after = decode_token(page_token)
    remaining = [t for t in tags if after is None or t.key > after]
    page = remaining[:size]
    more = len(remaining) > size
    return TagAssignmentList(
        tag_assignments=[_answer(t) for t in page],
        next_page_token=encode_token(page[-1].key) if more else None,
    )


@router.patch(
    ONE,
    dependencies=[guard(AUTHENTICATED)],
    operation_id="updateEntityTagAssignment",
    response_model_exclude_none=True,
)
def update_tag_assignment(
    entity_type: str,
    entity_name: str,
    tag_key: str,
    body: TagAssignmentChange,
    caller: CallerDep,
    rt: RuntimeDep,
    update_mask: str | None = None,
) -> TagAssignment:
    """Change a tag's value (``update_mask=tag_value``); the tag must exist."""
    fields = {f.strip() for f in (update_mask or "tag_value").split(",") if f.strip()}
    unknown = fields - {"tag_value", "*"}
    if unknown:
        raise InvalidParameter(
            f"update_mask names {', '.join(sorted(unknown))}; only tag_value can change"
        )
    entity = Entity.parse(entity_type, entity_name)
    rt.tags.get(caller, entity, tag_key)  # a missing tag is 404, not created
    return _answer(rt.tags.set(caller, entity, tag_key, body.tag_value))


@router.delete(ONE, dependencies=[guard(AUTHENTICATED)], operation_id="deleteEntityTagAssignment")
def delete_tag_assignment(
    entity_type: str, entity_name: str, tag_key: str, caller: CallerDep, rt: RuntimeDep
) -> dict[str, str]:
    rt.tags.unset(caller, Entity.parse(entity_type, entity_name), tag_key)
    return {}
