"""``/api/2.0/sql/statements``: Steward SQL in the Databricks Statement Execution shape.

Authorization happens per statement in :class:`catalog.sql.StatementExecutor`; a statement
that fails (syntax, permission, missing object, bad input) is HTTP 200 with state FAILED.
Every statement runs to the end before the answer; the answer is kept for a while
(:mod:`catalog.sql.statement_results`) so the caller who ran it can read it again by id,
as Databricks' clients do. A Databricks SDK gets the answer as Databricks writes it
(values as text, its error codes: :func:`render`); everyone else gets Steward's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlglot import exp
from starlette.concurrency import run_in_threadpool

from catalog.access.authorizer import Caller, Hidden
from catalog.audit.events import AuditEvent
from catalog.audit.recorder import AuditScope, current_scope, never_alone
from catalog.audit.riders import Rider
from catalog.http.client_dialect import Dialect, DialectDep
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.direct import DIRECT
from catalog.http.guards import AUTHENTICATED, guard
from catalog.runtime import Runtime
from catalog.sql import StatementExecutor, StatementResult, statement_results
from catalog.sql.executor import ok_result
from common.column_types import parse_column_type
from common.errors import InvalidParameter, NotFound, StewardError
from common.ids import random_uuid
from policy.dialect import (
    SqlSyntaxError,
)
from policy.parameters import (
    ParameterError,
)

router = APIRouter(prefix="/api/2.0/sql", tags=["SQL"])

#: Statement text kept in the audit event; a longer statement is kept as its first
#: ``AUDITED_STATEMENT_CHARS`` characters and its length (``statement_chars``).
AUDITED_STATEMENT_CHARS = 8192


class StatementParameter(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    value: str | None = None
    type: str | None = Field(default=None, max_length=64)


class ExecuteStatement(BaseModel):
    #: Bounded by the body limit here; ``STEWARD_SQL_MAX_CHARS`` is checked by the executor,
    #: so that a refusal has the statement's error shape and is audited as one.
    statement: str
    parameters: list[StatementParameter] = Field(default_factory=list, max_length=256)
    catalog: str | None = Field(default=None, max_length=255)
    schema_: str | None = Field(default=None, alias="schema", max_length=255)
    #: Accepted for compatibility with Databricks clients; Steward has no warehouses.
    warehouse_id: str | None = None
    #: Only ``JSON_ARRAY`` and ``INLINE`` (the defaults) are served; others are a 400.
    format: str | None = Field(default=None, max_length=32)
    disposition: str | None = Field(default=None, max_length=32)
    #: At most this many rows come back (``manifest.truncated`` says when more were cut).
    row_limit: int | None = Field(default=None, ge=0)
    #: Accepted and ignored: Steward answers when the statement has finished, whatever
    #: the wait, and bounds results by its own limits (docs/sql.md).
    byte_limit: int | None = Field(default=None, ge=0)
    wait_timeout: str | None = Field(default=None, max_length=16)
    on_wait_timeout: str | None = Field(default=None, max_length=16)
    query_tags: list[dict[str, Any]] | None = Field(default=None, max_length=64)

    model_config = {"populate_by_name": True}

    def check_supported(self) -> None:
        if self.format is not None and self.format.upper() != "JSON_ARRAY":
            raise InvalidParameter(
                f"format '{self.format}' is not supported: Steward answers JSON_ARRAY only"
            )
        if self.disposition is not None and self.disposition.upper() != "INLINE":
            raise InvalidParameter(
                f"disposition '{self.disposition}' is not supported: Steward answers INLINE only"
            )


class StatementError(BaseModel):
    error_code: str
    message: str


class StatementStatus(BaseModel):
    state: str
    error: StatementError | None = None
    sql_state: str | None = None


#: SQLSTATE of a failed statement, by error code (ANSI / PostgreSQL classes).
SQL_STATES = {
    "PARSE_SYNTAX_ERROR": "42601",
    "PERMISSION_DENIED": "42501",
    "RESOURCE_DOES_NOT_EXIST": "42704",
    "RESOURCE_ALREADY_EXISTS": "42710",
    "INVALID_STATE": "55000",
    "INVALID_PARAMETER_VALUE": "22023",
    "DEADLINE_EXCEEDED": "57014",
}


class ColumnInfo(BaseModel):
    name: str
    type_text: str
    #: Databricks' type name (``LONG`` for bigint, ``STRING`` …), when Steward knows it.
    type_name: str | None = None
    position: int


class ResultSchema(BaseModel):
    column_count: int
    columns: list[ColumnInfo]


class Chunk(BaseModel):
    chunk_index: int
    row_offset: int
    row_count: int


class Manifest(BaseModel):
    format: str = "JSON_ARRAY"
    schema_: ResultSchema = Field(alias="schema")
    total_row_count: int = 0
    #: The whole result is always one chunk, inline.
    total_chunk_count: int = 1
    chunks: list[Chunk] = Field(default_factory=list)
    #: True when the rows were cut at the server's row limit (Databricks' field).
    truncated: bool | None = None

    model_config = {"populate_by_name": True}


class ResultData(BaseModel):
    chunk_index: int = 0
    row_offset: int = 0
    row_count: int
    data_array: list[list[Any]]


class StatementResponse(BaseModel):
    statement_id: str
    status: StatementStatus
    manifest: Manifest | None = None
    result: ResultData | None = None


_INTEGER_TYPES = {"INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "LONG", "SHORT", "BYTE"}
_DECIMAL_TYPES = {"DECIMAL", "DOUBLE", "FLOAT", "REAL", "NUMERIC"}


def _value(parameter: StatementParameter) -> object:
    """A parameter's value as a Python value for ``bind_parameters`` (never spliced as text)."""
    if parameter.value is None:
        return None
    kind = (parameter.type or "STRING").strip().upper()
    try:
        if kind in _INTEGER_TYPES:
            return int(parameter.value)
        if kind in _DECIMAL_TYPES:
            return Decimal(parameter.value)
        if kind in {"BOOLEAN", "BOOL"}:
            lowered = parameter.value.strip().lower()
            if lowered not in {"true", "false"}:
                raise ValueError(parameter.value)
            return lowered == "true"
    except (ValueError, ArithmeticError) as exc:
        raise InvalidParameter(
            f"parameter :{parameter.name} value {parameter.value!r} is not a valid {kind}"
        ) from exc
    if kind not in {"STRING", "VARCHAR", "CHAR"}:
        raise InvalidParameter(f"parameter :{parameter.name} has unsupported type {kind}")
    return exp.Literal.string(parameter.value)


