"""Where tags are kept: one row per (securable, column or none, key), in the catalog's
database, in the caller's unit of work.

Tags decide which ABAC policies reach a table and which columns they mask, so every write
marks its transaction as a namespace change: each worker's and replica's bound filters and
masks are dropped at commit (:mod:`catalog.store.namespace_cache`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from catalog.persistence import schema as t
from catalog.persistence.driver import DriverStatement
from catalog.store.base import NAMESPACE_CHANGED_INFO

#: ``column_name`` of a tag on the object itself.
OBJECT = ""


@dataclass(frozen=True)
class TagRecord:
    securable_id: str
    column_name: str
    key: str
    value: str | None
    updated_at: int
    updated_by: str


class TagStore(ABC):
    @abstractmethod
    def put(self, record: TagRecord) -> None:
        """Set a tag, replacing the value of the same key on the same object or column."""

    @abstractmethod
    def get(self, securable_id: str, column_name: str, key: str) -> TagRecord | None: ...

    @abstractmethod
    def list(self, securable_id: str, column_name: str) -> list[TagRecord]:
        """The tags of one object (or column), by key."""

    @abstractmethod
    def remove(self, securable_id: str, column_name: str, key: str) -> bool:
        """Unset a tag; whether there was one."""

    @abstractmethod
    def on_objects(self, securable_ids: list[str]) -> list[TagRecord]:
        """Every tag of these objects and their columns."""


class SqlTagStore(TagStore):
    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, record: TagRecord) -> None:
        key = (record.securable_id, record.column_name, record.key)
        row = self.session.get(t.SecurableTag, key)
        if row is None:
            self.session.add(
                t.SecurableTag(
                    securable_id=record.securable_id,
                    column_name=record.column_name,
                    tag_key=record.key,
                    tag_value=record.value,
                    updated_at=record.updated_at,
                    updated_by=record.updated_by,
                )
            )
        else:
            row.tag_value = record.value
            row.updated_at, row.updated_by = record.updated_at, record.updated_by
        self.session.flush()
        self.session.info[NAMESPACE_CHANGED_INFO] = True

    def get(self, securable_id: str, column_name: str, key: str) -> TagRecord | None:
        row = self.session.get(t.SecurableTag, (securable_id, column_name, key))
        return _record(row) if row is not None else None

    def list(self, securable_id: str, column_name: str) -> list[TagRecord]:
        # On the driver (catalog/persistence/driver.py): MLflow's client reads a model's
        # tags with every read of the model.
        self.session.flush()
        rows = _TAGS_OF.all(
            self.session.connection(), {"securable_id": securable_id, "column_name": column_name}
        )
        return [TagRecord(*row) for row in rows]

    def remove(self, securable_id: str, column_name: str, key: str) -> bool:
        result = self.session.execute(
            delete(t.SecurableTag).where(
                t.SecurableTag.securable_id == securable_id,
                t.SecurableTag.column_name == column_name,
                t.SecurableTag.tag_key == key,
            )
        )
        self.session.info[NAMESPACE_CHANGED_INFO] = True
        return bool(getattr(result, "rowcount", 0))

    def on_objects(self, securable_ids: list[str]) -> list[TagRecord]:
        if not securable_ids:
            return []
        rows = self.session.scalars(
            select(t.SecurableTag)
            .where(t.SecurableTag.securable_id.in_(securable_ids))
            .order_by(
                t.SecurableTag.securable_id, t.SecurableTag.column_name, t.SecurableTag.tag_key
            )
        )
        return [_record(row) for row in rows]


_TAG = t.SecurableTag
#: One object's (or column's) tags, by key, as TagRecord's fields.
_TAGS_OF = DriverStatement(
    select(
        _TAG.securable_id,
        _TAG.column_name,
        _TAG.tag_key,
        _TAG.tag_value,
        _TAG.updated_at,
        _TAG.updated_by,
    )
    .where(
        _TAG.securable_id == bindparam("securable_id"),
        _TAG.column_name == bindparam("column_name"),
    )
    .order_by(_TAG.tag_key)
)


def _record(row: t.SecurableTag) -> TagRecord:
    return TagRecord(
        row.securable_id,
        row.column_name,
        row.tag_key,
        row.tag_value,
        row.updated_at,
        row.updated_by,
    )
