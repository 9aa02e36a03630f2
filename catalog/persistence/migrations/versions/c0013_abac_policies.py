"""ABAC policies: row filters and column masks that follow governed tags

Revision ID: c0013
Revises: c0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0013"
down_revision: str | None = "c0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "abac_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("securable_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("policy_type", sa.String(length=32), nullable=False),
        sa.Column("function_name", sa.String(length=800), nullable=False),
        sa.Column("to_principals", sa.JSON(), nullable=False),
        sa.Column("except_principals", sa.JSON(), nullable=False),
        sa.Column("when_condition", sa.Text(), nullable=True),
        sa.Column("match_columns", sa.JSON(), nullable=False),
        sa.Column("on_column", sa.String(length=255), nullable=True),
        sa.Column("using_columns", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["securable_id"],
            ["securables.id"],
            name=op.f("fk_abac_policies_securable_id_securables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abac_policies")),
        sa.UniqueConstraint("securable_id", "name", name=op.f("uq_abac_policies_securable_id")),
    )
    op.create_index(
        op.f("ix_abac_policies_securable_id"), "abac_policies", ["securable_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_abac_policies_securable_id"), table_name="abac_policies")
    op.drop_table("abac_policies")
