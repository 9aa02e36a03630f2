"""Persistence of models and versions: an abstract store and its SQLAlchemy implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

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
    def __init__(self, session: Session) -> None:
        self.session = session

    def _changed(self) -> None:
        """Every write of a version, alias or tag marks its transaction (see above)."""
        self.session.info[REGISTRY_CHANGED_INFO] = True

    def insert_model(self, model_id: str) -> None:
        self.session.add(t.RegisteredModel(securable_id=model_id, last_version=0))
        self.session.flush()

    def next_version(self, model_id: str) -> int:
        # One UPDATE … RETURNING: the row lock serializes writers on PostgreSQL, and
        # SQLite's write lock does the same, so two registrations never share a number.
        return int(
            self.session.execute(
                update(t.RegisteredModel)
                .where(t.RegisteredModel.securable_id == model_id)
                .values(last_version=t.RegisteredModel.last_version + 1)
                .returning(t.RegisteredModel.last_version)
            ).scalar_one()
        )

    def insert_version(self, record: VersionRecord) -> None:
        self._changed()
        self.session.add(t.ModelVersion(**{name: getattr(record, name) for name in _COLUMNS}))
        self.session.flush()

    def get_version(self, model_id: str, version: int) -> VersionRecord | None:
        row = self.session.scalars(
            select(t.ModelVersion).where(
                t.ModelVersion.model_id == model_id, t.ModelVersion.version == version
            )
        ).first()
        return _to_version(row) if row else None

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
        changed = {n: getattr(record, n) for n in _COLUMNS if n not in _IMMUTABLE}
        self.session.execute(
            update(t.ModelVersion).where(t.ModelVersion.id == record.id).values(**changed)
        )

    def delete_version(self, version_id: str) -> None:
        self._changed()
        self.session.execute(delete(t.ModelVersion).where(t.ModelVersion.id == version_id))

    # -- aliases -------------------------------------------------------------------------

    def lock_model(self, model_id: str) -> None:
        """Serialize alias changes of one model (SQLite's writer lock already does)."""
        self.session.execute(
            select(t.RegisteredModel.securable_id)
            .where(t.RegisteredModel.securable_id == model_id)
            .with_for_update()
        )

    def get_alias(self, model_id: str, alias: str) -> AliasRecord | None:
        row = self.session.execute(
            _ALIAS_COLUMNS.where(t.ModelAlias.model_id == model_id, t.ModelAlias.alias == alias)
        ).first()
        return AliasRecord(*row) if row else None

    def put_alias(
        self, model_id: str, alias: str, version: VersionRecord, who: str, at: int
    ) -> None:
        self._changed()
        self.delete_alias(model_id, alias)
        self.session.add(
            t.ModelAlias(
                model_id=model_id,
                alias=alias,
                version_id=version.id,
                version=version.version,
                updated_at=at,
                updated_by=who,
            )
        )
        self.session.flush()

    def delete_alias(self, model_id: str, alias: str) -> None:
        self._changed()
        self.session.execute(
            delete(t.ModelAlias).where(
                t.ModelAlias.model_id == model_id, t.ModelAlias.alias == alias
            )
        )

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
        rows = self.session.execute(
            _ALIAS_COLUMNS.where(t.ModelAlias.model_id == model_id).order_by(t.ModelAlias.alias)
        ).all()
        return [AliasRecord(*row) for row in rows]

    # -- tags ----------------------------------------------------------------------------

    def set_tag(self, version_id: str, key: str, value: str) -> None:
        self._changed()
        self.delete_tag(version_id, key)
        self.session.add(t.ModelVersionTag(version_id=version_id, key=key, value=value))
        self.session.flush()

    def delete_tag(self, version_id: str, key: str) -> bool:
        self._changed()
        result = self.session.execute(
            delete(t.ModelVersionTag).where(
                t.ModelVersionTag.version_id == version_id, t.ModelVersionTag.key == key
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def decorate(self, records: list[VersionRecord]) -> list[VersionRecord]:
        """Fill in each version's tags and aliases (two queries for any number of versions)."""
        if not records:
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


class SqlRegistryStores(SqlCatalogStores, RegistryStores):
    """The SQLAlchemy stores of the catalog and the registry."""

    def models(self, session: Session) -> ModelStore:
        return SqlModelStore(session)
