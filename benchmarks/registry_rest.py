"""Model registry operations per second over HTTP: Steward against MLflow's governed server.

Run it with ``.venv/bin/python -m benchmarks.registry_rest`` (``--help`` for the options).

One *operation* is what an ML engineer's client does to ship a model version and read it
back by alias, on each side as its own API has it:

- **Steward** (``tests.support.start_server`` on a throw-away SQLite file, audit always on
  and hash-chained): ``POST /api/2.1/unity-catalog/models/versions``; write an ``MLmodel``
  file with a signature into the returned ``file:`` ``storage_location`` (what MLflow's
  ``uc:`` client does for such locations); ``PATCH …/versions/{v}/finalize`` (the server
  reads the signature and digests the artifacts); ``PUT …/aliases/{alias}``;
  ``GET …/aliases/{alias}``. Four requests.
- **MLflow** (``mlflow server --app-name basic-auth`` on SQLite, its authentication and
  per-resource permissions on): write the same ``MLmodel`` file into a directory inside the
  artifact directory of a run made at set-up (MLflow takes a local ``source`` only there,
  with the run's id: what ``mlflow.register_model("runs:/…")`` sends);
  ``POST /api/2.0/mlflow/model-versions/create`` with that ``source`` and ``run_id``;
  ``POST /api/2.0/mlflow/registered-models/alias``;
  ``GET /api/2.0/mlflow/registered-models/alias``. Three requests (MLflow has no
  finalize step: a version is READY when created).

On both sides the requests come from a user that is not an admin and holds only what it
was granted: on Steward USE CATALOG, USE SCHEMA and, on each model, CREATE MODEL VERSION,
MANAGE (aliases), BROWSE and EXECUTE; on MLflow (``default_permission = NO_PERMISSIONS``)
EDIT on each registered model and READ on the run's experiment. Set-up checks that the user
is refused before the grant.

Full ``mlflow`` is a benchmark-only dependency: it is installed, pinned, into a venv of its
own (``--mlflow-venv``, created on first use), never into the project's ``.venv``. MLflow
runs with its defaults (uvicorn, 4 worker processes) except that its GenAI job runner is
off. ``--peers`` picks its basic-auth configuration: ``mlflow-cached`` (the default) turns
on the credential cache (``auth_cache_ttl_seconds = 60``); ``mlflow`` is basic-auth as
shipped, which verifies the password (scrypt) again each time its authorization code asks
who the caller is, several times per request, and so runs at well under 1 operation/s here:
give it a small ``--ops``.

Each client thread keeps one connection (closed loop: the next request goes out as soon as
the answer to the last one is read) and moves its own alias, so the last version a thread
set is the one its alias must point at. At each ``--concurrency`` level the ``--ops``
operations per system are cut into ``--rounds`` rounds; each round runs every system in
turn, in an order that flips from round to round, so a change in the machine's load touches
all alike. Afterwards the benchmark checks its own work: on every system each version
1..N of every model exists (READY), every alias points at the last version its thread set,
and on Steward the audit log verifies (``catalog.audit.verify.verify``) and holds exactly
one event per request the user made (the refused ones included).

Figures: operations/s and requests/s (wall time), client p50/p99 of an operation and of
each request, server CPU per operation and per request (``/proc``; MLflow's is the sum over
its whole process tree), and the Steward/MLflow ratio against the goal of 3x.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from benchmarks.harness import (
    add_cpu,
    add_json,
    fmt,
    log,
    machine,
    machine_line,
    markdown_table,
    parse_levels,
    percentile,
    print_tails,
    ratio,
    run_in_tempdir,
    run_together,
    threads_label,
    tree_cpu_seconds,
    tree_pids,
    write_json,
)
from catalog.audit.verify import verify
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from tests.support import ROOT, ServerHandle, free_port, start_server, write_mlmodel

#: The MLflow release measured; full ``mlflow`` with the ``auth`` extra basic-auth needs.
MLFLOW_VERSION = "3.17.2"
MLFLOW_REQUIREMENT = f"mlflow[auth]=={MLFLOW_VERSION}"
DEFAULT_MLFLOW_VENV = ROOT / "benchmarks" / ".venv-mlflow"
GOAL_RATIO = 3.0

UC = "/api/2.1/unity-catalog"
SQL_PATH = "/api/2.0/sql/statements"
MLFLOW_API = "/api/2.0/mlflow"
MLFLOW_GRANT = "/api/3.0/mlflow/users/permissions/grant"
CATALOG = "bench"
SCHEMA = "registry"
USER = "bench_user"
#: What the Steward user is granted on each model it works on.
MODEL_PRIVILEGES = "CREATE MODEL VERSION, MANAGE, BROWSE, EXECUTE"
#: The MLflow permission that allows creating versions and setting aliases.
MLFLOW_PERMISSION = "EDIT"
WARMUP_MODEL = "m_warmup"
#: The audit actions of one Steward operation, one event each.
AUDITED = (
    "createModelVersion",
    "finalizeModelVersion",
    "setRegisteredModelAlias",
    "getModelVersionByAlias",
)

STEWARD = "steward"
MLFLOW = "mlflow"
MLFLOW_CACHED = "mlflow-cached"
LABEL = {STEWARD: "Steward", MLFLOW: "MLflow as shipped", MLFLOW_CACHED: "MLflow, auth cache on"}
#: Request kinds of one operation, in order.
KINDS = {
    STEWARD: ("create", "finalize", "set_alias", "get_alias"),
    MLFLOW: ("create", "set_alias", "get_alias"),
}
KIND_LABEL = {
    "create": "create version",
    "finalize": "finalize",
    "set_alias": "set alias",
    "get_alias": "get by alias",
}


def kinds_of(system: str) -> tuple[str, ...]:
    return KINDS[STEWARD] if system == STEWARD else KINDS[MLFLOW]


def model_name(conc: int) -> str:
    return f"m_c{conc}"


def alias_of(thread: int) -> str:
    return f"t{thread}"


# -- MLflow: its own venv and server -----------------------------------------------------


def ensure_mlflow_venv(venv: Path, python: str) -> Path:
    """The venv's ``mlflow`` executable, creating the venv and installing the pinned
    release into it when it is missing or holds another version."""
    exe = venv / "bin" / "mlflow"
    check = [
        str(venv / "bin" / "python"),
        "-c",
        "import flask_wtf, mlflow; print(mlflow.__version__)",
    ]
    if exe.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == MLFLOW_VERSION:
            return exe
    log(f"installing {MLFLOW_REQUIREMENT} into {venv} (a few minutes, once)")
    if not (venv / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", MLFLOW_REQUIREMENT], check=True
    )
    found = subprocess.run(check, capture_output=True, text=True, check=True)
    if found.stdout.strip() != MLFLOW_VERSION:
        raise RuntimeError(f"{venv} holds mlflow {found.stdout.strip()}, not {MLFLOW_VERSION}")
    return exe


@dataclass
class MlflowServer:
    """``mlflow server --app-name basic-auth`` on SQLite, in its own process group."""

    url: str
    admin: tuple[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    directory: Path
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, auth: tuple[str, str]) -> httpx.Client:
        client = httpx.Client(base_url=self.url, auth=auth, timeout=60.0)
        self._clients.append(client)
        return client

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cpu_seconds(self) -> float | None:
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        if self.process.poll() is not None:
            return
        pgid = self.process.pid  # started with start_new_session: its own group
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        with contextlib.suppress(ProcessLookupError):  # workers that outlived the parent
            os.killpg(pgid, signal.SIGKILL)
        self.process.wait()


def launch_mlflow(exe: Path, directory: Path, cache_ttl: int, workers: int | None) -> MlflowServer:
    """Start the server (without waiting for it); :func:`wait_ready` waits."""
    directory.mkdir(parents=True, exist_ok=True)
    password = "Adm-" + secrets.token_urlsafe(18)
    config = directory / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{directory / 'basic_auth.db'}\n"
        "admin_username = admin\n"
        f"admin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {cache_ttl}\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        # The GenAI job runner (scorers, trace archival) has nothing to do with the
        # registry; left on it would start idle consumer processes outside the tree.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [
        str(exe),
        "server",
        "--app-name",
        "basic-auth",
        "--backend-store-uri",
        f"sqlite:///{directory / 'mlflow.db'}",
        "--default-artifact-root",
        str(directory / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers:
        command += ["--workers", str(workers)]
    log_path = directory / "server.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return MlflowServer(
        f"http://127.0.0.1:{port}", ("admin", password), process, log_path, directory
    )


def wait_ready(server: MlflowServer, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"mlflow server exited early:\n{server.logs()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"mlflow server did not start in time:\n{server.logs()[-3000:]}")


def mlflow_version_of(exe: Path) -> str:
    python = exe.parent / "python"
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import mlflow, uvicorn; print(mlflow.__version__, uvicorn.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# -- the systems under test --------------------------------------------------------------


class System(ABC):
    """One server and the non-admin client that drives it."""

    name: str

    @abstractmethod
    def client(self) -> httpx.Client: ...

    @abstractmethod
    def operation(
        self, client: httpx.Client, model: str, alias: str, k: int
    ) -> tuple[int, list[float]]:
        """Register, alias, read back; return the version and each request's latency (ms)."""
        ...

    @abstractmethod
    def cpu_seconds(self) -> float | None: ...

    @abstractmethod
    def add_model(self, model: str) -> None: ...

    @abstractmethod
    def check(self, model: str, versions: int, aliases: dict[str, int]) -> dict[str, Any]: ...

    @abstractmethod
    def tail(self) -> str: ...

    @abstractmethod
    def stop(self) -> None: ...


