"""Turns every failure into ``{"error_code", "message", "request_id"}`` with the right status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog.access.authorizer import Hidden
from catalog.audit.recorder import AuditScope
from catalog.http.request_audit import note_error
from catalog.logs import get_logger
from common.errors import StewardError

log = get_logger("steward.errors")

_STATUS_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "BAD_REQUEST",
    409: "RESOURCE_ALREADY_EXISTS",
    413: "REQUEST_LIMIT_EXCEEDED",
}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "")
    note_error(request.state, code, message)
    return JSONResponse(
        {"error_code": code, "message": message, "request_id": request_id},
        status_code=status,
        headers=headers,
    )


def _describe_validation(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body",)]
        where = ".".join(loc) or "body"
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            parts.append(f"unknown field '{where}'")
        elif where == "body" and kind in ("model_attributes_type", "dict_type", "missing"):
            parts.append("request body must be a JSON object (send Content-Type: application/json)")
        elif kind == "missing":
            parts.append(f"missing required field '{where}'")
        elif kind == "json_invalid":
            parts.append(f"request body is not valid JSON ({err.get('msg', '')})")
        else:
            parts.append(f"'{where}': {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StewardError)
    async def _steward(request: Request, exc: StewardError) -> JSONResponse:
        log.info("request_failed", error_code=exc.error_code, message=exc.message)
        response = error_response(request, exc.status_code, exc.error_code, exc.message)
        if isinstance(exc, Hidden):
            # The caller is answered as if nothing were there; the event records the truth
            # (a denial, or a missing object below a hidden container): it is for admins.
            audit: AuditScope | None = getattr(request.state, "audit", None)
            if audit is not None:
                audit.failure = exc.audited()
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            request, 400, "INVALID_PARAMETER_VALUE", _describe_validation(list(exc.errors()))
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "BAD_REQUEST")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route for {request.method} {request.url.path}"
        # A 405 says which methods the path has (``Allow``), as HTTP requires.
        return error_response(request, exc.status_code, code, message, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal_error")
        return error_response(
            request, 500, "INTERNAL_ERROR", "internal error; quote the request id to an admin"
        )
