"""Direct routes: the hottest routes, run without FastAPI's router and dependency solver.

A serving invocation or a cached metadata read (GET table, list tables, GET model version
by alias, GET permissions) is a small request whose fixed costs dominate. Profiles put a fifth of
its time between the last middleware and the handler: Starlette's exception and
exit-stack layers, matching the path against the routes before it, and FastAPI's
dependency solver walking the route's dependencies (the app's audit naming, the guard and
its bearer scheme, the runtime) and their signatures on every request.

A route marked :data:`DIRECT` (in ``openapi_extra``) stays an ordinary FastAPI route: it
is in the OpenAPI document, route walks find it, and any method it does not take goes
through the router as before. But a request it takes is answered here: the route's own
matcher fills the path parameters (validated by FastAPI's own function where they are not
text), the route's effective dependencies — the same objects
FastAPI would solve, in the same order — are awaited with the request, then the handler,
and a failure goes to the app's own exception handlers. Nothing about authorization or
audit differs: it is the same guard and the same audit dependency; only the generic
machinery around them is skipped.

The plan of each call is FastAPI's own analysis of its signature (its ``Dependant``), made
once when the app is built. What the direct path can give a parameter: the request, a
path parameter, a query parameter (validated by FastAPI's own function, so a bad value is
the same 400), the bearer credentials FastAPI would pass (``None``: authentication happened
in the middleware, and the guards ignore them), and a sub-dependency built of these (the
runtime, the caller, the registry …), awaited once per request as FastAPI caches it. A
route needing anything else (a body model, headers, cookies, a sync function, a handler
that returns a model for FastAPI to serialise) is refused when the app is built
(:func:`direct_routes`), never run unfaithfully.
"""

from __future__ import annotations

import email.message
import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from fastapi import FastAPI, Request, params
from fastapi._body_limit import MAX_BODY_SIZE_SCOPE_KEY, get_body_limit_error
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import (
    get_dependant,
    request_body_to_args,
    request_params_to_args,
)
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security.base import SecurityBase
from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from catalog.http.middleware import ASGIApp, Receive, Scope, Send

#: ``openapi_extra`` of routes the direct path answers.
DIRECT = {"x-steward-direct": True}

#: What a bound call is given: the request, its path parameters, and the request's cache
#: of sub-dependency results (FastAPI solves each sub-dependency once per request).
Call = Callable[[Request, dict[str, Any], dict[Any, Any]], Awaitable[Any]]
#: The key of the received body in that cache (read before the dependencies run).
_BODY = object()


def is_direct(route: Any) -> bool:
    extra = getattr(route, "openapi_extra", None)
    return bool(extra and extra.get("x-steward-direct"))


@dataclass(frozen=True)
class DirectRoute:
    context: RouteContext
    route: APIRoute
    dependencies: tuple[Call, ...]
    endpoint: Call
    #: Whether the handler takes a JSON body; then, with FastAPI's default ``True``,
    #: whether a body without a content type is refused as not JSON.
    reads_body: bool = False
    strict_content_type: bool = True


def direct_routes(app: FastAPI) -> list[DirectRoute]:
    """The app's routes marked :data:`DIRECT`, each with its dependencies and handler
    bound to what the direct path can pass them."""
    found: list[DirectRoute] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not is_direct(route):
            continue
        if not all(d.dependency is not None for d in context.dependencies):
            raise TypeError(f"direct route {route.path}: a dependency without a callable")
        calls = tuple(
            _bind(d.dependency, route, f"dependency {d.dependency!r}")
            for d in context.dependencies
            if d.dependency is not None
        )
        _require_response(route)
        endpoint = get_dependant(path=route.path_format, call=route.endpoint)
        strict = route.strict_content_type
        found.append(
            DirectRoute(
                context,
                route,
                calls,
                _bind_dependant(endpoint, route, "handler", handler=True),
                reads_body=bool(endpoint.body_params),
                strict_content_type=bool(
                    strict.value if isinstance(strict, DefaultPlaceholder) else strict
                ),
            )
        )
    return found