def _ok(response: httpx.Response, what: str, expect: int = 200) -> httpx.Response:
    if response.status_code != expect:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:400]}")
    return response


def _timed(call: Callable[[], httpx.Response], what: str, into: list[float]) -> dict[str, Any]:
    started = time.perf_counter()
    response = call()
    into.append((time.perf_counter() - started) * 1000)
    return _ok(response, what).json()


class Steward(System):
    name = STEWARD

    def __init__(self, directory: Path) -> None:
        self.url = f"sqlite:///{directory / 'steward.db'}"
        self.handle: ServerHandle = start_server(self.url, directory / "storage")
        try:
            self.admin = self.handle.client(self.handle.admin_token)
            self.user, self.token = self.handle.create_user(USER)
            _ok(self.admin.post(f"{UC}/catalogs", json={"name": CATALOG}), "catalog")
            body = {"name": SCHEMA, "catalog_name": CATALOG}
            _ok(self.admin.post(f"{UC}/schemas", json=body), "schema")
            self.sql(f"GRANT USE CATALOG ON CATALOG {CATALOG} TO `{self.user}`")
            self.sql(f"GRANT USE SCHEMA ON SCHEMA {CATALOG}.{SCHEMA} TO `{self.user}`")
        except BaseException:
            self.handle.stop()
            raise

    def sql(self, statement: str) -> None:
        response = _ok(self.admin.post(SQL_PATH, json={"statement": statement}), statement)
        if response.json()["status"]["state"] != "SUCCEEDED":
            raise RuntimeError(f"{statement}: {response.text[:400]}")

    def full(self, model: str) -> str:
        return f"{CATALOG}.{SCHEMA}.{model}"

    def create_body(self, model: str, k: int) -> dict[str, Any]:
        return {
            "catalog_name": CATALOG,
            "schema_name": SCHEMA,
            "model_name": model,
            "source": f"bench://{model}/{k}",
        }

    def add_model(self, model: str) -> None:
        body = {"name": model, "catalog_name": CATALOG, "schema_name": SCHEMA}
        _ok(self.admin.post(f"{UC}/models", json=body), f"model {model}")
        client = self.client()
        refused = client.post(f"{UC}/models/versions", json=self.create_body(model, 0))
        client.close()
        # A model the user may not see answers as missing (404); trees before that said 403.
        if refused.status_code not in (403, 404):
            raise RuntimeError(
                f"steward: {USER} registered into {model} before any grant: {refused.status_code}"
            )
        self.sql(f"GRANT {MODEL_PRIVILEGES} ON MODEL {self.full(model)} TO `{self.user}`")

    def client(self) -> httpx.Client:
        return self.handle.client(self.token)

    def operation(
        self, client: httpx.Client, model: str, alias: str, k: int
    ) -> tuple[int, list[float]]:
        full = self.full(model)
        times: list[float] = []
        created = _timed(
            lambda: client.post(f"{UC}/models/versions", json=self.create_body(model, k)),
            "create version",
            times,
        )
        version = created["version"]
        write_mlmodel(created["storage_location"])
        final = _timed(
            lambda: client.patch(
                f"{UC}/models/{full}/versions/{version}/finalize",
                json={"full_name": full, "version": version},
            ),
            "finalize",
            times,
        )
        if final["status"] != "READY":
            raise RuntimeError(f"finalize of {full} v{version}: {final}")
        _timed(
            lambda: client.put(
                f"{UC}/models/{full}/aliases/{alias}", json={"version_num": version}
            ),
            "set alias",
            times,
        )
        got = _timed(lambda: client.get(f"{UC}/models/{full}/aliases/{alias}"), "get alias", times)
        if got["version"] != version:
            raise RuntimeError(f"{full}@{alias} is v{got['version']}, just set to v{version}")
        return version, times

    def cpu_seconds(self) -> float | None:
        return tree_cpu_seconds(self.handle.process.pid)

    def check(self, model: str, versions: int, aliases: dict[str, int]) -> dict[str, Any]:
        full = self.full(model)
        listed: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"max_results": 50}
            if token:
                params["page_token"] = token
            page = _ok(self.admin.get(f"{UC}/models/{full}/versions", params=params), "list").json()
            listed += page["model_versions"]
            token = page.get("next_page_token")
            if not token:
                break
        numbers = [v["version"] for v in listed]
        if sorted(numbers) != list(range(1, versions + 1)):
            raise RuntimeError(f"steward {full}: versions {numbers[:5]}… are not 1..{versions}")
        not_ready = [v["version"] for v in listed if v["status"] != "READY"]
        if not_ready:
            raise RuntimeError(f"steward {full}: versions {not_ready[:5]} are not READY")
        held = {
            a["alias_name"]: a["version_num"]
            for a in _ok(self.admin.get(f"{UC}/models/{full}"), "model").json()["aliases"]
        }
        if held != aliases:
            raise RuntimeError(f"steward {full}: aliases {held}, expected {aliases}")
        return {"versions": len(listed), "ready": len(listed), "aliases": held}

    def audit(self, succeeded: int, refused: int) -> dict[str, Any]:
        """Verify the hash chains; the user's events must be exactly one per request made:
        ``succeeded`` of each of the four actions, and ``refused`` 403s of the create
        attempts made before the grants."""
        db = Database(self.url)
        try:
            with db.read() as session:
                report = verify(session)
                rows = session.execute(
                    select(t.AuditEvent.action_name, t.AuditEvent.status_code, func.count())
                    .where(t.AuditEvent.user_name == self.user)
                    .group_by(t.AuditEvent.action_name, t.AuditEvent.status_code)
                ).all()
        finally:
            db.dispose()
        if not report.ok:
            raise RuntimeError(f"steward: the audit log does not verify: {report.problems[:3]}")
        counts = {f"{action} {status}": n for action, status, n in rows}
        expected = {f"{action} 200": succeeded for action in AUDITED}
        expected["createModelVersion 403"] = refused
        if counts != expected:
            raise RuntimeError(f"steward: the user's audit events are {counts}, not {expected}")
        return {"events": report.events, "lanes": report.lanes, "by_action": counts}

    def tail(self) -> str:
        return self.handle.logs()[-3000:]

    def stop(self) -> None:
        self.handle.stop()


