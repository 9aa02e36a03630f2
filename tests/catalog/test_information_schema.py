"""``system.information_schema`` (row_filters, column_masks, table_tags, column_tags,
policies) through the SQL endpoint, over HTTP on both backends (docs/sql.md): the columns,
each table's rows for an admin and for users who see only part of the catalog (rows about
hidden tables absent, no grant needed to read), rows following every change (filters,
masks, tags, policies, grants), WHERE / ORDER BY / GROUP BY / joins, and errors.
"""

from __future__ import annotations

from typing import Any

import pytest

from catalog.system_tables import INFORMATION_SCHEMA_TABLES
from tests.catalog.test_row_access import World, protect
from tests.catalog.test_row_access import world as world  # the fixture
from tests.catalog.test_sql_data import columns, failed, ok, records, run
from tests.support import ServerHandle, unique

IS = "system.information_schema"
TAGS = "/api/2.1/unity-catalog/entity-tag-assignments"


def catalog_of(world: World) -> str:
    return world.schema.split(".")[0]


def rows_of(client: Any, table: str, world: World, order: str) -> list[dict[str, Any]]:
    """The rows of ``table`` about the world's catalog."""
    where = (
        f"on_securable_name = '{catalog_of(world)}' OR on_securable_name LIKE "
        f"'{catalog_of(world)}.%'"
        if table == "policies"
        else f"catalog_name = '{catalog_of(world)}'"
    )
    return records(client, f"SELECT * FROM {IS}.{table} WHERE {where} ORDER BY {order}")


def hidden_table(world: World) -> str:
    """A second table in the world's schema, owned by the admin, granted to nobody: the
    world's users do not see it."""
    name = f"{world.schema}.hidden"
    ok(world.admin, f"CREATE TABLE {name} (id BIGINT, region STRING, ssn STRING)")
    ok(world.admin, f"ALTER TABLE {name} SET ROW FILTER {world.schema}.by_region ON (region)")
    ok(world.admin, f"CREATE FUNCTION {world.schema}.redact(s STRING) RETURN '***'")
    ok(world.admin, f"ALTER TABLE {name} ALTER COLUMN ssn SET MASK {world.schema}.redact")
    ok(world.admin, f"ALTER TABLE {name} SET TAGS ('secret' = 'yes')")
    ok(world.admin, f"ALTER TABLE {name} ALTER COLUMN ssn SET TAGS ('pii' = 'ssn')")
    ok(
        world.admin,
        f"CREATE POLICY on_hidden ON TABLE {name} ROW FILTER {world.schema}.by_region "
        "TO `account users` FOR TABLES MATCH COLUMNS has_tag('geo') AS g USING COLUMNS (g)",
    )
    return name


def govern(world: World) -> None:
    """Filter and mask on people, tags on it and its columns, and a policy on its schema."""
    protect(world)
    ok(world.admin, f"ALTER TABLE {world.table} SET TAGS ('domain' = 'people', 'certified')")
    ok(world.admin, f"ALTER TABLE {world.table} ALTER COLUMN ssn SET TAGS ('pii' = 'ssn')")
    ok(world.admin, f"SET TAG ON COLUMN {world.table}.region geo")
    ok(
        world.admin,
        f"CREATE POLICY hide_ssn ON SCHEMA {world.schema} COMMENT 'no numbers' "
        f"COLUMN MASK {world.schema}.ssn_mask "
        f"TO `account users` EXCEPT `{world.groups['hr']}` FOR TABLES "
        "MATCH COLUMNS has_tag_value('pii', 'ssn') AS s, has_tag('geo') AS g "
        "ON COLUMN s USING COLUMNS (g)",
    )


# -- columns -------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", INFORMATION_SCHEMA_TABLES, ids=lambda t: t.full_name)
def test_columns_and_an_empty_table_for_a_user_without_grants(
    server: ServerHandle, table: Any
) -> None:
    """No grant is needed; a table with no rows for the caller still has its columns."""
    _, token = server.create_user()
    nobody = server.client(token)
    expected = [(column, type_text.lower()) for column, type_text, _ in table.columns]
    assert columns(nobody, f"SELECT * FROM {table.full_name}") == expected
    assert columns(server.admin, f"SELECT * FROM {table.full_name} LIMIT 0") == expected
    assert ok(nobody, f"SELECT count(*) FROM {table.full_name}") == [[0]]
    # Upper case and back-quotes name the same table.
    short = table.full_name.split(".")[-1]
    assert ok(nobody, f"SELECT count(*) FROM `SYSTEM`.Information_Schema.`{short.upper()}`") == [
        [0]
    ]


