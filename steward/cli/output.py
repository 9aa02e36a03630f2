"""Render results for people (a table, or ``field: value`` lines) or for scripts (JSON, CSV).

People get readable UTC times where the API answers epoch milliseconds, and every value
whole: a table only when it fits the terminal, one ``field: value`` block per row when
it does not (an id cut to ``…`` cannot be pasted into the next command). Scripts get the
API's raw values, as JSON or as CSV.

What a table or a ``field: value`` block shows never acts on the terminal: a control or
invisible character in a value (a name stored before names refused them, a comment, a
SQL result) is written as a visible escape (``\r``, ``\x1b``, ``\u202e``:
:func:`terminal_text`), so a ``\r`` cannot rewrite a line nor an escape sequence recolour
it. Line breaks in free text stay line breaks. ``--json`` and ``--csv`` are for programs
and keep every value as the API answered it (JSON escapes the C0 controls itself).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from common.text import escape_controls
from steward.cli.shared import fail

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CsvFlag = Annotated[
    bool,
    typer.Option("--csv", help="Print CSV (a header line, then raw values) instead of a table."),
]
#: Field names whose integer values are epoch milliseconds in the API's answers.
TIME_SUFFIXES = ("_at", "_time", "_timestamp")
#: Wider than any terminal: to measure a table's natural width, not the width it is given.
_UNBOUNDED = 1_000_000
_console = Console()


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def output_format(as_json: bool, as_csv: bool = False) -> OutputFormat:
    """The format the ``--json`` / ``--csv`` flags ask for (a table without either)."""
    if as_json and as_csv:
        fail("give --json or --csv, not both")
    if as_json:
        return OutputFormat.JSON
    return OutputFormat.CSV if as_csv else OutputFormat.TABLE


def emit_json(value: Any) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def show_rows(rows: Iterable[dict[str, Any]], columns: Sequence[str], fmt: OutputFormat) -> None:
    """Rows as JSON (every field), CSV or a table for people (``columns`` only)."""
    items = list(rows)
    if fmt is OutputFormat.JSON:
        emit_json(items)
    elif fmt is OutputFormat.CSV:
        lines = [columns, *([item.get(c) for c in columns] for item in items)]
        typer.echo(csv_text(lines), nl=False)
    else:
        cells = [[human_cell(c, item.get(c)) for c in columns] for item in items]
        _show_cells(list(columns), cells, show_header=True)


def show_object(value: dict[str, Any], as_json: bool) -> None:
    """One object: JSON, or a ``field | value`` table for people."""
    if as_json:
        emit_json(value)
        return
    cells = [[terminal_text(key), human_cell(key, item)] for key, item in value.items()]
    _show_cells(["field", "value"], cells, show_header=False)


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """CSV lines (``\\n``-terminated): ``None`` empty, lists and objects as JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def human_cell(name: str, value: Any) -> str:
    """A value as people read it: epoch milliseconds of a time field as a UTC time, and
    text safe on a terminal (:func:`terminal_text`)."""
    if _is_epoch_millis(name, value):
        return _utc_text(value) or str(value)
    if _is_no_expiry(name, value):
        return "never"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        # JSON escapes C0 controls but writes DEL, C1 and bidi controls as they are.
        return terminal_text(orjson.dumps(value).decode())
    return terminal_text(str(value))


def terminal_text(text: str) -> str:
    """``text`` as a terminal may print it: control and invisible characters as visible
    escapes (``\r``, ``\x1b``, ``\u202e``), line breaks kept (a ``field: value`` block
    indents a value's further lines; a table cell wraps them)."""
    return escape_controls(text, keep_newlines=True)


def _is_epoch_millis(name: str, value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value > 0
        and name.lower().endswith(TIME_SUFFIXES)
    )


def _is_no_expiry(name: str, value: Any) -> bool:
    """A token's ``expiry_time`` is -1 (or 0) when it does not expire."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value <= 0
        and ("expir" in name.lower())
    )


def _utc_text(millis: int) -> str | None:
    """``2026-12-05 21:30:08Z``; None when the number is no date (out of range)."""
    try:
        moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _show_cells(headers: list[str], cells: list[list[str]], show_header: bool) -> None:
    """A table when it fits the terminal; else each row as ``field: value`` lines.

    A table fits when every column can be at least as wide as its longest word: text may
    then wrap at spaces, but no value (an id, a path, a URL) is ever cut or folded.
    """
    headers = [terminal_text(header) for header in headers]  # SQL result columns are data too
    widths = _column_widths(headers if show_header else None, cells)
    if widths is None:
        _show_vertical(headers, cells, show_header)
        return
    table = Table(show_header=show_header)
    for header, width in zip(headers, widths, strict=True):
        table.add_column(header, width=width)
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))  # Text: a value is never rich markup
    _console.print(table)


def _column_widths(headers: list[str] | None, cells: list[list[str]]) -> list[int] | None:
    """Each column's width in a table as wide as the terminal allows; None if none fits.

    rich alone would narrow the widest column first, cutting a long id to ``…``; here a
    column gets its longest word at least, then a share of the room left up to its
    longest line.
    """
    columns = list(zip(*([headers] if headers else []), *cells, strict=True))
    if not columns:
        return None
    ranges = [_text_range(column) for column in columns]
    room = _console.width - (3 * len(columns) + 1)  # padding of 1 each side, borders
    least = sum(low for low, _ in ranges)
    if least > room:
        return None
    wanted = [high - low for low, high in ranges]
    spare = min(room - least, sum(wanted))
    total = sum(wanted) or 1
    return [low + spare * want // total for (low, _), want in zip(ranges, wanted, strict=True)]


def _text_range(texts: Iterable[str]) -> tuple[int, int]:
    """The width of the longest word and of the longest line among ``texts``."""
    options = _console.options.update_width(_UNBOUNDED)
    sizes = [Measurement.get(_console, options, Text(text)) for text in texts]
    return max(1, *(m.minimum for m in sizes)), max(1, *(m.maximum for m in sizes))


def _show_vertical(headers: list[str], cells: list[list[str]], show_header: bool) -> None:
    if not show_header:  # one object: its rows are already its fields
        typer.echo(_vertical([row[0] for row in cells], [row[1] for row in cells]))
        return
    typer.echo("\n\n".join(_vertical(headers, row) for row in cells))


def _vertical(names: Sequence[str], values: Sequence[str]) -> str:
    """``name: value`` lines, values aligned; a value's further lines indented under it."""
    width = max((len(n) for n in names), default=0) + 2
    indent = "\n" + " " * width
    return "\n".join(
        f"{name + ':':<{width}}{value.replace(chr(10), indent)}".rstrip()
        for name, value in zip(names, values, strict=True)
    )
