"""``/api/2.1/unity-catalog/metastore_summary`` and ``current-metastore-assignment``: what
this metastore is.

Steward is one metastore, made at first start with a UUID that never changes (the
``metastores`` row). Databricks' clients also ask which metastore their workspace is
assigned to; Steward is the one workspace, so the answer is that metastore. The
workspace id is a number in every Databricks SDK: it is the metastore id's number, as
token owners' ids are (:func:`~catalog.http.client_dialect.numeric_id`), stable for the
life of the database. No default catalog is set: Steward has none (a statement without
a catalog must name one).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from catalog.http.client_dialect import numeric_id
from catalog.http.deps import RuntimeDep
from catalog.http.guards import AUTHENTICATED, guard

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["Metastores"])


class MetastoreSummary(BaseModel):
    metastore_id: str
    name: str
    owner: str
    created_at: int


class MetastoreAssignment(BaseModel):
    metastore_id: str
    workspace_id: int


@router.get("/metastore_summary", dependencies=[guard(AUTHENTICATED)], operation_id="summary")
def metastore_summary(rt: RuntimeDep) -> MetastoreSummary:
    m = rt.namespace.metastore()
    return MetastoreSummary(metastore_id=m.id, name=m.name, owner=m.owner, created_at=m.created_at)


@router.get(
    "/current-metastore-assignment",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="getCurrentMetastoreAssignment",
)
def current_metastore_assignment(rt: RuntimeDep) -> MetastoreAssignment:
    m = rt.namespace.metastore()
    return MetastoreAssignment(metastore_id=m.id, workspace_id=numeric_id(m.id))
