"""Tags on catalogs, schemas, tables, columns and registered models over HTTP
(``/api/2.1/unity-catalog/entity-tag-assignments``, docs/api.md), on both backends: set,
read, page, change and unset; APPLY TAG with the usage gates for writes, visibility for
reads, a hidden object answering as a missing one; bad input a 400 that changes nothing;
every call audited; tags follow renames and go with the object."""

from __future__ import annotations

import httpx

from tests.support import ServerHandle, server_fixture, unique

UC = "/api/2.1/unity-catalog"
SQL = "/api/2.0/sql/statements"
TAGS = f"{UC}/entity-tag-assignments"

server = server_fixture("tags")


def sql(client: httpx.Client, statement: str) -> None:
    answer = client.post(SQL, json={"statement": statement})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"]["state"] == "SUCCEEDED", (statement, answer.json())


def world(server: ServerHandle) -> tuple[str, str, str]:
    catalog = unique("tg")
    sql(server.admin, f"CREATE CATALOG {catalog}")
    sql(server.admin, f"CREATE SCHEMA {catalog}.s")
    sql(server.admin, f"CREATE TABLE {catalog}.s.t (id BIGINT, email STRING)")
    created = server.admin.post(
        f"{UC}/models", json={"catalog_name": catalog, "schema_name": "s", "name": "m"}
    )
    assert created.status_code == 200, created.text
    return catalog, f"{catalog}.s", f"{catalog}.s.t"


def assign(
    client: httpx.Client, kind: str, name: str, key: str, value: str | None
) -> httpx.Response:
    body = {"entity_type": kind, "entity_name": name, "tag_key": key}
    if value is not None:
        body["tag_value"] = value
    return client.post(TAGS, json=body)


def listed(client: httpx.Client, kind: str, name: str) -> dict[str, str | None]:
    answer = client.get(f"{TAGS}/{kind}/{name}/tags")
    assert answer.status_code == 200, answer.text
    return {t["tag_key"]: t.get("tag_value") for t in answer.json()["tag_assignments"]}


def test_tags_on_every_kind_of_entity_round_trip(server: ServerHandle) -> None:
    catalog, schema, table = world(server)
    admin = server.admin
    entities = [
        ("catalogs", catalog),
        ("schemas", schema),
        ("tables", table),
        ("columns", f"{table}.email"),
        ("registered_models", f"{schema}.m"),
    ]
    for kind, name in entities:
        created = assign(admin, kind, name, "pii", "email")
        assert created.status_code == 200, created.text
        info = created.json()
        assert (info["entity_type"], info["entity_name"], info["tag_key"]) == (kind, name, "pii")
        me = admin.get("/api/2.0/preview/scim/v2/Me").json()["userName"]
        assert info["tag_value"] == "email" and info["updated_by"] == me
        assert info["update_time"].endswith("Z")
        assert assign(admin, kind, name, "certified", None).status_code == 200
        assert listed(admin, kind, name) == {"certified": None, "pii": "email"}
    # Each entity has its own tags: the column's are not the table's.
    assert assign(admin, "columns", f"{table}.id", "key", "primary").status_code == 200
    assert listed(admin, "columns", f"{table}.id") == {"key": "primary"}
    assert listed(admin, "tables", table) == {"certified": None, "pii": "email"}

    # Setting a key again replaces its value; PATCH changes it; GET reads one.
    assert assign(admin, "tables", table, "pii", "none").json()["tag_value"] == "none"
    patched = admin.patch(
        f"{TAGS}/tables/{table}/tags/pii",
        params={"update_mask": "tag_value"},
        json={"tag_value": "hashed"},
    )
    assert patched.status_code == 200 and patched.json()["tag_value"] == "hashed", patched.text
    one = admin.get(f"{TAGS}/tables/{table}/tags/pii")
    assert one.status_code == 200 and one.json()["tag_value"] == "hashed"

    # Paging by key.
    first = admin.get(f"{TAGS}/tables/{table}/tags", params={"max_results": 1}).json()
    assert [t["tag_key"] for t in first["tag_assignments"]] == ["certified"]
    second = admin.get(
        f"{TAGS}/tables/{table}/tags",
        params={"max_results": 1, "page_token": first["next_page_token"]},
    ).json()
    assert [t["tag_key"] for t in second["tag_assignments"]] == ["pii"]
    assert "next_page_token" not in second

    # Unset; a second unset, or a PATCH of a missing tag, is 404.
    assert admin.delete(f"{TAGS}/tables/{table}/tags/pii").status_code == 200
    missing = admin.delete(f"{TAGS}/tables/{table}/tags/pii")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    not_there = admin.patch(f"{TAGS}/tables/{table}/tags/pii", json={"tag_value": "x"})
    assert not_there.status_code == 404, not_there.text
    assert listed(admin, "tables", table) == {"certified": None}

    # Tags follow a rename (they are the object's) and go with a dropped object.
    renamed = admin.patch(f"{UC}/models/{schema}.m", json={"new_name": "m2"})
    assert renamed.status_code == 200, renamed.text
    assert listed(admin, "registered_models", f"{schema}.m2") == {"certified": None, "pii": "email"}
    sql(admin, f"DROP TABLE {table}")
    sql(admin, f"CREATE TABLE {table} (id BIGINT, email STRING)")
    assert listed(admin, "tables", table) == {}
    assert listed(admin, "columns", f"{table}.email") == {}


