"""MLflow on another machine, pointed at Steward: registry URI ``steward:http://host:port``.

The client runs as an unprivileged OS user (``nobody``) who cannot read the server's
storage root (0700, root's), so nothing may reach the server's files but through HTTP: it
saves a scikit-learn model, registers it with ``mlflow.register_model`` (the files go up
through Steward's artifact routes), sets ``@champion``, loads ``models:/…@champion`` with
``mlflow.pyfunc`` and predicts what the local model predicts. Every file up and down is
an audit event of the user who moved it. Denials: a user without EXECUTE cannot load
(MLflow's ``PERMISSION_DENIED``); a second user cannot upload into someone else's
pending version; the stock ``uc:`` client on another machine is told to use the plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ServerHandle, server_fixture, unique

UC = "/api/2.1/unity-catalog"
SQL = "/api/2.0/sql/statements"
AUDIT = "/api/2.1/steward/audit"

server = server_fixture("mlflow_plugin")

#: What the laptop runs: train, save, register, alias, load by alias, predict.
CLIENT = r"""
import json, os, sys
import numpy as np, pandas as pd
import mlflow, mlflow.pyfunc, mlflow.sklearn
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

url, name, work, storage = sys.argv[1:5]
out = {}
try:
    os.listdir(storage)
    out["storage_readable"] = True
except PermissionError:
    out["storage_readable"] = False
rng = np.random.default_rng(7)
X = pd.DataFrame({"tenure": rng.uniform(0, 72, 200), "charges": rng.uniform(20, 120, 200)})
y = ((0.04 * X["charges"] - 0.06 * X["tenure"] + rng.normal(0, 0.5, 200)) > 1.0).astype("int64")
clf = LogisticRegression(max_iter=500).fit(X, y)
local = os.path.join(work, "model")
mlflow.sklearn.save_model(clf, path=local, input_example=X.head(3),
                          pip_requirements=["scikit-learn", "skops"])
mlflow.set_tracking_uri("file:" + os.path.join(work, "mlruns"))
mlflow.set_registry_uri("steward:" + url)
registered = mlflow.register_model(local, name)
client = MlflowClient()
client.set_registered_model_alias(name, "champion", registered.version)
client.set_model_version_tag(name, registered.version, "stage", "candidate")
client.set_registered_model_tag(name, "team", "growth")
client.set_registered_model_tag(name, "tier", "gold")
client.delete_registered_model_tag(name, "tier")
out["model_tags"] = dict(client.get_registered_model(name).tags)
by_alias = client.get_model_version_by_alias(name, "champion")
loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
by_version = mlflow.pyfunc.load_model(f"models:/{name}/{registered.version}")
out.update(
    version=registered.version,
    status=registered.status,
    alias_version=by_alias.version,
    aliases=list(by_alias.aliases),
    tags=dict(by_alias.tags),
    same=bool((np.asarray(loaded.predict(X)) == clf.predict(X)).all()),
    same_by_version=bool((np.asarray(by_version.predict(X)) == clf.predict(X)).all()),
    both_classes=len(set(clf.predict(X))) == 2,
    searched=[v.version for v in client.search_model_versions(f"name = '{name}'")],
)
client.delete_registered_model_alias(name, "champion")
out["aliases_after_delete"] = list(client.get_model_version(name, registered.version).aliases)
print(json.dumps(out))
"""

#: A user without EXECUTE tries to load: MLflow's error, with its code.
LOADER = r"""
import json, sys
import mlflow, mlflow.pyfunc
from mlflow.exceptions import MlflowException
url, name = sys.argv[1:3]
mlflow.set_registry_uri("steward:" + url)
try:
    mlflow.pyfunc.load_model(f"models:/{name}@champion")
    print(json.dumps({"loaded": True}))
except MlflowException as exc:
    print(json.dumps({"loaded": False, "error_code": exc.error_code, "message": str(exc)}))
"""


def sql(client: httpx.Client, statement: str) -> None:
    body = client.post(SQL, json={"statement": statement}).json()
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)


@pytest.fixture
def laptop() -> Iterator[Path]:
    """A working folder the unprivileged user owns."""
    folder = Path(tempfile.mkdtemp(prefix="steward-laptop-"))
    os.chown(folder, 65534, 65534)
    try:
        yield folder
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def interpreter_for_nobody() -> str:
    """A Python of this version that ``nobody`` may run: the suite's own may live under a
    private home (pyenv in /root); the system's of the same minor version, reading this
    environment's packages, is the laptop's Python here."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if os.access(candidate, os.X_OK) and os.stat(candidate).st_mode & 0o001:
            return candidate
    pytest.skip(f"no {version} that another user may run")


