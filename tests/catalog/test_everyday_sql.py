"""The SQL of every day, as Databricks users type it (docs/sql.md), over HTTP on both
backends: CREATE TABLE … AS SELECT (through the caller's filters and masks, with lineage),
CREATE OR REPLACE TABLE (the object, its grants and tags kept), ALTER TABLE … ADD COLUMNS,
SET / UNSET TBLPROPERTIES, SHOW GRANTS TO a principal, and each one's errors.
"""

from __future__ import annotations

from tests.catalog.test_row_access import World, protect
from tests.catalog.test_row_access import world as world  # the fixture
from tests.catalog.test_sql_data import columns, failed, ok
from tests.support import unique


def test_create_table_as_select_copies_what_the_caller_sees(world: World) -> None:
    protect(world)
    admin, analyst, name = world.admin, world.users["analyst"], world.names["analyst"]
    ok(admin, f"GRANT CREATE TABLE ON SCHEMA {world.schema} TO `{name}`")
    copy = f"{world.schema}.eu_{unique('t')}"
    ok(
        analyst,
        f"CREATE TABLE {copy} COMMENT 'EU people' AS "
        f"SELECT id, ssn, salary * 2 AS double_pay FROM {world.table}",
    )
    assert columns(analyst, f"SELECT * FROM {copy}") == [
        ("id", "bigint"),
        ("ssn", "string"),
        ("double_pay", "double"),
    ]
    assert ok(analyst, f"SELECT * FROM {copy} ORDER BY id") == [
        [2, "***-**-2222", 400.0],
        [4, None, 800.0],
    ]
    described = ok(analyst, f"DESCRIBE TABLE EXTENDED {copy}")
    assert ["Owner", name, ""] in described and ["Comment", "EU people", ""] in described
    upstream = ok(
        admin,
        "SELECT DISTINCT source_table_full_name FROM system.access.table_lineage "
        "WHERE target_table_full_name = :t",
        parameters=[{"name": "t", "value": copy}],
    )
    assert upstream == [[world.table]]
    failed(analyst, f"CREATE TABLE {copy} AS SELECT 1 AS a", "RESOURCE_ALREADY_EXISTS")
    ok(analyst, f"CREATE TABLE IF NOT EXISTS {copy} AS SELECT 1 AS a")
    failed(
        analyst,
        f"CREATE TABLE {world.schema}.dup AS SELECT id, id FROM {world.table}",
        "INVALID_PARAMETER_VALUE",
        "two columns named 'id'",
    )
    failed(
        world.users["outsider"],
        f"CREATE TABLE {world.schema}.nope AS SELECT 1 AS a",
        "PERMISSION_DENIED",
        "CREATE TABLE",
    )


def test_create_or_replace_table_keeps_the_object(world: World) -> None:
    admin, outsider = world.admin, world.names["outsider"]
    table = f"{world.schema}.replaced_{unique('t')}"
    ok(admin, f"CREATE TABLE {table} (a BIGINT, b STRING)")
    ok(admin, f"INSERT INTO {table} VALUES (1, 'x')")
    ok(admin, f"GRANT SELECT ON TABLE {table} TO `{outsider}`")
    ok(admin, f"ALTER TABLE {table} SET TAGS ('domain' = 'test')")
    ok(admin, f"CREATE OR REPLACE TABLE {table} (c DOUBLE NOT NULL COMMENT 'see')")
    assert columns(admin, f"SELECT * FROM {table}") == [("c", "double")]
    assert ok(admin, f"SELECT * FROM {table}") == []
    reader = world.users["outsider"]
    ok(admin, f"INSERT INTO {table} VALUES (2.5)")
    assert ok(reader, f"SELECT c FROM {table}") == [[2.5]]  # the grant stayed
    rows = ok(admin, f"DESCRIBE TABLE EXTENDED {table}")
    assert [table.split(".")[-1], "domain", "test"] in rows  # and the tag
    ok(admin, f"CREATE OR REPLACE TABLE {table} AS SELECT id FROM {world.table} WHERE id < 3")
    assert ok(reader, f"SELECT * FROM {table} ORDER BY id") == [[1], [2]]
    failed(
        reader,
        f"CREATE OR REPLACE TABLE {table} (x INT)",
        "PERMISSION_DENIED",
    )
    fresh = f"{world.schema}.fresh_{unique('t')}"
    ok(admin, f"CREATE OR REPLACE TABLE {fresh} (x INT)")
    assert columns(admin, f"SELECT * FROM {fresh}") == [("x", "int")]


