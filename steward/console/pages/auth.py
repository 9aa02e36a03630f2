"""Sign-in and sign-out (how a session works: :mod:`steward.console.session`)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from steward.console.api import ApiError
from steward.console.app import Page, signed_in
from steward.console.session import (
    SESSION_COMMENT,
    SESSION_COOKIE,
    SESSION_SECONDS,
    SIGNIN_COOKIE,
    USER_COOKIE,
    ConsoleSession,
    clear_cookie,
    new_signin_nonce,
    session_of,
    set_cookie,
)

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never an absolute URL another site could be put in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/console/signin")
async def signin_form(request: Request, next: str | None = None) -> Response:
    page = Page(request, None)
    nonce = new_signin_nonce()
    response = page.render("signin.html", nonce=nonce, next=_safe_next(next), error=None)
    set_cookie(response, request, SIGNIN_COOKIE, nonce, 600, path="/console/signin")
    return response


@router.post("/console/signin")
async def signin(
    request: Request,
    token: Annotated[str, Form(max_length=4096)] = "",
    nonce: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    page = Page(request, None)
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, nonce):
        return _form_again(page, request, next, "The sign-in form expired; try again.", 403)
    token = token.strip()
    if not token:
        return _form_again(page, request, next, "Paste a personal access token.", 400)
    try:
        issued = await page.api.call(
            "POST",
            "/api/2.0/token/create",
            json={"comment": SESSION_COMMENT, "lifetime_seconds": SESSION_SECONDS},
            token=token,
        )
    except ApiError as exc:
        message = (
            "That token is not valid (unknown, revoked or expired)."
            if exc.status == 401
            else exc.message
        )
        return _form_again(page, request, next, message, exc.status)
    session = ConsoleSession(issued["token_info"]["token_id"], issued["token_value"])
    me = await page.api.call("GET", "/api/2.0/preview/scim/v2/Me", token=session.token)
    response = RedirectResponse(_safe_next(next), 303)
    set_cookie(response, request, SESSION_COOKIE, session.cookie_value, SESSION_SECONDS)
    set_cookie(response, request, USER_COOKIE, str(me.get("userName", "")), SESSION_SECONDS)
    clear_cookie(response, request, SIGNIN_COOKIE, path="/console/signin")
    return response


def _form_again(page: Page, request: Request, target: str, error: str, status: int) -> Response:
    nonce = new_signin_nonce()
    response = page.render(
        "signin.html", status_code=status, nonce=nonce, next=_safe_next(target), error=error
    )
    set_cookie(response, request, SIGNIN_COOKIE, nonce, 600, path="/console/signin")
    return response


@router.post("/console/signout")
async def signout(request: Request, page: Annotated[Page, Depends(signed_in)]) -> Response:
    await page.check_csrf()
    session = session_of(request)
    if session is not None:
        await page.api.call("POST", "/api/2.0/token/delete", json={"token_id": session.token_id})
    response = RedirectResponse("/console/signin", 303)
    clear_cookie(response, request, SESSION_COOKIE)
    clear_cookie(response, request, USER_COOKIE)
    return response
