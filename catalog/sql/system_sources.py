"""Where the rows of each system table live: its public columns over Steward's own tables.

The public columns of ``system.access.audit``, ``system.access.table_lineage`` and
``system.access.column_lineage`` are fixed in :mod:`catalog.system_tables`. Each is
computed here by one constant SELECT per backend over the physical tables (written by us,
never combined with user text), which :mod:`catalog.sql.compiler` puts in place of
the table reference as a derived table.

Struct columns (``user_identity STRUCT<email>``, ``response STRUCT<status_code,
error_message>``) are exposed twice: as a JSON text value under the public name (what
``SELECT user_identity`` returns, ``{"email":"…"}``, as Databricks renders structs in
JSON results) and, for field access, as the plain physical column under the hidden
name ``"<struct>.<field>"``. The compiler rewrites ``user_identity.email`` to that
hidden column, so filters on it stay plain comparisons the database can index; users
cannot name hidden columns (they are not in the schema the query is resolved against).

The lineage tables are ``lineage_edges`` / ``lineage_column_edges`` joined to
``lineage_nodes`` at both ends (migration c0004): ``event_time`` is the edge's
``last_seen``, ``created_by`` its ``principal`` (of the last observation), ``request_id``
the audit request of the last observation. Names (``source_table_full_name`` …) are
those the recorder last observed, as Databricks' lineage tables keep the name at event
time; an external dataset has no table name but a ``source_path``/``target_path``
(``namespace/name``), which ``system.access.column_lineage`` (having no path columns)
shows in ``*_table_full_name``. ``event_date`` is the UTC day of ``event_time`` (the query
runs with TimeZone UTC on PostgreSQL). Rows are not redacted per caller: reading a
system table is granted as a whole (SELECT on it), as on Databricks.

The ``system.information_schema`` tables (:data:`INFORMATION_SCHEMA`) are not here: their
rows depend on who asks (those about objects the caller sees), so no constant SELECT
computes them; :mod:`catalog.sql.information_schema` builds one per caller and statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlglot
from sqlglot import exp

from catalog.system_tables import (
    AUDIT,
    COLUMN_LINEAGE,
    INFORMATION_SCHEMA_TABLES,
    SYSTEM_TABLES,
    TABLE_LINEAGE,
)

#: Every physical table behind the ``system.access`` tables. A query may read only those of the
#: system tables it names (:attr:`SystemSource.physical_tables`), checked again on the SQL
#: that is finally generated and by SQLite's authorizer at run time.
PHYSICAL_TABLES = frozenset(
    {"audit_events", "lineage_edges", "lineage_column_edges", "lineage_nodes"}
)

BACKENDS = ("sqlite", "postgresql")


def _audit(user: str, response: str) -> str:
    return f"""
SELECT a.event_id AS event_id, a.event_time AS event_time, a.event_date AS event_date,
       {user} AS user_identity, a.service_name AS service_name,
       a.action_name AS action_name, a.request_id AS request_id,
       a.request_params AS request_params, {response} AS response,
       a.source_ip_address AS source_ip_address, a.user_agent AS user_agent,
       a.object_name AS object_name, a.lane AS lane, a.seq AS seq,
       a.prev_hash AS prev_hash, a.hash AS hash,
       a.user_name AS "user_identity.email",
       a.status_code AS "response.status_code",
       a.error_message AS "response.error_message"
FROM audit_events AS a
"""


_AUDIT = {
    "sqlite": _audit(
        "json_object('email', a.user_name)",
        "json_object('status_code', a.status_code, 'error_message', a.error_message)",
    ),
    "postgresql": _audit(
        "CAST(jsonb_build_object('email', a.user_name) AS TEXT)",
        "CAST(jsonb_build_object('status_code', a.status_code, 'error_message', "
        "a.error_message) AS TEXT)",
    ),
}

_DAY = {"sqlite": "date(e.last_seen)", "postgresql": "CAST(e.last_seen AS DATE)"}


def _table_lineage(day: str) -> str:
    return f"""
