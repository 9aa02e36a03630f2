"""The lineage graph: a page that draws it (``static/lineage.js``, Cytoscape.js) and the
JSON it draws from — the lineage API's answer for the signed-in user, one level at a time,
with the nodes they may not see redacted by the API itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from steward.console.api import ApiError
from steward.console.app import Page, signed_in

router = APIRouter()
PageDep = Annotated[Page, Depends(signed_in)]
LINEAGE = "/api/2.1/steward/lineage"


@router.get("/console/lineage")
async def lineage_page(
    page: PageDep, name: str = "", depth: Annotated[int, Query(ge=1, le=5)] = 1
) -> Response:
    return page.render("lineage.html", name=name, depth=depth)


@router.get("/console/lineage/data")
async def lineage_data(
    page: PageDep,
    name: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
    node_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    direction: Annotated[str, Query(pattern="^(upstream|downstream|both)$")] = "both",
    depth: Annotated[int, Query(ge=1, le=10)] = 1,
    include_columns: bool = False,
) -> Response:
    try:
        graph = await page.api.get(
            LINEAGE,
            full_name=name,
            node_id=node_id,
            direction=direction,
            depth=depth,
            include_columns=str(include_columns).lower(),
        )
    except ApiError as exc:
        return JSONResponse(
            {"error_code": exc.error_code, "message": exc.message}, status_code=exc.status
        )
    return JSONResponse(graph)
