"""registry: version signatures, dependencies, artifact digests, tags and aliases

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0002"
down_revision: str | None = "r0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))
        batch.add_column(sa.Column("dependencies", sa.Text(), nullable=True))
        batch.add_column(sa.Column("artifact_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("artifact_size", sa.BigInteger(), nullable=True))
    op.create_table(
        "model_version_tags",
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_version_tags_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "key", name=op.f("pk_model_version_tags")),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.String(length=36), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["securables.id"],
            name=op.f("fk_model_aliases_model_id_securables"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_aliases_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_index("ix_model_aliases_version", "model_aliases", ["version_id"])


def downgrade() -> None:
    op.drop_index("ix_model_aliases_version", table_name="model_aliases")
    op.drop_table("model_aliases")
    op.drop_table("model_version_tags")
    with op.batch_alter_table("model_versions") as batch:
        for column in ("artifact_size", "artifact_digest", "dependencies", "signature"):
            batch.drop_column(column)
