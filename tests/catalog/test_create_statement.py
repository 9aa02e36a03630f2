"""A create under a parent (``NamespaceStore.insert_child``) is one statement on PostgreSQL
(catalog/store/create_statement.py) and separate ones on SQLite, or for a table of more
columns than one statement takes: each must write exactly what the separate statements
write, and fail the same ways (no parent, the name taken, the parent dropped meanwhile),
writing nothing when it fails."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import sqlalchemy as sa

from catalog.namespace import NewSecurable
from catalog.records import ColumnRecord, PolicyFunctionRef, SecurableRecord, TableDetailRecord
from catalog.runtime import Runtime
from catalog.store.create_statement import MAX_COLUMNS
from common.errors import AlreadyExists, NotFound
from policy.securables import SecurableType
from tests.catalog.in_process import admin


def _detail(columns: int) -> TableDetailRecord:
    """Every kind of value a table's rows hold: JSON lists, NULLs, a mask, a row filter."""
    return TableDetailRecord(
        table_type="MANAGED",
        data_source_format="DELTA",
        primary_key_name="pk",
        primary_key_columns=["c0"],
        timeseries_column="c1" if columns > 1 else None,
        row_filter=PolicyFunctionRef("m.s.only_mine", ("c0",)),
        columns=[
            ColumnRecord(
                name=f"c{i}",
                type_text="decimal(10,2)" if i % 2 else "bigint",
                type_name="DECIMAL" if i % 2 else "LONG",
                position=i,
                nullable=i != 0,
                comment=f"column {i}" if i % 3 == 0 else None,
                type_json='{"type": "long"}' if i == 0 else None,
                type_precision=10 if i % 2 else None,
                type_scale=2 if i % 2 else None,
                partition_index=0 if i == 2 else None,
                mask=PolicyFunctionRef("m.s.redact", (f"c{i}", "c0")) if i == 1 else None,
            )
            for i in range(columns)
        ],
    )


def _schema(rt: Runtime) -> SecurableRecord:
    caller = admin(rt)
    rt.namespace.create(caller, NewSecurable(SecurableType.CATALOG, "m"))
    return rt.namespace.create(caller, NewSecurable(SecurableType.SCHEMA, "m.s"))


def _read(rt: Runtime, full_name: str) -> tuple[SecurableRecord, TableDetailRecord | None]:
    with rt.db.read() as session:
        store = rt.stores.namespace(session)
        found = store.get(SecurableType.TABLE, full_name)
        assert found is not None
        return found, store.get_table_details([found.id]).get(found.id)


def _separately(rt: Runtime, record: SecurableRecord, detail: TableDetailRecord) -> None:
    """What a create wrote before it was one statement: the parent, then each row."""
    with rt.db.transaction() as session:
        store = rt.stores.namespace(session)
        parent = store.get(SecurableType.SCHEMA, "m.s")
        assert parent is not None
        written = replace(record, parent_id=parent.id)
        store.insert(written)
        store.insert_table_detail(written.id, detail)


def _count(rt: Runtime, table: str) -> int:
    with rt.db.engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.mark.parametrize("columns", [0, 1, 5, MAX_COLUMNS, MAX_COLUMNS + 1])
def test_a_create_writes_what_the_separate_statements_write(runtime: Runtime, columns: int) -> None:
    schema = _schema(runtime)
    caller = admin(runtime)
    detail = _detail(columns)
    if columns == 0:
        detail = replace(detail, primary_key_columns=None, timeseries_column=None, row_filter=None)
    made = runtime.namespace.create(
        caller,
        NewSecurable(SecurableType.TABLE, "m.s.one", comment="made at once", properties={"k": "v"}),
        table=detail,
    )
    assert made.parent_id == schema.id
    template = replace(made, id="0" * 36, name="two", full_name="m.s.two", parent_id=None)
    _separately(runtime, template, detail)

    one, one_detail = _read(runtime, "m.s.one")
    two, two_detail = _read(runtime, "m.s.two")
    assert one == made
    assert replace(one, id=two.id, name="two", full_name="m.s.two") == two
    assert one_detail == two_detail == detail