class Mlflow(System):
    def __init__(self, name: str, server: MlflowServer) -> None:
        self.name = name
        self.server = server
        self.admin = server.client(server.admin)
        self.auth = (USER, "Usr-" + secrets.token_urlsafe(18))
        body = {"username": USER, "password": self.auth[1]}
        _ok(self.admin.post(f"{MLFLOW_API}/users/create", json=body), "mlflow user")
        # MLflow takes a local source only inside the artifact directory of the run named
        # with it (what ``mlflow.register_model("runs:/…")`` sends): one run holds them all.
        experiment = _ok(
            self.admin.post(f"{MLFLOW_API}/experiments/create", json={"name": "bench"}),
            "experiment",
        ).json()["experiment_id"]
        run = _ok(
            self.admin.post(f"{MLFLOW_API}/runs/create", json={"experiment_id": experiment}),
            "run",
        ).json()["run"]["info"]
        self.run_id = run["run_id"]
        self.artifact_uri = run["artifact_uri"].rstrip("/")
        grant = {
            "username": USER,
            "resource_type": "experiment",
            "resource_id": experiment,
            "permission": "READ",
        }
        _ok(self.admin.post(MLFLOW_GRANT, json=grant), "grant on the experiment")

    def client(self) -> httpx.Client:
        return self.server.client(self.auth)

    def source(self, model: str, k: int) -> str:
        """Where the client writes version ``k``'s artifacts: inside the run's."""
        return f"{self.artifact_uri}/{model}/{k}"

    def add_model(self, model: str) -> None:
        _ok(self.admin.post(f"{MLFLOW_API}/registered-models/create", json={"name": model}), model)
        client = self.client()
        body = {"name": model, "source": self.source(model, 0), "run_id": self.run_id}
        refused = client.post(f"{MLFLOW_API}/model-versions/create", json=body)
        client.close()
        if refused.status_code != 403:
            raise RuntimeError(
                f"{self.name}: {USER} registered into {model} before any grant: "
                f"{refused.status_code} {refused.text[:200]}"
            )
        grant = {
            "username": USER,
            "resource_type": "registered_model",
            "resource_id": model,
            "permission": MLFLOW_PERMISSION,
        }
        _ok(self.admin.post(MLFLOW_GRANT, json=grant), f"grant on {model}")

    def operation(
        self, client: httpx.Client, model: str, alias: str, k: int
    ) -> tuple[int, list[float]]:
        times: list[float] = []
        source = self.source(model, k)
        write_mlmodel(source if source.startswith("file:") else Path(source).as_uri())
        created = _timed(
            lambda: client.post(
                f"{MLFLOW_API}/model-versions/create",
                json={"name": model, "source": source, "run_id": self.run_id},
            ),
            "create version",
            times,
        )["model_version"]
        version = int(created["version"])
        if created.get("status", "READY") != "READY":
            raise RuntimeError(f"{self.name} {model} v{version}: {created}")
        _timed(
            lambda: client.post(
                f"{MLFLOW_API}/registered-models/alias",
                json={"name": model, "alias": alias, "version": str(version)},
            ),
            "set alias",
            times,
        )
        got = _timed(
            lambda: client.get(
                f"{MLFLOW_API}/registered-models/alias", params={"name": model, "alias": alias}
            ),
            "get alias",
            times,
        )["model_version"]
        if int(got["version"]) != version:
            raise RuntimeError(f"{model}@{alias} is v{got['version']}, just set to v{version}")
        return version, times

    def cpu_seconds(self) -> float | None:
        return self.server.cpu_seconds()

    def check(self, model: str, versions: int, aliases: dict[str, int]) -> dict[str, Any]:
        listed: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"filter": f"name='{model}'", "max_results": 1000}
            if token:
                params["page_token"] = token
            page = _ok(
                self.admin.get(f"{MLFLOW_API}/model-versions/search", params=params), "search"
            ).json()
            listed += page.get("model_versions", [])
            token = page.get("next_page_token")
            if not token:
                break
        numbers = [int(v["version"]) for v in listed]
        if sorted(numbers) != list(range(1, versions + 1)):
            raise RuntimeError(
                f"{self.name} {model}: versions {numbers[:5]}… are not 1..{versions}"
            )
        not_ready = [v["version"] for v in listed if v.get("status", "READY") != "READY"]
        if not_ready:
            raise RuntimeError(f"{self.name} {model}: versions {not_ready[:5]} are not READY")
        got = _ok(
            self.admin.get(f"{MLFLOW_API}/registered-models/get", params={"name": model}), "get"
        ).json()["registered_model"]
        held = {a["alias"]: int(a["version"]) for a in got.get("aliases", [])}
        if held != aliases:
            raise RuntimeError(f"{self.name} {model}: aliases {held}, expected {aliases}")
        return {"versions": len(listed), "ready": len(listed), "aliases": held}

    def tail(self) -> str:
        return self.server.logs()[-3000:]

    def stop(self) -> None:
        self.server.stop()


