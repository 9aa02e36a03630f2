"""SQL statements over HTTP (docs/sql.md), as the admin and as real users with tokens
(docs/privileges.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ServerHandle, run_steward, unique

UC = "/api/2.1/unity-catalog"
SQL = "/api/2.0/sql/statements"


def run(client: httpx.Client, statement: str, **extra: Any) -> dict[str, Any]:
    response = client.post(SQL, json={"statement": statement, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def ok(client: httpx.Client, statement: str, **extra: Any) -> list[list[Any]]:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    return body["result"]["data_array"]


def failed(client: httpx.Client, statement: str, code: str, **extra: Any) -> str:
    body = run(client, statement, **extra)
    assert body["status"]["state"] == "FAILED", (statement, body)
    assert body["status"]["error"]["error_code"] == code, (statement, body)
    return body["status"]["error"]["message"]


def make_tree(admin: httpx.Client) -> tuple[str, str, str]:
    catalog, schema, table = unique("c"), unique("s"), unique("t")
    ok(admin, f"CREATE CATALOG {catalog}")
    ok(admin, f"CREATE SCHEMA {catalog}.{schema}")
    ok(admin, f"CREATE TABLE {catalog}.{schema}.{table} (id BIGINT NOT NULL, v STRING)")
    return catalog, f"{catalog}.{schema}", f"{catalog}.{schema}.{table}"


# -- the statement kinds, as the admin ------------------------------------------------


def test_response_shape(server: ServerHandle) -> None:
    body = run(server.admin, "SHOW CATALOGS", warehouse_id="ignored")
    assert body["status"] == {"state": "SUCCEEDED"}
    assert body["statement_id"]
    assert body["manifest"]["schema"] == {
        "column_count": 1,
        "columns": [
            {"name": "catalog", "type_text": "string", "type_name": "STRING", "position": 0}
        ],
    }
    rows = len(body["result"]["data_array"])
    assert body["manifest"]["format"] == "JSON_ARRAY"
    assert body["manifest"]["total_row_count"] == rows
    assert body["manifest"]["total_chunk_count"] == 1
    assert body["manifest"]["chunks"] == [{"chunk_index": 0, "row_offset": 0, "row_count": rows}]
    assert body["result"]["row_count"] == rows
    assert body["result"]["chunk_index"] == 0 and body["result"]["row_offset"] == 0


def test_requires_a_token(server: ServerHandle) -> None:
    response = server.client().post(SQL, json={"statement": "SHOW CATALOGS"})
    assert response.status_code == 401


def test_create_show_describe_drop(server: ServerHandle) -> None:
    admin = server.admin
    catalog, schema, table = make_tree(admin)
    assert [catalog] in ok(admin, "SHOW CATALOGS")
    assert ok(admin, f"SHOW SCHEMAS IN {catalog}") == [schema.split(".")]
    assert ok(admin, f"SHOW TABLES IN {schema}") == [table.split(".")]
    assert ok(admin, "SHOW TABLES", catalog=catalog, schema=schema.split(".")[1]) == [
        table.split(".")
    ]
    assert ok(admin, f"DESCRIBE TABLE {table}") == [["id", "bigint", None], ["v", "string", None]]
    got = admin.get(f"{UC}/tables/{table}")
    assert got.status_code == 200
    assert [c["name"] for c in got.json()["columns"]] == ["id", "v"]
    assert [c["nullable"] for c in got.json()["columns"]] == [False, True]
    info = dict(ok(admin, f"DESCRIBE CATALOG {catalog}"))
    assert info["Owner"] == "admin" or info["Owner"]
    # IF [NOT] EXISTS, CASCADE
    ok(admin, f"CREATE CATALOG IF NOT EXISTS {catalog}")
    failed(admin, f"CREATE CATALOG {catalog}", "RESOURCE_ALREADY_EXISTS")
    failed(admin, f"DROP SCHEMA {schema}", "INVALID_STATE")
    ok(admin, f"DROP TABLE {table}")
    assert admin.get(f"{UC}/tables/{table}").status_code == 404
    ok(admin, f"DROP TABLE IF EXISTS {table}")
    failed(admin, f"DROP TABLE {table}", "RESOURCE_DOES_NOT_EXIST")
    ok(admin, f"DROP CATALOG {catalog} CASCADE")
    assert admin.get(f"{UC}/catalogs/{catalog}").status_code == 404
    ok(admin, f"DROP CATALOG IF EXISTS {catalog}")


def test_partial_names_use_request_defaults(server: ServerHandle) -> None:
    admin = server.admin
    catalog = unique("c")
    ok(admin, f"CREATE CATALOG {catalog}")
    ok(admin, "CREATE SCHEMA Sales", catalog=catalog)
    ok(admin, "CREATE TABLE T1 (a INT)", catalog=catalog, schema="sales")
    assert admin.get(f"{UC}/tables/{catalog}.sales.t1").status_code == 200
    message = failed(admin, "CREATE TABLE t2 (a INT)", "INVALID_PARAMETER_VALUE")
    assert "default" in message


def test_create_table_with_primary_key_and_comment(server: ServerHandle) -> None:
    admin = server.admin
    _catalog, schema, _ = make_tree(admin)
    name = f"{schema}.{unique('f')}"
    ok(
        admin,
        f"CREATE TABLE {name} (k STRING NOT NULL, ts TIMESTAMP NOT NULL, x DECIMAL(10,2), "
        "CONSTRAINT pk PRIMARY KEY (k, ts TIMESERIES)) COMMENT 'features'",
    )
    info = admin.get(f"{UC}/tables/{name}").json()
    assert info["comment"] == "features"
    constraint = info["table_constraints"][0]["primary_key_constraint"]
    assert constraint["child_columns"] == ["k", "ts"]
    assert constraint["timeseries_columns"] == ["ts"]
    message = failed(
        admin,
        f"CREATE TABLE {schema}.bad (k STRING, CONSTRAINT pk PRIMARY KEY (k))",
        "INVALID_PARAMETER_VALUE",
    )
    assert "NOT NULL" in message


def test_comment_on_with_parameter(server: ServerHandle) -> None:
    admin = server.admin
    catalog, _schema, table = make_tree(admin)
    ok(
        admin,
        f"COMMENT ON TABLE {table} IS :c",
        parameters=[{"name": "c", "value": "it's; DROP TABLE x"}],
    )
    assert admin.get(f"{UC}/tables/{table}").json()["comment"] == "it's; DROP TABLE x"
    ok(admin, f"COMMENT ON CATALOG {catalog} IS 'top'")
    assert admin.get(f"{UC}/catalogs/{catalog}").json()["comment"] == "top"
    failed(admin, f"COMMENT ON TABLE {table} IS :missing", "INVALID_PARAMETER_VALUE")


def test_grant_revoke_show_grants(server: ServerHandle) -> None:
    admin = server.admin
    catalog, schema, table = make_tree(admin)
    user, _ = server.create_user()
    ok(admin, f"GRANT USE CATALOG, BROWSE ON CATALOG {catalog} TO `{user}`")
    rows = ok(admin, f"SHOW GRANTS ON CATALOG {catalog}")
    assert rows == [
        [user, "BROWSE", "CATALOG", catalog],
        [user, "USE CATALOG", "CATALOG", catalog],
    ]
    assert ok(admin, f"SHOW GRANTS `{user}` ON CATALOG {catalog}") == rows
    ok(admin, f"REVOKE BROWSE ON CATALOG {catalog} FROM `{user}`")
    assert ok(admin, f"SHOW GRANTS ON CATALOG {catalog}") == [
        [user, "USE CATALOG", "CATALOG", catalog]
    ]
    ok(admin, f"GRANT SELECT ON TABLE {table} TO `{user}`")
    assert ok(admin, f"SHOW GRANTS ON TABLE {table}") == [[user, "SELECT", "TABLE", table]]
    ok(admin, f"GRANT CREATE CATALOG ON METASTORE TO `{user}`")
    assert [user, "CREATE CATALOG", "METASTORE", "metastore"] in ok(
        admin, "SHOW GRANTS ON METASTORE"
    )
    ok(admin, f"REVOKE CREATE CATALOG ON METASTORE FROM `{user}`")
    # Revoking what was never granted succeeds; FUNCTION names a model.
    ok(admin, f"REVOKE MODIFY ON TABLE {table} FROM `{user}`")
    failed(admin, f"SHOW GRANTS ON FUNCTION {schema}.nope", "RESOURCE_DOES_NOT_EXIST")


def test_alter_owner(server: ServerHandle) -> None:
    admin = server.admin
    _catalog, schema, _ = make_tree(admin)
    user, _ = server.create_user()
    ok(admin, f"ALTER SCHEMA {schema} OWNER TO `{user}`")
    assert admin.get(f"{UC}/schemas/{schema}").json()["owner"] == user
    failed(admin, f"ALTER SCHEMA {schema} OWNER TO `nobody-{unique()}`", "RESOURCE_DOES_NOT_EXIST")
    assert admin.get(f"{UC}/schemas/{schema}").json()["owner"] == user


def test_group_statements(server: ServerHandle) -> None:
    admin = server.admin
    outer, inner = unique("g"), unique("g")
    user, _ = server.create_user()
    ok(admin, f"CREATE GROUP `{outer}`")
    ok(admin, f"CREATE GROUP `{inner}`")
    failed(admin, f"CREATE GROUP `{inner}`", "RESOURCE_ALREADY_EXISTS")
    ok(admin, f"ALTER GROUP `{outer}` ADD GROUP `{inner}`")
    ok(admin, f"ALTER GROUP `{inner}` ADD USER `{user}`")
    groups = [r[0] for r in ok(admin, "SHOW GROUPS")]
    assert outer in groups and inner in groups
    assert [user] in ok(admin, "SHOW USERS")
    ok(admin, f"ALTER GROUP `{inner}` REMOVE USER `{user}`")
    failed(admin, f"ALTER GROUP `{inner}` ADD USER `nobody-{unique()}`", "RESOURCE_DOES_NOT_EXIST")
    ok(admin, f"DROP GROUP `{inner}`")
    assert inner not in [r[0] for r in ok(admin, "SHOW GROUPS")]
    failed(admin, f"DROP GROUP `{inner}`", "RESOURCE_DOES_NOT_EXIST")


def test_select_reads_tables_not_physical_names(server: ServerHandle) -> None:
    """SELECT reaches the system and managed tables only (tests/catalog/test_system_tables.py and
    tests/catalog/test_sql_data.py have the rest)."""
    assert ok(server.admin, "SELECT count(*) FROM system.access.audit")[0][0] >= 1
    message = failed(server.admin, "SELECT * FROM audit_events", "RESOURCE_DOES_NOT_EXIST")
    assert "is not a table" in message


def test_syntax_error_names_line_and_column(server: ServerHandle) -> None:
    body = run(server.admin, "SHOW CATALOGS;\nGRANT FLY ON CATALOG x TO y")
    assert body["status"]["state"] == "FAILED"
    message = failed(server.admin, "SHOW TABLES IN a.b\n  GARBAGE here", "PARSE_SYNTAX_ERROR")
    assert "line 2" in message and "column" in message
    message = failed(server.admin, "GRANT FLY ON CATALOG x TO y", "PARSE_SYNTAX_ERROR")
    assert "line 1, column 7" in message
    assert run(server.admin, "SHOW CATALOGZ")["status"]["sql_state"] == "42601"


@pytest.mark.parametrize(
    "payload",
    [
        {"statement": "SHOW CATALOGS", "parameters": [{"name": "x", "value": "1"}]},
        {
            "statement": "COMMENT ON CATALOG c IS :v",
            "parameters": [{"name": "v", "value": "1", "type": "INT"}, {"name": "v", "value": "2"}],
        },
        {
            "statement": "COMMENT ON CATALOG c IS :v",
            "parameters": [{"name": "v", "value": "x", "type": "INT"}],
        },
    ],
)
def test_bad_parameters_fail_cleanly(server: ServerHandle, payload: dict[str, Any]) -> None:
    response = server.admin.post(SQL, json=payload)
    assert response.status_code == 200
    assert response.json()["status"]["error"]["error_code"] == "INVALID_PARAMETER_VALUE"


# -- privileges as real users ---------------------------------------------------------


class Actor:
    def __init__(self, server: ServerHandle) -> None:
        self.name, token = server.create_user()
        self.client = server.client(token)


def test_privilege_scenarios(server: ServerHandle) -> None:
    admin = server.admin
    catalog, schema, table = make_tree(admin)
    alice, bob = Actor(server), Actor(server)

    # 1. Without any grant a user can neither see nor get the table: it answers as missing.
    assert alice.client.get(f"{UC}/tables/{table}").status_code == 404
    # 2. USE CATALOG + USE SCHEMA + BROWSE (granted through SQL) let the user GET it over REST.
    ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{alice.name}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{alice.name}`")
    ok(admin, f"GRANT BROWSE ON TABLE {table} TO `{alice.name}`")
    assert alice.client.get(f"{UC}/tables/{table}").status_code == 200
    # 3. CREATE SCHEMA is denied without it, with a message naming the privilege.
    message = failed(alice.client, f"CREATE SCHEMA {catalog}.mine", "PERMISSION_DENIED")
    assert "CREATE SCHEMA" in message
    # 4. ... and a failed statement changes nothing.
    assert admin.get(f"{UC}/schemas/{catalog}.mine").status_code == 404
    # 5. A user cannot grant on an object it does not own (it sees it: BROWSE).
    message = failed(
        alice.client, f"GRANT SELECT ON TABLE {table} TO `{bob.name}`", "PERMISSION_DENIED"
    )
    assert ok(admin, f"SHOW GRANTS `{bob.name}` ON TABLE {table}") == []
    # 6. CREATE SCHEMA without USE CATALOG is denied, naming USE CATALOG.
    ok(admin, f"GRANT CREATE SCHEMA ON CATALOG {catalog} TO `{bob.name}`")
    message = failed(bob.client, f"CREATE SCHEMA {catalog}.bobs", "PERMISSION_DENIED")
    assert "USE CATALOG" in message
    # 7. With USE CATALOG it works, and bob owns what he created (he may drop it).
    ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{bob.name}`")
    ok(bob.client, f"CREATE SCHEMA {catalog}.bobs")
    assert admin.get(f"{UC}/schemas/{catalog}.bobs").json()["owner"] == bob.name
    ok(bob.client, f"CREATE TABLE {catalog}.bobs.t (a INT)")
    ok(bob.client, f"DROP TABLE {catalog}.bobs.t")
    # 8. A non-admin cannot create a catalog without CREATE CATALOG on the metastore.
    failed(bob.client, f"CREATE CATALOG {unique('c')}", "PERMISSION_DENIED")
    # 9. Non-admin CREATE GROUP is denied; SHOW USERS lists names to all, as SCIM does.
    failed(bob.client, f"CREATE GROUP `{unique('g')}`", "PERMISSION_DENIED")
    assert [bob.name] in ok(bob.client, "SHOW USERS")
    # 10. Inapplicable privilege → INVALID_PARAMETER_VALUE, nothing granted.
    failed(admin, f"GRANT USE CATALOG ON TABLE {table} TO `{bob.name}`", "INVALID_PARAMETER_VALUE")
    assert ok(admin, f"SHOW GRANTS `{bob.name}` ON TABLE {table}") == []
    assert ok(admin, f"SHOW GRANTS `{bob.name}` ON CATALOG {catalog}") == [
        [bob.name, "CREATE SCHEMA", "CATALOG", catalog],
        [bob.name, "USE CATALOG", "CATALOG", catalog],
    ]
    # 11. Unknown principal → RESOURCE_DOES_NOT_EXIST, and the known one is not granted either.
    failed(
        admin,
        f"GRANT BROWSE ON CATALOG {catalog} TO `{bob.name}`, `nobody-{unique()}`",
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert [bob.name, "BROWSE", "CATALOG", catalog] not in ok(
        admin, f"SHOW GRANTS ON CATALOG {catalog}"
    )
    # 12. REVOKE ALL PRIVILEGES removes everything bob holds directly on the catalog.
    ok(admin, f"REVOKE ALL PRIVILEGES ON CATALOG {catalog} FROM `{bob.name}`")
    assert ok(admin, f"SHOW GRANTS `{bob.name}` ON CATALOG {catalog}") == []
    # … so he no longer sees the catalog: it answers as missing.
    failed(bob.client, f"CREATE SCHEMA {catalog}.again", "RESOURCE_DOES_NOT_EXIST")


def test_all_privileges_reaches_later_table(server: ServerHandle) -> None:
    admin = server.admin
    catalog, schema, _ = make_tree(admin)
    carol = Actor(server)
    # 13. ALL PRIVILEGES on the catalog reaches a table created afterwards.
    ok(admin, f"GRANT ALL PRIVILEGES ON CATALOG {catalog} TO `{carol.name}`")
    later = f"{schema}.{unique('later')}"
    ok(admin, f"CREATE TABLE {later} (a INT)")
    assert carol.client.get(f"{UC}/tables/{later}").status_code == 200
    assert [later.split(".")[-1]] in [r[2:] for r in ok(carol.client, f"SHOW TABLES IN {schema}")]
    # ALL PRIVILEGES does not include MANAGE: carol cannot drop the admin's table.
    failed(carol.client, f"DROP TABLE {later}", "PERMISSION_DENIED")


def test_owner_transfer_then_new_owner_drops(server: ServerHandle) -> None:
    admin = server.admin
    catalog, schema, table = make_tree(admin)
    dave = Actor(server)
    ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{dave.name}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{dave.name}`")
    # 14. Before owning it dave cannot drop (nor see) it; after ALTER … OWNER TO he can.
    failed(dave.client, f"DROP TABLE {table}", "RESOURCE_DOES_NOT_EXIST")
    ok(admin, f"ALTER TABLE {table} OWNER TO `{dave.name}`")
    ok(dave.client, f"DROP TABLE {table}")
    assert admin.get(f"{UC}/tables/{table}").status_code == 404


def test_manage_can_grant(server: ServerHandle) -> None:
    admin = server.admin
    catalog, schema, table = make_tree(admin)
    erin, frank = Actor(server), Actor(server)
    for who in (erin, frank):
        ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{who.name}`")
        ok(admin, f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{who.name}`")
    # 15. MANAGE on the table lets erin grant on it; frank then reads it over REST. Before,
    # she does not even see it.
    failed(
        erin.client, f"GRANT SELECT ON TABLE {table} TO `{frank.name}`", "RESOURCE_DOES_NOT_EXIST"
    )
    ok(admin, f"GRANT MANAGE ON TABLE {table} TO `{erin.name}`")
    ok(erin.client, f"GRANT SELECT, BROWSE ON TABLE {table} TO `{frank.name}`")
    assert frank.client.get(f"{UC}/tables/{table}").status_code == 200
    # 16. SHOW GRANTS needs to see the object: frank does (his own grants are shown), an
    # outsider does not (the table answers as missing).
    assert ok(frank.client, f"SHOW GRANTS ON TABLE {table}")
    outsider = Actor(server)
    failed(outsider.client, f"SHOW GRANTS ON TABLE {table}", "RESOURCE_DOES_NOT_EXIST")


def test_nested_groups_through_sql(server: ServerHandle) -> None:
    admin = server.admin
    catalog, schema, table = make_tree(admin)
    outer, inner = unique("g"), unique("g")
    gina = Actor(server)
    ok(admin, f"CREATE GROUP `{outer}`")
    ok(admin, f"CREATE GROUP `{inner}`")
    ok(admin, f"ALTER GROUP `{outer}` ADD GROUP `{inner}`")
    ok(admin, f"ALTER GROUP `{inner}` ADD USER `{gina.name}`")
    # 17. Grants to the outer group reach a member of the inner group.
    ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{outer}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{outer}`")
    ok(admin, f"GRANT SELECT, BROWSE ON TABLE {table} TO `{outer}`")
    assert gina.client.get(f"{UC}/tables/{table}").status_code == 200
    # 18. Removing her from the inner group takes the access (and the sight) away.
    ok(admin, f"ALTER GROUP `{inner}` REMOVE USER `{gina.name}`")
    assert gina.client.get(f"{UC}/tables/{table}").status_code == 404


def test_show_only_what_caller_sees(server: ServerHandle) -> None:
    admin = server.admin
    catalog, _schema, table = make_tree(admin)
    hidden = unique("hidden")
    ok(admin, f"CREATE CATALOG {hidden}")
    henry = Actor(server)
    ok(admin, f"GRANT BROWSE ON CATALOG {catalog} TO `{henry.name}`")
    # 19. SHOW CATALOGS lists the catalog henry may browse and not the other one.
    names = [r[0] for r in ok(henry.client, "SHOW CATALOGS")]
    assert catalog in names and hidden not in names
    # 20. DESCRIBE needs to see the object: allowed on the browsable tree; elsewhere the
    # object answers as missing.
    assert ok(henry.client, f"DESCRIBE TABLE {table}")
    failed(henry.client, f"DESCRIBE CATALOG {hidden}", "RESOURCE_DOES_NOT_EXIST")


def test_drop_model(server: ServerHandle) -> None:
    admin = server.admin
    _catalog, schema, _ = make_tree(admin)
    catalog_name, schema_name = schema.split(".")
    name = unique("m")
    created = admin.post(
        f"{UC}/models",
        json={"catalog_name": catalog_name, "schema_name": schema_name, "name": name},
    )
    assert created.status_code == 200, created.text
    assert [catalog_name, schema_name, name] in ok(admin, f"SHOW MODELS IN {schema}")
    assert dict(ok(admin, f"DESCRIBE MODEL {schema}.{name}"))["Owner"]
    ok(admin, f"DROP MODEL {schema}.{name}")
    assert admin.get(f"{UC}/models/{schema}.{name}").status_code == 404
    failed(admin, f"DROP MODEL {schema}.{name}", "RESOURCE_DOES_NOT_EXIST")
    ok(admin, f"DROP MODEL IF EXISTS {schema}.{name}")


# -- the CLI ------------------------------------------------------------------------


def steward_sql(
    server: ServerHandle, *args: str, stdin: str | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    home_env = {"HOME": str(home)} if home is not None else None
    return run_steward("sql", *args, server=server, stdin=stdin, extra_env=home_env, check=False)


def test_cli_one_statement(server: ServerHandle) -> None:
    catalog = unique("c")
    created = steward_sql(server, f"CREATE CATALOG {catalog}")
    assert created.returncode == 0, created.stderr
    shown = steward_sql(server, "SHOW CATALOGS", "--json")
    assert shown.returncode == 0, shown.stderr
    assert {"catalog": catalog} in json.loads(shown.stdout)
    table = steward_sql(server, "SHOW CATALOGS")
    assert catalog in table.stdout
    bad = steward_sql(server, "SHOW CATALOGZ")
    assert bad.returncode == 1
    assert "PARSE_SYNTAX_ERROR" in bad.stderr and "line 1" in bad.stderr


def test_cli_shell_multiline_and_history(server: ServerHandle, tmp_path: Path) -> None:
    catalog = unique("c")
    script = f"CREATE CATALOG\n  {catalog}\n;\nSHOW BOGUS;\nSHOW CATALOGS;\nexit\n"
    result = steward_sql(server, stdin=script, home=tmp_path)
    # A piped script goes on after a failed statement and says so in its exit code.
    assert result.returncode == 1, result.stderr
    assert catalog in result.stdout
    assert "PARSE_SYNTAX_ERROR" in result.stderr
    assert server.admin.get(f"{UC}/catalogs/{catalog}").status_code == 200
