"""Console sessions: a token in a cookie, and the CSRF tokens derived from it.

Signing in takes a personal access token once, checks it by asking the API who it
belongs to, and creates a session token of the same user through the API
(``POST /api/2.0/token/create``, comment ``console session``, :data:`SESSION_SECONDS`).
Only that session token is kept, in the ``steward_session`` cookie: HttpOnly (no script
reads it), SameSite=Strict (no other site's page sends it), Secure when the request came
over TLS, with the token's own expiry. The personal access token is never stored. The
session token is an ordinary token: it is listed among the user's tokens, revoking it
ends the session at once on every worker and replica, and sign-out revokes it.

CSRF: every state-changing console request carries ``X-CSRF-Token`` (htmx, from the
page's meta tag) or a ``csrf_token`` form field equal to an HMAC of the session token, so
a page of another origin cannot forge one. The sign-in form, before there is a session,
uses a random ``steward_signin`` cookie (SameSite=Strict) that the form must repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "steward_session"
SIGNIN_COOKIE = "steward_signin"
#: The signed-in user's name, for the page header only (the API decides who they are).
USER_COOKIE = "steward_user"
#: How long a console session lasts (its token's lifetime).
SESSION_SECONDS = 8 * 3600
SESSION_COMMENT = "console session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def csrf_for(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"steward-console-csrf", hashlib.sha256).hexdigest()


def is_tls(request: Request) -> bool:
    """Whether the browser reached us over TLS (directly, or through a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int, path: str = "/"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
    )


def clear_cookie(response: Response, request: Request, name: str, path: str = "/") -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite="strict", secure=is_tls(request)
    )


@dataclass(frozen=True)
class ConsoleSession:
    """The signed-in user's session, as a request carries it: its token and that token's
    id (so sign-out revokes exactly this session's token, not the user's others)."""

    token_id: str
    token: str

    @property
    def cookie_value(self) -> str:
        return f"{self.token_id}:{self.token}"

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, presented or "")


def session_of(request: Request) -> ConsoleSession | None:
    token_id, _, token = request.cookies.get(SESSION_COOKIE, "").partition(":")
    return ConsoleSession(token_id, token) if token_id and token else None


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(32)
