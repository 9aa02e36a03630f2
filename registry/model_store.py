"""Persistence of models and versions: an abstract store and its SQLAlchemy implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Table, bindparam, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from catalog.persistence.driver import DriverStatement
from catalog.persistence.schema import Securable
from catalog.store.factory import CatalogStores, SqlCatalogStores
from registry.persistence import schema as t

#: ``session.info`` key set in a transaction that writes a version, an alias or a tag: at
#: commit every process drops what it kept of them (registry/version_cache.py).
REGISTRY_CHANGED_INFO = "steward_registry_changed"


@dataclass
class VersionRecord:
    id: str
    model_id: str
    version: int
    source: str
    status: str
    storage_location: str
    created_at: int
    created_by: str
    run_id: str | None = None
    status_message: str | None = None
    comment: str | None = None
    updated_at: int | None = None
    updated_by: str | None = None
    signature: str | None = None
    dependencies: str | None = None
    artifact_digest: str | None = None
    artifact_size: int | None = None
    artifact_manifest: str | None = None
    #: Not columns of the version row: filled from their own tables when read.
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


#: Fixed when a version is created.
_IMMUTABLE = frozenset({"id", "model_id", "version", "created_at", "created_by"})
#: The fields of a VersionRecord that are columns of ``model_versions``.
_COLUMNS = tuple(f.name for f in fields(VersionRecord) if f.name not in ("tags", "aliases"))


def _to_version(row: t.ModelVersion) -> VersionRecord:
    return VersionRecord(**{name: getattr(row, name) for name in _COLUMNS})


@dataclass(frozen=True)
class AliasRecord:
    alias: str
    version: int
    version_id: str
    updated_at: int
    updated_by: str


class ModelStore(ABC):
    @abstractmethod
    def insert_model(self, model_id: str) -> None: ...

    @abstractmethod
    def next_version(self, model_id: str) -> int:
        """Reserve the next version number; concurrent callers never get the same one."""

    @abstractmethod
    def insert_version(self, record: VersionRecord) -> None: ...

    @abstractmethod
    def get_version(self, model_id: str, version: int) -> VersionRecord | None: ...

    @abstractmethod
    def list_versions(
        self, model_id: str, after: int | None, limit: int
    ) -> list[VersionRecord]: ...

    @abstractmethod
    def has_versions(self, model_id: str) -> bool: ...

    @abstractmethod
    def stale_pending(self, created_before: int, limit: int) -> list[tuple[str, VersionRecord]]:
        """Versions still PENDING_REGISTRATION created before ``created_before`` (epoch
        ms), oldest first, each with its model's full name."""

    @abstractmethod
    def update_version(self, record: VersionRecord) -> None: ...

    @abstractmethod
    def delete_version(self, version_id: str) -> None: ...


class RegistryStores(CatalogStores):
    """The catalog's stores and the registry's, one per unit of work."""

    @abstractmethod
    def models(self, session: Session) -> ModelStore: ...


