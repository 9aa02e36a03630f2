"""Governed model serving (docs/serving.md) over HTTP against a real server, on
both backends: endpoint CRUD, the four MLflow input formats, feature lookup at serving
time with request overrides, alias follow within one second, traffic split, every denial,
the inference table matching invocations one for one, the audit events and lineage."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from catalog.audit.verify import verify
from catalog.persistence.engine import Database
from registry import Client
from tests.registry_support import AUDIT, SQL, STEWARD, sql
from tests.support import ServerHandle, unique
from tests.support import run_steward as steward

ENDPOINTS = "/api/2.0/serving-endpoints"
COLUMNS = ["a", "b"]


def invocations(name: str) -> str:
    return f"/serving-endpoints/{name}/invocations"


def linear(intercept: float, wa: float = 2.0, wb: float = -1.0) -> LinearRegression:
    """A fitted model predicting exactly ``intercept + wa*a + wb*b``."""
    rs = np.random.RandomState(0)
    X = pd.DataFrame({"a": rs.rand(20), "b": rs.rand(20)})
    y = intercept + wa * X.a + wb * X.b
    return LinearRegression().fit(X, y)


def expected(intercept: float, rows: list[dict[str, float]]) -> list[float]:
    return [intercept + 2.0 * r["a"] - 1.0 * r["b"] for r in rows]


def close(got: list[float], want: list[float]) -> bool:
    return len(got) == len(want) and all(abs(g - w) < 1e-6 for g, w in zip(got, want, strict=True))


class World:
    """A catalog with schema ``ml``, a feature table ``feats`` (id → a) keyed by ``id``, a
    scientist who registers models and creates endpoints, and a consumer who may only
    QUERY what is granted to them."""

    def __init__(self, server: ServerHandle, tmp_path: Path) -> None:
        self.server = server
        admin = server.admin
        self.catalog = unique("srv")
        self.model = f"{self.catalog}.ml.reg"
        self.feats = f"{self.catalog}.ml.feats"
        sql(admin, f"CREATE CATALOG {self.catalog}")
        sql(admin, f"CREATE SCHEMA {self.catalog}.ml")
        sql(
            admin,
            f"CREATE TABLE {self.feats} (id BIGINT NOT NULL, a DOUBLE, "
            "CONSTRAINT pk PRIMARY KEY (id))",
        )
        self.scientist, scientist_token = server.create_user()
        self.consumer, consumer_token = server.create_user()
        for statement in (
            f"GRANT USE CATALOG ON CATALOG {self.catalog} TO `{self.scientist}`",
            f"GRANT USE SCHEMA, CREATE MODEL, CREATE TABLE ON SCHEMA {self.catalog}.ml "
            f"TO `{self.scientist}`",
            f"GRANT SELECT, MODIFY ON TABLE {self.feats} TO `{self.scientist}`",
        ):
            sql(admin, statement)
        self.scientist_token, self.consumer_token = scientist_token, consumer_token
        self.ds = Client(server.url, scientist_token, cache_dir=tmp_path / "ds")
        self.ds_http = server.client(scientist_token)
        self.consumer_http = server.client(consumer_token)

    def register(self, intercept: float, alias: str | None = None, **extra: Any) -> int:
        X = pd.DataFrame({"a": [0.5, 0.25], "b": [0.1, 0.2]})
        version = self.ds.register_model(
            linear(intercept), self.model, input_example=X, alias=alias, **extra
        )
        return int(version.version)

    def endpoint(self, name: str | None = None, **config: Any) -> str:
        name = name or unique("ep")
        entities = config.pop("served_entities", None) or [
            {"entity_name": self.model, "entity_version": "1"}
        ]
        created = self.ds_http.post(
            ENDPOINTS, json={"name": name, "config": {"served_entities": entities, **config}}
        )
        assert created.status_code == 200, created.text
        return name

    def grant_query(self, endpoint: str, principal: str | None = None) -> None:
        sql(
            self.server.admin,
            f"GRANT QUERY ON SERVING ENDPOINT {endpoint} TO `{principal or self.consumer}`",
        )

    def close(self) -> None:
        self.ds.close()


@pytest.fixture
def world(server: ServerHandle, tmp_path: Path) -> Any:
    w = World(server, tmp_path)
    yield w
    w.close()


ROWS = [{"a": 1.0, "b": 2.0}, {"a": 0.5, "b": -1.0}, {"a": 3.0, "b": 0.0}]


def test_create_get_list_and_invoke_a_pinned_version_in_every_format(world: World) -> None:
    world.register(10.0)
    name = world.endpoint()
    got = world.ds_http.get(f"{ENDPOINTS}/{name}")
    assert got.status_code == 200, got.text
    info = got.json()
    assert info["name"] == name and info["creator"] == world.scientist
    assert info["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    entity = info["config"]["served_entities"][0]
    assert entity["entity_name"] == world.model and entity["entity_version"] == "1"
    assert entity["traffic_percentage"] == 100 and entity["name"] == "reg-1"
    assert info["config"]["traffic_config"]["routes"][0]["traffic_percentage"] == 100
    listed = world.ds_http.get(ENDPOINTS).json()["endpoints"]
    assert name in [e["name"] for e in listed]
    assert name not in [e["name"] for e in world.consumer_http.get(ENDPOINTS).json()["endpoints"]]

    world.grant_query(name)
    want = expected(10.0, ROWS)
    bodies = [
        {"dataframe_split": {"columns": COLUMNS, "data": [[r["a"], r["b"]] for r in ROWS]}},
        {"dataframe_split": {"columns": ["b", "a"], "data": [[r["b"], r["a"]] for r in ROWS]}},
        {"dataframe_records": ROWS},
        {"instances": ROWS},
        {"inputs": ROWS},
        {"inputs": {"a": [r["a"] for r in ROWS], "b": [r["b"] for r in ROWS]}},
        {"instances": [[r["a"], r["b"]] for r in ROWS]},
        {"dataframe_records": [{**r, "ignored": "x"} for r in ROWS]},
    ]
    for body in bodies:
        answer = world.consumer_http.post(invocations(name), json=body)
        assert answer.status_code == 200, (body, answer.text)
        assert close(answer.json()["predictions"], want), (body, answer.json())
        assert answer.headers["x-steward-model-version"] == "1"


# -- feature lookup at serving ---------------------------------------------------------------


def feature_world(world: World) -> str:
    """Version 1 reads feature ``a`` from ``feats`` by ``id``; rows 1..3 exist."""
    rows = [{"id": 1, "a": 1.0}, {"id": 2, "a": 0.5}, {"id": 3, "a": 3.0}]
    written = world.ds_http.post(f"{STEWARD}/tables/{world.feats}/rows", json={"rows": rows})
    assert written.status_code == 200, written.text
    world.register(5.0, feature_lookups=[{"table_name": world.feats, "lookup_key": ["id"]}])
    name = world.endpoint()
    world.grant_query(name)
    return name


def test_the_query_schema_tells_a_query_only_caller_what_to_send(world: World) -> None:
    """Databricks' ``get_open_api``: the consumer may QUERY the endpoint but not read the
    model, and still learns the record it takes: the lookup key (required), the looked-up
    feature (optional) and the other input (required)."""
    name = feature_world(world)
    document = world.consumer_http.get(f"{ENDPOINTS}/{name}/openapi")
    assert document.status_code == 200, document.text
    body = document.json()
    assert body["openapi"].startswith("3.")
    (path,) = body["paths"]
    assert path == f"/serving-endpoints/{name}/invocations"
    schema = body["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    record = schema["properties"]["dataframe_records"]["items"]
    assert list(record["properties"]) == ["id", "a", "b"]
    assert record["required"] == ["id", "b"]
    assert record["properties"]["b"]["type"] == "number"
    assert "looked up" in record["properties"]["a"]["description"]
    # Without QUERY (nor ownership), the endpoint is hidden: the schema answers as missing.
    _, stranger_token = world.server.create_user()
    hidden = world.server.client(stranger_token).get(f"{ENDPOINTS}/{name}/openapi")
    assert hidden.status_code == 404


def test_features_are_looked_up_by_key_and_request_values_override(world: World) -> None:
    name = feature_world(world)
    answer = world.consumer_http.post(
        invocations(name),
        json={"dataframe_records": [{"id": 1, "b": 2.0}, {"id": 2, "b": -1.0}, {"id": 3, "b": 0}]},
    )
    assert answer.status_code == 200, answer.text
    assert close(answer.json()["predictions"], expected(5.0, ROWS))
    # A value the request gives wins over the looked-up one.
    override = world.consumer_http.post(
        invocations(name),
        json={
            "dataframe_split": {
                "columns": ["id", "a", "b"],
                "data": [[1, 10.0, 2.0], [2, None, 1.0]],
            }
        },
    )
    assert override.status_code == 200, override.text
    got = override.json()["predictions"]
    assert abs(got[0] - (5.0 + 2 * 10.0 - 2.0)) < 1e-6
    # A request that gives every feature needs no row in the feature table.
    no_key_needed = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 99, "a": 1.0, "b": 0.0}]}
    )
    assert no_key_needed.status_code == 200, no_key_needed.text
    assert close(no_key_needed.json()["predictions"], [7.0])


def test_feature_lookups_read_as_the_config_author_through_filters_and_masks(
    world: World,
) -> None:
    """docs/row-access.md: the feature table's row filter and mask apply to the endpoint's
    config author (the scientist), whoever invokes it (the consumer)."""
    name = feature_world(world)
    admin, schema = world.server.admin, f"{world.catalog}.ml"
    # Served once before the policies exist: what is cached must not outlive them.
    warm = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 2, "b": 0.0}]}
    )
    assert warm.status_code == 200, warm.text
    sql(admin, f"CREATE FUNCTION {schema}.not_two(i BIGINT) RETURN i <> 2")
    sql(
        admin,
        f"CREATE FUNCTION {schema}.tenfold(v DOUBLE) RETURN "
        f"CASE WHEN current_user() = '{world.scientist}' THEN v * 10 ELSE v END",
    )
    sql(admin, f"ALTER TABLE {world.feats} SET ROW FILTER {schema}.not_two ON (id)")
    sql(admin, f"ALTER TABLE {world.feats} ALTER COLUMN a SET MASK {schema}.tenfold")
    answer = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 1, "b": 2.0}, {"id": 3, "b": 0}]}
    )
    assert answer.status_code == 200, answer.text
    # a is read masked for the scientist: 10.0 and 30.0 instead of 1.0 and 3.0.
    assert close(answer.json()["predictions"], [5.0 + 20.0 - 2.0, 5.0 + 60.0])
    hidden = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 2, "b": 0.0}]}
    )
    assert hidden.status_code == 400 and "unknown key" in hidden.text, hidden.text
    sql(admin, f"ALTER TABLE {world.feats} DROP ROW FILTER")
    sql(admin, f"ALTER TABLE {world.feats} ALTER COLUMN a DROP MASK")
    again = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 2, "b": 0.0}]}
    )
    assert again.status_code == 200 and close(again.json()["predictions"], [6.0]), again.text


def test_feature_lookups_follow_abac_policies_for_the_config_author(world: World) -> None:
    """The same through governed tags: policies on the schema reach the feature table's
    tagged columns, for the config author (TO) and not for others (EXCEPT would skip)."""
    name = feature_world(world)
    admin, schema = world.server.admin, f"{world.catalog}.ml"
    warm = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 2, "b": 0.0}]}
    )
    assert warm.status_code == 200, warm.text
    sql(admin, f"CREATE FUNCTION {schema}.not_two(i BIGINT) RETURN i <> 2")
    sql(admin, f"CREATE FUNCTION {schema}.tenfold(v DOUBLE) RETURN v * 10")
    sql(admin, f"ALTER TABLE {world.feats} ALTER COLUMN id SET TAGS ('key' = 'id')")
    sql(admin, f"ALTER TABLE {world.feats} ALTER COLUMN a SET TAGS ('scaled' = 'yes')")
    sql(
        admin,
        f"CREATE POLICY hide_two ON SCHEMA {schema} ROW FILTER {schema}.not_two "
        f"TO `{world.scientist}` FOR TABLES "
        "MATCH COLUMNS has_tag_value('key', 'id') AS k USING COLUMNS (k)",
    )
    sql(
        admin,
        f"CREATE POLICY scale ON SCHEMA {schema} COLUMN MASK {schema}.tenfold "
        f"ON COLUMN s TO `{world.scientist}` FOR TABLES "
        "MATCH COLUMNS has_tag_value('scaled', 'yes') AS s",
    )
    answer = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 1, "b": 2.0}, {"id": 3, "b": 0}]}
    )
    assert answer.status_code == 200, answer.text
    assert close(answer.json()["predictions"], [5.0 + 20.0 - 2.0, 5.0 + 60.0])
    hidden = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 2, "b": 0.0}]}
    )
    assert hidden.status_code == 400 and "unknown key" in hidden.text, hidden.text
    # Untagging the key column takes the row filter policy off at the next invocation.
    sql(admin, f"ALTER TABLE {world.feats} ALTER COLUMN id UNSET TAGS ('key')")
    again = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"id": 2, "b": 0.0}]}
    )
    assert again.status_code == 200, again.text


def test_lookups_merge_column_by_column_row_by_row(world: World) -> None:
    """Features are merged a column at a time; each row still gets what it asked for: a row
    that gives its feature keeps it, its neighbours get theirs looked up, a row that gives
    every feature needs no key, and errors name the row the user sent (not its place among
    the rows that needed a lookup)."""
    name = feature_world(world)
    for body in (
        {
            "dataframe_records": [
                {"id": 1, "a": 10.0, "b": 2.0},
                {"id": 2, "b": 1.0},
                {"a": 4.0, "b": 0.0},
            ]
        },
        {"instances": [{"id": 1, "a": 10.0, "b": 2.0}, {"id": 2, "b": 1.0}, {"a": 4.0, "b": 0.0}]},
        {"inputs": {"id": [1, 2, None], "a": [10.0, None, 4.0], "b": [2.0, 1.0, 0.0]}},
    ):
        answer = world.consumer_http.post(invocations(name), json=body)
        assert answer.status_code == 200, (body, answer.text)
        want = expected(5.0, [{"a": 10.0, "b": 2.0}, {"a": 0.5, "b": 1.0}, {"a": 4.0, "b": 0.0}])
        assert close(answer.json()["predictions"], want), (body, answer.json())
    cases = [
        (
            {"dataframe_records": [{"a": 1.0, "b": 0.0}, {"b": 1.0}]},
            "row 2: missing lookup key 'id'",
        ),
        (
            {
                "dataframe_records": [
                    {"a": 1.0, "b": 0.0},
                    {"id": 1, "b": 1.0},
                    {"id": 42, "b": 1.0},
                ]
            },
            "row 3: unknown key id=42",
        ),
        ({"dataframe_records": [{"id": 1, "b": 0.0}, {"id": 2}]}, "row 2: missing column 'b'"),
        ({"dataframe_split": {"columns": ["id", "b"], "data": [[1, 0.0], [True, 1.0]]}}, "id"),
    ]
    for body, needle in cases:
        answer = world.consumer_http.post(invocations(name), json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert needle in answer.json()["message"], (needle, answer.json())


def test_served_features_follow_every_write_at_once(world: World) -> None:
    """Serving keeps the feature rows it read while the table's data version holds
    (catalog/data/row_cache.py): every kind of write raises it, so the very next
    invocation sees the write — rows API, SQL MERGE (update and delete), SQL INSERT.
    A warm invocation assumes the version its cached rows are at and its commit checks it
    (catalog/data/assumed_versions.py): the first after each write finds it changed and
    is scored again — still one audit event per answer."""
    name = feature_world(world)
    admin = world.server.admin

    def predict() -> Any:
        answer = world.consumer_http.post(
            invocations(name), json={"dataframe_records": [{"id": 1, "b": 0.0}]}
        )
        events = admin.get(
            f"{STEWARD}/audit", params={"request_id": answer.headers["x-request-id"]}
        ).json()["events"]
        assert [e["response"]["status_code"] for e in events] == [answer.status_code], events
        return answer.json()["predictions"][0] if answer.status_code == 200 else answer

    for _ in range(3):  # read once, then from the cache
        assert abs(predict() - (5.0 + 2 * 1.0)) < 1e-6
    written = world.ds_http.post(
        f"{STEWARD}/tables/{world.feats}/rows", json={"rows": [{"id": 1, "a": 4.0}]}
    )
    assert written.status_code == 200, written.text
    assert abs(predict() - (5.0 + 2 * 4.0)) < 1e-6
    changes = f"{world.catalog}.ml.changes"
    sql(admin, f"CREATE TABLE {changes} (id BIGINT NOT NULL, a DOUBLE)")
    sql(admin, f"INSERT INTO {changes} VALUES (1, 2.5)")
    sql(
        admin,
        f"MERGE INTO {world.feats} AS t USING {changes} AS c ON t.id = c.id "
        "WHEN MATCHED THEN UPDATE SET a = c.a",
    )
    assert abs(predict() - (5.0 + 2 * 2.5)) < 1e-6
    deletes = f"{world.catalog}.ml.deletes"
    sql(admin, f"CREATE TABLE {deletes} (id BIGINT NOT NULL)")
    sql(admin, f"INSERT INTO {deletes} VALUES (1)")
    sql(
        admin,
        f"MERGE INTO {world.feats} AS t USING {deletes} AS d ON t.id = d.id "
        "WHEN MATCHED THEN DELETE",
    )
    gone = predict()
    assert isinstance(gone, httpx.Response) and gone.status_code == 400
    assert "unknown key id=1" in gone.json()["message"]
    sql(admin, f"INSERT INTO {world.feats} VALUES (1, 0.5)")
    assert abs(predict() - (5.0 + 2 * 0.5)) < 1e-6


def test_renamed_features_reach_the_model_under_their_input_names(world: World) -> None:
    """``rename_outputs`` (Databricks' FeatureLookup): table column ``score`` is the model's
    input ``a``; the version records the renaming and serving applies it."""
    scores = f"{world.catalog}.ml.scores"
    sql(
        world.server.admin,
        f"CREATE TABLE {scores} (cid BIGINT NOT NULL, score DOUBLE, "
        "CONSTRAINT pk PRIMARY KEY (cid))",
    )
    sql(world.server.admin, f"GRANT SELECT, MODIFY ON TABLE {scores} TO `{world.scientist}`")
    written = world.ds_http.post(
        f"{STEWARD}/tables/{scores}/rows", json={"rows": [{"cid": 7, "score": 3.0}]}
    )
    assert written.status_code == 200, written.text
    lookup = {
        "table_name": scores,
        "lookup_key": ["cid"],
        "feature_names": ["score"],
        "rename_outputs": {"score": "a"},
    }
    version = world.register(1.0, feature_lookups=[lookup])
    info = world.ds.get_version(world.model, version)
    assert (info.dependencies or {})["feature_lookups"][0]["rename_outputs"] == {"score": "a"}
    name = world.endpoint(served_entities=[{"entity_name": world.model, "entity_version": version}])
    world.grant_query(name)
    answer = world.consumer_http.post(
        invocations(name), json={"dataframe_records": [{"cid": 7, "b": 2.0}]}
    )
    assert answer.status_code == 200, answer.text
    assert close(answer.json()["predictions"], [1.0 + 2 * 3.0 - 2.0])


def test_feature_lookup_errors_name_the_key(world: World) -> None:
    name = feature_world(world)
    cases = [
        (
            {"dataframe_records": [{"id": 1, "b": 0.0}, {"id": 42, "b": 1.0}]},
            ["id=42", world.feats],
        ),
        ({"dataframe_records": [{"b": 1.0}]}, ["missing lookup key 'id'"]),
        ({"dataframe_records": [{"id": "one", "b": 1.0}]}, ["id"]),
        ({"dataframe_records": [{"id": 1}]}, ["missing column 'b'"]),
    ]
    for body, needles in cases:
        answer = world.consumer_http.post(invocations(name), json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        for needle in needles:
            assert needle in answer.json()["message"], (needle, answer.json())


def test_creating_over_feature_lookups_needs_select_on_the_feature_table(world: World) -> None:
    feature_world(world)
    sql(world.server.admin, f"REVOKE SELECT ON TABLE {world.feats} FROM `{world.scientist}`")
    denied = world.ds_http.post(
        ENDPOINTS,
        json={
            "name": unique("ep"),
            "config": {"served_entities": [{"entity_name": world.model, "entity_version": "1"}]},
        },
    )
    assert denied.status_code == 403, denied.text
    assert "SELECT" in denied.json()["message"] and world.feats in denied.json()["message"]


# -- bad requests ------------------------------------------------------------------------------


def test_bad_requests_are_400s_naming_what_is_wrong(world: World) -> None:
    world.register(1.0)
    name = world.endpoint()
    world.grant_query(name)
    cases: list[tuple[Any, list[str]]] = [
        ({"dataframe_records": [{"a": 1.0}]}, ["missing column 'b'"]),
        ({"dataframe_records": [{"a": 1.0, "b": 1.0}, {"a": 2.0}]}, ["row 2", "'b'"]),
        ({"dataframe_records": [{"a": "x", "b": 1.0}]}, ["'a'", "not a number"]),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0]]}}, ["row 1", "1 values"]),
        ({"dataframe_split": {"columns": ["a", "b"]}}, ["dataframe_split.data"]),
        ({"instances": [[1.0, 2.0, 3.0]]}, ["3 values", "a, b"]),
        ({"instances": [{"a": 1.0, "b": 2.0}, [1.0, 2.0]]}, ["mixes"]),
        ({"dataframe_records": {"a": 1.0}}, ["list of records"]),
        ({"records": [{"a": 1.0, "b": 1.0}]}, ["unknown key 'records'"]),
        ({"inputs": [], "instances": []}, ["exactly one"]),
        ({"inputs": []}, ["no rows"]),
        ([1, 2], ["JSON object"]),
    ]
    for body, needles in cases:
        answer = world.consumer_http.post(invocations(name), json=body)
        assert answer.status_code == 400, (body, answer.text)
        for needle in needles:
            assert needle in answer.json()["message"], (needle, body, answer.json())
    raw = world.consumer_http.post(
        invocations(name), content=b"{not json", headers={"content-type": "application/json"}
    )
    assert raw.status_code == 400 and "not valid JSON" in raw.json()["message"]
    bad_configs = [
        ({"served_entities": []}, "at least one"),
        ({"served_entities": [{"entity_name": world.model}]}, "exactly one of"),
        (
            {
                "served_entities": [
                    {"entity_name": world.model, "entity_version": "1", "alias": "x"}
                ]
            },
            "exactly one of",
        ),
        ({"served_entities": [{"entity_name": world.model, "entity_version": "zero"}]}, "zero"),
        ({"served_entities": [{"entity_name": world.model, "entity_version": "7"}]}, "version 7"),
        ({"served_entities": [{"entity_name": world.model, "alias": "nope"}]}, "nope"),
        (
            {
                "served_entities": [
                    {"entity_name": world.model, "entity_version": "1", "traffic_percentage": 60},
                    {
                        "entity_name": world.model,
                        "entity_version": "1",
                        "name": "other",
                        "traffic_percentage": 30,
                    },
                ]
            },
            "sum to 100",
        ),
        (
            {
                "served_entities": [
                    {"entity_name": world.model, "entity_version": "1"},
                    {"entity_name": world.model, "entity_version": "1"},
                ]
            },
            "used twice",
        ),
    ]
    for config, needle in bad_configs:
        answer = world.ds_http.post(ENDPOINTS, json={"name": unique("ep"), "config": config})
        assert 400 <= answer.status_code < 500, (config, answer.text)
        assert needle in answer.json()["message"], (needle, answer.json())
    taken = world.ds_http.post(
        ENDPOINTS,
        json={
            "name": name,
            "config": {"served_entities": [{"entity_name": world.model, "entity_version": "1"}]},
        },
    )
    assert taken.status_code == 409, taken.text


# -- alias follow and traffic ----------------------------------------------------------------


def test_an_alias_move_reaches_the_endpoint_within_one_second(world: World) -> None:
    world.register(1.0, alias="champion")
    world.register(100.0)
    name = world.endpoint(served_entities=[{"entity_name": world.model, "alias": "champion"}])
    world.grant_query(name)
    body = {"dataframe_records": ROWS[:1]}
    first = world.consumer_http.post(invocations(name), json=body)
    assert first.status_code == 200, first.text
    assert close(first.json()["predictions"], expected(1.0, ROWS[:1]))
    moved = world.ds_http.put(
        f"/api/2.1/unity-catalog/models/{world.model}/aliases/champion", json={"version_num": 2}
    )
    assert moved.status_code == 200, moved.text
    started = time.monotonic()
    while True:
        answer = world.consumer_http.post(invocations(name), json=body)
        assert answer.status_code == 200, answer.text
        if close(answer.json()["predictions"], expected(100.0, ROWS[:1])):
            break
        assert time.monotonic() - started < 1.0, "the alias move did not reach the endpoint"
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    assert answer.headers["x-steward-model-version"] == "2"


def test_traffic_splits_between_served_entities(world: World) -> None:
    world.register(0.0)
    world.register(1000.0)
    name = world.endpoint(
        served_entities=[
            {
                "entity_name": world.model,
                "entity_version": "1",
                "name": "a",
                "traffic_percentage": 30,
            },
            {
                "entity_name": world.model,
                "entity_version": "2",
                "name": "b",
                "traffic_percentage": 70,
            },
        ]
    )
    world.grant_query(name)
    served: Counter[str] = Counter()
    n = 300
    for _ in range(n):
        answer = world.consumer_http.post(invocations(name), json={"inputs": [[0.0, 0.0]]})
        assert answer.status_code == 200, answer.text
        entity = answer.headers["x-steward-served-entity"]
        assert answer.json()["predictions"][0] == pytest.approx(0.0 if entity == "a" else 1000.0)
        served[entity] += 1
    # Binomial(300, 0.3): sd 7.9; five sd either side fails once in ~3.5 million runs.
    assert abs(served["a"] - 90) <= 40, served
    assert served["a"] + served["b"] == n
    # Databricks' traffic_config.routes say the same.
    updated = world.ds_http.put(
        f"{ENDPOINTS}/{name}/config",
        json={
            "served_entities": [
                {"entity_name": world.model, "entity_version": "1", "name": "a"},
                {"entity_name": world.model, "entity_version": "2", "name": "b"},
            ],
            "traffic_config": {
                "routes": [
                    {"served_model_name": "a", "traffic_percentage": 0},
                    {"served_model_name": "b", "traffic_percentage": 100},
                ]
            },
        },
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["config"]["config_version"] == 2
    for _ in range(20):
        answer = world.consumer_http.post(invocations(name), json={"inputs": [[0.0, 0.0]]})
        assert answer.headers["x-steward-served-entity"] == "b"


# -- denials ---------------------------------------------------------------------------------


def test_every_denial(world: World) -> None:
    world.register(1.0)
    outsider, outsider_token = world.server.create_user()
    out = world.server.client(outsider_token)
    admin = world.server.admin
    config = {"served_entities": [{"entity_name": world.model, "entity_version": "1"}]}

    # Creating needs EXECUTE on the model (with the usage gates), even for an admin; to
    # someone who may not see the model at all it is as missing as a model never made.
    hidden = out.post(ENDPOINTS, json={"name": unique("ep"), "config": config})
    assert hidden.status_code == 404, hidden.text
    assert world.catalog in hidden.json()["message"], hidden.json()
    denied = admin.post(ENDPOINTS, json={"name": unique("ep"), "config": config})
    assert denied.status_code == 403, denied.text
    assert "EXECUTE" in denied.json()["message"], denied.json()
    # An inference table needs CREATE TABLE on its schema.
    sql(admin, f"REVOKE CREATE TABLE ON SCHEMA {world.catalog}.ml FROM `{world.scientist}`")
    capture = {
        "catalog_name": world.catalog,
        "schema_name": "ml",
        "table_name_prefix": unique("log"),
    }
    denied = world.ds_http.post(
        ENDPOINTS,
        json={"name": unique("ep"), "config": {**config, "auto_capture_config": capture}},
    )
    assert denied.status_code == 403 and "CREATE TABLE" in denied.json()["message"], denied.text

    name = world.endpoint()
    url = f"{ENDPOINTS}/{name}"
    body = {"inputs": ROWS}
    # Invoking needs QUERY; reading needs QUERY (or ownership); changing needs ownership. To
    # whoever holds none of them the endpoint is hidden: as missing as one never made.
    for client in (out, world.consumer_http):
        for response in (
            client.post(invocations(name), json=body),
            client.get(url),
            client.put(f"{url}/config", json=config),
            client.delete(url),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
            assert name in response.json()["message"]
    # An admin manages the endpoint but needs a grant to invoke it.
    assert admin.get(url).status_code == 200
    assert admin.post(invocations(name), json=body).status_code == 403
    world.grant_query(name)
    assert world.consumer_http.post(invocations(name), json=body).status_code == 200
    assert world.consumer_http.get(url).status_code == 200
    assert world.consumer_http.delete(url).status_code == 403
    # Unknown endpoints and missing tokens.
    missing = world.consumer_http.post(invocations(unique("nope")), json=body)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    anonymous = httpx.post(f"{world.server.url}{invocations(name)}", json=body)
    assert anonymous.status_code == 401
    # Revoking QUERY takes effect at once (and hides the endpoint again).
    sql(admin, f"REVOKE QUERY ON SERVING ENDPOINT {name} FROM `{world.consumer}`")
    assert world.consumer_http.post(invocations(name), json=body).status_code == 404
    # Each refused invocation wrote one event naming the denial (the truth, for admins).
    events = admin.get(AUDIT, params={"action": "queryServingEndpoint", "user": outsider}).json()[
        "events"
    ]
    assert len(events) == 1 and events[0]["response"]["status_code"] == 403, events
    # The owner deletes.
    assert world.ds_http.delete(url).status_code == 200
    assert world.ds_http.get(url).status_code == 404


# -- inference table, audit, lineage, CLI ----------------------------------------------------


def inference_rows(client: httpx.Client, table: str) -> list[dict[str, Any]]:
    """The inference table's rows, read with SQL SELECT as ``client``."""
    body = sql(client, f"SELECT * FROM {table}")
    names = [c["name"] for c in body["manifest"]["schema"]["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["result"]["data_array"]]


def test_inference_table_rows_match_invocations_one_for_one(world: World) -> None:
    world.register(3.0)
    prefix = unique("log")
    name = world.endpoint(
        auto_capture_config={
            "catalog_name": world.catalog,
            "schema_name": "ml",
            "table_name_prefix": prefix,
            "enabled": True,
        }
    )
    table = f"{world.catalog}.ml.{prefix}_payload"
    got = world.ds_http.get(f"{ENDPOINTS}/{name}").json()
    assert got["config"]["auto_capture_config"]["table_name_prefix"] == prefix
    # The creator owns the table; nobody else reads it without SELECT.
    assert world.server.admin.get(f"/api/2.1/unity-catalog/tables/{table}").json()["owner"] == (
        world.scientist
    )
    world.grant_query(name)
    _outsider, outsider_token = world.server.create_user()
    out = world.server.client(outsider_token)

    def call(i: int) -> httpx.Response:
        if i % 10 == 9:  # a bad request: logged with its status
            return world.consumer_http.post(invocations(name), json={"inputs": [{"a": 1.0}]})
        if i % 25 == 24:  # refused before reaching the endpoint: audited, not logged
            return out.post(invocations(name), json={"inputs": ROWS})
        row = {"a": float(i), "b": 1.0}
        return world.consumer_http.post(
            invocations(name), json={"dataframe_records": [row], "client_request_id": f"c{i}"}
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(call, range(100)))
    statuses = Counter(r.status_code for r in responses)
    # The outsider may not see the endpoint: refused as if it did not exist.
    assert statuses == {200: 88, 400: 10, 404: 2}, statuses
    # Readable by SQL with SELECT: the owner (creator) reads it; others need a grant.
    for statement in (
        f"GRANT USE CATALOG ON CATALOG {world.catalog} TO `{world.consumer}`",
        f"GRANT USE SCHEMA ON SCHEMA {world.catalog}.ml TO `{world.consumer}`",
    ):
        sql(world.server.admin, statement)
    refused = world.consumer_http.post(SQL, json={"statement": f"SELECT * FROM {table}"})
    assert refused.json()["status"]["state"] == "FAILED", refused.text
    # Without a privilege on it the consumer does not even see the table.
    assert refused.json()["status"]["error"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    rows = inference_rows(world.ds_http, table)
    sql(world.ds_http, f"GRANT SELECT ON TABLE {table} TO `{world.consumer}`")
    assert len(inference_rows(world.consumer_http, table)) == len(rows)
    by_request = {r["databricks_request_id"]: r for r in rows}
    reached = [r for r in responses if r.status_code != 404]
    assert len(rows) == len(reached) == len(by_request)
    for response in reached:
        row = by_request[response.headers["x-request-id"]]
        assert row["status_code"] == response.status_code
        assert row["requester"] == world.consumer
        assert json.loads(row["response"]) == response.json()
        if response.status_code == 200:
            request = json.loads(row["request"])
            assert row["client_request_id"] == request["client_request_id"]
            assert row["served_entity_id"] == "reg-1" and row["model_version"] == 1
            assert row["model_name"] == world.model
    # One audit event per invocation, refused or not, with the answer's status.
    for response in responses:
        events = world.server.admin.get(
            AUDIT, params={"request_id": response.headers["x-request-id"]}
        ).json()["events"]
        assert len(events) == 1, events
        event = events[0]
        assert event["action_name"] == "queryServingEndpoint"
        # A refusal answered as missing is recorded as the denial it was.
        recorded = 403 if response.status_code == 404 else response.status_code
        assert event["response"]["status_code"] == recorded
        assert event["service_name"] == "serving"
        if response.status_code == 200:
            params = event["request_params"]
            assert params["rows"] == 1 and params["format"] == "dataframe_records"
            assert params["model_version"] == 1 and "dataframe_records" not in params
    # The chain holds with grouped commits.
    db = Database(world.server.database_url)
    try:
        with db.read() as session:
            report = verify(session)
    finally:
        db.dispose()
    assert report.ok, report.problems[:5]


def test_lineage_edges_from_served_versions(world: World) -> None:
    world.register(1.0, alias="champion")
    name = world.endpoint(
        served_entities=[
            {"entity_name": world.model, "entity_version": "1", "traffic_percentage": 50},
            {"entity_name": world.model, "alias": "champion", "traffic_percentage": 50},
        ]
    )
    graph = world.ds_http.get(
        f"{STEWARD}/lineage", params={"full_name": name, "direction": "upstream", "depth": 1}
    )
    assert graph.status_code == 200, graph.text
    nodes = {n["id"]: n for n in graph.json()["nodes"]}
    edges = {
        (nodes[e["source"]].get("name"), nodes[e["source"]].get("version"), e["kind"])
        for e in graph.json()["edges"]
    }
    assert (world.model, 1, "serving") in edges
    assert (world.model, None, "serving") in edges  # the alias follows the model


def test_cli_creates_lists_invokes_and_deletes(world: World) -> None:
    world.register(2.0, alias="champion")
    name = unique("cli")
    token = world.ds.token
    created = steward(
        "endpoints",
        "create",
        name,
        "--serve",
        f"{world.model}@champion",
        "--json",
        server=world.server,
        token=token,
    )
    assert json.loads(created.stdout)["config"]["served_entities"][0]["alias"] == "champion"
    listed = steward("endpoints", "list", "--json", server=world.server, token=token)
    assert name in [e["name"] for e in json.loads(listed.stdout)]
    shown = steward("endpoints", "get", name, server=world.server, token=token)
    assert "champion" in shown.stdout
    sql(world.server.admin, f"GRANT QUERY ON SERVING ENDPOINT {name} TO `{world.scientist}`")
    body = json.dumps({"dataframe_records": ROWS[:1]})
    invoked = steward("endpoints", "invoke", name, "-d", body, server=world.server, token=token)
    assert close(json.loads(invoked.stdout)["predictions"], expected(2.0, ROWS[:1]))
    refused = steward(
        "endpoints", "invoke", name, "-d", "{}", server=world.server, token=token, check=False
    )
    assert refused.returncode == 1 and "exactly one of" in refused.stderr
    bad = steward(
        "endpoints",
        "create",
        unique("cli"),
        "--serve",
        world.model,
        server=world.server,
        token=token,
        check=False,
    )
    assert bad.returncode != 0 and "MODEL/VERSION" in bad.stderr
    steward("endpoints", "delete", name, server=world.server, token=token)
    gone = steward("endpoints", "get", name, server=world.server, token=token, check=False)
    assert gone.returncode == 1 and "RESOURCE_DOES_NOT_EXIST" in gone.stderr
