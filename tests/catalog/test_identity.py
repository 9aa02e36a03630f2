"""Principals, groups and tokens over HTTP: hashed, expiring, revocable, admin-managed."""

from __future__ import annotations

import stat
import time
from pathlib import Path

from sqlalchemy import create_engine, select

from catalog.identity import hash_token
from catalog.persistence import schema as t
from tests.support import ServerHandle, start_server, unique

SCIM = "/api/2.0/preview/scim/v2"


def test_tokens_are_stored_hashed_never_in_clear(server: ServerHandle) -> None:
    _, token = server.create_user()
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            hashes = set(conn.execute(select(t.AccessToken.token_hash)).scalars())
    finally:
        engine.dispose()
    assert hash_token(token) in hashes
    assert token not in hashes
    assert all(len(h) == 64 for h in hashes)
    assert token not in server.logs()
    assert server.admin_token not in server.logs()


def test_token_lifecycle(server: ServerHandle) -> None:
    name, token = server.create_user()
    me = server.client(token)
    assert me.get(f"{SCIM}/Me").json()["userName"] == name
    created = me.post("/api/2.0/token/create", json={"comment": "second", "lifetime_seconds": 3600})
    assert created.status_code == 200, created.text
    body = created.json()
    second = body["token_value"]
    assert body["token_info"]["comment"] == "second"
    assert body["token_info"]["expiry_time"] > body["token_info"]["creation_time"]
    listed = me.get("/api/2.0/token/list").json()["token_infos"]
    assert {i["token_id"] for i in listed} >= {body["token_info"]["token_id"]}
    assert all("token_value" not in i for i in listed)
    # Revoke the second token with the first; the second stops working at once.
    revoked = me.post("/api/2.0/token/delete", json={"token_id": body["token_info"]["token_id"]})
    assert revoked.status_code == 200
    gone = server.client(second).get(f"{SCIM}/Me")
    assert gone.status_code == 401 and gone.json()["error_code"] == "UNAUTHENTICATED"
    # One user cannot revoke another's token.
    _, other = server.create_user()
    mine = me.get("/api/2.0/token/list").json()["token_infos"][0]["token_id"]
    denied = server.client(other).post("/api/2.0/token/delete", json={"token_id": mine})
    assert denied.status_code == 404
    assert me.get(f"{SCIM}/Me").status_code == 200


def test_expired_token_is_refused(server: ServerHandle) -> None:
    _, token = server.create_user()
    short = server.client(token).post("/api/2.0/token/create", json={"lifetime_seconds": 1})
    value = short.json()["token_value"]
    assert server.client(value).get(f"{SCIM}/Me").status_code == 200
    time.sleep(1.2)
    expired = server.client(value).get(f"{SCIM}/Me")
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]


def test_admin_manages_principals_and_tokens(server: ServerHandle) -> None:
    name, token = server.create_user()
    user = server.client(token)
    forbidden = user.post(f"{SCIM}/Users", json={"userName": unique("x")})
    assert forbidden.status_code == 403
    assert forbidden.json()["error_code"] == "PERMISSION_DENIED"
    found = user.get(f"{SCIM}/Users", params={"filter": f'userName eq "{name.upper()}"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["userName"] == name
    # A service principal gets a token on its behalf.
    app_id = unique("app")
    sp = server.admin.post(
        f"{SCIM}/ServicePrincipals", json={"applicationId": app_id, "displayName": "etl"}
    )
    assert sp.status_code == 201
    obo = server.admin.post(
        "/api/2.0/token-management/on-behalf-of/tokens",
        json={"application_id": app_id, "lifetime_seconds": 600, "comment": "etl job"},
    )
    assert obo.status_code == 200, obo.text
    sp_client = server.client(obo.json()["token_value"])
    assert sp_client.get(f"{SCIM}/Me").json()["applicationId"] == app_id
    # Admin revokes it through token management.
    all_tokens = server.admin.get("/api/2.0/token-management/tokens").json()["token_infos"]
    token_id = obo.json()["token_info"]["token_id"]
    assert token_id in {i["token_id"] for i in all_tokens}
    assert server.admin.delete(f"/api/2.0/token-management/tokens/{token_id}").status_code == 200
    assert sp_client.get(f"{SCIM}/Me").status_code == 401
    # Deleting a user kills its tokens.
    user_id = user.get(f"{SCIM}/Me").json()["id"]
    assert server.admin.delete(f"{SCIM}/Users/{user_id}").status_code == 204
    assert user.get(f"{SCIM}/Me").status_code == 401


def test_groups_nest_and_reject_cycles(server: ServerHandle) -> None:
    admin = server.admin
    name, _ = server.create_user()
    user_id = admin.get(f"{SCIM}/Users", params={"filter": f'userName eq "{name}"'}).json()[
        "Resources"
    ][0]["id"]
    inner = admin.post(f"{SCIM}/Groups", json={"displayName": unique("Inner")}).json()
    outer = admin.post(
        f"{SCIM}/Groups", json={"displayName": unique("outer"), "members": [{"value": inner["id"]}]}
    ).json()
    patched = admin.patch(
        f"{SCIM}/Groups/{inner['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "value": {"members": [{"value": user_id}]}}],
        },
    )
    assert patched.status_code == 200, patched.text
    assert [m["value"] for m in patched.json()["members"]] == [user_id]
    for group, member in ((inner, outer), (inner, inner)):
        cycle = admin.patch(
            f"{SCIM}/Groups/{group['id']}",
            json={"Operations": [{"op": "add", "value": {"members": [{"value": member["id"]}]}}]},
        )
        assert cycle.status_code == 400, cycle.text
        assert "cycle" in cycle.json()["message"]
    assert [m["value"] for m in admin.get(f"{SCIM}/Groups/{inner['id']}").json()["members"]] == [
        user_id
    ]
    removed = admin.patch(
        f"{SCIM}/Groups/{inner['id']}",
        json={"Operations": [{"op": "remove", "path": f'members[value eq "{user_id}"]'}]},
    )
    assert removed.status_code == 200 and removed.json()["members"] == []


def test_bootstrap_admin_token_is_generated_printed_once_and_saved_0600(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "storage"
    handle = start_server(f"sqlite:///{tmp_path / 'boot.db'}", storage, {"STEWARD_ADMIN_TOKEN": ""})
    try:
        token_file = storage / "admin-token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert token.startswith("dapi") and len(token) == 68
        assert handle.client(token).get(f"{SCIM}/Me").json()["userName"] == "admin"
        assert handle.logs().count(token) == 1  # printed once, on stderr, never logged
    finally:
        handle.stop()
    # A second start neither prints nor replaces it.
    again = start_server(f"sqlite:///{tmp_path / 'boot.db'}", storage, {"STEWARD_ADMIN_TOKEN": ""})
    try:
        assert token not in again.logs()
        assert again.client(token).get(f"{SCIM}/Me").status_code == 200
        assert token_file.read_text().strip() == token
    finally:
        again.stop()
