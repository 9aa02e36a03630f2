"""Serving endpoints: what each serves, how traffic is split, and a form, built from the
served model's signature, that invokes it as the signed-in user (QUERY on the endpoint)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from steward.console.api import ApiError
from steward.console.app import Page, signed_in

router = APIRouter()
PageDep = Annotated[Page, Depends(signed_in)]
SERVING = "/api/2.0/serving-endpoints"
UC = "/api/2.1/unity-catalog"
#: How a form's text becomes a value of each schema type ("": untyped, a lookup key).
_CONVERTERS: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "long": (int,),
    "double": (float,),
    "float": (float,),
    "number": (float,),
    "": (int, float),
}


@router.get("/console/serving")
async def endpoints(page: PageDep) -> Response:
    listed = await page.api.get(SERVING)
    return page.render("serving.html", endpoints=listed.get("endpoints", []))


async def _inputs(page: Page, name: str) -> list[dict[str, Any]]:
    """The fields of one request record, from the endpoint's query schema (``…/openapi``:
    what QUERY on the endpoint may learn, without reading the model)."""
    try:
        document = await page.api.get(f"{SERVING}/{name}/openapi")
    except ApiError:
        return []
    try:
        (path,) = document["paths"].values()
        body = path["post"]["requestBody"]["content"]["application/json"]["schema"]
        record = body["properties"]["dataframe_records"]["items"]
    except (KeyError, TypeError, ValueError):
        return []
    required = set(record.get("required", []))
    return [
        {
            "name": field,
            "type": str(schema.get("x-mlflow-type") or schema.get("type") or ""),
            "required": field in required,
            "note": schema.get("description", ""),
        }
        for field, schema in record.get("properties", {}).items()
    ]


@router.get("/console/serving/{name}")
async def endpoint(name: str, page: PageDep) -> Response:
    info = await page.api.get(f"{SERVING}/{name}")
    entities = info.get("config", {}).get("served_entities", [])
    inputs = await _inputs(page, name)
    return page.render("endpoint.html", endpoint=info, entities=entities, inputs=inputs)


@router.post("/console/serving/{name}/invoke")
async def invoke(name: str, request: Request, page: PageDep) -> Response:
    await page.check_csrf()
    form = await request.form()
    inputs = await _inputs(page, name)
    record: dict[str, Any] = {}
    for column in inputs:
        raw = form.get(f"input:{column['name']}")
        if not isinstance(raw, str) or raw == "":
            continue
        record[column["name"]] = _typed(raw, column["type"])
    try:
        answer = await page.api.call(
            "POST", f"/serving-endpoints/{name}/invocations", json={"dataframe_records": [record]}
        )
    except ApiError as exc:
        return page.render("fragments/invoke_result.html", error=exc, sent=record)
    return page.render(
        "fragments/invoke_result.html",
        answer=json.dumps(answer, indent=2),
        sent=json.dumps({"dataframe_records": [record]}),
    )


def _typed(raw: str, type_name: str) -> Any:
    """A form value as the schema's type asks; without a type (a lookup key), a number if
    it reads as one. A value that is not what its type asks stays text: the endpoint then
    says what is wrong with it."""
    kind = type_name.lower()
    if kind == "boolean":
        return raw.lower() in ("true", "1", "yes")
    converters: tuple[type, ...] = _CONVERTERS.get(kind, ())
    for convert in converters:
        try:
            return convert(raw)
        except ValueError:
            continue
    return raw