def _require_response(route: APIRoute) -> None:
    """The direct path sends what the handler returns: it must be a response already
    (FastAPI would otherwise validate and serialise a returned model)."""
    returned = get_type_hints(route.endpoint).get("return")
    if not (inspect.isclass(returned) and issubclass(returned, Response)):
        raise TypeError(
            f"direct route {route.path}: the handler must return a Response, not {returned!r}"
        )


def _bind(function: Callable[..., Any], route: APIRoute, what: str) -> Call:
    """``function`` as a :data:`Call`; refuses what the direct path cannot give it."""
    dependant = get_dependant(path=route.path_format, call=function)
    return _bind_dependant(dependant, route, what)


def _bind_dependant(
    dependant: Dependant, route: APIRoute, what: str, *, handler: bool = False
) -> Call:
    """``handler``: the route's own function, which alone may take a body and be a plain
    function (run on a worker thread, as FastAPI runs it)."""
    function = dependant.call
    assert function is not None
    # A guard is an object whose __call__ is the coroutine function.
    target = function if inspect.isfunction(function) else type(function).__call__
    threaded = not inspect.iscoroutinefunction(target)
    if threaded and not handler:
        raise TypeError(f"direct route {route.path}: {what} must be an async function")
    body_fields = tuple(dependant.body_params) if handler else ()
    if body_fields:
        _require_one_json_body(body_fields, route)
    refused = [
        field.name
        for field in (
            *dependant.header_params,
            *dependant.cookie_params,
            *(() if handler else dependant.body_params),
        )
    ] + [
        name
        for name in (
            dependant.websocket_param_name,
            dependant.http_connection_param_name,
            dependant.response_param_name,
            dependant.background_tasks_param_name,
            dependant.security_scopes_param_name,
        )
        if name is not None
    ]
    if refused:
        raise TypeError(
            f"direct route {route.path}: {what} takes '{refused[0]}', which the direct path "
            "cannot give (only the request, path and query parameters, bearer credentials, "
            "dependencies built of these, and a JSON body for the handler)"
        )
    request_name = dependant.request_param_name
    path_names = tuple(field.name for field in dependant.path_params)
    # Path parameters of another type than text (a version number) are validated by
    # FastAPI's own function, so a bad one is the same 400; text ones are passed as
    # matched, as FastAPI's validation of a str would leave them.
    typed_path = tuple(
        field for field in dependant.path_params if field.field_info.annotation is not str
    )
    query_fields = tuple(dependant.query_params)
    # What FastAPI makes of no query string at all (the defaults), kept after the first
    # request without one: validating nothing was a twentieth of a cached GET table.
    no_query: dict[str, Any] = {}
    # Sub-dependencies by parameter name: credentials (None), or calls bound the same way.
    credentials: list[str] = []
    solved: list[tuple[str, Any, Call]] = []
    for sub in dependant.dependencies:
        if sub.name is None:
            raise TypeError(f"direct route {route.path}: {what} has an unnamed dependency")
        if isinstance(sub.call, SecurityBase):
            credentials.append(sub.name)
        else:
            key = sub.call if sub.use_cache else object()
            solved.append((sub.name, key, _bind_dependant(sub, route, f"dependency of {what}")))

    async def call(request: Request, path_params: dict[str, Any], cache: dict[Any, Any]) -> Any:
        # FastAPI's order: the sub-dependencies, then every parameter validated, the
        # errors of all of them raised together.
        kwargs: dict[str, Any] = {name: path_params[name] for name in path_names}
        for name, key, sub_call in solved:
            if key in cache:
                kwargs[name] = cache[key]
            else:
                kwargs[name] = cache[key] = await sub_call(request, path_params, cache)
        errors: list[Any] = []
        if typed_path:
            values, found = request_params_to_args(typed_path, path_params)
            errors.extend(found)
            kwargs.update(values)
        if request_name is not None:
            kwargs[request_name] = request
        for name in credentials:
            kwargs[name] = None  # authentication was decided before routing
        if query_fields:
            if not request.scope["query_string"] and no_query:
                kwargs.update(no_query)
            else:
                values, found = request_params_to_args(query_fields, request.query_params)
                errors.extend(found)
                if not found and not request.scope["query_string"] and _immutable(values):
                    no_query.update(values)
                kwargs.update(values)
        if body_fields:
            received = cache[_BODY]
            values, found = await request_body_to_args(
                body_fields=list(body_fields), received_body=received, embed_body_fields=False
            )
            if found:
                raise RequestValidationError(errors + found, body=received)
            kwargs.update(values)
        if errors:
            raise RequestValidationError(errors)
        if threaded:
            return await run_in_threadpool(function, **kwargs)
        return await function(**kwargs)

    return call


