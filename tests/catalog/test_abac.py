"""Governed tags and ABAC policies as users meet them (docs/row-access.md), over HTTP on
both backends: tags set and unset in SQL (objects and columns, APPLY TAG gating them),
policies on a schema reaching tables through tags inherited from the catalog or schema, a
table created after the policy covered at once, EXCEPT, several row filters together, two
masks on one column refused by name, the lookup API, and each statement's errors.
"""

from __future__ import annotations

import pytest

from tests.catalog.test_row_access import LOOKUP, World, ids, protect
from tests.catalog.test_row_access import world as world  # the fixture
from tests.catalog.test_sql_data import failed, ok, records
from tests.support import unique


def tag_ssn_and_region(world: World, table: str | None = None) -> None:
    table = table or world.table
    ok(world.admin, f"ALTER TABLE {table} ALTER COLUMN ssn SET TAGS ('pii' = 'ssn')")
    ok(world.admin, f"SET TAG ON COLUMN {table}.region geo")


def mask_policy(world: World, *, except_: str = "", when: str = "") -> None:
    """Everyone but the EXCEPT principals sees ssn-tagged columns masked (through the
    schema-level policy), for tables whose tags satisfy ``when``."""
    ok(
        world.admin,
        f"CREATE OR REPLACE POLICY hide_ssn ON SCHEMA {world.schema} "
        f"COLUMN MASK {world.schema}.ssn_mask TO `account users` {except_} FOR TABLES "
        f"{when} MATCH COLUMNS has_tag_value('pii', 'ssn') AS s, has_tag('geo') AS g "
        "ON COLUMN s USING COLUMNS (g)",
    )


def test_tags_in_sql_on_every_level_and_describe(world: World) -> None:
    admin, table, schema = world.admin, world.table, world.schema
    catalog = schema.split(".")[0]
    ok(admin, f"SET TAG ON CATALOG {catalog} `owner team` = `data platform`")
    ok(admin, f"ALTER SCHEMA {schema} SET TAGS ('sensitivity' = 'high')")
    ok(admin, f"ALTER TABLE {table} SET TAGS ('domain' = 'people', 'certified')")
    tag_ssn_and_region(world)
    rows = ok(admin, f"DESCRIBE TABLE EXTENDED {table}")
    tags = rows[rows.index(["# Tags", "", ""]) + 1 :]
    assert tags == [
        ["people", "certified", None],
        ["people", "domain", "people"],
        ["region", "geo", None],
        ["ssn", "pii", "ssn"],
    ]
    ok(admin, f"ALTER TABLE {table} UNSET TAGS ('certified', 'never set')")
    ok(admin, f"UNSET TAG ON COLUMN {table}.region geo")
    rows = ok(admin, f"DESCRIBE TABLE EXTENDED {table}")
    assert rows[rows.index(["# Tags", "", ""]) + 1 :] == [
        ["people", "domain", "people"],
        ["ssn", "pii", "ssn"],
    ]
    listed = admin.get(
        f"/api/2.1/unity-catalog/entity-tag-assignments/catalogs/{catalog}/tags"
    ).json()
    assert [(t["tag_key"], t["tag_value"]) for t in listed["tag_assignments"]] == [
        ("owner team", "data platform")
    ]


def test_apply_tag_gates_tagging(world: World) -> None:
    analyst, name, table = world.users["analyst"], world.names["analyst"], world.table
    failed(
        analyst,
        f"ALTER TABLE {table} SET TAGS ('pii' = 'x')",
        "PERMISSION_DENIED",
        "APPLY TAG",
    )
    failed(analyst, f"SET TAG ON COLUMN {table}.ssn pii", "PERMISSION_DENIED", "APPLY TAG")
    ok(world.admin, f"GRANT APPLY TAG ON TABLE {table} TO `{name}`")
    ok(analyst, f"SET TAG ON COLUMN {table}.ssn pii = ssn")
    ok(analyst, f"ALTER TABLE {table} ALTER COLUMN ssn UNSET TAGS ('pii')")
    failed(world.admin, f"SET TAG ON COLUMN {table}.nope pii", "RESOURCE_DOES_NOT_EXIST", "nope")
    # A table the caller cannot see answers as a missing one.
    hidden = f"{world.schema}.hidden_{unique('t')}"
    ok(world.admin, f"CREATE TABLE {hidden} (id BIGINT)")
    missing = f"{world.schema}.missing_{unique('t')}"
    seen = [
        failed(analyst, f"ALTER TABLE {name_} SET TAGS ('a' = 'b')", "RESOURCE_DOES_NOT_EXIST")
        for name_ in (hidden, missing)
    ]
    assert seen[0].replace(hidden, "X") == seen[1].replace(missing, "X")


