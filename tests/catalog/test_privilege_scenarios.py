"""Privilege scenarios from the Unity Catalog / Databricks documentation (docs/sql.md, §6).

Every case runs SQL over HTTP (``POST /api/2.0/sql/statements``) as real users
holding their own tokens, against one real server per backend (the ``server``
fixture, driven through one shared admin client). Each test builds its own catalog
tree with unique names.

How an action is observed — the privilege each probe needs, as implemented:

* ``DESCRIBE …`` / ``SHOW GRANTS ON …`` / ``GET …/tables/{name}``: seeing the object
  (BROWSE, or any privilege that applies to it, on it or inherited; no usage gate); SHOW
  GRANTS shows every grant to whoever may change them, else the caller's own;
* ``CREATE SCHEMA`` / ``CREATE TABLE`` / ``POST …/models``: CREATE … plus USE CATALOG
  (and USE SCHEMA);
* ``POST …/models/versions``: CREATE MODEL VERSION plus both usage gates;
* ``DROP`` / ``COMMENT ON``: MANAGE (or ownership) plus the usage gates;
* ``GRANT`` / ``REVOKE`` / ``ALTER … OWNER TO``: owner of the object or a container,
  a metastore admin, or MANAGE plus the usage gates;
* ``SHOW CATALOGS|SCHEMAS|TABLES|MODELS``: what the caller may see (rule 4), in a container
  it sees.

An object the caller may not see answers as a missing one (RESOURCE_DOES_NOT_EXIST naming
the outermost level it may not see); one it sees but may not act on is PERMISSION_DENIED.

* ``SELECT … FROM c.s.t``: SELECT plus USE CATALOG and USE SCHEMA; ``INSERT INTO`` /
  ``MERGE INTO``: MODIFY plus the gates (tests/catalog/test_sql_data.py has the rest).

The data-privilege scenarios are at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
import pytest

from tests.catalog.test_sql import failed, make_tree, ok, run
from tests.support import ServerHandle, unique

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"

# -- helpers ------------------------------------------------------------------------------


@dataclass
class Tree:
    catalog: str
    schema: str
    table: str


@dataclass
class Person:
    name: str
    client: httpx.Client


@dataclass
class Hub:
    """One server's clients: a shared admin client and one client per test user.

    Clients are made with ``verify=False``: the server is plain HTTP on localhost, and
    skipping the CA bundle makes a client ~50x cheaper to create than the default.
    """

    server: ServerHandle
    opened: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str) -> httpx.Client:
        client = httpx.Client(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            verify=False,
        )
        self.opened.append(client)
        return client

    @cached_property
    def admin(self) -> httpx.Client:
        return self.client(self.server.admin_token)

    def create_user(self, name: str | None = None) -> tuple[str, str]:
        """Like ServerHandle.create_user, through the shared admin client."""
        name = name or f"{unique('user')}@example.com"
        created = self.admin.post(f"{SCIM}/Users", json={"userName": name})
        assert created.status_code == 201, created.text
        issued = self.admin.post(
            "/api/2.0/token-management/on-behalf-of/tokens",
            json={"user_name": name, "comment": "privilege scenarios"},
        )
        assert issued.status_code == 200, issued.text
        return name.lower(), issued.json()["token_value"]

    def person(self) -> Person:
        name, token = self.create_user()
        return Person(name, self.client(token))


@pytest.fixture(scope="module")
def hub(server: ServerHandle) -> Iterator[Hub]:
    shared = Hub(server)
    yield shared
    for client in shared.opened:
        client.close()


@pytest.fixture
def tree(hub: Hub) -> Tree:
    return Tree(*make_tree(hub.admin))


def denied(client: httpx.Client, statement: str, *words: str, **extra: Any) -> str:
    """The statement fails with PERMISSION_DENIED and its message names every word."""
    message = failed(client, statement, "PERMISSION_DENIED", **extra)
    for word in words:
        assert word in message, (statement, message)
    return message


def hidden(client: httpx.Client, statement: str, name: str, **extra: Any) -> str:
    """The statement fails as if ``name`` (the outermost level the caller may not see) did
    not exist (docs/privileges.md, visibility)."""
    message = failed(client, statement, "RESOURCE_DOES_NOT_EXIST", **extra)
    assert f"'{name}' does not exist" in message, (statement, message)
    return message


def allowed(client: httpx.Client, statement: str) -> bool:
    """True when the statement succeeds, False when it is refused — denied, or answered as
    missing because the caller may not see the object; anything else fails."""
    body = run(client, statement)
    if body["status"]["state"] == "SUCCEEDED":
        return True
    code = body["status"]["error"]["error_code"]
    assert code in ("PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST"), (statement, body)
    return False


def grants(admin: httpx.Client, on: str, principal: str | None = None) -> set[tuple[str, str]]:
    """SHOW GRANTS [principal] ON <on> as {(principal, privilege)}."""
    who = f"`{principal}` " if principal else ""
    return {(row[0], row[1]) for row in ok(admin, f"SHOW GRANTS {who}ON {on}")}


def use(admin: httpx.Client, who: str, tree: Tree, *extra_on_schema: str) -> None:
    """USE CATALOG + USE SCHEMA on the tree (and more privileges on the schema)."""
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{who}`")
    privileges = ", ".join(["USE SCHEMA", *extra_on_schema])
    ok(admin, f"GRANT {privileges} ON SCHEMA {tree.schema} TO `{who}`")


def group(admin: httpx.Client, *members: str) -> str:
    name = unique("grp")
    ok(admin, f"CREATE GROUP `{name}`")
    for member in members:
        ok(admin, f"ALTER GROUP `{name}` ADD USER `{member}`")
    return name


def owner_of(admin: httpx.Client, kind: str, full_name: str) -> str:
    response = admin.get(f"{UC}/{kind}/{full_name}")
    assert response.status_code == 200, response.text
    return str(response.json()["owner"])


def exists(admin: httpx.Client, kind: str, full_name: str) -> bool:
    status = admin.get(f"{UC}/{kind}/{full_name}").status_code
    assert status in (200, 404)
    return status == 200


def create_model(client: httpx.Client, schema: str, name: str | None = None) -> httpx.Response:
    catalog_name, schema_name = schema.split(".")
    return client.post(
        f"{UC}/models",
        json={
            "catalog_name": catalog_name,
            "schema_name": schema_name,
            "name": name or unique("m"),
        },
    )


def new_model(admin: httpx.Client, schema: str) -> str:
    created = create_model(admin, schema)
    assert created.status_code == 200, created.text
    return str(created.json()["full_name"])


def new_version(client: httpx.Client, model: str) -> httpx.Response:
    catalog_name, schema_name, name = model.split(".")
    return client.post(
        f"{UC}/models/versions",
        json={
            "catalog_name": catalog_name,
            "schema_name": schema_name,
            "model_name": name,
            "source": "file:/tmp/model",
        },
    )


# -- usage gates: USE CATALOG and USE SCHEMA ----------------------------------------------


def test_create_table_without_use_schema_is_denied(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{alice.name}`")
    ok(admin, f"GRANT CREATE TABLE ON SCHEMA {tree.schema} TO `{alice.name}`")
    target = f"{tree.schema}.{unique('t')}"
    denied(alice.client, f"CREATE TABLE {target} (a INT)", "USE SCHEMA", tree.schema)
    assert not exists(admin, "tables", target)


def test_create_table_without_use_catalog_is_denied(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT USE SCHEMA, CREATE TABLE ON SCHEMA {tree.schema} TO `{alice.name}`")
    target = f"{tree.schema}.{unique('t')}"
    denied(alice.client, f"CREATE TABLE {target} (a INT)", "USE CATALOG", tree.catalog)
    assert not exists(admin, "tables", target)


def test_create_table_with_use_catalog_use_schema_and_create_table(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    use(admin, alice.name, tree)
    target = f"{tree.schema}.{unique('t')}"
    # USE CATALOG + USE SCHEMA alone do not allow creating.
    denied(alice.client, f"CREATE TABLE {target} (a INT)", "CREATE TABLE", tree.schema)
    ok(admin, f"GRANT CREATE TABLE ON SCHEMA {tree.schema} TO `{alice.name}`")
    ok(alice.client, f"CREATE TABLE {target} (a INT)")
    # The creator owns the new table: no grant was needed to describe or drop it.
    assert owner_of(admin, "tables", target) == alice.name
    assert ok(alice.client, f"DESCRIBE TABLE {target}") == [["a", "int", None]]
    ok(alice.client, f"DROP TABLE {target}")


def test_usage_privileges_granted_on_the_catalog_are_inherited(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(
        admin,
        f"GRANT USE CATALOG, USE SCHEMA, CREATE TABLE ON CATALOG {tree.catalog} TO `{alice.name}`",
    )
    # … in the schema that existed, and in one created after the grant.
    ok(alice.client, f"CREATE TABLE {tree.schema}.{unique('t')} (a INT)")
    later = f"{tree.catalog}.{unique('later')}"
    ok(admin, f"CREATE SCHEMA {later}")
    ok(alice.client, f"CREATE TABLE {later}.{unique('t')} (a INT)")


def test_usage_privileges_alone_reveal_no_table(hub: Hub, tree: Tree) -> None:
    """USE CATALOG/USE SCHEMA are prerequisites, not access: the table stays hidden."""
    admin, alice = hub.admin, hub.person()
    use(admin, alice.name, tree)
    hidden(alice.client, f"DESCRIBE TABLE {tree.table}", tree.table)
    hidden(alice.client, f"SHOW GRANTS ON TABLE {tree.table}", tree.table)
    assert ok(alice.client, f"SHOW TABLES IN {tree.schema}") == []


@pytest.mark.parametrize("missing", ["USE CATALOG", "USE SCHEMA"])
def test_manage_without_a_usage_gate_cannot_act(hub: Hub, tree: Tree, missing: str) -> None:
    admin, erin, frank = hub.admin, hub.person(), hub.person()
    ok(admin, f"GRANT MANAGE ON TABLE {tree.table} TO `{erin.name}`")
    if missing != "USE CATALOG":
        ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{erin.name}`")
    if missing != "USE SCHEMA":
        ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{erin.name}`")
    gate_object = tree.catalog if missing == "USE CATALOG" else tree.schema
    denied(erin.client, f"DROP TABLE {tree.table}", missing, gate_object)
    denied(erin.client, f"COMMENT ON TABLE {tree.table} IS 'x'")
    denied(erin.client, f"GRANT BROWSE ON TABLE {tree.table} TO `{frank.name}`")
    assert grants(admin, f"TABLE {tree.table}", frank.name) == set()
    assert exists(admin, "tables", tree.table)
    # The missing gate is all that was in the way.
    on = f"CATALOG {tree.catalog}" if missing == "USE CATALOG" else f"SCHEMA {tree.schema}"
    ok(admin, f"GRANT {missing} ON {on} TO `{erin.name}`")
    ok(erin.client, f"COMMENT ON TABLE {tree.table} IS 'managed'")
    assert hub.admin.get(f"{UC}/tables/{tree.table}").json()["comment"] == "managed"


def test_create_model_version_needs_both_usage_gates(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    model = new_model(admin, tree.schema)
    ok(admin, f"GRANT CREATE MODEL VERSION ON MODEL {model} TO `{alice.name}`")
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{alice.name}`")
    response = new_version(alice.client, model)
    assert response.status_code == 403, response.text
    assert "USE SCHEMA" in response.json()["message"]
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{alice.name}`")
    response = new_version(alice.client, model)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1


# -- CREATE privileges on containers and the metastore -------------------------------------


def test_create_schema_through_a_group_and_the_creator_owns_it(hub: Hub, tree: Tree) -> None:
    admin, alice, bob = hub.admin, hub.person(), hub.person()
    creators = group(admin, alice.name)
    ok(admin, f"GRANT CREATE SCHEMA ON CATALOG {tree.catalog} TO `{creators}`")
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{alice.name}`")
    mine = f"{tree.catalog}.{unique('s')}"
    ok(alice.client, f"CREATE SCHEMA {mine}")
    assert owner_of(admin, "schemas", mine) == alice.name
    # As owner she holds USE SCHEMA and CREATE TABLE on it, and may grant on it.
    ok(alice.client, f"CREATE TABLE {mine}.t (a INT)")
    ok(alice.client, f"GRANT USE SCHEMA ON SCHEMA {mine} TO `{bob.name}`")
    assert grants(admin, f"SCHEMA {mine}") == {(bob.name, "USE SCHEMA")}


def test_create_table_on_the_catalog_does_not_allow_create_schema(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT USE CATALOG, CREATE TABLE ON CATALOG {tree.catalog} TO `{alice.name}`")
    target = f"{tree.catalog}.{unique('s')}"
    denied(alice.client, f"CREATE SCHEMA {target}", "CREATE SCHEMA", tree.catalog)
    assert not exists(admin, "schemas", target)


def test_create_catalog_needs_create_catalog_on_the_metastore(hub: Hub) -> None:
    admin, alice = hub.admin, hub.person()
    first, second = unique("c"), unique("c")
    denied(alice.client, f"CREATE CATALOG {first}", "CREATE CATALOG", "METASTORE")
    assert not exists(admin, "catalogs", first)
    ok(admin, f"GRANT CREATE CATALOG ON METASTORE TO `{alice.name}`")
    ok(alice.client, f"CREATE CATALOG {first}")
    assert owner_of(admin, "catalogs", first) == alice.name
    # The owner needs no further grant to build inside her catalog.
    ok(alice.client, f"CREATE SCHEMA {first}.s")
    ok(alice.client, f"CREATE TABLE {first}.s.t (a INT)")
    # Revoking CREATE CATALOG stops new catalogs, not what she owns.
    ok(admin, f"REVOKE CREATE CATALOG ON METASTORE FROM `{alice.name}`")
    denied(alice.client, f"CREATE CATALOG {second}", "CREATE CATALOG")
    ok(alice.client, f"CREATE SCHEMA {first}.s2")


def test_create_model_needs_create_model_and_usage(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    use(admin, alice.name, tree)
    response = create_model(alice.client, tree.schema)
    assert response.status_code == 403 and "CREATE MODEL" in response.json()["message"]
    ok(admin, f"GRANT CREATE MODEL ON SCHEMA {tree.schema} TO `{alice.name}`")
    response = create_model(alice.client, tree.schema)
    assert response.status_code == 200, response.text
    assert response.json()["owner"] == alice.name


# -- BROWSE ------------------------------------------------------------------------------


def test_browse_on_the_catalog_shows_metadata_without_usage_gates(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT BROWSE ON CATALOG {tree.catalog} TO `{alice.name}`")
    assert ok(alice.client, f"DESCRIBE TABLE {tree.table}") == [
        ["id", "bigint", None],
        ["v", "string", None],
    ]
    assert dict(ok(alice.client, f"DESCRIBE SCHEMA {tree.schema}"))["Owner"] == "admin"
    assert alice.client.get(f"{UC}/tables/{tree.table}").status_code == 200
    assert ok(alice.client, f"SHOW GRANTS ON TABLE {tree.table}") == []
    # Metadata only: nothing that needs a usage gate or MANAGE.
    denied(alice.client, f"CREATE TABLE {tree.schema}.{unique('t')} (a INT)", "USE CATALOG")
    denied(alice.client, f"COMMENT ON TABLE {tree.table} IS 'x'")


def test_a_reader_may_describe_what_it_reads(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT SELECT ON TABLE {tree.table} TO `{alice.name}`")
    # SELECT shows the table (its metadata needs no usage gate, as BROWSE's does not)…
    assert [row[0] for row in ok(alice.client, f"DESCRIBE TABLE {tree.table}")] == ["id", "v"]
    assert alice.client.get(f"{UC}/tables/{tree.table}").json()["full_name"] == tree.table
    # …but reading its rows needs the gates; and the schema and catalog stay hidden.
    denied(alice.client, f"SELECT * FROM {tree.table}", "USE CATALOG", tree.catalog)
    hidden(alice.client, f"DESCRIBE SCHEMA {tree.schema}", tree.catalog)
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{alice.name}`")
    hidden(alice.client, f"DESCRIBE SCHEMA {tree.schema}", tree.schema)
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{alice.name}`")
    assert ok(alice.client, f"SELECT * FROM {tree.table}") == []


def test_browse_on_one_table_reveals_only_that_table(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    sibling = f"{tree.schema}.{unique('sib')}"
    ok(admin, f"CREATE TABLE {sibling} (a INT)")
    ok(admin, f"GRANT BROWSE ON TABLE {tree.table} TO `{alice.name}`")
    assert ok(alice.client, f"DESCRIBE TABLE {tree.table}")
    # The sibling and the containers stay hidden: as missing as a name never created.
    hidden(alice.client, f"DESCRIBE TABLE {sibling}", tree.catalog)
    hidden(alice.client, f"DESCRIBE SCHEMA {tree.schema}", tree.catalog)


# -- ALL PRIVILEGES -------------------------------------------------------------------------


def test_all_privileges_on_a_catalog_reaches_objects_created_later(hub: Hub, tree: Tree) -> None:
    admin, carol = hub.admin, hub.person()
    ok(admin, f"GRANT ALL PRIVILEGES ON CATALOG {tree.catalog} TO `{carol.name}`")
    later_schema = f"{tree.catalog}.{unique('later')}"
    ok(admin, f"CREATE SCHEMA {later_schema}")
    later_table = f"{later_schema}.{unique('t')}"
    ok(admin, f"CREATE TABLE {later_table} (a INT)")
    assert ok(carol.client, f"DESCRIBE TABLE {later_table}") == [["a", "int", None]]
    ok(carol.client, f"CREATE TABLE {later_schema}.{unique('mine')} (a INT)")
    assert create_model(carol.client, later_schema).status_code == 200
    assert grants(admin, f"CATALOG {tree.catalog}", carol.name) == {(carol.name, "ALL PRIVILEGES")}


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE {table}",
        "COMMENT ON TABLE {table} IS 'taken'",
        "GRANT BROWSE ON TABLE {table} TO `{other}`",
        "ALTER TABLE {table} OWNER TO `{me}`",
    ],
    ids=["drop", "comment", "grant", "alter-owner"],
)
def test_all_privileges_does_not_include_manage(hub: Hub, tree: Tree, statement: str) -> None:
    admin, carol, other = hub.admin, hub.person(), hub.person()
    ok(admin, f"GRANT ALL PRIVILEGES ON CATALOG {tree.catalog} TO `{carol.name}`")
    sql = statement.format(table=tree.table, other=other.name, me=carol.name)
    denied(carol.client, sql, "MANAGE", tree.table)
    # The denial changed nothing.
    table = admin.get(f"{UC}/tables/{tree.table}").json()
    assert table["owner"] == "admin" and table.get("comment") is None
    assert grants(admin, f"TABLE {tree.table}") == set()


def test_all_privileges_on_a_model_includes_create_model_version(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    model = new_model(admin, tree.schema)
    use(admin, alice.name, tree)
    # The usage gates do not show the model: it answers as missing.
    assert new_version(alice.client, model).status_code == 404
    ok(admin, f"GRANT ALL PRIVILEGES ON MODEL {model} TO `{alice.name}`")
    assert new_version(alice.client, model).status_code == 200
    # … but not MANAGE: she cannot drop the model.
    denied(alice.client, f"DROP MODEL {model}", "MANAGE", model)


def test_revoking_one_privilege_does_not_narrow_all_privileges(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT ALL PRIVILEGES ON TABLE {tree.table} TO `{alice.name}`")
    # BROWSE was never granted on its own: revoking it succeeds and changes nothing.
    ok(admin, f"REVOKE BROWSE ON TABLE {tree.table} FROM `{alice.name}`")
    assert grants(admin, f"TABLE {tree.table}") == {(alice.name, "ALL PRIVILEGES")}
    assert ok(alice.client, f"DESCRIBE TABLE {tree.table}")


# -- MANAGE --------------------------------------------------------------------------------


def test_manage_can_grant_and_revoke(hub: Hub, tree: Tree) -> None:
    admin, erin, frank = hub.admin, hub.person(), hub.person()
    use(admin, erin.name, tree)
    ok(admin, f"GRANT MANAGE ON TABLE {tree.table} TO `{erin.name}`")
    ok(erin.client, f"GRANT BROWSE, SELECT ON TABLE {tree.table} TO `{frank.name}`")
    assert allowed(frank.client, f"DESCRIBE TABLE {tree.table}")
    ok(erin.client, f"REVOKE BROWSE ON TABLE {tree.table} FROM `{frank.name}`")
    assert grants(admin, f"TABLE {tree.table}", frank.name) == {(frank.name, "SELECT")}
    assert allowed(frank.client, f"DESCRIBE TABLE {tree.table}")  # SELECT still shows it
    ok(erin.client, f"REVOKE ALL PRIVILEGES ON TABLE {tree.table} FROM `{frank.name}`")
    assert not allowed(frank.client, f"DESCRIBE TABLE {tree.table}")
    assert grants(admin, f"TABLE {tree.table}") == {(erin.name, "MANAGE")}


def test_manage_inherited_from_the_schema_covers_tables_created_later(hub: Hub, tree: Tree) -> None:
    admin, erin, frank = hub.admin, hub.person(), hub.person()
    use(admin, erin.name, tree)
    ok(admin, f"GRANT MANAGE ON SCHEMA {tree.schema} TO `{erin.name}`")
    later = f"{tree.schema}.{unique('later')}"
    ok(admin, f"CREATE TABLE {later} (a INT)")
    ok(erin.client, f"GRANT BROWSE ON TABLE {later} TO `{frank.name}`")
    ok(erin.client, f"COMMENT ON TABLE {later} IS 'by erin'")
    ok(erin.client, f"DROP TABLE {later}")
    assert not exists(admin, "tables", later)


def test_manage_can_transfer_ownership(hub: Hub, tree: Tree) -> None:
    admin, erin, frank = hub.admin, hub.person(), hub.person()
    use(admin, erin.name, tree)
    ok(admin, f"GRANT MANAGE ON TABLE {tree.table} TO `{erin.name}`")
    ok(erin.client, f"ALTER TABLE {tree.table} OWNER TO `{frank.name}`")
    assert owner_of(admin, "tables", tree.table) == frank.name


def test_manage_does_not_give_the_privileges_it_manages(hub: Hub, tree: Tree) -> None:
    """MANAGE on a schema is not CREATE TABLE; the holder may grant it to itself."""
    admin, erin = hub.admin, hub.person()
    use(admin, erin.name, tree)
    ok(admin, f"GRANT MANAGE ON SCHEMA {tree.schema} TO `{erin.name}`")
    target = f"{tree.schema}.{unique('t')}"
    denied(erin.client, f"CREATE TABLE {target} (a INT)", "CREATE TABLE", tree.schema)
    ok(erin.client, f"GRANT CREATE TABLE ON SCHEMA {tree.schema} TO `{erin.name}`")
    ok(erin.client, f"CREATE TABLE {target} (a INT)")


def test_manage_on_one_table_does_not_reach_its_sibling(hub: Hub, tree: Tree) -> None:
    admin, erin, frank = hub.admin, hub.person(), hub.person()
    sibling = f"{tree.schema}.{unique('sib')}"
    ok(admin, f"CREATE TABLE {sibling} (a INT)")
    use(admin, erin.name, tree)
    ok(admin, f"GRANT MANAGE ON TABLE {tree.table} TO `{erin.name}`")
    # She does not even see the sibling: it answers as missing.
    hidden(erin.client, f"GRANT BROWSE ON TABLE {sibling} TO `{frank.name}`", sibling)
    hidden(erin.client, f"DROP TABLE {sibling}", sibling)
    # Once she sees it (BROWSE), the refusal names what she lacks.
    ok(admin, f"GRANT BROWSE ON TABLE {sibling} TO `{erin.name}`")
    denied(erin.client, f"GRANT BROWSE ON TABLE {sibling} TO `{frank.name}`", "MANAGE", sibling)
    denied(erin.client, f"DROP TABLE {sibling}", "MANAGE", sibling)


# -- owners ----------------------------------------------------------------------------------


def test_schema_owner_can_grant_on_a_table_but_holds_nothing_on_it(hub: Hub, tree: Tree) -> None:
    """Owners of a schema do not automatically hold privileges on its tables, but may grant
    them (to themselves too). docs/privileges.md: the owner holds every privilege on *it*."""
    admin, olga, bob = hub.admin, hub.person(), hub.person()
    ok(admin, f"ALTER SCHEMA {tree.schema} OWNER TO `{olga.name}`")
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{olga.name}`")
    # She sees the table (she owns a container): listed, described…
    assert tree.table.split(".") in ok(olga.client, f"SHOW TABLES IN {tree.schema}")
    assert ok(olga.client, f"DESCRIBE TABLE {tree.table}")
    # …but holds no data privilege on it.
    denied(olga.client, f"SELECT * FROM {tree.table}", "SELECT", tree.table)
    # Yet she may grant on it — to others and to herself.
    ok(olga.client, f"GRANT SELECT ON TABLE {tree.table} TO `{bob.name}`")
    ok(olga.client, f"GRANT SELECT ON TABLE {tree.table} TO `{olga.name}`")
    assert ok(olga.client, f"SELECT * FROM {tree.table}") == []
    assert grants(admin, f"TABLE {tree.table}") == {(bob.name, "SELECT"), (olga.name, "SELECT")}


def test_catalog_owner_manages_grants_and_owners_two_levels_down(hub: Hub, tree: Tree) -> None:
    admin, olga, bob = hub.admin, hub.person(), hub.person()
    ok(admin, f"ALTER CATALOG {tree.catalog} OWNER TO `{olga.name}`")
    ok(olga.client, f"GRANT MODIFY ON TABLE {tree.table} TO `{bob.name}`")
    ok(olga.client, f"ALTER TABLE {tree.table} OWNER TO `{bob.name}`")
    ok(olga.client, f"ALTER SCHEMA {tree.schema} OWNER TO `{bob.name}`")
    assert owner_of(admin, "tables", tree.table) == bob.name
    assert owner_of(admin, "schemas", tree.schema) == bob.name
    assert grants(admin, f"TABLE {tree.table}") == {(bob.name, "MODIFY")}


def test_owner_keeps_every_privilege_after_its_create_grant_is_revoked(
    hub: Hub, tree: Tree
) -> None:
    admin, alice, bob = hub.admin, hub.person(), hub.person()
    use(admin, alice.name, tree, "CREATE TABLE")
    mine = f"{tree.schema}.{unique('mine')}"
    ok(alice.client, f"CREATE TABLE {mine} (a INT)")
    ok(admin, f"REVOKE CREATE TABLE ON SCHEMA {tree.schema} FROM `{alice.name}`")
    assert ok(alice.client, f"DESCRIBE TABLE {mine}")
    ok(alice.client, f"COMMENT ON TABLE {mine} IS 'still mine'")
    ok(alice.client, f"GRANT SELECT ON TABLE {mine} TO `{bob.name}`")
    ok(alice.client, f"DROP TABLE {mine}")


def test_ownership_transfer_takes_the_old_owners_rights(hub: Hub, tree: Tree) -> None:
    admin, alice, bob, carl = hub.admin, hub.person(), hub.person(), hub.person()
    use(admin, alice.name, tree, "CREATE TABLE")
    use(admin, bob.name, tree)
    mine = f"{tree.schema}.{unique('t')}"
    ok(alice.client, f"CREATE TABLE {mine} (a INT)")
    ok(alice.client, f"ALTER TABLE {mine} OWNER TO `{bob.name}`")
    assert owner_of(admin, "tables", mine) == bob.name
    # Alice kept no implicit privilege: she no longer even sees it — no describe, no grants,
    # no drop, no transfer back.
    hidden(alice.client, f"DESCRIBE TABLE {mine}", mine)
    hidden(alice.client, f"GRANT SELECT ON TABLE {mine} TO `{carl.name}`", mine)
    hidden(alice.client, f"DROP TABLE {mine}", mine)
    hidden(alice.client, f"ALTER TABLE {mine} OWNER TO `{alice.name}`", mine)
    assert grants(admin, f"TABLE {mine}") == set()
    # Bob now has them.
    ok(bob.client, f"GRANT SELECT ON TABLE {mine} TO `{carl.name}`")
    ok(bob.client, f"DROP TABLE {mine}")


def test_ownership_by_a_group_reaches_its_members_only(hub: Hub, tree: Tree) -> None:
    admin, alice, bob = hub.admin, hub.person(), hub.person()
    owners = group(admin, alice.name)
    ok(admin, f"ALTER SCHEMA {tree.schema} OWNER TO `{owners}`")
    assert owner_of(admin, "schemas", tree.schema) == owners
    for who in (alice, bob):
        ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{who.name}`")
    # A member acts as owner: creates inside it (the new table is hers) and grants on it.
    mine = f"{tree.schema}.{unique('t')}"
    ok(alice.client, f"CREATE TABLE {mine} (a INT)")
    assert owner_of(admin, "tables", mine) == alice.name
    ok(alice.client, f"GRANT BROWSE ON SCHEMA {tree.schema} TO `{bob.name}`")
    # A non-member does not.
    denied(bob.client, f"CREATE TABLE {tree.schema}.{unique('t')} (a INT)", "USE SCHEMA")
    denied(bob.client, f"GRANT BROWSE ON SCHEMA {tree.schema} TO `{bob.name}`", "MANAGE")
    # Leaving the group ends it: she no longer sees the schema.
    ok(admin, f"ALTER GROUP `{owners}` REMOVE USER `{alice.name}`")
    hidden(alice.client, f"CREATE TABLE {tree.schema}.{unique('t')} (a INT)", tree.schema)


def test_alter_owner_by_a_non_owner_is_denied(hub: Hub, tree: Tree) -> None:
    admin, bob = hub.admin, hub.person()
    ok(admin, f"GRANT BROWSE ON CATALOG {tree.catalog} TO `{bob.name}`")
    denied(bob.client, f"ALTER SCHEMA {tree.schema} OWNER TO `{bob.name}`", "MANAGE")
    denied(bob.client, f"ALTER CATALOG {tree.catalog} OWNER TO `{bob.name}`", "MANAGE")
    assert owner_of(admin, "schemas", tree.schema) == "admin"
    assert owner_of(admin, "catalogs", tree.catalog) == "admin"


def test_drop_needs_ownership_or_manage_not_all_privileges(hub: Hub, tree: Tree) -> None:
    """DROP SCHEMA follows the ownership rule (docs/privileges.md, owners): ALL PRIVILEGES is
    not enough; the owner may drop, and like every owner needs no usage gate to do so."""
    admin, alice = hub.admin, hub.person()
    empty = f"{tree.catalog}.{unique('empty')}"
    ok(admin, f"CREATE SCHEMA {empty}")
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{alice.name}`")
    ok(admin, f"GRANT ALL PRIVILEGES ON SCHEMA {empty} TO `{alice.name}`")
    denied(alice.client, f"DROP SCHEMA {empty}", "MANAGE", empty)
    assert exists(admin, "schemas", empty)
    ok(admin, f"ALTER SCHEMA {empty} OWNER TO `{alice.name}`")
    ok(admin, f"REVOKE USE CATALOG ON CATALOG {tree.catalog} FROM `{alice.name}`")
    ok(alice.client, f"DROP SCHEMA {empty}")
    assert not exists(admin, "schemas", empty)


@pytest.mark.parametrize("level", ["schema", "catalog"])
def test_container_owner_can_drop_an_object_inside(hub: Hub, tree: Tree, level: str) -> None:
    admin, olga = hub.admin, hub.person()
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{olga.name}`")
    if level == "schema":
        ok(admin, f"ALTER SCHEMA {tree.schema} OWNER TO `{olga.name}`")
        ok(olga.client, f"DROP TABLE {tree.table}")
        assert not exists(admin, "tables", tree.table)
    else:
        ok(admin, f"ALTER CATALOG {tree.catalog} OWNER TO `{olga.name}`")
        ok(olga.client, f"DROP SCHEMA {tree.schema} CASCADE")
        assert not exists(admin, "schemas", tree.schema)


# -- groups ----------------------------------------------------------------------------------


def test_grants_reach_a_member_of_groups_nested_three_deep(hub: Hub, tree: Tree) -> None:
    admin, gina = hub.admin, hub.person()
    top, middle, bottom = unique("top"), unique("mid"), unique("bot")
    for name in (top, middle, bottom):
        ok(admin, f"CREATE GROUP `{name}`")
    ok(admin, f"ALTER GROUP `{top}` ADD GROUP `{middle}`")
    ok(admin, f"ALTER GROUP `{middle}` ADD GROUP `{bottom}`")
    ok(admin, f"ALTER GROUP `{bottom}` ADD USER `{gina.name}`")
    use(admin, top, tree, "CREATE TABLE")
    ok(gina.client, f"CREATE TABLE {tree.schema}.{unique('t')} (a INT)")
    # Unlinking the middle of the chain takes the access away at once (and the sight).
    ok(admin, f"ALTER GROUP `{middle}` REMOVE GROUP `{bottom}`")
    hidden(gina.client, f"CREATE TABLE {tree.schema}.{unique('t')} (a INT)", tree.catalog)


def test_removal_from_a_group_takes_effect_on_the_next_statement(hub: Hub, tree: Tree) -> None:
    admin, gina = hub.admin, hub.person()
    readers = group(admin, gina.name)
    ok(admin, f"GRANT BROWSE ON CATALOG {tree.catalog} TO `{readers}`")
    assert allowed(gina.client, f"DESCRIBE TABLE {tree.table}")
    ok(admin, f"ALTER GROUP `{readers}` REMOVE USER `{gina.name}`")
    # Same token, no new session: the very next statement is denied.
    assert not allowed(gina.client, f"DESCRIBE TABLE {tree.table}")
    ok(admin, f"ALTER GROUP `{readers}` ADD USER `{gina.name}`")
    assert allowed(gina.client, f"DESCRIBE TABLE {tree.table}")


def test_direct_and_group_grants_combine(hub: Hub, tree: Tree) -> None:
    admin, gina = hub.admin, hub.person()
    users, writers = group(admin, gina.name), group(admin, gina.name)
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{users}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{gina.name}`")
    target = f"{tree.schema}.{unique('t')}"
    denied(gina.client, f"CREATE TABLE {target} (a INT)", "CREATE TABLE")
    ok(admin, f"GRANT CREATE TABLE ON SCHEMA {tree.schema} TO `{writers}`")
    ok(gina.client, f"CREATE TABLE {target} (a INT)")


def test_dropping_a_group_drops_its_grants(hub: Hub, tree: Tree) -> None:
    admin, gina = hub.admin, hub.person()
    readers = group(admin, gina.name)
    ok(admin, f"GRANT BROWSE ON TABLE {tree.table} TO `{readers}`")
    assert allowed(gina.client, f"DESCRIBE TABLE {tree.table}")
    ok(admin, f"DROP GROUP `{readers}`")
    assert not allowed(gina.client, f"DESCRIBE TABLE {tree.table}")
    assert grants(admin, f"TABLE {tree.table}") == set()
    # A new group of the same name starts with nothing.
    ok(admin, f"CREATE GROUP `{readers}`")
    ok(admin, f"ALTER GROUP `{readers}` ADD USER `{gina.name}`")
    assert not allowed(gina.client, f"DESCRIBE TABLE {tree.table}")


def test_grant_to_an_account_users_like_group(hub: Hub, tree: Tree) -> None:
    """The built-in `account users` holds every user, as the docs' examples write it
    (back-quoted, a space in the name, any case); its membership is not managed."""
    admin, gina = hub.admin, hub.person()
    failed(admin, "CREATE GROUP `account users`", "RESOURCE_ALREADY_EXISTS")
    failed(admin, f"ALTER GROUP `Account Users` ADD USER `{gina.name}`", "INVALID_PARAMETER_VALUE")
    ok(admin, f"GRANT BROWSE ON CATALOG {tree.catalog} TO `account users`")
    assert grants(admin, f"CATALOG {tree.catalog}") == {("account users", "BROWSE")}
    assert allowed(gina.client, f"DESCRIBE TABLE {tree.table}")
    ok(admin, f"REVOKE BROWSE ON CATALOG {tree.catalog} FROM `ACCOUNT USERS`")
    assert not allowed(gina.client, f"DESCRIBE TABLE {tree.table}")


# -- metastore admin ------------------------------------------------------------------------


def test_metastore_admin_manages_what_it_neither_owns_nor_was_granted(
    hub: Hub,
) -> None:
    admin, alice, bob = hub.admin, hub.person(), hub.person()
    ok(admin, f"GRANT CREATE CATALOG ON METASTORE TO `{alice.name}`")
    hers = unique("c")
    ok(alice.client, f"CREATE CATALOG {hers}")
    ok(alice.client, f"CREATE SCHEMA {hers}.s")
    ok(alice.client, f"CREATE TABLE {hers}.s.t (a INT)")
    assert grants(admin, f"CATALOG {hers}") == set()
    assert ok(admin, f"DESCRIBE TABLE {hers}.s.t")
    ok(admin, f"GRANT BROWSE ON TABLE {hers}.s.t TO `{bob.name}`")
    ok(admin, f"COMMENT ON SCHEMA {hers}.s IS 'admin was here'")
    ok(admin, f"ALTER TABLE {hers}.s.t OWNER TO `{bob.name}`")
    ok(admin, f"DROP CATALOG {hers} CASCADE")
    assert not exists(admin, "catalogs", hers)


def test_metastore_admin_holds_no_data_grant_but_may_give_itself_one(hub: Hub, tree: Tree) -> None:
    """Admins hold no data privilege implicitly (checked: no grant exists); they may grant
    it to themselves. That the data itself is denied until then: see
    test_metastore_admin_reads_data_only_after_granting_itself."""
    admin = hub.admin
    model = new_model(admin, tree.schema)
    assert grants(admin, f"TABLE {tree.table}", "admin") == set()
    ok(admin, f"GRANT SELECT, MODIFY ON TABLE {tree.table} TO admin")
    ok(admin, f"GRANT EXECUTE ON FUNCTION {model} TO admin")
    assert grants(admin, f"TABLE {tree.table}") == {("admin", "SELECT"), ("admin", "MODIFY")}
    assert grants(admin, f"MODEL {model}") == {("admin", "EXECUTE")}


# -- REVOKE ---------------------------------------------------------------------------------


def test_revoke_all_privileges_removes_every_direct_grant_and_nothing_else(
    hub: Hub, tree: Tree
) -> None:
    admin, alice, bob = hub.admin, hub.person(), hub.person()
    use(admin, alice.name, tree)
    ok(admin, f"GRANT SELECT, MODIFY, BROWSE, MANAGE ON TABLE {tree.table} TO `{alice.name}`")
    ok(admin, f"GRANT SELECT ON TABLE {tree.table} TO `{bob.name}`")
    ok(admin, f"GRANT BROWSE ON CATALOG {tree.catalog} TO `{alice.name}`")
    ok(admin, f"REVOKE ALL PRIVILEGES ON TABLE {tree.table} FROM `{alice.name}`")
    assert grants(admin, f"TABLE {tree.table}") == {(bob.name, "SELECT")}
    # MANAGE went too (REVOKE ALL removes it although ALL PRIVILEGES excludes it).
    denied(alice.client, f"DROP TABLE {tree.table}", "MANAGE")
    # Grants on the containers stay: BROWSE inherited from the catalog still works.
    assert (alice.name, "BROWSE") in grants(admin, f"CATALOG {tree.catalog}")
    assert allowed(alice.client, f"DESCRIBE TABLE {tree.table}")


def test_an_inherited_privilege_is_revoked_where_it_was_granted(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT BROWSE ON CATALOG {tree.catalog} TO `{alice.name}`")
    # On the table it was never granted: revoking it there succeeds and removes nothing.
    ok(admin, f"REVOKE BROWSE ON TABLE {tree.table} FROM `{alice.name}`")
    ok(admin, f"REVOKE BROWSE ON SCHEMA {tree.schema} FROM `{alice.name}`")
    assert allowed(alice.client, f"DESCRIBE TABLE {tree.table}")
    ok(admin, f"REVOKE BROWSE ON CATALOG {tree.catalog} FROM `{alice.name}`")
    assert not allowed(alice.client, f"DESCRIBE TABLE {tree.table}")


def test_revoke_by_a_user_without_rights_is_denied_and_changes_nothing(
    hub: Hub, tree: Tree
) -> None:
    admin, alice, bob = hub.admin, hub.person(), hub.person()
    use(admin, alice.name, tree)
    ok(admin, f"GRANT BROWSE ON TABLE {tree.table} TO `{bob.name}`")
    # Alice holds privileges on the table herself, but not MANAGE.
    ok(admin, f"GRANT SELECT, BROWSE ON TABLE {tree.table} TO `{alice.name}`")
    denied(alice.client, f"REVOKE BROWSE ON TABLE {tree.table} FROM `{bob.name}`", "MANAGE")
    denied(alice.client, f"REVOKE ALL PRIVILEGES ON TABLE {tree.table} FROM `{bob.name}`")
    assert (bob.name, "BROWSE") in grants(admin, f"TABLE {tree.table}")
    assert allowed(bob.client, f"DESCRIBE TABLE {tree.table}")


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "privilege", "securable_type"),
    [
        ("GRANT EXECUTE ON TABLE {table} TO `{who}`", "EXECUTE", "TABLE"),
        ("GRANT SELECT ON FUNCTION {model} TO `{who}`", "SELECT", "MODEL"),
        ("GRANT MODIFY ON MODEL {model} TO `{who}`", "MODIFY", "MODEL"),
        ("GRANT CREATE TABLE ON TABLE {table} TO `{who}`", "CREATE TABLE", "TABLE"),
        ("GRANT USE CATALOG ON SCHEMA {schema} TO `{who}`", "USE CATALOG", "SCHEMA"),
        ("GRANT CREATE SCHEMA ON SCHEMA {schema} TO `{who}`", "CREATE SCHEMA", "SCHEMA"),
        ("GRANT CREATE CATALOG ON CATALOG {catalog} TO `{who}`", "CREATE CATALOG", "CATALOG"),
        ("GRANT QUERY ON CATALOG {catalog} TO `{who}`", "QUERY", "CATALOG"),
        ("GRANT SELECT ON METASTORE TO `{who}`", "SELECT", "METASTORE"),
        ("GRANT ALL PRIVILEGES ON METASTORE TO `{who}`", "ALL PRIVILEGES", "METASTORE"),
        ("REVOKE EXECUTE ON TABLE {table} FROM `{who}`", "EXECUTE", "TABLE"),
    ],
    ids=[
        "execute-on-table",
        "select-on-function",
        "modify-on-model",
        "create-table-on-table",
        "use-catalog-on-schema",
        "create-schema-on-schema",
        "create-catalog-on-catalog",
        "query-on-catalog",
        "select-on-metastore",
        "all-on-metastore",
        "revoke-execute-on-table",
    ],
)
def test_inapplicable_privilege_is_an_error(
    hub: Hub, tree: Tree, statement: str, privilege: str, securable_type: str
) -> None:
    admin, alice = hub.admin, hub.person()
    model = new_model(admin, tree.schema)
    names = {"table": tree.table, "schema": tree.schema, "catalog": tree.catalog}
    sql = statement.format(model=model, who=alice.name, **names)
    message = failed(admin, sql, "INVALID_PARAMETER_VALUE")
    assert f"{privilege} does not apply to a {securable_type}" in message, message
    on = {
        "TABLE": f"TABLE {tree.table}",
        "MODEL": f"MODEL {model}",
        "SCHEMA": f"SCHEMA {tree.schema}",
        "CATALOG": f"CATALOG {tree.catalog}",
        "METASTORE": "METASTORE",
    }[securable_type]
    assert grants(admin, on, alice.name) == set()


@pytest.mark.parametrize(
    "statement",
    [
        "GRANT BROWSE ON TABLE {table} TO `{nobody}`",
        "REVOKE BROWSE ON TABLE {table} FROM `{nobody}`",
        "ALTER TABLE {table} OWNER TO `{nobody}`",
        "SHOW GRANTS `{nobody}` ON TABLE {table}",
    ],
    ids=["grant", "revoke", "alter-owner", "show-grants"],
)
def test_unknown_principal_is_an_error(hub: Hub, tree: Tree, statement: str) -> None:
    admin = hub.admin
    nobody = f"nobody-{unique()}@example.com"
    message = failed(
        admin, statement.format(table=tree.table, nobody=nobody), "RESOURCE_DOES_NOT_EXIST"
    )
    assert nobody in message
    # The Grants API filter says the same as SHOW GRANTS.
    listing = admin.get(f"{UC}/permissions/table/{tree.table}", params={"principal": nobody})
    assert listing.status_code == 404, listing.text
    assert owner_of(admin, "tables", tree.table) == "admin"
    assert grants(admin, f"TABLE {tree.table}") == set()


@pytest.mark.parametrize(
    ("target", "missing"),
    [
        ("TABLE {schema}.{gone}", "TABLE '{schema}.{gone}'"),
        ("TABLE {catalog}.{gone}.t", "SCHEMA '{catalog}.{gone}'"),
        ("SCHEMA {gone}.s", "CATALOG '{gone}'"),
        ("FUNCTION {schema}.{gone}", "FUNCTION '{schema}.{gone}'"),
    ],
    ids=["table", "schema-of-table", "catalog-of-schema", "function"],
)
def test_unknown_object_is_an_error_naming_the_first_missing_part(
    hub: Hub, tree: Tree, target: str, missing: str
) -> None:
    admin, alice = hub.admin, hub.person()
    names = {"schema": tree.schema, "catalog": tree.catalog, "gone": unique("gone")}
    on = target.format(**names)
    for statement in (
        f"GRANT BROWSE ON {on} TO `{alice.name}`",
        f"REVOKE BROWSE ON {on} FROM `{alice.name}`",
        f"SHOW GRANTS ON {on}",
    ):
        message = failed(admin, statement, "RESOURCE_DOES_NOT_EXIST")
        assert missing.format(**names) in message, message


def test_grant_without_rights_names_the_privilege_and_object(hub: Hub, tree: Tree) -> None:
    admin, alice, bob = hub.admin, hub.person(), hub.person()
    use(admin, alice.name, tree)
    # A table she cannot see answers as missing; once she sees it, the denial names MANAGE.
    hidden(alice.client, f"GRANT SELECT ON TABLE {tree.table} TO `{bob.name}`", tree.table)
    ok(admin, f"GRANT BROWSE ON TABLE {tree.table} TO `{alice.name}`")
    message = denied(alice.client, f"GRANT SELECT ON TABLE {tree.table} TO `{bob.name}`")
    assert f"MANAGE on TABLE '{tree.table}'" in message
    message = denied(alice.client, f"GRANT CREATE TABLE ON SCHEMA {tree.schema} TO `{bob.name}`")
    assert f"MANAGE on SCHEMA '{tree.schema}'" in message
    assert grants(admin, f"TABLE {tree.table}", bob.name) == set()
    assert grants(admin, f"SCHEMA {tree.schema}", bob.name) == set()


def test_grant_on_the_metastore_by_a_non_admin_is_denied(hub: Hub) -> None:
    alice, bob = hub.person(), hub.person()
    denied(alice.client, f"GRANT CREATE CATALOG ON METASTORE TO `{bob.name}`", "METASTORE")
    assert grants(hub.admin, "METASTORE", bob.name) == set()


def test_grant_denial_without_usage_names_the_missing_privilege(hub: Hub, tree: Tree) -> None:
    alice, bob = hub.person(), hub.person()
    hidden(alice.client, f"GRANT SELECT ON TABLE {tree.table} TO `{bob.name}`", tree.catalog)
    ok(hub.admin, f"GRANT BROWSE ON TABLE {tree.table} TO `{alice.name}`")
    message = denied(alice.client, f"GRANT SELECT ON TABLE {tree.table} TO `{bob.name}`")
    names_gate = f"USE CATALOG on CATALOG '{tree.catalog}'" in message
    names_target = f"MANAGE on TABLE '{tree.table}'" in message
    assert names_gate or names_target, message


def test_a_statement_that_fails_part_way_changes_nothing(hub: Hub, tree: Tree) -> None:
    admin, alice, bob = hub.admin, hub.person(), hub.person()
    on = f"TABLE {tree.table}"
    # One unknown principal among several: nobody is granted anything.
    failed(
        admin,
        f"GRANT BROWSE ON {on} TO `{alice.name}`, `{bob.name}`, `nobody-{unique()}`",
        "RESOURCE_DOES_NOT_EXIST",
    )
    # One inapplicable privilege among several: none is granted.
    failed(admin, f"GRANT SELECT, EXECUTE ON {on} TO `{alice.name}`", "INVALID_PARAMETER_VALUE")
    assert grants(admin, on) == set()
    # A revoke that fails part way leaves the existing grants in place.
    ok(admin, f"GRANT BROWSE ON {on} TO `{alice.name}`")
    failed(
        admin,
        f"REVOKE BROWSE ON {on} FROM `{alice.name}`, `nobody-{unique()}`",
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert grants(admin, on) == {(alice.name, "BROWSE")}


def test_denied_statements_change_nothing(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT BROWSE ON CATALOG {tree.catalog} TO `{alice.name}`")
    before = admin.get(f"{UC}/tables/{tree.table}").json()
    for statement in (
        f"DROP TABLE {tree.table}",
        f"DROP SCHEMA {tree.schema} CASCADE",
        f"COMMENT ON TABLE {tree.table} IS 'x'",
        f"ALTER TABLE {tree.table} OWNER TO `{alice.name}`",
        f"GRANT MANAGE ON TABLE {tree.table} TO `{alice.name}`",
        f"CREATE TABLE {tree.schema}.{unique('t')} (a INT)",
        f"CREATE SCHEMA {tree.catalog}.{unique('s')}",
    ):
        denied(alice.client, statement)
    assert admin.get(f"{UC}/tables/{tree.table}").json() == before
    assert ok(admin, f"SHOW TABLES IN {tree.schema}") == [tree.table.split(".")]
    assert ok(admin, f"SHOW SCHEMAS IN {tree.catalog}") == [tree.schema.split(".")]
    assert grants(admin, f"TABLE {tree.table}") == set()


# -- dropped and recreated objects ---------------------------------------------------------


def test_grants_on_a_dropped_then_recreated_table_do_not_carry_over(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    use(admin, alice.name, tree)
    ok(admin, f"GRANT BROWSE, MANAGE ON TABLE {tree.table} TO `{alice.name}`")
    ok(admin, f"ALTER TABLE {tree.table} OWNER TO `{alice.name}`")
    ok(admin, f"DROP TABLE {tree.table}")
    ok(admin, f"CREATE TABLE {tree.table} (id BIGINT)")
    assert grants(admin, f"TABLE {tree.table}") == set()
    assert owner_of(admin, "tables", tree.table) == "admin"
    hidden(alice.client, f"DESCRIBE TABLE {tree.table}", tree.table)
    hidden(alice.client, f"DROP TABLE {tree.table}", tree.table)


def test_grants_inside_a_dropped_then_recreated_catalog_do_not_carry_over(
    hub: Hub, tree: Tree
) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT USE CATALOG, BROWSE ON CATALOG {tree.catalog} TO `{alice.name}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{alice.name}`")
    ok(admin, f"GRANT SELECT ON TABLE {tree.table} TO `{alice.name}`")
    ok(admin, f"DROP CATALOG {tree.catalog} CASCADE")
    again = Tree(*make_tree_named(admin, tree))
    for on in (f"CATALOG {again.catalog}", f"SCHEMA {again.schema}", f"TABLE {again.table}"):
        assert grants(admin, on) == set()
    hidden(alice.client, f"DESCRIBE TABLE {again.table}", again.catalog)
    assert again.catalog not in [r[0] for r in ok(alice.client, "SHOW CATALOGS")]


def make_tree_named(admin: httpx.Client, tree: Tree) -> tuple[str, str, str]:
    ok(admin, f"CREATE CATALOG {tree.catalog}")
    ok(admin, f"CREATE SCHEMA {tree.schema}")
    ok(admin, f"CREATE TABLE {tree.table} (id BIGINT)")
    return tree.catalog, tree.schema, tree.table


# -- what a caller sees ----------------------------------------------------------------------


def test_show_tables_lists_only_what_the_caller_may_see(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    owned, granted, hidden = (f"{tree.schema}.{unique(p)}" for p in ("own", "grant", "hide"))
    for name in (owned, granted, hidden):
        ok(admin, f"CREATE TABLE {name} (a INT)")
    ok(admin, f"ALTER TABLE {owned} OWNER TO `{alice.name}`")
    ok(admin, f"GRANT SELECT ON TABLE {granted} TO `{alice.name}`")
    # A schema she does not see lists as a missing one.
    failed(alice.client, f"SHOW TABLES IN {tree.schema}", "RESOURCE_DOES_NOT_EXIST")
    # USE SCHEMA shows the schema, not the tables in it: hers and the granted one.
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{alice.name}`")
    shown = {r[2] for r in ok(alice.client, f"SHOW TABLES IN {tree.schema}")}
    assert shown == {owned.split(".")[-1], granted.split(".")[-1]}
    # A privilege on the container that applies to tables shows every table in it.
    ok(admin, f"GRANT BROWSE ON SCHEMA {tree.schema} TO `{alice.name}`")
    shown = {r[2] for r in ok(alice.client, f"SHOW TABLES IN {tree.schema}")}
    assert shown == {n.split(".")[-1] for n in (owned, granted, hidden, tree.table)}


def test_show_catalogs_and_schemas_list_only_what_the_caller_may_see(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    other_schema = f"{tree.catalog}.{unique('other')}"
    ok(admin, f"CREATE SCHEMA {other_schema}")
    hidden_catalog = unique("hidden")
    ok(admin, f"CREATE CATALOG {hidden_catalog}")
    viewers = group(admin, alice.name)
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{viewers}`")
    catalogs = [r[0] for r in ok(alice.client, "SHOW CATALOGS")]
    assert tree.catalog not in catalogs and hidden_catalog not in catalogs
    # The catalog is hidden, so its listing answers as a missing catalog's.
    failed(alice.client, f"SHOW SCHEMAS IN {tree.catalog}", "RESOURCE_DOES_NOT_EXIST")
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{alice.name}`")
    catalogs = [r[0] for r in ok(alice.client, "SHOW CATALOGS")]
    assert tree.catalog in catalogs and hidden_catalog not in catalogs
    # USE CATALOG shows the catalog, not its schemas: only the one granted to her group.
    assert ok(alice.client, f"SHOW SCHEMAS IN {tree.catalog}") == [tree.schema.split(".")]
    # USE SCHEMA granted on the catalog applies to every schema in it: all are shown.
    ok(admin, f"GRANT USE SCHEMA ON CATALOG {tree.catalog} TO `{alice.name}`")
    shown = ok(alice.client, f"SHOW SCHEMAS IN {tree.catalog}")
    assert sorted(shown) == sorted([tree.schema.split("."), other_schema.split(".")])


def test_show_grants_needs_sight_and_filters_by_principal(hub: Hub, tree: Tree) -> None:
    """SHOW GRANTS on an object the caller sees: every grant for whoever may change them,
    else the caller's own (and its groups'); docs/privileges.md."""
    admin, alice, bob, carl = hub.admin, hub.person(), hub.person(), hub.person()
    ok(admin, f"GRANT BROWSE ON CATALOG {tree.catalog} TO `{alice.name}`")
    ok(admin, f"GRANT SELECT ON TABLE {tree.table} TO `{bob.name}`")
    ok(admin, f"GRANT MODIFY ON TABLE {tree.table} TO `{carl.name}`")
    everything = [
        [bob.name, "SELECT", "TABLE", tree.table],
        [carl.name, "MODIFY", "TABLE", tree.table],
    ]
    assert sorted(ok(admin, f"SHOW GRANTS ON TABLE {tree.table}")) == sorted(everything)
    assert ok(admin, f"SHOW GRANTS `{carl.name}` ON TABLE {tree.table}") == [everything[1]]
    # Alice sees the table (BROWSE inherited) but holds nothing on it herself: no rows.
    assert ok(alice.client, f"SHOW GRANTS ON TABLE {tree.table}") == []
    assert ok(alice.client, f"SHOW GRANTS `{carl.name}` ON TABLE {tree.table}") == []
    assert ok(alice.client, f"SHOW GRANTS ON CATALOG {tree.catalog}") == [
        [alice.name, "BROWSE", "CATALOG", tree.catalog]
    ]
    # Bob, whose only grant is SELECT on it, sees it and his own grant; an outsider nothing.
    assert ok(bob.client, f"SHOW GRANTS ON TABLE {tree.table}") == [everything[0]]
    hidden(hub.person().client, f"SHOW GRANTS ON TABLE {tree.table}", tree.catalog)
    # MANAGE (with the gates: who may change the grants) shows them all.
    use(admin, carl.name, tree)
    ok(admin, f"GRANT MANAGE ON TABLE {tree.table} TO `{carl.name}`")
    rows = ok(carl.client, f"SHOW GRANTS ON TABLE {tree.table}")
    assert sorted(rows) == sorted([*everything, [carl.name, "MANAGE", "TABLE", tree.table]])


def test_execute_on_a_model_is_granted_listed_and_shown(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    model, other = new_model(admin, tree.schema), new_model(admin, tree.schema)
    ok(admin, f"GRANT EXECUTE ON FUNCTION {model} TO `{alice.name}`")
    assert grants(admin, f"MODEL {model}") == {(alice.name, "EXECUTE")}
    # Listed in a schema she sees (USE SCHEMA shows the schema, not the models in it).
    use(admin, alice.name, tree)
    assert ok(alice.client, f"SHOW MODELS IN {tree.schema}") == [model.split(".")]
    assert other.split(".") not in ok(alice.client, f"SHOW MODELS IN {tree.schema}")
    # EXECUTE is not CREATE MODEL VERSION, even with the usage gates.
    assert new_version(alice.client, model).status_code == 403
    ok(admin, f"REVOKE EXECUTE ON MODEL {model} FROM `{alice.name}`")
    assert grants(admin, f"MODEL {model}") == set()


# -- names: case, back-quotes, defaults ------------------------------------------------------


def test_principal_names_are_case_insensitive(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    shouted = alice.name.upper()
    ok(admin, f"GRANT BROWSE ON TABLE {tree.table} TO `{shouted}`")
    assert grants(admin, f"TABLE {tree.table}") == {(alice.name, "BROWSE")}
    assert grants(admin, f"TABLE {tree.table}", alice.name.title()) == {(alice.name, "BROWSE")}
    assert allowed(alice.client, f"DESCRIBE TABLE {tree.table}")
    ok(admin, f"ALTER TABLE {tree.table} OWNER TO `{shouted}`")
    assert owner_of(admin, "tables", tree.table) == alice.name
    ok(admin, f"REVOKE BROWSE ON TABLE {tree.table} FROM `{alice.name.capitalize()}`")
    assert grants(admin, f"TABLE {tree.table}") == set()


def test_object_names_are_case_insensitive(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog.upper()} TO `{alice.name}`")
    catalog_name, schema_name = tree.schema.upper().split(".")
    ok(
        admin,
        f"GRANT USE SCHEMA, CREATE TABLE ON SCHEMA `{catalog_name}`.`{schema_name}` "
        f"TO `{alice.name}`",
    )
    assert grants(admin, f"CATALOG {tree.catalog}") == {(alice.name, "USE CATALOG")}
    mixed = f"{tree.catalog.upper()}.{tree.schema.split('.')[1].title()}.MyTable"
    ok(alice.client, f"CREATE TABLE {mixed} (a INT)")
    assert ok(alice.client, f"DESCRIBE TABLE {mixed.lower()}") == [["a", "int", None]]
    assert owner_of(admin, "tables", f"{tree.schema}.mytable") == alice.name


def test_back_quoted_names_with_special_characters(hub: Hub) -> None:
    """The SPEC's own example principal, `data eng@corp.com`, and hyphenated objects."""
    admin = hub.admin
    tag = unique("x")
    person_name, token = hub.create_user(f"Data Eng {tag}@Corp.com")
    assert person_name == f"data eng {tag}@corp.com"
    client = hub.client(token)
    catalog, schema = f"`fin-{tag}`", f"`fin-{tag}`.`q1-2024`"
    ok(admin, f"CREATE CATALOG {catalog}")
    ok(admin, f"CREATE SCHEMA {schema}")
    ok(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{person_name}`")
    ok(
        admin,
        f"GRANT USE SCHEMA, CREATE TABLE ON SCHEMA {schema} TO `Data Eng {tag}@Corp.com`",
    )
    ok(client, f"CREATE TABLE {schema}.`raw-events` (a INT)")
    full = f"fin-{tag}.q1-2024.raw-events"
    assert owner_of(admin, "tables", full) == person_name
    assert ok(admin, f"SHOW GRANTS `{person_name}` ON SCHEMA {schema}") == [
        [person_name, "CREATE TABLE", "SCHEMA", f"fin-{tag}.q1-2024"],
        [person_name, "USE SCHEMA", "SCHEMA", f"fin-{tag}.q1-2024"],
    ]


def test_partial_names_in_grants_use_the_request_defaults(hub: Hub, tree: Tree) -> None:
    admin, alice = hub.admin, hub.person()
    catalog_name, schema_name, table_name = tree.table.split(".")
    defaults = {"catalog": catalog_name, "schema": schema_name}
    ok(admin, f"GRANT BROWSE ON TABLE {table_name} TO `{alice.name}`", **defaults)
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {schema_name} TO `{alice.name}`", catalog=catalog_name)
    assert grants(admin, f"TABLE {tree.table}") == {(alice.name, "BROWSE")}
    assert grants(admin, f"SCHEMA {tree.schema}") == {(alice.name, "USE SCHEMA")}
    assert ok(alice.client, f"DESCRIBE TABLE {table_name}", **defaults)
    failed(
        admin, f"GRANT BROWSE ON TABLE {table_name} TO `{alice.name}`", "INVALID_PARAMETER_VALUE"
    )


# -- data privileges: SELECT and MODIFY on table rows ----------------------------------------


@pytest.mark.parametrize("missing", ["USE CATALOG", "USE SCHEMA"])
def test_select_without_a_usage_gate_is_denied(hub: Hub, tree: Tree, missing: str) -> None:
    admin, alice = hub.admin, hub.person()
    ok(admin, f"GRANT SELECT ON TABLE {tree.table} TO `{alice.name}`")
    if missing != "USE CATALOG":
        ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{alice.name}`")
    if missing != "USE SCHEMA":
        ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{alice.name}`")
    denied(alice.client, f"SELECT * FROM {tree.table}", missing)
    denied(alice.client, f"INSERT INTO {tree.table} VALUES (1, 'x')", missing)


def test_manage_does_not_give_select(hub: Hub, tree: Tree) -> None:
    admin, erin = hub.admin, hub.person()
    use(admin, erin.name, tree)
    ok(admin, f"GRANT MANAGE ON TABLE {tree.table} TO `{erin.name}`")
    denied(erin.client, f"SELECT * FROM {tree.table}", "SELECT", tree.table)
    denied(erin.client, f"INSERT INTO {tree.table} VALUES (1, 'x')", "MODIFY", tree.table)
    # MANAGE lets erin grant herself what she lacks (docs/privileges.md, owners), then read.
    ok(erin.client, f"GRANT SELECT ON TABLE {tree.table} TO `{erin.name}`")
    assert ok(erin.client, f"SELECT * FROM {tree.table}") == []


def test_metastore_admin_reads_data_only_after_granting_itself(hub: Hub, tree: Tree) -> None:
    admin, owner = hub.admin, hub.person()
    # The admin created the tree and so owns it (an owner holds every privilege): hand it
    # to someone else to see the metastore admin's own standing.
    for kind, name in (("CATALOG", tree.catalog), ("SCHEMA", tree.schema), ("TABLE", tree.table)):
        ok(admin, f"ALTER {kind} {name} OWNER TO `{owner.name}`")
    denied(admin, f"SELECT * FROM {tree.table}", "SELECT", tree.table)
    denied(admin, f"INSERT INTO {tree.table} VALUES (1, 'x')", "MODIFY", tree.table)
    ok(admin, f"GRANT SELECT, MODIFY ON TABLE {tree.table} TO admin")
    ok(admin, f"INSERT INTO {tree.table} VALUES (1, 'x')")
    assert ok(admin, f"SELECT * FROM {tree.table}") == [[1, "x"]]


def test_select_and_modify_granted_on_the_schema_reach_its_tables(hub: Hub, tree: Tree) -> None:
    """A grant on a container applies to everything in it, now and later (docs/privileges.md)."""
    admin, alice = hub.admin, hub.person()
    use(admin, alice.name, tree, "SELECT", "MODIFY")
    ok(alice.client, f"INSERT INTO {tree.table} VALUES (1, 'x')")
    later = f"{tree.schema}.{unique('later')}"
    ok(admin, f"CREATE TABLE {later} (id BIGINT NOT NULL, v STRING)")
    assert ok(alice.client, f"INSERT INTO {later} SELECT * FROM {tree.table}") == [[1, 1]]
    assert ok(alice.client, f"SELECT * FROM {later}") == [[1, "x"]]
    ok(admin, f"REVOKE MODIFY ON SCHEMA {tree.schema} FROM `{alice.name}`")
    denied(alice.client, f"INSERT INTO {later} VALUES (2, 'y')", "MODIFY", later)