# -- the closed-loop client --------------------------------------------------------------


@dataclass
class Sample:
    """What the timed chunks of one (system, level) added up to."""

    wall: float = 0.0
    ops: list[float] = field(default_factory=list)
    requests: dict[str, list[float]] = field(default_factory=dict)
    #: Server CPU seconds; None when /proc cannot be read.
    cpu: float | None = 0.0


@dataclass
class Ledger:
    """What was done to one model of one system, for the checks afterwards."""

    versions: int = 0
    #: alias → the last version its thread set
    aliases: dict[str, int] = field(default_factory=dict)


def timed_chunk(
    system: System, model: str, conc: int, keys: Sequence[int], sample: Sample, ledger: Ledger
) -> None:
    """Run the operations ``keys`` on ``conc`` threads, one keep-alive client and one alias
    each, into ``sample``."""
    clients = [system.client() for _ in range(conc)]
    kinds = kinds_of(system.name)
    per_thread: list[list[tuple[int, float, list[float]]]] = [[] for _ in range(conc)]
    errors: list[str] = []

    def worker(k: int) -> None:
        client, mine, alias = clients[k], per_thread[k], alias_of(k)
        for key in keys[k::conc]:
            started = time.perf_counter()
            try:
                version, times = system.operation(client, model, alias, key)
            except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as exc:
                errors.append(f"{system.name} {model} op {key}: {exc!r}")
                return
            mine.append((version, (time.perf_counter() - started) * 1000, times))

    cpu_before = system.cpu_seconds()
    wall = run_together(conc, worker)
    cpu_after = system.cpu_seconds()
    for client in clients:
        client.close()
    if errors:
        raise RuntimeError(f"{len(errors)} operation(s) failed, first: {errors[0]}")
    sample.wall += wall
    sample.cpu = add_cpu(sample.cpu, cpu_before, cpu_after)
    for k, mine in enumerate(per_thread):
        for _version, op_ms, times in mine:
            sample.ops.append(op_ms)
            for kind, ms in zip(kinds, times, strict=True):
                sample.requests.setdefault(kind, []).append(ms)
        if mine:
            ledger.aliases[alias_of(k)] = mine[-1][0]
        ledger.versions += len(mine)