def test_schema_policy_masks_tagged_columns_except_hr(world: World) -> None:
    tag_ssn_and_region(world)
    mask_policy(world, except_=f"EXCEPT `{world.groups['hr']}`")
    query = f"SELECT id, ssn FROM {world.table} ORDER BY id"
    assert records(world.users["analyst"], query)[:2] == [
        {"id": 1, "ssn": None},
        {"id": 2, "ssn": "***-**-2222"},
    ]
    # The owner and the admin are not exempt; hr is, through EXCEPT (the function would
    # show them the number anyway; EXCEPT means it is not even called).
    assert ok(world.admin, query)[1] == [2, "***-**-2222"]
    assert ok(world.users["hr"], query)[1] == [2, "222-22-2222"]
    # Predicates see the masked value.
    where_null = f"SELECT id FROM {world.table} WHERE ssn IS NULL ORDER BY id"
    assert ids(world.users["analyst"], where_null) == [1, 3, 4, 5]
    # Untagging the column takes the mask away at the next statement.
    ok(world.admin, f"ALTER TABLE {world.table} ALTER COLUMN ssn UNSET TAGS ('pii')")
    assert ok(world.users["analyst"], query)[0] == [1, "111-11-1111"]


def test_when_follows_tags_inherited_from_catalog_and_schema(world: World) -> None:
    tag_ssn_and_region(world)
    mask_policy(world, when="WHEN has_tag_value('sensitivity', 'high')")
    query = f"SELECT ssn FROM {world.table} WHERE id = 1"
    assert ok(world.users["outsider"], query) == [["111-11-1111"]]  # no table matches yet
    catalog = world.schema.split(".")[0]
    ok(world.admin, f"SET TAG ON CATALOG {catalog} sensitivity = high")
    assert ok(world.users["outsider"], query) == [[None]]  # the catalog's tag reaches it
    ok(world.admin, f"UNSET TAG ON CATALOG {catalog} sensitivity")
    ok(world.admin, f"ALTER SCHEMA {world.schema} SET TAGS ('sensitivity' = 'high')")
    assert ok(world.users["outsider"], query) == [[None]]  # and so does the schema's


def test_a_table_created_after_the_policy_is_covered_at_once(world: World) -> None:
    mask_policy(world)
    later = f"{world.schema}.later_{unique('t')}"
    ok(
        world.admin,
        f"CREATE TABLE {later} (id BIGINT, ssn STRING COMMENT 'tagged next', region STRING)",
    )
    ok(world.admin, f"INSERT INTO {later} VALUES (1, '999-99-9999', 'EU')")
    ok(world.admin, f"GRANT SELECT ON TABLE {later} TO `{world.names['outsider']}`")
    assert ok(world.users["outsider"], f"SELECT ssn FROM {later}") == [["999-99-9999"]]
    tag_ssn_and_region(world, later)
    assert ok(world.users["outsider"], f"SELECT ssn FROM {later}") == [["***-**-9999"]]


