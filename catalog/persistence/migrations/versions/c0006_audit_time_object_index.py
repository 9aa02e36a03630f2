"""audit: the time index also holds object_name

``SELECT … FROM system.access.audit WHERE object_name LIKE 'main.%' ORDER BY event_time
DESC LIMIT 100`` walks the time index backwards until enough events match. With the
object name in the index entry the filter is checked there, and only matching events are
read from the table (with the compiler keeping such a LIKE off the object index on SQLite,
catalog/sql/rewrite.py, the benchmark's object-prefix filter went from 136 to 27 ms over
1M events; benchmarks/audit_lineage.py). ``(event_time, object_name)`` serves every query
``(event_time)`` served, so it replaces it.

Revision ID: c0006
Revises: c0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c0006"
down_revision: str | None = "c0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_time_object", "audit_events", ["event_time", "object_name"])
    op.drop_index("ix_audit_events_time", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_time", "audit_events", ["event_time"])
    op.drop_index("ix_audit_events_time_object", table_name="audit_events")
