"""``steward audit``: read the audit log over HTTP, and verify or checkpoint it in the database.

Listing goes through the server like every other client (and needs SELECT on
``system.access.audit``). ``verify`` and ``checkpoint`` open the database directly:
an auditor checks the log without trusting the server that wrote it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from common.text import escape_controls
from steward.cli.options import DatabaseUrl, StorageRoot, load_settings
from steward.cli.output import (
    CsvFlag,
    JsonFlag,
    OutputFormat,
    csv_text,
    emit_json,
    output_format,
    show_rows,
)
from steward.cli.shared import CliClient, api, fail, require_server

AUDIT_PATH = "/api/2.1/steward/audit"
#: Events asked for per poll of ``--follow`` (the server's largest page).
FOLLOW_PAGE = 1000
COLUMNS = ("event_time", "user", "service", "action", "object", "status", "error")

audit = typer.Typer(
    help="The audit log: list (default), verify the hash chain, write a checkpoint.",
    invoke_without_command=True,
)

KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="File holding the checkpoint HMAC key (or set STEWARD_AUDIT_KEY, or "
        "STEWARD_AUDIT_KEY_FILE, as the server has them).",
    ),
]


def _row(event: dict[str, Any]) -> dict[str, Any]:
    response = event.get("response", {})
    return {
        "event_time": event["event_time"],
        "user": event["user_identity"].get("email"),
        "service": event["service_name"],
        "action": event["action_name"],
        "object": event.get("object_name"),
        "status": response.get("status_code"),
        "error": response.get("error_message"),
    }


@audit.callback()
def audit_list(
    ctx: typer.Context,
    action: Annotated[str | None, typer.Option("--action", help="e.g. createTable")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Principal name")] = None,
    obj: Annotated[
        str | None, typer.Option("--object", help="Full name; matches what is inside it too")
    ] = None,
    service: Annotated[str | None, typer.Option("--service", help="e.g. unityCatalog")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO time or span back: 30m, 12h, 1d")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO time or span back")] = None,
    failed: Annotated[
        bool | None, typer.Option("--failed/--succeeded", help="Only failures / successes")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most events to show")] = 100,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events as they arrive")
    ] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls")] = 1.0,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """List audit events, newest first (``--follow``: oldest first, then new ones as they come)."""
    if ctx.invoked_subcommand is not None:
        return
    fmt = output_format(as_json, as_csv)
    client = api()
    filters = {
        "action": action,
        "user": user,
        "object": obj,
        "service": service,
        "since": since,
        "until": until,
        "failed": None if failed is None else str(failed).lower(),
    }
    if not follow:
        body = client.get(AUDIT_PATH, max_results=limit, **filters)
        events = body.get("events", [])
        if fmt is OutputFormat.JSON:
            emit_json(events)
        else:
            show_rows((_row(e) for e in events), COLUMNS, fmt)
        return
    _follow(client, filters, limit, interval, fmt)


def _follow(
    client: CliClient, filters: dict[str, Any], limit: int, interval: float, fmt: OutputFormat
) -> None:
    """Show the newest ``limit`` events oldest first, then poll for what comes after them.

    The follow token is a cursor per lane of the log, not an event id: an event that
    commits after a newer one was shown (concurrent writers, replicas) still comes, once.
    """
    page = client.get(AUDIT_PATH, max_results=limit, **filters)
    if fmt is OutputFormat.CSV:
        typer.echo(csv_text([COLUMNS]), nl=False)
    for event in reversed(page.get("events", [])):
        _print_one(event, fmt)
    token = page.get("follow_page_token")
    try:
        while True:
            body = client.get(
                AUDIT_PATH, order="asc", max_results=FOLLOW_PAGE, page_token=token, **filters
            )
            events = body.get("events", [])
            for event in events:
                _print_one(event, fmt)
            token = body.get("next_page_token") or token
            if len(events) < FOLLOW_PAGE:  # caught up: wait; a full page: more may be there
                time.sleep(interval)
    except KeyboardInterrupt:
        return


def _print_one(event: dict[str, Any], fmt: OutputFormat) -> None:
    """One followed event: its JSON, a CSV line, or its fields on one line for people."""
    if fmt is OutputFormat.JSON:
        emit_json(event)
        return
    row = _row(event)
    if fmt is OutputFormat.CSV:
        typer.echo(csv_text([[row[c] for c in COLUMNS]]), nl=False)
        return
    typer.echo("  ".join("" if row[c] is None else escape_controls(str(row[c])) for c in COLUMNS))


def open_audit_log(
    database_url: str | None, storage_root: Path | None, key_file: Path | None
) -> tuple[Any, bytes | None]:
    """The server's database, found as the server finds it (flags, then STEWARD_* variables,
    then ``./.steward``), and the checkpoint key (``--key-file``, else the server's
    STEWARD_AUDIT_KEY or STEWARD_AUDIT_KEY_FILE). Never creates a database: a SQLite file
    that is not there is an error naming where it was looked for, as is a key file that
    cannot be read; a setting that is not valid is one line and exit code 2."""
    from catalog.persistence.engine import Database

    settings = load_settings(database_url=database_url, storage_root=storage_root)
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[-1])
        if not path.is_file():
            fail(
                f"no Steward database at {path}: give --storage-root or --database-url "
                "(or STEWARD_STORAGE_ROOT / STEWARD_DATABASE_URL) as the server has them"
            )
    key = settings.audit_key
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            fail(f"cannot read --key-file {key_file}: {exc.strerror}")
    return Database(url), key


@audit.command("verify")
def audit_verify(
    database_url: DatabaseUrl = None,
    storage_root: StorageRoot = None,
    key_file: KeyFile = None,
    expect: Annotated[
        list[str] | None,
        typer.Option(
            "--expect",
            help="A checkpoint anchor ID:DIGEST kept outside the database (printed by "
            "'steward audit checkpoint', logged as audit_checkpoint); repeatable",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Walk the whole log; name the first event that was modified, deleted, inserted or
    reordered, or the truncation after a checkpoint (with --expect, also one that removed
    the checkpoints too). Exit 1 when anything is wrong."""
    require_server()
    from sqlalchemy.exc import SQLAlchemyError

    from catalog.audit.log import Anchor
    from catalog.audit.verify import verify

    try:
        anchors = [Anchor.parse(text) for text in expect or []]
    except ValueError as exc:
        fail(str(exc))
    db, key = open_audit_log(database_url, storage_root, key_file)
    try:
        with db.read() as session:
            report = verify(session, key, anchors)
    except SQLAlchemyError as exc:
        fail(f"cannot read the audit log ({exc.__class__.__name__}): is this a Steward database?")
    finally:
        db.dispose()
    summary = {
        "ok": report.ok,
        "events": report.events,
        "lanes": report.lanes,
        "checkpoints": report.checkpoints,
        "signed_checkpoints_checked": report.signed_checkpoints,
        "first_bad": None if report.first is None else report.first.message,
        "problems": [p.message for p in sorted(report.problems)],
    }
    if as_json:
        emit_json(summary)
    elif report.ok:
        signed = f", {report.signed_checkpoints} signatures checked" if key else ""
        typer.echo(
            f"audit log OK: {report.events} events in {report.lanes} lanes, "
            f"{report.checkpoints} checkpoints{signed}"
        )
    else:
        assert report.first is not None
        typer.echo(f"audit log BAD: first bad event: {report.first.message}", err=True)
        for problem in sorted(report.problems)[1:20]:
            typer.echo(f"  also: {problem.message}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@audit.command("checkpoint")
def audit_checkpoint(
    database_url: DatabaseUrl = None, storage_root: StorageRoot = None, key_file: KeyFile = None
) -> None:
    """Record the current head of every lane (signed when a key is given)."""
    require_server()
    from catalog.audit.checkpointer import checkpoint_now

    db, key = open_audit_log(database_url, storage_root, key_file)
    try:
        written = checkpoint_now(db, key)
    except Exception as exc:
        fail(f"could not write a checkpoint: {exc}")
    finally:
        db.dispose()
    if written is None:
        typer.echo("nothing new to checkpoint")
    else:
        typer.echo(f"checkpoint {written.id} written; keep its anchor outside the database:")
        typer.echo(str(written))