# -- rows, for the admin and for users who see part of the catalog -------------------------------


def test_row_filters(world: World) -> None:
    govern(world)
    hidden_table(world)
    catalog = catalog_of(world)
    people = {
        "catalog_name": catalog,
        "schema_name": "s",
        "table_name": "people",
        "filter_catalog": catalog,
        "filter_schema": "s",
        "filter_name": "by_region",
        "filter_col_usage": "region",
    }
    hidden = {**people, "table_name": "hidden"}
    assert rows_of(world.admin, "row_filters", world, "table_name") == [hidden, people]
    assert rows_of(world.users["analyst"], "row_filters", world, "table_name") == [people]


def test_column_masks(world: World) -> None:
    govern(world)
    hidden_table(world)
    catalog = catalog_of(world)
    people = {
        "catalog_name": catalog,
        "schema_name": "s",
        "table_name": "people",
        "column_name": "ssn",
        "mask_catalog": catalog,
        "mask_schema": "s",
        "mask_name": "ssn_mask",
        "mask_col_usage": "region",
    }
    hidden = {**people, "table_name": "hidden", "mask_name": "redact", "mask_col_usage": None}
    assert rows_of(world.admin, "column_masks", world, "table_name") == [hidden, people]
    assert rows_of(world.users["hr"], "column_masks", world, "table_name") == [people]
    # NULL sorts first ascending, last descending, on both backends (as on Databricks).
    ordered = rows_of(world.admin, "column_masks", world, "mask_col_usage")
    assert [r["table_name"] for r in ordered] == ["hidden", "people"]
    ordered = rows_of(world.admin, "column_masks", world, "mask_col_usage DESC")
    assert [r["table_name"] for r in ordered] == ["people", "hidden"]


def test_table_and_column_tags(world: World) -> None:
    govern(world)
    hidden_table(world)
    catalog = catalog_of(world)
    # Tags on the catalog and schema are neither table nor column tags.
    ok(world.admin, f"SET TAG ON CATALOG {catalog} team = platform")
    ok(world.admin, f"ALTER SCHEMA {world.schema} SET TAGS ('sensitivity' = 'high')")
    where = {"catalog_name": catalog, "schema_name": "s"}
    table_tags = [
        {**where, "table_name": "hidden", "tag_name": "secret", "tag_value": "yes"},
        {**where, "table_name": "people", "tag_name": "certified", "tag_value": ""},
        {**where, "table_name": "people", "tag_name": "domain", "tag_value": "people"},
    ]
    order = "table_name, tag_name"
    assert rows_of(world.admin, "table_tags", world, order) == table_tags
    assert rows_of(world.users["outsider"], "table_tags", world, order) == table_tags[1:]
    column_tags = [
        {
            **where,
            "table_name": "hidden",
            "column_name": "ssn",
            "tag_name": "pii",
            "tag_value": "ssn",
        },
        {
            **where,
            "table_name": "people",
            "column_name": "region",
            "tag_name": "geo",
            "tag_value": "",
        },
        {
            **where,
            "table_name": "people",
            "column_name": "ssn",
            "tag_name": "pii",
            "tag_value": "ssn",
        },
    ]
    order = "table_name, column_name, tag_name"
    assert rows_of(world.admin, "column_tags", world, order) == column_tags
    assert rows_of(world.users["outsider"], "column_tags", world, order) == column_tags[1:]