def test_add_columns_and_table_properties(world: World) -> None:
    admin, table = world.admin, world.table
    ok(admin, f"ALTER TABLE {table} ADD COLUMNS (team STRING COMMENT 'where', level INT)")
    ok(admin, f"ALTER TABLE {table} ADD COLUMN bonus DOUBLE")
    assert [c[0] for c in columns(admin, f"SELECT * FROM {table}")][-3:] == [
        "team",
        "level",
        "bonus",
    ]
    ok(admin, f"UPDATE {table} SET team = 'core', level = 3 WHERE id = 1")
    hr = world.users["hr"]
    assert ok(hr, f"SELECT id, team, level, bonus FROM {table} WHERE id < 3 ORDER BY id") == [
        [1, "core", 3, None],
        [2, None, None, None],
    ]
    failed(admin, f"ALTER TABLE {table} ADD COLUMN team STRING", "RESOURCE_ALREADY_EXISTS")
    failed(
        admin,
        f"ALTER TABLE {table} ADD COLUMN x INT NOT NULL",
        "INVALID_PARAMETER_VALUE",
        "NOT NULL",
    )
    failed(hr, f"ALTER TABLE {table} ADD COLUMN x INT", "PERMISSION_DENIED", "MANAGE")
    ok(admin, f"ALTER TABLE {table} SET TBLPROPERTIES ('quality' = 'gold', 'team' = 'hr')")
    rows = ok(admin, f"DESCRIBE TABLE EXTENDED {table}")
    assert ["Table Properties", "[quality=gold,team=hr]", ""] in rows
    ok(admin, f"ALTER TABLE {table} UNSET TBLPROPERTIES ('team')")
    failed(
        admin,
        f"ALTER TABLE {table} UNSET TBLPROPERTIES ('team')",
        "INVALID_PARAMETER_VALUE",
        "team",
    )
    ok(admin, f"ALTER TABLE {table} UNSET TBLPROPERTIES IF EXISTS ('team')")
    got = admin.get(f"/api/2.1/unity-catalog/tables/{table}").json()
    assert got["properties"] == {"quality": "gold"}


def test_show_grants_to_a_principal(world: World) -> None:
    admin, analyst, name = world.admin, world.users["analyst"], world.names["analyst"]
    hidden = f"{world.schema}.hidden_{unique('t')}"
    ok(admin, f"CREATE TABLE {hidden} (a INT)")
    ok(admin, f"GRANT MODIFY ON TABLE {hidden} TO `{world.names['hr']}`")
    catalog = world.schema.split(".")[0]
    expected = [
        [name, "USE CATALOG", "CATALOG", catalog],
        [name, "USE SCHEMA", "SCHEMA", world.schema],
        [name, "SELECT", "TABLE", world.table],
    ]
    assert ok(admin, f"SHOW GRANTS `{name}`") == expected
    assert ok(analyst, f"SHOW GRANTS TO `{name}`") == expected  # one's own grants
    hr = world.names["hr"]
    assert [hr, "MODIFY", "TABLE", hidden] in ok(admin, f"SHOW GRANTS TO `{hr}`")
    # Another user sees none of hr's grants it may not see: hidden's grant is absent,
    # and the others are hr's own (not the analyst's or its groups').
    assert ok(analyst, f"SHOW GRANTS TO `{hr}`") == []
    failed(admin, "SHOW GRANTS TO `nobody_at_all`", "RESOURCE_DOES_NOT_EXIST", "nobody_at_all")


def test_account_users_is_a_real_grantable_group(world: World) -> None:
    admin, table = world.admin, f"{world.schema}.open_{unique('t')}"
    ok(admin, f"CREATE TABLE {table} (a INT)")
    ok(admin, f"INSERT INTO {table} VALUES (1)")
    _, token = world.server.create_user(f"new_{unique('u')}@example.com")
    newcomer = world.server.client(token)
    catalog = world.schema.split(".")[0]
    failed(newcomer, f"SELECT a FROM {table}", "RESOURCE_DOES_NOT_EXIST")
    ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `account users`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {world.schema} TO `Account Users`")
    ok(admin, f"GRANT SELECT ON TABLE {table} TO `account users`")
    assert ok(newcomer, f"SELECT a FROM {table}") == [[1]]  # a user created before or after
    assert ["account users", "SELECT", "TABLE", table] in ok(
        newcomer, "SHOW GRANTS TO `account users`"
    )
    assert ok(admin, f"SHOW GRANTS ON TABLE {table}") == [
        ["account users", "SELECT", "TABLE", table]
    ]
    failed(admin, "CREATE GROUP `account users`", "RESOURCE_ALREADY_EXISTS", "built-in")
    ok(admin, f"REVOKE SELECT ON TABLE {table} FROM `account users`")
    # Nothing left that shows the table to the newcomer: it is missing again.
    failed(newcomer, f"SELECT a FROM {table}", "RESOURCE_DOES_NOT_EXIST")