# -- figures ---------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    unit: str
    values: dict[str, float] = field(default_factory=dict)


class Results:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.checks: list[dict[str, Any]] = []
        self.audit: dict[str, Any] = {}

    def add(self, system: str, key: str, label: str, unit: str, value: float) -> None:
        self.rows.setdefault(key, Row(key, label, unit)).values[system] = value


def record(system: str, conc: int, sample: Sample, out: Results) -> None:
    at = f"{threads_label(conc)}"
    n_ops = len(sample.ops)
    n_requests = sum(len(v) for v in sample.requests.values())
    out.add(system, f"c{conc}.ops", f"{at}: operations/s", "ops/s", n_ops / sample.wall)
    out.add(system, f"c{conc}.req", f"{at}: requests/s", "req/s", n_requests / sample.wall)
    out.add(system, f"c{conc}.op.p50", f"{at}: operation p50", "ms", percentile(sample.ops, 50))
    out.add(system, f"c{conc}.op.p99", f"{at}: operation p99", "ms", percentile(sample.ops, 99))
    if sample.cpu is not None:
        out.add(
            system,
            f"c{conc}.cpu_op",
            f"{at}: server CPU/operation",
            "ms",
            sample.cpu * 1000 / n_ops,
        )
        out.add(
            system,
            f"c{conc}.cpu_req",
            f"{at}: server CPU/request",
            "ms",
            sample.cpu * 1000 / n_requests,
        )
    for kind in ("create", "finalize", "set_alias", "get_alias"):
        values = sample.requests.get(kind)
        if values:
            label = f"{at}: {KIND_LABEL[kind]}"
            out.add(system, f"c{conc}.{kind}.p50", f"{label} p50", "ms", percentile(values, 50))
            out.add(system, f"c{conc}.{kind}.p99", f"{label} p99", "ms", percentile(values, 99))