def test_a_create_without_a_table_detail(runtime: Runtime) -> None:
    schema = _schema(runtime)
    model = runtime.namespace.create(admin(runtime), NewSecurable(SecurableType.MODEL, "m.s.model"))
    with runtime.db.read() as session:
        store = runtime.stores.namespace(session)
        assert store.get(SecurableType.MODEL, "m.s.model") == model
        assert store.get_table_details([model.id]) == {}
    assert model.parent_id == schema.id


def test_no_parent_and_a_name_taken_write_nothing(runtime: Runtime) -> None:
    _schema(runtime)
    caller = admin(runtime)
    detail = _detail(3)
    runtime.namespace.create(caller, NewSecurable(SecurableType.TABLE, "m.s.t"), table=detail)
    before = {
        table: _count(runtime, table) for table in ("securables", "table_details", "table_columns")
    }

    with pytest.raises(NotFound, match=r"SCHEMA 'm\.nope' does not exist"):
        runtime.namespace.create(
            caller, NewSecurable(SecurableType.TABLE, "m.nope.t"), table=detail
        )
    with pytest.raises(NotFound, match="CATALOG 'nope' does not exist"):
        runtime.namespace.create(caller, NewSecurable(SecurableType.SCHEMA, "nope.s"))
    with pytest.raises(AlreadyExists, match=r"'m\.s\.t' already exists"):
        runtime.namespace.create(caller, NewSecurable(SecurableType.TABLE, "m.s.t"), table=detail)
    # A model may not take a table's name either (tables and models share names).
    with pytest.raises(AlreadyExists, match=r"'m\.s\.t' already exists"):
        runtime.namespace.create(caller, NewSecurable(SecurableType.MODEL, "m.s.t"))

    after = {table: _count(runtime, table) for table in before}
    assert after == before


def test_a_parent_dropped_meanwhile_is_not_found(runtime: Runtime, backend: str) -> None:
    """PostgreSQL: the parent is there when the create's statement starts, and its drop
    commits while the statement waits on the parent's row: the foreign key fails, and the
    create says the parent does not exist (not that the name is taken). On SQLite writers
    take turns, so there is no meanwhile."""
    if backend != "postgres":
        pytest.skip("SQLite's writers take turns")
    schema = _schema(runtime)
    outcome: list[BaseException | SecurableRecord] = []

    def create() -> None:
        try:
            outcome.append(
                runtime.namespace.create(
                    admin(runtime), NewSecurable(SecurableType.TABLE, "m.s.late"), table=_detail(2)
                )
            )
        except BaseException as exc:
            outcome.append(exc)

    with runtime.db.engine.connect() as dropper:
        dropper.execute(sa.text("DELETE FROM securables WHERE id = :id"), {"id": schema.id})
        creator = threading.Thread(target=create)
        creator.start()
        time.sleep(0.5)  # the create's statement now waits on the schema's row lock
        assert creator.is_alive() and not outcome
        dropper.commit()
    creator.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], NotFound), outcome
    assert "SCHEMA 'm.s' does not exist" in str(outcome[0])
    with runtime.db.engine.connect() as connection:
        left = connection.execute(
            sa.text("SELECT count(*) FROM securables WHERE full_name = 'm.s.late'")
        ).scalar_one()
    assert left == 0


def test_creates_of_one_name_at_once_make_it_once(runtime: Runtime) -> None:
    """Eight threads create the same table at once: one succeeds, the others are told it
    already exists (on PostgreSQL they wait on the name's unique index inside the one
    statement, then fail on it), and there is one row of each kind."""
    _schema(runtime)
    caller = admin(runtime)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def create() -> None:
        start.wait()
        try:
            runtime.namespace.create(
                caller, NewSecurable(SecurableType.TABLE, "m.s.same"), table=_detail(3)
            )
            outcomes.append("made")
        except AlreadyExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["exists"] * 7 + ["made"]
    with runtime.db.engine.connect() as connection:
        made = (
            connection.execute(sa.text("SELECT id FROM securables WHERE full_name = 'm.s.same'"))
            .scalars()
            .all()
        )
        assert len(made) == 1
        columns = connection.execute(
            sa.text("SELECT count(*) FROM table_columns WHERE table_id = :id"), {"id": made[0]}
        ).scalar_one()
    assert columns == 3