def test_apply_tag_with_the_usage_gates_for_writes_and_visibility_for_reads(
    server: ServerHandle,
) -> None:
    catalog, schema, table = world(server)
    admin = server.admin
    assert assign(admin, "tables", table, "domain", "sales").status_code == 200
    user, token = server.create_user()
    client = server.client(token)

    # Sees nothing: exactly as a missing table (and a missing one is the same 404).
    hidden = client.get(f"{TAGS}/tables/{table}/tags")
    absent = client.get(f"{TAGS}/tables/{schema}.nope/tags")
    assert hidden.status_code == absent.status_code == 404, (hidden.text, absent.text)
    assert hidden.json()["message"].replace(table, "X") == absent.json()["message"].replace(
        f"{schema}.nope", "X"
    )
    assert assign(client, "tables", table, "domain", "mine").status_code == 404

    # Sees the table (SELECT and the gates): reads its tags, may not change them.
    for statement in (
        f"GRANT USE CATALOG ON CATALOG {catalog} TO `{user}`",
        f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{user}`",
        f"GRANT SELECT ON TABLE {table} TO `{user}`",
    ):
        sql(admin, statement)
    assert listed(client, "tables", table) == {"domain": "sales"}
    denied = assign(client, "tables", table, "domain", "mine")
    assert denied.status_code == 403, denied.text
    assert "APPLY TAG" in denied.json()["message"]
    assert client.delete(f"{TAGS}/tables/{table}/tags/domain").status_code == 403

    # APPLY TAG on the table: its tags and its columns'.
    sql(admin, f"GRANT APPLY TAG ON TABLE {table} TO `{user}`")
    assert assign(client, "tables", table, "domain", "mine").status_code == 200
    assert assign(client, "columns", f"{table}.email", "pii", "email").status_code == 200
    # Without USE SCHEMA, APPLY TAG alone does not reach inside.
    sql(admin, f"REVOKE USE SCHEMA ON SCHEMA {schema} FROM `{user}`")
    gated = assign(client, "tables", table, "domain", "again")
    assert gated.status_code in (403, 404), gated.text
    assert listed(admin, "tables", table) == {"domain": "mine"}

    # Every call is in the audit log, as its caller.
    events = admin.get(
        f"{UC.replace('unity-catalog', 'steward')}/audit",
        params={"user": user, "action": "createEntityTagAssignment", "max_results": 100},
    ).json()["events"]
    assert {e["response"]["status_code"] for e in events} == {200, 403}, events
    # The audit keeps the truth the caller was not told: the hidden table was a denial.
    assert any("answered 404" in (e["response"].get("error_message") or "") for e in events)


def test_bad_input_is_a_400_naming_it_and_changes_nothing(server: ServerHandle) -> None:
    _catalog, _schema, table = world(server)
    admin = server.admin
    cases = [
        ({"entity_type": "volumes", "entity_name": table, "tag_key": "k"}, "entity_type"),
        ({"entity_type": "tables", "entity_name": table, "tag_key": "  "}, "tag_key"),
        ({"entity_type": "tables", "entity_name": table, "tag_key": "a\x07b"}, "U+0007"),
        ({"entity_type": "columns", "entity_name": table, "tag_key": "k"}, "column"),
        (
            {"entity_type": "tables", "entity_name": table, "tag_key": "k", "tag_value": "\x00"},
            "NUL",
        ),
        (
            {
                "entity_type": "tables",
                "entity_name": table,
                "tag_key": "k",
                "tag_value": "v" * 1001,
            },
            "tag_value",
        ),
        ({"entity_type": "tables", "entity_name": table}, "tag_key"),
    ]
    for body, needle in cases:
        answer = admin.post(TAGS, json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert needle in answer.json()["message"], (needle, answer.json())
    missing_column = assign(admin, "columns", f"{table}.nope", "k", "v")
    assert missing_column.status_code == 404 and "no column 'nope'" in missing_column.text
    bad_mask = admin.patch(
        f"{TAGS}/tables/{table}/tags/k", params={"update_mask": "tag_key"}, json={}
    )
    assert bad_mask.status_code == 400 and "update_mask" in bad_mask.text
    assert listed(admin, "tables", table) == {}
    # At most 50 tags an entity.
    for number in range(50):
        assert assign(admin, "tables", table, f"k{number:02d}", None).status_code == 200
    full = assign(admin, "tables", table, "one-more", None)
    assert full.status_code == 400 and "50 tags" in full.text
    assert assign(admin, "tables", table, "k00", "replaced").status_code == 200


def test_a_model_read_with_include_tags_answers_its_tags_in_the_same_request(
    server: ServerHandle,
) -> None:
    """``include_tags=true`` (Steward's, what the MLflow plugin asks) adds the model's tag
    assignments to the model; without it the answer is Unity Catalog's, unchanged."""
    _catalog, schema, _table = world(server)
    admin = server.admin
    model = f"{schema}.m"
    assert assign(admin, "registered_models", model, "team", "growth").status_code == 200
    assert assign(admin, "registered_models", model, "certified", None).status_code == 200
    plain = admin.get(f"{UC}/models/{model}")
    assert plain.status_code == 200 and "tags" not in plain.json()
    tagged = admin.get(f"{UC}/models/{model}", params={"include_tags": "true"})
    assert tagged.status_code == 200, tagged.text
    body = tagged.json()
    assert body.pop("tags") == [
        {"key": "certified", "value": None},
        {"key": "team", "value": "growth"},
    ]
    assert body == plain.json()
    assert admin.get(f"{UC}/models/{model}", params={"include_tags": "maybe"}).status_code == 400

    # Whoever sees the model (BROWSE) sees its tags; whoever does not, neither.
    user, token = server.create_user()
    client = server.client(token)
    hidden = client.get(f"{UC}/models/{model}", params={"include_tags": "true"})
    assert hidden.status_code == 404, hidden.text
    sql(admin, f"GRANT BROWSE ON MODEL {model} TO `{user}`")
    seen = client.get(f"{UC}/models/{model}", params={"include_tags": "true"})
    assert seen.status_code == 200, seen.text
    assert [t["key"] for t in seen.json()["tags"]] == ["certified", "team"]