def test_policies(world: World) -> None:
    govern(world)
    hidden_table(world)
    catalog = catalog_of(world)
    rows = rows_of(world.admin, "policies", world, "name")
    assert [(r["name"], r["on_securable_type"], r["on_securable_name"]) for r in rows] == [
        ("hide_ssn", "SCHEMA", world.schema),
        ("on_hidden", "TABLE", f"{world.schema}.hidden"),
    ]
    created_at = rows[0].pop("created_at")
    assert rows[0] == {
        "name": "hide_ssn",
        "on_securable_type": "SCHEMA",
        "on_securable_name": world.schema,
        "policy_type": "COLUMN MASK",
        "function_name": f"{catalog}.s.ssn_mask",
        "to_principals": "account users",
        "except_principals": world.groups["hr"],
        "when_condition": None,
        "match_columns": "HAS_TAG_VALUE('pii', 'ssn') AS s, HAS_TAG('geo') AS g",
        "on_column": "s",
        "using_columns": "g",
        "comment": "no numbers",
        "created_by": rows[1]["created_by"],
    }
    assert created_at.endswith("Z") and created_at[:4] >= "2024"
    assert rows[1]["policy_type"] == "ROW FILTER" and rows[1]["except_principals"] is None
    assert rows[1]["on_column"] is None and rows[1]["comment"] is None
    # A comment with quotes and backslashes comes back as written, as SHOW POLICIES says.
    ok(
        world.admin,
        f"CREATE OR REPLACE POLICY on_hidden ON TABLE {world.schema}.hidden "
        "COMMENT 'it\\'s \"x\" \\\\ \\\\n; --' ROW FILTER "
        f"{world.schema}.by_region TO `account users` FOR TABLES "
        "WHEN has_tag('secret') MATCH COLUMNS has_tag('geo') AS g USING COLUMNS (g)",
    )
    shown = ok(world.admin, f"SHOW POLICIES ON TABLE {world.schema}.hidden")[0]
    row = rows_of(world.admin, "policies", world, "name")[1]
    assert shown[11] == row["comment"] and "'" in row["comment"] and "\\" in row["comment"]
    assert shown[7] == row["when_condition"] and row["when_condition"]
    assert list(row.values())[:12] == [
        *shown[:5],
        shown[5],
        shown[6] or None,
        shown[7],
        shown[8] or None,
        shown[9],
        shown[10] or None,
        shown[11],
    ]
    # A user who sees the schema (USE SCHEMA) sees the schema's policy, not the hidden
    # table's; a user who sees neither sees none.
    analyst = rows_of(world.users["analyst"], "policies", world, "name")
    assert [r["name"] for r in analyst] == ["hide_ssn"]
    _, token = world.server.create_user()
    assert rows_of(world.server.client(token), "policies", world, "name") == []


def test_ownership_and_grants_decide_what_is_seen(world: World) -> None:
    """The catalog's visibility rule, whatever makes it hold: a grant on the table, a grant
    on its catalog that applies to tables, ownership of the schema."""
    hidden = hidden_table(world)
    analyst, name = world.users["analyst"], world.names["analyst"]
    query = f"SELECT table_name FROM {IS}.table_tags WHERE catalog_name = '{catalog_of(world)}'"
    assert ok(analyst, query) == []
    ok(world.admin, f"GRANT BROWSE ON TABLE {hidden} TO `{name}`")
    assert ok(analyst, query) == [["hidden"]]
    ok(world.admin, f"REVOKE BROWSE ON TABLE {hidden} FROM `{name}`")
    assert ok(analyst, query) == []
    ok(world.admin, f"GRANT SELECT ON CATALOG {catalog_of(world)} TO `{name}`")
    assert ok(analyst, query) == [["hidden"]]
    ok(world.admin, f"REVOKE SELECT ON CATALOG {catalog_of(world)} FROM `{name}`")
    assert ok(analyst, query) == []
    ok(world.admin, f"ALTER SCHEMA {world.schema} OWNER TO `{name}`")
    assert ok(analyst, query) == [["hidden"]]
    policies = f"SELECT name FROM {IS}.policies WHERE on_securable_name = '{hidden}'"
    assert ok(analyst, policies) == [["on_hidden"]]


# -- following changes -----------------------------------------------------------------------------


