"""An endpoint's query schema as OpenAPI: what a request to its invocations may carry.

Databricks answers ``GET /api/2.0/serving-endpoints/{name}/openapi`` with an OpenAPI
document of the endpoint's query API; Steward does the same, from the served model
versions' signatures and feature lookups, so a caller who may only QUERY the endpoint (who
may not read the model) still learns what to send. A record's fields are the signature's
input columns and every lookup key; a column a feature lookup fills may be left out (a
value sent overrides the looked-up one), the others are required.
"""

from __future__ import annotations

from typing import Any

from registry.serving.cache import ResolvedVersion

#: MLflow column types as JSON Schema types.
JSON_TYPES = {
    "double": "number",
    "float": "number",
    "long": "integer",
    "integer": "integer",
    "boolean": "boolean",
    "string": "string",
    "binary": "string",
    "datetime": "string",
}


def record_schema(versions: list[ResolvedVersion], looked_up: set[str]) -> dict[str, Any]:
    """The JSON Schema of one record (``dataframe_records`` item) the served versions take;
    ``looked_up``: the model inputs their feature lookups fill."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for version in versions:
        for lookup in version.feature_lookups:
            for key in lookup.lookup_key:
                properties.setdefault(
                    key, {"description": f"lookup key of the features in {lookup.table_name}"}
                )
                if key not in required:
                    required.append(key)
    for version in versions:
        for column in version.columns or ():
            name = str(column.get("name"))
            kind = str(column.get("type", ""))
            schema: dict[str, Any] = {"x-mlflow-type": kind}
            if kind in JSON_TYPES:
                schema["type"] = JSON_TYPES[kind]
            if name in looked_up:
                schema["description"] = "looked up from a feature table when left out"
            properties.setdefault(name, schema)
            if name not in looked_up and not column.get("optional") and name not in required:
                required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def query_openapi(
    endpoint: str, versions: list[ResolvedVersion], looked_up: set[str]
) -> dict[str, Any]:
    record = record_schema(versions, looked_up)
    return {
        "openapi": "3.1.0",
        "info": {"title": endpoint, "version": "1"},
        "paths": {
            f"/serving-endpoints/{endpoint}/invocations": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "dataframe_records": {"type": "array", "items": record}
                                    },
                                }
                            }
                        }
                    },
                    "responses": {
                        "200": {
                            "description": "The predictions",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"predictions": {"type": "array"}},
                                    }
                                }
                            },
                        }
                    },
                }
            }
        },
    }
