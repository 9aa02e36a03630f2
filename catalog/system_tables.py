"""The system tables of docs/audit.md, docs/lineage.md and docs/sql.md, as the catalog
shows them.

:data:`SYSTEM_TABLES` are read-only TABLE securables under ``system.access`` (created on
first start) whose columns follow Databricks' ``system.access`` tables. Their rows live in
Steward's own tables (``audit_events``, the lineage tables); SQL reaches them only
through the system-table query path, which maps these public columns onto those.

:data:`INFORMATION_SCHEMA_TABLES` (``system.information_schema.*``: row filters, column
masks, tags, ABAC policies) are not securables: no grant opens or closes them, as on
Databricks. Their rows are computed for each caller, about the objects it sees
(:mod:`catalog.sql.information_schema`); their columns follow Databricks'
``information_schema`` where it has the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.records import ColumnRecord, TableDetailRecord
from catalog.tables import build_table_detail
from common.column_types import parse_column_type

AUDIT = "system.access.audit"
TABLE_LINEAGE = "system.access.table_lineage"
COLUMN_LINEAGE = "system.access.column_lineage"

ROW_FILTERS = "system.information_schema.row_filters"
COLUMN_MASKS = "system.information_schema.column_masks"
TABLE_TAGS = "system.information_schema.table_tags"
COLUMN_TAGS = "system.information_schema.column_tags"
POLICIES = "system.information_schema.policies"


@dataclass(frozen=True)
class SystemTable:
    full_name: str
    comment: str
    #: (column name, Databricks SQL type, comment)
    columns: tuple[tuple[str, str, str], ...]

    def column_records(self) -> list[ColumnRecord]:
        records = []
        for position, (name, type_text, comment) in enumerate(self.columns):
            parsed = parse_column_type(type_text)
            records.append(
                ColumnRecord(
                    name=name,
                    type_text=parsed.type_text,
                    type_name=parsed.type_name,
                    position=position,
                    nullable=True,
                    comment=comment or None,
                    type_precision=parsed.precision,
                    type_scale=parsed.scale,
                )
            )
        return records

    def detail(self) -> TableDetailRecord:
        return build_table_detail(
            table_type="MANAGED",
            data_source_format="DELTA",
            columns=self.column_records(),
            storage_location=None,
        )


SYSTEM_TABLES: tuple[SystemTable, ...] = (
    SystemTable(
        AUDIT,
        "Audit log: one row per audited event (hash-chained; see `steward audit verify`)",
        (
            ("event_id", "STRING", "Unique id of the event"),
            ("event_time", "TIMESTAMP", "When the event was recorded (UTC)"),
            ("event_date", "DATE", "Day of event_time"),
            ("user_identity", "STRUCT<email: STRING>", "Who acted (null: not authenticated)"),
            ("service_name", "STRING", "unityCatalog, accounts, databrickssql, serving …"),
            ("action_name", "STRING", "Databricks action name, e.g. createTable"),
            ("request_id", "STRING", "Request id (X-Request-Id)"),
            ("request_params", "STRING", "Request parameters, JSON"),
            ("response", "STRUCT<status_code: INT, error_message: STRING>", "Outcome"),
            ("source_ip_address", "STRING", "Client address"),
            ("user_agent", "STRING", "Client user agent"),
            ("object_name", "STRING", "Object acted on, when there is one"),
            ("lane", "INT", "Chain lane"),
            ("seq", "BIGINT", "Position in the lane"),
            ("prev_hash", "STRING", "Hash of the previous event in the lane"),
            ("hash", "STRING", "SHA-256 of this event and prev_hash"),
        ),
    ),
    SystemTable(
        TABLE_LINEAGE,
        "Table lineage: one row per observed source → target edge",
        (
            ("source_table_full_name", "STRING", "Upstream table (or null for external)"),
            ("source_table_catalog", "STRING", ""),
            ("source_table_schema", "STRING", ""),
            ("source_table_name", "STRING", ""),
            ("source_path", "STRING", "External source (OpenLineage namespace/name)"),
            ("source_type", "STRING", "TABLE, FEATURE_TABLE, MODEL, MODEL_VERSION, EXTERNAL …"),
            ("target_table_full_name", "STRING", "Downstream entity"),
            ("target_table_catalog", "STRING", ""),
            ("target_table_schema", "STRING", ""),
            ("target_table_name", "STRING", ""),
            ("target_path", "STRING", "External target"),
            ("target_type", "STRING", "TABLE, FEATURE_TABLE, MODEL, MODEL_VERSION, …"),
            ("entity_type", "STRING", "What recorded it: SQL, MODEL_VERSION, OPENLINEAGE …"),
            ("created_by", "STRING", "Principal"),
            ("event_time", "TIMESTAMP", "Last seen"),
            ("event_date", "DATE", "Day of event_time"),
            ("first_seen", "TIMESTAMP", "First seen"),
            ("count", "BIGINT", "Times seen"),
            ("request_id", "STRING", "Audit request id of the last observation"),
        ),
    ),
    SystemTable(
        COLUMN_LINEAGE,
        "Column lineage: one row per observed source column → target column edge",
        (
            ("source_table_full_name", "STRING", ""),
            ("source_column_name", "STRING", ""),
            ("source_type", "STRING", ""),
            ("target_table_full_name", "STRING", ""),
            ("target_column_name", "STRING", ""),
            ("target_type", "STRING", ""),
            ("entity_type", "STRING", ""),
            ("created_by", "STRING", ""),
            ("event_time", "TIMESTAMP", "Last seen"),
            ("event_date", "DATE", ""),
            ("first_seen", "TIMESTAMP", ""),
            ("count", "BIGINT", ""),
            ("request_id", "STRING", ""),
        ),
    ),
)


#: ``system.information_schema``: rows per caller, no grant (see the module docstring).
INFORMATION_SCHEMA_TABLES: tuple[SystemTable, ...] = (
    SystemTable(
        ROW_FILTERS,
        "Row filters: one row per table with a row filter (ALTER TABLE … SET ROW FILTER)",
        (
            ("catalog_name", "STRING", "Catalog of the table"),
            ("schema_name", "STRING", "Schema of the table"),
            ("table_name", "STRING", "Table the filter applies to"),
            ("filter_catalog", "STRING", "Catalog of the filter function"),
            ("filter_schema", "STRING", "Schema of the filter function"),
            ("filter_name", "STRING", "Name of the filter function"),
            ("filter_col_usage", "STRING", "Columns passed to the function, ', '-separated"),
        ),
    ),
    SystemTable(
        COLUMN_MASKS,
        "Column masks: one row per masked column (ALTER TABLE … ALTER COLUMN … SET MASK)",
        (
            ("catalog_name", "STRING", "Catalog of the table"),
            ("schema_name", "STRING", "Schema of the table"),
            ("table_name", "STRING", "Table of the column"),
            ("column_name", "STRING", "The masked column"),
            ("mask_catalog", "STRING", "Catalog of the mask function"),
            ("mask_schema", "STRING", "Schema of the mask function"),
            ("mask_name", "STRING", "Name of the mask function"),
            ("mask_col_usage", "STRING", "USING COLUMNS, ', '-separated (null: none)"),
        ),
    ),
    SystemTable(
        TABLE_TAGS,
        "Tags set on tables",
        (
            ("catalog_name", "STRING", "Catalog of the table"),
            ("schema_name", "STRING", "Schema of the table"),
            ("table_name", "STRING", "The tagged table"),
            ("tag_name", "STRING", "Tag key"),
            ("tag_value", "STRING", "Tag value ('' for a tag without one)"),
        ),
    ),
    SystemTable(
        COLUMN_TAGS,
        "Tags set on table columns",
        (
            ("catalog_name", "STRING", "Catalog of the table"),
            ("schema_name", "STRING", "Schema of the table"),
            ("table_name", "STRING", "Table of the column"),
            ("column_name", "STRING", "The tagged column"),
            ("tag_name", "STRING", "Tag key"),
            ("tag_value", "STRING", "Tag value ('' for a tag without one)"),
        ),
    ),
    SystemTable(
        POLICIES,
        "ABAC policies (CREATE POLICY): one row per policy",
        (
            ("name", "STRING", "Policy name (unique on the object it is on)"),
            ("on_securable_type", "STRING", "CATALOG, SCHEMA or TABLE"),
            ("on_securable_name", "STRING", "Full name of the object it is defined on"),
            ("policy_type", "STRING", "ROW FILTER or COLUMN MASK"),
            ("function_name", "STRING", "Full name of the function"),
            ("to_principals", "STRING", "TO principals, ', '-separated"),
            ("except_principals", "STRING", "EXCEPT principals, ', '-separated (null: none)"),
            ("when_condition", "STRING", "WHEN tag condition (null: every table)"),
            ("match_columns", "STRING", "MATCH COLUMNS, 'condition AS alias', ', '-separated"),
            ("on_column", "STRING", "ON COLUMN alias of a column mask"),
            ("using_columns", "STRING", "USING COLUMNS, ', '-separated (null: none)"),
            ("comment", "STRING", "Comment"),
            ("created_by", "STRING", "Who created it"),
            ("created_at", "TIMESTAMP", "When it was created (UTC)"),
        ),
    ),
)