def test_rows_follow_every_change(world: World) -> None:
    admin, table, schema = world.admin, world.table, world.schema
    catalog = catalog_of(world)
    where = f"WHERE catalog_name = '{catalog}'"
    filters = f"SELECT table_name, filter_name, filter_col_usage FROM {IS}.row_filters {where}"
    masks = f"SELECT column_name, mask_name, mask_col_usage FROM {IS}.column_masks {where}"
    tags = f"SELECT tag_name, tag_value FROM {IS}.table_tags {where} ORDER BY tag_name"
    column_tags = f"SELECT column_name, tag_name, tag_value FROM {IS}.column_tags {where}"
    policies = f"SELECT name, policy_type FROM {IS}.policies WHERE on_securable_name = '{table}'"
    assert ok(admin, filters) == ok(admin, masks) == ok(admin, tags) == []
    assert ok(admin, column_tags) == ok(admin, policies) == []

    ok(admin, f"CREATE FUNCTION {schema}.always() RETURN true")
    ok(admin, f"CREATE FUNCTION {schema}.redact(s STRING) RETURN '***'")
    ok(admin, f"ALTER TABLE {table} SET ROW FILTER {schema}.always ON ()")
    assert ok(admin, filters) == [["people", "always", ""]]
    ok(admin, f"ALTER TABLE {table} SET ROW FILTER {schema}.by_region ON (region)")
    assert ok(admin, filters) == [["people", "by_region", "region"]]
    ok(admin, f"ALTER TABLE {table} DROP ROW FILTER")
    assert ok(admin, filters) == []

    ok(
        admin,
        f"ALTER TABLE {table} ALTER COLUMN ssn SET MASK {schema}.ssn_mask USING COLUMNS (region)",
    )
    assert ok(admin, masks) == [["ssn", "ssn_mask", "region"]]
    ok(admin, f"ALTER TABLE {table} ALTER COLUMN ssn DROP MASK")
    assert ok(admin, masks) == []

    ok(admin, f"ALTER TABLE {table} SET TAGS ('a' = '1', 'b')")
    assert ok(admin, tags) == [["a", "1"], ["b", ""]]
    ok(admin, f"ALTER TABLE {table} SET TAGS ('a' = '2')")
    ok(admin, f"ALTER TABLE {table} UNSET TAGS ('b')")
    assert ok(admin, tags) == [["a", "2"]]
    # A value with quotes, a backslash and SQL in it comes back as set (REST, unescaped).
    value = "it's \"x\" \\ '); DROP TABLE securables; --"
    response = admin.post(
        TAGS,
        json={"entity_type": "tables", "entity_name": table, "tag_key": "a", "tag_value": value},
    )
    assert response.status_code == 200, response.text
    assert ok(admin, tags) == [["a", value]]
    assert ok(
        admin,
        f"SELECT tag_name FROM {IS}.table_tags {where} AND tag_value = :v",
        parameters=[{"name": "v", "value": value}],
    ) == [["a"]]

    ok(admin, f"SET TAG ON COLUMN {table}.salary money")
    assert ok(admin, column_tags) == [["salary", "money", ""]]
    ok(admin, f"UNSET TAG ON COLUMN {table}.salary money")
    assert ok(admin, column_tags) == []

    statement = (
        f"POLICY p ON TABLE {table} ROW FILTER {schema}.by_region TO `account users` "
        "FOR TABLES MATCH COLUMNS has_tag('geo') AS g USING COLUMNS (g)"
    )
    ok(admin, f"CREATE {statement}")
    assert ok(admin, policies) == [["p", "ROW FILTER"]]
    ok(
        admin,
        f"CREATE OR REPLACE POLICY p ON TABLE {table} COLUMN MASK {schema}.redact "
        "TO `account users` FOR TABLES MATCH COLUMNS has_tag('geo') AS g ON COLUMN g",
    )
    assert ok(admin, policies) == [["p", "COLUMN MASK"]]
    ok(admin, f"DROP POLICY p ON TABLE {table}")
    assert ok(admin, policies) == []

    # Dropping a table takes its rows along.
    ok(admin, f"ALTER TABLE {table} SET TAGS ('c' = '3')")
    other = f"{schema}.other_{unique('t')}"
    ok(admin, f"CREATE TABLE {other} (id BIGINT)")
    ok(admin, f"ALTER TABLE {other} SET TAGS ('gone' = 'soon')")
    ok(admin, f"DROP TABLE {other}")
    assert [r[0] for r in ok(admin, tags)] == ["a", "c"]


# -- SQL over them --------------------------------------------------------------------------------


