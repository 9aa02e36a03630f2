"""Rows of managed (feature) tables: ``/api/2.1/steward/tables/{full_name}/rows`` and ``/lookup``.

Writing needs MODIFY on the table (with USE CATALOG and USE SCHEMA), reading by key
SELECT, as for SQL ``MERGE INTO`` and ``SELECT``. Rows come as JSON
(``{"rows": [{column: value}, …]}``) or as CSV with a header line
(``Content-Type: text/csv``); either way the whole batch is checked before anything is
written, and a bad value rejects it with the row and column named. The audit event of a
write or lookup records how many rows and keys, never their values.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalog.http.deps import CallerDep, RuntimeDep, read_body_first
from catalog.http.guards import guard
from catalog.http.models import Response
from catalog.http.request_audit import BODY_NOT_AUDITED, note_params
from catalog.sql.session_functions import SessionContext
from common.errors import InvalidParameter
from common.values import present_row
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType

router = APIRouter(prefix="/api/2.1/steward/tables", tags=["Table rows"])
BY_NAME = NameFrom.path("full_name")
TABLE = SecurableType.TABLE
CSV_TYPES = ("text/csv", "application/csv")


class DataBody(BaseModel):
    """A body of rows or keys: unknown fields refused; the values themselves are checked
    by :func:`common.values.check_rows`, which names the row and column."""

    model_config = ConfigDict(extra="forbid")


class WriteRows(DataBody):
    rows: list[dict[str, Any]]
    #: ``merge`` updates rows whose primary key exists and inserts the others; ``append``
    #: refuses a batch with an existing key (as ``INSERT INTO`` does).
    mode: Literal["merge", "append"] = "merge"


class WriteRowsResponse(Response):
    num_affected_rows: int
    num_inserted_rows: int
    num_updated_rows: int


#: The longest lookback window: 100 years.
MAX_LOOKBACK_SECONDS = 100 * 366 * 86_400


class LookupRows(DataBody):
    #: One object per key, giving the primary key columns (without the timeseries column).
    keys: list[dict[str, Any]] = Field(max_length=100_000)
    #: Point in time per key (ISO 8601): the latest row not later than it.
    as_of: list[Any] | None = None
    #: With ``as_of``: ignore rows older than ``as_of`` minus this many seconds (0: only a
    #: row stamped exactly at ``as_of``, as Databricks' zero lookback window). At most a
    #: century: further back than that no time is (and a larger window would overflow).
    lookback_seconds: (
        Annotated[float, Field(ge=0, le=MAX_LOOKBACK_SECONDS, allow_inf_nan=False)] | None
    ) = None


class LookupRowsResponse(Response):
    #: One entry per key, in order: the row (every column), or null when there is none.
    rows: list[dict[str, Any] | None]


def _csv_rows(raw: bytes) -> list[dict[str, str]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidParameter(f"the CSV body is not UTF-8 (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    rows: list[dict[str, str]] = []
    try:
        for row in reader:
            if None in row:
                raise InvalidParameter(
                    f"row {len(rows) + 1}: more fields than the header has columns"
                )
            if any(value is None for value in row.values()):
                raise InvalidParameter(f"row {len(rows) + 1}: fewer fields than the header")
            rows.append(row)
    except csv.Error as exc:
        raise InvalidParameter(
            f"the CSV body is malformed at line {reader.line_num}: {exc}"
        ) from None
    if reader.fieldnames is None:
        raise InvalidParameter("the CSV body is empty: it needs a header line of column names")
    return rows


@router.post(
    "/{full_name}/rows",
    dependencies=[
        Depends(read_body_first),
        guard(privilege=Privilege.MODIFY, on=TABLE, name_from=BY_NAME),
    ],
    operation_id="writeTableRows",
    openapi_extra={
        **BODY_NOT_AUDITED,
        "requestBody": {
            "content": {
                "application/json": {"schema": WriteRows.model_json_schema()},
                "text/csv": {"schema": {"type": "string"}},
            }
        },
    },
)
async def write_rows(full_name: str, request: Request, rt: RuntimeDep) -> WriteRowsResponse:
    """Merge (upsert by primary key) or append rows; JSON or CSV."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    raw = await request.body()
    if content_type.lower() in CSV_TYPES:
        rows: list[Any] = _csv_rows(raw)
        mode = request.query_params.get("mode", "merge")
        if mode not in ("merge", "append"):
            raise InvalidParameter(f"mode '{mode}' is not one of merge, append")
        text = True
    else:
        try:
            body = WriteRows.model_validate(orjson.loads(raw or b"null"))
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter(f"request body is not valid JSON: {exc}") from None
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "body"
            raise InvalidParameter(f"{where}: {error['msg']}") from None
        rows, mode, text = body.rows, body.mode, False
    note_params(request.state, num_rows=len(rows), mode=mode, format="csv" if text else "json")
    result = await run_in_threadpool(
        rt.data.write, full_name, rows, text=text, merge=mode == "merge"
    )
    return WriteRowsResponse(
        num_affected_rows=result.num_affected_rows,
        num_inserted_rows=result.num_inserted_rows,
        num_updated_rows=result.num_updated_rows,
    )


@router.post(
    "/{full_name}/lookup",
    dependencies=[guard(privilege=Privilege.SELECT, on=TABLE, name_from=BY_NAME)],
    operation_id="lookupTableRows",
    openapi_extra=BODY_NOT_AUDITED,
)
def lookup_rows(
    full_name: str, body: LookupRows, request: Request, rt: RuntimeDep, caller: CallerDep
) -> LookupRowsResponse:
    """Rows by primary key, latest or as of a time per key; the caller's row filter and
    column masks apply, as in SQL (docs/row-access.md)."""
    note_params(request.state, num_keys=len(body.keys), point_in_time=body.as_of is not None)
    lookback = (
        timedelta(seconds=body.lookback_seconds) if body.lookback_seconds is not None else None
    )
    if lookback is not None and body.as_of is None:
        raise InvalidParameter("lookback_seconds needs as_of")
    session = SessionContext.of(caller.name, caller.groups)
    layout, found = rt.data.lookup(
        full_name,
        body.keys,
        as_of=body.as_of,
        lookback=lookback,
        access=lambda layout: rt.row_access.for_caller(layout.record, session),
    )
    columns = layout.columns
    return LookupRowsResponse(
        rows=[
            None if row is None else present_row(columns, [row[c.name] for c in columns])
            for row in found
        ]
    )
