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


# -- UPDATE and DELETE on tables without a primary key ------------------------------------


def test_update_and_delete_a_table_without_a_key_row_by_row(world: World) -> None:
    """Rows are found again by the database's own row identity: equal rows stay two rows,
    a filtered user changes only its rows, a masked column keeps its real value."""
    admin, analyst, name = world.admin, world.users["analyst"], world.names["analyst"]
    table = f"{world.schema}.events_{unique('t')}"
    ok(admin, f"CREATE TABLE {table} (region STRING, ssn STRING, n INT)")
    ok(
        admin,
        f"INSERT INTO {table} VALUES ('EU', '222-22-2222', 1), ('EU', '222-22-2222', 1), "
        "('US', '111-11-1111', 1), ('EU', NULL, 5)",
    )
    ok(admin, f"ALTER TABLE {table} SET ROW FILTER {world.schema}.by_region ON (region)")
    ok(
        admin,
        f"ALTER TABLE {table} ALTER COLUMN ssn SET MASK {world.schema}.ssn_mask "
        "USING COLUMNS (region)",
    )
    for privilege in ("SELECT", "MODIFY"):
        ok(admin, f"GRANT {privilege} ON TABLE {table} TO `{name}`")
    ok(admin, f"GRANT SELECT ON TABLE {table} TO `{world.names['hr']}`")
    hr = world.users["hr"]
    everything = f"SELECT region, ssn, n FROM {table} ORDER BY region, n, ssn"
    # Two equal rows: both change, and both are counted.
    assert ok(analyst, f"UPDATE {table} SET n = n + 10 WHERE n = 1") == [[2]]
    assert ok(hr, everything) == [
        ["EU", None, 5],
        ["EU", "222-22-2222", 11],
        ["EU", "222-22-2222", 11],
        ["US", "111-11-1111", 1],  # not the analyst's to see, so not changed
    ]
    # A WHERE on the masked column sees the masked value; the real one stays stored.
    assert ok(analyst, f"UPDATE {table} SET n = 0 WHERE ssn = '***-**-2222'") == [[2]]
    assert ok(hr, f"SELECT count(*) FROM {table} WHERE ssn = '222-22-2222' AND n = 0") == [[2]]
    assert ok(analyst, f"UPDATE {table} SET n = 1 WHERE ssn = '222-22-2222'") == [[0]]
    failed(analyst, f"UPDATE {table} SET region = ssn", "INVALID_PARAMETER_VALUE", "masked")
    # The hidden row identity is nobody's column.
    failed(
        analyst,
        f"DELETE FROM {table} WHERE __steward_row_id > 0",
        "INVALID_PARAMETER_VALUE",
        "__steward_row_id",
        "line 1, column",
    )
    assert ok(analyst, f"DELETE FROM {table} WHERE n = 0") == [[2]]
    assert ok(analyst, f"DELETE FROM {table}") == [[1]]
    assert ok(hr, everything) == [["US", "111-11-1111", 1]]
    # The admin is filtered too (as "others", it sees US rows only).
    assert ok(admin, f"INSERT INTO {table} VALUES ('EU', NULL, 7)") == [[1, 1]]
    assert ok(admin, f"DELETE FROM {table}") == [[1]]
    assert ok(hr, everything) == [["EU", None, 7]]


def test_updates_running_at_once_lose_no_update(world: World) -> None:
    """Each UPDATE adds 1 to every row of a keyless table, from several clients at once.
    A statement that read before another's write committed starts again, so the sum is
    exactly the number of statements that succeeded (and no statement failed but for
    the table changing under it too often)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.catalog.test_sql_data import run

    admin = world.admin
    table = f"{world.schema}.counters_{unique('t')}"
    ok(admin, f"CREATE TABLE {table} (label STRING, n INT)")
    ok(admin, f"INSERT INTO {table} VALUES ('a', 0), ('a', 0), ('b', 0)")
    clients = [world.server.client(world.server.admin_token) for _ in range(4)]

    def increments(index: int) -> list[str]:
        states = []
        for _ in range(6):
            body = run(clients[index], f"UPDATE {table} SET n = n + 1")
            state = body["status"]["state"]
            if state == "FAILED":
                error = body["status"]["error"]
                assert error["error_code"] == "INVALID_STATE", error
                assert "kept changing" in error["message"], error
            else:
                assert body["result"]["data_array"] == [[3]], body
            states.append(state)
        return states

    with ThreadPoolExecutor(len(clients)) as pool:
        states = [state for batch in pool.map(increments, range(len(clients))) for state in batch]
    succeeded = states.count("SUCCEEDED")
    assert succeeded >= len(clients)
    assert ok(admin, f"SELECT label, n FROM {table} ORDER BY label") == [
        ["a", succeeded],
        ["a", succeeded],
        ["b", succeeded],
    ]


def test_merge_into_a_table_without_a_key(world: World) -> None:
    admin = world.admin
    table = f"{world.schema}.stock_{unique('t')}"
    ok(admin, f"CREATE TABLE {table} (sku STRING, qty INT)")
    ok(admin, f"INSERT INTO {table} VALUES ('a', 1), ('a', 1), ('b', 2), ('c', 3)")
    source = "(SELECT 'a' AS sku, 10 AS qty UNION ALL SELECT 'c', 0 UNION ALL SELECT 'd', 4) s"
    merged = ok(
        admin,
        f"MERGE INTO {table} t USING {source} ON t.sku = s.sku "
        "WHEN MATCHED AND s.qty = 0 THEN DELETE "
        "WHEN MATCHED THEN UPDATE SET qty = t.qty + s.qty "
        "WHEN NOT MATCHED THEN INSERT *",
    )
    # Both equal 'a' rows are matched and updated, each counted.
    assert merged == [[4, 2, 1, 1]]
    assert ok(admin, f"SELECT sku, qty FROM {table} ORDER BY sku, qty") == [
        ["a", 11],
        ["a", 11],
        ["b", 2],
        ["d", 4],
    ]
    failed(
        admin,
        f"MERGE INTO {table} t USING (SELECT 'b' AS sku UNION ALL SELECT 'b') s "
        "ON t.sku = s.sku WHEN MATCHED THEN DELETE",
        "INVALID_PARAMETER_VALUE",
        "DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE",
        "one target row",
    )
    assert ok(admin, f"SELECT count(*) FROM {table}") == [[4]]
