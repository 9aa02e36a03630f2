"""Safe loading (docs/registry.md): scikit-learn models are accepted and loaded only as skops
files whose every type is on the allow-list; pickle and cloudpickle are refused unless the
server allows them (STEWARD_ALLOW_PICKLE=1), and a crafted artifact never runs code in the
server — nor in the client unless it opts in."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
import skops.io
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common.model_loading import load_sklearn
from common.model_safety import LoadPolicy, check_model, untrusted_types
from common.signature import infer_signature
from registry import Client, UnsafeModel
from registry.client.models import save_model
from tests.registry_support import Model, make_model
from tests.support import ROOT, ServerHandle, backends, database_url_for, start_server


class WritesAFile:
    """A pickle that writes ``path`` when loaded, as a malicious artifact would."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (exec, (f"open({self.path!r}, 'w').write('pwned')",))


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(WritesAFile(marker))


def crafted_skops(path: Path, module: str, name: str, argument: str) -> None:
    """A skops file whose object is ``module.name(argument)`` (e.g. ``builtins.exec``)."""
    schema = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [
                {
                    "__class__": "str",
                    "__module__": "builtins",
                    "__loader__": "JsonNode",
                    "content": json.dumps(argument),
                    "is_json": True,
                }
            ],
        },
        "protocol": 2,
        "_skops_version": skops.__version__,
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))


def run_python(code: str) -> None:
    """Run code in a separate interpreter (used only to prove a payload is live)."""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def training_data() -> tuple[pd.DataFrame, np.ndarray]:
    rs = np.random.RandomState(7)
    X = pd.DataFrame(rs.rand(80, 3), columns=["tenure", "spend", "calls"])
    y = (X["spend"] + rs.rand(80) * 0.3 > 0.6).astype(int).to_numpy()
    return X, y


def mlflow_model(directory: Path, fmt: str) -> tuple[Path, Any]:
    X, y = training_data()
    model = LogisticRegression().fit(X, y)
    mlflow.sklearn.save_model(
        model,
        str(directory),
        serialization_format=fmt,
        input_example=X.head(3),
        pip_requirements=["scikit-learn"],
    )
    return directory, model


def upload_and_finalize(m: Model, directory: Path) -> dict[str, Any]:
    version = m.new_version()["version"]
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        up = m.server.admin.put(m.artifacts(version, relative), content=path.read_bytes())
        assert up.status_code == 200, up.text
    return m.finalize(version)


def set_flavor(directory: Path, **sklearn: Any) -> None:
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"].update(sklearn)
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def assert_never_written(marker: Path) -> None:
    time.sleep(0.3)  # anything the server might have started has had time to run
    assert not marker.exists(), "the artifact ran code"


@pytest.fixture(scope="module", params=backends())
def pickle_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    """A server whose admin allowed pickle artifacts."""
    directory = tmp_path_factory.mktemp("pickle")
    with database_url_for(str(request.param), directory) as url:
        handle = start_server(url, directory / "storage", {"STEWARD_ALLOW_PICKLE": "1"})
        try:
            yield handle
        finally:
            handle.stop()


# -- the payloads are real --------------------------------------------------------------------


def test_the_payloads_really_run_code_when_loaded_unsafely(tmp_path: Path) -> None:
    """Proof that the artifacts used below are live: loaded the unsafe way (in another
    interpreter), each writes its marker."""
    pickled = tmp_path / "model.pkl"
    proof = tmp_path / "proof-pickle"
    pickled.write_bytes(evil_pickle(proof))
    run_python(f"import pickle; pickle.load(open({str(pickled)!r}, 'rb'))")
    assert proof.read_text() == "pwned"

    crafted = tmp_path / "model.skops"
    proof = tmp_path / "proof-skops"
    crafted_skops(crafted, "builtins", "exec", f"open({str(proof)!r}, 'w').write('pwned')")
    assert skops.io.get_untrusted_types(file=crafted) == ["builtins.exec"]
    run_python(f"import skops.io; skops.io.load({str(crafted)!r}, trusted=['builtins.exec'])")
    assert proof.read_text() == "pwned"


# -- the server refuses, and never runs anything ----------------------------------------------