def test_row_filter_policies_add_to_the_tables_own_filter(world: World) -> None:
    admin, schema = world.admin, world.schema
    ok(admin, f"CREATE FUNCTION {schema}.not_us(r STRING) RETURN r IS NULL OR r <> 'US'")
    ok(admin, f"CREATE FUNCTION {schema}.small(id BIGINT) RETURN id < 5")
    ok(admin, f"ALTER TABLE {world.table} ALTER COLUMN id SET TAGS ('key' = 'id')")
    tag_ssn_and_region(world)
    ok(
        admin,
        f"CREATE POLICY no_us ON TABLE {world.table} ROW FILTER {schema}.not_us "
        "TO `account users` FOR TABLES MATCH COLUMNS has_tag('geo') AS g USING COLUMNS (g)",
    )
    ok(
        admin,
        f"CREATE POLICY small ON CATALOG {schema.split('.')[0]} ROW FILTER {schema}.small "
        f"TO `{world.groups['analysts']}` FOR TABLES "
        "MATCH COLUMNS has_tag_value('key', 'id') AS k USING COLUMNS (k)",
    )
    query = f"SELECT id FROM {world.table} ORDER BY id"
    assert ids(world.users["outsider"], query) == [2, 4, 5]
    assert ids(world.users["analyst"], query) == [2, 4]  # both policies apply
    # With the table's own filter too, all three must keep a row.
    ok(admin, f"ALTER TABLE {world.table} SET ROW FILTER {schema}.by_region ON (region)")
    assert ids(world.users["analyst"], query) == [2, 4]
    assert ids(world.users["outsider"], query) == []
    assert ids(world.users["hr"], query) == [2, 4, 5]
    # The lookup API applies them alike.
    body = {"keys": [{"id": 1}, {"id": 2}, {"id": 5}]}
    found = world.users["hr"].post(LOOKUP.format(world.table), json=body)
    assert found.status_code == 200, found.text
    assert [row and row["id"] for row in found.json()["rows"]] == [None, 2, 5]
    policies = ok(admin, f"SHOW POLICIES ON TABLE {world.table}")
    assert [(p[0], p[3], p[4]) for p in policies] == [("no_us", "ROW FILTER", f"{schema}.not_us")]
    ok(admin, f"DROP POLICY no_us ON TABLE {world.table}")
    ok(admin, f"DROP POLICY IF EXISTS no_us ON TABLE {world.table}")
    failed(admin, f"DROP POLICY no_us ON TABLE {world.table}", "RESOURCE_DOES_NOT_EXIST", "no_us")
    assert ids(world.users["hr"], query) == [1, 2, 3, 4, 5]


def test_two_masks_on_one_column_are_an_error_naming_both(world: World) -> None:
    tag_ssn_and_region(world)
    ok(
        world.admin,
        f"ALTER TABLE {world.table} ALTER COLUMN ssn SET MASK {world.schema}.ssn_mask "
        "USING COLUMNS (region)",
    )
    mask_policy(world)
    message = failed(
        world.users["outsider"], f"SELECT ssn FROM {world.table}", "INVALID_STATE", "two masks"
    )
    assert "ssn_mask" in message and "hide_ssn" in message
    # A caller the policy excludes reads through the table's own mask alone.
    mask_policy(world, except_=f"EXCEPT `{world.names['outsider']}`")
    assert ok(world.users["outsider"], f"SELECT ssn FROM {world.table} WHERE id = 2") == [
        ["***-**-2222"]
    ]


def test_a_mask_policy_of_the_wrong_type_fails_closed_naming_it(world: World) -> None:
    tag_ssn_and_region(world)
    ok(world.admin, f"ALTER TABLE {world.table} ALTER COLUMN salary SET TAGS ('pii' = 'ssn')")
    mask_policy(world)
    message = failed(
        world.users["outsider"],
        f"SELECT salary FROM {world.table}",
        "INVALID_STATE",
        "salary",
        "hide_ssn",
    )
    assert "returns STRING" in message


