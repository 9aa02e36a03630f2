"""Serving endpoints for the Python client: create, read, update, delete and query, over
Databricks' serving-endpoints API (docs/serving.md).

Functions of a :class:`~registry.client.http.RestClient` that :class:`Client` exposes as
methods; ``serve`` specs are the CLI's ``--serve`` strings (``c.s.m@champion``,
``c.s.m/3=30``), so the same words work in Python and in a shell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registry.client.errors import invalid
from registry.client.http import RestClient, quote_part
from registry.client.models import model_input

ENDPOINTS = "/api/2.0/serving-endpoints"


def served_entity(spec: str) -> dict[str, Any]:
    """``c.s.m/3`` or ``c.s.m@champion``, either with ``:name`` and ``=percent`` (traffic),
    as a served entity of the API."""
    target, _, share = spec.partition("=")
    target, _, entity_name = target.partition(":")
    entity: dict[str, Any]
    if "@" in target:
        model, alias_name = target.split("@", 1)
        entity = {"entity_name": model, "alias": alias_name}
    elif "/" in target:
        model, version = target.rsplit("/", 1)
        entity = {"entity_name": model, "entity_version": version}
    else:
        raise invalid(
            f"serve '{spec}': give MODEL/VERSION or MODEL@ALIAS (optionally :NAME and =PERCENT)"
        )
    if entity_name:
        entity["name"] = entity_name
    if share:
        if not share.isdigit():
            raise invalid(f"serve '{spec}': the traffic share after '=' must be a whole number")
        entity["traffic_percentage"] = int(share)
    return entity


def endpoint_config(
    serve: Sequence[str | dict[str, Any]], inference_table: str | None
) -> dict[str, Any]:
    """A config of served entities (specs or the API's dicts) and an inference table
    (``catalog.schema.prefix``: requests and responses land in ``<prefix>_payload``)."""
    config: dict[str, Any] = {
        "served_entities": [s if isinstance(s, dict) else served_entity(s) for s in serve]
    }
    if inference_table:
        parts = inference_table.split(".")
        if len(parts) != 3 or not all(parts):
            raise invalid(
                "the inference table must be catalog.schema.prefix (the table is <prefix>_payload)"
            )
        config["auto_capture_config"] = {
            "catalog_name": parts[0],
            "schema_name": parts[1],
            "table_name_prefix": parts[2],
            "enabled": True,
        }
    return config


def create(
    rest: RestClient,
    name: str,
    serve: Sequence[str | dict[str, Any]],
    inference_table: str | None = None,
) -> dict[str, Any]:
    body = {"name": name, "config": endpoint_config(serve, inference_table)}
    return dict(rest.request("POST", ENDPOINTS, json=body))


def update(
    rest: RestClient,
    name: str,
    serve: Sequence[str | dict[str, Any]],
    inference_table: str | None = None,
) -> dict[str, Any]:
    return dict(
        rest.request(
            "PUT",
            f"{ENDPOINTS}/{quote_part(name)}/config",
            json=endpoint_config(serve, inference_table),
        )
    )


def get(rest: RestClient, name: str) -> dict[str, Any]:
    return dict(rest.request("GET", f"{ENDPOINTS}/{quote_part(name)}"))


def listing(rest: RestClient) -> list[dict[str, Any]]:
    return list(rest.request("GET", ENDPOINTS).get("endpoints", []))


def delete(rest: RestClient, name: str) -> None:
    rest.request("DELETE", f"{ENDPOINTS}/{quote_part(name)}")


def query(rest: RestClient, name: str, data: Any) -> list[Any]:
    """Predictions for ``data``: a DataFrame, records, a dict of columns, or a payload in
    one of the API's own formats (``dataframe_split``, ``dataframe_records``, ``inputs``)."""
    if isinstance(data, dict) and set(data) & {
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    }:
        payload = data
    else:
        frame = model_input(data)
        if hasattr(frame, "to_dict"):
            payload = {"dataframe_split": frame.to_dict(orient="split", index=False)}
        else:
            payload = {"inputs": frame.tolist() if hasattr(frame, "tolist") else frame}
    path = f"/serving-endpoints/{quote_part(name)}/invocations"
    answer = rest.request("POST", path, json=payload)
    return list(answer.get("predictions", []))
