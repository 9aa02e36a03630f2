"""registry: serving endpoint tags

Databricks' endpoint tags (``[{key, value?}]``) were accepted and dropped; they are kept
now, as JSON text beside the endpoint's config. Existing endpoints get no tags.

Revision ID: r0006
Revises: r0005
Create Date: 2026-12-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0006"
down_revision: str | None = "r0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "serving_endpoints",
        sa.Column("tags", sa.Text(), nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    with op.batch_alter_table("serving_endpoints") as batch:
        batch.drop_column("tags")
