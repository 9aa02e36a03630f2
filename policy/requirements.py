"""Declarations of what a route or statement needs before it may run.

A requirement names a privilege and where the securable's name comes from in
the request. It is pure data: the HTTP layer reads the name out of the request
and hands both to the one authorizer. Keeping requirements declarative lets a
test enumerate every route and prove none is left unguarded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from policy.securables import Privilege, SecurableType


class NameSource(StrEnum):
    PATH = "path"
    QUERY = "query"
    BODY = "body"


@dataclass(frozen=True)
class NameFrom:
    """Where a securable's full name is read: one or more request fields joined by dots."""

    source: NameSource
    fields: tuple[str, ...]

    @classmethod
    def path(cls, *fields: str) -> NameFrom:
        return cls(NameSource.PATH, fields)

    @classmethod
    def query(cls, *fields: str) -> NameFrom:
        return cls(NameSource.QUERY, fields)

    @classmethod
    def body(cls, *fields: str) -> NameFrom:
        return cls(NameSource.BODY, fields)


class Access(StrEnum):
    """The shapes a route's requirement can take."""

    #: Any authenticated principal; the handler filters or scopes by caller itself.
    AUTHENTICATED = "authenticated"
    #: Only metastore admins.
    METASTORE_ADMIN = "metastore_admin"
    #: A privilege on a named securable.
    PRIVILEGE = "privilege"
    #: SELECT on a system table (``system_table``); metastore admins read them by default.
    SYSTEM_TABLE = "system_table"


@dataclass(frozen=True)
class Requirement:
    """What a route declares it needs; see :mod:`catalog.http.guards`."""

    access: Access
    privilege: Privilege | None = None
    securable_type: SecurableType | None = None
    name_from: NameFrom | None = None
    #: Path parameter naming the securable type (UC's lower-case spelling), when the
    #: route serves several types (the permissions API); replaces ``securable_type``.
    type_from: str | None = None
    #: The system table a SYSTEM_TABLE requirement reads, e.g. ``system.access.audit``.
    system_table: str | None = None
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.access is Access.PRIVILEGE and (
            self.privilege is None or (self.securable_type is None and self.type_from is None)
        ):
            raise ValueError("a privilege requirement needs a privilege and a securable type")
        if (
            self.access is Access.PRIVILEGE
            and self.securable_type is not SecurableType.METASTORE
            and self.type_from is None
            and self.name_from is None
        ):
            raise ValueError("a privilege requirement needs to know where the name comes from")
        if (self.access is Access.SYSTEM_TABLE) != (self.system_table is not None):
            raise ValueError("a system table requirement names its table, and only it does")

    def resolved(self, securable_type: SecurableType) -> Requirement:
        """This requirement with its securable type fixed (for ``type_from`` routes)."""
        return Requirement(self.access, self.privilege, securable_type, self.name_from)

    def describe(self) -> str:
        if self.access is Access.PRIVILEGE:
            src = (
                f"{self.name_from.source}:{'.'.join(self.name_from.fields)}"
                if self.name_from
                else ""
            )
            return f"{self.privilege} on {self.securable_type} {src}".strip()
        if self.access is Access.SYSTEM_TABLE:
            return f"SELECT on system table {self.system_table}"
        return self.access.value
