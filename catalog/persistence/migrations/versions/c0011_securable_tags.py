"""securable tags: key/value tags on catalogs, schemas, tables, their columns and models

Revision ID: c0011
Revises: c0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0011"
down_revision: str | None = "c0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "securable_tags",
        sa.Column("securable_id", sa.String(length=36), nullable=False),
        sa.Column("column_name", sa.String(length=255), nullable=False),
        sa.Column("tag_key", sa.String(length=255), nullable=False),
        sa.Column("tag_value", sa.String(length=1000), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["securable_id"],
            ["securables.id"],
            name=op.f("fk_securable_tags_securable_id_securables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "securable_id", "column_name", "tag_key", name=op.f("pk_securable_tags")
        ),
    )
    op.create_index("ix_securable_tags_key_value", "securable_tags", ["tag_key", "tag_value"])


def downgrade() -> None:
    op.drop_index("ix_securable_tags_key_value", table_name="securable_tags")
    op.drop_table("securable_tags")