def test_where_order_group_and_joins(world: World) -> None:
    govern(world)
    hidden_table(world)
    admin, catalog = world.admin, catalog_of(world)
    # Masked columns with their tags: a join of two information_schema tables.
    joined = ok(
        admin,
        f"SELECT m.table_name, m.column_name, m.mask_name, t.tag_name, t.tag_value "
        f"FROM {IS}.column_masks AS m JOIN {IS}.column_tags AS t "
        "ON t.catalog_name = m.catalog_name AND t.schema_name = m.schema_name "
        "AND t.table_name = m.table_name AND t.column_name = m.column_name "
        f"WHERE m.catalog_name = '{catalog}' ORDER BY m.table_name DESC",
    )
    assert joined == [
        ["people", "ssn", "ssn_mask", "pii", "ssn"],
        ["hidden", "ssn", "redact", "pii", "ssn"],
    ]
    # As docs/sql.md shows it: JOIN … USING.
    documented = ok(
        admin,
        f"SELECT m.table_name, m.column_name, m.mask_name, t.tag_value "
        f"FROM {IS}.column_masks m JOIN {IS}.column_tags t "
        "USING (catalog_name, schema_name, table_name, column_name) "
        f"WHERE t.tag_name = 'pii' AND m.catalog_name = '{catalog}' ORDER BY 1, 2",
    )
    assert documented == [["hidden", "ssn", "redact", "ssn"], ["people", "ssn", "ssn_mask", "ssn"]]
    # Tables with a row filter but no table tag named 'domain' (LEFT JOIN … IS NULL).
    lonely = ok(
        admin,
        f"SELECT f.table_name FROM {IS}.row_filters AS f LEFT JOIN {IS}.table_tags AS t "
        "ON t.catalog_name = f.catalog_name AND t.schema_name = f.schema_name "
        "AND t.table_name = f.table_name AND t.tag_name = 'domain' "
        f"WHERE f.catalog_name = '{catalog}' AND t.tag_name IS NULL",
    )
    assert lonely == [["hidden"]]
    grouped = ok(
        admin,
        f"SELECT table_name, count(*) AS n FROM {IS}.column_tags WHERE catalog_name = "
        f"'{catalog}' GROUP BY table_name HAVING count(*) > 1 ORDER BY n DESC, table_name",
    )
    assert grouped == [["people", 2]]
    # Functions, LIKE, IN and time comparisons on the policies' created_at.
    policies = ok(
        admin,
        f"SELECT upper(name), length(function_name) > 0 FROM {IS}.policies "
        f"WHERE on_securable_name LIKE '{catalog}.%' AND policy_type IN ('COLUMN MASK') "
        "AND created_at > '2020-01-01' AND created_at <= current_timestamp() "
        "AND date_trunc('DAY', created_at) <= created_at",
    )
    assert policies == [["HIDE_SSN", True]]
    assert ok(
        admin,
        f"SELECT count(*) FROM {IS}.policies WHERE on_securable_name LIKE '{catalog}.%' "
        "AND created_at < '2020-01-01'",
    ) == [[0]]
    # Joined with a managed table.
    owners = f"{world.schema}.owners"
    ok(admin, f"CREATE TABLE {owners} (table_name STRING, team STRING)")
    ok(admin, f"INSERT INTO {owners} VALUES ('people', 'hr'), ('hidden', 'security')")
    with_data = ok(
        admin,
        f"SELECT f.table_name, o.team FROM {IS}.row_filters f JOIN {owners} o "
        f"ON o.table_name = f.table_name WHERE f.catalog_name = '{catalog}' ORDER BY o.team",
    )
    assert with_data == [["people", "hr"], ["hidden", "security"]]
    in_cte = ok(
        admin,
        f"WITH t AS (SELECT * FROM {IS}.table_tags WHERE catalog_name = '{catalog}') "
        "SELECT tag_name FROM t UNION ALL SELECT tag_name FROM t ORDER BY 1 LIMIT 3",
    )
    assert in_cte == [["certified"], ["certified"], ["domain"]]


def test_errors(world: World) -> None:
    admin = world.admin
    message = failed(
        admin,
        f"SELECT tag_name,\n  tag_key FROM {IS}.table_tags",
        "INVALID_PARAMETER_VALUE",
        "tag_key",
        "could not be resolved",
    )
    assert "line 2" in message, message
    failed(
        admin,
        f"SELECT * FROM {IS}.tables",
        "RESOURCE_DOES_NOT_EXIST",
        "is not a table",
        IS + ".row_filters",
    )
    failed(
        admin,
        f"INSERT INTO {IS}.table_tags VALUES ('a', 'b', 'c', 'd', 'e')",
        "INVALID_PARAMETER_VALUE",
        "read-only",
    )
    body = run(admin, f"SELECT * FROM {IS}.row_filters WHERE pg_sleep(1) IS NULL")
    assert body["status"]["state"] == "FAILED" and "pg_sleep" in body["status"]["error"]["message"]
