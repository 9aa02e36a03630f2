"""Render results as a table for people or JSON for scripts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
_console = Console()


def emit_json(value: Any) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def show_rows(rows: Iterable[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    items = list(rows)
    if as_json:
        emit_json(items)
        return
    table = Table(*columns)
    for item in items:
        table.add_row(*(_cell(item.get(c)) for c in columns))
    _console.print(table)


def show_object(value: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(value)
        return
    table = Table("field", "value", show_header=False)
    for key, item in value.items():
        table.add_row(key, _cell(item))
    _console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)
