"""The registry's CLI commands: models, their versions and aliases, serving endpoints.

Each talks to a running server over HTTP, through the same authentication and
authorization as every other client.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from registry.client.errors import StewardError
from steward.cli import catalog_commands as catalog_commands
from steward.cli.output import (
    CsvFlag,
    JsonFlag,
    OutputFormat,
    emit_json,
    output_format,
    show_object,
    show_rows,
)
from steward.cli.shared import UC, api, fail, quote, three_parts, two_parts

models = typer.Typer(help="Registered models and their versions.", no_args_is_help=True)


@models.command("list")
def models_list(
    schema: Annotated[
        str | None, typer.Argument(help="catalog.schema; all models if omitted.")
    ] = None,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    limit: Annotated[int, typer.Option("--limit")] = 1000,
) -> None:
    """List registered models you can see."""
    fmt = output_format(as_json, as_csv)
    params: dict[str, str] = {}
    if schema:
        two_parts(schema, "schema name")
        params["catalog_name"], params["schema_name"] = schema.split(".")
    rows = api().pages(f"{UC}/models", "registered_models", limit, **params)
    show_rows(rows, ("full_name", "owner", "comment"), fmt)


@models.command("get")
def models_get(full_name: str, as_json: JsonFlag = False) -> None:
    """Show one registered model and its versions."""
    client = api()
    model = client.get(f"{UC}/models/{quote(full_name)}")
    versions = list(
        client.pages(f"{UC}/models/{quote(full_name)}/versions", "model_versions", 10_000)
    )
    if as_json:
        show_object({**model, "versions": versions}, True)
        return
    show_object(model, False)
    show_rows(versions, ("version", "status", "source", "created_by"), OutputFormat.TABLE)


@models.command("create")
def models_create(
    full_name: str,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a registered model: steward models create main.ml.churn"""
    catalog, schema, name = three_parts(full_name, "model name")
    body = {"catalog_name": catalog, "schema_name": schema, "name": name, "comment": comment}
    show_object(api().post(f"{UC}/models", body), as_json)


@models.command("delete")
def models_delete(
    full_name: str,
    force: Annotated[bool, typer.Option("--force", help="Delete its versions too.")] = False,
) -> None:
    """Delete a registered model."""
    api().delete(f"{UC}/models/{quote(full_name)}", force=str(force).lower())
    typer.echo(f"deleted model {full_name}")


versions = typer.Typer(help="Versions of a registered model.", no_args_is_help=True)
alias = typer.Typer(
    help="Aliases of a registered model (champion, challenger …): named pointers to versions.",
    no_args_is_help=True,
)
models.add_typer(versions, name="versions")
models.add_typer(alias, name="alias")
VERSION_COLUMNS = ("version", "status", "aliases", "source", "created_by", "status_message")


def _version_row(info: dict[str, object]) -> dict[str, object]:
    names = info.get("aliases") or []
    aliases = ", ".join(a["alias_name"] for a in names if isinstance(a, dict))
    return {**info, "aliases": aliases}


@versions.command("list")
def versions_list(
    full_name: Annotated[str, typer.Argument(help="The model: catalog.schema.model.")],
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many versions.")] = 1000,
) -> None:
    """List the versions of a model, oldest first, with their status and aliases."""
    fmt = output_format(as_json, as_csv)
    three_parts(full_name, "model name")
    rows = api().pages(f"{UC}/models/{quote(full_name)}/versions", "model_versions", limit)
    if fmt is OutputFormat.JSON:
        show_rows(rows, VERSION_COLUMNS, fmt)
        return
    show_rows((_version_row(r) for r in rows), VERSION_COLUMNS, fmt)