def test_who_may_define_policies_and_what_is_checked(world: World) -> None:
    analyst, schema, table = world.users["analyst"], world.schema, world.table
    statement = (
        f"CREATE POLICY p ON TABLE {table} ROW FILTER {schema}.by_region TO `account users` "
        "FOR TABLES MATCH COLUMNS has_tag('geo') AS g USING COLUMNS (g)"
    )
    failed(analyst, statement, "PERMISSION_DENIED", "MANAGE")
    ok(world.admin, f"GRANT MANAGE ON TABLE {table} TO `{world.names['analyst']}`")
    # A function the caller cannot see is missing; one it sees needs EXECUTE.
    failed(analyst, statement, "RESOURCE_DOES_NOT_EXIST", "by_region")
    function = f"FUNCTION {schema}.by_region"
    ok(world.admin, f"GRANT BROWSE ON {function} TO `{world.names['analyst']}`")
    failed(analyst, statement, "PERMISSION_DENIED", "EXECUTE")
    ok(world.admin, f"GRANT EXECUTE ON {function} TO `{world.names['analyst']}`")
    ok(world.admin, f"GRANT EXECUTE ON FUNCTION {schema}.ssn_mask TO `{world.names['analyst']}`")
    ok(analyst, statement)
    failed(analyst, statement, "RESOURCE_ALREADY_EXISTS", "p")
    ok(analyst, statement.replace("CREATE POLICY", "CREATE OR REPLACE POLICY"))
    bad = [
        (statement.replace("by_region", "ssn_mask"), "INVALID_PARAMETER_VALUE", "takes 2"),
        (
            statement.replace("`account users`", "nobody_here"),
            "RESOURCE_DOES_NOT_EXIST",
            "nobody_here",
        ),
        (statement.replace("has_tag('geo')", "geo = 1"), "", "has_tag"),
        (statement.replace("(g)", "(h)"), "", "alias"),
    ]
    for sql, code, word in bad:
        if code:
            failed(analyst, sql.replace(" p ON", " q ON"), code, word)
        else:
            body = analyst.post(
                "/api/2.0/sql/statements", json={"statement": sql, "warehouse_id": "x"}
            ).json()
            assert body["status"]["state"] == "FAILED"
            error = body["status"]["error"]
            assert error["error_code"] == "PARSE_SYNTAX_ERROR", body
            assert word in error["message"] and "line 1, column" in error["message"], body
    assert [p[0] for p in ok(analyst, f"SHOW POLICIES ON TABLE {table}")] == ["p"]
    failed(world.users["outsider"], f"DROP POLICY p ON TABLE {table}", "PERMISSION_DENIED")


@pytest.mark.parametrize("statement", ["SHOW POLICIES ON SCHEMA {schema}"])
def test_show_policies_needs_only_to_see_the_object(world: World, statement: str) -> None:
    mask_policy(world)
    shown = ok(world.users["outsider"], statement.format(schema=world.schema))
    assert [row[0] for row in shown] == ["hide_ssn"]
    assert shown[0][5] == "account users"


# -- UPDATE and DELETE --------------------------------------------------------------------


def test_update_and_delete_by_filtered_users_change_only_what_they_see(world: World) -> None:
    protect(world)
    admin, analyst, name = world.admin, world.users["analyst"], world.names["analyst"]
    table = world.table
    failed(analyst, f"DELETE FROM {table} WHERE id > 0", "PERMISSION_DENIED", "MODIFY")
    ok(admin, f"GRANT MODIFY ON TABLE {table} TO `{name}`")
    # The analyst sees EU rows (2, 4): a DELETE of everything takes only those.
    assert ok(analyst, f"UPDATE {table} AS p SET salary = p.salary + 1 WHERE id > 0") == [[2]]
    hr = world.users["hr"]
    ok(admin, f"GRANT MODIFY ON TABLE {table} TO `{world.names['hr']}`")
    assert ok(hr, f"SELECT id, salary, ssn FROM {table} ORDER BY id") == [
        [1, 100.0, "111-11-1111"],
        [2, 201.0, "222-22-2222"],  # the masked ssn was not written back
        [3, 300.0, "333-33-3333"],
        [4, 401.0, None],
        [5, 500.0, "555-55-5555"],
    ]
    # SET may not read a masked column (it would store the masked value).
    failed(
        analyst,
        f"UPDATE {table} SET region = ssn",
        "INVALID_PARAMETER_VALUE",
        "masked",
        "line 1, column",
    )
    failed(analyst, f"UPDATE {table} SET id = 9", "INVALID_PARAMETER_VALUE", "primary key")
    assert ok(analyst, f"DELETE FROM {table}") == [[2]]
    assert ids(hr, f"SELECT id FROM {table} ORDER BY id") == [1, 3, 5]
    # A WHERE on a masked column sees the masked value.
    assert ok(hr, f"DELETE FROM {table} WHERE ssn = '111-11-1111'") == [[1]]
    assert ids(hr, f"SELECT id FROM {table} ORDER BY id") == [3, 5]
