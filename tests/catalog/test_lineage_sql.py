"""Table and column lineage of SQL write statements (catalog.lineage.sql_lineage), on a corpus.

Each case is a statement, the table and column edges it must yield, and nothing else:
the expected sets are compared whole, so an extra edge fails as surely as a missing one.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot

from catalog.lineage.sql_lineage import ColumnLineage, SqlLineageError, statement_lineage

COLUMNS: dict[str, Any] = {
    "main.sales.orders": ["order_id", "customer_id", "amount", "ts"],
    "main.sales.customers": {"customer_id": "BIGINT", "name": "STRING", "region": "STRING"},
    "main.sales.refunds": ["order_id", "amount"],
    "main.sales.summary": ["customer_id", "total", "label"],
    "main.sales.wide": ["a", "b", "c", "d"],
    "other.raw.events": ["id", "payload", "customer_id"],
}
S = "main.sales"


def edges(*triples: str) -> set[ColumnLineage]:
    """``"source_table.column>target_column"`` strings as column edges."""
    out = set()
    for triple in triples:
        source, target = triple.split(">")
        table, column = source.rsplit(".", 1)
        out.add(ColumnLineage(table if "." in table else f"{S}.{table}", column, target))
    return out


CORPUS: list[tuple[str, str, str, set[str], set[ColumnLineage]]] = [
    (
        "insert-select-positional",
        "INSERT INTO main.sales.summary SELECT customer_id, amount, ts FROM main.sales.orders",
        "main.sales.summary",
        {"main.sales.orders"},
        edges("orders.customer_id>customer_id", "orders.amount>total", "orders.ts>label"),
    ),
    (
        "insert-column-list",
        "INSERT INTO main.sales.summary (label, customer_id) SELECT name, customer_id "
        "FROM main.sales.customers",
        "main.sales.summary",
        {"main.sales.customers"},
        edges("customers.name>label", "customers.customer_id>customer_id"),
    ),
    (
        "join-with-aliases-and-expressions",
        "INSERT INTO main.sales.summary "
        "SELECT c.customer_id, o.amount - coalesce(r.amount, 0) AS net, upper(c.region) "
        "FROM main.sales.orders AS o JOIN main.sales.customers c ON o.customer_id = c.customer_id "
        "LEFT JOIN main.sales.refunds r ON r.order_id = o.order_id",
        "main.sales.summary",
        {"main.sales.orders", "main.sales.customers", "main.sales.refunds"},
        edges(
            "customers.customer_id>customer_id",
            "orders.amount>total",
            "refunds.amount>total",
            "customers.region>label",
        ),
    ),
    (
        "aggregate-group-by",
        "INSERT INTO main.sales.summary SELECT customer_id, sum(amount), count(*) "
        "FROM main.sales.orders GROUP BY customer_id",
        "main.sales.summary",
        {"main.sales.orders"},
        edges("orders.customer_id>customer_id", "orders.amount>total"),
    ),
    (
        "cte-chain",
        "INSERT INTO main.sales.summary "
        "WITH big AS (SELECT customer_id, amount FROM main.sales.orders WHERE amount > 100), "
        "per AS (SELECT customer_id, sum(amount) AS s FROM big GROUP BY customer_id) "
        "SELECT p.customer_id, p.s, c.name FROM per p JOIN main.sales.customers c "
        "ON c.customer_id = p.customer_id",
        "main.sales.summary",
        {"main.sales.orders", "main.sales.customers"},
        edges("orders.customer_id>customer_id", "orders.amount>total", "customers.name>label"),
    ),
    (
        "leading-with",
        "WITH c AS (SELECT * FROM main.sales.customers) "
        "INSERT INTO main.sales.summary SELECT customer_id, 0, name FROM c",
        "main.sales.summary",
        {"main.sales.customers"},
        edges("customers.customer_id>customer_id", "customers.name>label"),
    ),
    (
        "select-star",
        "INSERT INTO main.sales.wide SELECT * FROM main.sales.orders",
        "main.sales.wide",
        {"main.sales.orders"},
        edges("orders.order_id>a", "orders.customer_id>b", "orders.amount>c", "orders.ts>d"),
    ),
    (
        "qualified-star-in-join",
        "INSERT INTO main.sales.wide SELECT r.*, c.name, c.region FROM main.sales.refunds r "
        "JOIN main.sales.orders o USING (order_id) JOIN main.sales.customers c "
        "ON c.customer_id = o.customer_id",
        "main.sales.wide",
        {"main.sales.refunds", "main.sales.orders", "main.sales.customers"},
        edges("refunds.order_id>a", "refunds.amount>b", "customers.name>c", "customers.region>d"),
    ),
    (
        "union-all-branches",
        "INSERT INTO main.sales.summary "
        "SELECT customer_id, amount, 'order' FROM main.sales.orders "
        "UNION ALL SELECT o.customer_id, -r.amount, 'refund' FROM main.sales.refunds r "
        "JOIN main.sales.orders o ON o.order_id = r.order_id",
        "main.sales.summary",
        {"main.sales.orders", "main.sales.refunds"},
        edges("orders.customer_id>customer_id", "orders.amount>total", "refunds.amount>total"),
    ),
    (
        "subquery-in-from",
        "INSERT INTO main.sales.summary SELECT x.cid, x.t, x.cid FROM "
        "(SELECT customer_id AS cid, amount * 2 AS t FROM main.sales.orders) AS x",
        "main.sales.summary",
        {"main.sales.orders"},
        edges("orders.customer_id>customer_id", "orders.amount>total", "orders.customer_id>label"),
    ),
    (
        "duplicate-output-names-stay-apart",
        "INSERT INTO main.sales.summary SELECT o.customer_id, c.customer_id, c.name "
        "FROM main.sales.orders o JOIN main.sales.customers c USING (customer_id)",
        "main.sales.summary",
        {"main.sales.orders", "main.sales.customers"},
        edges(
            "orders.customer_id>customer_id",
            "customers.customer_id>total",
            "customers.name>label",
        ),
    ),
    (
        "filter-only-table-is-a-table-edge-not-a-column-edge",
        "INSERT INTO main.sales.summary SELECT customer_id, amount, 'x' FROM main.sales.orders "
        "WHERE customer_id IN (SELECT customer_id FROM main.sales.customers WHERE region = 'EU')",
        "main.sales.summary",
        {"main.sales.orders", "main.sales.customers"},
        edges("orders.customer_id>customer_id", "orders.amount>total"),
    ),
    (
        "window-function",
        "INSERT INTO main.sales.summary SELECT customer_id, "
        "sum(amount) OVER (PARTITION BY customer_id ORDER BY ts), 'w' FROM main.sales.orders",
        "main.sales.summary",
        {"main.sales.orders"},
        edges(
            "orders.customer_id>customer_id",
            "orders.amount>total",
            "orders.customer_id>total",
            "orders.ts>total",
        ),
    ),
    (
        "case-expression-and-literals",
        "INSERT INTO main.sales.summary SELECT 1, CASE WHEN amount > 0 THEN amount ELSE NULL END, "
        "CAST(ts AS STRING) FROM main.sales.orders",
        "main.sales.summary",
        {"main.sales.orders"},
        edges("orders.amount>total", "orders.ts>label"),
    ),
    (
        "insert-overwrite",
        "INSERT OVERWRITE TABLE main.sales.summary SELECT customer_id, 0, name "
        "FROM main.sales.customers",
        "main.sales.summary",
        {"main.sales.customers"},
        edges("customers.customer_id>customer_id", "customers.name>label"),
    ),
    (
        "insert-by-name",
        "INSERT INTO main.sales.summary BY NAME SELECT name AS label, customer_id "
        "FROM main.sales.customers",
        "main.sales.summary",
        {"main.sales.customers"},
        edges("customers.name>label", "customers.customer_id>customer_id"),
    ),
    (
        "ctas-names-from-the-query",
        "CREATE TABLE main.sales.new_t AS SELECT o.order_id, c.name AS customer, "
        "o.amount * 1.2 AS gross FROM main.sales.orders o "
        "JOIN main.sales.customers c ON c.customer_id = o.customer_id",
        "main.sales.new_t",
        {"main.sales.orders", "main.sales.customers"},
        edges("orders.order_id>order_id", "customers.name>customer", "orders.amount>gross"),
    ),
    (
        "create-or-replace-with-star",
        "CREATE OR REPLACE TABLE main.sales.copy AS SELECT * FROM main.sales.refunds",
        "main.sales.copy",
        {"main.sales.refunds"},
        edges("refunds.order_id>order_id", "refunds.amount>amount"),
    ),
    (
        "create-view",
        "CREATE VIEW main.sales.v AS SELECT region FROM main.sales.customers",
        "main.sales.v",
        {"main.sales.customers"},
        edges("customers.region>region"),
    ),
    (
        "across-catalogs",
        "INSERT INTO main.sales.summary SELECT customer_id, 0, payload FROM other.raw.events",
        "main.sales.summary",
        {"other.raw.events"},
        edges("other.raw.events.customer_id>customer_id", "other.raw.events.payload>label"),
    ),
    (
        "case-insensitive-and-quoted-names",
        "INSERT INTO MAIN.Sales.SUMMARY SELECT `Customer_ID`, Amount, TS FROM Main.SALES.`Orders`",
        "main.sales.summary",
        {"main.sales.orders"},
        edges("orders.customer_id>customer_id", "orders.amount>total", "orders.ts>label"),
    ),
    (
        "merge-using-subquery",
        "MERGE INTO main.sales.summary AS t USING "
        "(SELECT customer_id, sum(amount) AS s FROM main.sales.orders GROUP BY customer_id) AS src "
        "ON t.customer_id = src.customer_id "
        "WHEN MATCHED AND src.s = 0 THEN DELETE "
        "WHEN MATCHED THEN UPDATE SET total = t.total + src.s, label = t.label "
        "WHEN NOT MATCHED THEN INSERT (customer_id, total, label) "
        "VALUES (src.customer_id, src.s, 'new')",
        "main.sales.summary",
        {"main.sales.orders"},
        edges("orders.customer_id>customer_id", "orders.amount>total"),
    ),
    (
        "merge-using-table-star",
        "MERGE INTO main.sales.refunds USING main.sales.orders o ON refunds.order_id = o.order_id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
        "main.sales.refunds",
        {"main.sales.orders"},
        edges("orders.order_id>order_id", "orders.amount>amount"),
    ),
    (
        "merge-using-join",
        "MERGE INTO main.sales.summary t USING (SELECT c.customer_id, c.name, o.amount "
        "FROM main.sales.customers c JOIN main.sales.orders o USING (customer_id)) s "
        "ON t.customer_id = s.customer_id WHEN NOT MATCHED THEN INSERT (customer_id, total, label) "
        "VALUES (s.customer_id, s.amount, concat(s.name, '!'))",
        "main.sales.summary",
        {"main.sales.orders", "main.sales.customers"},
        edges(
            "customers.customer_id>customer_id",
            "orders.amount>total",
            "customers.name>label",
        ),
    ),
    (
        "self-reads-are-not-upstream",
        "INSERT INTO main.sales.orders SELECT order_id + 1000, customer_id, amount, ts "
        "FROM main.sales.orders UNION ALL SELECT order_id, 0, amount, NULL FROM main.sales.refunds",
        "main.sales.orders",
        {"main.sales.refunds"},
        edges("refunds.order_id>order_id", "refunds.amount>amount"),
    ),
    (
        "values-read-nothing",
        "INSERT INTO main.sales.refunds VALUES (1, 2.0), (2, 3.0)",
        "main.sales.refunds",
        set(),
        set(),
    ),
    (
        "unknown-table-keeps-its-table-edge",
        "INSERT INTO main.sales.summary SELECT * FROM main.sales.mystery",
        "main.sales.summary",
        {"main.sales.mystery"},
        set(),
    ),
    (
        "unresolvable-names-fall-back-to-table-edges",
        "INSERT INTO main.sales.summary SELECT customer_id, amount, 'x' FROM main.sales.orders "
        "WHERE order_id IN (SELECT order_id FROM main.sales.mystery)",
        "main.sales.summary",
        {"main.sales.orders", "main.sales.mystery"},
        set(),
    ),
    (
        "unknown-table-keeps-table-edges-and-what-resolves",
        "INSERT INTO main.sales.summary SELECT id, amount, name FROM main.sales.orders "
        "JOIN main.sales.mystery m USING (order_id)",
        "main.sales.summary",
        {"main.sales.orders", "main.sales.mystery"},
        edges("orders.amount>total"),
    ),
]


@pytest.mark.parametrize(
    ("sql", "target", "sources", "columns"),
    [pytest.param(*case[1:], id=case[0]) for case in CORPUS],
)
def test_corpus(sql: str, target: str, sources: set[str], columns: set[ColumnLineage]) -> None:
    found = statement_lineage(sql, COLUMNS)
    assert found.target == target
    assert set(found.sources) == sources
    assert set(found.columns) == columns
    assert list(found.columns) == sorted(found.columns) and len(found.columns) == len(columns)


def test_partial_names_use_the_defaults() -> None:
    found = statement_lineage(
        "INSERT INTO summary SELECT o.customer_id, amount, 'x' FROM orders o",
        COLUMNS,
        catalog="main",
        schema="sales",
    )
    assert found.target == "main.sales.summary"
    assert found.sources == ("main.sales.orders",)
    assert set(found.columns) == edges("orders.customer_id>customer_id", "orders.amount>total")
    other = statement_lineage(
        "INSERT INTO main.sales.summary SELECT customer_id, 0, payload FROM raw.events",
        COLUMNS,
        catalog="other",
    )
    assert other.sources == ("other.raw.events",)


def test_accepts_a_parsed_tree_and_leaves_it_alone() -> None:
    tree = sqlglot.parse_one(
        "INSERT INTO main.sales.wide SELECT * FROM main.sales.orders", read="databricks"
    )
    before = tree.sql()
    found = statement_lineage(tree, COLUMNS)
    assert found.sources == ("main.sales.orders",) and len(found.columns) == 4
    assert tree.sql() == before


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM main.sales.orders",
        "DELETE FROM main.sales.orders WHERE amount < 0",
        "CREATE TABLE main.sales.t (id BIGINT)",
        "UPDATE main.sales.orders SET amount = 0",
    ],
)
def test_statements_that_do_not_write_from_reads_are_refused(sql: str) -> None:
    with pytest.raises(SqlLineageError):
        statement_lineage(sql, COLUMNS)


def test_bad_column_map_is_refused() -> None:
    with pytest.raises(SqlLineageError, match=r"catalog\.schema\.table"):
        statement_lineage("INSERT INTO a.b.c SELECT 1", {"two.parts": ["x"]})


def test_a_wide_statement_traces_every_column_through_cte_and_union() -> None:
    """All outputs are traced in one shared walk (one walk per output was quadratic: a
    256-column INSERT … SELECT took seconds); each column still gets exactly its sources,
    through a CTE and both branches of a UNION, and an untraceable output stays apart."""
    width = 256
    names = [f"c{i}" for i in range(width)]
    columns = {"w.s.t": names, "w.s.a": names, "w.s.b": names}
    items = ", ".join(f"a.c{i} + b.c{(i + 1) % width} AS c{i}" for i in range(width))
    branch = ", ".join(f"c{i}" for i in range(width))
    sql = (
        f"INSERT INTO w.s.t WITH j AS (SELECT {items} FROM w.s.a a JOIN w.s.b b ON a.c0 = b.c0) "
        f"SELECT {branch} FROM j UNION ALL SELECT {branch} FROM w.s.a"
    )
    found = statement_lineage(sql, columns)
    expected = set()
    for i in range(width):
        expected |= {
            ColumnLineage("w.s.a", f"c{i}", f"c{i}"),
            ColumnLineage("w.s.b", f"c{(i + 1) % width}", f"c{i}"),
        }
    assert set(found.columns) == expected
    assert found.sources == ("w.s.a", "w.s.b")


def test_one_untraceable_output_leaves_the_others_traced() -> None:
    found = statement_lineage(
        "INSERT INTO main.sales.summary SELECT o.customer_id, u.x, o.amount "
        "FROM main.sales.orders o JOIN other.unknown.t u ON u.id = o.order_id",
        COLUMNS,
    )
    assert {c.target_column for c in found.columns} >= {"customer_id", "label"}
    assert ColumnLineage("main.sales.orders", "customer_id", "customer_id") in found.columns
