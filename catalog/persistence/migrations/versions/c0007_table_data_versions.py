"""managed tables: a data version per table, bumped by every write

Serving looks feature rows up on every request; with a number that every write of a
table's rows raises in its own transaction, a replica can keep the rows it read and
check one number per request instead of reading them again (catalog/data/row_cache.py).

Revision ID: c0007
Revises: c0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0007"
down_revision: str | None = "c0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "table_data_versions",
        sa.Column("table_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["securables.id"],
            name=op.f("fk_table_data_versions_table_id_securables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("table_id", name=op.f("pk_table_data_versions")),
    )


def downgrade() -> None:
    op.drop_table("table_data_versions")
