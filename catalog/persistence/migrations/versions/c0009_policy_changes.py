"""policy changes: a log of grant, membership and hierarchy ops for one server's workers

On SQLite a server may run several worker processes on one file; each keeps its policy
engine in memory and follows this log to apply the others' changes within a second
(PostgreSQL replicas use NOTIFY and leave the table empty).

Revision ID: c0009
Revises: c0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0009"
down_revision: str | None = "c0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_changes",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_policy_changes")),
    )


def downgrade() -> None:
    op.drop_table("policy_changes")
