"""Which client is calling, for the few answers two client families parse differently.

Unity Catalog OSS and Databricks share the REST paths but not every spelling. Privileges
are the sharp case: the Unity Catalog client (``unitycatalog-client``) validates
privileges against an enum spelled ``USE CATALOG``; the Databricks SDKs parse them into
an enum spelled ``USE_CATALOG`` and silently drop any value they do not know, so the
wrong spelling does not fail, it empties the list. One answer cannot suit both, so the
spelling follows the caller. Input is never affected: both spellings are accepted from
everyone.

How it decides (docs/privileges.md, "Privilege spelling"): a ``User-Agent`` carrying a
Databricks SDK token (``databricks-sdk-py/…``, ``-go/``, ``-java/``, ``-js/``; the
Databricks CLI is built on the Go SDK) is :attr:`Dialect.DATABRICKS`; every other caller,
the Unity Catalog client, curl and Steward's own client and CLI included, is
:attr:`Dialect.UNITY_CATALOG`, the spelling Steward has always answered. The token is
matched anywhere in the header, not as a prefix: the SDK puts the calling product first
(``unknown/0.0.0 databricks-sdk-py/0.167.0 …``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from enum import Enum
from typing import Annotated

from fastapi import Depends, Request

_DATABRICKS_SDK = re.compile(r"(?:^|\s)databricks-sdk-(?:py|go|java|js)/")


class Dialect(Enum):
    """The spelling family of a caller's client."""

    UNITY_CATALOG = "unity_catalog"
    DATABRICKS = "databricks"


def dialect_of_user_agent(user_agent: str | None) -> Dialect:
    if user_agent and _DATABRICKS_SDK.search(user_agent):
        return Dialect.DATABRICKS
    return Dialect.UNITY_CATALOG


async def client_dialect(request: Request) -> Dialect:
    """The dependency: the caller's :class:`Dialect`, from its ``User-Agent``."""
    return dialect_of_user_agent(request.headers.get("user-agent"))


DialectDep = Annotated[Dialect, Depends(client_dialect)]


def privilege_name(privilege: str, dialect: Dialect) -> str:
    """``privilege`` (as stored: SQL's spelling) as ``dialect`` parses it.

    QUERY and CREATE MODEL VERSION have no member in the Databricks SDK's enum; they go
    out as ``QUERY`` and ``CREATE_MODEL_VERSION`` all the same (an SDK that learns them
    parses them, and a raw ``api_client.do`` sees them), never as a different privilege."""
    if dialect is Dialect.DATABRICKS:
        return privilege.replace(" ", "_")
    return privilege


def privilege_names(privileges: list[str], dialect: Dialect) -> list[str]:
    return [privilege_name(p, dialect) for p in privileges]


def numeric_id(principal_id: str) -> int:
    """A principal's id as the number the Databricks SDKs parse ids of token owners as
    (``int(owner_id)``): Steward's ids are UUIDs, so the SDK would fail on them. The
    number is the UUID's top 63 bits (an int64 in every SDK); any other id is hashed the
    same width. The token-management list takes it back as ``created_by_id``."""
    try:
        return uuid.UUID(principal_id).int >> 65
    except ValueError:
        return int.from_bytes(hashlib.sha256(principal_id.encode()).digest()[:8], "big") >> 1
