"""MLflow as a client of Steward's registry, end to end against a running server.

MLflow's ``uc:`` registry URI selects its Unity Catalog OSS store
(``mlflow/store/_unity_catalog/registry/uc_oss_rest_store.py``): it sends
``/api/2.1/unity-catalog`` requests with ``MLFLOW_UC_OSS_TOKEN`` as the bearer token, writes a
version's artifacts itself into the ``file:`` ``storage_location`` Steward returns, then
finalizes. Tracking stays local (a file store; mlflow-skinny has no SQLAlchemy for its
default SQLite tracking store).

What MLflow 3.17.2's OSS store does not do, pinned here so a new MLflow that starts doing it
fails loudly and the test can switch to the client call:

- aliases: ``set_registered_model_alias``, ``get_model_version_by_alias`` (and so
  ``models:/name@alias`` URIs) raise ``NotImplementedError`` without any HTTP call, so aliases
  are set through Steward's REST paths and SQL, resolved with ``GET …/aliases/{alias}``, and
  the model is loaded by the version number that names. Its proto parses the ``aliases``
  Steward returns, but its entity conversion drops them (``ModelVersion.aliases == []``).

And one MLflow bug avoided: ``register_model`` from a ``models:/m-…`` or ``runs:/`` source
with a file tracking store deletes the logged model's artifacts after the upload, so version 2
is registered from a local model directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import RestException
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from tests.support import ServerHandle, unique

UC = "/api/2.1/unity-catalog"
SQL = "/api/2.0/sql/statements"
AUDIT = "/api/2.1/steward/audit"
MLFLOW_AGENT = "mlflow-python-client"
#: Given, so MLflow does not infer them (a subprocess that takes ~20 s per model).
REQUIREMENTS = ["scikit-learn", "skops"]


# -- helpers ----------------------------------------------------------------------------


def sql(client: httpx.Client, statement: str) -> list[list[Any]]:
    response = client.post(SQL, json={"statement": statement})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    return body.get("result", {}).get("data_array") or []


def new_schema(server: ServerHandle) -> str:
    """A fresh ``<catalog>.ml`` schema (tests share one server per module)."""
    catalog = unique("mlf")
    sql(server.admin, f"CREATE CATALOG {catalog}")
    sql(server.admin, f"CREATE SCHEMA {catalog}.ml")
    return catalog


def churn_data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 200
    X = pd.DataFrame(
        {
            "tenure_months": rng.uniform(0, 72, n),
            "monthly_charges": rng.uniform(20, 120, n),
            "support_calls": rng.integers(0, 10, n).astype("float64"),
        }
    )
    logit = 0.04 * X["monthly_charges"] - 0.06 * X["tenure_months"] + 0.3 * X["support_calls"]
    y = (logit + rng.normal(0, 0.5, n) > 1.0).astype("int64").to_numpy()
    return X, y


@pytest.fixture(scope="module")
def trained() -> tuple[LogisticRegression, pd.DataFrame]:
    X, y = churn_data()
    clf = LogisticRegression(max_iter=500).fit(X, y)
    # Both classes are predicted, so "predicts the same" is not trivially all zeros.
    assert len(set(clf.predict(X))) == 2
    return clf, X


@pytest.fixture
def mlflow_uc(
    server: ServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """MLflow pointed at the server's registry as the admin, tracking to a local file store."""
    monkeypatch.setenv("MLFLOW_UC_OSS_TOKEN", server.admin_token)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    # set_*_uri also export these; let monkeypatch restore them afterwards.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri("file:" + str(tmp_path / "mlruns"))
    mlflow.set_registry_uri(f"uc:{server.url}")
    try:
        yield
    finally:
        mlflow.set_registry_uri("")
        mlflow.set_tracking_uri(None)


def version_json(server: ServerHandle, model: str, version: int) -> dict[str, Any]:
    response = server.admin.get(f"{UC}/models/{model}/versions/{version}")
    assert response.status_code == 200, response.text
    return response.json()


def version_numbers(server: ServerHandle, model: str) -> list[int]:
    response = server.admin.get(f"{UC}/models/{model}/versions")
    assert response.status_code == 200, response.text
    return sorted(v["version"] for v in response.json()["model_versions"])