class SqlModelStore(ModelStore):
    """The statements a registration, a finalize, an upload or an alias move makes run on
    the driver (catalog/persistence/driver.py): each costs a fraction of SQLAlchemy's
    execution of it, and every operation of MLflow's client makes several."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _rows(self, statement: DriverStatement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """``statement``'s rows in the session's transaction, after its pending ORM changes
        (as its autoflush would have them)."""
        self.session.flush()
        return statement.all(self.session.connection(), params)

    def _write(self, statement: DriverStatement, params: Mapping[str, Any]) -> int:
        """Run ``statement`` as :meth:`_rows` does; the number of rows it changed."""
        self.session.flush()
        cursor = statement.execute(self.session.connection(), params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _changed(self) -> None:
        """Every write of a version, alias or tag marks its transaction (see above)."""
        self.session.info[REGISTRY_CHANGED_INFO] = True

    def insert_model(self, model_id: str) -> None:
        self.session.add(t.RegisteredModel(securable_id=model_id, last_version=0))
        self.session.flush()

    def next_version(self, model_id: str) -> int:
        # One UPDATE … RETURNING: the row lock serializes writers on PostgreSQL, and
        # SQLite's write lock does the same, so two registrations never share a number.
        rows = self._rows(_NEXT_VERSION, {"model_id": model_id})
        if len(rows) != 1:
            raise LookupError(f"no registered model row for {model_id}")
        return int(rows[0][0])

    def insert_version(self, record: VersionRecord) -> None:
        self._changed()
        self._write(_INSERT_VERSION, {name: getattr(record, name) for name in _COLUMNS})

    def get_version(self, model_id: str, version: int) -> VersionRecord | None:
        rows = self._rows(_VERSION, {"model_id": model_id, "version": version})
        return VersionRecord(*rows[0]) if rows else None

    def list_versions(self, model_id: str, after: int | None, limit: int) -> list[VersionRecord]:
        query = select(t.ModelVersion).where(t.ModelVersion.model_id == model_id)
        if after is not None:
            query = query.where(t.ModelVersion.version > after)
        query = query.order_by(t.ModelVersion.version).limit(limit)
        return [_to_version(r) for r in self.session.scalars(query)]

    def stale_pending(self, created_before: int, limit: int) -> list[tuple[str, VersionRecord]]:
        rows = self.session.execute(
            select(t.ModelVersion, Securable.full_name)
            .join(Securable, Securable.id == t.ModelVersion.model_id)
            .where(
                t.ModelVersion.status == "PENDING_REGISTRATION",
                t.ModelVersion.created_at < created_before,
            )
            .order_by(t.ModelVersion.created_at)
            .limit(limit)
        )
        return [(full_name, _to_version(row)) for row, full_name in rows]

    def has_versions(self, model_id: str) -> bool:
        return bool(
            self.session.scalar(select(exists().where(t.ModelVersion.model_id == model_id)))
        )

    def update_version(self, record: VersionRecord) -> None:
        self._changed()
        changed = {f"new_{n}": getattr(record, n) for n in _MUTABLE}
        self._write(_UPDATE_VERSION, {"version_id": record.id, **changed})

    def delete_version(self, version_id: str) -> None:
        self._changed()
        self.session.execute(delete(t.ModelVersion).where(t.ModelVersion.id == version_id))

    # -- aliases -------------------------------------------------------------------------

    def lock_model(self, model_id: str) -> None:
        """Serialize alias changes of one model (SQLite's writer lock already does)."""
        self._rows(_LOCK_MODEL, {"model_id": model_id})

    def get_alias(self, model_id: str, alias: str) -> AliasRecord | None:
        rows = self._rows(_ALIAS, {"model_id": model_id, "alias": alias})
        return AliasRecord(*rows[0]) if rows else None

    def put_alias(
        self, model_id: str, alias: str, version: VersionRecord, who: str, at: int
    ) -> None:
        self._changed()
        self.delete_alias(model_id, alias)
        self._write(
            _INSERT_ALIAS,
            {
                "model_id": model_id,
                "alias": alias,
                "version_id": version.id,
                "version": version.version,
                "updated_at": at,
                "updated_by": who,
            },
        )

    def delete_alias(self, model_id: str, alias: str) -> None:
        self._changed()
        self._write(_DELETE_ALIAS, {"model_id": model_id, "alias": alias})

    def delete_aliases_of(self, version_id: str) -> list[str]:
        """Drop every alias pointing at a version; return their names."""
        self._changed()
        names = sorted(
            self.session.scalars(
                select(t.ModelAlias.alias).where(t.ModelAlias.version_id == version_id)
            )
        )
        self.session.execute(delete(t.ModelAlias).where(t.ModelAlias.version_id == version_id))
        return names

    def aliases_of(self, model_id: str) -> list[AliasRecord]:
        return [AliasRecord(*row) for row in self._rows(_ALIASES_OF_MODEL, {"model_id": model_id})]

    # -- tags ----------------------------------------------------------------------------

    def set_tag(self, version_id: str, key: str, value: str) -> None:
        self._changed()
        self.delete_tag(version_id, key)
        self._write(_INSERT_TAG, {"version_id": version_id, "key": key, "value": value})

    def delete_tag(self, version_id: str, key: str) -> bool:
        self._changed()
        return bool(self._write(_DELETE_TAG, {"version_id": version_id, "key": key}))

    def decorate(self, records: list[VersionRecord]) -> list[VersionRecord]:
        """Fill in each version's tags and aliases (two queries for any number of versions)."""
        if not records:
            return records
        if len(records) == 1:  # a version read or written alone: on the driver
            record = records[0]
            for key, value in self._rows(_TAGS_OF, {"version_id": record.id}):
                record.tags[key] = value
            aliases = self._rows(_ALIASES_OF, {"version_id": record.id})
            record.aliases.extend(alias for (alias,) in aliases)
            return records
        by_id = {r.id: r for r in records}
        for version_id, key, value in self.session.execute(
            select(t.ModelVersionTag.version_id, t.ModelVersionTag.key, t.ModelVersionTag.value)
            .where(t.ModelVersionTag.version_id.in_(by_id))
            .order_by(t.ModelVersionTag.key)
        ):
            by_id[version_id].tags[key] = value
        for version_id, alias in self.session.execute(
            select(t.ModelAlias.version_id, t.ModelAlias.alias)
            .where(t.ModelAlias.version_id.in_(by_id))
            .order_by(t.ModelAlias.alias)
        ):
            by_id[version_id].aliases.append(alias)
        return records


_ALIAS_COLUMNS = select(
    t.ModelAlias.alias,
    t.ModelAlias.version,
    t.ModelAlias.version_id,
    t.ModelAlias.updated_at,
    t.ModelAlias.updated_by,
)

_VERSIONS: Table = t.ModelVersion.__table__  # type: ignore[assignment]
_ALIASES: Table = t.ModelAlias.__table__  # type: ignore[assignment]
_TAGS: Table = t.ModelVersionTag.__table__  # type: ignore[assignment]
_MODELS: Table = t.RegisteredModel.__table__  # type: ignore[assignment]
#: The columns an update of a version writes (every one but those fixed at creation).
_MUTABLE = tuple(name for name in _COLUMNS if name not in _IMMUTABLE)

_NEXT_VERSION = DriverStatement(
    update(_MODELS)
    .where(_MODELS.c.securable_id == bindparam("model_id"))
    .values(last_version=_MODELS.c.last_version + 1)
    .returning(_MODELS.c.last_version)
)
_VERSION = DriverStatement(
    select(*(_VERSIONS.c[name] for name in _COLUMNS)).where(
        _VERSIONS.c.model_id == bindparam("model_id"),
        _VERSIONS.c.version == bindparam("version"),
    )
)
_INSERT_VERSION = DriverStatement(insert(_VERSIONS), column_keys=_COLUMNS)
_UPDATE_VERSION = DriverStatement(
    update(_VERSIONS)
    .where(_VERSIONS.c.id == bindparam("version_id"))
    .values({name: bindparam(f"new_{name}") for name in _MUTABLE})
)
#: ``FOR UPDATE`` on PostgreSQL; SQLite's writer lock serializes without it.
_LOCK_MODEL = DriverStatement(
    select(_MODELS.c.securable_id)
    .where(_MODELS.c.securable_id == bindparam("model_id"))
    .with_for_update()
)
_ALIAS = DriverStatement(
    _ALIAS_COLUMNS.where(
        t.ModelAlias.model_id == bindparam("model_id"), t.ModelAlias.alias == bindparam("alias")
    )
)
_ALIASES_OF_MODEL = DriverStatement(
    _ALIAS_COLUMNS.where(t.ModelAlias.model_id == bindparam("model_id")).order_by(
        t.ModelAlias.alias
    )
)
_INSERT_ALIAS = DriverStatement(
    insert(_ALIASES),
    column_keys=["model_id", "alias", "version_id", "version", "updated_at", "updated_by"],
)
_DELETE_ALIAS = DriverStatement(
    delete(_ALIASES).where(
        _ALIASES.c.model_id == bindparam("model_id"), _ALIASES.c.alias == bindparam("alias")
    )
)
_TAGS_OF = DriverStatement(
    select(_TAGS.c.key, _TAGS.c.value)
    .where(_TAGS.c.version_id == bindparam("version_id"))
    .order_by(_TAGS.c.key)
)
_INSERT_TAG = DriverStatement(insert(_TAGS), column_keys=["version_id", "key", "value"])
_DELETE_TAG = DriverStatement(
    delete(_TAGS).where(
        _TAGS.c.version_id == bindparam("version_id"), _TAGS.c.key == bindparam("key")
    )
)
_ALIASES_OF = DriverStatement(
    select(_ALIASES.c.alias)
    .where(_ALIASES.c.version_id == bindparam("version_id"))
    .order_by(_ALIASES.c.alias)
)


class SqlRegistryStores(SqlCatalogStores, RegistryStores):
    """The SQLAlchemy stores of the catalog and the registry."""

    def models(self, session: Session) -> ModelStore:
        return SqlModelStore(session)
