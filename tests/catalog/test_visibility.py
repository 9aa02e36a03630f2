"""Invisible = missing (docs/privileges.md, "Visibility"), over HTTP against a real server.

* Every route family answers a caller who may not see an object exactly as it answers for
  a missing one: same status, error code and message but for the name — whether the
  missing one is the object itself or its catalog. The audit log still records the truth.
* Lists and GETs apply one rule: an object is listed exactly when its GET answers 200,
  and a GET of anything else answers 404, for callers holding all kinds of grants.
* A reader (SELECT) sees its table's lineage and its own grants there; SHOW GRANTS and
  the permissions API show the same; owners, MANAGE holders and admins see every grant.
* Principals: SCIM and SHOW USERS / SHOW GROUPS list the same names to every caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.bad_input_support import table_body
from tests.support import ServerHandle, unique, write_mlmodel

UC = "/api/2.1/unity-catalog"
STEWARD = "/api/2.1/steward"
SCIM = "/api/2.0/preview/scim/v2"
SQL = "/api/2.0/sql/statements"
ENDPOINTS = "/api/2.0/serving-endpoints"
AUDIT = f"{STEWARD}/audit"


def sql(client: httpx.Client, statement: str) -> list[list[Any]]:
    answer = client.post(SQL, json={"statement": statement})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    return list(body["result"]["data_array"])


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json() if response.content else None


# -- the world: a catalog nobody else may see ----------------------------------------------


@dataclass(frozen=True)
class Secret:
    """Objects the admin made: catalog C, schema C.s, table C.s.payroll (keyed by ``id``),
    model C.s.m with a ready version 1 aliased ``champion``, endpoint E serving it, lineage
    C.s.source → C.s.payroll; and ``nobody``, a user holding no grant at all."""

    catalog: str
    endpoint: str
    nobody: str
    nobody_token: str

    @property
    def names(self) -> dict[str, str]:
        c = self.catalog
        return {"C": c, "S": f"{c}.s", "T": f"{c}.s.payroll", "M": f"{c}.s.m", "E": self.endpoint}


def make_model(admin: httpx.Client, schema: str, name: str) -> str:
    """A model with a READY version 1 aliased ``champion``; returns its full name."""
    catalog_name, schema_name = schema.split(".")
    ok(
        admin.post(
            f"{UC}/models",
            json={"catalog_name": catalog_name, "schema_name": schema_name, "name": name},
        )
    )
    full_name = f"{schema}.{name}"
    version = ok(
        admin.post(
            f"{UC}/models/versions",
            json={
                "catalog_name": catalog_name,
                "schema_name": schema_name,
                "model_name": name,
                "source": "test",
            },
        )
    )
    write_mlmodel(version["storage_location"])
    ok(admin.patch(f"{UC}/models/{full_name}/versions/1/finalize"))
    ok(admin.put(f"{UC}/models/{full_name}/aliases/champion", json={"version_num": 1}))
    return full_name


@pytest.fixture(scope="module")
def secret(server: ServerHandle) -> Secret:
    admin = server.admin
    catalog = unique("secretcat")
    sql(admin, f"CREATE CATALOG {catalog}")
    sql(admin, f"CREATE SCHEMA {catalog}.s")
    sql(
        admin,
        f"CREATE TABLE {catalog}.s.payroll (id BIGINT NOT NULL, v STRING, "
        "CONSTRAINT pk PRIMARY KEY (id))",
    )
    sql(admin, f"CREATE TABLE {catalog}.s.source (id BIGINT NOT NULL, v STRING)")
    sql(admin, f"GRANT SELECT, MODIFY ON CATALOG {catalog} TO `admin`")
    sql(admin, f"INSERT INTO {catalog}.s.payroll SELECT * FROM {catalog}.s.source")
    model = make_model(admin, f"{catalog}.s", "m")
    sql(admin, f"GRANT EXECUTE ON MODEL {model} TO `admin`")
    endpoint = unique("ep")
    ok(
        admin.post(
            ENDPOINTS,
            json={
                "name": endpoint,
                "config": {"served_entities": [{"entity_name": model, "entity_version": "1"}]},
            },
        )
    )
    nobody, token = server.create_user()
    return Secret(catalog, endpoint, nobody, token)


# -- hidden answers exactly as missing ------------------------------------------------------


def other(name: str) -> str:
    """A name of the same length (SQL messages give positions) that names nothing."""
    return name[:-1] + ("x" if name[-1] != "x" else "y")


def _leaf(name: str) -> str:
    container, _, leaf = name.rpartition(".")
    return f"{container}.{other(leaf)}" if container else other(leaf)


#: A missing object in place of each kind of target (same depth, same containers).
MISSING: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    key: (lambda n, key=key: {**n, key: _leaf(n[key])}) for key in ("C", "S", "T", "M", "E")
}


def missing_catalog(n: dict[str, str]) -> dict[str, str]:
    """Everything under a catalog that does not exist."""
    gone = other(n["C"])
    moved = {k: gone + v[len(n["C"]) :] for k, v in n.items() if v.startswith(n["C"] + ".")}
    return {**n, **moved, "C": gone}


Call = Callable[[httpx.Client, dict[str, str]], httpx.Response]


def parts(name: str) -> dict[str, str]:
    catalog_name, schema_name, *rest = name.split(".")
    return {
        "catalog_name": catalog_name,
        "schema_name": schema_name,
        **({"name": rest[0]} if rest else {}),
    }


def statement(text: str) -> Call:
    return lambda c, n: c.post(SQL, json={"statement": text.format(**n)})


def _lineage_event(output: str) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-23T10:00:00Z",
        "run": {"runId": "0196f5b2-6a4e-7c6e-8f00-000000000001"},
        "job": {"namespace": "etl", "name": "nightly"},
        "inputs": [{"namespace": "s3", "name": "raw/orders"}],
        "outputs": [{"namespace": "steward", "name": output}],
    }


#: (id, the target placeholder, the request). Every route family that names an object.
CASES: list[tuple[str, str, Call]] = [
    ("catalog.get", "C", lambda c, n: c.get(f"{UC}/catalogs/{n['C']}")),
    ("catalog.update", "C", lambda c, n: c.patch(f"{UC}/catalogs/{n['C']}", json={"comment": "x"})),
    ("catalog.delete", "C", lambda c, n: c.delete(f"{UC}/catalogs/{n['C']}")),
    ("catalog.permissions", "C", lambda c, n: c.get(f"{UC}/permissions/catalog/{n['C']}")),
    (
        "schema.create",
        "C",
        lambda c, n: c.post(f"{UC}/schemas", json={"name": "x", "catalog_name": n["C"]}),
    ),
    ("schema.list", "C", lambda c, n: c.get(f"{UC}/schemas", params={"catalog_name": n["C"]})),
    ("schema.get", "S", lambda c, n: c.get(f"{UC}/schemas/{n['S']}")),
    ("schema.update", "S", lambda c, n: c.patch(f"{UC}/schemas/{n['S']}", json={"comment": "x"})),
    ("schema.delete", "S", lambda c, n: c.delete(f"{UC}/schemas/{n['S']}")),
    ("schema.permissions", "S", lambda c, n: c.get(f"{UC}/permissions/schema/{n['S']}")),
    (
        "table.create",
        "S",
        lambda c, n: c.post(f"{UC}/tables", json=table_body(*n["S"].split("."), "x")),
    ),
    ("table.list", "S", lambda c, n: c.get(f"{UC}/tables", params=parts(n["S"]))),
    ("table.get", "T", lambda c, n: c.get(f"{UC}/tables/{n['T']}")),
    ("table.delete", "T", lambda c, n: c.delete(f"{UC}/tables/{n['T']}")),
    ("table.permissions", "T", lambda c, n: c.get(f"{UC}/permissions/table/{n['T']}")),
    (
        "table.permissions.update",
        "T",
        lambda c, n: c.patch(
            f"{UC}/permissions/table/{n['T']}",
            json={"changes": [{"principal": "admin", "add": ["SELECT"]}]},
        ),
    ),
    (
        "rows.lookup",
        "T",
        lambda c, n: c.post(f"{STEWARD}/tables/{n['T']}/lookup", json={"keys": [{"id": 1}]}),
    ),
    (
        "rows.write",
        "T",
        lambda c, n: c.post(
            f"{STEWARD}/tables/{n['T']}/rows", json={"rows": [{"id": 1, "v": "x"}]}
        ),
    ),
    ("lineage.table", "T", lambda c, n: c.get(f"{STEWARD}/lineage", params={"full_name": n["T"]})),
    ("lineage.post", "T", lambda c, n: c.post("/api/v1/lineage", json=_lineage_event(n["T"]))),
    ("model.create", "S", lambda c, n: c.post(f"{UC}/models", json=parts(f"{n['S']}.x"))),
    ("model.list", "S", lambda c, n: c.get(f"{UC}/models", params=parts(n["S"]))),
    ("model.get", "M", lambda c, n: c.get(f"{UC}/models/{n['M']}")),
    ("model.update", "M", lambda c, n: c.patch(f"{UC}/models/{n['M']}", json={"comment": "x"})),
    ("model.delete", "M", lambda c, n: c.delete(f"{UC}/models/{n['M']}")),
    ("model.permissions", "M", lambda c, n: c.get(f"{UC}/permissions/registered_model/{n['M']}")),
    ("model.lineage", "M", lambda c, n: c.get(f"{STEWARD}/lineage", params={"full_name": n["M"]})),
    (
        "version.create",
        "M",
        lambda c, n: c.post(
            f"{UC}/models/versions",
            json={
                "catalog_name": n["M"].split(".")[0],
                "schema_name": n["M"].split(".")[1],
                "model_name": n["M"].split(".")[2],
                "source": "x",
            },
        ),
    ),
    ("version.list", "M", lambda c, n: c.get(f"{UC}/models/{n['M']}/versions")),
    ("version.get", "M", lambda c, n: c.get(f"{UC}/models/{n['M']}/versions/1")),
    (
        "version.update",
        "M",
        lambda c, n: c.patch(f"{UC}/models/{n['M']}/versions/1", json={"comment": "x"}),
    ),
    ("version.finalize", "M", lambda c, n: c.patch(f"{UC}/models/{n['M']}/versions/1/finalize")),
    ("version.delete", "M", lambda c, n: c.delete(f"{UC}/models/{n['M']}/versions/1")),
    ("alias.get", "M", lambda c, n: c.get(f"{UC}/models/{n['M']}/aliases/champion")),
    (
        "alias.set",
        "M",
        lambda c, n: c.put(f"{UC}/models/{n['M']}/aliases/champion", json={"version_num": 1}),
    ),
    ("alias.delete", "M", lambda c, n: c.delete(f"{UC}/models/{n['M']}/aliases/champion")),
    ("artifacts.list", "M", lambda c, n: c.get(f"{STEWARD}/models/{n['M']}/versions/1/artifacts")),
    (
        "artifacts.get",
        "M",
        lambda c, n: c.get(f"{STEWARD}/models/{n['M']}/versions/1/artifacts/MLmodel"),
    ),
    (
        "artifacts.put",
        "M",
        lambda c, n: c.put(f"{STEWARD}/models/{n['M']}/versions/1/artifacts/x.txt", content=b"x"),
    ),
    (
        "endpoint.create",
        "M",
        lambda c, n: c.post(
            ENDPOINTS,
            json={
                "name": "never_made",
                "config": {"served_entities": [{"entity_name": n["M"], "entity_version": "1"}]},
            },
        ),
    ),
    ("endpoint.get", "E", lambda c, n: c.get(f"{ENDPOINTS}/{n['E']}")),
    (
        "endpoint.config",
        "E",
        lambda c, n: c.put(
            f"{ENDPOINTS}/{n['E']}/config",
            json={"served_entities": [{"entity_name": n["M"], "entity_version": "1"}]},
        ),
    ),
    ("endpoint.delete", "E", lambda c, n: c.delete(f"{ENDPOINTS}/{n['E']}")),
    (
        "endpoint.invoke",
        "E",
        lambda c, n: c.post(
            f"/serving-endpoints/{n['E']}/invocations", json={"inputs": [{"x": 1.0}]}
        ),
    ),
    (
        "endpoint.permissions",
        "E",
        lambda c, n: c.get(f"{UC}/permissions/serving_endpoint/{n['E']}"),
    ),
    (
        "endpoint.lineage",
        "E",
        lambda c, n: c.get(f"{STEWARD}/lineage", params={"full_name": n["E"]}),
    ),
    ("sql.describe_catalog", "C", statement("DESCRIBE CATALOG {C}")),
    ("sql.show_schemas", "C", statement("SHOW SCHEMAS IN {C}")),
    ("sql.create_schema", "C", statement("CREATE SCHEMA {C}.x")),
    ("sql.describe_schema", "S", statement("DESCRIBE SCHEMA {S}")),
    ("sql.show_tables", "S", statement("SHOW TABLES IN {S}")),
    ("sql.show_models", "S", statement("SHOW MODELS IN {S}")),
    ("sql.create_table", "S", statement("CREATE TABLE {S}.x (a INT)")),
    ("sql.alter_owner", "S", statement("ALTER SCHEMA {S} OWNER TO `admin`")),
    ("sql.describe_table", "T", statement("DESCRIBE TABLE {T}")),
    ("sql.show_grants", "T", statement("SHOW GRANTS ON TABLE {T}")),
    ("sql.grant", "T", statement("GRANT SELECT ON TABLE {T} TO `admin`")),
    ("sql.comment", "T", statement("COMMENT ON TABLE {T} IS 'x'")),
    ("sql.select", "T", statement("SELECT * FROM {T}")),
    ("sql.insert", "T", statement("INSERT INTO {T} VALUES (1, 'x')")),
    ("sql.drop", "T", statement("DROP TABLE {T}")),
    ("sql.drop_if_exists", "T", statement("DROP TABLE IF EXISTS {T}")),
    ("sql.describe_model", "M", statement("DESCRIBE MODEL {M}")),
    ("sql.set_alias", "M", statement("ALTER MODEL {M} SET ALIAS champion = 1")),
]


def answer(response: httpx.Response, names: dict[str, str]) -> tuple[int, str, Any]:
    """(HTTP status, error code or statement state, the rest of the answer) with every name
    of ``names`` replaced by its placeholder, so a hidden and a missing object compare."""
    if response.request.url.path == SQL:
        assert response.status_code == 200, response.text
        body = response.json()
        status = body["status"]
        shown: Any = status.get("error") or body.get("result")
        return 200, status["state"], _shape(shown, names)
    body = response.json() if response.content else None
    assert isinstance(body, dict), response.text
    assert set(body) == {"error_code", "message", "request_id"}, body
    return response.status_code, body["error_code"], _shape(body["message"], names)


def _shape(value: Any, names: dict[str, str]) -> Any:
    text = repr(value)
    for key, name in sorted(names.items(), key=lambda item: -len(item[1])):
        text = re.sub(re.escape(name) + r"(?![\w])", f"<{key}>", text)
    return text


@pytest.mark.parametrize(("case", "target", "call"), CASES, ids=[c[0] for c in CASES])
def test_a_hidden_object_answers_exactly_as_a_missing_one(
    server: ServerHandle, secret: Secret, case: str, target: str, call: Call
) -> None:
    nobody = server.client(secret.nobody_token)
    hidden = secret.names
    variants = [hidden, MISSING[target](hidden)]
    if target != "E":
        variants.append(missing_catalog(hidden))
    answers = [answer(call(nobody, names), names) for names in variants]
    assert answers[0] == answers[1], (case, answers)
    assert answers[0] == answers[-1], (case, answers)
    status, code, _ = answers[0]
    if status != 200:
        assert (status, code) == (404, "RESOURCE_DOES_NOT_EXIST"), (case, answers[0])
    else:  # a statement: FAILED with the same, or (DROP … IF EXISTS) a no-op
        assert code in ("FAILED", "SUCCEEDED"), answers[0]
        if code == "FAILED":
            assert "RESOURCE_DOES_NOT_EXIST" in answers[0][2], (case, answers[0])
    # The admin, who sees it, is not told the object is missing.
    if case == "table.get":
        assert server.admin.get(f"{UC}/tables/{hidden['T']}").status_code == 200


def events_for(server: ServerHandle, response: httpx.Response) -> list[dict[str, Any]]:
    found = server.admin.get(AUDIT, params={"request_id": response.headers["x-request-id"]})
    return list(ok(found)["events"])


def test_the_audit_log_records_the_truth(server: ServerHandle, secret: Secret) -> None:
    """The caller cannot tell; the log (for admins) says it was a denial."""
    nobody = server.client(secret.nobody_token)
    names = secret.names
    hidden = nobody.get(f"{UC}/tables/{names['T']}")
    missing = nobody.get(f"{UC}/tables/{names['S']}.gone")
    assert hidden.status_code == missing.status_code == 404
    (denied,) = events_for(server, hidden)
    assert denied["response"]["status_code"] == 403, denied
    assert denied["response"]["error_message"].startswith("PERMISSION_DENIED"), denied
    assert names["T"] in denied["response"]["error_message"]
    (absent,) = events_for(server, missing)
    assert absent["response"]["status_code"] == 404, absent
    # SQL alike: the statement FAILED as not found; the event says denied.
    statement_answer = nobody.post(SQL, json={"statement": f"DROP TABLE {names['T']}"})
    assert statement_answer.json()["status"]["error"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    (event,) = events_for(server, statement_answer)
    assert event["response"]["status_code"] == 403, event
    assert event["response"]["error_message"].startswith("PERMISSION_DENIED"), event
    # A SELECT reading the hidden table: answered as a missing table, recorded as a denial.
    select = nobody.post(SQL, json={"statement": f"SELECT * FROM {names['T']}"})
    gone = nobody.post(SQL, json={"statement": f"SELECT * FROM {names['S']}.gone"})
    error, absent_error = (a.json()["status"]["error"] for a in (select, gone))
    assert error["error_code"] == absent_error["error_code"], (error, absent_error)
    assert error["message"].replace(names["T"], "X") == absent_error["message"].replace(
        f"{names['S']}.gone", "X"
    ), (error, absent_error)
    (event,) = events_for(server, select)
    assert event["response"]["status_code"] == 403, event
    assert event["response"]["error_message"].startswith("PERMISSION_DENIED"), event


def test_a_visible_object_refused_stays_403_naming_the_privilege(
    server: ServerHandle, secret: Secret
) -> None:
    """Seeing is not using: BROWSE shows the table; reading its rows is still a denial."""
    name, token = server.create_user()
    user = server.client(token)
    table = secret.names["T"]
    sql(server.admin, f"GRANT BROWSE ON TABLE {table} TO `{name}`")
    assert ok(user.get(f"{UC}/tables/{table}"))["full_name"] == table
    denied = user.post(f"{STEWARD}/tables/{table}/lookup", json={"keys": [{"id": 1}]})
    assert denied.status_code == 403, denied.text
    assert denied.json()["error_code"] == "PERMISSION_DENIED"
    assert "USE CATALOG" in denied.json()["message"], denied.text


# -- lists and GETs agree -------------------------------------------------------------------


@dataclass
class Tree:
    """C with schemas ``open`` (tables t1, t2 and model m) and ``hidden`` (topsecret)."""

    catalog: str

    @property
    def schemas(self) -> list[str]:
        return [f"{self.catalog}.open", f"{self.catalog}.hidden"]

    def tables(self, schema: str) -> list[str]:
        return (
            [f"{schema}.t1", f"{schema}.t2"]
            if schema.endswith(".open")
            else [f"{schema}.topsecret"]
        )

    def models(self, schema: str) -> list[str]:
        return [f"{schema}.m"] if schema.endswith(".open") else []


def build_tree(admin: httpx.Client) -> Tree:
    """The tree, as the admin makes it; ``topsecret`` is EXTERNAL, with a storage location
    that no list may show to whoever may not GET it."""
    made = Tree(unique("main"))
    sql(admin, f"CREATE CATALOG {made.catalog}")
    for schema in made.schemas:
        sql(admin, f"CREATE SCHEMA {schema}")
    for table in made.tables(made.schemas[0]):
        sql(admin, f"CREATE TABLE {table} (id BIGINT NOT NULL, v STRING)")
    external = table_body(
        made.catalog,
        "hidden",
        "topsecret",
        table_type="EXTERNAL",
        storage_location=f"s3://bucket/{made.catalog}/payroll",
    )
    ok(admin.post(f"{UC}/tables", json=external))
    make_model(admin, made.schemas[0], "m")
    return made


@pytest.fixture(scope="module")
def tree(server: ServerHandle) -> Tree:
    return build_tree(server.admin)


def listed(client: httpx.Client, path: str, key: str, **params: str) -> set[str] | None:
    """Every full name a list route shows (all pages), or None when it answers 404."""
    names: set[str] = set()
    token: str | None = None
    while True:
        response = client.get(path, params={**params, **({"page_token": token} if token else {})})
        if response.status_code == 404:
            assert not names
            return None
        body = ok(response)
        for item in body[key]:
            names.add(item.get("full_name") or item["name"])
        token = body.get("next_page_token")
        if not token:
            return names


def assert_lists_and_gets_agree(client: httpx.Client, tree: Tree) -> dict[str, bool]:
    """For every object of the tree: listed in a list the caller may read ⇔ GET is 200;
    not listed ⇔ 404. Returns what the caller sees, by full name."""
    seen: dict[str, bool] = {}

    def check(kind: str, name: str, shown: set[str] | None) -> bool:
        response = client.get(f"{UC}/{kind}/{name}")
        assert response.status_code in (200, 404), response.text
        visible = response.status_code == 200
        if shown is not None:
            assert (name in shown) == visible, (name, shown, response.text)
        seen[name] = visible
        return visible

    catalogs = listed(client, f"{UC}/catalogs", "catalogs")
    assert catalogs is not None
    check("catalogs", tree.catalog, catalogs)
    schemas = listed(client, f"{UC}/schemas", "schemas", catalog_name=tree.catalog)
    # A list answers 404 exactly when its container's GET does.
    assert (schemas is None) == (not seen[tree.catalog])
    sql_schemas = _sql_names(client, f"SHOW SCHEMAS IN {tree.catalog}")
    assert sql_schemas == schemas
    for schema in tree.schemas:
        check("schemas", schema, schemas)
        c, s = schema.split(".")
        tables = listed(client, f"{UC}/tables", "tables", catalog_name=c, schema_name=s)
        models = listed(client, f"{UC}/models", "registered_models", catalog_name=c, schema_name=s)
        assert (tables is None) == (models is None) == (not seen[schema]), (schema, tables)
        assert _sql_names(client, f"SHOW TABLES IN {schema}") == tables
        assert _sql_names(client, f"SHOW MODELS IN {schema}") == models
        for table in tree.tables(schema):
            if check("tables", table, tables) and tables is not None:
                # The list shows what the GET shows, nothing more.
                got = ok(client.get(f"{UC}/tables/{table}"))
                entry = next(
                    t
                    for t in ok(
                        client.get(f"{UC}/tables", params={"catalog_name": c, "schema_name": s})
                    )["tables"]
                    if t["full_name"] == table
                )
                assert {k: entry.get(k) for k in got} == got
        for model in tree.models(schema):
            check("models", model, models)
    return seen


def _sql_names(client: httpx.Client, statement: str) -> set[str] | None:
    response = client.post(SQL, json={"statement": statement})
    body = ok(response)
    if body["status"]["state"] == "FAILED":
        assert body["status"]["error"]["error_code"] == "RESOURCE_DOES_NOT_EXIST", body
        return None
    return {".".join(row) for row in body["result"]["data_array"]}


def test_use_catalog_alone_shows_the_catalog_and_nothing_in_it(
    server: ServerHandle, tree: Tree
) -> None:
    """The attack: with only USE CATALOG, main.hidden.topsecret was listed (with its
    storage_location) while its GET said BROWSE is required."""
    name, token = server.create_user()
    user = server.client(token)
    sql(server.admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{name}`")
    seen = assert_lists_and_gets_agree(user, tree)
    assert {n for n, v in seen.items() if v} == {tree.catalog}
    # The hidden schema's listing is the missing schema's, byte for byte but the name.
    hidden = user.get(
        f"{UC}/tables", params={"catalog_name": tree.catalog, "schema_name": "hidden"}
    )
    gone = user.get(f"{UC}/tables", params={"catalog_name": tree.catalog, "schema_name": "gone"})
    assert hidden.status_code == gone.status_code == 404
    assert hidden.json()["message"].replace("hidden", "gone") == gone.json()["message"]


def grant(server: ServerHandle, *statements: str) -> httpx.Client:
    name, token = server.create_user()
    for text in statements:
        sql(server.admin, text.format(me=f"`{name}`"))
    return server.client(token)


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        pytest.param([], set(), id="nothing"),
        pytest.param(
            [
                "GRANT USE CATALOG ON CATALOG {c} TO {me}",
                "GRANT USE SCHEMA ON SCHEMA {c}.open TO {me}",
            ],
            {"{c}", "{c}.open"},
            id="usage-gates",
        ),
        pytest.param(
            ["GRANT USE SCHEMA ON CATALOG {c} TO {me}"],
            {"{c}", "{c}.open", "{c}.hidden"},
            id="use-schema-on-the-catalog",
        ),
        pytest.param(
            [
                "GRANT USE CATALOG ON CATALOG {c} TO {me}",
                "GRANT USE SCHEMA, SELECT ON SCHEMA {c}.open TO {me}",
            ],
            {"{c}", "{c}.open", "{c}.open.t1", "{c}.open.t2"},
            id="select-on-the-schema",
        ),
        pytest.param(
            ["GRANT SELECT ON TABLE {c}.open.t1 TO {me}"],
            {"{c}.open.t1"},
            id="select-on-a-table-alone",
        ),
        pytest.param(
            ["GRANT EXECUTE ON CATALOG {c} TO {me}"],
            {"{c}", "{c}.open", "{c}.hidden", "{c}.open.m"},
            id="execute-on-the-catalog",
        ),
        pytest.param(
            ["GRANT BROWSE ON CATALOG {c} TO {me}"],
            {
                "{c}",
                "{c}.open",
                "{c}.hidden",
                "{c}.open.t1",
                "{c}.open.t2",
                "{c}.open.m",
                "{c}.hidden.topsecret",
            },
            id="browse-on-the-catalog",
        ),
        pytest.param(
            ["ALTER SCHEMA {c}.hidden OWNER TO {me}"],
            {"{c}.hidden", "{c}.hidden.topsecret"},
            id="schema-owner",
        ),
        pytest.param(
            [
                "GRANT CREATE CATALOG ON METASTORE TO {me}",
                "GRANT CREATE TABLE ON SCHEMA {c}.hidden TO {me}",
            ],
            {"{c}.hidden"},
            id="create-privileges",
        ),
    ],
)
def test_lists_and_gets_agree(
    server: ServerHandle, tree: Tree, grants: list[str], expected: set[str]
) -> None:
    sandbox = build_tree(server.admin)
    user = grant(server, *(g.replace("{c}", sandbox.catalog) for g in grants))
    seen = assert_lists_and_gets_agree(user, sandbox)
    assert {n for n, v in seen.items() if v} == {e.format(c=sandbox.catalog) for e in expected}


def test_groups_nested_reach_visibility(server: ServerHandle, tree: Tree) -> None:
    admin = server.admin
    name, token = server.create_user()
    top, bottom = unique("top"), unique("bottom")
    sql(admin, f"CREATE GROUP `{top}`")
    sql(admin, f"CREATE GROUP `{bottom}`")
    sql(admin, f"ALTER GROUP `{top}` ADD GROUP `{bottom}`")
    sql(admin, f"ALTER GROUP `{bottom}` ADD USER `{name}`")
    sql(admin, f"GRANT BROWSE ON SCHEMA {tree.catalog}.hidden TO `{top}`")
    user = server.client(token)
    seen = assert_lists_and_gets_agree(user, tree)
    assert {n for n, v in seen.items() if v} == {
        f"{tree.catalog}.hidden",
        f"{tree.catalog}.hidden.topsecret",
    }


def test_endpoints_list_what_their_get_shows(server: ServerHandle, secret: Secret) -> None:
    admin = server.admin
    name, token = server.create_user()
    user = server.client(token)

    def endpoints(client: httpx.Client) -> set[str]:
        return {
            e["name"] for e in ok(client.get(ENDPOINTS, params={"max_results": 100}))["endpoints"]
        }

    assert secret.endpoint not in endpoints(user)
    assert user.get(f"{ENDPOINTS}/{secret.endpoint}").status_code == 404
    sql(admin, f"GRANT QUERY ON SERVING ENDPOINT {secret.endpoint} TO `{name}`")
    assert secret.endpoint in endpoints(user)
    assert ok(user.get(f"{ENDPOINTS}/{secret.endpoint}"))["name"] == secret.endpoint


# -- a reader's lineage and grants ------------------------------------------------------------


def test_a_reader_sees_its_tables_lineage_and_its_own_grants(
    server: ServerHandle, secret: Secret
) -> None:
    admin = server.admin
    names = secret.names
    reader, token = server.create_user()
    other, _ = server.create_user()
    readers = unique("readers")
    sql(admin, f"CREATE GROUP `{readers}`")
    sql(admin, f"ALTER GROUP `{readers}` ADD USER `{reader}`")
    sql(admin, f"GRANT SELECT ON TABLE {names['T']} TO `{reader}`")
    sql(admin, f"GRANT BROWSE ON TABLE {names['T']} TO `{readers}`")
    sql(admin, f"GRANT MODIFY ON TABLE {names['T']} TO `{other}`")
    user = server.client(token)

    # Lineage: the table itself, and its source redacted (the reader cannot see it).
    graph = ok(user.get(f"{STEWARD}/lineage", params={"full_name": names["T"]}))
    shown = {n["name"] for n in graph["nodes"] if not n["redacted"]}
    assert names["T"] in shown and f"{names['S']}.source" not in shown, graph
    assert any(n["redacted"] for n in graph["nodes"]), graph
    # Every node shown is one whose GET the reader may read; the redacted one is not.
    for node in graph["nodes"]:
        if node["name"] is not None and node["type"].upper().endswith("TABLE"):
            assert user.get(f"{UC}/tables/{node['name']}").status_code == 200
    assert user.get(f"{UC}/tables/{names['S']}.source").status_code == 404

    # Grants: the reader's own and its group's; SHOW GRANTS and the API agree.
    own = {(reader, "SELECT"), (readers, "BROWSE")}
    assert {tuple(r[:2]) for r in sql(user, f"SHOW GRANTS ON TABLE {names['T']}")} == own
    api = ok(user.get(f"{UC}/permissions/table/{names['T']}"))["privilege_assignments"]
    assert {(a["principal"], p) for a in api for p in a["privileges"]} == own
    # Whoever may change the grants sees all of them, the same way on both paths.
    everyone = own | {(other, "MODIFY")}
    manager, manager_token = server.create_user()
    sql(admin, f"GRANT USE CATALOG ON CATALOG {names['C']} TO `{manager}`")
    sql(admin, f"GRANT USE SCHEMA ON SCHEMA {names['S']} TO `{manager}`")
    sql(admin, f"GRANT MANAGE ON TABLE {names['T']} TO `{manager}`")
    everyone |= {(manager, "MANAGE")}
    for client in (admin, server.client(manager_token)):
        rows = sql(client, f"SHOW GRANTS ON TABLE {names['T']}")
        assert {tuple(r[:2]) for r in rows} >= everyone
        api = ok(client.get(f"{UC}/permissions/table/{names['T']}"))["privilege_assignments"]
        assert {(a["principal"], p) for a in api for p in a["privileges"]} == {
            tuple(r[:2]) for r in rows
        }
    # Still not the catalog's grants: the reader does not see the catalog.
    hidden = user.get(f"{UC}/permissions/catalog/{names['C']}")
    assert hidden.status_code == 404


# -- principals: one rule in SCIM and SQL ------------------------------------------------------


def test_scim_and_show_users_list_the_same_principals_to_everyone(
    server: ServerHandle, secret: Secret
) -> None:
    group = unique("grp")
    sql(server.admin, f"CREATE GROUP `{group}`")
    for client in (server.client(secret.nobody_token), server.admin):
        users = ok(client.get(f"{SCIM}/Users", params={"count": 10000}))["Resources"]
        sps = ok(client.get(f"{SCIM}/ServicePrincipals", params={"count": 10000}))["Resources"]
        scim_users = {u["userName"] for u in users} | {s["applicationId"] for s in sps}
        assert {r[0] for r in sql(client, "SHOW USERS")} == scim_users
        assert secret.nobody in scim_users
        groups = ok(client.get(f"{SCIM}/Groups", params={"count": 10000}))["Resources"]
        assert {r[0] for r in sql(client, "SHOW GROUPS")} == {g["displayName"] for g in groups}
        assert group in {g["displayName"] for g in groups}
