"""``steward sql``: one statement, an interactive shell at a terminal, or a piped script."""

from __future__ import annotations

import cmd
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from steward.cli import catalog_commands as catalog_commands
from steward.cli.output import (
    CsvFlag,
    JsonFlag,
    OutputFormat,
    emit_json,
    output_format,
    show_rows,
)
from steward.cli.shared import CliClient, api

SQL_PATH = "/api/2.0/sql/statements"
SQL_HISTORY = Path("~/.steward_sql_history")


def _run_sql(
    client: CliClient,
    statement: str,
    catalog: str | None,
    schema: str | None,
    fmt: OutputFormat,
) -> dict[str, Any] | None:
    """Run one statement and print its result; the answer, or None when it failed."""
    body: dict[str, str] = {"statement": statement}
    if catalog:
        body["catalog"] = catalog
    if schema:
        body["schema"] = schema
    answer = client.post(SQL_PATH, body)
    status = answer.get("status", {})
    if status.get("state") != "SUCCEEDED":
        if fmt is OutputFormat.JSON:
            emit_json(answer)
        else:
            error = status.get("error") or {}
            typer.secho(
                f"error: {error.get('error_code', 'ERROR')}: {error.get('message', '')}",
                fg=typer.colors.RED,
                err=True,
            )
        return None
    columns = [c["name"] for c in answer["manifest"]["schema"]["columns"]]
    rows = [dict(zip(columns, row, strict=False)) for row in answer["result"]["data_array"]]
    show_rows(rows, columns, fmt)
    return answer


def _used(statement: str, answer: dict[str, Any]) -> tuple[str, str | None] | None:
    """The catalog and schema a successful ``USE`` answered (the server checked them)."""
    if not statement.lstrip().upper().startswith("USE"):
        return None
    columns = [c["name"] for c in answer["manifest"]["schema"]["columns"]]
    rows = answer["result"]["data_array"]
    if columns != ["catalog", "schema"] or len(rows) != 1:
        return None
    return rows[0][0], rows[0][1]


class SqlShell(cmd.Cmd):
    """A SQL prompt: statements may span lines and end at ';'.

    At a terminal it is interactive (prompts, history, an unfinished statement is dropped
    at Ctrl-D). Reading a script from a pipe it prints no prompt, runs a last statement
    left without ';', and counts the statements that failed so the command can exit 1.
    """

    intro = "Steward SQL. End statements with ';'. Type 'exit' or Ctrl-D to leave."
    prompt = "steward> "
    continuation = "     ...> "

    def __init__(self, run: Callable[[str], bool], history: Path, interactive: bool) -> None:
        super().__init__()
        self.run = run
        self.history = history
        self.interactive = interactive
        self.buffer: list[str] = []
        self.failures = 0
        if not interactive:
            self.intro = None
            self.prompt = self.continuation = ""

    def preloop(self) -> None:
        if not self.interactive:
            return
        try:
            import readline

            readline.set_history_length(1000)
            if self.history.exists():
                readline.read_history_file(self.history)
        except (ImportError, OSError):
            pass

    def postloop(self) -> None:
        if not self.interactive:
            return
        try:
            import readline

            readline.write_history_file(self.history)
        except (ImportError, OSError):
            pass

    def onecmd(self, line: str) -> bool:
        if line == "EOF":
            return self._end_of_input()
        stripped = line.strip()
        if not self.buffer and stripped.rstrip(";").lower() in {"exit", "quit", "\\q"}:
            return True
        if not stripped and not self.buffer:
            return False
        self.buffer.append(line)
        text = "\n".join(self.buffer).strip()
        if not text.endswith(";"):
            self.prompt = self.continuation
            return False
        self.execute(text)
        return False

    def execute(self, text: str) -> None:
        """Run one statement; a failure is counted (its error was printed), never raised."""
        self.buffer = []
        self.prompt = SqlShell.prompt if self.interactive else ""
        succeeded = False
        with contextlib.suppress(typer.Exit):  # the error was printed; the shell goes on
            succeeded = self.run(text)
        if not succeeded:
            self.failures += 1

    def _end_of_input(self) -> bool:
        if self.interactive:
            typer.echo()
        elif any(line.strip() for line in self.buffer):
            self.execute("\n".join(self.buffer).strip())
        return True


def sql(
    statement: Annotated[
        str | None,
        typer.Argument(help="One SQL statement; else a shell, or a script on stdin."),
    ] = None,
    catalog: Annotated[
        str | None, typer.Option("--catalog", help="Default catalog for partial names.")
    ] = None,
    schema: Annotated[
        str | None, typer.Option("--schema", help="Default schema for partial names.")
    ] = None,
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
) -> None:
    """Run SQL: steward sql "GRANT USE CATALOG ON CATALOG main TO `ana@example.com`"

    Without a statement it reads statements from stdin: an interactive shell at a
    terminal; a script from a pipe, which goes on after a failed statement and exits 1
    at the end if any failed. USE CATALOG / USE SCHEMA set the defaults of the
    statements after it.
    """
    fmt = output_format(as_json, as_csv)
    client = api()
    defaults = {"catalog": catalog, "schema": schema}

    def run(text: str) -> bool:
        answer = _run_sql(client, text, defaults["catalog"], defaults["schema"], fmt)
        used = _used(text, answer) if answer is not None else None
        if used is not None:  # USE CATALOG c / USE SCHEMA c.s: later statements' defaults
            defaults["catalog"], defaults["schema"] = used
        return answer is not None

    if statement is not None:
        if not run(statement):
            raise typer.Exit(1)
        return
    shell = SqlShell(run, SQL_HISTORY.expanduser(), interactive=sys.stdin.isatty())
    _loop(shell)
    if shell.failures and not shell.interactive:
        raise typer.Exit(1)


def _loop(shell: SqlShell) -> None:
    """Run the shell until exit or end of input; Ctrl-C drops the statement being typed."""
    while True:
        try:
            shell.cmdloop()
            return
        except KeyboardInterrupt:
            typer.echo("^C")
            shell.buffer = []
            shell.prompt = SqlShell.prompt
            shell.intro = None
