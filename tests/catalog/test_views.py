"""Views as Databricks users meet them (docs/sql.md), over HTTP on both backends: created
from a query, read with SELECT on the view alone (the owner's rights reach what it reads),
the base tables' row filters and masks applied for the querying user, dynamic views with
``current_user()`` / ``is_member()``, views over views, CREATE OR REPLACE, DROP VIEW,
lineage from the base tables, and each statement's errors.
"""

from __future__ import annotations

from tests.catalog.test_row_access import World, protect
from tests.catalog.test_row_access import world as world  # the fixture
from tests.catalog.test_sql_data import columns, failed, ok
from tests.support import unique


def view_name(world: World) -> str:
    return f"{world.schema}.v_{unique('v')}"


def test_select_on_the_view_suffices_and_filters_apply_for_the_reader(world: World) -> None:
    admin = world.admin
    protect(world)
    view = view_name(world)
    ok(
        admin,
        f"CREATE VIEW {view} COMMENT 'pay' AS "
        f"SELECT id, ssn, salary * 12 AS yearly FROM {world.table} WHERE salary > 150",
    )
    assert columns(admin, f"SELECT * FROM {view}") == [
        ("id", "bigint"),
        ("ssn", "string"),
        ("yearly", "double"),
    ]
    # A reader with SELECT on the view alone: no grant on the table.
    reader_name, token = world.server.create_user(f"viewer_{unique('u')}@example.com")
    reader = world.server.client(token)
    catalog = world.schema.split(".")[0]
    ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{reader_name}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {world.schema} TO `{reader_name}`")
    # Without SELECT on the view it is not there for the reader (invisible = missing).
    failed(reader, f"SELECT * FROM {view}", "RESOURCE_DOES_NOT_EXIST", "TABLE_OR_VIEW_NOT_FOUND")
    ok(admin, f"GRANT SELECT ON TABLE {view} TO `{reader_name}`")
    failed(reader, f"SELECT * FROM {world.table}", "RESOURCE_DOES_NOT_EXIST")
    # The table's filter is bound for the reader (no group: US rows), not the owner.
    assert ok(reader, f"SELECT id, ssn, yearly FROM {view} ORDER BY id") == [[3, None, 3600.0]]
    # hr, through its group, sees every row the view keeps, unmasked.
    ok(admin, f"GRANT SELECT ON TABLE {view} TO `{world.names['hr']}`")
    assert ok(world.users["hr"], f"SELECT id, ssn FROM {view} ORDER BY id") == [
        [2, "222-22-2222"],
        [3, "333-33-3333"],
        [4, None],
        [5, "555-55-5555"],
    ]
    # Joins, aliases and predicates over the view.
    assert ok(
        reader, f"SELECT count(*) FROM {view} AS v JOIN {view} w ON v.id = w.id WHERE v.yearly > 0"
    ) == [[1]]
    assert ok(admin, f"DESCRIBE TABLE {view}") == [
        ["id", "bigint", None],
        ["ssn", "string", None],
        ["yearly", "double", None],
    ]
    got = admin.get(f"/api/2.1/unity-catalog/tables/{view}").json()
    assert got["table_type"] == "VIEW" and "salary * 12" in got["view_definition"], got


def test_dynamic_view_and_views_over_views(world: World) -> None:
    admin = world.admin
    dynamic = view_name(world)
    ok(
        admin,
        f"CREATE VIEW {dynamic} AS SELECT id, CASE WHEN is_member('{world.groups['hr']}') "
        f"THEN ssn ELSE 'hidden' END AS ssn, current_user() AS reader FROM {world.table}",
    )
    outer = view_name(world)
    ok(admin, f"CREATE VIEW {outer} AS SELECT ssn, reader FROM {dynamic} WHERE id = 1")
    for role in ("hr", "outsider"):
        ok(admin, f"GRANT SELECT ON TABLE {outer} TO `{world.names[role]}`")
    assert ok(world.users["hr"], f"SELECT * FROM {outer}") == [["111-11-1111", world.names["hr"]]]
    assert ok(world.users["outsider"], f"SELECT * FROM {outer}") == [
        ["hidden", world.names["outsider"]]
    ]
    # A view reads with its owner's rights, and no further: given to a user who cannot
    # read the inner view, the outer one fails for every reader.
    ok(admin, f"ALTER TABLE {outer} OWNER TO `{world.names['outsider']}`")
    failed(world.users["hr"], f"SELECT * FROM {outer}", "RESOURCE_DOES_NOT_EXIST")
    ok(admin, f"GRANT SELECT ON TABLE {dynamic} TO `{world.names['outsider']}`")
    assert ok(world.users["hr"], f"SELECT ssn FROM {outer}") == [["111-11-1111"]]


def test_replace_drop_lineage_and_errors(world: World) -> None:
    admin = world.admin
    view = view_name(world)
    ok(admin, f"CREATE VIEW {view} AS SELECT id FROM {world.table}")
    failed(admin, f"CREATE VIEW {view} AS SELECT 1 AS a", "RESOURCE_ALREADY_EXISTS")
    ok(admin, f"CREATE VIEW IF NOT EXISTS {view} AS SELECT 1 AS a")
    ok(admin, f"GRANT SELECT ON TABLE {view} TO `{world.names['outsider']}`")
    ok(admin, f"CREATE OR REPLACE VIEW {view} AS SELECT id, region FROM {world.table}")
    assert ok(world.users["outsider"], f"SELECT * FROM {view} WHERE id = 1") == [[1, "US"]]
    upstream = ok(
        admin,
        "SELECT DISTINCT source_table_full_name FROM system.access.table_lineage "
        "WHERE target_table_full_name = :t",
        parameters=[{"name": "t", "value": view}],
    )
    assert upstream == [[world.table]]
    failed(admin, f"INSERT INTO {view} VALUES (9, 'x')", "INVALID_PARAMETER_VALUE", "view")
    failed(admin, f"DROP TABLE {view}", "INVALID_PARAMETER_VALUE", "DROP VIEW")
    failed(admin, f"DROP VIEW {world.table}", "INVALID_PARAMETER_VALUE", "DROP TABLE")
    failed(admin, f"CREATE OR REPLACE TABLE {view} (a INT)", "INVALID_PARAMETER_VALUE", "view")
    failed(
        admin,
        f"CREATE OR REPLACE VIEW {world.table} AS SELECT 1 AS a",
        "INVALID_PARAMETER_VALUE",
        "table",
    )
    failed(
        admin,
        f"CREATE VIEW {world.schema}.bad AS SELECT id, id FROM {world.table}",
        "INVALID_PARAMETER_VALUE",
        "two columns",
    )
    failed(
        world.users["outsider"],
        f"CREATE VIEW {world.schema}.mine AS SELECT 1 AS a",
        "PERMISSION_DENIED",
        "CREATE TABLE",
    )
    rows = world.admin.post(f"/api/2.1/steward/tables/{view}/lookup", json={"keys": [{"id": 1}]})
    assert rows.status_code == 400 and "view" in rows.json()["message"]
    ok(admin, f"DROP VIEW {view}")
    ok(admin, f"DROP VIEW IF EXISTS {view}")
    failed(admin, f"SELECT * FROM {view}", "RESOURCE_DOES_NOT_EXIST", "TABLE_OR_VIEW_NOT_FOUND")
