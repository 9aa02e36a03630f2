"""Persistence of models and versions: an abstract store and its SQLAlchemy implementation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from registry import schema as t


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


def _to_version(row: t.ModelVersion) -> VersionRecord:
    return VersionRecord(
        id=row.id,
        model_id=row.model_id,
        version=row.version,
        source=row.source,
        status=row.status,
        storage_location=row.storage_location,
        created_at=row.created_at,
        created_by=row.created_by,
        run_id=row.run_id,
        status_message=row.status_message,
        comment=row.comment,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


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
    def update_version(self, record: VersionRecord) -> None: ...

    @abstractmethod
    def delete_version(self, version_id: str) -> None: ...


class SqlModelStore(ModelStore):
    def __init__(self, session: Session) -> None:
        self.session = session

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
        self.session.add(
            t.ModelVersion(
                id=record.id,
                model_id=record.model_id,
                version=record.version,
                source=record.source,
                run_id=record.run_id,
                status=record.status,
                status_message=record.status_message,
                storage_location=record.storage_location,
                comment=record.comment,
                created_at=record.created_at,
                created_by=record.created_by,
                updated_at=record.updated_at,
                updated_by=record.updated_by,
            )
        )
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

    def has_versions(self, model_id: str) -> bool:
        return bool(
            self.session.scalar(select(exists().where(t.ModelVersion.model_id == model_id)))
        )

    def update_version(self, record: VersionRecord) -> None:
        self.session.execute(
            update(t.ModelVersion)
            .where(t.ModelVersion.id == record.id)
            .values(
                status=record.status,
                status_message=record.status_message,
                comment=record.comment,
                updated_at=record.updated_at,
                updated_by=record.updated_by,
            )
        )

    def delete_version(self, version_id: str) -> None:
        self.session.execute(delete(t.ModelVersion).where(t.ModelVersion.id == version_id))
