"""The console's ASGI app, and the middleware that serves it beside the API.

:class:`ConsoleMiddleware` sends ``/``, ``/console/…`` and ``/favicon.ico`` to the
console and everything else to the API. It sits just inside the request context (a
request id and an access line for pages too) and outside audit and authentication: a
page has no bearer token; what it shows it asks the API for, as the signed-in user
(:mod:`steward.console.api`), and those calls are authenticated and audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from catalog.http.middleware import ASGIApp, Receive, Scope, Send
from steward.console.api import Api, ApiError
from steward.console.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    USER_COOKIE,
    ConsoleSession,
    clear_cookie,
    session_of,
)

HERE = Path(__file__).parent
STATIC_PREFIX = "/console/static"
#: Where Swagger UI's assets are served from, for the API's /docs page.
SWAGGER_JS = f"{STATIC_PREFIX}/vendor/swagger-ui-dist/swagger-ui-bundle.js"
SWAGGER_CSS = f"{STATIC_PREFIX}/vendor/swagger-ui-dist/swagger-ui.css"
FAVICON = f"{STATIC_PREFIX}/favicon.svg"

templates = Jinja2Templates(directory=str(HERE / "templates"))
#: On every console response: only this site's scripts and styles (inline style attributes
#: are the graph's and the traffic bars'), never framed by another page, no MIME sniffing,
#: no address of a console page sent to other sites.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _when(value: Any) -> str:
    """A time for people: ``2026-12-06 16:20:31 UTC`` from epoch milliseconds or ISO text."""
    if value in (None, ""):
        return ""
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value / 1000, UTC)
        else:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(value: Any) -> str:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    return str(value or "")


templates.env.filters["when"] = _when
templates.env.filters["iso"] = _iso
templates.env.filters["path"] = lambda value: quote(str(value), safe="")


class SignInNeeded(Exception):
    """No session, or the API no longer accepts it: the user signs in (again)."""


class ConsoleMiddleware:
    """Serves the console's paths; passes every other request to the API."""

    def __init__(self, app: ASGIApp, console: ASGIApp) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_console(scope["path"]):
            await self.console(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_console(path: str) -> bool:
    return path == "/" or path.startswith("/console/") or path == "/favicon.ico"


class Page:
    """What a console route works with: the request, the session and the API as the user."""

    def __init__(self, request: Request, session: ConsoleSession | None) -> None:
        self.request = request
        self.session = session
        client = request.client
        self.api = Api(
            request.app.state.api_app,
            session.token if session else None,
            request.headers.get("user-agent", ""),
            (client.host, client.port) if client else ("127.0.0.1", 0),
        )

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            self.request,
            template,
            {
                "csrf": self.session.csrf if self.session else "",
                "me": getattr(self.request.state, "console_user", None),
                "static": STATIC_PREFIX,
                **context,
            },
            status_code=status_code,
        )

    async def check_csrf(self) -> None:
        """A state-changing request must carry the session's CSRF token."""
        presented = self.request.headers.get(CSRF_HEADER)
        if presented is None:
            form = await self.request.form()
            field = form.get(CSRF_FIELD)
            presented = field if isinstance(field, str) else None
        if self.session is None or not self.session.csrf_ok(presented):
            raise ApiError(403, "PERMISSION_DENIED", "the form is stale or forged (CSRF token)")


async def signed_in(request: Request) -> Page:
    """The page of a signed-in user. Whether the session still holds is the API's to say,
    at the page's first call: a 401 there sends the user to sign in again."""
    session = session_of(request)
    if session is None:
        raise SignInNeeded
    request.state.console_user = request.cookies.get(USER_COOKIE)
    return Page(request, session)


def build_console() -> FastAPI:
    """The console app; ``state.api_app`` is set by the composition root."""
    from steward.console.pages import PAGE_ROUTERS

    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.mount(STATIC_PREFIX, StaticFiles(directory=str(HERE / "static")), name="static")

    @console.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @console.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
            for error in exc.errors()
        )
        return await _api_error(request, ApiError(400, "INVALID_PARAMETER_VALUE", problems))

    @console.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _exc: SignInNeeded) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request") == "true":
            response: Response = Response(
                status_code=204, headers={"hx-redirect": "/console/signin"}
            )
        else:
            response = RedirectResponse(f"/console/signin?next={quote(target, safe='')}", 303)
        if request.cookies.get(SESSION_COOKIE):
            clear_cookie(response, request, SESSION_COOKIE)
        return response

    @console.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 401:  # the session ended (expired, revoked, signed out elsewhere)
            return await _sign_in(request, SignInNeeded())
        request.state.console_user = request.cookies.get(USER_COOKIE)
        page = Page(request, session_of(request))
        template = "fragments/error.html" if page.htmx else "error.html"
        status = exc.status if exc.status >= 400 else 500
        return page.render(template, status_code=status, error=exc)

    @console.get("/favicon.ico", include_in_schema=False)
    async def _favicon() -> Response:
        return RedirectResponse(FAVICON, 301)

    for router in PAGE_ROUTERS:
        console.include_router(router)
    return console
