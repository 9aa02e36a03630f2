"""Opaque page tokens and the ``max_results`` rules of the Unity Catalog API."""

from __future__ import annotations

import base64
import binascii

import orjson

from common.errors import InvalidParameter


def page_size(max_results: int | None, server_max: int) -> int:
    """0 or absent means the server's page length; negative is an error; large is capped."""
    if max_results is None or max_results == 0:
        return server_max
    if max_results < 0:
        raise InvalidParameter("max_results must not be negative")
    return min(max_results, server_max)


def encode_token(after: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": after})).decode("ascii").rstrip("=")


def decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = payload["after"]
        if not isinstance(after, str):
            raise TypeError
        return after
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise InvalidParameter(f"page_token '{token[:40]}' is not a valid page token") from exc
