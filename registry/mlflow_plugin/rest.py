"""Where a ``steward:`` URI points, with which token, and one JSON call to it."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.utils.rest_utils import MlflowHostCreds, http_request, verify_rest_response

SCHEME = "steward"
#: Read in this order on every call (MLflow caches a store per URI for the process).
TOKEN_VARIABLES = ("MLFLOW_UC_OSS_TOKEN", "STEWARD_TOKEN")
UC = "/api/2.1/unity-catalog"
STEWARD = "/api/2.1/steward"


def base_url(uri: str) -> str:
    """``steward:http://host:8080`` → ``http://host:8080``; anything else is refused."""
    scheme, _, rest = uri.partition(":")
    if scheme != SCHEME or not rest.startswith(("http://", "https://")):
        raise MlflowException(
            f"'{uri}' is not a Steward URI: expected steward:http://host:port "
            "(or steward:https://…)",
            INVALID_PARAMETER_VALUE,
        )
    return rest.rstrip("/")


def credentials(base: str) -> MlflowHostCreds:
    """The token of the environment, sent as ``Authorization: Bearer``."""
    token = next((os.environ[v] for v in TOKEN_VARIABLES if os.environ.get(v)), None)
    return MlflowHostCreds(host=base, token=token)


def part(value: object) -> str:
    """One path segment, quoted (a name may hold characters a path may not)."""
    return quote(str(value), safe="")


def call(
    base: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One JSON request; an error answer becomes MLflow's ``RestException`` with Steward's
    ``error_code`` (``PERMISSION_DENIED``, ``RESOURCE_DOES_NOT_EXIST`` …) and message."""
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs["json"] = {k: v for k, v in body.items() if v is not None}
    if params:
        kwargs["params"] = {k: v for k, v in params.items() if v is not None}
    response = http_request(credentials(base), path, method, **kwargs)
    if response.status_code != 200:
        verify_rest_response(response, path)
    return response.json() if response.content else {}
