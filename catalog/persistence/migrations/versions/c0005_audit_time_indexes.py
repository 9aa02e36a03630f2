"""audit: (action_name, event_time) and (user_name, event_time) indexes

SQL over system.access.audit filters by action or user and sorts by time; without
these the database sorts every matching event (benchmarks/audit_lineage.py).

Revision ID: c0005
Revises: c0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c0005"
down_revision: str | None = "c0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_action_time", "audit_events", ["action_name", "event_time"])
    op.create_index("ix_audit_events_user_time", "audit_events", ["user_name", "event_time"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_user_time", table_name="audit_events")
    op.drop_index("ix_audit_events_action_time", table_name="audit_events")