def _audited(statement_id: str, statement: str) -> dict[str, object]:
    """The statement's audit parameters: its id and text, a long text cut to its head (the
    audit log would otherwise keep only the parameters' names)."""
    if len(statement) <= AUDITED_STATEMENT_CHARS:
        return {"statement_id": statement_id, "statement": statement}
    return {
        "statement_id": statement_id,
        "statement": statement[:AUDITED_STATEMENT_CHARS] + "…",
        "statement_chars": len(statement),
    }


def _failed(
    statement_id: str,
    code: str,
    message: str,
    status: int = 400,
    audited: tuple[int, str] | None = None,
) -> StatementResponse:
    """A FAILED statement: HTTP 200 to the client, a failure in the audit log (``audited``:
    what the event says instead, for a refusal answered as a missing object)."""
    scope = current_scope()
    if scope is not None:
        scope.failure = audited or (status, f"{code}: {message}")
    return StatementResponse(
        statement_id=statement_id,
        status=StatementStatus(
            state="FAILED",
            error=StatementError(error_code=code, message=message),
            sql_state=SQL_STATES.get(code),
        ),
    )


@router.post(
    "/statements",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="executeStatement",
    response_model=StatementResponse,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    openapi_extra=DIRECT,
)
async def execute_statement(
    body: ExecuteStatement, caller: CallerDep, rt: RuntimeDep, dialect: DialectDep
) -> Response:
    """Answers the JSON it keeps, serialised once (FastAPI would validate the answer
    against the response model again and serialise it a second time: several percent of
    a SHOW statement's CPU), or for a Databricks SDK its rendering. A direct route
    (catalog/http/direct.py): the body parsed and validated as the router would, without
    the router's matching and solver.

    A statement the caches answer (:meth:`StatementExecutor.answer_from_caches`: a SHOW or
    DESCRIBE seen lately) is answered right here on the event loop, its answer kept with
    its audit event by the group commit; any other runs on a worker thread."""
    body.check_supported()
    statement_id = random_uuid()  # not a secret: a statement is found for its caller only
    scope = current_scope()
    if scope is not None:
        scope.params = _audited(statement_id, body.statement)
        scope.metadata_read = False
    response = None if body.parameters else _answer_from_caches(body, caller, rt, statement_id)
    if response is None:
        response, answer = await run_in_threadpool(
            _answer_on_a_thread, body, caller, rt, statement_id
        )
    else:
        answer = _json(response)
        event = _closing_event(rt, scope)
        await statement_results.keep_on_loop(
            rt.audit_commits,
            scope.alone if scope is not None else never_alone,
            statement_id,
            caller.principal.id,
            answer,
            rt.settings.statement_result_seconds,
            event,
        )
        if scope is not None and event is not None:
            scope.written = True
    if dialect is Dialect.DATABRICKS:
        answer = _json(render(response, dialect))
    return Response(answer, media_type="application/json")