def run_as_nobody(script: str, folder: Path, token: str, *args: str) -> dict[str, Any]:
    """``script`` in a fresh interpreter as the OS user ``nobody``, with ``token``."""
    if os.geteuid() != 0:
        pytest.skip("running the client as another OS user needs root")
    python = interpreter_for_nobody()
    path = folder / "client.py"
    path.write_text(script)
    path.chmod(0o644)  # whatever the suite's umask (a server started in process sets 077)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(folder),
        "STEWARD_TOKEN": token,
        "MLFLOW_ALLOW_FILE_STORE": "true",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), sysconfig.get_paths()["purelib"]]
        ),
    }
    result = subprocess.run(
        [python, str(path), *args],
        env=env,
        cwd=folder,
        user=65534,
        group=65534,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def audited(server: ServerHandle, action: str, user: str) -> list[dict[str, Any]]:
    events = server.admin.get(
        AUDIT, params={"action": action, "user": user, "max_results": 1000}
    ).json()["events"]
    return [e for e in events if e["response"]["status_code"] in (200, 201)]


def test_mlflow_on_another_machine_registers_aliases_and_loads_over_http(
    server: ServerHandle, laptop: Path
) -> None:
    catalog = unique("mlp")
    schema = f"{catalog}.ml"
    name = f"{schema}.churn"
    sql(server.admin, f"CREATE CATALOG {catalog}")
    sql(server.admin, f"CREATE SCHEMA {schema}")
    scientist, token = server.create_user()
    for statement in (
        f"GRANT USE CATALOG ON CATALOG {catalog} TO `{scientist}`",
        f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{scientist}`",
        f"GRANT CREATE MODEL ON SCHEMA {schema} TO `{scientist}`",
    ):
        sql(server.admin, statement)

    out = run_as_nobody(
        CLIENT, laptop, token, server.url, name, str(laptop), str(server.storage_root)
    )
    assert out["storage_readable"] is False
    assert out["both_classes"] and out["same"] and out["same_by_version"], out
    assert (out["version"], out["status"], out["alias_version"]) == ("1", "READY", "1"), out
    assert out["aliases"] == ["champion"] and out["tags"] == {"stage": "candidate"}, out
    assert out["model_tags"] == {"team": "growth"}, out
    assert out["searched"] == ["1"] and out["aliases_after_delete"] == [], out

    # Every file went up and came down through Steward, as the scientist, audited: one
    # bundle up, one down per load, each event naming every file with its size and digest.
    uploads = audited(server, "uploadModelVersionArtifactBundle", scientist)
    downloads = audited(server, "getModelVersionArtifactBundle", scientist)
    listed = server.client(token).get(f"/api/2.1/steward/models/{name}/versions/1/artifacts").json()
    assert "files" in listed, listed
    files = sorted((f["path"], f["size"], f["sha256"]) for f in listed["files"])
    assert "MLmodel" in {path for path, _size, _sha in files}
    assert len(uploads) == 1, uploads
    assert len(downloads) >= 2, downloads  # two loads: by version and by alias
    for event in uploads + downloads:
        named = event["request_params"]["files"]
        assert sorted((f["path"], f["size"], f["sha256"]) for f in named) == files, event
    assert audited(server, "uploadModelVersionArtifact", scientist) == []

    # Another user who may see the model but not EXECUTE it cannot load it.
    reader, reader_token = server.create_user()
    for statement in (
        f"GRANT USE CATALOG ON CATALOG {catalog} TO `{reader}`",
        f"GRANT USE SCHEMA ON SCHEMA {schema} TO `{reader}`",
        f"GRANT BROWSE ON MODEL {name} TO `{reader}`",
    ):
        sql(server.admin, statement)
    admin_sets = server.admin.put(f"{UC}/models/{name}/aliases/champion", json={"version_num": 1})
    assert admin_sets.status_code == 200, admin_sets.text
    denied = run_as_nobody(LOADER, laptop, reader_token, server.url, name)
    assert denied["loaded"] is False
    assert denied["error_code"] == "PERMISSION_DENIED", denied


def test_only_the_creator_uploads_into_a_pending_version(server: ServerHandle) -> None:
    catalog = unique("mlp")
    name = f"{catalog}.ml.m"
    sql(server.admin, f"CREATE CATALOG {catalog}")
    sql(server.admin, f"CREATE SCHEMA {catalog}.ml")
    creator, creator_token = server.create_user()
    other, other_token = server.create_user()
    for user in (creator, other):
        sql(server.admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{user}`")
        sql(server.admin, f"GRANT USE SCHEMA ON SCHEMA {catalog}.ml TO `{user}`")
    made = server.admin.post(
        f"{UC}/models", json={"catalog_name": catalog, "schema_name": "ml", "name": "m"}
    )
    assert made.status_code == 200, made.text
    for user in (creator, other):
        sql(server.admin, f"GRANT CREATE MODEL VERSION ON MODEL {name} TO `{user}`")
    version = server.client(creator_token).post(
        f"{UC}/models/versions",
        json={"catalog_name": catalog, "schema_name": "ml", "model_name": "m", "source": "x"},
    )
    assert version.status_code == 200, version.text
    files = f"/api/2.1/steward/models/{name}/versions/1/artifacts/MLmodel"
    refused = server.client(other_token).put(files, content=b"flavors: {}\n")
    assert refused.status_code == 403, refused.text
    assert "created" in refused.json()["message"], refused.text
    accepted = server.client(creator_token).put(files, content=b"flavors: {}\n")
    assert accepted.status_code in (200, 201), accepted.text


def test_the_stock_uc_client_off_the_server_is_told_to_use_the_plugin(
    server: ServerHandle,
) -> None:
    answer = server.admin.post(
        f"{UC}/temporary-model-version-credentials",
        json={
            "catalog_name": "c",
            "schema_name": "s",
            "model_name": "m",
            "version": 1,
            "operation": "READ_WRITE_MODEL_VERSION",
        },
    )
    assert answer.status_code == 400, answer.text
    assert "steward:" in answer.json()["message"], answer.text


#: A pickled model: Steward refuses it at finalize; MLflow's user must see why.
PICKLED = r"""
import json, os, sys
import numpy as np
import mlflow, mlflow.sklearn
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LinearRegression
url, name, work = sys.argv[1:4]
model = LinearRegression().fit(np.arange(10.0).reshape(-1, 1), np.arange(10.0))
local = os.path.join(work, "pickled")
mlflow.sklearn.save_model(model, path=local, serialization_format="cloudpickle",
                          input_example=np.arange(3.0).reshape(-1, 1),
                          pip_requirements=["scikit-learn"])
mlflow.set_registry_uri("steward:" + url)
try:
    mlflow.register_model(local, name)
    print(json.dumps({"registered": True}))
except MlflowException as exc:
    print(json.dumps({"registered": False, "message": str(exc), "error_code": exc.error_code}))
"""


def test_a_refused_registration_tells_the_mlflow_user_why(
    server: ServerHandle, laptop: Path
) -> None:
    catalog = unique("mlp")
    name = f"{catalog}.ml.pickled"
    sql(server.admin, f"CREATE CATALOG {catalog}")
    sql(server.admin, f"CREATE SCHEMA {catalog}.ml")
    out = run_as_nobody(PICKLED, laptop, server.admin_token, server.url, name, str(laptop))
    assert out["registered"] is False, out
    assert "pickle" in out["message"].lower() and "STEWARD_ALLOW_PICKLE" in out["message"], out
    version = server.admin.get(f"{UC}/models/{name}/versions/1").json()
    assert version["status"] == "FAILED_REGISTRATION"
    assert version["status_message"] in out["message"]


#: The laptop logs an XGBoost, LightGBM or ONNX model with MLflow's own flavor, registers
#: it through the plugin, loads it by alias and predicts what the library predicts.
FORMAT_CLIENT = r"""
import json, os, sys
import numpy as np, pandas as pd
import mlflow, mlflow.pyfunc
from mlflow.tracking import MlflowClient

url, name, work, kind = sys.argv[1:5]
rng = np.random.default_rng(5)
X = pd.DataFrame({"a": rng.uniform(0, 4, 200), "b": rng.uniform(-2, 2, 200)})
y = 3.0 * X["a"] - 2.0 * X["b"] + 0.5 * X["a"] * X["b"]
local = os.path.join(work, kind)
if kind == "xgboost":
    import mlflow.xgboost, xgboost
    model = xgboost.XGBRegressor(n_estimators=20, max_depth=3).fit(X, y)
    mlflow.xgboost.save_model(model, local, input_example=X.head(3))
    library = np.asarray(model.predict(X))
elif kind == "lightgbm":
    import lightgbm, mlflow.lightgbm
    params = {"objective": "regression", "verbose": -1, "min_data_in_leaf": 5}
    model = lightgbm.train(params, lightgbm.Dataset(X, y), 20)
    mlflow.lightgbm.save_model(model, local, input_example=X.head(3))
    library = np.asarray(model.predict(X))
else:
    import mlflow.onnx, onnxruntime
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression
    fitted = LinearRegression().fit(X.to_numpy(np.float32), y)
    model = to_onnx(fitted, X.to_numpy(np.float32)[:1], target_opset=17)
    session = onnxruntime.InferenceSession(model.SerializeToString())
    feed = {session.get_inputs()[0].name: X.to_numpy(np.float32)}
    library = np.asarray(session.run(None, feed)[0]).reshape(-1)
    # MLflow's onnx flavor does not infer a signature from an example: give one.
    signature = mlflow.models.infer_signature(X.head(3), library[:3])
    mlflow.onnx.save_model(model, local, signature=signature)
mlflow.set_registry_uri("steward:" + url)
registered = mlflow.register_model(local, name)
MlflowClient().set_registered_model_alias(name, "champion", registered.version)
loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(X)
loaded = loaded.iloc[:, 0] if isinstance(loaded, pd.DataFrame) else loaded
print(json.dumps({
    "status": registered.status,
    "same": bool(np.array_equal(np.asarray(loaded), library)),
    "rows": X.head(25).to_dict(orient="split", index=False),
    "library": library[:25].astype(float).tolist(),
}))
"""


@pytest.mark.parametrize("kind", ["xgboost", "lightgbm", "onnx"])
def test_mlflow_flavors_beyond_sklearn_register_load_and_serve(
    server: ServerHandle, laptop: Path, kind: str
) -> None:
    catalog = unique("mlp")
    name = f"{catalog}.ml.{kind}"
    sql(server.admin, f"CREATE CATALOG {catalog}")
    sql(server.admin, f"CREATE SCHEMA {catalog}.ml")
    out = run_as_nobody(
        FORMAT_CLIENT, laptop, server.admin_token, server.url, name, str(laptop), kind
    )
    assert out["status"] == "READY" and out["same"], out
    # Served by Steward, the same numbers as the library on the laptop.
    endpoint = unique("ep")
    created = server.admin.post(
        "/api/2.0/serving-endpoints",
        json={
            "name": endpoint,
            "config": {"served_entities": [{"entity_name": name, "entity_version": "1"}]},
        },
    )
    assert created.status_code == 200, created.text
    answer = server.admin.post(
        f"/serving-endpoints/{endpoint}/invocations", json={"dataframe_split": out["rows"]}
    )
    assert answer.status_code == 200, answer.text
    served = [
        next(iter(p.values())) if isinstance(p, dict) else p for p in answer.json()["predictions"]
    ]
    assert served == out["library"], (served[:3], out["library"][:3])


PUBLIC_URL = "https://steward.example.com:8443"
public_server = server_fixture("mlflow_public", {"STEWARD_PUBLIC_URL": PUBLIC_URL + "/"})


def test_with_a_public_url_versions_live_at_their_http_address(
    public_server: ServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STEWARD_PUBLIC_URL set: a version's storage_location is its files' URL under it,
    for whoever may load the model; MLflow's stock uc: client, which cannot write there,
    is told to use the steward: URI instead of failing on cloud credentials."""
    server = public_server
    catalog = unique("mlp")
    name = f"{catalog}.ml.m"
    sql(server.admin, f"CREATE CATALOG {catalog}")
    sql(server.admin, f"CREATE SCHEMA {catalog}.ml")
    assert (
        server.admin.post(
            f"{UC}/models", json={"catalog_name": catalog, "schema_name": "ml", "name": "m"}
        ).status_code
        == 200
    )
    created = server.admin.post(
        f"{UC}/models/versions",
        json={"catalog_name": catalog, "schema_name": "ml", "model_name": "m", "source": "x"},
    ).json()
    location = f"{PUBLIC_URL}/api/2.1/steward/models/{name}/versions/1/artifacts"
    assert created["storage_location"] == location
    assert server.admin.get(f"{UC}/models/{name}/versions/1").json()["storage_location"] == location

    import mlflow
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException
    from sklearn.linear_model import LinearRegression

    monkeypatch.setenv("MLFLOW_UC_OSS_TOKEN", server.admin_token)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    mlflow.set_tracking_uri("file:" + str(tmp_path / "mlruns"))  # not ./mlflow.db
    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    local = tmp_path / "model"
    mlflow.sklearn.save_model(model, path=str(local), pip_requirements=["scikit-learn"])
    mlflow.set_registry_uri(f"uc:{server.url}")
    try:
        with pytest.raises(MlflowException, match="steward:"):
            mlflow.register_model(str(local), name)
    finally:
        mlflow.set_registry_uri("")
        mlflow.set_tracking_uri(None)
