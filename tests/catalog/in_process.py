"""Objects made in process on a :class:`~catalog.runtime.Runtime` (the ``runtime``
fixture), as its admin: for tests of the services below the HTTP routes."""

from __future__ import annotations

from contextlib import suppress

from catalog.access.authorizer import Caller
from catalog.audit.events import AuditEvent
from catalog.namespace import NewSecurable
from catalog.records import ColumnRecord
from catalog.runtime import Runtime
from catalog.tables import build_table_detail
from common.errors import AlreadyExists
from policy.securables import SecurableType


def admin(rt: Runtime) -> Caller:
    return rt.identity.authenticate("dapi-admin")


def keyed_table(rt: Runtime, name: str) -> str:
    """Managed table ``m.s.<name>``, keyed by ``id`` (BIGINT) with a feature ``a``
    (DOUBLE); the catalog and schema are made when missing. Its full name."""
    caller = admin(rt)
    for kind, parent in ((SecurableType.CATALOG, "m"), (SecurableType.SCHEMA, "m.s")):
        with suppress(AlreadyExists):
            rt.namespace.create(caller, NewSecurable(kind, parent))
    detail = build_table_detail(
        table_type="MANAGED",
        data_source_format="DELTA",
        columns=[
            ColumnRecord("id", "bigint", "LONG", 0, nullable=False),
            ColumnRecord("a", "double", "DOUBLE", 1),
        ],
        storage_location=None,
        primary_key_columns=["id"],
    )
    full_name = f"m.s.{name}"
    rt.namespace.create(caller, NewSecurable(SecurableType.TABLE, full_name), table=detail)
    return full_name


def an_event(**fields: object) -> AuditEvent:
    """An audit event of a served prediction, with ``fields`` instead of its defaults."""
    base: dict[str, object] = {
        "service_name": "serving",
        "action_name": "queryServingEndpoint",
        "request_id": "r-1",
        "user_name": "u",
        "status_code": 200,
    }
    base.update(fields)
    return AuditEvent(**base)  # type: ignore[arg-type]
