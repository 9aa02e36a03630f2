"""Version metadata is BROWSE; where the artifacts are (storage_location) is for loaders only."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import ServerHandle, unique, write_mlmodel

UC = "/api/2.1/unity-catalog"
SQL = "/api/2.0/sql/statements"


def sql(client: httpx.Client, statement: str) -> None:
    body = client.post(SQL, json={"statement": statement}).json()
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)


def location_of(client: httpx.Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    if "model_versions" in body:
        return [v["storage_location"] for v in body["model_versions"]]
    return body["storage_location"]


def test_storage_location_is_shown_only_to_those_who_may_load(server: ServerHandle) -> None:
    admin = server.admin
    catalog = unique("c")
    sql(admin, f"CREATE CATALOG {catalog}")
    sql(admin, f"CREATE SCHEMA {catalog}.ml")
    model = f"{catalog}.ml.churn"
    body = {"catalog_name": catalog, "schema_name": "ml", "name": "churn"}
    assert admin.post(f"{UC}/models", json=body).status_code == 200
    created = admin.post(
        f"{UC}/models/versions",
        json={"catalog_name": catalog, "schema_name": "ml", "model_name": "churn", "source": "x"},
    ).json()
    assert created["storage_location"]  # the creator writes the artifacts there
    write_mlmodel(created["storage_location"])
    admin.patch(f"{UC}/models/{model}/versions/1/finalize", json={"full_name": model, "version": 1})
    admin.put(f"{UC}/models/{model}/aliases/champion", json={"version_num": 1})
    paths = (
        f"{UC}/models/{model}/versions/1",
        f"{UC}/models/{model}/aliases/champion",
        f"{UC}/models/{model}/versions",
    )
    name, token = server.create_user()
    reader = server.client(token)
    for privilege, on in (
        ("USE CATALOG", f"CATALOG {catalog}"),
        ("USE SCHEMA", f"SCHEMA {catalog}.ml"),
        ("BROWSE", f"MODEL {model}"),
    ):
        sql(admin, f"GRANT {privilege} ON {on} TO `{name}`")
    assert [location_of(reader, p) for p in paths] == [None, None, [None]]
    assert location_of(admin, paths[0]) == created["storage_location"]  # the owner may load
    sql(admin, f"GRANT EXECUTE ON MODEL {model} TO `{name}`")
    shown = [location_of(reader, p) for p in paths]
    assert shown == [created["storage_location"]] * 2 + [[created["storage_location"]]]
    # Asked again (now answered from memory on the event loop: the model's chain and the
    # version are kept), the alias answers what the version does, and follows a REVOKE.
    for client in (admin, reader):
        for _ in range(3):
            by_alias = client.get(paths[1])
            assert by_alias.status_code == 200, by_alias.text
            assert by_alias.json() == client.get(paths[0]).json()
    sql(admin, f"REVOKE EXECUTE ON MODEL {model} FROM `{name}`")
    assert location_of(reader, paths[1]) is None
    sql(admin, f"REVOKE BROWSE ON MODEL {model} FROM `{name}`")
    hidden = reader.get(paths[1])
    assert hidden.status_code == 404, hidden.text
    assert hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
