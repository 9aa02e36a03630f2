"""The SQL editor: run a statement through the statement API as the signed-in user, see
its rows, or its error with the line and column marked in the text. The history of what
was run is kept in the browser (``localStorage``), never on the server."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from steward.console.app import Page, signed_in

router = APIRouter()
PageDep = Annotated[Page, Depends(signed_in)]
#: Where an error message of the dialect or the compiler says the problem is.
POSITION = re.compile(r"line (\d+),\s*(?:near\s+)?column (\d+)")
#: Rows shown in the page (the statement API caps what it returns anyway).
SHOWN_ROWS = 1000


@router.get("/console/sql")
async def editor(page: PageDep, statement: str = "") -> Response:
    return page.render("sql.html", statement=statement)


@router.post("/console/sql/run")
async def run(
    page: PageDep,
    statement: Annotated[str, Form(max_length=100_000)] = "",
    default_catalog: Annotated[str, Form(max_length=255)] = "",
    default_schema: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    await page.check_csrf()
    if not statement.strip():
        return page.render("fragments/sql_result.html", empty=True)
    started = time.perf_counter()
    answer = await page.api.sql(
        statement, catalog=default_catalog or None, schema=default_schema or None
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    status = answer.get("status", {})
    if status.get("state") != "SUCCEEDED":
        error = status.get("error", {})
        message = str(error.get("message", "the statement failed"))
        return page.render(
            "fragments/sql_result.html",
            error_code=error.get("error_code", "ERROR"),
            message=message,
            lines=_marked(statement, message),
        )
    columns = [c["name"] for c in answer.get("manifest", {}).get("schema", {}).get("columns", [])]
    result = answer.get("result", {})
    rows: list[list[Any]] = result.get("data_array", []) or []
    return page.render(
        "fragments/sql_result.html",
        columns=columns,
        rows=rows[:SHOWN_ROWS],
        row_count=len(rows),
        truncated=bool(answer.get("manifest", {}).get("truncated")) or len(rows) > SHOWN_ROWS,
        elapsed_ms=elapsed_ms,
    )


def _marked(statement: str, message: str) -> list[dict[str, Any]]:
    """The statement's lines, the one the error names marked with its column (1-based)."""
    found = POSITION.search(message)
    line_number, column = (int(found.group(1)), int(found.group(2))) if found else (0, 0)
    return [
        {
            "number": number,
            "text": text,
            "marked": number == line_number,
            "column": column if number == line_number else 0,
        }
        for number, text in enumerate(statement.splitlines() or [""], start=1)
    ]
