"""SQL over the rows of managed tables (SPEC §5, §6, §7, §8), over HTTP on both backends.

``SELECT`` (joins, grouping, ordering, stars over odd column names, every column type),
``INSERT … VALUES``, ``INSERT … SELECT`` and ``MERGE`` with their Databricks semantics and
result shapes; the privileges each needs (nothing changes on a denial); bad values, duplicate
keys and syntax errors located; physical names and injection attempts refused; the lineage
a write records (REST graph and the system tables) and one audit event per statement.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
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
def tree(server: ServerHandle) -> Iterator[Tree]:
    """A catalog and schema owned by the admin, who grants itself SELECT and MODIFY
    (a metastore admin needs a grant to read and write data, even in its own tree? no:
    an owner holds every privilege on what it owns)."""
    catalog = unique("data")
    ok(server.admin, f"CREATE CATALOG {catalog}")
    ok(server.admin, f"CREATE SCHEMA {catalog}.s")
    yield Tree(catalog, f"{catalog}.s")


def sorted_rows(rows: list[list[Any]]) -> list[list[Any]]:
    return sorted(rows, key=lambda r: [str(v) for v in r])


# -- SELECT ----------------------------------------------------------------------------------


def test_insert_values_then_select(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    orders = tree.t("orders")
    ok(admin, f"CREATE TABLE {orders} (id BIGINT NOT NULL, customer STRING, amount DOUBLE, "
              "CONSTRAINT pk PRIMARY KEY (id))")
    body = run(admin, f"INSERT INTO {orders} VALUES (1, 'ann', 10.5), (2, 'bob', 3), (3, 'ann', 1)")
    assert body["status"]["state"] == "SUCCEEDED", body
    assert [c["name"] for c in body["manifest"]["schema"]["columns"]] == [
        "num_affected_rows",
        "num_inserted_rows",
    ]
    assert body["result"]["data_array"] == [[3, 3]]
    assert ok(admin, f"SELECT * FROM {orders} ORDER BY id") == [
        [1, "ann", 10.5],
        [2, "bob", 3.0],
        [3, "ann", 1.0],
    ]
    assert ok(
        admin,
        f"SELECT customer, count(*) AS n, sum(amount) AS total FROM {orders} "
        "WHERE amount > 0.5 GROUP BY customer ORDER BY total DESC LIMIT 1",
    ) == [["ann", 2, 11.5]]
