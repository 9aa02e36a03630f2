"""casbin rules: grants as Casbin policy lines

Revision ID: c0002
Revises: c0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0002"
down_revision: str | None = "c0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "casbin_rule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ptype", sa.String(length=8), nullable=False),
        sa.Column("v0", sa.String(length=255), nullable=False),
        sa.Column("v1", sa.String(length=255), nullable=False),
        sa.Column("v2", sa.String(length=255), nullable=False),
        sa.Column("v3", sa.String(length=255), nullable=True),
        sa.Column("v4", sa.String(length=255), nullable=True),
        sa.Column("v5", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casbin_rule")),
        sa.UniqueConstraint("ptype", "v0", "v1", "v2", name="uq_casbin_rule_line"),
    )
    op.create_index("ix_casbin_rule_object", "casbin_rule", ["ptype", "v1"])


def downgrade() -> None:
    op.drop_index("ix_casbin_rule_object", table_name="casbin_rule")
    op.drop_table("casbin_rule")
