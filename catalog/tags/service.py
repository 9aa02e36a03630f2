"""Setting, reading and unsetting tags, as the caller may.

Who may do what (docs/privileges.md): setting or unsetting a tag needs ``APPLY TAG`` on the
object (ownership or ``MANAGE`` pass as for any privilege) with the usage gates of its
containers, a column's tags being its table's; reading them needs only that the caller
sees the object. An object the caller may not see answers as a missing one. Every check
goes through the one authorizer.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from catalog.access.authorizer import Authorizer, Caller
from catalog.names import split_full_name
from catalog.persistence.engine import Database
from catalog.records import SecurableRecord, now_ms
from catalog.store.factory import CatalogStores
from catalog.tags.store import OBJECT, SqlTagStore, TagRecord
from common.errors import InvalidParameter, NotFound
from common.text import check_storable, refuse_controls
from policy.securables import Privilege, SecurableType

MAX_KEY_CHARS = 255
MAX_VALUE_CHARS = 1000
#: Tags one object (or column) may carry, as on Databricks.
MAX_TAGS = 50

#: The entity types of Databricks' tag-assignment API, and ``registered_models`` for models.
ENTITY_TYPES: dict[str, SecurableType] = {
    "catalogs": SecurableType.CATALOG,
    "schemas": SecurableType.SCHEMA,
    "tables": SecurableType.TABLE,
    "columns": SecurableType.TABLE,
    "registered_models": SecurableType.MODEL,
}


@dataclass(frozen=True)
class Entity:
    """What a tag is on: an object, or a column of a table (``column`` set)."""

    entity_type: str
    securable_type: SecurableType
    object_name: str
    column: str | None = None

    @classmethod
    def parse(cls, entity_type: str, entity_name: str) -> Entity:
        securable_type = ENTITY_TYPES.get(entity_type)
        if securable_type is None:
            raise InvalidParameter(
                f"entity_type '{entity_type}' is not one of: {', '.join(ENTITY_TYPES)}"
            )
        if entity_type != "columns":
            return cls(entity_type, securable_type, entity_name)
        table, dot, column = entity_name.rpartition(".")
        if not dot or not column or table.count(".") != 2:
            raise InvalidParameter(
                f"a column is named catalog.schema.table.column, not '{entity_name}'"
            )
        return cls(entity_type, securable_type, table, column)

    @classmethod
    def of(cls, securable_type: SecurableType, full_name: str, column: str | None) -> Entity:
        """The entity of an object (or of one of a table's columns), as SQL names it."""
        if column is not None and securable_type is SecurableType.TABLE:
            return cls("columns", securable_type, full_name, column)
        for entity_type, kind in ENTITY_TYPES.items():
            if kind is securable_type and entity_type != "columns":
                return cls(entity_type, securable_type, full_name)
        raise InvalidParameter(f"a {securable_type.value} carries no tags")

    @property
    def name(self) -> str:
        return f"{self.object_name}.{self.column}" if self.column else self.object_name


@dataclass(frozen=True)
class Tag:
    entity: Entity
    key: str
    value: str | None
    updated_at: int
    updated_by: str


def _key(key: str) -> str:
    key = unicodedata.normalize("NFC", key.strip()) if isinstance(key, str) else ""
    if not key:
        raise InvalidParameter("tag_key must not be empty")
    if len(key) > MAX_KEY_CHARS:
        raise InvalidParameter(f"tag_key is longer than {MAX_KEY_CHARS} characters")
    refuse_controls(key, "tag_key")
    return key


def _value(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidParameter(f"tag_value is longer than {MAX_VALUE_CHARS} characters")
    check_storable(value, "tag_value")
    return value


class TagService:
    def __init__(self, db: Database, stores: CatalogStores, authorizer: Authorizer) -> None:
        self.db = db
        self.stores = stores
        self.authorizer = authorizer

    def set(self, caller: Caller, entity: Entity, key: str, value: str | None) -> Tag:
        key, value = _key(key), _value(value)
        with self.db.transaction() as session:
            target, column = self._target(session, caller, entity, Privilege.APPLY_TAG)
            tags = SqlTagStore(session)
            full = len(tags.list(target.id, column)) >= MAX_TAGS
            if full and tags.get(target.id, column, key) is None:
                raise InvalidParameter(f"{entity.name} already carries {MAX_TAGS} tags")
            record = TagRecord(target.id, column, key, value, now_ms(), caller.name)
            tags.put(record)
        return self._tag(entity, record)

    def change(
        self, caller: Caller, entity: Entity, tags: dict[str, str | None], *, unset: bool
    ) -> None:
        """SQL's SET TAGS / UNSET TAGS: several tags of one object or column in one
        transaction, all or none. Unsetting a tag that is not there changes nothing."""
        checked = {_key(key): (None if unset else _value(value)) for key, value in tags.items()}
        with self.db.transaction() as session:
            target, column = self._target(session, caller, entity, Privilege.APPLY_TAG)
            store = SqlTagStore(session)
            if unset:
                for key in checked:
                    store.remove(target.id, column, key)
                return
            present = {r.key for r in store.list(target.id, column)}
            if len(present | set(checked)) > MAX_TAGS:
                raise InvalidParameter(f"{entity.name} would carry more than {MAX_TAGS} tags")
            for key, value in checked.items():
                store.put(TagRecord(target.id, column, key, value, now_ms(), caller.name))

    def get(self, caller: Caller, entity: Entity, key: str) -> Tag:
        key = _key(key)
        with self.db.read() as session:
            target, column = self._target(session, caller, entity, Privilege.BROWSE)
            record = SqlTagStore(session).get(target.id, column, key)
        if record is None:
            raise NotFound(f"{entity.name} has no tag '{key}'")
        return self._tag(entity, record)

    def list(self, caller: Caller, entity: Entity) -> list[Tag]:
        with self.db.read() as session:
            target, column = self._target(session, caller, entity, Privilege.BROWSE)
            records = SqlTagStore(session).list(target.id, column)
        return [self._tag(entity, r) for r in records]

    def list_table(self, caller: Caller, full_name: str) -> list[tuple[str | None, Tag]]:
        """A table's tags and its columns', in one read: (None or the column, tag), the
        table's first, then each column's in column order, by key."""
        entity = Entity("tables", SecurableType.TABLE, full_name)
        with self.db.read() as session:
            target, _ = self._target(session, caller, entity, Privilege.BROWSE)
            records = SqlTagStore(session).on_objects([target.id])
            details = self.stores.namespace(session).get_table_details([target.id])
        detail = details.get(target.id)
        order = {c.name: c.position for c in (detail.columns if detail else [])}
        records.sort(key=lambda r: (r.column_name != OBJECT, order.get(r.column_name, -1), r.key))
        return [
            (
                r.column_name or None,
                self._tag(Entity.of(SecurableType.TABLE, full_name, r.column_name or None), r),
            )
            for r in records
        ]

    def unset(self, caller: Caller, entity: Entity, key: str) -> None:
        key = _key(key)
        with self.db.transaction() as session:
            target, column = self._target(session, caller, entity, Privilege.APPLY_TAG)
            if not SqlTagStore(session).remove(target.id, column, key):
                raise NotFound(f"{entity.name} has no tag '{key}'")

    def _target(
        self, session: Session, caller: Caller, entity: Entity, privilege: Privilege
    ) -> tuple[SecurableRecord, str]:
        store = self.stores.namespace(session)
        name = ".".join(split_full_name(entity.object_name, entity.securable_type))
        target = self.authorizer.require_privilege(
            caller, privilege, entity.securable_type, name, store
        )
        assert target is not None
        if entity.column is None:
            return target, OBJECT
        details = store.get_table_details([target.id]).get(target.id)
        columns = {c.name.lower(): c.name for c in (details.columns if details else [])}
        column = columns.get(entity.column.lower())
        if column is None:
            raise NotFound(f"TABLE '{target.full_name}' has no column '{entity.column}'")
        return target, column

    @staticmethod
    def _tag(entity: Entity, record: TagRecord) -> Tag:
        return Tag(entity, record.key, record.value, record.updated_at, record.updated_by)
