"""Unity Catalog privileges over HTTP, as real users with tokens (docs/privileges.md).

Grants are made through the permissions API; each case checks what a user can
and cannot do afterwards, and what a denial says.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ServerHandle, start_server, unique

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"


@dataclass
class Scene:
    server: ServerHandle
    catalog: str
    schema: str
    table: str
    user: str
    client: httpx.Client

    @property
    def admin(self) -> httpx.Client:
        return self.server.admin

    def grant(
        self, kind: str, name: str, principal: str, *privileges: str, by: httpx.Client | None = None
    ) -> httpx.Response:
        return (by or self.admin).patch(
            f"{UC}/permissions/{kind}/{name}",
            json={"changes": [{"principal": principal, "add": list(privileges)}]},
        )

    def revoke(self, kind: str, name: str, principal: str, *privileges: str) -> httpx.Response:
        return self.admin.patch(
            f"{UC}/permissions/{kind}/{name}",
            json={"changes": [{"principal": principal, "remove": list(privileges)}]},
        )


def table_body(catalog: str, schema: str, name: str) -> dict[str, Any]:
    return {
        "catalog_name": catalog,
        "schema_name": schema,
        "name": name,
        "table_type": "MANAGED",
        "columns": [{"name": "id", "type_name": "LONG", "nullable": False}],
    }


@pytest.fixture
def scene(server: ServerHandle) -> Iterator[Scene]:
    catalog = unique("cat")
    admin = server.admin
    assert admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    assert (
        admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog}).status_code == 200
    )
    assert admin.post(f"{UC}/tables", json=table_body(catalog, "s", "t")).status_code == 200
    user, token = server.create_user()
    yield Scene(server, catalog, f"{catalog}.s", f"{catalog}.s.t", user, server.client(token))
    admin.delete(f"{UC}/catalogs/{catalog}", params={"force": "true"})


def denied(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error_code"] == "PERMISSION_DENIED"
    for word in words:
        assert word in body["message"], body["message"]


def missing(response: httpx.Response, name: str) -> None:
    """What the caller may not see answers as missing (docs/privileges.md, visibility)."""
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert f"'{name}' does not exist" in body["message"], body["message"]


def test_a_user_without_grants_sees_nothing(scene: Scene) -> None:
    missing(scene.client.get(f"{UC}/catalogs/{scene.catalog}"), scene.catalog)
    names = [c["name"] for c in scene.client.get(f"{UC}/catalogs").json()["catalogs"]]
    assert scene.catalog not in names


def test_browse_needs_no_use_gate_and_makes_the_object_visible(scene: Scene) -> None:
    assert scene.grant("table", scene.table, scene.user, "BROWSE").status_code == 200
    assert scene.client.get(f"{UC}/tables/{scene.table}").status_code == 200
    # Listing needs the container visible too: the schema is not, so it lists as missing.
    params = {"catalog_name": scene.catalog, "schema_name": "s"}
    missing(scene.client.get(f"{UC}/tables", params=params), scene.catalog)
    assert scene.grant("schema", scene.schema, scene.user, "USE SCHEMA").status_code == 200
    tables = scene.client.get(f"{UC}/tables", params=params)
    assert [t["name"] for t in tables.json()["tables"]] == ["t"]


def test_creating_inside_a_catalog_needs_use_catalog(scene: Scene) -> None:
    assert scene.grant("catalog", scene.catalog, scene.user, "CREATE SCHEMA").status_code == 200
    body = {"name": "mine", "catalog_name": scene.catalog}
    denied(scene.client.post(f"{UC}/schemas", json=body), "USE CATALOG", scene.catalog)
    assert scene.grant("catalog", scene.catalog, scene.user, "USE CATALOG").status_code == 200
    created = scene.client.post(f"{UC}/schemas", json=body)
    assert created.status_code == 200 and created.json()["owner"] == scene.user
    # The creator owns it and may drop it.
    assert scene.client.delete(f"{UC}/schemas/{scene.catalog}.mine").status_code == 200


def test_all_privileges_on_a_catalog_reaches_a_table_created_later(scene: Scene) -> None:
    assert scene.grant("catalog", scene.catalog, scene.user, "ALL PRIVILEGES").status_code == 200
    assert (
        scene.admin.post(f"{UC}/tables", json=table_body(scene.catalog, "s", "later")).status_code
        == 200
    )
    assert scene.client.get(f"{UC}/tables/{scene.catalog}.s.later").status_code == 200
    # …but ALL PRIVILEGES is not MANAGE: no grant changes, no drops.
    denied(scene.client.delete(f"{UC}/tables/{scene.catalog}.s.later"), "MANAGE")
    denied(scene.grant("table", scene.table, scene.user, "SELECT", by=scene.client), "MANAGE")


def test_manage_can_grant_and_drop(scene: Scene) -> None:
    other, other_token = scene.server.create_user()
    for kind, name, privilege in (
        ("catalog", scene.catalog, "USE CATALOG"),
        ("schema", scene.schema, "USE SCHEMA"),
        ("table", scene.table, "MANAGE"),
    ):
        assert scene.grant(kind, name, scene.user, privilege).status_code == 200
    assert scene.grant("table", scene.table, other, "BROWSE", by=scene.client).status_code == 200
    assert scene.server.client(other_token).get(f"{UC}/tables/{scene.table}").status_code == 200
    assert scene.client.delete(f"{UC}/tables/{scene.table}").status_code == 200


def test_schema_owner_can_grant_on_what_it_holds(scene: Scene) -> None:
    assert (
        scene.admin.patch(f"{UC}/schemas/{scene.schema}", json={"owner": scene.user}).status_code
        == 200
    )
    other, _ = scene.server.create_user()
    # Owner of the container: may change grants inside it, even without USE CATALOG.
    assert scene.grant("table", scene.table, other, "SELECT", by=scene.client).status_code == 200
    listed = scene.admin.get(f"{UC}/permissions/table/{scene.table}").json()
    assert {"principal": other, "privileges": ["SELECT"]} in listed["privilege_assignments"]


def test_revoke_all_privileges_removes_every_direct_grant(scene: Scene) -> None:
    assert (
        scene.grant("table", scene.table, scene.user, "SELECT", "MODIFY", "BROWSE").status_code
        == 200
    )
    assert scene.revoke("table", scene.table, scene.user, "ALL PRIVILEGES").status_code == 200
    listing = scene.admin.get(
        f"{UC}/permissions/table/{scene.table}", params={"principal": scene.user}
    )
    assert listing.json()["privilege_assignments"] == []
    # Revoking what was never granted succeeds.
    assert scene.revoke("table", scene.table, scene.user, "SELECT").status_code == 200
    missing(scene.client.get(f"{UC}/tables/{scene.table}"), scene.catalog)


def test_grants_reach_members_of_nested_groups(scene: Scene) -> None:
    admin = scene.admin
    inner = admin.post(f"{SCIM}/Groups", json={"displayName": unique("inner")}).json()
    outer = admin.post(
        f"{SCIM}/Groups", json={"displayName": unique("outer"), "members": [{"value": inner["id"]}]}
    ).json()
    me = scene.client.get(f"{SCIM}/Me").json()
    admin.patch(
        f"{SCIM}/Groups/{inner['id']}",
        json={"Operations": [{"op": "add", "value": {"members": [{"value": me["id"]}]}}]},
    )
    assert (
        scene.grant("catalog", scene.catalog, outer["displayName"].lower(), "BROWSE").status_code
        == 200
    )
    assert scene.client.get(f"{UC}/tables/{scene.table}").status_code == 200
    # Leaving the group takes the access away at once.
    admin.patch(
        f"{SCIM}/Groups/{inner['id']}",
        json={"Operations": [{"op": "remove", "path": f'members[value eq "{me["id"]}"]'}]},
    )
    missing(scene.client.get(f"{UC}/tables/{scene.table}"), scene.catalog)


def test_metastore_admin_manages_but_needs_no_data_privilege_for_metadata(scene: Scene) -> None:
    assert scene.admin.get(f"{UC}/tables/{scene.table}").status_code == 200
    assert scene.grant("metastore", "main", scene.user, "CREATE CATALOG").status_code == 200
    mine = unique("own")
    assert scene.client.post(f"{UC}/catalogs", json={"name": mine}).status_code == 200
    assert scene.client.delete(f"{UC}/catalogs/{mine}").status_code == 200


@pytest.mark.parametrize(
    ("kind", "privilege"),
    [
        ("table", "EXECUTE"),
        ("catalog", "QUERY"),
        ("table", "USE SCHEMA"),
        ("metastore", "SELECT"),
        ("table", "OWNERSHIP"),
        ("table", "FLY"),
    ],
)
def test_inapplicable_or_unknown_privileges_are_refused(
    scene: Scene, kind: str, privilege: str
) -> None:
    name = {"table": scene.table, "catalog": scene.catalog, "metastore": "m"}[kind]
    response = scene.grant(kind, name, scene.user, privilege)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    listing = scene.admin.get(f"{UC}/permissions/{kind}/{name}", params={"principal": scene.user})
    assert listing.json()["privilege_assignments"] == []


def test_unknown_principal_or_object_is_an_error(scene: Scene) -> None:
    response = scene.grant("table", scene.table, "nobody@nowhere", "SELECT")
    assert response.status_code == 404 and "nobody@nowhere" in response.json()["message"]
    missing = scene.grant("table", f"{scene.schema}.nope", scene.user, "SELECT")
    assert missing.status_code == 404
    bad_type = scene.admin.get(f"{UC}/permissions/volume/{scene.table}")
    assert bad_type.status_code == 400 and "securable_type" in bad_type.json()["message"]


def test_a_change_with_one_bad_entry_changes_nothing(scene: Scene) -> None:
    response = scene.admin.patch(
        f"{UC}/permissions/table/{scene.table}",
        json={
            "changes": [
                {"principal": scene.user, "add": ["SELECT"]},
                {"principal": scene.user, "add": ["EXECUTE"]},
            ]
        },
    )
    assert response.status_code == 400
    assert (
        scene.admin.get(f"{UC}/permissions/table/{scene.table}").json()["privilege_assignments"]
        == []
    )


def test_dropped_objects_take_their_grants_with_them(scene: Scene) -> None:
    assert scene.grant("table", scene.table, scene.user, "BROWSE").status_code == 200
    assert scene.admin.delete(f"{UC}/tables/{scene.table}").status_code == 200
    assert (
        scene.admin.post(f"{UC}/tables", json=table_body(scene.catalog, "s", "t")).status_code
        == 200
    )
    assert (
        scene.admin.get(f"{UC}/permissions/table/{scene.table}").json()["privilege_assignments"]
        == []
    )
    missing(scene.client.get(f"{UC}/tables/{scene.table}"), scene.catalog)


def test_grants_survive_a_restart(tmp_path: Path, database_url: str) -> None:
    first = start_server(database_url, tmp_path / "a")
    try:
        user, token = first.create_user()
        catalog = unique("kept")
        assert first.admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
        response = first.admin.patch(
            f"{UC}/permissions/catalog/{catalog}",
            json={"changes": [{"principal": user, "add": ["BROWSE"]}]},
        )
        assert response.status_code == 200
    finally:
        first.stop()
    second = start_server(database_url, tmp_path / "b", {"STEWARD_ADMIN_TOKEN": first.admin_token})
    try:
        assert second.client(token).get(f"{UC}/catalogs/{catalog}").status_code == 200
    finally:
        second.stop()


def test_grants_and_revokes_of_one_privilege_sent_at_once_all_succeed(scene: Scene) -> None:
    """GRANT and REVOKE stay idempotent under concurrency: PostgreSQL runs the sessions side
    by side, and two GRANTs that both found no grant (after a REVOKE) must both succeed,
    the second finding the first's, not failing on its key."""
    grant = f"GRANT SELECT ON TABLE {scene.table} TO `{scene.user}`"
    revoke = f"REVOKE SELECT ON TABLE {scene.table} FROM `{scene.user}`"
    headers = {"Authorization": f"Bearer {scene.server.admin_token}"}

    def send(k: int) -> str:
        with httpx.Client(base_url=scene.server.url, headers=headers, timeout=60) as client:
            statement = revoke if k % 3 == 0 else grant
            body = client.post("/api/2.0/sql/statements", json={"statement": statement}).json()
            return str(body["status"].get("error", body["status"]["state"]))

    # Four at a time: one user's bound on statements in flight (STEWARD_SQL_MAX_STATEMENTS_
    # PER_USER) would refuse a fifth.
    with ThreadPoolExecutor(4) as pool:
        states = list(pool.map(send, range(120)))
    assert states == ["SUCCEEDED"] * 120
    assert send(1) == "SUCCEEDED"
    listed = scene.admin.get(f"{UC}/permissions/table/{scene.table}").json()
    assert listed["privilege_assignments"] == [{"principal": scene.user, "privileges": ["SELECT"]}]


