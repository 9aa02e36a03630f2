"""The system tables of docs/audit.md and docs/lineage.md, as the catalog shows them.

Each is a read-only TABLE securable under ``system.access`` (created on first start)
whose columns follow Databricks' ``system.access`` tables. Their rows live in
Steward's own tables (``audit_events``, the lineage tables); SQL reaches them only
through the system-table query path, which maps these public columns onto those.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.records import ColumnRecord, TableDetailRecord
from catalog.tables import build_table_detail
from common.column_types import parse_column_type

AUDIT = "system.access.audit"
TABLE_LINEAGE = "system.access.table_lineage"
COLUMN_LINEAGE = "system.access.column_lineage"


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