# -- the run ---------------------------------------------------------------------------


@dataclass
class Options:
    ops: int
    concurrency: list[int]
    rounds: int
    warmup: int
    peers: list[str]
    mlflow_venv: Path
    mlflow_python: str
    mlflow_workers: int | None


def warm_up(system: System, opts: Options) -> None:
    """Untimed operations on a model of their own, so first-use costs stay out."""
    system.add_model(WARMUP_MODEL)
    client = system.client()
    for k in range(opts.warmup):
        system.operation(client, WARMUP_MODEL, "warm", k)
    client.close()


def run(opts: Options, out: Results, workdir: Path, info: dict[str, str]) -> None:
    with ExitStack() as stack:
        systems: list[System] = []
        pending: list[tuple[str, MlflowServer]] = []
        if opts.peers:
            exe = ensure_mlflow_venv(opts.mlflow_venv, opts.mlflow_python)
            info["mlflow, uvicorn (peer venv)"] = mlflow_version_of(exe)
            for peer in opts.peers:
                ttl = 60 if peer == MLFLOW_CACHED else 0
                log(f"{peer}: starting mlflow server --app-name basic-auth (auth cache ttl {ttl})")
                server = launch_mlflow(exe, workdir / peer, ttl, opts.mlflow_workers)
                stack.callback(server.stop)
                pending.append((peer, server))
        log("steward: starting a server on a fresh SQLite database")
        steward = Steward(workdir / STEWARD)
        stack.callback(steward.stop)
        systems.append(steward)
        for peer, server in pending:
            wait_ready(server)
            log(f"{peer}: up ({len(tree_pids(server.process.pid))} processes)")
            systems.append(Mlflow(peer, server))
        try:
            for system in systems:
                log(f"{system.name}: {opts.warmup} warm-up operations")
                warm_up(system, opts)
                for conc in opts.concurrency:
                    system.add_model(model_name(conc))
            ledgers = {(s.name, c): Ledger() for s in systems for c in opts.concurrency}
            for conc in opts.concurrency:
                keys = list(range(1, opts.ops + 1))
                rounds = min(opts.rounds, len(keys))
                chunks = [keys[r::rounds] for r in range(rounds)]
                samples = {s.name: Sample() for s in systems}
                log(
                    f"{threads_label(conc)}: {opts.ops} operations per system in {rounds} rounds "
                    f"(load average {os.getloadavg()[0]:.2f})"
                )
                for r, chunk in enumerate(chunks):
                    order = systems if r % 2 == 0 else list(reversed(systems))
                    for system in order:
                        timed_chunk(
                            system,
                            model_name(conc),
                            conc,
                            chunk,
                            samples[system.name],
                            ledgers[system.name, conc],
                        )
                for system in systems:
                    sample = samples[system.name]
                    record(system.name, conc, sample, out)
                    log(
                        f"  {system.name}: {len(sample.ops) / sample.wall:.1f} ops/s, "
                        f"operation p50 {percentile(sample.ops, 50):.1f} ms"
                    )
            log("checking every version and alias on every system")
            for system in systems:
                for conc in opts.concurrency:
                    ledger = ledgers[system.name, conc]
                    seen = system.check(model_name(conc), ledger.versions, ledger.aliases)
                    out.checks.append(
                        {"system": system.name, "model": model_name(conc), "threads": conc, **seen}
                    )
            log("steward: verifying the audit log")
            done = sum(ledgers[STEWARD, c].versions for c in opts.concurrency) + opts.warmup
            out.audit = steward.audit(done, refused=1 + len(opts.concurrency))
        except BaseException:
            print_tails((system.name, system.tail()) for system in systems)
            raise


