"""FastAPI dependencies: the runtime services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from catalog.access.authorizer import Caller
from catalog.runtime import Runtime
from common.errors import Unauthenticated

# The dependencies below are ``async def`` although they await nothing: FastAPI runs a
# plain ``def`` dependency on a worker thread, a thread hand-off each per request (every
# route has both) for what is an attribute read.


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


#: The bearer scheme, declared so the OpenAPI document shows it; the decision itself is made
#: before routing (:class:`catalog.http.middleware.AuthenticationMiddleware`).
bearer_scheme = HTTPBearer(auto_error=False, description="A Steward personal access token")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def caller_of(request: Request) -> Caller:
    """The caller the authentication middleware established."""
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):
        raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
    return caller


async def current_caller(request: Request, _credentials: BearerDep) -> Caller:
    return caller_of(request)


async def read_body_first(request: Request) -> None:
    """For routes that read their body themselves (rows, model inputs): list it before the
    guard, so the body is read first, as FastAPI does for declared bodies, and an oversized
    one is refused (413) before anything else is looked at."""
    await request.body()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CallerDep = Annotated[Caller, Depends(current_caller)]
