"""registry: serving endpoints (config of SERVING_ENDPOINT securables)

Revision ID: r0004
Revises: r0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0004"
down_revision: str | None = "r0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "serving_endpoints",
        sa.Column("securable_id", sa.String(length=36), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("checked_tables", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["securable_id"],
            ["securables.id"],
            name=op.f("fk_serving_endpoints_securable_id_securables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("securable_id", name=op.f("pk_serving_endpoints")),
    )


def downgrade() -> None:
    op.drop_table("serving_endpoints")