# -- the report ------------------------------------------------------------------------


#: Decimals of the rates in the tables (MLflow as shipped runs at well under 1 op/s).
DECIMALS = {"ops/s": 1, "req/s": 1}


def render(out: Results, systems: Sequence[str]) -> str:
    peers = [s for s in systems if s != STEWARD]
    header = ["figure", "unit", LABEL[STEWARD]]
    for peer in peers:
        header += [LABEL[peer], f"Steward/{LABEL[peer]}"]
    rows = [header]
    for row in out.rows.values():
        mine = row.values.get(STEWARD)
        cells = [row.label, row.unit, fmt(mine, row.unit, DECIMALS)]
        for peer in peers:
            theirs = row.values.get(peer)
            cells.append(fmt(theirs, row.unit, DECIMALS))
            cells.append(ratio(mine, theirs))
        rows.append(cells)
    lines = markdown_table(rows)
    if not peers:
        return "\n".join(lines)
    lines.append("")
    lines.append(
        "Steward/peer: Steward's figure divided by the peer's (ops/s, req/s: above 1 means "
        "Steward is faster; ms: below 1 means Steward is faster or cheaper). Steward sends 4 "
        "requests per operation (create, finalize, set alias, get), MLflow 3."
    )
    for peer in peers:
        for key, row in out.rows.items():
            if not key.endswith(".ops"):
                continue
            mine, theirs = row.values.get(STEWARD), row.values.get(peer)
            if mine is None or not theirs:
                continue
            factor = mine / theirs
            verdict = "meets" if factor >= GOAL_RATIO else "MISSES"
            lines.append(
                f"- {row.label.split(':')[0]}, against {LABEL[peer]}: {mine:.1f} / {theirs:.1f} "
                f"ops/s = **{factor:.2f}x** (goal {GOAL_RATIO:.0f}x: {verdict} it)"
            )
    return "\n".join(lines)


