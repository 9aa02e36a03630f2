"""The benchmarks' bulk loader (benchmarks/harness.py ``bulk_insert``) on both backends: the
rows it stores are the ones the service would, and a row may leave out a nullable column
added to the schema after the benchmark was written (it broke two benchmarks once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from benchmarks.harness import bulk_insert
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from catalog.persistence.migrate import upgrade
from catalog.records import new_id, now_ms
from tests.support import backends, database_url_for


@pytest.mark.parametrize("backend", backends())
def test_rows_may_leave_out_nullable_columns_but_not_required_ones(
    backend: str, tmp_path: Path
) -> None:
    with database_url_for(backend, tmp_path) as url:
        upgrade(url)
        db = Database(url)
        try:
            table_id = new_id()
            securable = {
                "id": table_id,
                "securable_type": "TABLE",
                "parent_id": None,
                "name": "t",
                "full_name": "bulk.s.t",
                "owner": "admin",
                "properties": {"k": "v"},
                "created_at": now_ms(),
                "created_by": "admin",
            }
            detail = {"securable_id": table_id, "table_type": "MANAGED"}
            with db.transaction() as session:
                connection = session.connection()
                bulk_insert(connection, t.Securable.__table__, [securable])
                bulk_insert(connection, t.TableDetail.__table__, [detail])
            with db.read() as session:
                stored = session.execute(
                    select(t.TableDetail).where(t.TableDetail.securable_id == table_id)
                ).scalar_one()
                assert stored.table_type == "MANAGED"
                assert stored.row_filter_function is None and stored.row_filter_columns is None
                owner = session.execute(
                    select(t.Securable.properties).where(t.Securable.id == table_id)
                ).scalar_one()
                assert owner == {"k": "v"}
            with pytest.raises(KeyError, match="table_type"), db.transaction() as session:
                bulk_insert(session.connection(), t.TableDetail.__table__, [{"securable_id": "x"}])
        finally:
            db.dispose()
