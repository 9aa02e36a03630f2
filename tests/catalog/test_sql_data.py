"""SQL over the rows of managed tables (docs/sql.md, §6, §7, §8), over HTTP on both backends.

``SELECT`` (joins, grouping, ordering, stars over odd column names, every column type),
``INSERT … VALUES``, ``INSERT … SELECT`` and ``MERGE`` with their Databricks semantics and
result shapes; the privileges each needs (nothing changes on a denial); bad values, duplicate
keys and syntax errors located; physical names and injection attempts refused; the lineage
a write records (REST graph and the system tables) and one audit event per statement.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import ServerHandle, unique

SQL = "/api/2.0/sql/statements"
AUDIT = "/api/2.1/steward/audit"
GRAPH = "/api/2.1/steward/lineage"
ROWS = "/api/2.1/steward/tables/{}/rows"


def run(client: httpx.Client, statement: str, **extra: Any) -> dict[str, Any]:
    response = client.post(SQL, json={"statement": statement, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def ok(client: httpx.Client, statement: str, **extra: Any) -> list[list[Any]]:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    assert body["result"]["row_count"] == len(body["result"]["data_array"])
    return body["result"]["data_array"]


def columns(client: httpx.Client, statement: str, **extra: Any) -> list[tuple[str, str]]:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    return [(c["name"], c["type_text"]) for c in body["manifest"]["schema"]["columns"]]


def records(client: httpx.Client, statement: str, **extra: Any) -> list[dict[str, Any]]:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    names = [c["name"] for c in body["manifest"]["schema"]["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["result"]["data_array"]]


def failed(client: httpx.Client, statement: str, code: str, *words: str, **extra: Any) -> str:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "FAILED", (statement, body)
    assert body["status"]["error"]["error_code"] == code, (statement, body)
    assert "result" not in body
    message = body["status"]["error"]["message"]
    for word in words:
        assert word.lower() in message.lower(), (statement, word, message)
    return message


@dataclass
class Tree:
    catalog: str
    schema: str

    def t(self, name: str) -> str:
        return f"{self.schema}.{name}"


@pytest.fixture
def tree(server: ServerHandle) -> Tree:
    """A catalog and schema owned by the admin: an owner holds every privilege on what it
    owns, SELECT and MODIFY included (a metastore admin who does not own it would not)."""
    catalog = unique("data")
    ok(server.admin, f"CREATE CATALOG {catalog}")
    ok(server.admin, f"CREATE SCHEMA {catalog}.s")
    return Tree(catalog, f"{catalog}.s")


def keyed(admin: httpx.Client, name: str, *extra: str) -> str:
    """``name (id BIGINT NOT NULL, v STRING, n INT, …, PRIMARY KEY (id))``."""
    more = "".join(f", {column}" for column in extra)
    ok(
        admin,
        f"CREATE TABLE {name} (id BIGINT NOT NULL, v STRING, n INT{more}, "
        "CONSTRAINT pk PRIMARY KEY (id))",
    )
    return name


def person(server: ServerHandle) -> tuple[str, httpx.Client]:
    name, token = server.create_user()
    return name, server.client(token)


def count(admin: httpx.Client, table: str) -> int:
    return int(ok(admin, f"SELECT count(*) FROM {table}")[0][0])


def events_of(admin: httpx.Client, statement_id: str) -> list[dict[str, Any]]:
    events = admin.get(AUDIT, params={"since": "1h", "max_results": 1000}).json()["events"]
    return [e for e in events if e["request_params"].get("statement_id") == statement_id]


# -- SELECT ----------------------------------------------------------------------------------


def test_insert_values_then_select(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    orders = keyed(admin, tree.t("orders"), "amount DOUBLE")
    body = run(
        admin,
        f"INSERT INTO {orders} (id, v, amount) VALUES (1, 'ann', 10.5), (2, 'bob', 3), "
        "(3, 'ann', 1)",
    )
    assert body["status"]["state"] == "SUCCEEDED", body
    assert [(c["name"], c["type_text"]) for c in body["manifest"]["schema"]["columns"]] == [
        ("num_affected_rows", "bigint"),
        ("num_inserted_rows", "bigint"),
    ]
    assert body["result"]["data_array"] == [[3, 3]]
    assert ok(admin, f"SELECT * FROM {orders} ORDER BY id") == [
        [1, "ann", None, 10.5],
        [2, "bob", None, 3.0],
        [3, "ann", None, 1.0],
    ]
    assert columns(admin, f"SELECT * FROM {orders}") == [
        ("id", "bigint"),
        ("v", "string"),
        ("n", "int"),
        ("amount", "double"),
    ]


def test_where_join_group_order_limit(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    orders = keyed(admin, tree.t("orders"), "amount DECIMAL(10,2)")
    people = keyed(admin, tree.t("people"))
    ok(admin, f"INSERT INTO {people} (id, v) VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')")
    ok(
        admin,
        f"INSERT INTO {orders} (id, n, amount) VALUES (10, 1, 5.25), (11, 1, 4.75), "
        "(12, 2, 1), (13, 2, 2), (14, 2, 3), (15, NULL, 100)",
    )
    assert ok(
        admin,
        f"SELECT p.v, count(*) AS orders, sum(o.amount) AS total FROM {orders} o "
        f"JOIN {people} AS p ON p.id = o.n WHERE o.amount >= 1 GROUP BY p.v "
        "HAVING count(*) > 1 ORDER BY total DESC, p.v LIMIT 5",
    ) == [["ann", 2, 10.0], ["bob", 3, 6.0]]
    # LEFT JOIN keeps orders without a person; CTEs, subqueries and set operations work.
    assert ok(
        admin,
        f"WITH big AS (SELECT id, n FROM {orders} WHERE amount > 4) "
        f"SELECT b.id, p.v FROM big b LEFT JOIN {people} p ON p.id = b.n ORDER BY b.id",
    ) == [[10, "ann"], [11, "ann"], [15, None]]
    assert ok(
        admin,
        f"SELECT v FROM {people} WHERE id IN (SELECT n FROM {orders}) "
        f"UNION ALL SELECT 'x' ORDER BY v",
    ) == [["ann"], ["bob"], ["x"]]
    # Partial names take the request's default catalog and schema.
    assert ok(admin, "SELECT count(*) FROM orders", catalog=tree.catalog, schema="s") == [[6]]
    assert ok(admin, "SELECT max(id) FROM s.people", catalog=tree.catalog) == [[3]]


def test_join_with_a_system_table(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    watched = keyed(admin, tree.t("watched"))
    ok(admin, f"INSERT INTO {watched} (id, v) VALUES (1, '{watched}'), (2, 'nothing.at.all')")
    rows = ok(
        admin,
        f"SELECT w.v, count(a.event_id) FROM {watched} w LEFT JOIN system.access.audit a "
        "ON a.object_name = w.v GROUP BY w.v ORDER BY w.v",
    )
    counts = dict(map(tuple, rows))
    assert counts["nothing.at.all"] == 0
    assert counts[watched] >= 2  # createTable and the INSERT


def test_star_over_odd_column_names(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    odd = tree.t("odd_names")
    ok(
        admin,
        f"CREATE TABLE {odd} (`Customer Id` BIGINT NOT NULL, `select` STRING, "
        "MixedCase INT, `from` BOOLEAN, `a.b` STRING, CONSTRAINT pk PRIMARY KEY (`Customer Id`))",
    )
    ok(
        admin,
        f"INSERT INTO {odd} (`customer id`, `SELECT`, mixedcase, `from`, `a.b`) "
        "VALUES (7, 'x', 3, true, 'dot')",
    )
    assert columns(admin, f"SELECT * FROM {odd}") == [
        ("Customer Id", "bigint"),
        ("select", "string"),
        ("MixedCase", "int"),
        ("from", "boolean"),
        ("a.b", "string"),
    ]
    assert ok(admin, f"SELECT * FROM {odd}") == [[7, "x", 3, True, "dot"]]
    # Names written in the query keep their spelling; case does not matter for resolution.
    assert records(
        admin, f"SELECT `CUSTOMER ID`, mixedCASE + 1 AS next, `a.b` FROM {odd} WHERE `from`"
    ) == [{"CUSTOMER ID": 7, "next": 4, "a.b": "dot"}]
    failed(admin, f"SELECT nope FROM {odd}", "INVALID_PARAMETER_VALUE", "nope")


def test_types_round_trip(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    typed = tree.t("typed")
    ok(
        admin,
        f"CREATE TABLE {typed} (id INT NOT NULL, ts TIMESTAMP, d DATE, amount DECIMAL(10,2), "
        "flag BOOLEAN, raw BINARY, tags ARRAY<INT>, ratio DOUBLE, big BIGINT, "
        "ntz TIMESTAMP_NTZ, CONSTRAINT pk PRIMARY KEY (id))",
    )
    ok(
        admin,
        f"INSERT INTO {typed} VALUES "
        "(1, TIMESTAMP '2026-01-02T03:04:05.123456Z', DATE '2026-01-02', 12.34, true, "
        "X'00FF10', array(1, 2, 3), 0.5, 9007199254740993, '2026-05-06 07:08:09'), "
        "(2, '2026-01-02T05:04:05+02:00', '2025-12-31', -0.01, false, NULL, array(), 1, -1, "
        "NULL), "
        "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    expected = [
        [
            1,
            "2026-01-02T03:04:05.123456Z",
            "2026-01-02",
            12.34,
            True,
            base64.b64encode(bytes([0, 255, 16])).decode(),
            "[1,2,3]",
            0.5,
            9007199254740993,
            "2026-05-06T07:08:09.000000",
        ],
        [2, "2026-01-02T03:04:05.000000Z", "2025-12-31", -0.01, False, None, "[]", 1.0, -1, None],
        [3, None, None, None, None, None, None, None, None, None],
    ]
    assert ok(admin, f"SELECT * FROM {typed} ORDER BY id") == expected
    assert [t for _, t in columns(admin, f"SELECT * FROM {typed}")] == [
        "int",
        "timestamp",
        "date",
        "decimal(10,2)",
        "boolean",
        "binary",
        "array<int>",
        "double",
        "bigint",
        "timestamp_ntz",
    ]
    # Filters on each type agree across backends.
    assert ok(admin, f"SELECT id FROM {typed} WHERE ts >= '2026-01-02T03:04:05Z' ORDER BY id") == [
        [1],
        [2],
    ]
    assert ok(admin, f"SELECT id FROM {typed} WHERE ts > '2026-01-02T03:04:05.2Z'") == []
    assert ok(admin, f"SELECT id FROM {typed} WHERE d = DATE '2026-01-02'") == [[1]]
    assert ok(admin, f"SELECT id FROM {typed} WHERE d < '2026-01-01'") == [[2]]
    assert ok(admin, f"SELECT id FROM {typed} WHERE flag") == [[1]]
    assert ok(admin, f"SELECT id FROM {typed} WHERE NOT flag") == [[2]]
    assert ok(admin, f"SELECT id FROM {typed} WHERE amount > 0") == [[1]]
    assert ok(admin, f"SELECT sum(amount) FROM {typed}") == [[12.33]]
    assert ok(admin, f"SELECT CAST(ts AS DATE) FROM {typed} WHERE id = 1") == [["2026-01-02"]]
    # The rows API reads the same values SQL wrote.
    found = admin.post(
        f"/api/2.1/steward/tables/{typed}/lookup", json={"keys": [{"id": 1}]}
    ).json()["rows"][0]
    assert found["ts"] == "2026-01-02T03:04:05.123456Z"
    assert found["amount"] == 12.34 and found["tags"] == [1, 2, 3]
    # …and SQL reads what the rows API wrote.
    written = admin.post(
        ROWS.format(typed),
        json={"rows": [{"id": 4, "ts": "2030-01-01T00:00:00Z", "raw": "AAE=", "tags": [4]}]},
    )
    assert written.status_code == 200, written.text
    assert ok(admin, f"SELECT ts, raw, tags FROM {typed} WHERE id = 4") == [
        ["2030-01-01T00:00:00.000000Z", "AAE=", "[4]"]
    ]


# -- privileges ------------------------------------------------------------------------------


def test_select_needs_use_catalog_use_schema_and_select(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    table = keyed(admin, tree.t("guarded"))
    ok(admin, f"INSERT INTO {table} (id, v) VALUES (1, 'secret')")
    name, user = person(server)
    # Nothing granted: the table is not even visible, so it answers as a missing one does.
    hidden = failed(user, f"SELECT * FROM {table}", "RESOURCE_DOES_NOT_EXIST", "is not a table")
    missing = failed(user, f"SELECT * FROM {tree.t('nope')}", "RESOURCE_DOES_NOT_EXIST")
    assert hidden.replace("guarded", "nope") == missing
    # Usage privileges show the catalog and schema, not the table: still missing to her.
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{name}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{name}`")
    assert failed(user, f"SELECT * FROM {table}", "RESOURCE_DOES_NOT_EXIST") == hidden
    # BROWSE makes it visible; SELECT is still missing.
    ok(admin, f"GRANT BROWSE ON TABLE {table} TO `{name}`")
    failed(user, f"SELECT * FROM {table}", "PERMISSION_DENIED", f"SELECT on TABLE '{table}'")
    ok(admin, f"GRANT SELECT ON TABLE {table} TO `{name}`")
    assert ok(user, f"SELECT v FROM {table}") == [["secret"]]
    # Without USE SCHEMA the SELECT grant alone does not open it (the gate is named).
    ok(admin, f"REVOKE USE SCHEMA ON SCHEMA {tree.schema} FROM `{name}`")
    failed(user, f"SELECT * FROM {table}", "PERMISSION_DENIED", "USE SCHEMA", tree.schema)
    # Every table read needs its own SELECT, in joins and subqueries too.
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{name}`")
    other = keyed(admin, tree.t("other"))
    ok(admin, f"GRANT BROWSE ON TABLE {other} TO `{name}`")
    failed(
        user,
        f"SELECT * FROM {table} WHERE id IN (SELECT id FROM {other})",
        "PERMISSION_DENIED",
        f"SELECT on TABLE '{other}'",
    )


def test_writes_need_modify_and_select_on_what_they_read(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    target = keyed(admin, tree.t("target"))
    source = keyed(admin, tree.t("source"))
    ok(admin, f"INSERT INTO {source} (id, v) VALUES (1, 'a'), (2, 'b')")
    name, user = person(server)
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{name}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{name}`")
    ok(admin, f"GRANT SELECT ON TABLE {target} TO `{name}`")
    statements = [
        f"INSERT INTO {target} VALUES (9, 'x', 1)",
        f"INSERT INTO {target} SELECT * FROM {source}",
        f"MERGE INTO {target} t USING {source} s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *",
    ]
    for statement in statements:
        failed(user, statement, "PERMISSION_DENIED", f"MODIFY on TABLE '{target}'")
    ok(admin, f"GRANT MODIFY ON TABLE {target} TO `{name}`")
    ok(admin, f"REVOKE SELECT ON TABLE {target} FROM `{name}`")
    # A source she may not see is no table to her; one she sees needs SELECT.
    for statement in statements[1:]:
        failed(user, statement, "RESOURCE_DOES_NOT_EXIST", "is not a table")
    ok(admin, f"GRANT BROWSE ON TABLE {source} TO `{name}`")
    for statement in statements[1:]:
        failed(user, statement, "PERMISSION_DENIED", f"SELECT on TABLE '{source}'")
    assert count(admin, target) == 0
    ok(admin, f"GRANT SELECT ON TABLE {source} TO `{name}`")
    assert ok(user, statements[0]) == [[1, 1]]
    assert ok(user, statements[2]) == [[2, 0, 0, 2]]  # MODIFY alone suffices on the target
    assert count(admin, target) == 3
    # Writing without USE SCHEMA names the gate.
    ok(admin, f"REVOKE USE SCHEMA ON SCHEMA {tree.schema} FROM `{name}`")
    failed(user, f"INSERT INTO {target} VALUES (5, 'y', 1)", "PERMISSION_DENIED", "USE SCHEMA")
    assert count(admin, target) == 3


def test_system_and_external_tables_cannot_be_written(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    failed(
        admin,
        "INSERT INTO system.access.audit (event_id) VALUES ('x')",
        "INVALID_PARAMETER_VALUE",
        "system table",
        "read-only",
    )
    created = admin.post(
        "/api/2.1/unity-catalog/tables",
        json={
            "name": "ext",
            "catalog_name": tree.catalog,
            "schema_name": "s",
            "table_type": "EXTERNAL",
            "data_source_format": "DELTA",
            "storage_location": "s3://bucket/ext",
            "columns": [{"name": "id", "type_name": "LONG", "type_text": "bigint", "position": 0}],
        },
    )
    assert created.status_code == 200, created.text
    for statement in (f"SELECT * FROM {tree.t('ext')}", f"INSERT INTO {tree.t('ext')} VALUES (1)"):
        failed(admin, statement, "INVALID_PARAMETER_VALUE", "EXTERNAL", "s3://bucket/ext")


# -- INSERT ----------------------------------------------------------------------------------


def test_insert_select_and_existing_keys(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    src = keyed(admin, tree.t("src"))
    dst = keyed(admin, tree.t("dst"))
    ok(admin, f"INSERT INTO {src} (id, v, n) VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)")
    assert ok(admin, f"INSERT INTO {dst} (id, v) SELECT id, upper(v) FROM {src} WHERE n > 10") == [
        [2, 2]
    ]
    assert ok(admin, f"SELECT * FROM {dst} ORDER BY id") == [[2, "B", None], [3, "C", None]]
    # A key that exists fails the whole statement, pointing at MERGE; nothing is written.
    failed(
        admin,
        f"INSERT INTO {dst} SELECT * FROM {src}",
        "INVALID_PARAMETER_VALUE",
        "already exists",
        "MERGE",
    )
    assert count(admin, dst) == 2
    # Two rows with one key in a batch, and the wrong number of columns, fail too.
    failed(
        admin,
        f"INSERT INTO {dst} VALUES (7, 'x', 1), (7, 'y', 2)",
        "INVALID_PARAMETER_VALUE",
        "rows 1 and 2",
        "same primary key",
    )
    failed(
        admin,
        f"INSERT INTO {dst} (id, v) SELECT id FROM {src}",
        "INVALID_PARAMETER_VALUE",
        "INSERT_COLUMN_ARITY_MISMATCH",
    )
    failed(
        admin,
        f"INSERT INTO {dst} VALUES (8, 'x')",
        "INVALID_PARAMETER_VALUE",
        "row 1 has 2 value(s)",
    )
    failed(
        admin,
        f"INSERT INTO {dst} (id, nope) VALUES (8, 1)",
        "INVALID_PARAMETER_VALUE",
        "'nope' is not a column",
    )
    assert count(admin, dst) == 2
    # Expressions in VALUES are computed by the database, through the same compiler.
    assert ok(admin, f"INSERT INTO {dst} VALUES (4 + 1, lower('ABC'), length('four'))") == [[1, 1]]
    assert ok(admin, f"SELECT * FROM {dst} WHERE id = 5") == [[5, "abc", 4]]
    # A table without a primary key takes every row.
    plain = tree.t("plain")
    ok(admin, f"CREATE TABLE {plain} (a INT, b STRING)")
    assert ok(admin, f"INSERT INTO {plain} VALUES (1, 'x'), (1, 'x')") == [[2, 2]]
    assert ok(admin, f"INSERT INTO {plain} (b) SELECT v FROM {src}") == [[3, 3]]
    assert count(admin, plain) == 5


def test_bad_values_name_row_and_column(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    table = keyed(admin, tree.t("strict"), "amount DECIMAL(5,2)", "ts TIMESTAMP")
    cases = [
        (f"INSERT INTO {table} (id, n) VALUES (1, 2), (2, 'three')", ("row 2", "'n'", "whole")),
        (f"INSERT INTO {table} (id, n) VALUES (1, 3000000000)", ("row 1", "'n'", "out of range")),
        (f"INSERT INTO {table} (id, amount) VALUES (1, 1.234)", ("row 1", "'amount'", "digits")),
        (f"INSERT INTO {table} (id, amount) VALUES (1, 12345)", ("'amount'", "DECIMAL(5,2)")),
        (f"INSERT INTO {table} (id, ts) VALUES (1, 'soon')", ("row 1", "'ts'", "timestamp")),
        (f"INSERT INTO {table} (v) VALUES ('no key')", ("row 1", "'id'", "NOT NULL")),
        (f"INSERT INTO {table} (id, v) VALUES (1, 2)", ("row 1", "'v'", "not a string")),
    ]
    for statement, words in cases:
        failed(admin, statement, "INVALID_PARAMETER_VALUE", *words)
    assert count(admin, table) == 0


def test_syntax_errors_name_line_and_column(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    table = keyed(admin, tree.t("syn"))
    failed(admin, f"INSERT INTO {table}\nVALUES (1, 'a'", "PARSE_SYNTAX_ERROR", "line 2")
    failed(admin, f"INSERT OVERWRITE {table} VALUES (1)", "PARSE_SYNTAX_ERROR", "line 1, column 8")
    failed(
        admin,
        f"MERGE INTO {table} t USING {table} s\nWHEN MATCHED THEN DELETE",
        "PARSE_SYNTAX_ERROR",
        "line 1, column 1",
        "ON",
    )
    failed(
        admin,
        f"MERGE INTO {table} t USING {table} s ON t.id = s.id\n"
        "WHEN NOT MATCHED BY SOURCE THEN DELETE",
        "PARSE_SYNTAX_ERROR",
        "NOT MATCHED BY SOURCE",
    )
    failed(
        admin,
        f"INSERT INTO {table} VALUES (1, 'a', 1); DROP TABLE {table}",
        "PARSE_SYNTAX_ERROR",
        "one statement",
    )
    assert count(admin, table) == 0


# -- MERGE -----------------------------------------------------------------------------------


def test_merge_upsert_conditions_and_delete(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    target = keyed(admin, tree.t("target"))
    changes = keyed(admin, tree.t("changes"), "op STRING")
    ok(
        admin,
        f"INSERT INTO {target} VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3), "
        "(4, 'four', 4)",
    )
    ok(
        admin,
        f"INSERT INTO {changes} VALUES (1, 'ONE', 10, 'upsert'), (2, NULL, 20, 'delete'), "
        "(3, 'THREE', 30, 'skip'), (5, 'FIVE', 50, 'upsert'), (6, 'SIX', 60, 'skip')",
    )
    body = run(
        admin,
        f"MERGE INTO {target} AS t USING {changes} AS c ON t.id = c.id "
        "WHEN MATCHED AND c.op = 'delete' THEN DELETE "
        "WHEN MATCHED AND c.op = 'upsert' THEN UPDATE SET v = c.v, n = t.n + c.n "
        "WHEN NOT MATCHED AND c.op <> 'skip' THEN INSERT (id, v) VALUES (c.id, lower(c.v))",
    )
    assert body["status"]["state"] == "SUCCEEDED", body
    assert [c["name"] for c in body["manifest"]["schema"]["columns"]] == [
        "num_affected_rows",
        "num_updated_rows",
        "num_deleted_rows",
        "num_inserted_rows",
    ]
    assert body["result"]["data_array"] == [[3, 1, 1, 1]]
    assert ok(admin, f"SELECT * FROM {target} ORDER BY id") == [
        [1, "ONE", 11],
        [3, "three", 3],
        [4, "four", 4],
        [5, "five", None],
    ]
    # UPDATE SET * / INSERT * from a subquery source; partial names from the defaults.
    assert ok(
        admin,
        "MERGE INTO target USING (SELECT id, v, n * 2 AS n FROM changes WHERE id IN (3, 6)) "
        "AS s ON target.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
        catalog=tree.catalog,
        schema="s",
    ) == [[2, 1, 0, 1]]
    assert ok(admin, f"SELECT * FROM {target} WHERE id IN (3, 6) ORDER BY id") == [
        [3, "THREE", 60],
        [6, "SIX", 120],
    ]
    # Nothing to do is fine.
    assert ok(
        admin,
        f"MERGE INTO {target} t USING {changes} c ON t.id = c.id AND c.id > 100 "
        "WHEN MATCHED THEN DELETE",
    ) == [[0, 0, 0, 0]]


def test_merge_refusals_change_nothing(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    target = keyed(admin, tree.t("target"))
    source = tree.t("dupes")
    ok(admin, f"CREATE TABLE {source} (id BIGINT, v STRING)")
    ok(admin, f"INSERT INTO {target} VALUES (1, 'one', 1), (2, 'two', 2)")
    ok(admin, f"INSERT INTO {source} VALUES (1, 'a'), (1, 'b'), (3, 'c'), (4, 'not-a-number')")
    before = ok(admin, f"SELECT * FROM {target} ORDER BY id")
    failed(
        admin,
        f"MERGE INTO {target} t USING {source} s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET v = s.v "
        "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v)",
        "INVALID_PARAMETER_VALUE",
        "DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE",
        "id=1",
    )
    failed(
        admin,
        f"MERGE INTO {target} t USING {source} s ON t.id = s.id "
        "WHEN NOT MATCHED THEN INSERT (id, n) VALUES (s.id, s.v)",
        "INVALID_PARAMETER_VALUE",
        "column 'n'",
        "whole number",
    )
    failed(
        admin,
        f"MERGE INTO {target} t USING (SELECT 2 AS id) s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET id = 99",
        "INVALID_PARAMETER_VALUE",
        "primary key",
    )
    failed(
        admin,
        f"MERGE INTO {target} t USING (SELECT 9 AS id) s ON t.id = s.id "
        "WHEN NOT MATCHED THEN INSERT *",
        "INVALID_PARAMETER_VALUE",
        "unknown column",
    )
    assert ok(admin, f"SELECT * FROM {target} ORDER BY id") == before


# -- attacks ---------------------------------------------------------------------------------


def test_physical_names_and_injection_are_refused(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    table = keyed(admin, tree.t("victim"))
    ok(admin, f"INSERT INTO {table} VALUES (1, 'x', 1)")
    table_id = admin.get(f"/api/2.1/unity-catalog/tables/{table}").json()["table_id"]
    physical = "data_" + table_id.replace("-", "")
    for name in (
        physical,
        f"main.{physical}",
        f"{tree.schema}.{physical}",
        "securables",
        "audit_events",
        "sqlite_master",
        "pg_catalog.pg_tables",
    ):
        failed(admin, f"SELECT * FROM {name}", "RESOURCE_DOES_NOT_EXIST", "is not a table")
        failed(admin, f"INSERT INTO {name} VALUES (1)", "RESOURCE_DOES_NOT_EXIST", "is not a table")
    failed(admin, f"INSERT INTO {table} SELECT * FROM {physical}", "RESOURCE_DOES_NOT_EXIST")
    # Text that looks like SQL is a value, stored and read back verbatim (Databricks
    # escapes a quote with a backslash; 'a''b' is two literals, concatenated).
    nasty = "x'); DROP TABLE securables; --"
    escaped = nasty.replace("'", "\\'")
    ok(admin, f"INSERT INTO {table} (id, v) VALUES (2, '{escaped}')")
    assert ok(admin, f"SELECT v FROM {table} WHERE id = 2") == [[nasty]]
    # Functions with effects, hidden writes and table functions stay refused in writes.
    for statement in (
        f"INSERT INTO {table} (id) SELECT pg_sleep(1)",
        f"INSERT INTO {table} (id, v) VALUES (3, load_extension('x'))",
        f"INSERT INTO {table} SELECT * FROM range(10)",
        f"MERGE INTO {table} t USING (SELECT nextval('s') AS id) s ON t.id = s.id "
        "WHEN MATCHED THEN DELETE",
    ):
        failed(admin, statement, "INVALID_PARAMETER_VALUE")
    assert count(admin, table) == 2
    assert count(admin, "system.access.audit") > 0  # the service tables are intact


# -- lineage and audit ---------------------------------------------------------------------


def test_writes_record_lineage(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    a = keyed(admin, tree.t("a"))
    b = keyed(admin, tree.t("b"))
    report = keyed(admin, tree.t("report"))
    ok(admin, f"INSERT INTO {a} VALUES (1, 'x', 1)")
    ok(admin, f"INSERT INTO {b} VALUES (1, 'y', 2)")
    insert = run(
        admin,
        f"INSERT INTO {report} (id, v, n) SELECT a.id, b.v, a.n + b.n FROM {a} a "
        f"JOIN {b} b ON a.id = b.id",
    )
    assert insert["status"]["state"] == "SUCCEEDED", insert
    merge = run(
        admin,
        f"MERGE INTO {report} r USING {b} s ON r.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v",
    )
    assert merge["status"]["state"] == "SUCCEEDED", merge
    graph = admin.get(
        GRAPH,
        params={
            "full_name": report,
            "direction": "upstream",
            "depth": 1,
            "include_columns": "true",
        },
    ).json()
    by_id = {n["id"]: n["name"] for n in graph["nodes"]}
    assert {(by_id[e["source"]], by_id[e["target"]]) for e in graph["edges"]} == {
        (a, report),
        (b, report),
    }
    assert all(e["kind"] == "sql" for e in graph["edges"])
    column_edges = {
        (by_id[c["source"]], c["source_column"], c["target_column"]) for c in graph["column_edges"]
    }
    assert column_edges == {
        (a, "id", "id"),
        (b, "v", "v"),
        (a, "n", "n"),
        (b, "n", "n"),
    }
    table_rows = ok(
        admin,
        "SELECT source_table_full_name, count, request_id FROM system.access.table_lineage "
        f"WHERE target_table_full_name = '{report}' ORDER BY source_table_full_name",
    )
    assert [r[0] for r in table_rows] == [a, b]
    assert table_rows[1][1] == 2  # b → report seen by the INSERT and the MERGE
    column_rows = ok(
        admin,
        "SELECT source_table_full_name, source_column_name, target_column_name "
        f"FROM system.access.column_lineage WHERE target_table_full_name = '{report}'",
    )
    assert {tuple(r) for r in column_rows} == column_edges
    # An INSERT … VALUES reads nothing, so it records no edge; a failed write records none.
    before = ok(admin, "SELECT count(*) FROM system.access.table_lineage")
    ok(admin, f"INSERT INTO {report} VALUES (9, 'v', 9)")
    failed(admin, f"INSERT INTO {report} SELECT * FROM {a}", "INVALID_PARAMETER_VALUE")
    assert ok(admin, "SELECT count(*) FROM system.access.table_lineage") == before


def test_one_audit_event_per_statement(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    table = keyed(admin, tree.t("audited"))
    statements = [
        (f"INSERT INTO {table} VALUES (1, 'a', 1)", 200),
        (f"SELECT * FROM {table}", 200),
        (
            f"MERGE INTO {table} t USING (SELECT 1 AS id) s ON t.id = s.id "
            "WHEN MATCHED THEN DELETE",
            200,
        ),
        (f"INSERT INTO {table} VALUES ('bad', 'a', 1)", 400),
        (f"SELECT * FROM {tree.t('missing')}", 404),
    ]
    for statement, status in statements:
        body = run(admin, statement)
        events = events_of(admin, body["statement_id"])
        assert len(events) == 1, (statement, events)
        event = events[0]
        assert event["service_name"] == "databrickssql"
        assert event["action_name"] == "executeStatement"
        assert event["response"]["status_code"] == status, (statement, event)
        assert event["request_params"]["statement"] == statement
        if statement.startswith(("INSERT", "MERGE")):
            assert event.get("object_name") == table
    name, user = person(server)
    body = run(user, f"INSERT INTO {table} VALUES (2, 'b', 2)")
    denied = events_of(admin, body["statement_id"])
    assert len(denied) == 1 and denied[0]["response"]["status_code"] == 403  # the truth: a denial
    assert denied[0]["user_identity"]["email"] == name