def render_checks(out: Results) -> str:
    lines = ["Checks afterwards:"]
    for c in out.checks:
        aliases = ", ".join(f"{a}→v{v}" for a, v in sorted(c["aliases"].items()))
        lines.append(
            f"- {LABEL[c['system']]}, model {c['model']} ({threads_label(c['threads'])}): versions "
            f"1..{c['versions']} all there and READY; aliases {aliases}: ok"
        )
    if out.audit:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(out.audit["by_action"].items()))
        lines.append(
            f"- Steward audit log: {out.audit['events']} events in {out.audit['lanes']} lanes, "
            f"hash chains verify; the bench user's events (action status: count), one per "
            f"request: {counts}: ok"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.registry_rest",
        description=(
            "Register-version + set-alias + get-by-alias operations per second over HTTP: "
            "Steward against mlflow server --app-name basic-auth, both on SQLite, side by side."
        ),
    )
    parser.add_argument(
        "--ops",
        type=int,
        default=200,
        help="operations per system at each concurrency level (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency", default="1,4", help="client threads, comma-separated levels (default 1,4)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=8,
        help="each level is cut into this many rounds, alternating the systems "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="untimed operations per system before the run (default %(default)s)",
    )
    parser.add_argument(
        "--peers",
        default=MLFLOW_CACHED,
        help=f"comma-separated MLflow servers to run beside Steward: {MLFLOW_CACHED} "
        f"(basic-auth with its credential cache on, auth_cache_ttl_seconds = 60), {MLFLOW} "
        "(basic-auth as shipped: the password is checked with scrypt several times per "
        "request, about 0.3 operations/s here, so add it with a small --ops); empty for "
        "Steward alone (default %(default)s)",
    )
    parser.add_argument(
        "--mlflow-venv",
        type=Path,
        default=DEFAULT_MLFLOW_VENV,
        help=f"venv holding {MLFLOW_REQUIREMENT}, created on first use (default %(default)s)",
    )
    parser.add_argument(
        "--mlflow-python",
        default=getattr(sys, "_base_executable", sys.executable),
        help="the Python that creates that venv (default: this venv's base, %(default)s)",
    )
    parser.add_argument(
        "--mlflow-workers",
        type=int,
        help="uvicorn worker processes of each MLflow server (default: MLflow's own, 4)",
    )
    add_json(parser)
    args = parser.parse_args(argv)
    concurrency = parse_levels(args.concurrency)
    if not concurrency or min(args.ops, args.rounds, *concurrency) < 1 or args.warmup < 0:
        parser.error("--ops, --rounds and every --concurrency level must be at least 1")
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    for peer in peers:
        if peer not in (MLFLOW, MLFLOW_CACHED):
            parser.error(f"unknown peer {peer!r}: use {MLFLOW} and/or {MLFLOW_CACHED}")
    opts = Options(
        ops=args.ops,
        concurrency=concurrency,
        rounds=args.rounds,
        warmup=args.warmup,
        peers=peers,
        mlflow_venv=args.mlflow_venv,
        mlflow_python=args.mlflow_python,
        mlflow_workers=args.mlflow_workers,
    )
    return opts, args.json


def main(argv: Sequence[str] | None = None) -> int:
    opts, json_path = parse_args(argv)
    info = machine(None)
    out = Results()
    elapsed = run_in_tempdir(
        "steward-bench-registry-", info, lambda workdir: run(opts, out, workdir, info)
    )
    systems = [STEWARD, *opts.peers]

    print()
    print("Model registry over HTTP: Steward vs " + ", ".join(LABEL[p] for p in opts.peers))
    print(machine_line(info))
    print(
        f"client: httpx, keep-alive, closed loop, one alias per thread; {opts.ops} operations "
        f"per system at each of {opts.concurrency} thread(s), {opts.rounds} alternating rounds, "
        f"{opts.warmup} warm-up operations; whole run {elapsed:.0f} s"
    )
    print()
    print(render(out, systems))
    print()
    print(render_checks(out))
    write_json(
        json_path,
        {
            "machine": info,
            "options": {
                "ops": opts.ops,
                "concurrency": opts.concurrency,
                "rounds": opts.rounds,
                "warmup": opts.warmup,
                "peers": opts.peers,
                "mlflow_workers": opts.mlflow_workers,
            },
            "figures": {
                r.key: {"label": r.label, "unit": r.unit, **r.values} for r in out.rows.values()
            },
            "checks": out.checks,
            "audit": out.audit,
            "run_seconds": round(elapsed, 1),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
