"""Domain errors carrying the Databricks error code and the HTTP status that fits.

Every layer raises these; the HTTP layer turns them into
``{"error_code", "message"}`` bodies and the CLI into readable messages.
"""

from __future__ import annotations


class StewardError(Exception):
    status_code: int = 400
    error_code: str = "INVALID_PARAMETER_VALUE"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(StewardError):
    status_code = 400
    error_code = "INVALID_PARAMETER_VALUE"


class Unauthenticated(StewardError):
    status_code = 401
    error_code = "UNAUTHENTICATED"


class PermissionDenied(StewardError):
    status_code = 403
    error_code = "PERMISSION_DENIED"


class NotFound(StewardError):
    status_code = 404
    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(StewardError):
    status_code = 409
    error_code = "RESOURCE_ALREADY_EXISTS"


class NotEmpty(StewardError):
    """A container still holds objects and the caller did not force the drop."""

    status_code = 400
    error_code = "INVALID_STATE"


class InvalidState(StewardError):
    """The object (a model version or its files, say) is not in a state that allows the
    request."""

    status_code = 409
    error_code = "INVALID_STATE"


class PayloadTooLarge(StewardError):
    status_code = 413
    error_code = "REQUEST_LIMIT_EXCEEDED"


class TooManyRequests(StewardError):
    """The caller has too much in flight already; retrying later succeeds."""

    status_code = 429
    error_code = "REQUEST_LIMIT_EXCEEDED"