def test_a_malicious_pickle_is_refused_and_never_runs(server: ServerHandle, tmp_path: Path) -> None:
    m = make_model(server)
    marker = tmp_path / "marker-pickle"
    directory, _ = mlflow_model(tmp_path / "model", "pickle")
    (directory / "model.pkl").write_bytes(evil_pickle(marker))
    final = upload_and_finalize(m, directory)
    assert final["status"] == "FAILED_REGISTRATION"
    assert "STEWARD_ALLOW_PICKLE" in final["status_message"]
    assert "model.pkl" in final["status_message"]
    assert_never_written(marker)


def test_a_pickle_under_another_name_is_refused(server: ServerHandle, tmp_path: Path) -> None:
    """No flavor, an innocent name: the pickle magic gives it away."""
    m = make_model(server)
    marker = tmp_path / "marker-hidden"
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "MLmodel").write_text(
        'flavors: {}\nsignature:\n  inputs: \'[{"type": "double"}]\'\n'
        '  outputs: \'[{"type": "long"}]\'\n'
    )
    (directory / "weights.bin").write_bytes(evil_pickle(marker))
    final = upload_and_finalize(m, directory)
    assert final["status"] == "FAILED_REGISTRATION"
    assert "weights.bin" in final["status_message"]
    assert "STEWARD_ALLOW_PICKLE" in final["status_message"]
    assert_never_written(marker)


def test_a_pickle_claiming_to_be_skops_is_refused(server: ServerHandle, tmp_path: Path) -> None:
    m = make_model(server)
    marker = tmp_path / "marker-claim"
    directory, _ = mlflow_model(tmp_path / "model", "skops")
    (directory / "model.skops").write_bytes(evil_pickle(marker))
    final = upload_and_finalize(m, directory)
    assert final["status"] == "FAILED_REGISTRATION"
    assert "model.skops" in final["status_message"]
    assert_never_written(marker)


@pytest.mark.parametrize(
    ("module", "name"),
    [("builtins", "exec"), ("builtins", "eval"), ("os", "system")],
)
def test_a_crafted_skops_file_is_refused_naming_its_types(
    server: ServerHandle, tmp_path: Path, module: str, name: str
) -> None:
    """The MLmodel says skops and even lists the type as trusted (MLflow's loader would
    believe it); Steward's allow-list decides, and nothing is constructed."""
    m = make_model(server)
    marker = tmp_path / f"marker-{name}"
    if name == "system":
        argument = f"touch {marker}"
    elif name == "eval":
        argument = f"open({str(marker)!r}, 'w').write('pwned')"
    else:
        argument = f"open({str(marker)!r}, 'w').write('pwned')"
    directory, _ = mlflow_model(tmp_path / "model", "skops")
    crafted_skops(directory / "model.skops", module, name, argument)
    set_flavor(directory, skops_trusted_types=[f"{module}.{name}"])
    final = upload_and_finalize(m, directory)
    assert final["status"] == "FAILED_REGISTRATION"
    assert f"{module}.{name}" in final["status_message"]
    assert "allow-list" in final["status_message"]
    assert_never_written(marker)


