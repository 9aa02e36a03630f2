"""Row filters, column masks and SQL functions as users meet them (docs/row-access.md),
over HTTP on both backends, in the scenarios of Databricks' documentation: filter by group
(nested groups too), masks with USING COLUMNS, predicates and grouping on masked values,
owners and admins not exempt, tables created with their policies inline, writes by
filtered users, the rows lookup API (latest and point-in-time), the REST view of a
table's policies, and the permission and validation errors of each statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.catalog.test_sql_data import failed, ok, records
from tests.support import ServerHandle, unique

UC = "/api/2.1/unity-catalog"
ROWS = "/api/2.1/steward/tables/{}/rows"
LOOKUP = "/api/2.1/steward/tables/{}/lookup"


@dataclass
class World:
    """A schema with a people table (owned by the admin), two functions and three users:
    ``hr`` in group ``hr``, ``analyst`` in ``eu_analysts`` (which is inside ``analysts``),
    and ``outsider`` in no group; each has SELECT on the table."""

    server: ServerHandle
    schema: str
    table: str
    users: dict[str, httpx.Client]
    names: dict[str, str]
    groups: dict[str, str]

    @property
    def admin(self) -> httpx.Client:
        return self.server.admin


def _group(admin: httpx.Client, *members: tuple[str, str]) -> str:
    name = unique("grp")
    ok(admin, f"CREATE GROUP `{name}`")
    for kind, member in members:
        ok(admin, f"ALTER GROUP `{name}` ADD {kind} `{member}`")
    return name


@pytest.fixture
def world(server: ServerHandle) -> World:
    admin = server.admin
    catalog = unique("fgac")
    schema = f"{catalog}.s"
    table = f"{schema}.people"
    ok(admin, f"CREATE CATALOG {catalog}")
    ok(admin, f"CREATE SCHEMA {schema}")
    ok(
        admin,
        f"CREATE TABLE {table} (id BIGINT NOT NULL, region STRING, ssn STRING, "
        "salary DOUBLE, CONSTRAINT people_pk PRIMARY KEY (id))",
    )
    ok(
        admin,
        f"INSERT INTO {table} VALUES (1, 'US', '111-11-1111', 100.0), "
        "(2, 'EU', '222-22-2222', 200.0), (3, 'US', '333-33-3333', 300.0), "
        "(4, 'EU', NULL, 400.0), (5, NULL, '555-55-5555', 500.0)",
    )
    users: dict[str, httpx.Client] = {}
    names: dict[str, str] = {}
    for role in ("hr", "analyst", "outsider"):
        name, token = server.create_user(f"{role}_{unique('u')}@example.com")
        names[role] = name
        users[role] = server.client(token)
        ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{name}`")
        ok(admin, f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{name}`")
        ok(admin, f"GRANT SELECT ON TABLE {table} TO `{name}`")
    hr = _group(admin, ("USER", names["hr"]))
    eu = _group(admin, ("USER", names["analyst"]))
    analysts = _group(admin, ("GROUP", eu))
    groups = {"hr": hr, "eu": eu, "analysts": analysts}
    # A filter: hr sees everything, analysts (nested) see EU rows, others US rows.
    ok(
        admin,
        f"CREATE FUNCTION {schema}.by_region(r STRING) RETURNS BOOLEAN RETURN "
        f"is_account_group_member('{hr}') OR "
        f"(is_member('{analysts}') AND r = 'EU') OR "
        f"(NOT is_member('{analysts}') AND r = 'US')",
    )
    # A mask with USING COLUMNS: hr sees the number, others its last four digits when
    # the row is in the EU, and nothing otherwise.
    ok(
        admin,
        f"CREATE FUNCTION {schema}.ssn_mask(s STRING, r STRING) RETURN CASE "
        f"WHEN is_member('{hr}') THEN s "
        "WHEN r = 'EU' THEN concat('***-**-', substring(s, 8, 4)) ELSE NULL END",
    )
    return World(server, schema, table, users, names, groups)


def protect(world: World) -> None:
    ok(
        world.admin,
        f"ALTER TABLE {world.table} SET ROW FILTER {world.schema}.by_region ON (region)",
    )
    ok(
        world.admin,
        f"ALTER TABLE {world.table} ALTER COLUMN ssn SET MASK {world.schema}.ssn_mask "
        "USING COLUMNS (region)",
    )


def ids(client: httpx.Client, sql: str) -> list[Any]:
    return [row[0] for row in ok(client, sql)]


def test_filter_by_group_and_nested_group(world: World) -> None:
    protect(world)
    query = f"SELECT id FROM {world.table} ORDER BY id"
    assert ids(world.users["hr"], query) == [1, 2, 3, 4, 5]
    assert ids(world.users["analyst"], query) == [2, 4]  # through eu_analysts ⊂ analysts
    assert ids(world.users["outsider"], query) == [1, 3]
    # Membership changes apply at the next statement.
    ok(world.admin, f"ALTER GROUP `{world.groups['eu']}` REMOVE USER `{world.names['analyst']}`")
    assert ids(world.users["analyst"], query) == [1, 3]


def test_masks_with_using_columns_and_predicates_on_masked_values(world: World) -> None:
    protect(world)
    analyst = world.users["analyst"]
    rows = records(analyst, f"SELECT id, ssn FROM {world.table} ORDER BY id")
    assert rows == [{"id": 2, "ssn": "***-**-2222"}, {"id": 4, "ssn": None}]
    # Predicates, grouping and ordering see the masked value, never the real one.
    assert ids(analyst, f"SELECT id FROM {world.table} WHERE ssn = '222-22-2222'") == []
    assert ids(analyst, f"SELECT id FROM {world.table} WHERE ssn LIKE '***%'") == [2]
    grouped = ok(analyst, f"SELECT ssn, count(*) FROM {world.table} GROUP BY ssn ORDER BY ssn")
    assert grouped == [[None, 1], ["***-**-2222", 1]]
    hr_rows = records(world.users["hr"], f"SELECT ssn FROM {world.table} WHERE id = 2")
    assert hr_rows == [{"ssn": "222-22-2222"}]
    # A join sees the masked value too.
    joined = ok(
        analyst,
        f"SELECT a.id FROM {world.table} a JOIN {world.table} b ON a.ssn = b.ssn ORDER BY a.id",
    )
    assert joined == [[2]]


def test_owner_and_admin_are_not_exempt(world: World) -> None:
    protect(world)
    # The admin owns the table and holds SELECT only as its owner: still filtered (the
    # admin is in no group, so it sees US rows and no social security numbers).
    rows = records(world.admin, f"SELECT id, ssn FROM {world.table} ORDER BY id")
    assert rows == [{"id": 1, "ssn": None}, {"id": 3, "ssn": None}]


def test_current_user_in_a_filter_and_in_queries(world: World) -> None:
    admin, schema = world.admin, world.schema
    owner_column = f"{schema}.mine"
    ok(admin, f"CREATE TABLE {owner_column} (id BIGINT, owner STRING)")
    hr, outsider = world.names["hr"], world.names["outsider"]
    ok(admin, f"INSERT INTO {owner_column} VALUES (1, '{hr}'), (2, '{outsider}'), (3, 'x')")
    ok(admin, f"CREATE FUNCTION {schema}.own_rows(o STRING) RETURN o = current_user()")
    ok(admin, f"ALTER TABLE {owner_column} SET ROW FILTER {schema}.own_rows ON (owner)")
    for role in ("hr", "outsider"):
        ok(admin, f"GRANT SELECT ON TABLE {owner_column} TO `{world.names[role]}`")
    assert ids(world.users["hr"], f"SELECT id FROM {owner_column}") == [1]
    assert ids(world.users["outsider"], f"SELECT id FROM {owner_column}") == [2]
    assert ok(world.users["hr"], "SELECT current_user(), session_user()") == [[hr, hr]]
    assert ok(world.users["hr"], f"SELECT is_member('{world.groups['hr']}')") == [[True]]
    assert ok(world.users["outsider"], "SELECT is_account_group_member('account users')") == [
        [True]
    ]


def test_policies_declared_in_create_table(world: World) -> None:
    admin, schema = world.admin, world.schema
    name = f"{schema}.inline"
    ok(
        admin,
        f"CREATE TABLE {name} (id BIGINT, region STRING, ssn STRING MASK {schema}.ssn_mask "
        f"USING COLUMNS (region)) WITH ROW FILTER {schema}.by_region ON (region)",
    )
    ok(admin, f"INSERT INTO {name} VALUES (1, 'EU', '123-45-6789'), (2, 'US', '987-65-4321')")
    ok(admin, f"GRANT SELECT ON TABLE {name} TO `{world.names['analyst']}`")
    assert ok(world.users["analyst"], f"SELECT id, ssn FROM {name}") == [[1, "***-**-6789"]]
    info = admin.get(f"{UC}/tables/{name}").json()
    assert info["row_filter"] == {
        "function_name": f"{schema}.by_region",
        "input_column_names": ["region"],
    }
    masks = {c["name"]: c.get("mask") for c in info["columns"]}
    assert masks == {
        "id": None,
        "region": None,
        "ssn": {"function_name": f"{schema}.ssn_mask", "using_column_names": ["region"]},
    }


def test_describe_table_extended_lists_filter_masks_and_tags(world: World) -> None:
    protect(world)
    admin, table = world.admin, world.table
    tagged = admin.post(
        "/api/2.1/unity-catalog/entity-tag-assignments",
        json={"entity_type": "columns", "entity_name": f"{table}.ssn", "tag_key": "pii"},
    )
    assert tagged.status_code == 200, tagged.text
    rows = ok(admin, f"DESCRIBE TABLE EXTENDED {table}")
    assert rows[:4] == [
        ["id", "bigint", None],
        ["region", "string", None],
        ["ssn", "string", None],
        ["salary", "double", None],
    ]
    after = rows[4:]
    assert ["# Row Filter", "", ""] in after
    assert ["Function", f"{world.schema}.by_region", ""] in after
    assert ["Input Columns", "[region]", ""] in after
    assert ["ssn", f"{world.schema}.ssn_mask", "[region]"] in after
    assert ["ssn", "pii", None] in after
    plain = ok(admin, f"DESCRIBE TABLE {table}")
    assert plain == rows[:4]


def test_writes_by_filtered_users_carry_only_what_they_see(world: World) -> None:
    protect(world)
    admin, schema = world.admin, world.schema
    copy = f"{schema}.copy_{unique('c')}"
    ok(admin, f"CREATE TABLE {copy} (id BIGINT, ssn STRING)")
    analyst = world.names["analyst"]
    ok(admin, f"GRANT MODIFY, SELECT ON TABLE {copy} TO `{analyst}`")
    ok(world.users["analyst"], f"INSERT INTO {copy} SELECT id, ssn FROM {world.table}")
    assert ok(admin, f"SELECT id, ssn FROM {copy} ORDER BY id") == [
        [2, "***-**-2222"],
        [4, None],
    ]
    # MERGE into a protected table: matching sees only the writer's rows, with masked
    # values; an UPDATE writes only what it assigns (the real ssn stays); a row the
    # writer cannot see matches nothing (3 comes as not matched).
    writer = world.users["analyst"]
    ok(admin, f"GRANT MODIFY ON TABLE {world.table} TO `{analyst}`")
    source = (
        "(SELECT 2 AS id, 250.0 AS salary UNION ALL SELECT 4, 450.0 UNION ALL SELECT 3, 30.0 "
        "UNION ALL SELECT 6, 60.0) s"
    )
    failed(
        writer,
        f"MERGE INTO {world.table} t USING {source} ON t.id = s.id\n"
        "WHEN MATCHED THEN UPDATE SET region = t.ssn",
        "INVALID_PARAMETER_VALUE",
        "masked",
        "line 2, column",
    )
    merged = ok(
        writer,
        f"MERGE INTO {world.table} t USING {source} ON t.id = s.id "
        "WHEN MATCHED AND t.ssn = '***-**-2222' THEN UPDATE SET salary = s.salary "
        "WHEN MATCHED THEN DELETE "
        "WHEN NOT MATCHED AND s.id > 5 THEN INSERT (id, region, salary) "
        "VALUES (s.id, 'EU', s.salary)",
    )
    assert merged == [[3, 1, 1, 1]]
    assert ok(world.users["hr"], f"SELECT * FROM {world.table} ORDER BY id") == [
        [1, "US", "111-11-1111", 100.0],
        [2, "EU", "222-22-2222", 250.0],
        [3, "US", "333-33-3333", 300.0],
        [5, None, "555-55-5555", 500.0],
        [6, "EU", None, 60.0],
    ]


def test_rows_lookup_api_applies_filter_and_masks(world: World) -> None:
    protect(world)
    body = {"keys": [{"id": 1}, {"id": 2}, {"id": 4}]}
    analyst = world.users["analyst"].post(LOOKUP.format(world.table), json=body)
    assert analyst.status_code == 200, analyst.text
    assert analyst.json()["rows"] == [
        None,
        {"id": 2, "region": "EU", "ssn": "***-**-2222", "salary": 200.0},
        {"id": 4, "region": "EU", "ssn": None, "salary": 400.0},
    ]
    hr = world.users["hr"].post(LOOKUP.format(world.table), json=body)
    assert [row["ssn"] if row else None for row in hr.json()["rows"]] == [
        "111-11-1111",
        "222-22-2222",
        None,
    ]


def test_point_in_time_lookup_sees_the_latest_visible_row(world: World) -> None:
    admin, schema = world.admin, world.schema
    name = f"{schema}.history"
    ok(
        admin,
        f"CREATE TABLE {name} (id BIGINT NOT NULL, ts TIMESTAMP NOT NULL, region STRING, "
        "v DOUBLE, CONSTRAINT history_pk PRIMARY KEY (id, ts TIMESERIES))",
    )
    ok(
        admin,
        f"INSERT INTO {name} VALUES (1, TIMESTAMP '2026-01-01 00:00:00', 'EU', 1.0), "
        "(1, TIMESTAMP '2026-01-02 00:00:00', 'US', 2.0)",
    )
    ok(admin, f"ALTER TABLE {name} SET ROW FILTER {schema}.by_region ON (region)")
    ok(admin, f"GRANT SELECT ON TABLE {name} TO `{world.names['analyst']}`")
    analyst = world.users["analyst"]
    latest = analyst.post(LOOKUP.format(name), json={"keys": [{"id": 1}]}).json()["rows"]
    assert latest[0]["v"] == 1.0  # the US row of Jan 2 is not there for an EU analyst
    as_of = analyst.post(
        LOOKUP.format(name),
        json={"keys": [{"id": 1}], "as_of": ["2026-01-03T00:00:00Z"]},
    ).json()["rows"]
    assert as_of[0]["v"] == 1.0
    assert ok(analyst, f"SELECT v FROM {name}") == [[1.0]]


def test_who_may_create_and_attach_functions(world: World) -> None:
    admin, schema, table = world.admin, world.schema, world.table
    outsider, name = world.users["outsider"], world.names["outsider"]
    failed(
        outsider,
        f"CREATE FUNCTION {schema}.f(x BIGINT) RETURN x > 1",
        "PERMISSION_DENIED",
        "CREATE FUNCTION",
    )
    ok(admin, f"GRANT CREATE FUNCTION ON SCHEMA {schema} TO `{name}`")
    ok(outsider, f"CREATE FUNCTION {schema}.mine(x STRING) RETURN x = 'US'")
    # Attaching needs MANAGE on the table (the outsider only reads it) …
    failed(
        outsider,
        f"ALTER TABLE {table} SET ROW FILTER {schema}.mine ON (region)",
        "PERMISSION_DENIED",
        "MANAGE",
    )
    ok(admin, f"GRANT MANAGE ON TABLE {table} TO `{name}`")
    # … and EXECUTE on the function: one the caller cannot see answers as missing.
    attach = f"ALTER TABLE {table} SET ROW FILTER {schema}.by_region ON (region)"
    failed(outsider, attach, "RESOURCE_DOES_NOT_EXIST", "does not exist")
    ok(admin, f"GRANT BROWSE ON FUNCTION {schema}.by_region TO `{name}`")
    failed(outsider, attach, "PERMISSION_DENIED", "EXECUTE")
    ok(outsider, f"ALTER TABLE {table} SET ROW FILTER {schema}.mine ON (region)")
    assert ids(world.users["analyst"], f"SELECT id FROM {table} ORDER BY id") == [1, 3]


def test_bad_definitions_are_refused_and_change_nothing(world: World) -> None:
    admin, schema, table = world.admin, world.schema, world.table
    failed(
        admin,
        f"CREATE FUNCTION {schema}.f(x BIGINT) RETURN y > 1",
        "INVALID_PARAMETER_VALUE",
        "'y' is not a parameter",
        "line 1",
    )
    failed(
        admin,
        f"CREATE FUNCTION {schema}.f(x BIGINT) RETURN pg_sleep(x)",
        "INVALID_PARAMETER_VALUE",
        "pg_sleep",
    )
    failed(
        admin,
        f"CREATE FUNCTION {schema}.f(x BIGINT) RETURN count(x) > 1",
        "INVALID_PARAMETER_VALUE",
        "per row",
    )
    failed(
        admin,
        f"ALTER TABLE {table} SET ROW FILTER {schema}.ssn_mask ON (ssn, region)",
        "INVALID_PARAMETER_VALUE",
        "must return BOOLEAN",
    )
    failed(
        admin,
        f"ALTER TABLE {table} SET ROW FILTER {schema}.by_region ON (region, ssn)",
        "INVALID_PARAMETER_VALUE",
        "takes 1 argument",
    )
    failed(
        admin,
        f"ALTER TABLE {table} SET ROW FILTER {schema}.by_region ON (nope)",
        "INVALID_PARAMETER_VALUE",
        "no column 'nope'",
    )
    failed(
        admin,
        f"ALTER TABLE {table} ALTER COLUMN salary SET MASK {schema}.ssn_mask USING COLUMNS "
        "(region)",
        "INVALID_PARAMETER_VALUE",
        "returns STRING",
    )
    failed(
        admin,
        f"ALTER TABLE {table} SET ROW FILTER {schema}.by_region ON region",
        "PARSE_SYNTAX_ERROR",
        "line 1, column",
    )
    info = admin.get(f"{UC}/tables/{table}").json()
    assert info.get("row_filter") is None
    assert all(c.get("mask") is None for c in info["columns"])
    assert ids(admin, f"SELECT id FROM {table} ORDER BY id") == [1, 2, 3, 4, 5]


def test_dropped_function_fails_closed_until_restored(world: World) -> None:
    protect(world)
    admin, schema, table = world.admin, world.schema, world.table
    ok(admin, f"DROP FUNCTION {schema}.by_region")
    failed(world.users["hr"], f"SELECT id FROM {table}", "INVALID_STATE", "by_region")
    lookup = world.users["hr"].post(LOOKUP.format(table), json={"keys": [{"id": 1}]})
    assert lookup.status_code == 409, lookup.text
    ok(admin, f"CREATE FUNCTION {schema}.by_region(r STRING) RETURN r = 'EU'")
    assert ids(world.users["hr"], f"SELECT id FROM {table} ORDER BY id") == [2, 4]
    ok(admin, f"ALTER TABLE {table} DROP ROW FILTER")
    ok(admin, f"ALTER TABLE {table} ALTER COLUMN ssn DROP MASK")
    assert len(ids(world.users["hr"], f"SELECT id FROM {table}")) == 5


def test_replacing_a_function_changes_what_its_tables_show(world: World) -> None:
    protect(world)
    admin, schema, table = world.admin, world.schema, world.table
    query = f"SELECT id FROM {table} ORDER BY id"
    assert ids(world.users["outsider"], query) == [1, 3]
    ok(admin, f"CREATE OR REPLACE FUNCTION {schema}.by_region(r STRING) RETURN r IS NULL")
    assert ids(world.users["outsider"], query) == [5]
    described = dict(ok(admin, f"DESCRIBE FUNCTION {schema}.by_region"))
    assert described["Returns"] == "BOOLEAN"
    assert described["Body"] == "r IS NULL"
    shown = ok(admin, f"SHOW FUNCTIONS IN {schema}")
    assert [row[2] for row in shown] == ["by_region", "ssn_mask"]


def test_use_catalog_and_schema(world: World) -> None:
    admin = world.admin
    catalog, schema = world.schema.split(".")
    assert ok(admin, f"USE CATALOG {catalog}") == [[catalog, None]]
    assert ok(admin, f"USE SCHEMA {world.schema}") == [[catalog, schema]]
    assert ok(admin, f"USE {schema}", catalog=catalog) == [[catalog, schema]]
    failed(world.users["outsider"], f"USE CATALOG {catalog}_gone", "RESOURCE_DOES_NOT_EXIST")


def test_percent_and_colon_in_a_body_reach_every_path_intact(world: World) -> None:
    """Bodies are generated SQL, not text a driver or SQLAlchemy may read parameters in."""
    admin, schema, table = world.admin, world.schema, world.table
    ok(admin, f"CREATE FUNCTION {schema}.odd(r STRING) RETURN r LIKE 'E%' OR r = 'x:y'")
    ok(admin, f"ALTER TABLE {table} SET ROW FILTER {schema}.odd ON (region)")
    outsider = world.users["outsider"]
    assert ids(outsider, f"SELECT id FROM {table} ORDER BY id") == [2, 4]
    found = outsider.post(LOOKUP.format(table), json={"keys": [{"id": 1}, {"id": 2}]})
    assert [row and row["id"] for row in found.json()["rows"]] == [None, 2]
