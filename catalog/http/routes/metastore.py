"""``/api/2.1/unity-catalog/metastore_summary``: what this metastore is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from catalog.http.deps import RuntimeDep
from catalog.http.guards import AUTHENTICATED, guard

router = APIRouter(prefix="/api/2.1/unity-catalog", tags=["Metastores"])


@router.get("/metastore_summary", dependencies=[guard(AUTHENTICATED)], operation_id="summary")
def metastore_summary(rt: RuntimeDep) -> dict[str, Any]:
    m = rt.namespace.metastore()
    return {"metastore_id": m.id, "name": m.name, "owner": m.owner, "created_at": m.created_at}
