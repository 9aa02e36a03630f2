"""Governed model serving (issue 6, points 3 and 4) over HTTP against a real server, on
both backends: endpoint CRUD, the four MLflow input formats, feature lookup at serving
time with request overrides, alias follow within one second, traffic split, every denial,
the inference table matching invocations one for one, the audit events and lineage."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from registry import Client
from tests.registry_support import AUDIT, STEWARD, sql
from tests.support import ServerHandle, unique

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