@versions.command("get")
def versions_get(
    full_name: Annotated[str, typer.Argument(help="The model: catalog.schema.model.")],
    version: Annotated[str, typer.Argument(help="A version number, or an alias such as champion.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one version (by number or alias): status, signature, dependencies, aliases."""
    three_parts(full_name, "model name")
    model = quote(full_name)
    if version.isdigit():
        path = f"{UC}/models/{model}/versions/{int(version)}"
    else:
        path = f"{UC}/models/{model}/aliases/{quote(version)}"
    show_object(api().get(path), as_json)


@alias.command("set")
def alias_set(
    full_name: Annotated[str, typer.Argument(help="The model: catalog.schema.model.")],
    name: Annotated[str, typer.Argument(help="The alias, e.g. champion.")],
    version: Annotated[int, typer.Argument(help="The READY version it should point at.")],
    as_json: JsonFlag = False,
) -> None:
    """Point an alias at a version, creating or moving it (owner or MANAGE on the model)."""
    three_parts(full_name, "model name")
    answer = api().request(
        "PUT",
        f"{UC}/models/{quote(full_name)}/aliases/{quote(name)}",
        json={"version_num": version},
    )
    if as_json:
        emit_json(answer)
        return
    typer.echo(f"{full_name}@{answer['alias_name']} -> version {answer['version_num']}")


@alias.command("delete")
def alias_delete(
    full_name: Annotated[str, typer.Argument(help="The model: catalog.schema.model.")],
    name: Annotated[str, typer.Argument(help="The alias to remove.")],
) -> None:
    """Remove an alias (the version stays; owner or MANAGE on the model)."""
    three_parts(full_name, "model name")
    api().delete(f"{UC}/models/{quote(full_name)}/aliases/{quote(name)}")
    typer.echo(f"deleted alias {name} of {full_name}")


@alias.command("get")
def alias_get(
    full_name: Annotated[str, typer.Argument(help="The model: catalog.schema.model.")],
    name: Annotated[str, typer.Argument(help="The alias, e.g. champion.")],
    as_json: JsonFlag = False,
) -> None:
    """Show the version an alias points at."""
    three_parts(full_name, "model name")
    info = api().get(f"{UC}/models/{quote(full_name)}/aliases/{quote(name)}")
    show_object(info, as_json)


# -- serving endpoints ------------------------------------------------------------------------

ENDPOINTS = "/api/2.0/serving-endpoints"
endpoints = typer.Typer(help="Model serving endpoints.", no_args_is_help=True)


def _endpoint_config(serve: list[str], capture: str | None) -> dict[str, object]:
    """The same specs as the Python client's ``create_endpoint`` (one parser for both)."""
    from registry.client.serving import endpoint_config

    try:
        return endpoint_config(serve, capture)
    except StewardError as exc:
        fail(f"--serve/--inference-table: {exc.message}")


Serve = Annotated[
    list[str],
    typer.Option(
        "--serve",
        help="MODEL/VERSION or MODEL@ALIAS, optionally :NAME and =PERCENT; repeat for A/B.",
    ),
]
Capture = Annotated[
    str | None,
    typer.Option(
        "--inference-table",
        help="catalog.schema.prefix: log requests and responses to <prefix>_payload.",
    ),
]


def _endpoint_row(info: dict[str, object]) -> dict[str, object]:
    config = info.get("config") or {}
    entities = config.get("served_entities", []) if isinstance(config, dict) else []
    served = ", ".join(
        f"{e['entity_name']}{'@' + e['alias'] if 'alias' in e else '/' + e['entity_version']}"
        f" {e['traffic_percentage']}%"
        for e in entities
    )
    return {**info, "served": served}


@endpoints.command("create")
def endpoints_create(
    name: Annotated[str, typer.Argument(help="The endpoint's name.")],
    serve: Serve,
    capture: Capture = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an endpoint: steward endpoints create churn --serve main.ml.churn@champion"""
    info = api().post(ENDPOINTS, {"name": name, "config": _endpoint_config(serve, capture)})
    show_object(_endpoint_row(info) if not as_json else info, as_json)


@endpoints.command("update")
def endpoints_update(
    name: Annotated[str, typer.Argument(help="The endpoint's name.")],
    serve: Serve,
    as_json: JsonFlag = False,
) -> None:
    """Replace what an endpoint serves (owner or MANAGE; EXECUTE on the models)."""
    info = api().request(
        "PUT",
        f"{ENDPOINTS}/{quote(name)}/config",
        json=_endpoint_config(serve, None),
    )
    show_object(_endpoint_row(info) if not as_json else info, as_json)


@endpoints.command("list")
def endpoints_list(
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    limit: Annotated[int, typer.Option("--limit")] = 1000,
) -> None:
    """List the endpoints you can see."""
    fmt = output_format(as_json, as_csv)
    rows = api().pages(ENDPOINTS, "endpoints", limit)
    show_rows((_endpoint_row(r) for r in rows), ("name", "creator", "served"), fmt)


@endpoints.command("get")
def endpoints_get(name: str, as_json: JsonFlag = False) -> None:
    """Show one endpoint."""
    info = api().get(f"{ENDPOINTS}/{quote(name)}")
    show_object(_endpoint_row(info) if not as_json else info, as_json)


@endpoints.command("invoke")
def endpoints_invoke(
    name: Annotated[str, typer.Argument(help="The endpoint's name.")],
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            "-d",
            help="The request JSON ({\"dataframe_records\": [...]} …); '-' or omitted: stdin.",
        ),
    ] = None,
) -> None:
    """Score rows: steward endpoints invoke churn -d '{"dataframe_records": [{"id": 1}]}'"""
    text = data if data not in (None, "-") else sys.stdin.read()
    answer = api().request(
        "POST",
        f"/serving-endpoints/{quote(name)}/invocations",
        content=(text or "").encode(),
        headers={"content-type": "application/json"},
    )
    emit_json(answer)


@endpoints.command("delete")
def endpoints_delete(name: str) -> None:
    """Delete an endpoint (its inference table stays)."""
    api().delete(f"{ENDPOINTS}/{quote(name)}")
    typer.echo(f"deleted endpoint {name}")


def register(app: typer.Typer) -> None:
    app.add_typer(models, name="models")
    app.add_typer(endpoints, name="endpoints")
