"""Recording lineage in-process, on SQLite and PostgreSQL: atomic with the caller's
transaction, exact counts under concurrent writers, and SQL lineage end to end."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select

from catalog.access.authorizer import Caller
from catalog.lineage import ColumnEdge, Edge, EdgeKind, NodeRef, external_node, record_edges
from catalog.lineage.graph import Direction
from catalog.lineage.lineage_service import LineageService
from catalog.lineage.recording import sql_edges, table_nodes
from catalog.lineage.sql_lineage import statement_lineage
from catalog.namespace import NewSecurable
from catalog.persistence import schema as t
from catalog.records import ColumnRecord
from catalog.runtime import Runtime
from catalog.store.sqlalchemy_stores import SqlNamespaceStore
from catalog.tables import build_table_detail
from policy.securables import SecurableType


def admin(rt: Runtime) -> Caller:
    return rt.identity.authenticate("dapi-admin")


def make_tables(rt: Runtime, columns: dict[str, Sequence[str]]) -> dict[str, NodeRef]:
    caller = admin(rt)
    rt.namespace.create(caller, NewSecurable(SecurableType.CATALOG, "m"))
    rt.namespace.create(caller, NewSecurable(SecurableType.SCHEMA, "m.s"))
    for name, cols in columns.items():
        detail = build_table_detail(
            table_type="MANAGED",
            data_source_format="DELTA",
            columns=[ColumnRecord(c, "string", "STRING", i) for i, c in enumerate(cols)],
            storage_location=None,
        )
        rt.namespace.create(caller, NewSecurable(SecurableType.TABLE, name), table=detail)
    with rt.db.read() as session:
        return table_nodes(SqlNamespaceStore(session), columns)


def count(rt: Runtime, table: type[t.Base]) -> int:
    with rt.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_edges_commit_or_roll_back_with_the_change(runtime: Runtime) -> None:
    nodes = make_tables(runtime, {"m.s.a": ["x"], "m.s.b": ["x"]})
    edge = Edge(nodes["m.s.a"], nodes["m.s.b"], EdgeKind.SQL)
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        record_edges(session, [edge])
        raise RuntimeError("the change failed")
    assert count(runtime, t.LineageEdge) == 0 and count(runtime, t.LineageNode) == 0
    with runtime.db.transaction() as session:
        assert record_edges(session, [edge], principal="p", request_id="r").edges == 1
    assert count(runtime, t.LineageEdge) == 1 and count(runtime, t.LineageNode) == 2


def test_concurrent_writers_count_every_observation(runtime: Runtime) -> None:
    """Eight writers observing the same edges at once: no lost update, no duplicate row,
    no deadlock (they share nodes and edges, listed in different orders)."""
    nodes = make_tables(runtime, {"m.s.a": ["x"], "m.s.b": ["x"], "m.s.c": ["x"]})
    a, b, c = nodes["m.s.a"], nodes["m.s.b"], nodes["m.s.c"]
    forward = [
        Edge(a, b, EdgeKind.SQL),
        Edge(b, c, EdgeKind.SQL),
        ColumnEdge(a, "x", b, "x", EdgeKind.SQL),
    ]
    rounds, writers = 10, 8
    failures: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                with runtime.db.transaction() as session:
                    record_edges(session, forward if n % 2 else list(reversed(forward)))
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    with runtime.db.read() as session:
        counts = sorted(session.scalars(select(t.LineageEdge.count)))
        column_counts = list(session.scalars(select(t.LineageColumnEdge.count)))
    assert counts == [rounds * writers, rounds * writers]
    assert column_counts == [rounds * writers]
    assert count(runtime, t.LineageNode) == 3


def test_sql_lineage_recorded_and_read_back(runtime: Runtime) -> None:
    columns = {
        "m.s.orders": ["id", "cust", "amount"],
        "m.s.customers": ["cust", "name"],
        "m.s.report": ["name", "total"],
    }
    make_tables(runtime, columns)
    found = statement_lineage(
        "INSERT INTO report SELECT c.name, sum(o.amount) FROM orders o "
        "JOIN customers c ON c.cust = o.cust GROUP BY c.name",
        columns,
        catalog="m",
        schema="s",
    )
    with runtime.db.transaction() as session:
        recorded = record_edges(
            session, sql_edges(SqlNamespaceStore(session), found, "statement-1")
        )
    assert (recorded.edges, recorded.column_edges) == (2, 2)
    graph = LineageService(runtime.db, runtime.authorizer, runtime.stores).graph(
        admin(runtime), "m.s.report", Direction.UPSTREAM, 1, include_columns=True
    )
    by_id = {n.id: n.name for n in graph.nodes}
    assert {(by_id[e.source], by_id[e.target], e.kind) for e in graph.edges} == {
        ("m.s.orders", "m.s.report", "sql"),
        ("m.s.customers", "m.s.report", "sql"),
    }
    assert graph.column_edges is not None
    assert {(by_id[c.source], c.source_column, c.target_column) for c in graph.column_edges} == {
        ("m.s.customers", "name", "name"),
        ("m.s.orders", "amount", "total"),
    }
    with runtime.db.read() as session:
        assert set(session.scalars(select(t.LineageEdge.entity_id))) == {"statement-1"}
        assert set(session.scalars(select(t.LineageEdge.entity_type))) == {"SQL"}


def test_sql_edges_skip_names_that_are_not_catalog_tables(runtime: Runtime) -> None:
    make_tables(runtime, {"m.s.a": ["x"]})
    found = statement_lineage("INSERT INTO m.s.a SELECT x FROM m.s.nowhere", {})
    with runtime.db.read() as session:
        assert sql_edges(SqlNamespaceStore(session), found) == []
        into_missing = statement_lineage("CREATE TABLE m.s.new AS SELECT x FROM m.s.a", {})
        assert sql_edges(SqlNamespaceStore(session), into_missing) == []


def test_system_table_columns_are_stored(runtime: Runtime) -> None:
    """What ``system.access.table_lineage`` shows comes straight from the rows."""
    nodes = make_tables(runtime, {"m.s.a": ["x"], "m.s.b": ["x"]})
    with runtime.db.transaction() as session:
        record_edges(
            session,
            [
                Edge(nodes["m.s.a"], nodes["m.s.b"], EdgeKind.SQL),
                Edge(external_node("s3://bkt", "p/q"), nodes["m.s.a"], EdgeKind.OPENLINEAGE),
            ],
            principal="someone",
            request_id="req-1",
        )
    with runtime.db.read() as session:
        rows = {
            (r.node_type, r.full_name, r.catalog_name, r.schema_name, r.object_name, r.path)
            for r in session.scalars(select(t.LineageNode))
        }
        edges = list(session.scalars(select(t.LineageEdge)))
    assert rows == {
        ("TABLE", "m.s.a", "m", "s", "a", None),
        ("TABLE", "m.s.b", "m", "s", "b", None),
        ("EXTERNAL", None, None, None, None, "s3://bkt/p/q"),
    }
    assert {(e.entity_type, e.principal, e.request_id, e.count) for e in edges} == {
        ("SQL", "someone", "req-1", 1),
        ("OPENLINEAGE", "someone", "req-1", 1),
    }
    assert all(e.first_seen == e.last_seen for e in edges)
