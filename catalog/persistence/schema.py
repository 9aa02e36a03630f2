"""The catalog's tables.

One ``securables`` table holds every object of the namespace (catalogs,
schemas, tables, models) so the hierarchy, ownership and listing work the same
for all of them; type-specific details live in side tables. Time stamps are
epoch milliseconds, as the Unity Catalog API returns them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Metastore(Base):
    __tablename__ = "metastore"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Securable(Base):
    __tablename__ = "securables"
    __table_args__ = (
        UniqueConstraint("full_name", name="uq_securables_full_name"),
        # Keyset pagination of a container's children by name.
        Index("ix_securables_children", "parent_id", "securable_type", "name"),
        Index("ix_securables_type_name", "securable_type", "full_name"),
        Index("ix_securables_owner", "owner"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    securable_type: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(800))
    owner: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    properties: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    storage_root: Mapped[str | None] = mapped_column(Text, nullable=True)
    storage_location: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class TableDetail(Base):
    """What only a table has: its type, format and primary/timeseries keys."""

    __tablename__ = "table_details"

    securable_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    table_type: Mapped[str] = mapped_column(String(32))
    data_source_format: Mapped[str | None] = mapped_column(String(32), nullable=True)
    view_definition: Mapped[str | None] = mapped_column(Text, nullable=True)
    primary_key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    primary_key_columns: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    timeseries_column: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The row filter: a FUNCTION's full name (not its id: a dropped and re-created
    #: function of that name is the one that applies, as on Databricks) and the columns
    #: whose values it takes.
    row_filter_function: Mapped[str | None] = mapped_column(String(800), nullable=True)
    row_filter_columns: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class TableDataVersion(Base):
    """How often a managed table's rows have been written: bumped by every write, in the
    writing transaction. A reader that finds the number unchanged knows the rows it read
    before are still the table's rows (serving's feature row cache,
    :class:`catalog.data.row_cache.RowCache`), on any replica."""

    __tablename__ = "table_data_versions"

    table_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(BigInteger)


class PolicyChange(Base):
    """One committed change to grants, memberships or the hierarchy, as policy ops, on
    SQLite: the worker processes of one server follow this log to keep their policy
    engines in step (PostgreSQL replicas use NOTIFY instead). ``seq`` is commit order:
    SQLite has one writer. Old rows are pruned."""

    __tablename__ = "policy_changes"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    #: ``{"origin": …, "ops": [[kind, …], …]}``.
    payload: Mapped[str] = mapped_column(Text)
    #: Epoch milliseconds.
    created_at: Mapped[int] = mapped_column(BigInteger)


class TableColumn(Base):
    __tablename__ = "table_columns"
    __table_args__ = (UniqueConstraint("table_id", "name", name="uq_table_columns_table_name"),)

    table_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    type_text: Mapped[str] = mapped_column(String(1000))
    type_name: Mapped[str] = mapped_column(String(32))
    type_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    type_precision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    type_scale: Mapped[int | None] = mapped_column(Integer, nullable=True)
    type_interval_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nullable: Mapped[bool] = mapped_column(Boolean, default=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    partition_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The column mask: a FUNCTION's full name and the other columns it takes.
    mask_function: Mapped[str | None] = mapped_column(String(800), nullable=True)
    mask_using_columns: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class Principal(Base):
    __tablename__ = "principals"
    __table_args__ = (UniqueConstraint("name", name="uq_principals_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: USER, SERVICE_PRINCIPAL or GROUP.
    kind: Mapped[str] = mapped_column(String(32))
    #: userName, applicationId or group displayName, lower-cased (names are case-insensitive).
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_metastore_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_member", "member_id"),)

    group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )


class AccessToken(Base):
    """A personal access token. Only its SHA-256 digest is stored."""

    __tablename__ = "access_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_access_tokens_token_hash"),
        Index("ix_access_tokens_principal", "principal_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("principals.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: Epoch ms after which the token is refused; None never expires.
    expiry_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_by: Mapped[str] = mapped_column(String(255))


class StatementResult(Base):
    """What a SQL statement answered, kept so its caller can read it again by id
    (``GET /api/2.0/sql/statements/{id}``) on any process or replica. Written with the
    statement's audit event where there is one; rows older than
    ``STEWARD_STATEMENT_RESULT_SECONDS`` are pruned (:mod:`catalog.sql.statement_results`)."""

    __tablename__ = "statement_results"
    __table_args__ = (Index("ix_statement_results_created_at", "created_at"),)

    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("principals.id", ondelete="CASCADE")
    )
    #: Epoch milliseconds.
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: The statement's response as JSON, in Steward's own shape.
    response: Mapped[str] = mapped_column(Text)


class SqlFunction(Base):
    """What only a SQL function has: its parameters, return type and body (canonical SQL
    of one expression, re-checked against the query allow-list whenever it is used)."""

    __tablename__ = "sql_functions"

    securable_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``[[name, type_text], …]`` in order.
    parameters: Mapped[list[list[str]]] = mapped_column(JSON)
    return_type: Mapped[str] = mapped_column(String(1000))
    body: Mapped[str] = mapped_column(Text)


class AbacPolicy(Base):
    """An ABAC policy (``CREATE POLICY``): a row filter or column mask defined on a catalog,
    schema or table, reaching the tables under it whose governed tags match. Keyed by the
    object it is defined on (dropped with it) and its name there."""

    __tablename__ = "abac_policies"
    __table_args__ = (UniqueConstraint("securable_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    securable_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    #: ``ROW FILTER`` or ``COLUMN MASK``.
    policy_type: Mapped[str] = mapped_column(String(32))
    function_name: Mapped[str] = mapped_column(String(800))
    to_principals: Mapped[list[str]] = mapped_column(JSON)
    except_principals: Mapped[list[str]] = mapped_column(JSON)
    #: Canonical SQL of the ``WHEN`` tag condition, if any.
    when_condition: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: ``[[condition SQL, alias], …]`` of ``MATCH COLUMNS``.
    match_columns: Mapped[list[list[str]]] = mapped_column(JSON)
    on_column: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: ``[[alias or literal SQL, is_literal], …]`` of ``USING COLUMNS``.
    using_columns: Mapped[list[list[object]]] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(255))


class SecurableTag(Base):
    """A tag (key, optional value) on a securable, or on one of a table's columns
    (``column_name``; empty for the object itself). Keyed by the securable's id, so a
    renamed object keeps its tags and a dropped one takes them along."""

    __tablename__ = "securable_tags"
    __table_args__ = (Index("ix_securable_tags_key_value", "tag_key", "tag_value"),)

    securable_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securables.id", ondelete="CASCADE"), primary_key=True
    )
    column_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    tag_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    tag_value: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    #: Epoch milliseconds.
    updated_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(255))


class CasbinRule(Base):
    """Casbin policy lines in pycasbin's adapter layout. Grants are ``p`` lines:
    (principal name, securable id, privilege). Ids, not names, so a renamed object keeps
    its grants and a re-created one does not inherit its predecessor's."""

    __tablename__ = "casbin_rule"
    __table_args__ = (
        UniqueConstraint("ptype", "v0", "v1", "v2", name="uq_casbin_rule_line"),
        Index("ix_casbin_rule_object", "ptype", "v1"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ptype: Mapped[str] = mapped_column(String(8))
    v0: Mapped[str] = mapped_column(String(255))
    v1: Mapped[str] = mapped_column(String(255))
    v2: Mapped[str] = mapped_column(String(255), default="")
    v3: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v4: Mapped[str | None] = mapped_column(String(255), nullable=True)
    v5: Mapped[str | None] = mapped_column(String(255), nullable=True)


class AuditEvent(Base):
    """One audit event (docs/audit.md), with Databricks' ``system.access.audit`` columns and the
    chain fields. Events are chained per *lane* (see :mod:`catalog.audit.log`): ``seq``
    counts up from 1 in its lane and ``hash`` covers the event and ``prev_hash``."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("lane", "seq", name="uq_audit_events_lane_seq"),
        UniqueConstraint("event_id", name="uq_audit_events_event_id"),
        # Time order; the object name lets a filter on it be checked in the index (c0006).
        Index("ix_audit_events_time_object", "event_time", "object_name"),
        Index("ix_audit_events_action", "action_name", "id"),
        Index("ix_audit_events_user", "user_name", "id"),
        Index("ix_audit_events_object", "object_name", "id"),
        # Filters by action or user sorted by time (system.access.audit over SQL).
        Index("ix_audit_events_action_time", "action_name", "event_time"),
        Index("ix_audit_events_user_time", "user_name", "event_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_date: Mapped[date] = mapped_column(Date)
    lane: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    #: ``user_identity.email`` on Databricks; None when the caller was not authenticated.
    user_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    service_name: Mapped[str] = mapped_column(String(64))
    action_name: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(64))
    #: The securable (or principal, endpoint …) the action was on, for filtering.
    object_name: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    request_params: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditLane(Base):
    """The head of one lane of the audit chain: its last ``seq`` and ``hash``."""

    __tablename__ = "audit_lanes"

    lane: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """The heads of every lane at one moment, chained to the previous checkpoint and, when
    a key is configured, signed with an HMAC whose key is not in the database."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: JSON ``{"lane": [seq, head], …}``.
    lanes: Mapped[str] = mapped_column(Text)
    prev_digest: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LineageNode(Base):
    """One entity of the lineage graph (docs/lineage.md), identified by ``(node_type, node_key)``.

    Catalog objects are keyed by their securable id (``<model id>/<version>`` for a
    model version), so a renamed table keeps its lineage and a re-created one starts
    fresh; external datasets by a digest of their OpenLineage namespace and name. The
    name columns are the display name last observed; reads prefer the live securable.
    """

    __tablename__ = "lineage_nodes"
    __table_args__ = (
        UniqueConstraint("node_type", "node_key", name="uq_lineage_nodes_type_key"),
        Index("ix_lineage_nodes_securable", "securable_id"),
        Index("ix_lineage_nodes_full_name", "full_name"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: TABLE, FEATURE_TABLE, MODEL, MODEL_VERSION, SERVING_ENDPOINT or EXTERNAL.
    node_type: Mapped[str] = mapped_column(String(32))
    node_key: Mapped[str] = mapped_column(String(255))
    securable_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    full_name: Mapped[str | None] = mapped_column(String(800), nullable=True)
    catalog_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    schema_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    object_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: External datasets: the OpenLineage namespace and name, and both joined as a path.
    namespace: Mapped[str | None] = mapped_column(Text, nullable=True)
    external_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LineageEdge(Base):
    """A table-level edge ``source → target`` of one kind, counted each time it is observed.

    Unique on (source, target, kind) so repeated observations update one row (an
    ``INSERT … ON CONFLICT DO UPDATE``); indexed from both ends for the BFS of reads.
    """

    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("source_id", "target_id", "kind", name="uq_lineage_edges_edge"),
        Index("ix_lineage_edges_target", "target_id", "source_id"),
        Index("ix_lineage_edges_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("lineage_nodes.id", ondelete="CASCADE"),
    )
    target_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("lineage_nodes.id", ondelete="CASCADE"),
    )
    #: How the edge arose: sql, openlineage, training, feature_lookup, serving, alias …
    kind: Mapped[str] = mapped_column(String(32))
    #: What recorded it, in Databricks' spelling (SQL, OPENLINEAGE, MODEL_VERSION …).
    entity_type: Mapped[str] = mapped_column(String(32))
    #: The recording entity, e.g. the OpenLineage job ``namespace/name`` (last observation).
    entity_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(BigInteger, default=1)
    #: Principal of the last observation.
    principal: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: Audit request id of the last observation.
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LineageColumnEdge(Base):
    """A column-level edge ``source.column → target.column``, kept like :class:`LineageEdge`."""

    __tablename__ = "lineage_column_edges"
    __table_args__ = (
        UniqueConstraint(
            "source_id",
            "target_id",
            "kind",
            "source_column",
            "target_column",
            name="uq_lineage_column_edges_edge",
        ),
        Index("ix_lineage_column_edges_target", "target_id", "target_column"),
        Index("ix_lineage_column_edges_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("lineage_nodes.id", ondelete="CASCADE"),
    )
    source_column: Mapped[str] = mapped_column(String(255))
    target_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("lineage_nodes.id", ondelete="CASCADE"),
    )
    target_column: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(BigInteger, default=1)
    principal: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
