"""The catalog explorer: catalogs → schemas → tables, views, models and functions, and
search by name. Every list and detail is the API's answer for the signed-in user, so an
object they may not see is not listed, and opening one answers as a missing one."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from steward.console.api import ApiError
from steward.console.app import Page, signed_in

router = APIRouter()
UC = "/api/2.1/unity-catalog"
PageDep = Annotated[Page, Depends(signed_in)]
#: At most this many hits per kind on the search page.
SEARCH_LIMIT = 200


@router.get("/")
async def home(page: PageDep) -> Response:
    catalogs = await page.api.get(f"{UC}/catalogs")
    return page.render("catalogs.html", catalogs=catalogs.get("catalogs", []))


@router.get("/console/catalogs/{name}")
async def catalog(name: str, page: PageDep) -> Response:
    info = await page.api.get(f"{UC}/catalogs/{name}")
    schemas = await page.api.get(f"{UC}/schemas", catalog_name=name)
    return page.render(
        "catalog.html",
        catalog=info,
        schemas=schemas.get("schemas", []),
        securable=("catalog", info["name"]),
    )


@router.get("/console/schemas/{full_name}")
async def schema(full_name: str, page: PageDep) -> Response:
    info = await page.api.get(f"{UC}/schemas/{full_name}")
    catalog_name, schema_name = info["catalog_name"], info["name"]
    tables = await page.api.get(f"{UC}/tables", catalog_name=catalog_name, schema_name=schema_name)
    models = await page.api.get(f"{UC}/models", catalog_name=catalog_name, schema_name=schema_name)
    try:
        functions = await page.api.rows(f"SHOW FUNCTIONS IN {_quoted(info['full_name'])}")
    except ApiError:
        functions = []
    listed = tables.get("tables", [])
    return page.render(
        "schema.html",
        schema=info,
        tables=[t for t in listed if t.get("table_type") != "VIEW"],
        views=[t for t in listed if t.get("table_type") == "VIEW"],
        models=models.get("registered_models", []),
        functions=functions,
        securable=("schema", info["full_name"]),
    )


@router.get("/console/tables/{full_name}")
async def table(full_name: str, page: PageDep) -> Response:
    info = await page.api.get(f"{UC}/tables/{full_name}")
    tags = await _tags(page, info["full_name"])
    return page.render(
        "table.html",
        table=info,
        table_tags=tags.get("", {}),
        column_tags=tags,
        securable=("table", info["full_name"]),
    )


async def _tags(page: Page, full_name: str) -> dict[str, dict[str, str]]:
    """Column name → its tags; "" → the table's. From ``information_schema``, one query
    each (as the user: rows of what they may see)."""
    catalog_name, schema_name, table_name = full_name.split(".")
    where = "catalog_name = :c AND schema_name = :s AND table_name = :t"
    parameters = [
        {"name": "c", "value": catalog_name},
        {"name": "s", "value": schema_name},
        {"name": "t", "value": table_name},
    ]
    found: dict[str, dict[str, str]] = {}
    try:
        for row in await page.api.rows(
            f"SELECT tag_name, tag_value FROM system.information_schema.table_tags WHERE {where}",
            parameters=parameters,
        ):
            found.setdefault("", {})[row["tag_name"]] = row["tag_value"] or ""
        for row in await page.api.rows(
            "SELECT column_name, tag_name, tag_value FROM "
            f"system.information_schema.column_tags WHERE {where}",
            parameters=parameters,
        ):
            found.setdefault(row["column_name"], {})[row["tag_name"]] = row["tag_value"] or ""
    except ApiError:
        pass  # tags are a detail: the table shows without them
    return found


@router.get("/console/models/{full_name}")
async def model(full_name: str, page: PageDep) -> Response:
    info = await page.api.get(f"{UC}/models/{full_name}")
    versions = await page.api.get(f"{UC}/models/{full_name}/versions")
    by_version: dict[int, list[str]] = {}
    for alias in info.get("aliases", []) or []:
        by_version.setdefault(alias["version_num"], []).append(alias["alias_name"])
    listed = versions.get("model_versions", [])
    for version in listed:
        version["signature_inputs"] = _signature_columns(version.get("signature"), "inputs")
        version["signature_outputs"] = _signature_columns(version.get("signature"), "outputs")
    return page.render(
        "model.html",
        model=info,
        versions=sorted(listed, key=lambda v: -int(v["version"])),
        aliases=by_version,
        securable=("registered_model", info["full_name"]),
    )


def _signature_columns(signature: Any, part: str) -> list[dict[str, str]]:
    """A signature's inputs or outputs as (name, type) rows; MLflow keeps them as JSON text."""
    if not isinstance(signature, dict):
        return []
    columns = signature.get(part)
    if isinstance(columns, str):
        try:
            columns = json.loads(columns)
        except ValueError:
            return []
    if not isinstance(columns, list):
        return []
    return [
        {"name": str(c.get("name", "")), "type": str(c.get("type", ""))}
        for c in columns
        if isinstance(c, dict)
    ]


@router.get("/console/search")
async def search(page: PageDep, q: str = "") -> Response:
    needle = q.strip().lower()
    hits: dict[str, list[dict[str, Any]]] = {
        "catalogs": [],
        "schemas": [],
        "tables": [],
        "models": [],
    }
    if needle:
        catalogs = (await page.api.get(f"{UC}/catalogs")).get("catalogs", [])
        hits["catalogs"] = [c for c in catalogs if needle in c["name"].lower()]
        for catalog_info in catalogs:
            name = catalog_info["name"]
            try:
                schemas = await page.api.get(f"{UC}/schemas", catalog_name=name)
                summaries = await page.api.get(
                    f"{UC}/table-summaries", catalog_name=name, max_results=SEARCH_LIMIT * 5
                )
            except ApiError:
                continue
            hits["schemas"] += [
                s for s in schemas.get("schemas", []) if needle in s["full_name"].lower()
            ]
            hits["tables"] += [
                t for t in summaries.get("tables", []) if needle in t["full_name"].lower()
            ]
        models = (await page.api.get(f"{UC}/models")).get("registered_models", [])
        hits["models"] = [m for m in models if needle in m["full_name"].lower()]
    return page.render(
        "search.html", q=q, hits={kind: found[:SEARCH_LIMIT] for kind, found in hits.items()}
    )


def _quoted(full_name: str) -> str:
    return ".".join(f"`{part.replace('`', '``')}`" for part in full_name.split("."))
