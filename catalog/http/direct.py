"""Direct routes: the hottest routes, run without FastAPI's router and dependency solver.

A serving invocation is a small request whose fixed costs dominate. Profiles put a fifth
of its time between the last middleware and the handler: Starlette's exception and
exit-stack layers, matching the path against the routes before it, and FastAPI's
dependency solver walking the route's dependencies (the app's audit naming, the body
read, the guard and its bearer scheme) and their signatures on every request.

A route marked :data:`DIRECT` (in ``openapi_extra``) stays an ordinary FastAPI route: it
is in the OpenAPI document, route walks find it, and any method it does not take goes
through the router as before. But a request it takes is answered here: the route's own
matcher fills the path parameters, the route's effective dependencies — the same objects
FastAPI would solve, in the same order — are awaited with the request, then the handler,
and a failure goes to the app's own exception handlers. Nothing about authorization or
audit differs: it is the same guard and the same audit dependency; only the generic
machinery around them is skipped.

So the direct path can run a route only if it can give every parameter: each dependency
and the handler may take the request, the route's path parameters, and the bearer
credentials FastAPI would pass (the guards ignore them: authentication happened in the
middleware). :func:`direct_routes` checks this when the app is built and refuses a route
it could not run faithfully.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials
from starlette.routing import Match

from catalog.http.middleware import ASGIApp, Receive, Scope, Send

#: ``openapi_extra`` of routes the direct path answers.
DIRECT = {"x-steward-direct": True}

Call = Callable[[Request, dict[str, Any]], Awaitable[Any]]


def is_direct(route: Any) -> bool:
    extra = getattr(route, "openapi_extra", None)
    return bool(extra and extra.get("x-steward-direct"))


@dataclass(frozen=True)
class DirectRoute:
    context: RouteContext
    route: APIRoute
    dependencies: tuple[Call, ...]
    endpoint: Call


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
        found.append(DirectRoute(context, route, calls, _bind(route.endpoint, route, "handler")))
    return found


def _bind(function: Callable[..., Any], route: APIRoute, what: str) -> Call:
    """``function`` as a call of (request, path parameters); refuses what it cannot give."""
    # A guard is an object whose __call__ is the coroutine function.
    target = function if inspect.isfunction(function) else type(function).__call__
    if not inspect.iscoroutinefunction(target):
        raise TypeError(f"direct route {route.path}: {what} must be an async function")
    hints = get_type_hints(target, include_extras=True)
    plan: list[tuple[str, str]] = []  # (parameter, what it gets)
    for name, parameter in inspect.signature(function).parameters.items():
        hint = str(hints.get(name, ""))
        if hints.get(name) is Request:
            plan.append((name, "request"))
        elif name in route.param_convertors:
            plan.append((name, "path"))
        elif HTTPAuthorizationCredentials.__name__ in hint:
            plan.append((name, "credentials"))
        elif parameter.default is not inspect.Parameter.empty:
            continue
        else:
            raise TypeError(
                f"direct route {route.path}: {what} takes '{name}', which the direct path "
                "cannot give (only the request, path parameters and bearer credentials)"
            )

    async def call(request: Request, path_params: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {}
        for name, source in plan:
            if source == "request":
                kwargs[name] = request
            elif source == "path":
                kwargs[name] = path_params[name]
            else:
                kwargs[name] = None  # authentication was decided before routing
        return await function(**kwargs)

    return call


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
        try:
            for dependency in direct.dependencies:
                await dependency(request, path_params)
            response = await direct.endpoint(request, path_params)
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
