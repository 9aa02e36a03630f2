"""The ``steward`` command: the root, ``--version``, ``server`` and ``db``, and every
command group (:mod:`steward.cli.catalog_commands`, :mod:`steward.cli.registry_commands`,
:mod:`steward.cli.audit`, :mod:`steward.cli.lineage`, :mod:`steward.cli.sql_shell`).

``server`` and ``db`` start or migrate the service through the composition root
(:mod:`steward.app`), imported only when they run, so the client commands work where only
the client is installed.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated

import typer

from steward.cli import catalog_commands, registry_commands, sql_shell
from steward.cli.options import DatabaseUrl, StorageRoot, load_settings
from steward.cli.shared import fail, require_server

db = typer.Typer(help="Database administration.", no_args_is_help=True)


@db.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None, storage_root: StorageRoot = None) -> None:
    """Apply all database migrations (the server also does this on start)."""
    require_server()
    from steward.app import upgrade_database

    settings = load_settings(database_url=database_url, storage_root=storage_root)
    settings.storage_root.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    typer.echo("database is up to date")


def server(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (or STEWARD_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (or STEWARD_PORT).")
    ] = None,
    database_url: DatabaseUrl = None,
    storage_root: StorageRoot = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="json, console, or auto (or STEWARD_LOG_FORMAT; default: console on a "
            "terminal, else json).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Server processes on the one port (or STEWARD_WORKERS; default: one per "
            "core, at most 4). Above 1 they are replicas of one another.",
        ),
    ] = None,
) -> None:
    """Start the Steward server (migrates the database first). A setting that is not valid
    (a flag or a STEWARD_* variable) stops it first: one line, exit code 2."""
    require_server()
    from catalog.persistence.root_lock import StorageRootInUse
    from steward.app import create_app
    from steward.cli.serve import serve, serve_workers

    settings = load_settings(
        host=host,
        port=port,
        database_url=database_url,
        storage_root=storage_root,
        log_format=log_format,
        workers=workers,
    )
    if settings.workers > 1:
        try:
            serve_workers(settings)
        except StorageRootInUse as exc:
            fail(str(exc))
        return
    try:
        app = create_app(settings)
    except StorageRootInUse as exc:
        fail(str(exc))
    serve(app, settings)


def _print_version(value: bool) -> None:
    """``--version``: the installed package's version, then exit 0."""
    if not value:
        return
    try:
        installed = package_version("steward")
    except PackageNotFoundError:  # run from a source tree that was never installed
        installed = "unknown (not installed)"
    typer.echo(f"steward {installed}")
    raise typer.Exit()


VersionFlag = Annotated[
    bool,
    typer.Option(
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed version and exit.",
    ),
]


def root(version: VersionFlag = False) -> None:
    """Options of ``steward`` itself (before any command)."""


def build_cli() -> typer.Typer:
    app = typer.Typer(
        name="steward",
        help=(
            "Steward: a governed catalog for data and ML assets.\n\n"
            "Client commands talk to STEWARD_URL (default http://127.0.0.1:8080) "
            "with the token in STEWARD_TOKEN."
        ),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.callback()(root)
    app.command("server")(server)
    app.add_typer(db, name="db")
    catalog_commands.register(app)
    registry_commands.register(app)
    app.command("sql")(sql_shell.sql)
    return app


def main() -> None:
    build_cli()()
