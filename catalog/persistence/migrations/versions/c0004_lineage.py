"""lineage graph: nodes, table-level edges, column-level edges

Revision ID: c0004
Revises: c0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0004"
down_revision: str | None = "c0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _observation_columns() -> list[sa.Column]:
    """What every edge table keeps about its observations."""
    return [
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("principal", sa.String(length=255), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
    ]


def _node_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["lineage_nodes.id"],
        name=op.f(f"fk_{table}_{column}_lineage_nodes"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "lineage_nodes",
        sa.Column("id", _id(), nullable=False),
        sa.Column("node_type", sa.String(length=32), nullable=False),
        sa.Column("node_key", sa.String(length=255), nullable=False),
        sa.Column("securable_id", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("full_name", sa.String(length=800), nullable=True),
        sa.Column("catalog_name", sa.String(length=255), nullable=True),
        sa.Column("schema_name", sa.String(length=255), nullable=True),
        sa.Column("object_name", sa.String(length=255), nullable=True),
        sa.Column("namespace", sa.Text(), nullable=True),
        sa.Column("external_name", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_nodes")),
        sa.UniqueConstraint("node_type", "node_key", name="uq_lineage_nodes_type_key"),
    )
    op.create_index("ix_lineage_nodes_securable", "lineage_nodes", ["securable_id"])
    op.create_index("ix_lineage_nodes_full_name", "lineage_nodes", ["full_name"])

    op.create_table(
        "lineage_edges",
        sa.Column("id", _id(), nullable=False),
        sa.Column("source_id", _id(), nullable=False),
        sa.Column("target_id", _id(), nullable=False),
        *_observation_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_edges")),
        _node_fk("source_id", "lineage_edges"),
        _node_fk("target_id", "lineage_edges"),
        sa.UniqueConstraint("source_id", "target_id", "kind", name="uq_lineage_edges_edge"),
    )
    op.create_index("ix_lineage_edges_target", "lineage_edges", ["target_id", "source_id"])
    op.create_index("ix_lineage_edges_last_seen", "lineage_edges", ["last_seen"])

    op.create_table(
        "lineage_column_edges",
        sa.Column("id", _id(), nullable=False),
        sa.Column("source_id", _id(), nullable=False),
        sa.Column("source_column", sa.String(length=255), nullable=False),
        sa.Column("target_id", _id(), nullable=False),
        sa.Column("target_column", sa.String(length=255), nullable=False),
        *_observation_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_column_edges")),
        _node_fk("source_id", "lineage_column_edges"),
        _node_fk("target_id", "lineage_column_edges"),
        sa.UniqueConstraint(
            "source_id",
            "target_id",
            "kind",
            "source_column",
            "target_column",
            name="uq_lineage_column_edges_edge",
        ),
    )
    op.create_index(
        "ix_lineage_column_edges_target", "lineage_column_edges", ["target_id", "target_column"]
    )
    op.create_index("ix_lineage_column_edges_last_seen", "lineage_column_edges", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_lineage_column_edges_last_seen", table_name="lineage_column_edges")
    op.drop_index("ix_lineage_column_edges_target", table_name="lineage_column_edges")
    op.drop_table("lineage_column_edges")
    op.drop_index("ix_lineage_edges_last_seen", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_target", table_name="lineage_edges")
    op.drop_table("lineage_edges")
    op.drop_index("ix_lineage_nodes_full_name", table_name="lineage_nodes")
    op.drop_index("ix_lineage_nodes_securable", table_name="lineage_nodes")
    op.drop_table("lineage_nodes")