def audit_events(server: ServerHandle, model: str) -> list[dict[str, Any]]:
    response = server.admin.get(
        AUDIT, params={"object": model, "order": "asc", "max_results": 1000}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def schema_of(signature: dict[str, Any], part: str) -> Any:
    value = signature[part]
    return json.loads(value) if isinstance(value, str) else value


def save_local_model(clf: LogisticRegression, X: pd.DataFrame, path: Path) -> str:
    mlflow.sklearn.save_model(
        clf, path=str(path), input_example=X.head(5), pip_requirements=REQUIREMENTS
    )
    return str(path)


# -- tests ------------------------------------------------------------------------------


def test_log_model_register_model_and_load(
    server: ServerHandle,
    mlflow_uc: None,
    trained: tuple[LogisticRegression, pd.DataFrame],
    tmp_path: Path,
) -> None:
    clf, X = trained
    model = f"{new_schema(server)}.ml.churn"

    # log_model registers the model (createRegisteredModel) and version 1; MLflow writes the
    # artifacts into the version's file: storage_location and finalizes.
    info = mlflow.sklearn.log_model(
        clf,
        name="model",
        registered_model_name=model,
        input_example=X.head(5),
        pip_requirements=REQUIREMENTS,
    )
    assert info.registered_model_version == 1
    first = version_json(server, model, 1)
    assert first["status"] == "READY", first
    # MLflow wrote the artifacts itself into the managed location Steward gave it.
    location = Path(urlparse(first["storage_location"]).path)
    assert location.is_relative_to(server.storage_root.resolve())
    assert (location / "MLmodel").is_file() and (location / "model.skops").is_file()
    assert info.signature is not None
    expected = info.signature.to_dict()
    assert first["signature"] is not None
    assert schema_of(first["signature"], "inputs") == json.loads(expected["inputs"])
    assert schema_of(first["signature"], "outputs") == json.loads(expected["outputs"])
    assert [c["name"] for c in schema_of(first["signature"], "inputs")] == list(X.columns)
    assert first["artifact_digest"]

    # register_model from a local model directory: version 2. (Not a models:/m-… or runs:/
    # URI: with a file tracking store MLflow 3.17.2's UC OSS store downloads such a source
    # "to a temporary directory" that is really the logged model's own artifact directory,
    # then rmtree()s it after the upload — deleting the logged model's artifacts. An MLflow
    # bug, not Steward's; a local path is left alone because os.path.exists(source).)
    local = save_local_model(clf, X, tmp_path / "churn_local")
    registered = mlflow.register_model(local, model)
    assert int(registered.version) == 2
    assert registered.status == "READY"
    second = version_json(server, model, 2)
    assert second["status"] == "READY" and second["source"] == local
    assert Path(local, "MLmodel").is_file()

    # Load by version through the registry: the same predictions as the local classifier.
    loaded = mlflow.pyfunc.load_model(f"models:/{model}/1")
    np.testing.assert_array_equal(np.asarray(loaded.predict(X)), clf.predict(X))
    loaded_2 = mlflow.pyfunc.load_model(f"models:/{model}/2")
    np.testing.assert_array_equal(np.asarray(loaded_2.predict(X)), clf.predict(X))

    # Every MLflow call is audited as MLflow's, with the user agent it sent.
    events = audit_events(server, model)
    by_action: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_action.setdefault(event["action_name"], []).append(event)
    for action, count in [
        ("createRegisteredModel", 1),
        ("createModelVersion", 2),
        ("finalizeModelVersion", 2),
    ]:
        ours = [
            e
            for e in by_action.get(action, [])
            if MLFLOW_AGENT in (e.get("user_agent") or "") and e["response"]["status_code"] == 200
        ]
        assert len(ours) == count, (action, by_action.get(action))


def test_aliases_through_steward_then_load_by_version(
    server: ServerHandle,
    mlflow_uc: None,
    trained: tuple[LogisticRegression, pd.DataFrame],
    tmp_path: Path,
) -> None:
    clf, X = trained
    model = f"{new_schema(server)}.ml.churn"
    mlflow.sklearn.log_model(
        clf,
        name="model",
        registered_model_name=model,
        input_example=X.head(5),
        pip_requirements=REQUIREMENTS,
    )
    mlflow.register_model(save_local_model(clf, X, tmp_path / "v2"), model)

    admin = server.admin
    put = admin.put(f"{UC}/models/{model}/aliases/champion", json={"version_num": 2})
    assert put.status_code == 200, put.text
    assert put.json() == {"alias_name": "champion", "version_num": 2}
    sql(admin, f"ALTER MODEL {model} SET ALIAS challenger = 1")

    for alias, expected in [("champion", 2), ("challenger", 1)]:
        got = admin.get(f"{UC}/models/{model}/aliases/{alias}")
        assert got.status_code == 200, got.text
        number = got.json()["version"]
        assert number == expected
        loaded = mlflow.pyfunc.load_model(f"models:/{model}/{number}")
        np.testing.assert_array_equal(np.asarray(loaded.predict(X)), clf.predict(X))

    # The aliases reach MLflow: its ModelVersionInfo proto parses them from Steward's answer...
    client = MlflowClient()
    store = client._get_registry_client().store
    wire = store._get_model_version_endpoint_response(model, 2)
    assert [(a.alias_name, a.version_num) for a in wire.aliases] == [("champion", 2)]
    # ...but 3.17.2's UC OSS entity conversion drops them, and its store cannot resolve or set
    # one. When these start failing, MLflow supports aliases: switch to
    # models:/…@champion and set_registered_model_alias.
    assert client.get_model_version(model, "2").aliases == []
    with pytest.raises(NotImplementedError):
        mlflow.pyfunc.load_model(f"models:/{model}@champion")
    with pytest.raises(NotImplementedError):
        client.get_model_version_by_alias(model, "champion")
    with pytest.raises(NotImplementedError):
        client.set_registered_model_alias(model, "champion", "1")
    assert admin.get(f"{UC}/models/{model}/aliases/champion").json()["version"] == 2


def test_registration_is_governed(
    server: ServerHandle,
    mlflow_uc: None,
    trained: tuple[LogisticRegression, pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MLflow registrations by a non-admin are authorized like any other request: refused
    with PERMISSION_DENIED (MLflow's RestException) and nothing created until granted, every
    attempt audited with MLflow's user agent."""
    clf, X = trained
    catalog = new_schema(server)
    model, other = f"{catalog}.ml.churn", f"{catalog}.ml.churn_unapproved"
    MlflowClient().create_registered_model(model)  # as the admin
    user, token = server.create_user()
    admin = server.admin
    sql(admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{user}`")
    sql(admin, f"GRANT USE SCHEMA ON SCHEMA {catalog}.ml TO `{user}`")
    monkeypatch.setenv("MLFLOW_UC_OSS_TOKEN", token)
    local = save_local_model(clf, X, tmp_path / "user_model")

    # No CREATE MODEL: MLflow's first call (createRegisteredModel) is refused.
    with pytest.raises(RestException) as no_model:
        mlflow.register_model(local, other)
    assert no_model.value.error_code == "PERMISSION_DENIED", no_model.value
    assert admin.get(f"{UC}/models/{other}").status_code == 404

    # CREATE MODEL but no CREATE MODEL VERSION on the existing model: createRegisteredModel
    # answers RESOURCE_ALREADY_EXISTS (MLflow goes on), createModelVersion is refused.
    sql(admin, f"GRANT CREATE MODEL ON SCHEMA {catalog}.ml TO `{user}`")
    sql(admin, f"GRANT BROWSE ON MODEL {model} TO `{user}`")
    with pytest.raises(RestException) as no_version:
        mlflow.register_model(local, model)
    assert no_version.value.error_code == "PERMISSION_DENIED", no_version.value
    assert "CREATE MODEL VERSION" in no_version.value.message
    assert version_numbers(server, model) == []  # nothing was created

    sql(admin, f"GRANT CREATE MODEL VERSION ON MODEL {model} TO `{user}`")
    registered = mlflow.register_model(local, model)
    assert int(registered.version) == 1 and registered.status == "READY"
    created = version_json(server, model, 1)
    assert created["created_by"] == user and created["status"] == "READY"

    def by_user(name: str) -> list[tuple[str, int]]:
        events = [e for e in audit_events(server, name) if e["user_identity"]["email"] == user]
        assert all(MLFLOW_AGENT in (e.get("user_agent") or "") for e in events), events
        return [(e["action_name"], e["response"]["status_code"]) for e in events]

    assert by_user(other) == [("createRegisteredModel", 403)]
    assert by_user(model) == [
        ("createRegisteredModel", 409),
        ("createModelVersion", 403),
        ("createRegisteredModel", 409),
        ("createModelVersion", 200),
        ("finalizeModelVersion", 200),
    ]


def test_other_client_calls(
    server: ServerHandle,
    mlflow_uc: None,
    trained: tuple[LogisticRegression, pd.DataFrame],
    tmp_path: Path,
) -> None:
    clf, X = trained
    model = f"{new_schema(server)}.ml.churn"
    client = MlflowClient()
    client.create_registered_model(model, description="churn classifier")
    for n in (1, 2):
        mlflow.register_model(save_local_model(clf, X, tmp_path / f"m{n}"), model)

    found = client.search_model_versions(f"name='{model}'")
    assert sorted(int(v.version) for v in found) == [1, 2]
    assert {v.name for v in found} == {model}
    assert {v.status for v in found} == {"READY"}

    registered = client.get_registered_model(model)
    assert registered.name == model
    assert registered.description == "churn classifier"

    updated = client.update_model_version(model, "1", description="first cut")
    assert updated.description == "first cut"
    assert client.get_model_version(model, "1").description == "first cut"
    assert version_json(server, model, 1)["comment"] == "first cut"

    client.delete_model_version(model, "1")
    assert version_numbers(server, model) == [2]
    assert [int(v.version) for v in client.search_model_versions(f"name='{model}'")] == [2]
