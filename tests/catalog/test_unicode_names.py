"""One name, one spelling (docs/api.md, names): Unicode folding and control characters.

Against a real server on SQLite and PostgreSQL: a name typed decomposed (NFD) or in
fullwidth forms is the name already there; a control or invisible character in any name
(catalog, table, model, endpoint, principal, OpenLineage dataset, SQL) is a 400 naming
the field, the code point and the position, and creates nothing; what the CLI prints of
a name stored with a ``\\r`` before names refused one is escaped. And migration c0008
(with r0005) rewrites what was stored before in the same spellings, collisions refused.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from alembic import command

from catalog.config import Settings
from catalog.lineage import Edge, EdgeKind, external_node, record_edges, securable_node
from catalog.persistence.engine import Database
from catalog.persistence.migrate import alembic_config
from catalog.store.sqlalchemy_stores import SqlNamespaceStore
from common.text import escape_controls, fold_external, fold_identifier
from policy.securables import SecurableType
from registry.persistence.migrations import VERSIONS as REGISTRY_VERSIONS
from steward.app import shutdown, start
from tests.bad_input_support import table_body
from tests.catalog.test_sql import failed, ok
from tests.support import ServerHandle, run_steward, unique

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
LINEAGE = "/api/v1/lineage"
GRAPH = "/api/2.1/steward/lineage"
ENDPOINTS = "/api/2.0/serving-endpoints"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fullwidth(text: str) -> str:
    """ASCII letters, digits, ``_`` and ``@`` as their fullwidth forms (what a CJK input
    method types); dots are left alone, so a dotted name keeps its parts."""
    return "".join(
        chr(ord(c) + 0xFEE0) if c.isascii() and (c.isalnum() or c in "_@") else c for c in text
    )


def error(response: httpx.Response, *words: str, status: int = 400) -> str:
    """The error message, checked for ``words``; never holding a raw control character."""
    assert response.status_code == status, response.text
    body = response.json()
    if status == 400:
        assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    message = str(body["message"])
    for word in words:
        assert word in message, (word, message)
    assert escape_controls(message) == message, f"raw control character in {message!r}"
    return message


def catalog_names(admin: httpx.Client) -> set[str]:
    response = admin.get(f"{UC}/catalogs", params={"max_results": 1000})
    assert response.status_code == 200, response.text
    return {c["name"] for c in response.json()["catalogs"]}


def make_schema(admin: httpx.Client) -> tuple[str, str]:
    catalog = unique("un")
    ok(admin, f"CREATE CATALOG {catalog}")
    ok(admin, f"CREATE SCHEMA {catalog}.s")
    return catalog, f"{catalog}.s"


# -- one name, one spelling -------------------------------------------------------------------


def test_decomposed_and_composed_e_acute_are_one_catalog(server: ServerHandle) -> None:
    admin = server.admin
    name = f"café_{uuid.uuid4().hex[:8]}"
    assert nfd(name) != nfc(name)
    created = admin.post(f"{UC}/catalogs", json={"name": nfd(name)})
    assert created.status_code == 200, created.text
    assert created.json()["name"] == nfc(name)  # stored composed
    by_nfc = admin.get(f"{UC}/catalogs/{nfc(name)}")
    assert by_nfc.status_code == 200, by_nfc.text
    assert by_nfc.json()["id"] == created.json()["id"]
    assert admin.get(f"{UC}/catalogs/{nfd(name).upper()}").json()["id"] == created.json()["id"]
    again = admin.post(f"{UC}/catalogs", json={"name": nfc(name)})
    error(again, status=409)
    assert [n for n in catalog_names(admin) if fold_identifier(n) == nfc(name)] == [nfc(name)]


def test_fullwidth_name_is_the_ascii_name(server: ServerHandle) -> None:
    """NFKC, not NFC only: ``ｍａｉｎ`` beside ``main`` would be two look-alike catalogs."""
    admin = server.admin
    name = unique("fw")
    created = admin.post(f"{UC}/catalogs", json={"name": fullwidth(name)})
    assert created.status_code == 200, created.text
    assert created.json()["name"] == name
    error(admin.post(f"{UC}/catalogs", json={"name": name}), status=409)
    found = admin.get(f"{UC}/catalogs/{fullwidth(name).upper()}")
    assert found.status_code == 200 and found.json()["name"] == name
    # The reserved catalog in fullwidth is the reserved catalog.
    error(admin.post(f"{UC}/catalogs", json={"name": fullwidth("system")}), "reserved")
    # A look-alike of a forbidden character is refused like the character, by code point.
    dotted = f"{unique('fw')}．x"
    error(admin.post(f"{UC}/catalogs", json={"name": dotted}), "U+FF0E", "'.'")
    spaced = f"{unique('fw')}\u00a0x"
    error(admin.post(f"{UC}/catalogs", json={"name": spaced}), "U+00A0", "space")
    assert not {dotted, spaced, fold_identifier(dotted)} & catalog_names(admin)


def test_names_in_sql_are_folded_the_same_way(server: ServerHandle) -> None:
    admin = server.admin
    name = f"ré_{uuid.uuid4().hex[:8]}"
    ok(admin, f"CREATE CATALOG `{nfd(name)}`")
    assert admin.get(f"{UC}/catalogs/{nfc(name)}").status_code == 200
    ok(admin, f"CREATE SCHEMA `{fullwidth(nfc(name))}`.s")
    assert admin.get(f"{UC}/schemas/{nfc(name)}.s").status_code == 200
    assert ok(admin, f"SHOW SCHEMAS IN `{nfd(name)}`") == [[nfc(name), "s"]]
    described = ok(admin, f"DESCRIBE SCHEMA `{nfd(name).upper()}`.s")
    assert any(f"{nfc(name)}.s" in str(row) for row in described), described
    # Principals named in SQL are the principals whichever way they are written.
    group = unique("grp")
    ok(admin, f"CREATE GROUP `{fullwidth(group)}`")
    user, _token = server.create_user()
    local, domain = user.split("@")
    ok(admin, f"ALTER GROUP `{group}` ADD USER `{fullwidth(local).upper()}@{domain}`")
    found = admin.get(f"{SCIM}/Groups", params={"filter": f'displayName eq "{group}"'}).json()
    assert [m["display"] for m in found["Resources"][0]["members"]] == [user]
    # A control character in a name in SQL is refused like anywhere else.
    bad = f"{unique('sq')}\rx"
    message = failed(admin, f"CREATE CATALOG `{bad}`", "INVALID_PARAMETER_VALUE")
    assert "U+000D" in message and "\r" not in message
    assert bad not in catalog_names(admin) and bad.lower() not in catalog_names(admin)


@pytest.mark.parametrize(
    "way", ["grant-on-nfd", "grant-to-fullwidth", "permissions-nfd", "select-nfd"]
)
def test_grants_permissions_and_sql_reads_fold_names(server: ServerHandle, way: str) -> None:
    """GRANT's object and principal, /permissions and SQL table names find the stored
    spelling from any other; the grant lands on the one catalog and the one user."""
    admin = server.admin
    name = f"ré_{uuid.uuid4().hex[:8]}"
    ok(admin, f"CREATE CATALOG `{name}`")
    ok(admin, f"CREATE SCHEMA `{name}`.s")
    ok(admin, f"CREATE TABLE `{name}`.s.t (id BIGINT)")
    user, _token = server.create_user()
    local, domain = user.split("@")
    if way in ("grant-on-nfd", "grant-to-fullwidth"):
        on, to = (
            (nfd(name), user) if way == "grant-on-nfd" else (name, f"{fullwidth(local)}@{domain}")
        )
        ok(admin, f"GRANT USE CATALOG ON CATALOG `{on}` TO `{to}`")
        granted = admin.get(f"{UC}/permissions/catalog/{name}").json()
        assert {a["principal"] for a in granted["privilege_assignments"]} == {user}
    elif way == "permissions-nfd":
        response = admin.get(f"{UC}/permissions/catalog/{nfd(name)}")
        assert response.status_code == 200, response.text
    else:
        assert ok(admin, f"SELECT count(*) FROM `{nfd(name)}`.s.t") == [[0]]


# -- control characters: 400, the field, the code point and position; nothing created ---------


def test_control_character_in_catalog_name_is_refused_creating_nothing(
    server: ServerHandle,
) -> None:
    admin = server.admin
    before = catalog_names(admin)
    for bad, code, position in [
        ("ab\rcd", "U+000D", 3),
        ("ab\x1b[31mcd", "U+001B", 3),
        ("ab\u202ecd", "U+202E", 3),  # a bidi override: reorders what a terminal shows
        ("ab\u200bcd", "U+200B", 3),  # invisible: 'abcd' and this would look the same
        ("abc\x7f", "U+007F", 4),
        ("ab\u2028cd", "U+2028", 3),  # a line separator
    ]:
        response = admin.post(f"{UC}/catalogs", json={"name": bad})
        error(response, "name", code, f"position {position}")
    assert catalog_names(admin) == before


def test_control_character_in_table_model_and_endpoint_names_is_refused(
    server: ServerHandle,
) -> None:
    admin = server.admin
    catalog, schema = make_schema(admin)
    table = admin.post(f"{UC}/tables", json=table_body(catalog, "s", "t\rx"))
    error(table, "name", "U+000D", "position 2")
    in_schema = admin.post(f"{UC}/tables", json=table_body(catalog, "s\x1bx", "t"))
    error(in_schema, "schema_name", "U+001B", "position 2")
    model = admin.post(
        f"{UC}/models", json={"catalog_name": catalog, "schema_name": "s", "name": "m\u202e"}
    )
    error(model, "name", "U+202E", "position 2")
    path = admin.get(f"{UC}/tables/{schema}.t%0Dx")
    error(path, "name", "U+000D", "position 2")
    endpoint = admin.post(
        ENDPOINTS,
        json={
            "name": "ep\rx",
            "config": {"served_entities": [{"entity_name": f"{schema}.m", "entity_version": 1}]},
        },
    )
    error(endpoint, "name", "U+000D", "position 3")
    tables = admin.get(f"{UC}/tables", params={"catalog_name": catalog, "schema_name": "s"})
    assert tables.json().get("tables", []) == []
    models = admin.get(f"{UC}/models", params={"catalog_name": catalog, "schema_name": "s"})
    assert models.json().get("registered_models", []) == []
    assert admin.get(f"{ENDPOINTS}/ep%0Dx").status_code == 400


def test_control_character_in_principal_names_is_refused(server: ServerHandle) -> None:
    admin = server.admin
    user = f"{unique('pr')}\u202e@example.com"
    error(admin.post(f"{SCIM}/Users", json={"userName": user}), "userName", "U+202E")
    group = f"{unique('gr')}\rx"
    error(admin.post(f"{SCIM}/Groups", json={"displayName": group}), "displayName", "U+000D")
    named = f"{unique('pr')}@example.com"
    shown = admin.post(f"{SCIM}/Users", json={"userName": named, "displayName": "A\x1bB"})
    error(shown, "displayName", "U+001B", "position 2")
    for kind, field, name in [("Users", "userName", user), ("Groups", "displayName", group)]:
        found = admin.get(f"{SCIM}/{kind}", params={"filter": f'{field} eq "{name}"'})
        assert found.json()["totalResults"] == 0
    found = admin.get(f"{SCIM}/Users", params={"filter": f'userName eq "{named}"'})
    assert found.json()["totalResults"] == 0
    # A principal created in fullwidth is the ASCII principal; NFD is NFC.
    wide = f"{unique('pr')}"
    created = admin.post(f"{SCIM}/Users", json={"userName": f"{fullwidth(wide)}@example.com"})
    assert created.status_code == 201, created.text
    assert created.json()["userName"] == f"{wide}@example.com"
    again = admin.post(f"{SCIM}/Users", json={"userName": f"{wide.upper()}@example.com"})
    assert again.status_code == 409, again.text
    accented = f"josé_{uuid.uuid4().hex[:8]}@example.com"
    made = admin.post(f"{SCIM}/Users", json={"userName": nfd(accented)})
    assert made.status_code == 201 and made.json()["userName"] == nfc(accented)
    filtered = admin.get(f"{SCIM}/Users", params={"filter": f'userName eq "{nfd(accented)}"'})
    assert filtered.json()["totalResults"] == 1


def _event(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-02T03:04:05.678Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "tests", "name": "unicode"},
        "inputs": inputs,
        "outputs": outputs,
        "producer": "tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }


def test_control_character_in_lineage_dataset_is_refused_recording_nothing(
    server: ServerHandle,
) -> None:
    admin = server.admin
    _catalog, schema = make_schema(admin)
    ok(admin, f"CREATE TABLE {schema}.t (id BIGINT)")
    table = f"{schema}.t"
    output = [{"namespace": "steward", "name": table}]
    bad_name = _event([{"namespace": "s3://in", "name": "a/b\rc.csv"}], output)
    error(admin.post(LINEAGE, json=bad_name), "inputs.0.name", "U+000D", "position 4")
    bad_namespace = _event([{"namespace": "s3://\x1b[2Jin", "name": "x.csv"}], output)
    error(admin.post(LINEAGE, json=bad_namespace), "inputs.0.namespace", "U+001B")
    bad_job = {**_event([], output), "job": {"namespace": "t", "name": "j\u202eob"}}
    error(admin.post(LINEAGE, json=bad_job), "job.name", "U+202E")
    body = admin.get(GRAPH, params={"full_name": table}).json()
    assert body["edges"] == []
    # A decomposed external name records the node a composed one does.
    name = f"résumé_{uuid.uuid4().hex[:6]}.csv"
    for spelling in (nfd(name), nfc(name)):
        sent = _event([{"namespace": "s3://in", "name": spelling}], output)
        assert admin.post(LINEAGE, json=sent).status_code == 201
    graph = admin.get(GRAPH, params={"full_name": table, "direction": "upstream"}).json()
    assert [n["name"] for n in graph["nodes"] if n["type"] == "EXTERNAL"] == [
        f"s3://in/{nfc(name)}"
    ]
    assert [e["count"] for e in graph["edges"]] == [2]
    # The catalog dataset of an event is folded like any securable name.
    wide = _event(
        [{"namespace": "s3://in", "name": "w.csv"}], [{"namespace": "uc", "name": fullwidth(table)}]
    )
    assert admin.post(LINEAGE, json=wide).status_code == 201, fullwidth(table)


# -- what the CLI prints of names stored before ----------------------------------------------


def test_cli_shows_a_stored_carriage_return_escaped(server: ServerHandle) -> None:
    """A dataset recorded with a ``\\r`` before names refused one: the tree, DOT and
    Mermaid show ``\\r``, never the character that would rewrite the terminal line."""
    admin = server.admin
    _catalog, schema = make_schema(admin)
    ok(admin, f"CREATE TABLE {schema}.t (id BIGINT)")
    table = f"{schema}.t"
    db = Database(server.database_url)
    try:
        with db.transaction() as session:
            record = SqlNamespaceStore(session).get(SecurableType.TABLE, table)
            assert record is not None
            source = external_node("s3://raw", "in\rjected\x1b[2J.csv")
            record_edges(session, [Edge(source, securable_node(record), EdgeKind.OPENLINEAGE)])
    finally:
        db.dispose()
    raw = admin.get(GRAPH, params={"full_name": table}).json()
    assert "s3://raw/in\rjected\x1b[2J.csv" in {n["name"] for n in raw["nodes"]}  # data kept

    tree = run_steward("lineage", table, server=server).stdout
    assert "s3://raw/in\\rjected\\x1b[2J.csv (EXTERNAL)" in tree
    for fmt in ("dot", "mermaid"):
        drawn = run_steward("lineage", table, "--format", fmt, server=server).stdout
        assert "jected" in drawn
        assert "\r" not in drawn and "\x1b" not in drawn, (fmt, drawn)
    assert "\r" not in tree and "\x1b" not in tree


def test_cli_tables_escape_control_characters_in_values(server: ServerHandle) -> None:
    admin = server.admin
    catalog = unique("cl")
    created = admin.post(f"{UC}/catalogs", json={"name": catalog, "comment": "a\rb\x1b[2Jc\u202ed"})
    assert created.status_code == 200, created.text
    shown = run_steward("catalogs", "get", catalog, server=server).stdout
    assert "a\\rb\\x1b[2Jc\\u202ed" in shown
    assert "\r" not in shown and "\x1b" not in shown and "\u202e" not in shown
    listed = run_steward("catalogs", "list", server=server).stdout
    assert "\r" not in listed and "\x1b" not in listed


# -- the foldings themselves -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Café", "cafe\u0301", "ｍａｉｎ", "ß", "İstanbul", "x²", "ﬁle", "Ａ\u0301", "ᴬ", "ｶﾀｶﾅ"],
)
def test_folding_is_idempotent_and_canonical(text: str) -> None:
    once = fold_identifier(text)
    assert fold_identifier(once) == once
    assert fold_identifier(nfd(text)) == once == fold_identifier(nfc(text))
    assert fold_external(nfd(text)) == nfc(text)


def test_escape_keeps_text_and_joiners() -> None:
    assert escape_controls("café × s3://x\\y") == "café × s3://x\\y"
    assert escape_controls("👩\u200d💻 and \u200cx") == "👩\u200d💻 and \u200cx"
    assert escape_controls("a\tb\nc\rd\x00\x9b\u2029") == "a\\tb\\nc\\rd\\x00\\x9b\\u2029"
    assert escape_controls("a\r\nb\nc", keep_newlines=True) == "a\nb\nc"


# -- migration c0008 (and r0005) -------------------------------------------------------------


def _at_previous_revision(url: str) -> sa.Engine:
    """A database as the release before names were folded left it (c0007, r0004)."""
    config = alembic_config(url, [REGISTRY_VERSIONS])
    command.upgrade(config, "c0007")
    command.upgrade(config, "r0004")
    return sa.create_engine(url)


def _upgrade(url: str) -> None:
    command.upgrade(alembic_config(url, [REGISTRY_VERSIONS]), "heads")


def _insert(engine: sa.Engine, table: str, *rows: dict[str, Any]) -> None:
    meta = sa.MetaData()
    target = sa.Table(table, meta, autoload_with=engine)
    with engine.begin() as connection:
        for row in rows:  # one by one: rows of one table may set different columns
            connection.execute(sa.insert(target), row)


def _securable(
    id: str, kind: str, full_name: str, owner: str, parent: str | None = None
) -> dict[str, Any]:
    return {
        "id": id,
        "securable_type": kind,
        "parent_id": parent,
        "name": full_name.split(".")[-1],
        "full_name": full_name,
        "owner": owner,
        "properties": {},
        "created_at": 1,
        "created_by": owner,
    }


def _principal(id: str, name: str) -> dict[str, Any]:
    return {
        "id": id,
        "kind": "USER",
        "name": name,
        "display_name": None,
        "active": True,
        "is_metastore_admin": False,
        "created_at": 1,
    }


def _external(namespace: str, name: str) -> dict[str, Any]:
    """An external lineage node as the release before keyed it (no folding)."""
    digest = hashlib.sha256(f"{namespace}\x00{name}".encode()).hexdigest()
    return {
        "node_type": "EXTERNAL",
        "node_key": f"ext:{digest}",
        "namespace": namespace,
        "external_name": name,
        "path": f"{namespace}/{name}",
        "first_seen": datetime.now(UTC),
    }


def _one(engine: sa.Engine, query: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(query), params).one()


def test_migration_folds_every_stored_name(database_url: str, tmp_path: Path) -> None:
    engine = _at_previous_revision(database_url)
    catalog = nfd("café_m")  # stored lower-case, but decomposed
    person = nfd("josé@example.com")
    try:
        _insert(engine, "principals", _principal("p1", person))
        _insert(
            engine,
            "securables",
            _securable("c1", "CATALOG", catalog, person),
            _securable("s1", "SCHEMA", f"{catalog}.s", person, "c1"),
            _securable("t1", "TABLE", f"{catalog}.s.t", "System user", "s1"),
            _securable("e1", "SERVING_ENDPOINT", "ep_m", person),
        )
        _insert(
            engine, "casbin_rule", {"ptype": "p", "v0": person, "v1": "c1", "v2": "USE CATALOG"}
        )
        folded_key = _external("s3://b", nfc("ré.csv"))["node_key"]
        _insert(
            engine,
            "lineage_nodes",
            _external("s3://b", nfd("résumé.csv")),
            _external("s3://b", nfc("ré.csv")),  # the same dataset twice, as recorded before
            _external("s3://b", nfd("ré.csv")),
            {
                "node_type": "TABLE",
                "node_key": "t1",
                "securable_id": "t1",
                "full_name": f"{catalog}.s.t",
                "catalog_name": catalog,
                "schema_name": "s",
                "object_name": "t",
                "first_seen": datetime.now(UTC),
            },
        )
        config = {
            "served_entities": [
                {
                    "name": "m-1",
                    "entity_name": f"{catalog}.s.m",
                    "entity_version": 1,
                    "alias": None,
                    "traffic_percentage": 100,
                }
            ],
            "auto_capture": {
                "catalog_name": catalog,
                "schema_name": "s",
                "table_name_prefix": "ep",
                "enabled": True,
            },
        }
        _insert(
            engine,
            "serving_endpoints",
            {
                "securable_id": "e1",
                "config": orjson.dumps(config).decode(),
                "config_version": 1,
                "checked_tables": orjson.dumps([f"{catalog}.s.f"]).decode(),
            },
        )

        _upgrade(database_url)

        composed = nfc("café_m")
        assert _one(
            engine, "SELECT name, full_name, owner, created_by FROM securables WHERE id = 'c1'"
        ) == (
            composed,
            composed,
            nfc(person),
            person,  # who created it is history, kept as written (like the audit log)
        )
        assert (
            _one(engine, "SELECT full_name FROM securables WHERE id = 't1'")[0] == f"{composed}.s.t"
        )
        assert _one(engine, "SELECT owner FROM securables WHERE id = 't1'")[0] == "System user"
        assert _one(engine, "SELECT name FROM principals WHERE id = 'p1'")[0] == nfc(person)
        assert _one(engine, "SELECT v0 FROM casbin_rule WHERE v1 = 'c1'")[0] == nfc(person)
        node = _one(
            engine,
            "SELECT node_key, external_name, path FROM lineage_nodes WHERE external_name = :n",
            n=nfc("résumé.csv"),
        )
        assert node == (
            external_node("s3://b", nfc("résumé.csv")).key,
            nfc("résumé.csv"),
            f"s3://b/{nfc('résumé.csv')}",
        )
        # Two nodes of one dataset: the composed one keeps the key, the other is kept as seen.
        assert (
            _one(engine, "SELECT count(*) FROM lineage_nodes WHERE node_key = :k", k=folded_key)[0]
            == 1
        )
        assert (
            _one(
                engine,
                "SELECT count(*) FROM lineage_nodes WHERE external_name = :n",
                n=nfd("ré.csv"),
            )[0]
            == 1
        )
        assert _one(
            engine, "SELECT full_name, catalog_name FROM lineage_nodes WHERE node_key = 't1'"
        ) == (
            f"{composed}.s.t",
            composed,
        )
        stored = _one(engine, "SELECT config, checked_tables FROM serving_endpoints")
        endpoint = orjson.loads(stored[0])
        assert endpoint["served_entities"][0]["entity_name"] == f"{composed}.s.m"
        assert endpoint["auto_capture"]["catalog_name"] == composed
        assert orjson.loads(stored[1]) == [f"{composed}.s.f"]
    finally:
        engine.dispose()

    # The server on the migrated database finds them in either spelling.
    settings = Settings(
        storage_root=tmp_path / "storage", database_url=database_url, admin_token="dapi-admin"
    )
    rt, _registry = start(settings)
    try:
        assert rt.namespace.get(SecurableType.CATALOG, catalog).id == "c1"
        assert rt.namespace.get(SecurableType.SCHEMA, f"{nfc('café_m')}.s").id == "s1"
        found = rt.identity.get_by_name(person)
        assert found is not None and found.id == "p1"
    finally:
        shutdown(rt)


def test_migration_refuses_names_that_would_merge_and_changes_nothing(
    database_url: str,
) -> None:
    engine = _at_previous_revision(database_url)
    try:
        _insert(
            engine,
            "principals",
            _principal("p1", "alice@example.com"),
            _principal("p2", f"{fullwidth('alice')}@example.com"),
        )
        _insert(
            engine,
            "securables",
            _securable("c1", "CATALOG", "main_x", "alice@example.com"),
            _securable("c2", "CATALOG", fullwidth("main_x"), "alice@example.com"),
            _securable("c3", "CATALOG", nfd("né"), "alice@example.com"),
            _securable("c4", "CATALOG", "a\u2024b", "alice@example.com"),  # ONE DOT LEADER
        )
        with pytest.raises(Exception) as failure:
            _upgrade(database_url)
        message = str(failure.value)
        assert "changed nothing" in message
        assert (
            f"catalog 'main_x' and catalog '{fullwidth('main_x')}' would both be 'main_x'"
            in message
        )
        assert "principal 'alice@example.com' and principal" in message
        assert "catalog 'a\u2024b' would become 'a.b'" in message
        with engine.connect() as connection:
            versions = {
                r[0] for r in connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            }
            names = {r[0] for r in connection.execute(sa.text("SELECT name FROM securables"))}
        assert versions == {"c0007", "r0004"}
        assert names == {"main_x", fullwidth("main_x"), nfd("né"), "a\u2024b"}  # untouched
    finally:
        engine.dispose()


def test_control_character_in_a_column_name_is_refused_creating_nothing(
    server: ServerHandle,
) -> None:
    admin = server.admin
    catalog = unique("col")
    assert admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    assert (
        admin.post(f"{UC}/schemas", json={"catalog_name": catalog, "name": "s"}).status_code == 200
    )
    columns = [
        {"name": "id", "type_name": "LONG", "type_text": "bigint", "position": 0},
        {"name": "a\x1b[2Jb", "type_name": "STRING", "type_text": "string", "position": 1},
    ]
    response = admin.post(
        f"{UC}/tables",
        json={
            "name": "t",
            "catalog_name": catalog,
            "schema_name": "s",
            "table_type": "MANAGED",
            "data_source_format": "DELTA",
            "columns": columns,
        },
    )
    error(response, "column at position 1", "U+001B", "position 2")
    assert admin.get(f"{UC}/tables/{catalog}.s.t").status_code == 404