def test_get_permissions_shows_each_caller_its_share_and_follows_changes_at_once(
    scene: Scene,
) -> None:
    """GET permissions is answered from memory once the object's chain is cached: the
    owner sees every grant, anyone else its own; a grant or an ownership change shows in
    the very next answer, and a filter by principal (read from the database) agrees."""
    admin = scene.admin
    other, _ = scene.server.create_user()
    assert scene.grant("catalog", scene.catalog, scene.user, "USE CATALOG").status_code == 200
    assert scene.grant("schema", scene.schema, scene.user, "USE SCHEMA").status_code == 200
    assert scene.grant("table", scene.table, scene.user, "SELECT").status_code == 200
    assert scene.grant("table", scene.table, other, "MODIFY").status_code == 200
    path = f"{UC}/permissions/table/{scene.table}"

    def shown(client: httpx.Client, **params: str) -> dict[str, set[str]]:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return {
            a["principal"]: set(a["privileges"]) for a in answer.json()["privilege_assignments"]
        }

    for _ in range(3):  # the first answer may read; the later ones are from memory
        assert shown(admin) == {scene.user: {"SELECT"}, other: {"MODIFY"}}
        assert shown(scene.client) == {scene.user: {"SELECT"}}
    assert shown(admin, principal=other) == {other: {"MODIFY"}}
    assert scene.grant("table", scene.table, scene.user, "MODIFY").status_code == 200
    assert shown(scene.client) == {scene.user: {"SELECT", "MODIFY"}}
    owned = admin.patch(f"{UC}/tables/{scene.table}", json={"owner": scene.user})
    assert owned.status_code == 200, owned.text
    assert shown(scene.client) == {scene.user: {"SELECT", "MODIFY"}, other: {"MODIFY"}}
    assert scene.revoke("table", scene.table, scene.user, "SELECT", "MODIFY").status_code == 200
    assert shown(scene.client) == {other: {"MODIFY"}}


def test_a_created_table_is_answered_as_it_is_read(scene: Scene) -> None:
    """POST /tables serialises its answer itself (not through FastAPI's response model):
    the same JSON, byte for byte, as GET /tables/{full_name} answers afterwards."""
    body = {
        **table_body(scene.catalog, "s", "keyed"),
        "comment": "made here",
        "properties": {"owner_team": "ml"},
        "columns": [
            {"name": "id", "type_name": "LONG", "nullable": False},
            {"name": "ts", "type_name": "TIMESTAMP", "nullable": False},
            {"name": "v", "type_name": "DOUBLE"},
        ],
        "table_constraints": [
            {
                "primary_key_constraint": {
                    "name": "keyed_pk",
                    "child_columns": ["id", "ts"],
                    "timeseries_columns": ["ts"],
                }
            }
        ],
    }
    created = scene.server.admin.post(f"{UC}/tables", json=body)
    assert created.status_code == 200, created.text
    assert created.headers["content-type"] == "application/json"
    read = scene.server.admin.get(f"{UC}/tables/{scene.catalog}.s.keyed")
    assert created.content == read.content
    assert created.json()["table_constraints"][0]["primary_key_constraint"]["name"] == "keyed_pk"
