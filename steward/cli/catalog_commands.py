"""The catalog's CLI commands: catalogs, schemas, tables, tokens, users and groups.

Each talks to a running server over HTTP, so the CLI goes through the same
authentication and authorization as every other client.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from common.column_types import parse_column_type
from common.errors import StewardError
from steward.cli.audit import audit
from steward.cli.lineage import lineage
from steward.cli.output import CsvFlag, JsonFlag, emit_json, output_format, show_object, show_rows
from steward.cli.shared import SCIM, UC, CliClient, api, fail, quote, three_parts, two_parts

Limit = Annotated[int, typer.Option("--limit", help="Most rows to list.")]
Force = Annotated[bool, typer.Option("--force", help="Delete even if not empty.")]
Comment = Annotated[str | None, typer.Option("--comment", help="A comment.")]

catalogs = typer.Typer(help="Catalogs: the first level of the namespace.", no_args_is_help=True)
schemas = typer.Typer(help="Schemas inside a catalog.", no_args_is_help=True)
tables = typer.Typer(help="Tables and feature tables inside a schema.", no_args_is_help=True)
token = typer.Typer(help="Personal access tokens.", no_args_is_help=True)
users = typer.Typer(help="Users (SCIM).", no_args_is_help=True)
groups = typer.Typer(help="Groups and their members (SCIM).", no_args_is_help=True)


# -- catalogs ---------------------------------------------------------------------------

CATALOG_COLUMNS = ("name", "owner", "comment", "created_by")


@catalogs.command("list")
def catalogs_list(as_json: JsonFlag = False, as_csv: CsvFlag = False, limit: Limit = 1000) -> None:
    """List the catalogs you can see."""
    fmt = output_format(as_json, as_csv)
    show_rows(api().pages(f"{UC}/catalogs", "catalogs", limit), CATALOG_COLUMNS, fmt)


@catalogs.command("get")
def catalogs_get(name: str, as_json: JsonFlag = False) -> None:
    """Show one catalog."""
    show_object(api().get(f"{UC}/catalogs/{quote(name)}"), as_json)


@catalogs.command("create")
def catalogs_create(name: str, comment: Comment = None, as_json: JsonFlag = False) -> None:
    """Create a catalog (needs CREATE CATALOG on the metastore)."""
    show_object(api().post(f"{UC}/catalogs", {"name": name, "comment": comment}), as_json)


@catalogs.command("delete")
def catalogs_delete(name: str, force: Force = False) -> None:
    """Delete a catalog; --force deletes its contents too."""
    api().delete(f"{UC}/catalogs/{quote(name)}", force=str(force).lower())
    typer.echo(f"deleted catalog {name}")


# -- schemas ----------------------------------------------------------------------------

SCHEMA_COLUMNS = ("full_name", "owner", "comment", "created_by")


@schemas.command("list")
def schemas_list(
    catalog: str, as_json: JsonFlag = False, as_csv: CsvFlag = False, limit: Limit = 1000
) -> None:
    """List the schemas of CATALOG."""
    fmt = output_format(as_json, as_csv)
    rows = api().pages(f"{UC}/schemas", "schemas", limit, catalog_name=catalog)
    show_rows(rows, SCHEMA_COLUMNS, fmt)


@schemas.command("get")
def schemas_get(full_name: str, as_json: JsonFlag = False) -> None:
    """Show one schema (catalog.schema)."""
    show_object(api().get(f"{UC}/schemas/{quote(full_name)}"), as_json)


@schemas.command("create")
def schemas_create(full_name: str, comment: Comment = None, as_json: JsonFlag = False) -> None:
    """Create a schema: steward schemas create main.sales"""
    catalog, name = two_parts(full_name, "schema name")
    body = {"catalog_name": catalog, "name": name, "comment": comment}
    show_object(api().post(f"{UC}/schemas", body), as_json)


@schemas.command("delete")
def schemas_delete(full_name: str, force: Force = False) -> None:
    """Delete a schema; --force deletes its contents too."""
    api().delete(f"{UC}/schemas/{quote(full_name)}", force=str(force).lower())
    typer.echo(f"deleted schema {full_name}")


# -- tables -----------------------------------------------------------------------------

TABLE_COLUMNS = ("full_name", "table_type", "owner", "comment")


@tables.command("list")
def tables_list(
    schema: str, as_json: JsonFlag = False, as_csv: CsvFlag = False, limit: Limit = 1000
) -> None:
    """List the tables of SCHEMA (catalog.schema)."""
    fmt = output_format(as_json, as_csv)
    catalog, name = two_parts(schema, "schema name")
    rows = api().pages(f"{UC}/tables", "tables", limit, catalog_name=catalog, schema_name=name)
    show_rows(rows, TABLE_COLUMNS, fmt)


@tables.command("get")
def tables_get(full_name: str, as_json: JsonFlag = False) -> None:
    """Show one table with its columns."""
    show_object(api().get(f"{UC}/tables/{quote(full_name)}"), as_json)


def _column(spec: str, position: int, not_null: set[str]) -> dict[str, Any]:
    name, sep, type_text = spec.partition(":")
    if not sep or not name or not type_text:
        fail(f"--column must look like NAME:TYPE (e.g. id:bigint), got '{spec}'")
    try:
        parsed = parse_column_type(type_text)
    except StewardError as exc:
        fail(exc.message)
    column: dict[str, Any] = {
        "name": name,
        "type_name": parsed.type_name,
        "type_text": parsed.type_text,
        "position": position,
        "nullable": name.lower() not in not_null,
    }
    if parsed.precision is not None:
        column["type_precision"] = parsed.precision
        column["type_scale"] = parsed.scale
    return column


@tables.command("create")
def tables_create(
    full_name: str,
    column: Annotated[
        list[str], typer.Option("--column", "-c", help="NAME:TYPE, repeat for each column.")
    ],
    primary_key: Annotated[
        list[str] | None,
        typer.Option("--primary-key", "-k", help="Primary key column (makes a feature table)."),
    ] = None,
    timeseries: Annotated[
        str | None, typer.Option("--timeseries", help="The primary key's timeseries column.")
    ] = None,
    table_type: Annotated[str, typer.Option("--type", help="MANAGED or EXTERNAL.")] = "MANAGED",
    storage_location: Annotated[
        str | None, typer.Option("--storage-location", help="Where an EXTERNAL table lives.")
    ] = None,
    comment: Comment = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a table: steward tables create main.sales.orders -c id:bigint -c amount:double"""
    catalog, schema, name = three_parts(full_name, "table name")
    keys = [k.lower() for k in primary_key or []]
    body: dict[str, Any] = {
        "catalog_name": catalog,
        "schema_name": schema,
        "name": name,
        "table_type": table_type.upper(),
        "data_source_format": "DELTA",
        "columns": [_column(spec, i, set(keys)) for i, spec in enumerate(column)],
        "comment": comment,
        "storage_location": storage_location,
    }
    if primary_key:
        body["table_constraints"] = [
            {
                "primary_key_constraint": {
                    "name": f"{name}_pk",
                    "child_columns": primary_key,
                    "timeseries_columns": [timeseries] if timeseries else None,
                }
            }
        ]
    show_object(api().post(f"{UC}/tables", body), as_json)