def test_cloudpickle_and_unverifiable_flavors_are_refused(
    server: ServerHandle, tmp_path: Path
) -> None:
    m = make_model(server)
    directory, _ = mlflow_model(tmp_path / "cloud", "cloudpickle")
    final = upload_and_finalize(m, directory)
    assert final["status"] == "FAILED_REGISTRATION"
    assert "cloudpickle" in final["status_message"]
    assert "STEWARD_ALLOW_PICKLE" in final["status_message"]

    # A python_function model with another loader (a pickled PythonModel, say).
    directory, _ = mlflow_model(tmp_path / "pyfunc", "skops")
    mlmodel = yaml.safe_load((directory / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"]["loader_module"] = "mlflow.pyfunc.model"
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    final = upload_and_finalize(m, directory)
    assert final["status"] == "FAILED_REGISTRATION"
    assert "mlflow.pyfunc.model" in final["status_message"]


def test_mlflow_skops_models_register_ready(server: ServerHandle, tmp_path: Path) -> None:
    """What ``mlflow.sklearn.log_model(..., serialization_format="skops")`` (MLflow's
    default outside Databricks) writes is accepted as is."""
    m = make_model(server)
    directory, _ = mlflow_model(tmp_path / "model", "skops")
    flavor = yaml.safe_load((directory / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "skops"
    assert flavor["pickled_model"] == "model.skops"
    final = upload_and_finalize(m, directory)
    assert final["status"] == "READY", final["status_message"]


# -- allowed pickle: accepted, still never loaded by the server; the client refuses ----------


def test_allowed_pickle_is_registered_but_never_loaded_and_the_client_refuses_it(
    pickle_server: ServerHandle, tmp_path: Path
) -> None:
    m = make_model(pickle_server)
    marker = tmp_path / "marker-allowed"
    # Even an evil pickle registers (the admin allowed pickle): the server never loads it.
    evil_dir, _ = mlflow_model(tmp_path / "evil", "pickle")
    (evil_dir / "model.pkl").write_bytes(evil_pickle(marker))
    evil = upload_and_finalize(m, evil_dir)
    assert evil["status"] == "READY", evil["status_message"]
    assert_never_written(marker)

    client = Client(pickle_server.url, pickle_server.admin_token, cache_dir=tmp_path / "cache")
    with pytest.raises(UnsafeModel, match="allow_pickle=True"):
        client.load_model(f"models:/{m.name}/{evil['version']}")
    assert_never_written(marker)

    # A benign pickled model loads only when the caller opts in.
    benign_dir, model = mlflow_model(tmp_path / "benign", "pickle")
    benign = upload_and_finalize(m, benign_dir)
    assert benign["status"] == "READY"
    uri = f"models:/{m.name}/{benign['version']}"
    with pytest.raises(UnsafeModel, match="pickle"):
        client.load_model(uri)
    loaded = client.load_model(uri, allow_pickle=True)
    X, _ = training_data()
    assert (loaded.predict(X) == model.predict(X)).all()
    client.close()


# -- the checks themselves, without a server ---------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(LogisticRegression(), id="logistic"),
        pytest.param(RandomForestClassifier(n_estimators=3, random_state=0), id="forest"),
        pytest.param(HistGradientBoostingClassifier(max_iter=3), id="hist-gb"),
        pytest.param(KNeighborsClassifier(algorithm="kd_tree"), id="knn-kd-tree"),
        pytest.param(make_pipeline(StandardScaler(), LogisticRegression()), id="pipeline"),
    ],
)
def test_common_estimators_are_on_the_allow_list(tmp_path: Path, model: Any) -> None:
    X, y = training_data()
    model.fit(X, y)
    directory = save_model(model, tmp_path / "m", infer_signature(X, model.predict(X)))
    assert untrusted_types(directory / "model.skops", LoadPolicy().trusted_types, 1 << 30) == []
    files = [p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()]
    check_model(directory, yaml.safe_load((directory / "MLmodel").read_text()), files, LoadPolicy())
    loaded = load_sklearn(directory)
    assert (loaded.predict(X) == model.predict(X)).all()


def test_the_local_loader_refuses_crafted_skops_and_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "marker-local"
    directory, _ = mlflow_model(tmp_path / "skops", "skops")
    crafted_skops(directory / "model.skops", "os", "system", f"touch {marker}")
    set_flavor(directory, skops_trusted_types=["os.system"])
    with pytest.raises(UnsafeModel, match=r"os\.system"):
        load_sklearn(directory)
    # Trusting it explicitly is the caller's call; the loader only ever adds to the list.
    assert_never_written(marker)

    directory, _ = mlflow_model(tmp_path / "pickle", "pickle")
    (directory / "model.pkl").write_bytes(evil_pickle(marker))
    with pytest.raises(UnsafeModel, match="allow_pickle"):
        load_sklearn(directory)
    assert_never_written(marker)


def test_policy_setting_extends_the_allow_list(tmp_path: Path) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    crafted_skops(directory / "model.skops", "collections", "Counter", "abc")
    mlmodel = {
        "flavors": {"sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"}},
    }
    with pytest.raises(UnsafeModel, match=r"collections\.Counter"):
        check_model(directory, mlmodel, ["model.skops"], LoadPolicy())
    extra = LoadPolicy(extra_trusted_types=frozenset({"collections.Counter"}))
    check_model(directory, mlmodel, ["model.skops"], extra)


def test_zip_bombs_are_refused_before_skops_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", "{}")
        archive.writestr("big.npy", b"\0" * (8 << 20))
    assert os.path.getsize(path) < 1 << 20
    with pytest.raises(UnsafeModel, match="expands"):
        untrusted_types(path, (), 1 << 20)
    with pytest.raises(UnsafeModel, match="not a skops file"):
        (tmp_path / "x.skops").write_bytes(b"PK not really")
        untrusted_types(tmp_path / "x.skops", (), 1 << 20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.json", "{}")
    (tmp_path / "y.skops").write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeModel, match=r"schema\.json"):
        untrusted_types(tmp_path / "y.skops", (), 1 << 20)
