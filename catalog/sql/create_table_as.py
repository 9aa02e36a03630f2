"""``CREATE [OR REPLACE] TABLE t [COMMENT '…'] AS SELECT …``: a managed table with the
query's columns and rows.

The query is planned, authorized and run as the caller like any SELECT — through the row
filters and masks of the tables it reads, for the caller, so a filtered user copies only
what it sees, masked as it sees it. Its result columns (names and Databricks types) become
the table's columns; two columns of one name are an error naming it. The table and its
rows (at most ``STEWARD_MAX_ROWS_PER_WRITE``) commit in one transaction with the lineage
edges from the tables read, or not at all. The new table has no key, filter or mask.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from sqlglot import exp

from catalog.data.physical import ensure_storage
from catalog.data.table_data import layout_of
from catalog.records import ColumnRecord, SecurableRecord, TableRecord
from catalog.runtime import Runtime
from catalog.sql.compiler import Budgets, ReadQuery
from catalog.sql.select_runner import run_query
from catalog.sql.sources import CatalogResolver
from catalog.sql.table_sources import GovernedSource
from catalog.sql.writes import Target, record_lineage, storable, trace_lineage
from catalog.tables import build_table_detail
from common.column_types import parse_column_type
from common.errors import InvalidParameter, PayloadTooLarge
from common.values import check_rows


class TableFromQuery:
    """The planned query, its rows, and the table definition they make."""

    def __init__(
        self, runtime: Runtime, resolver: CatalogResolver, full_name: str, query: exp.Query
    ) -> None:
        self.runtime, self.resolver, self.full_name = runtime, resolver, full_name
        self.query_node = query
        self.query = ReadQuery.plan(query, resolver, Budgets.of(runtime.settings))
        limit = runtime.data.max_rows_per_write
        compiled, self.raw = run_query(runtime, self.query, limit)
        if len(self.raw) > limit:
            raise PayloadTooLarge(
                f"CREATE TABLE … AS SELECT writes at most {limit} rows per statement "
                "(STEWARD_MAX_ROWS_PER_WRITE); the query gives more: create the table, then "
                "INSERT … SELECT it in ranges of keys"
            )
        self.kinds = compiled.kinds
        self.detail = build_table_detail(
            table_type="MANAGED",
            data_source_format="DELTA",
            columns=result_columns(compiled.columns, "CREATE TABLE … AS SELECT"),
            storage_location=None,
        )

    def write(self, statement_id: str | None) -> Any:
        """The ``extra`` step of the create (or replace) transaction: the rows and the
        lineage edges, written with the new table."""

        def write_rows(session: Session, record: SecurableRecord) -> None:
            # A new table has no physical table yet (a replaced one has its new one).
            ensure_storage(session.connection(), record.id, self.detail)
            layout = layout_of(TableRecord(record, self.detail))
            target = Target(GovernedSource(self.full_name, layout))
            columns = self.detail.columns
            named = [
                {
                    c.name: storable(c, v, k)
                    for c, v, k in zip(columns, row, self.kinds, strict=True)
                }
                for row in self.raw
            ]
            rows = check_rows(columns, named)
            self.runtime.data.write_checked(session, layout, rows, merge=False)
            insert = exp.Insert(this=exp.to_table(self.full_name), expression=self.query_node)
            lineage = trace_lineage(insert, target, self.query.sources, self.resolver)
            record_lineage(session, lineage, self.resolver, statement_id)

        return write_rows


def result_columns(result: list[tuple[str, str]], what: str) -> list[ColumnRecord]:
    """A query's result columns as a table's (or view's) columns; two of one name are an
    error naming it, as on Databricks."""
    seen: set[str] = set()
    columns = []
    for position, (name, type_text) in enumerate(result):
        if name.lower() in seen:
            raise InvalidParameter(
                f"[COLUMN_ALREADY_EXISTS] the query of {what} gives two columns named "
                f"'{name}': give them distinct names with AS"
            )
        seen.add(name.lower())
        parsed = parse_column_type(type_text if type_text.upper() != "VOID" else "STRING")
        columns.append(
            ColumnRecord(
                name=name,
                type_text=parsed.type_text,
                type_name=parsed.type_name,
                position=position,
                type_precision=parsed.precision,
                type_scale=parsed.scale,
            )
        )
    return columns