SELECT s.full_name AS source_table_full_name, s.catalog_name AS source_table_catalog,
       s.schema_name AS source_table_schema, s.object_name AS source_table_name,
       s.path AS source_path, s.node_type AS source_type,
       t.full_name AS target_table_full_name, t.catalog_name AS target_table_catalog,
       t.schema_name AS target_table_schema, t.object_name AS target_table_name,
       t.path AS target_path, t.node_type AS target_type,
       e.entity_type AS entity_type, e.principal AS created_by,
       e.last_seen AS event_time, {day} AS event_date, e.first_seen AS first_seen,
       e.count AS count, e.request_id AS request_id
FROM lineage_edges AS e
JOIN lineage_nodes AS s ON s.id = e.source_id
JOIN lineage_nodes AS t ON t.id = e.target_id
"""


def _column_lineage(day: str) -> str:
    return f"""
SELECT COALESCE(s.full_name, s.path) AS source_table_full_name,
       e.source_column AS source_column_name, s.node_type AS source_type,
       COALESCE(t.full_name, t.path) AS target_table_full_name,
       e.target_column AS target_column_name, t.node_type AS target_type,
       e.entity_type AS entity_type, e.principal AS created_by,
       e.last_seen AS event_time, {day} AS event_date, e.first_seen AS first_seen,
       e.count AS count, e.request_id AS request_id
FROM lineage_column_edges AS e
JOIN lineage_nodes AS s ON s.id = e.source_id
JOIN lineage_nodes AS t ON t.id = e.target_id
"""


_TEMPLATES: dict[str, dict[str, str]] = {
    AUDIT: _AUDIT,
    TABLE_LINEAGE: {backend: _table_lineage(_DAY[backend]) for backend in BACKENDS},
    COLUMN_LINEAGE: {backend: _column_lineage(_DAY[backend]) for backend in BACKENDS},
}


@dataclass(frozen=True)
class SystemSource:
    """One system table: public columns (name → Databricks type) and struct fields."""

    full_name: str
    columns: dict[str, str]
    #: (struct column, field) → the hidden column of the derived table that holds it.
    fields: dict[tuple[str, str], str]

    @property
    def names(self) -> dict[str, str]:
        """Public name → name as shown (system columns are lower-case already)."""
        return {name: name for name in self.columns}

    @property
    def physical_tables(self) -> frozenset[str]:
        """The physical tables this system table is computed from."""
        return frozenset(t.name for t in _parsed(self.full_name, "sqlite").find_all(exp.Table))

    def derived(self, backend: str, schema: str | None) -> exp.Select:
        """A fresh copy of the SELECT computing this table on ``backend``, its physical
        tables qualified with ``schema`` (so no CTE of the user's can stand in for them)."""
        select = _parsed(self.full_name, backend).copy()
        if schema:
            for table in select.find_all(exp.Table):
                table.set("db", exp.to_identifier(schema))
        return select


def sqlglot_dialect(backend: str) -> str:
    return "postgres" if backend == "postgresql" else backend


@cache
def _parsed(full_name: str, backend: str) -> exp.Select:
    select = sqlglot.parse_one(_TEMPLATES[full_name][backend], read=sqlglot_dialect(backend))
    assert isinstance(select, exp.Select)
    return select


def _fields(type_text: str) -> list[str]:
    data_type = exp.DataType.build(type_text, dialect="databricks")
    if not data_type.is_type(exp.DataType.Type.STRUCT):
        return []
    return [field.name for field in data_type.expressions]


def _source(full_name: str, columns: tuple[tuple[str, str, str], ...]) -> SystemSource:
    fields = {
        (name, field): f"{name}.{field}"
        for name, type_text, _ in columns
        for field in _fields(type_text)
    }
    return SystemSource(full_name, {name: type_text for name, type_text, _ in columns}, fields)


SOURCES: dict[str, SystemSource] = {
    table.full_name: _source(table.full_name, table.columns) for table in SYSTEM_TABLES
}


#: The ``system.information_schema`` tables: read without a grant, rows per caller
#: (:mod:`catalog.sql.information_schema`).
INFORMATION_SCHEMA: frozenset[str] = frozenset(t.full_name for t in INFORMATION_SCHEMA_TABLES)