def _closing_event(rt: Runtime, scope: AuditScope | None) -> AuditEvent | None:
    """The request's audit event, to commit with its kept answer (None: no event)."""
    if scope is not None and rt.audit.needs_event(scope, 200):
        return rt.audit.closing_event(scope, scope.success_status)
    return None


def _answer_from_caches(
    body: ExecuteStatement, caller: Caller, rt: Runtime, statement_id: str
) -> StatementResponse | None:
    """The statement's answer from the caches alone (None: run it on a thread); a refusal
    is the FAILED answer :func:`_run` gives."""
    executor = StatementExecutor(rt, caller, body.catalog, body.schema_, statement_id)
    return _answered(statement_id, body, lambda: executor.answer_from_caches(body.statement))


def _answer_on_a_thread(
    body: ExecuteStatement, caller: Caller, rt: Runtime, statement_id: str
) -> tuple[StatementResponse, str]:
    """Run the statement and keep its answer with the request's event; the answer and its
    JSON."""
    scope = current_scope()

    @functools.cache
    def ok_answer() -> str:
        return _json(_succeeded(statement_id, ok_result(), body.row_limit))

    def keep_ok() -> Rider:  # a GRANT's answer, kept with the grant
        return statement_results.answer_rider(statement_id, caller.principal.id, ok_answer())

    response = _run(body, caller, rt, statement_id, keep_ok)
    answer = _json(response)
    kept_with_change = scope is not None and scope.with_event_committed
    if not kept_with_change or answer != ok_answer():
        event = _closing_event(rt, scope)
        statement_results.keep(
            rt.audit_commits,
            statement_id,
            caller.principal.id,
            answer,
            rt.settings.statement_result_seconds,
            event,
            replace=kept_with_change,
        )
        if scope is not None and event is not None:
            scope.written = True
    return response, answer


def _json(response: StatementResponse) -> str:
    """As the routes' ``response_model_by_alias`` and ``response_model_exclude_none``
    serialise it."""
    return response.model_dump_json(by_alias=True, exclude_none=True)


def _run(
    body: ExecuteStatement,
    caller: Caller,
    rt: Runtime,
    statement_id: str,
    keep_ok: Callable[[], Rider],
) -> StatementResponse:
    executor = StatementExecutor(
        rt, caller, body.catalog, body.schema_, statement_id, keep_ok_answer=keep_ok
    )

    def execute() -> StatementResult:
        values: dict[str, object] = {}
        for parameter in body.parameters:
            if parameter.name in values:
                raise InvalidParameter(f"parameter :{parameter.name} is given twice")
            values[parameter.name] = _value(parameter)
        return executor.execute(body.statement, values)

    answered = _answered(statement_id, body, execute)
    assert answered is not None
    return answered


def _answered(
    statement_id: str, body: ExecuteStatement, execute: Callable[[], StatementResult | None]
) -> StatementResponse | None:
    """The answer to the statement ``execute`` runs: SUCCEEDED with its result, FAILED
    with the error it raised, or None if it returned None (it did not run)."""
    try:
        result = execute()
    except SqlSyntaxError as exc:
        return _failed(statement_id, "PARSE_SYNTAX_ERROR", exc.message)
    except ParameterError as exc:
        return _failed(statement_id, InvalidParameter.error_code, str(exc))
    except Hidden as exc:
        return _failed(statement_id, exc.error_code, exc.message, exc.status_code, exc.audited())
    except StewardError as exc:
        return _failed(statement_id, exc.error_code, exc.message, exc.status_code)
    if result is None:
        return None
    return _succeeded(statement_id, result, body.row_limit)


def _succeeded(
    statement_id: str, result: StatementResult, row_limit: int | None
) -> StatementResponse:
    columns = [
        ColumnInfo(name=name, type_text=type_text, type_name=_type_name(type_text), position=i)
        for i, (name, type_text) in enumerate(result.columns)
    ]
    rows = result.rows
    truncated = result.truncated
    if row_limit is not None and len(rows) > row_limit:
        rows, truncated = rows[:row_limit], True
    return StatementResponse(
        statement_id=statement_id,
        status=StatementStatus(state="SUCCEEDED"),
        manifest=Manifest(
            schema_=ResultSchema(column_count=len(columns), columns=columns),
            total_row_count=len(rows),
            chunks=[Chunk(chunk_index=0, row_offset=0, row_count=len(rows))],
            truncated=True if truncated else None,
        ),
        result=ResultData(row_count=len(rows), data_array=rows),
    )