def _require_one_json_body(fields: tuple[Any, ...], route: APIRoute) -> None:
    """One body field, not embedded and not a form: the body is then the model itself, as
    FastAPI reads it (``embed_body_fields`` false)."""
    (field, *more) = fields
    info = field.field_info
    if more or getattr(info, "embed", False) or isinstance(info, params.Form | params.File):
        raise TypeError(
            f"direct route {route.path}: the handler takes more than one JSON body model "
            "(embedded fields, forms or files), which the direct path cannot give"
        )


async def _read_json_body(request: Request, strict_content_type: bool) -> Any:
    """The body as FastAPI's router receives it before validation: the parsed JSON when
    the content type says JSON (or, when not ``strict_content_type``, says nothing), the
    bytes otherwise, undefined when empty; its errors are the router's (invalid JSON: a
    validation error at the byte it stopped at; anything else: a 400)."""
    try:
        received = await request.body()
        if not received:
            return PydanticUndefined
        content_type = request.headers.get("content-type")
        if (not content_type and not strict_content_type) or (
            content_type and _says_json(content_type)
        ):
            return await request.json()
        return received
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
        ) from exc
    except HTTPException:  # a body over the limit (catalog.http.middleware)
        raise
    except Exception as exc:
        if MAX_BODY_SIZE_SCOPE_KEY in request.scope and (limit := get_body_limit_error(exc)):
            raise limit from exc
        raise HTTPException(400, "There was an error parsing the body") from exc


@functools.lru_cache(maxsize=64)
def _says_json(content_type: str) -> bool:
    """``application/json`` or ``application/…+json``, parameters aside (FastAPI's test)."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def json_answer(model: BaseModel, *, exclude_none: bool = False) -> Response:
    """What FastAPI answers for a route whose response model is ``model``'s class (its
    JSON by alias; ``exclude_none`` as the route's ``response_model_exclude_none``): a
    direct route returns a response, and declares the model as its ``response_model``
    for the OpenAPI document."""
    body = type(model).__pydantic_serializer__.to_json(
        model, by_alias=True, exclude_none=exclude_none
    )
    return Response(body, media_type="application/json")


def _immutable(values: dict[str, Any]) -> bool:
    """Whether every value may be handed to every request (no list default, say)."""
    return all(v is None or isinstance(v, bool | int | float | str) for v in values.values())


class DirectRoutesMiddleware:
    """Answers requests for :data:`DIRECT` routes (see the module docstring); everything
    else goes on to the router. Install it innermost, so the request id, audit scope,
    authentication and body limit are in place first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: list[DirectRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._routes is None:
            self._routes = direct_routes(scope["app"])
        for direct in self._routes:
            match, child = direct.context.matches(scope)
            if match is Match.FULL:
                await self._answer(direct, scope, child, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(
        self, direct: DirectRoute, scope: Scope, child: Scope, receive: Receive, send: Send
    ) -> None:
        scope.update(child)
        scope["route"] = direct.route
        path_params = scope["path_params"]
        request = Request(scope, receive, send)
        cache: dict[Any, Any] = {}
        try:
            if direct.reads_body:  # parsed first, as the router does: bad JSON is a 400
                cache[_BODY] = await _read_json_body(request, direct.strict_content_type)
            for dependency in direct.dependencies:
                await dependency(request, path_params, cache)
            response = await direct.endpoint(request, path_params, cache)
        except Exception as exc:
            handler = _handler_for(scope["app"], exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler_for(app: FastAPI, exc: Exception) -> Callable[..., Awaitable[Any]] | None:
    """The app's exception handler for ``exc``, found as Starlette finds it (by class,
    most specific first). The catch-all for ``Exception`` is left to the server error
    middleware, which answers 500 with it, as for every other route."""
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None
