"""``POST /api/2.0/sql/statements``: Steward SQL in the Databricks Statement Execution shape.

Authorization happens per statement in :class:`catalog.sql.StatementExecutor`; a statement
that fails (syntax, permission, missing object, bad input) is HTTP 200 with state FAILED.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlglot import exp

from catalog.access.authorizer import Hidden
from catalog.audit.recorder import current_scope
from catalog.http.deps import CallerDep, RuntimeDep
from catalog.http.guards import AUTHENTICATED, guard
from catalog.sql import StatementExecutor
from common.errors import InvalidParameter, StewardError
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

    model_config = {"populate_by_name": True}


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
    position: int


class ResultSchema(BaseModel):
    column_count: int
    columns: list[ColumnInfo]


class Manifest(BaseModel):
    schema_: ResultSchema = Field(serialization_alias="schema")
    #: True when the rows were cut at the server's row limit (Databricks' field).
    truncated: bool | None = None


class ResultData(BaseModel):
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
    response_model_exclude_none=True,
    response_model_by_alias=True,
)
def execute_statement(
    body: ExecuteStatement, caller: CallerDep, rt: RuntimeDep
) -> StatementResponse:
    statement_id = str(uuid.uuid4())
    scope = current_scope()
    if scope is not None:
        scope.params = _audited(statement_id, body.statement)
        scope.metadata_read = False
    try:
        values: dict[str, object] = {}
        for parameter in body.parameters:
            if parameter.name in values:
                raise InvalidParameter(f"parameter :{parameter.name} is given twice")
            values[parameter.name] = _value(parameter)
        executor = StatementExecutor(rt, caller, body.catalog, body.schema_, statement_id)
        result = executor.execute(body.statement, values)
    except SqlSyntaxError as exc:
        return _failed(statement_id, "PARSE_SYNTAX_ERROR", exc.message)
    except ParameterError as exc:
        return _failed(statement_id, InvalidParameter.error_code, str(exc))
    except Hidden as exc:
        return _failed(statement_id, exc.error_code, exc.message, exc.status_code, exc.audited())
    except StewardError as exc:
        return _failed(statement_id, exc.error_code, exc.message, exc.status_code)
    columns = [
        ColumnInfo(name=name, type_text=type_text, position=i)
        for i, (name, type_text) in enumerate(result.columns)
    ]
    return StatementResponse(
        statement_id=statement_id,
        status=StatementStatus(state="SUCCEEDED"),
        manifest=Manifest(
            schema_=ResultSchema(column_count=len(columns), columns=columns),
            truncated=True if result.truncated else None,
        ),
        result=ResultData(row_count=len(result.rows), data_array=result.rows),
    )
