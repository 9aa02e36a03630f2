"""What every command group shares: the API client, failing with a message, and names.

The commands of the catalog and of the registry both use these; an error the server
answers (or a name of the wrong shape) ends the command with exit code 1 and one line on
stderr, never a traceback.
"""

from __future__ import annotations

import importlib.util
from typing import Any, NoReturn

import typer

from common.text import escape_controls
from registry.client.errors import StewardError
from registry.client.http import STEWARD, UC, RestClient, quote_part
from registry.client.names import three_parts as _three_parts
from registry.client.names import two_parts as _two_parts

SCIM = "/api/2.0/preview/scim/v2"
__all__ = [
    "SCIM",
    "STEWARD",
    "UC",
    "CliClient",
    "api",
    "fail",
    "quote",
    "require_server",
    "three_parts",
    "two_parts",
]


#: What ``server``, ``db`` and ``audit verify|checkpoint`` import: the ``server`` extra.
SERVER_LIBRARIES = (
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "casbin",
    "structlog",
    "pydantic_settings",
)


def require_server() -> None:
    """Commands that run the service (or open its database) need the server's libraries,
    an extra of the package: say how to install them rather than print a traceback."""
    missing = [name for name in SERVER_LIBRARIES if importlib.util.find_spec(name) is None]
    if missing:
        fail(
            f"this command runs the server side and needs {', '.join(missing)}: "
            "pip install 'steward[server]'"
        )


def fail(message: str) -> NoReturn:
    """End the command with ``message`` (often the server's words: escaped, so a name
    holding a control character cannot act on the terminal)."""
    typer.secho(f"error: {escape_controls(message)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def failure_message(exc: StewardError) -> str:
    """``CODE: message (HTTP n)`` for an answer; the plain message when nothing answered."""
    return str(exc) if exc.status_code else exc.message


class CliClient(RestClient):
    """The shared REST client, ending the command on an error answer."""

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return super().request(method, path, **kwargs)
        except StewardError as exc:
            fail(failure_message(exc))


def api() -> CliClient:
    """A client of ``STEWARD_URL`` with ``STEWARD_TOKEN`` (the environment's)."""
    return CliClient(timeout=60.0)


def quote(name: str) -> str:
    return quote_part(name)


def two_parts(value: str, what: str) -> tuple[str, str]:
    try:
        return _two_parts(value, what)
    except StewardError as exc:
        fail(exc.message)


def three_parts(value: str, what: str) -> tuple[str, str, str]:
    try:
        return _three_parts(value, what)
    except StewardError as exc:
        fail(exc.message)
