"""row access: SQL functions, row filters on tables, masks on columns

Revision ID: c0012
Revises: c0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0012"
down_revision: str | None = "c0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sql_functions",
        sa.Column("securable_id", sa.String(length=36), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("return_type", sa.String(length=1000), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["securable_id"],
            ["securables.id"],
            name=op.f("fk_sql_functions_securable_id_securables"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("securable_id", name=op.f("pk_sql_functions")),
    )
    op.add_column("table_details", sa.Column("row_filter_function", sa.String(800)))
    op.add_column("table_details", sa.Column("row_filter_columns", sa.JSON()))
    op.add_column("table_columns", sa.Column("mask_function", sa.String(800)))
    op.add_column("table_columns", sa.Column("mask_using_columns", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("table_columns") as batch:
        batch.drop_column("mask_using_columns")
        batch.drop_column("mask_function")
    with op.batch_alter_table("table_details") as batch:
        batch.drop_column("row_filter_columns")
        batch.drop_column("row_filter_function")
    op.drop_table("sql_functions")
