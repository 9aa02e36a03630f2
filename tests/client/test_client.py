"""The Python client and the CLI of the model registry (docs/clients.md) against a
real server: register, alias, load by alias as another user, predict; lineage of the
training tables; denials that change nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature as mlflow_infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import registry
from common.signature import infer_signature
from registry import Client, LoadedModel, StewardError, predict
from registry.client.models import parse_model_uri
from tests.registry_support import STEWARD, UC, events_for, one_event, sql
from tests.support import ROOT, ServerHandle, unique
from tests.support import run_steward as steward


def churn_data(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rs = np.random.RandomState(seed)
    X = pd.DataFrame(
        {
            "tenure_months": rs.randint(1, 72, 200).astype("float64"),
            "monthly_spend": rs.rand(200) * 100,
            "support_calls": rs.randint(0, 10, 200).astype("float64"),
        }
    )
    y = ((X.support_calls > 5) | (X.tenure_months < 6)).astype(int).to_numpy()
    return X, y


class World:
    """Catalog with schema ``ml``, tables ``customers`` and feature table ``features``; a data
    scientist who may create models there; an analyst in a group with EXECUTE."""

    def __init__(self, server: ServerHandle, tmp_path: Path) -> None:
        self.server = server
        admin = server.admin
        self.catalog = unique("main")
        self.model = f"{self.catalog}.ml.churn"
        self.customers = f"{self.catalog}.ml.customers"
        self.features = f"{self.catalog}.ml.features"
        sql(admin, f"CREATE CATALOG {self.catalog}")
        sql(admin, f"CREATE SCHEMA {self.catalog}.ml")
        sql(admin, f"CREATE TABLE {self.customers} (customer_id BIGINT, churned BOOLEAN)")
        sql(
            admin,
            f"CREATE TABLE {self.features} (customer_id BIGINT NOT NULL, ts TIMESTAMP NOT NULL, "
            "support_calls DOUBLE, CONSTRAINT pk PRIMARY KEY (customer_id, ts TIMESERIES))",
        )
        self.scientist, scientist_token = server.create_user()
        self.analyst, analyst_token = server.create_user()
        self.group = unique("scorers")
        for statement in (
            f"GRANT USE CATALOG ON CATALOG {self.catalog} TO `{self.scientist}`",
            f"GRANT USE SCHEMA, CREATE MODEL ON SCHEMA {self.catalog}.ml TO `{self.scientist}`",
            f"GRANT SELECT ON TABLE {self.customers} TO `{self.scientist}`",
            f"GRANT SELECT ON TABLE {self.features} TO `{self.scientist}`",
            f"CREATE GROUP `{self.group}`",
            f"ALTER GROUP `{self.group}` ADD USER `{self.analyst}`",
            f"GRANT USE CATALOG ON CATALOG {self.catalog} TO `{self.group}`",
            f"GRANT USE SCHEMA ON SCHEMA {self.catalog}.ml TO `{self.group}`",
        ):
            sql(admin, statement)
        self.ds = Client(server.url, scientist_token, cache_dir=tmp_path / "ds-cache")
        self.an = Client(server.url, analyst_token, cache_dir=tmp_path / "an-cache")
        self.analyst_http = server.client(analyst_token)

    def close(self) -> None:
        self.ds.close()
        self.an.close()


@pytest.fixture
def world(server: ServerHandle, tmp_path: Path) -> Any:
    w = World(server, tmp_path)
    yield w
    w.close()


def test_register_alias_and_load_by_alias_as_another_user(world: World) -> None:
    X, y = churn_data()
    first = LogisticRegression(max_iter=500).fit(X, y)
    second = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)

    v1 = world.ds.register_model(
        first,
        world.model,
        input_example=X.head(5),
        training_tables=[world.customers],
        alias="champion",
        tags={"algorithm": "logistic"},
    )
    assert (v1.version, v1.status, v1.aliases) == (1, "READY", ["champion"])
    assert v1.tags == {"algorithm": "logistic"}
    assert json.loads(v1.signature["inputs"]) == [
        {"type": "double", "name": c, "required": True} for c in X.columns
    ]
    assert v1.dependencies == {"training_tables": [world.customers], "feature_lookups": []}
    v2 = world.ds.register_model(
        second,
        world.model,
        input_example=X.head(5),
        training_tables=[world.customers],
        feature_lookups=[
            {
                "table_name": world.features,
                "lookup_key": ["customer_id"],
                "timestamp_lookup_key": "ts",
            }
        ],
        alias="challenger",
    )
    assert (v2.version, v2.aliases) == (2, ["challenger"])
    assert [v.version for v in world.ds.list_versions(world.model)] == [1, 2]

    # Promote the challenger; the move is audited with the previous version.
    moved = world.ds.set_alias(world.model, "champion", 2)
    assert sorted(moved.aliases) == ["challenger", "champion"]
    assert world.ds.get_version(world.model, "champion").version == 2
    assert world.ds.get_version(world.model, 1).aliases == []

    # The analyst may not load until its group holds EXECUTE.
    with pytest.raises(StewardError) as denied:
        world.an.load_model(f"models:/{world.model}@champion")
    assert denied.value.error_code in ("PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST")
    sql(world.server.admin, f"GRANT EXECUTE ON MODEL {world.model} TO `{world.group}`")

    champion = world.an.load_model(f"models:/{world.model}@champion")
    assert isinstance(champion, LoadedModel)
    assert (champion.full_name, champion.version) == (world.model, 2)
    assert (champion.predict(X) == second.predict(X)).all()
    by_number = world.an.load_model(f"models:/{world.model}/1")
    assert (by_number.predict(X) == first.predict(X)).all()
    # predict takes URIs or loaded models, and DataFrames, records, arrays or payloads.
    records = X.head(20).to_dict("records")
    expected = second.predict(X.head(20))
    assert (world.an.predict(f"models:/{world.model}@champion", records) == expected).all()
    assert (predict(champion, X.head(20).to_numpy()) == expected).all()
    split = {"dataframe_split": X.head(20).to_dict("split")}
    assert (champion.predict(split) == expected).all()
    # The load was audited: the analyst's downloads of version 2's files.
    audit = world.server.admin.get(
        f"{STEWARD}/audit", params={"action": "getModelVersionArtifact", "user": world.analyst}
    )
    assert audit.status_code == 200, audit.text
    assert audit.json()["events"], "downloads by the analyst were not audited"


def test_denials_change_nothing_and_are_audited(world: World) -> None:
    X, y = churn_data()
    model = LogisticRegression(max_iter=500).fit(X, y)
    world.ds.register_model(model, world.model, input_example=X.head(5), alias="champion")
    world.ds.register_model(model, world.model, input_example=X.head(5))
    sql(world.server.admin, f"GRANT EXECUTE ON MODEL {world.model} TO `{world.group}`")

    # EXECUTE is not MANAGE: the analyst cannot move or delete aliases.
    with pytest.raises(StewardError) as denied:
        world.an.set_alias(world.model, "champion", 2)
    assert (denied.value.error_code, denied.value.status_code) == ("PERMISSION_DENIED", 403)
    assert "MANAGE" in denied.value.message
    with pytest.raises(StewardError):
        world.an.delete_alias(world.model, "champion")
    assert world.ds.get_version(world.model, "champion").version == 1
    moves = world.server.admin.get(
        f"{STEWARD}/audit",
        params={"action": "setRegisteredModelAlias", "user": world.analyst},
    ).json()["events"]
    assert [e["response"]["status_code"] for e in moves] == [403]

    # Nor register versions (no CREATE MODEL VERSION): nothing is created.
    with pytest.raises(StewardError) as denied:
        world.an.register_model(model, world.model, input_example=X.head(5))
    assert denied.value.status_code == 403 and "CREATE MODEL VERSION" in denied.value.message
    assert [v.version for v in world.ds.list_versions(world.model)] == [1, 2]

    # A user who may see but not execute the model cannot download it.
    viewer, token = world.server.create_user()
    for statement in (
        f"GRANT USE CATALOG ON CATALOG {world.catalog} TO `{viewer}`",
        f"GRANT USE SCHEMA ON SCHEMA {world.catalog}.ml TO `{viewer}`",
        f"GRANT BROWSE ON MODEL {world.model} TO `{viewer}`",
    ):
        sql(world.server.admin, statement)
    with Client(world.server.url, token, cache_dir=world.ds.cache_dir.parent / "v") as client:
        assert client.get_version(world.model, "champion").version == 1
        with pytest.raises(StewardError) as denied:
            client.load_model(f"models:/{world.model}@champion")
    assert denied.value.error_code == "PERMISSION_DENIED" and "EXECUTE" in denied.value.message


def test_lineage_edges_from_training_tables(world: World) -> None:
    X, y = churn_data()
    model = LogisticRegression(max_iter=500).fit(X, y)
    world.ds.register_model(
        model, world.model, input_example=X.head(5), training_tables=[world.customers]
    )
    world.ds.register_model(
        model,
        world.model,
        input_example=X.head(5),
        training_tables=[world.customers],
        feature_lookups=[{"table_name": world.features, "lookup_key": ["customer_id"]}],
        alias="champion",
    )
    downstream = world.server.admin.get(
        f"{STEWARD}/lineage",
        params={"full_name": world.customers, "direction": "downstream", "depth": 2},
    )
    assert downstream.status_code == 200, downstream.text
    graph = downstream.json()
    nodes = {n["id"]: n for n in graph["nodes"]}
    edges = {
        (nodes[e["source"]].get("name"), e["kind"], nodes[e["target"]].get("version"))
        for e in graph["edges"]
    }
    assert (world.customers, "training", 1) in edges
    assert (world.customers, "training", 2) in edges
    upstream = world.server.admin.get(
        f"{STEWARD}/lineage",
        params={"full_name": world.model, "direction": "upstream", "depth": 3},
    )
    assert upstream.status_code == 200, upstream.text
    nodes = {n["id"]: n for n in upstream.json()["nodes"]}
    kinds = {
        (nodes[e["source"]].get("name"), e["kind"], nodes[e["target"]].get("version"))
        for e in upstream.json()["edges"]
    }
    assert (world.features, "feature_lookup", 2) in kinds
    assert (world.customers, "training", 2) in kinds


def test_downloads_are_verified_and_cached(world: World) -> None:
    X, y = churn_data()
    model = LogisticRegression(max_iter=500).fit(X, y)
    world.ds.register_model(model, world.model, input_example=X.head(5), alias="champion")
    loaded = world.ds.load_model(f"models:/{world.model}@champion")
    cached = loaded.path
    assert (cached / "MLmodel").is_file() and (cached / "model.skops").is_file()

    def downloads() -> int:
        return len(
            world.server.admin.get(
                f"{STEWARD}/audit",
                params={"action": "getModelVersionArtifact", "user": world.scientist},
            ).json()["events"]
        )

    before = downloads()
    again = world.ds.load_model(f"models:/{world.model}/1")
    assert again.path == cached and downloads() == before  # served from the cache
    # A cached file that changed is downloaded again.
    (cached / "model.skops").write_bytes(b"corrupted")
    healed = world.ds.load_model(f"models:/{world.model}/1")
    assert (healed.predict(X) == model.predict(X)).all()
    assert downloads() > before


def test_the_client_rejects_bytes_that_do_not_match_the_manifest(tmp_path: Path) -> None:
    """A server (or proxy) answering other bytes than it recorded: the client refuses."""
    good = b"flavors: {}\n"
    listing = {
        "full_name": "c.s.m",
        "version": 1,
        "status": "READY",
        "artifact_digest": "ab" * 32,
        "files": [{"path": "MLmodel", "size": len(good), "sha256": "0" * 64}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/artifacts"):
            return httpx.Response(200, json=listing)
        return httpx.Response(200, content=good, headers={"X-Checksum-SHA256": "0" * 64})

    client = Client("http://steward.invalid", "t", cache_dir=tmp_path)
    client.rest._http = httpx.Client(
        base_url="http://steward.invalid", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(StewardError) as mismatch:
        client.download_artifacts("c.s.m", 1)
    assert mismatch.value.error_code == "CHECKSUM_MISMATCH"
    assert not any(p.is_file() for p in tmp_path.rglob("*")), "a rejected file was kept"

    listing["files"] = [{"path": "../escape", "size": 1, "sha256": "0" * 64}]
    with pytest.raises(StewardError, match="unsafe artifact path"):
        client.download_artifacts("c.s.m", 1)
    assert not (tmp_path.parent / "escape").exists()


def test_client_errors_and_environment(
    server: ServerHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STEWARD_URL", server.url)
    monkeypatch.setenv("STEWARD_TOKEN", server.admin_token)
    monkeypatch.setenv("STEWARD_CACHE_DIR", str(tmp_path))
    client = Client()
    assert client.url == server.url and client.cache_dir == tmp_path
    with pytest.raises(StewardError) as missing:
        client.get_version(f"{unique('nocat')}.s.m", 1)
    assert (missing.value.status_code, missing.value.error_code) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert missing.value.request_id
    with pytest.raises(StewardError, match="models:/"):
        client.load_model("runs:/abc/model")
    with pytest.raises(StewardError, match="signature"):
        client.register_model(LogisticRegression(), "a.b.c")
    with pytest.raises(StewardError, match=r"catalog\.schema\.model"):
        client.register_model(LogisticRegression(), "just-a-name", signature={})
    anonymous = Client(server.url, "dapi-not-valid")
    with pytest.raises(StewardError) as unauthenticated:
        anonymous.get_model("a.b.c")
    assert unauthenticated.value.error_code == "UNAUTHENTICATED"
    client.close()
    anonymous.close()


def test_model_uris() -> None:
    assert parse_model_uri("models:/main.ml.churn@champion") == ("main.ml.churn", None, "champion")
    assert parse_model_uri("models:/main.ml.churn/3") == ("main.ml.churn", 3, None)
    for bad in ("models:/churn/3", "models:/main.ml.churn", "models:/a.b.c/x", "main.ml.churn/1"):
        with pytest.raises(StewardError):
            parse_model_uri(bad)


def test_inferred_signatures_match_mlflow() -> None:
    X, y = churn_data()
    X["segment"] = np.where(X.tenure_months > 12, "loyal", "new")
    X["active"] = X.support_calls < 3
    X["count32"] = X.support_calls.astype("int32")
    X["count64"] = X.support_calls.astype("int64")
    ours = infer_signature(X, y)
    theirs = mlflow_infer_signature(X, y).to_dict()
    assert json.loads(ours["inputs"]) == json.loads(theirs["inputs"])
    assert json.loads(ours["outputs"]) == json.loads(theirs["outputs"])
    array = X[["tenure_months", "monthly_spend"]].to_numpy()
    proba = np.column_stack([y, 1 - y]).astype("float64")
    ours = infer_signature(array, proba)
    theirs = mlflow_infer_signature(array, proba).to_dict()
    assert json.loads(ours["inputs"]) == json.loads(theirs["inputs"])
    assert json.loads(ours["outputs"]) == json.loads(theirs["outputs"])


def test_the_server_does_not_import_the_client() -> None:
    code = (
        "import sys, registry, steward.app; "
        "assert 'registry.client.client' not in sys.modules, 'client imported'; "
        "assert registry.Client.__module__ == 'registry.client.client'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)
    assert registry.StewardError is StewardError


# -- CLI --------------------------------------------------------------------------------------


def test_cli_versions_and_aliases(world: World) -> None:
    X, y = churn_data()
    model = LogisticRegression(max_iter=500).fit(X, y)
    world.ds.register_model(model, world.model, input_example=X.head(5), alias="champion")
    world.ds.register_model(model, world.model, input_example=X.head(5))
    server = world.server
    listed = json.loads(
        steward("models", "versions", "list", world.model, "--json", server=server).stdout
    )
    assert [(v["version"], v["status"]) for v in listed] == [(1, "READY"), (2, "READY")]
    table = steward("models", "versions", "list", world.model, server=server).stdout
    assert "champion" in table and "READY" in table
    got = json.loads(
        steward("models", "versions", "get", world.model, "2", "--json", server=server).stdout
    )
    assert got["version"] == 2 and got["signature"]["inputs"]
    by_alias = json.loads(
        steward(
            "models", "versions", "get", world.model, "champion", "--json", server=server
        ).stdout
    )
    assert by_alias["version"] == 1

    moved = steward("models", "alias", "set", world.model, "champion", "2", server=server)
    assert "-> version 2" in moved.stdout
    shown = json.loads(
        steward("models", "alias", "get", world.model, "champion", "--json", server=server).stdout
    )
    assert shown["version"] == 2
    steward("models", "alias", "set", world.model, "challenger", "1", server=server)
    steward("models", "alias", "delete", world.model, "challenger", server=server)
    gone = steward("models", "alias", "get", world.model, "challenger", server=server, check=False)
    assert gone.returncode == 1 and "RESOURCE_DOES_NOT_EXIST" in gone.stderr

    # A non-owner without MANAGE (who sees the model: EXECUTE): refused, nothing moved, the
    # denial audited. (One who may not see it is answered as if it did not exist.)
    sql(server.admin, f"GRANT EXECUTE ON MODEL {world.model} TO `{world.group}`")
    analyst_token = world.an.token
    denied = steward(
        "models", "alias", "set", world.model, "champion", "1",
        server=server, token=analyst_token, check=False,
    )  # fmt: skip
    assert denied.returncode == 1 and "PERMISSION_DENIED" in denied.stderr
    assert "Traceback" not in denied.stderr
    assert world.ds.get_version(world.model, "champion").version == 2
    events = server.admin.get(
        f"{STEWARD}/audit", params={"action": "setRegisteredModelAlias", "user": world.analyst}
    ).json()["events"]
    assert [e["response"]["status_code"] for e in events] == [403]


@pytest.mark.parametrize(
    "command",
    [
        ["models", "versions"],
        ["models", "versions", "list"],
        ["models", "versions", "get"],
        ["models", "alias"],
        ["models", "alias", "set"],
        ["models", "alias", "get"],
        ["models", "alias", "delete"],
    ],
)
def test_registry_commands_have_help(command: list[str]) -> None:
    assert "Usage" in steward(*command, "--help").stdout


def test_alias_http_denial_is_audited_once(world: World) -> None:
    """The raw route, for the record: 403 (404 to whoever may not see the model), one event
    recording the denial, alias unchanged."""
    X, y = churn_data()
    model = LogisticRegression(max_iter=500).fit(X, y)
    world.ds.register_model(model, world.model, input_example=X.head(5), alias="champion")
    world.ds.register_model(model, world.model, input_example=X.head(5))
    url = f"{UC}/models/{world.model}/aliases/champion"
    hidden = world.analyst_http.put(url, json={"version_num": 2})
    assert hidden.status_code == 404
    one_event(world.server, hidden, "setRegisteredModelAlias", world.analyst, 403)
    sql(world.server.admin, f"GRANT EXECUTE ON MODEL {world.model} TO `{world.group}`")
    response = world.analyst_http.put(url, json={"version_num": 2})
    assert response.status_code == 403
    one_event(world.server, response, "setRegisteredModelAlias", world.analyst, 403)
    assert len(events_for(world.server, response)) == 1
    assert world.ds.get_version(world.model, "champion").version == 1