@functools.lru_cache(maxsize=1024)
def _type_name(type_text: str) -> str | None:
    try:
        return parse_column_type(type_text).type_name
    except InvalidParameter:
        return None


@router.get(
    "/statements/{statement_id}",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="getStatement",
    response_model_exclude_none=True,
    response_model_by_alias=True,
)
def get_statement(
    statement_id: str, caller: CallerDep, rt: RuntimeDep, dialect: DialectDep
) -> StatementResponse:
    """A statement's answer again, for the caller who ran it, while it is kept
    (``STEWARD_STATEMENT_RESULT_SECONDS``); anyone else's, or an expired one, is a 404."""
    return render(_kept(statement_id, caller, rt), dialect)


@router.post(
    "/statements/{statement_id}/cancel",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="cancelStatement",
)
def cancel_statement(statement_id: str, caller: CallerDep, rt: RuntimeDep) -> dict[str, Any]:
    """Every statement has finished by the time its id is known, so there is nothing to
    cancel: as Databricks answers for a finished statement, 200 and no change."""
    _kept(statement_id, caller, rt)
    return {}


@router.get(
    "/statements/{statement_id}/result/chunks/{chunk_index}",
    dependencies=[guard(AUTHENTICATED)],
    operation_id="getStatementResultChunkN",
)
def get_result_chunk(
    statement_id: str, chunk_index: int, caller: CallerDep, rt: RuntimeDep, dialect: DialectDep
) -> ResultData:
    """The result's one chunk (index 0)."""
    response = _kept(statement_id, caller, rt)
    if response.result is None:
        raise InvalidParameter(
            f"statement '{statement_id}' has no result (state {response.status.state})"
        )
    if chunk_index != 0:
        raise InvalidParameter(f"chunk {chunk_index} does not exist: the result is one chunk, 0")
    rendered = render(response, dialect).result
    assert rendered is not None
    return rendered


def _kept(statement_id: str, caller: Caller, rt: Runtime) -> StatementResponse:
    found = statement_results.find(
        rt.db, statement_id, caller.principal.id, rt.settings.statement_result_seconds
    )
    if found is None:
        raise NotFound(f"statement '{statement_id}' does not exist or has expired")
    return StatementResponse.model_validate(orjson.loads(found))


# -- what a Databricks SDK reads ---------------------------------------------------------------

#: Steward's statement error codes as Databricks' ``ServiceErrorCode`` (the SDKs parse the
#: code into that enum and drop any other); the Steward code leads the message instead.
DATABRICKS_ERROR_CODES = {
    "PARSE_SYNTAX_ERROR": "BAD_REQUEST",
    "INVALID_PARAMETER_VALUE": "BAD_REQUEST",
    "INVALID_STATE": "BAD_REQUEST",
    "PERMISSION_DENIED": "BAD_REQUEST",
    "RESOURCE_DOES_NOT_EXIST": "NOT_FOUND",
    "RESOURCE_ALREADY_EXISTS": "ALREADY_EXISTS",
    "REQUEST_LIMIT_EXCEEDED": "RESOURCE_EXHAUSTED",
    "DEADLINE_EXCEEDED": "DEADLINE_EXCEEDED",
}


def render(response: StatementResponse, dialect: Dialect) -> StatementResponse:
    """``response`` as ``dialect`` reads it. For a Databricks SDK: every value as text (or
    null), as Databricks' JSON_ARRAY format sends them, and the error code one of
    Databricks' with Steward's leading the message (``[PERMISSION_DENIED] …``)."""
    if dialect is not Dialect.DATABRICKS:
        return response
    update: dict[str, Any] = {}
    error = response.status.error
    if error is not None:
        code = DATABRICKS_ERROR_CODES.get(error.error_code, "BAD_REQUEST")
        message = f"[{error.error_code}] {error.message}"
        update["status"] = response.status.model_copy(
            update={"error": StatementError(error_code=code, message=message)}
        )
    if response.result is not None:
        rows = [[_as_text(v) for v in row] for row in response.result.data_array]
        update["result"] = response.result.model_copy(update={"data_array": rows})
    return response.model_copy(update=update)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)
