"""The one error the client raises: the server's error code, message, status and request id."""

from __future__ import annotations

from common.errors import StewardError as _BaseError


class StewardError(_BaseError):
    """An error answered by the server (or found by the client), with its error code."""

    def __init__(
        self,
        error_code: str,
        message: str,
        status_code: int = 0,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status_code = status_code
        self.request_id = request_id

    def __str__(self) -> str:
        status = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"{self.error_code}: {self.message}{status}"


def invalid(message: str) -> StewardError:
    """A mistake the client finds before asking the server, coded as the server would."""
    return StewardError("INVALID_PARAMETER_VALUE", message, 400)
