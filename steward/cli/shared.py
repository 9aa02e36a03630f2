"""What every command group shares: the API client, failing with a message, and names.

The commands of the catalog and of the registry both use these; an error the server
answers (or a name of the wrong shape) ends the command with exit code 1 and one line on
stderr, never a traceback.
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from registry.client.errors import StewardError
from registry.client.http import STEWARD, UC, RestClient, quote_part
from registry.client.names import three_parts as _three_parts
from registry.client.names import two_parts as _two_parts

SCIM = "/api/2.0/preview/scim/v2"
__all__ = ["SCIM", "STEWARD", "UC", "CliClient", "api", "fail", "quote", "three_parts", "two_parts"]


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
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
