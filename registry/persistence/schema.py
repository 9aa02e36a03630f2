"""The registry's tables; they extend the catalog's ``securables`` rows of type MODEL."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog.persistence.schema import Base


class RegisteredModel(Base):
    __tablename__ = "registered_models"

    securable_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    #: Highest version number handed out; bumped atomically so versions never repeat.
    last_version: Mapped[int] = mapped_column(Integer, default=0)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
        Index("ix_model_versions_model", "model_id", "version"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    storage_location: Mapped[str] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: MLflow model signature: ``{"inputs": "<json>", "outputs": "<json>"}`` as JSON text.
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Declared dependencies (training tables, feature lookups) as JSON text.
    dependencies: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: SHA-256 over the artifact manifest (path, size, sha256 of each file) and total bytes,
    #: fixed at finalize.
    artifact_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    artifact_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The manifest the digest is over, as JSON ``[[path, size, sha256], …]``; downloads
    #: check each file against it.
    artifact_manifest: Mapped[str | None] = mapped_column(Text, nullable=True)


class ModelVersionTag(Base):
    """Tags of a model version (MLflow's ``set_model_version_tag``)."""

    __tablename__ = "model_version_tags"

    version_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ModelAlias(Base):
    """A named pointer (``champion``) from a model to one of its versions. Deleting the
    version deletes the alias (also done explicitly, so the audit event can say so)."""

    __tablename__ = "model_aliases"
    __table_args__ = (Index("ix_model_aliases_version", "version_id"),)

    model_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(255), primary_key=True)
    version_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(255))


class ServingEndpoint(Base):
    """A serving endpoint's configuration; the endpoint itself is a SERVING_ENDPOINT
    securable (name, owner, grants), deleted with it."""

    __tablename__ = "serving_endpoints"

    securable_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    #: The served entities, their traffic split and the inference table, as JSON text.
    config: Mapped[str] = mapped_column(Text)
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    #: Feature tables the creator (or last updater) was checked for SELECT on, as JSON text.
    checked_tables: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The endpoint's tags (registry/serving/tags.py) as JSON text: ``[{key, value?}]``.
    tags: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
