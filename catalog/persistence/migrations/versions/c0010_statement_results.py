"""statement results: what each SQL statement answered, readable again by id for a while

Revision ID: c0010
Revises: c0009
Create Date: 2026-12-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0010"
down_revision: str | None = "c0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statement_results",
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_statement_results_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("statement_id", name=op.f("pk_statement_results")),
    )
    op.create_index("ix_statement_results_created_at", "statement_results", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_statement_results_created_at", table_name="statement_results")
    op.drop_table("statement_results")