@tables.command("delete")
def tables_delete(full_name: str) -> None:
    """Delete a table."""
    api().delete(f"{UC}/tables/{quote(full_name)}")
    typer.echo(f"deleted table {full_name}")


ROWS = "/api/2.1/steward/tables"
Mode = Annotated[
    str,
    typer.Option(
        "--mode",
        help="merge: update rows whose key exists, insert the others; append: insert only.",
    ),
]


@tables.command("write")
def tables_write(
    full_name: str,
    path: Annotated[
        str,
        typer.Argument(
            help="A .csv file (header line), a .json array of "
            "objects or .jsonl (one object a line); - for stdin."
        ),
    ],
    mode: Mode = "merge",
    csv_input: Annotated[
        bool, typer.Option("--csv", help="Read stdin (or a file of another name) as CSV.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write rows into a managed table: steward tables write main.fs.customers rows.csv

    Rows go in batches under the server's limits (its body size, STEWARD_MAX_BODY_BYTES,
    and 10,000 rows), each written whole or not at all; a batch that fails stops the
    write and says how many rows the batches before it wrote."""
    if mode not in ("merge", "append"):
        fail(f"--mode must be merge or append, got '{mode}'")
    raw = sys.stdin.buffer.read() if path == "-" else _read_file(path)
    if csv_input or path.lower().endswith(".csv"):
        result = _write_csv(full_name, raw, mode)
    else:
        from registry.client import Client  # the same batching as the Python client

        try:
            result = Client(timeout=120.0).write_table(
                full_name, _json_rows(raw, path), mode, progress=_Progress()
            )
        except StewardError as exc:
            fail(str(exc))
    if as_json:
        emit_json(result)
    else:
        typer.echo(
            f"{result['num_affected_rows']} rows written to {full_name} "
            f"({result['num_inserted_rows']} inserted, {result['num_updated_rows']} updated)"
        )


class _Progress:
    """Rows written so far, on stderr, for writes of more than one batch (the first batch
    that leaves rows to write starts it; a single batch says nothing)."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, written: int, total: int) -> None:
        if written < total or self.shown:
            self.shown = True
            typer.echo(f"{written}/{total} rows written", err=True)


#: Most rows one request carries (the server's default STEWARD_MAX_ROWS_PER_WRITE).
CSV_BATCH_ROWS = 10_000


def _write_csv(full_name: str, raw: bytes, mode: str) -> dict[str, int]:
    """The CSV's records in batches, each with the header line, under the body limit."""
    import csv
    import io
    import os

    limit = int(os.environ.get("STEWARD_MAX_BODY_BYTES") or 1 << 20) - 1024
    text = raw.decode("utf-8-sig", errors="replace")
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        fail("the CSV is empty: expected a header line")
    header, rows = records[0], records[1:]

    def line(record: list[str]) -> bytes:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(record)
        return out.getvalue().encode()

    head = line(header)
    client = api()
    url = f"{ROWS}/{quote(full_name)}/rows"
    totals = {"num_affected_rows": 0, "num_inserted_rows": 0, "num_updated_rows": 0}
    batch: list[bytes] = []
    size = len(head)
    sent = 0
    chunks: list[list[bytes]] = []
    for record in rows:
        encoded = line(record)
        if batch and (size + len(encoded) > limit or len(batch) >= CSV_BATCH_ROWS):
            chunks.append(batch)
            batch, size = [], len(head)
        batch.append(encoded)
        size += len(encoded)
    chunks.append(batch)
    for number, chunk in enumerate(chunks, 1):
        if len(chunks) > 1:
            typer.echo(f"batch {number}/{len(chunks)}: {len(chunk)} rows", err=True)
        try:
            result = client.request(
                "POST",
                url,
                params={"mode": mode},
                content=head + b"".join(chunk),
                headers={"Content-Type": "text/csv"},
            )
        except StewardError as exc:
            done = f"; the {sent} rows before it were written" if sent else ""
            fail(f"batch {number} of {len(chunks)} failed: {exc}{done}")
        for count in totals:
            totals[count] += int(result.get(count, 0))
        sent += len(chunk)
    return totals


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        return fail(f"cannot read {path}: {exc.strerror}")


def _json_rows(raw: bytes, path: str) -> list[Any]:
    text = raw.decode("utf-8-sig", errors="replace").strip()
    try:
        if text.startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        return fail(f"{path} is not a JSON array or JSON lines: {exc}")
    return list(rows)


@tables.command("lookup")
def tables_lookup(
    full_name: str,
    key: Annotated[
        list[str], typer.Argument(help="COLUMN=VALUE of each key column (numbers as numbers).")
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO 8601 time: the latest row not later.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Read one row by key: steward tables lookup main.fs.customers customer_id=42"""
    values: dict[str, Any] = {}
    for item in key:
        column, sep, value = item.partition("=")
        if not sep or not column:
            fail(f"a key must look like COLUMN=VALUE, got '{item}'")
        try:
            values[column] = json.loads(value)
        except json.JSONDecodeError:
            values[column] = value
    body: dict[str, Any] = {"keys": [values]}
    if as_of:
        body["as_of"] = [as_of]
    row = api().post(f"{ROWS}/{quote(full_name)}/lookup", body)["rows"][0]
    if row is None:
        fail(f"no row of {full_name} has the key {values}")
    show_object(row, as_json)


# -- tokens -----------------------------------------------------------------------------


@token.command("create")
def token_create(
    lifetime_seconds: Annotated[
        int | None, typer.Option("--lifetime-seconds", help="Expire after this many seconds.")
    ] = None,
    comment: Comment = None,
    for_user: Annotated[
        str | None,
        typer.Option("--for", help="Admins: create the token for this user or service principal."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a personal access token; its value is shown once."""
    client = api()
    body: dict[str, Any] = {"lifetime_seconds": lifetime_seconds, "comment": comment}
    if for_user:
        body["user_name"] = for_user
        result = client.post("/api/2.0/token-management/on-behalf-of/tokens", body)
    else:
        result = client.post("/api/2.0/token/create", body)
    if as_json:
        emit_json(result)
    else:
        typer.echo(result["token_value"])


@token.command("list")
def token_list(as_json: JsonFlag = False, as_csv: CsvFlag = False) -> None:
    """List your tokens (never their values)."""
    fmt = output_format(as_json, as_csv)
    rows = api().get("/api/2.0/token/list")["token_infos"]
    show_rows(rows, ("token_id", "comment", "creation_time", "expiry_time"), fmt)


@token.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke one of your tokens."""
    api().post("/api/2.0/token/delete", {"token_id": token_id})
    typer.echo(f"revoked token {token_id}")


# -- users and groups -------------------------------------------------------------------


def _find(client: CliClient, kind: str, attribute: str, name: str) -> dict[str, Any]:
    found = client.get(f"{SCIM}/{kind}", filter=f'{attribute} eq "{name}"')["Resources"]
    if not found:
        fail(f"no {kind[:-1].lower()} named '{name}'")
    return found[0]


def _find_member(client: CliClient, name: str) -> dict[str, Any]:
    for kind, attribute in (
        ("Users", "userName"),
        ("Groups", "displayName"),
        ("ServicePrincipals", "applicationId"),
    ):
        found = client.get(f"{SCIM}/{kind}", filter=f'{attribute} eq "{name}"')["Resources"]
        if found:
            return found[0]
    return fail(f"no user, group or service principal named '{name}'")


@users.command("list")
def users_list(as_json: JsonFlag = False, as_csv: CsvFlag = False) -> None:
    """List users."""
    fmt = output_format(as_json, as_csv)
    rows = api().get(f"{SCIM}/Users", count=10000)["Resources"]
    show_rows(rows, ("userName", "displayName", "active", "id"), fmt)


@users.command("create")
def users_create(user_name: str, as_json: JsonFlag = False) -> None:
    """Create a user (admins only)."""
    show_object(api().post(f"{SCIM}/Users", {"userName": user_name}), as_json)


@users.command("delete")
def users_delete(user_name: str) -> None:
    """Delete a user (admins only)."""
    client = api()
    client.delete(f"{SCIM}/Users/{_find(client, 'Users', 'userName', user_name)['id']}")
    typer.echo(f"deleted user {user_name}")


@groups.command("list")
def groups_list(as_json: JsonFlag = False, as_csv: CsvFlag = False) -> None:
    """List groups with their members."""
    fmt = output_format(as_json, as_csv)
    rows = api().get(f"{SCIM}/Groups", count=10000)["Resources"]
    for row in rows:
        row["members"] = ", ".join(m["display"] for m in row.get("members", []))
    show_rows(rows, ("displayName", "members", "id"), fmt)


@groups.command("create")
def groups_create(name: str, as_json: JsonFlag = False) -> None:
    """Create a group (admins only)."""
    show_object(api().post(f"{SCIM}/Groups", {"displayName": name}), as_json)


@groups.command("delete")
def groups_delete(name: str) -> None:
    """Delete a group (admins only)."""
    client = api()
    client.delete(f"{SCIM}/Groups/{_find(client, 'Groups', 'displayName', name)['id']}")
    typer.echo(f"deleted group {name}")


def _patch_members(group: str, member: str, op: str) -> None:
    client = api()
    group_id = _find(client, "Groups", "displayName", group)["id"]
    member_id = _find_member(client, member)["id"]
    operation: dict[str, Any] = (
        {"op": "add", "value": {"members": [{"value": member_id}]}}
        if op == "add"
        else {"op": "remove", "path": f'members[value eq "{member_id}"]'}
    )
    client.patch(f"{SCIM}/Groups/{group_id}", {"Operations": [operation]})


@groups.command("add-member")
def groups_add_member(group: str, member: str) -> None:
    """Add a user, service principal or group to GROUP."""
    _patch_members(group, member, "add")
    typer.echo(f"added {member} to {group}")


@groups.command("remove-member")
def groups_remove_member(group: str, member: str) -> None:
    """Remove a member from GROUP."""
    _patch_members(group, member, "remove")
    typer.echo(f"removed {member} from {group}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
    app.add_typer(catalogs, name="catalogs")
    app.add_typer(schemas, name="schemas")
    app.add_typer(tables, name="tables")
    app.add_typer(token, name="token")
    app.add_typer(users, name="users")
    app.add_typer(groups, name="groups")
    app.command("lineage")(lineage)
