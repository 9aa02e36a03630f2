"""MLflow's own client shipping a model through a registry, side by side: Steward (the
``steward:`` plugin) against stock ``mlflow server --serve-artifacts``.

Run it with ``.venv/bin/python benchmarks/registry.py`` (or ``-m benchmarks.registry``;
``--help`` for the options). The first run installs the peer into a venv of its own
(``--mlflow-venv``, a few minutes, once); the project's ``.venv`` is never changed.

One **operation** is what an ML engineer's script does to ship a new version of a model
and read it back by alias, written once with MLflow's public API and run unchanged against
both servers (only the URIs differ):

1. **register**: the same fitted scikit-learn model (skops, MLflow's default format off
   Databricks, and the only one Steward accepts by default), with the same signature and
   pip requirements, becomes a new version of a registered model, and MLflow's client waits
   until that version is READY. On Steward as its docs and the plugin test do it:
   ``mlflow.sklearn.save_model`` into a local folder, then ``mlflow.register_model`` (the
   plugin creates the version, uploads each file through Steward's artifact routes with its
   SHA-256, and finalizes; the server checks the files and the format). On MLflow as its
   docs do it: ``mlflow.sklearn.log_model(..., registered_model_name=...)``, which saves the
   same folder, records a logged model, uploads the files through the ``mlflow-artifacts:``
   proxy and creates the version. ``--steward-register log`` runs MLflow's ``log_model``
   against Steward too, with a tracking store on the client's disk (Steward is a registry,
   not a tracking server).
2. **set alias**: ``MlflowClient().set_registered_model_alias(name, "champion", version)``.
3. **load by alias**: ``mlflow.pyfunc.load_model("models:/<name>@champion")``: the version is
   resolved and its files come down through the server (Steward's artifact routes, each
   checked against its SHA-256; MLflow's artifact proxy), and the model is deserialized.
   The loaded model must be the one just saved (its ``model_uuid``).

Each client thread works on a registered model of its own (made at set-up), so every
thread's ``champion`` must point at the last version that thread registered. Threads are
client threads in this one process, on both sides (MLflow's client keeps its fluent state
per thread, and the checks below hold at 4 threads). The load is a closed loop: a thread
starts its next operation as soon as the last one is done, for ``--seconds`` per system and
thread count, cut into ``--rounds`` rounds whose order of the systems flips every round, so
a change in the machine's load touches both alike. Before timing, ``--warmup`` operations
per thread on each side, and on Steward finalizes over fresh connections until every
worker has done one (a worker's first finalize imports skops and scikit-learn: seconds).

**The systems**, both on SQLite and loopback, each on throw-away files:

- **Steward**: ``python -m steward server`` (``tests.support.start_server``) with
  ``--steward-workers`` processes (by default Steward's own default, one per core), every
  request authenticated (a bearer token), authorized (a user who is not an admin, granted
  USE CATALOG, USE SCHEMA and CREATE MODEL; it owns the models it made) and written to the
  hash-chained audit log, which is always on, with SQLite at its default
  ``synchronous=FULL``.
- **MLflow** (the same release as the client's ``mlflow-skinny``): ``mlflow server
  --backend-store-uri sqlite:///… --artifacts-destination … --serve-artifacts`` at its
  defaults (uvicorn, 4 worker processes; no authentication), except that its GenAI job
  runner is off (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``): it has nothing to do with
  the registry, and left on it starts consumer processes that outlive the server.

MLflow's telemetry is off on both sides (the client's and MLflow's server), and the client's
progress messages ("Created version ...") are dropped, the same for both.

**Checks of its own work**: every operation checks the model it loaded; afterwards, on each
system, each thread's model must hold versions 1..N, all READY, with ``champion`` on N, and
its champion must load and predict what the local model predicts; the files and their
sizes must be the same on both sides (``model.skops`` is not byte-identical from one save
to the next: skops writes a zip with timestamps); on Steward the audit log must verify
(``catalog.audit.verify``) and hold one ``finalizeModelVersion`` and one
``setRegisteredModelAlias`` event of the user per version registered and alias set.

**Figures** per system and thread count: operations/s (wall), p50/p99 of an operation and
p50 of each of its three steps (client latency; ``--json`` has the steps' p99 too), the
client's CPU per operation (this process,
``time.process_time``), the server's CPU per operation (``/proc``, its whole process tree:
supervisor and workers), and the HTTP requests per operation the client sent; then the
ratio Steward/MLflow (goal: 3x MLflow's operations/s). The client and both servers share
the machine's cores, so at 4 threads the sum of the CPU columns bounds the throughput.

``--profile DIR`` also records each server with py-spy (``pip install py-spy``; ``--gil``
samples, so Python CPU only) during the measured rounds and the client with pyinstrument
(``pip install pyinstrument``) at 1 thread, and prints where each server's time goes;
profiled figures are slower and not for the README. Either tool missing is skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (``python benchmarks/registry.py``): this folder would come first on
    # sys.path, where this very file would pass for the project's ``registry`` package (whose
    # MLflow plugin the client loads). The repository's root goes there instead.
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(_here)]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import collections
import contextlib
import importlib.metadata
import importlib.util
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import httpx

from benchmarks.harness import (
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
    threads_label,
    tree_cpu_seconds,
    write_json,
)
from tests.support import ROOT, ServerHandle, free_port, start_server

#: The client's MLflow release; the peer server is installed at the same one.
CLIENT_MLFLOW = importlib.metadata.version("mlflow-skinny")
DEFAULT_PEER_VENV = ROOT / "benchmarks" / ".venv-mlflow-server"
GOAL_RATIO = 3.0
STEWARD = "steward"
MLFLOW = "mlflow"
LABEL = {STEWARD: "Steward", MLFLOW: "MLflow"}
PHASES = ("register", "alias", "load")
ALIAS = "champion"
CATALOG = "bench"
SCHEMA = "registry"
USER = "bench_user"
UC = "/api/2.1/unity-catalog"
SQL_PATH = "/api/2.0/sql/statements"
#: What the model's environment files name: given, so MLflow never infers them (inference
#: imports the model in a subprocess: seconds per save, on both sides alike).
PIP_REQUIREMENTS = ["scikit-learn", "skops"]
#: Client environment for both sides: no usage telemetry leaving the process.
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
START_SECONDS = 240.0
#: Fresh connections in a row that must be served before timing (each may land on another
#: Steward worker, and every worker must have seen the grants).
CHECKS_IN_A_ROW = 20


# -- the peer: full MLflow in a venv of its own ---------------------------------------------


def ensure_peer_venv(venv: Path, version: str) -> Path:
    """The venv's ``mlflow`` executable, creating the venv and installing ``mlflow==version``
    into it when missing or at another version.

    Not the project's ``.venv``: full ``mlflow`` pins ``mlflow-skinny`` to its own release
    and brings a server's worth of packages (Flask, pyarrow, matplotlib...) the tests must
    not depend on. When ``pip install mlflow==version`` cannot resolve (the package index
    here has ``mlflow`` and ``mlflow-skinny`` 3.18.0 but not the ``mlflow-tracing==3.18.0``
    that ``mlflow`` 3.18.0 requires), the same release is installed without that one
    requirement: ``mlflow``'s wheel holds the whole ``mlflow`` package, of which
    ``mlflow-tracing`` is a subset, so the server runs the release's own code."""
    python = venv / "bin" / "python"
    exe = venv / "bin" / "mlflow"
    check = [str(python), "-c", "import mlflow.server, mlflow; print(mlflow.__version__)"]
    if exe.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == version:
            return exe
    log(f"installing mlflow=={version} into {venv} (a minute or two, once)")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if subprocess.run([*pip, f"mlflow=={version}"]).returncode != 0:
        log(f"mlflow=={version} does not resolve; installing it without mlflow-tracing")
        subprocess.run([*pip, "--no-deps", f"mlflow=={version}"], check=True)
        listed = subprocess.run(
            [
                str(python),
                "-c",
                "from importlib.metadata import requires\n"
                "for r in requires('mlflow') or []:\n"
                "    if 'extra ==' not in r and not r.startswith('mlflow-tracing'):\n"
                "        print(r)",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        subprocess.run([*pip, *[r for r in listed if r.strip()]], check=True)
    found = subprocess.run(check, capture_output=True, text=True, check=True)
    if found.stdout.strip() != version:
        raise RuntimeError(f"{venv} holds mlflow {found.stdout.strip()}, not {version}")
    return exe


@dataclass
class MlflowServer:
    """``mlflow server`` in a process group of its own (it forks 4 uvicorn workers)."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM to the group, then SIGKILL to whatever is left of it after 20 s."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def start_mlflow(exe: Path, directory: Path, workers: int | None) -> MlflowServer:
    """Stock ``mlflow server --serve-artifacts`` on SQLite and a local artifacts folder;
    returns once ``/health`` answers."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        str(exe),
        "server",
        "--backend-store-uri",
        f"sqlite:///{directory / 'mlflow.db'}",
        "--artifacts-destination",
        str(directory / "artifacts"),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers:
        command += ["--workers", str(workers)]
    env = {**os.environ, **QUIET_ENV, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
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
    server = MlflowServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited early:\n{server.logs()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"mlflow server did not start in time:\n{server.logs()[-3000:]}")


def peer_versions(exe: Path) -> str:
    out = subprocess.run(
        [
            str(exe.parent / "python"),
            "-c",
            "import mlflow, uvicorn, flask, sqlalchemy as s;"
            "print(mlflow.__version__, uvicorn.__version__, flask.__version__, s.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"mlflow {out[0]}, uvicorn {out[1]}, Flask {out[2]}, SQLAlchemy {out[3]}"


# -- the client's model and its one operation ------------------------------------------------


class Workload:
    """The fitted model every operation ships, and what it must predict once loaded.

    Small on purpose (a logistic regression on two features: model.skops is about 10 kB),
    so the figures are about the registries, not about moving bytes."""

    def __init__(self) -> None:
        import numpy as np
        import pandas as pd
        from mlflow.models import infer_signature
        from sklearn.linear_model import LogisticRegression

        rng = np.random.default_rng(7)
        self.features = pd.DataFrame(
            {"tenure": rng.uniform(0, 72, 200), "charges": rng.uniform(20, 120, 200)}
        )
        noise = rng.normal(0, 0.5, 200)
        labels = (0.04 * self.features["charges"] - 0.06 * self.features["tenure"] + noise) > 1
        self.model = LogisticRegression(max_iter=500).fit(self.features, labels.astype("int64"))
        self.expected = self.model.predict(self.features)
        self.signature = infer_signature(self.features, self.expected)

    def predicts_alike(self, loaded: Any) -> bool:
        import numpy as np

        return bool((np.asarray(loaded.predict(self.features)) == self.expected).all())


class QuietStderr(io.TextIOBase):
    """stderr without MLflow's per-registration lines ("Registered model ... already
    exists", "Created version ..."), which its client prints on every operation: both sides
    would pay a terminal's scrolling, and the progress lines would drown."""

    DROPPED = ("Registered model '", "Created version '", "Successfully registered model")

    def __init__(self, target: TextIO) -> None:
        self.target = target
        #: Whether this thread's last write was dropped: ``print`` writes the line's end
        #: separately, and that goes too.
        self.dropping = threading.local()

    def write(self, text: str) -> int:
        dropped = text.startswith(self.DROPPED) or (
            text == "\n" and getattr(self.dropping, "last", False)
        )
        self.dropping.last = dropped
        if not dropped:
            self.target.write(text)
        return len(text)

    def flush(self) -> None:
        self.target.flush()


class RequestCounter:
    """How many HTTP requests the client sends, per server (host:port): every MLflow client
    request goes through ``requests``' HTTPAdapter."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._original: Callable[..., Any] | None = None

    def __enter__(self) -> RequestCounter:
        from urllib.parse import urlsplit

        from requests.adapters import HTTPAdapter

        original = HTTPAdapter.send
        self._original = original
        counter = self

        def send(adapter: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
            with counter._lock:
                counter.counts[urlsplit(request.url).netloc] += 1
            return original(adapter, request, *args, **kwargs)

        HTTPAdapter.send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from requests.adapters import HTTPAdapter

        HTTPAdapter.send = self._original  # type: ignore[method-assign]

    def get(self, netloc: str) -> int:
        with self._lock:
            return self.counts[netloc]


@dataclass
class Side:
    """One registry as MLflow's client sees it: where to point it and whose models."""

    key: str
    registry_uri: str
    tracking_uri: str
    experiment_id: str
    #: Registered model names, one per client thread.
    names: list[str]
    register: str  # "save": save_model + register_model; "log": log_model
    server_pid: int
    netloc: str
    env: dict[str, str]

    def activate(self) -> None:
        """Point MLflow's (process-wide) URIs and credentials at this side. One side is
        measured at a time, so the globals never serve both at once."""
        import mlflow

        os.environ.update(self.env)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)
        mlflow.set_experiment(experiment_id=self.experiment_id)


def operation(side: Side, work: Workload, name: str, scratch: Path) -> dict[str, float]:
    """One operation (register until READY, set the alias, load by alias) on ``name``;
    returns each step's seconds. Raises when the loaded model is not the one just saved."""
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import Model
    from mlflow.tracking import MlflowClient

    local, downloaded = scratch / "model", scratch / "download"
    times: dict[str, float] = {}
    started = time.perf_counter()
    if side.register == "save":
        saved = Model()
        mlflow.sklearn.save_model(
            work.model,
            path=str(local),
            mlflow_model=saved,
            signature=work.signature,
            pip_requirements=PIP_REQUIREMENTS,
            serialization_format="skops",
        )
        version = mlflow.register_model(str(local), name).version
        uuid = saved.model_uuid
    else:
        info = mlflow.sklearn.log_model(
            work.model,
            name="model",
            registered_model_name=name,
            signature=work.signature,
            pip_requirements=PIP_REQUIREMENTS,
            serialization_format="skops",
        )
        version, uuid = info.registered_model_version, info.model_uuid
    times["register"] = time.perf_counter() - started
    started = time.perf_counter()
    MlflowClient().set_registered_model_alias(name, ALIAS, version)
    times["alias"] = time.perf_counter() - started
    started = time.perf_counter()
    downloaded.mkdir()
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@{ALIAS}", dst_path=str(downloaded))
    times["load"] = time.perf_counter() - started
    if loaded.metadata.model_uuid != uuid:
        raise RuntimeError(
            f"{side.key}: {name}@{ALIAS} loaded model {loaded.metadata.model_uuid}, "
            f"not version {version} ({uuid}) just registered"
        )
    shutil.rmtree(local, ignore_errors=True)
    shutil.rmtree(downloaded, ignore_errors=True)
    return times


# -- the systems' set-up -------------------------------------------------------------------


def steward_sql(handle: ServerHandle, statement: str) -> None:
    answer = handle.admin.post(SQL_PATH, json={"statement": statement})
    if answer.status_code != 200 or answer.json()["status"]["state"] != "SUCCEEDED":
        raise RuntimeError(f"{statement}: {answer.status_code} {answer.text[:400]}")


def start_steward(directory: Path, workers: int) -> tuple[ServerHandle, str]:
    """A Steward server on SQLite, a catalog and schema, and a user who is not an admin
    and may create models there; returns the server and the user's token once every
    worker answers the user."""
    handle = start_server(
        f"sqlite:///{directory / 'steward.db'}",
        directory / "storage",
        {"STEWARD_WORKERS": str(workers), "STEWARD_LOG_FORMAT": "json"},
    )
    try:
        user, token = handle.create_user(USER)
        for statement in (
            f"CREATE CATALOG {CATALOG}",
            f"CREATE SCHEMA {CATALOG}.{SCHEMA}",
            f"GRANT USE CATALOG ON CATALOG {CATALOG} TO `{user}`",
            f"GRANT USE SCHEMA ON SCHEMA {CATALOG}.{SCHEMA} TO `{user}`",
            f"GRANT CREATE MODEL ON SCHEMA {CATALOG}.{SCHEMA} TO `{user}`",
        ):
            steward_sql(handle, statement)
        wait_for_grants(handle, token)
    except BaseException:
        handle.stop()
        raise
    return handle, token


def wait_for_grants(handle: ServerHandle, token: str) -> None:
    """``CHECKS_IN_A_ROW`` fresh connections in a row must see the schema as the user: with
    several workers, each holds its own policy engine and catches up on its own."""
    deadline = time.monotonic() + 60
    in_a_row = 0
    while in_a_row < CHECKS_IN_A_ROW:
        if time.monotonic() > deadline:
            raise RuntimeError("steward: the user's grants were not seen by every worker")
        answer = httpx.get(
            f"{handle.url}{UC}/schemas/{CATALOG}.{SCHEMA}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        in_a_row = in_a_row + 1 if answer.status_code == 200 else 0
        if answer.status_code != 200:
            time.sleep(0.2)


def warm_steward_workers(handle: ServerHandle, work: Workload, scratch: Path, workers: int) -> int:
    """Finalize versions until every Steward worker has finalized one; returns how many.

    A worker's first finalize imports the model-inspection code (skops, scikit-learn): 2.2
    to 2.6 s here, once per process. The client's own warm-up does not reach every worker
    (its registrations reuse one keep-alive connection, so one worker), and the first
    timed finalize on another one stood out as a multi-second p99. Each cycle here is a
    fresh connection (so any worker may accept it), by the admin on a model of its own (so
    the user's audit counts and models are untouched), until ``2 x workers`` finalizes in a
    row took under a second, at most 40 cycles."""
    import hashlib

    import mlflow.sklearn

    folder = scratch / "steward-workers-warm-up"
    mlflow.sklearn.save_model(
        work.model,
        path=str(folder),
        signature=work.signature,
        pip_requirements=PIP_REQUIREMENTS,
        serialization_format="skops",
    )
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    name = f"{CATALOG}.{SCHEMA}.workers_warm_up"
    body = {"name": "workers_warm_up", "catalog_name": CATALOG, "schema_name": SCHEMA}
    if handle.admin.post(f"{UC}/models", json=body).status_code != 200:
        raise RuntimeError("steward: cannot create the workers' warm-up model")
    headers = {"Authorization": f"Bearer {handle.admin_token}"}
    fast, cycles = 0, 0
    while fast < 2 * workers and cycles < 40:
        cycles += 1
        with httpx.Client(base_url=handle.url, headers=headers, timeout=60) as client:
            created = client.post(
                f"{UC}/models/versions",
                json={
                    "catalog_name": CATALOG,
                    "schema_name": SCHEMA,
                    "model_name": body["name"],
                    "source": "warm-up",
                },
            )
            created.raise_for_status()
            version = created.json()["version"]
            for path, data in files.items():
                client.put(
                    f"/api/2.1/steward/models/{name}/versions/{version}/artifacts/{path}",
                    content=data,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "X-Checksum-SHA256": hashlib.sha256(data).hexdigest(),
                    },
                ).raise_for_status()
            started = time.perf_counter()
            final = client.patch(
                f"{UC}/models/{name}/versions/{version}/finalize",
                json={"full_name": name, "version": version},
            )
            if final.status_code != 200 or final.json().get("status") != "READY":
                raise RuntimeError(f"steward: warm-up finalize: {final.text[:400]}")
            fast = fast + 1 if time.perf_counter() - started < 1.0 else 0
    return cycles


def make_models(side: Side) -> None:
    """Each thread's registered model, made by the benchmark's user through MLflow."""
    from mlflow.tracking import MlflowClient

    side.activate()
    for name in side.names:
        MlflowClient().create_registered_model(name)


def local_experiment(tracking_uri: str, artifacts: Path) -> str:
    """An experiment in the client's own tracking store (``--steward-register``: Steward
    holds no runs), its artifacts under the run's temporary folder, not ./mlruns."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri).create_experiment(
        "steward-bench", artifact_location=artifacts.as_uri()
    )


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Sample:
    """One round of one system at one thread count."""

    ops: int
    seconds: float
    op_ms: list[float]
    phase_ms: dict[str, list[float]]
    client_cpu_s: float
    server_cpu_s: float | None
    requests: int
    #: Operations each thread completed (thread index -> count).
    per_thread: dict[int, int]


@dataclass
class Totals:
    """A system's rounds at one thread count, added up."""

    ops: int = 0
    seconds: float = 0.0
    op_ms: list[float] = field(default_factory=list)
    phase_ms: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PHASES})
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = 0.0
    requests: int = 0
    per_thread: collections.Counter[int] = field(default_factory=collections.Counter)

    def add(self, s: Sample) -> None:
        self.ops += s.ops
        self.seconds += s.seconds
        self.op_ms += s.op_ms
        for phase in PHASES:
            self.phase_ms[phase] += s.phase_ms[phase]
        self.client_cpu_s += s.client_cpu_s
        self.server_cpu_s = (
            None
            if self.server_cpu_s is None or s.server_cpu_s is None
            else self.server_cpu_s + s.server_cpu_s
        )
        self.requests += s.requests
        self.per_thread.update(s.per_thread)

    def figures(self) -> dict[str, float | None]:
        per_op = 1000 / self.ops if self.ops else None
        out: dict[str, float | None] = {
            "ops/s": self.ops / self.seconds if self.seconds else None,
            "op p50": percentile(self.op_ms, 50) if self.op_ms else None,
            "op p99": percentile(self.op_ms, 99) if self.op_ms else None,
        }
        for phase in PHASES:
            values = self.phase_ms[phase]
            out[f"{phase} p50"] = percentile(values, 50) if values else None
            out[f"{phase} p99"] = percentile(values, 99) if values else None
        out["client CPU/op"] = self.client_cpu_s * per_op if per_op else None
        out["server CPU/op"] = (
            self.server_cpu_s * per_op if per_op and self.server_cpu_s is not None else None
        )
        out["requests/op"] = self.requests / self.ops if self.ops else None
        return out


@dataclass
class Profiling:
    """Where ``--profile`` puts its files, and the tools it found."""

    directory: Path
    py_spy: str | None
    pyinstrument: bool


def closed_loop(
    side: Side,
    work: Workload,
    conc: int,
    seconds: float,
    scratch: Path,
    counter: RequestCounter,
    client_profile: Path | None = None,
) -> Sample:
    """``conc`` threads, each on its own model, each starting its next operation as soon as
    its last one is done, none starting one after ``seconds``. The wall time runs from the
    common start to the end of the last operation (the ones in flight at the deadline
    count, and so does their time)."""
    side.activate()
    op_ms: list[list[float]] = [[] for _ in range(conc)]
    phase_ms: list[dict[str, list[float]]] = [{p: [] for p in PHASES} for _ in range(conc)]
    errors: list[str] = []
    barrier = threading.Barrier(conc + 1)

    def body(k: int) -> None:
        folder = scratch / f"{side.key}-c{conc}-t{k}"
        folder.mkdir(parents=True, exist_ok=True)
        profiler = None
        if client_profile is not None and k == 0:
            import pyinstrument

            profiler = pyinstrument.Profiler(interval=0.001)
        barrier.wait()
        if profiler is not None:
            profiler.start()
        deadline = time.perf_counter() + seconds
        try:
            while (started := time.perf_counter()) < deadline:
                times = operation(side, work, side.names[k], folder)
                op_ms[k].append((time.perf_counter() - started) * 1000)
                for phase, value in times.items():
                    phase_ms[k][phase].append(value * 1000)
        except Exception as exc:
            errors.append(f"{side.key}, thread {k}: {exc!r}")
        finally:
            if profiler is not None and client_profile is not None:
                profiler.stop()
                client_profile.write_text(
                    profiler.output_text(unicode=False, color=False, show_all=False)
                )

    threads = [threading.Thread(target=body, args=(k,)) for k in range(conc)]
    for thread in threads:
        thread.start()
    cpu_before = time.process_time()
    server_before = tree_cpu_seconds(side.server_pid)
    requests_before = counter.get(side.netloc)
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    server_after = tree_cpu_seconds(side.server_pid)
    if errors:
        raise RuntimeError(f"{len(errors)} thread(s) failed, first: {errors[0]}")
    merged = {p: [x for per in phase_ms for x in per[p]] for p in PHASES}
    return Sample(
        ops=sum(len(x) for x in op_ms),
        seconds=wall,
        op_ms=[x for per in op_ms for x in per],
        phase_ms=merged,
        client_cpu_s=time.process_time() - cpu_before,
        server_cpu_s=(
            server_after - server_before
            if server_after is not None and server_before is not None
            else None
        ),
        requests=counter.get(side.netloc) - requests_before,
        per_thread={k: len(x) for k, x in enumerate(op_ms)},
    )


@contextlib.contextmanager
def py_spy(profiling: Profiling | None, pid: int, out: Path) -> Iterator[None]:
    """py-spy recording ``pid`` and its children (``--gil``: the Python thread holding the
    GIL, i.e. the server's Python CPU) while the block runs, in py-spy's raw format."""
    if profiling is None or profiling.py_spy is None:
        yield
        return
    command = [
        profiling.py_spy, "record", "--pid", str(pid), "--subprocesses", "--gil",
        "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # attached before the load starts
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()


# -- what the run found, afterwards --------------------------------------------------------


def check_side(side: Side, work: Workload, registered: dict[str, int], scratch: Path) -> None:
    """Each thread's model holds versions 1..N (N = what that thread registered, warm-up
    included), all READY, ``champion`` on N, and its champion predicts like the local
    model."""
    import mlflow.pyfunc
    from mlflow.tracking import MlflowClient

    side.activate()
    client = MlflowClient()
    for name in side.names:
        count = registered[name]
        versions, token = [], None
        while True:  # Steward answers a page at a time (and says so with a token)
            page = client.search_model_versions(
                f"name = '{name}'", max_results=1000, page_token=token
            )
            versions += list(page)
            token = page.token
            if not token:
                break
        numbers = sorted(int(v.version) for v in versions)
        if numbers != list(range(1, count + 1)):
            raise RuntimeError(f"{side.key} {name}: versions {numbers[:5]}... not 1..{count}")
        not_ready = [v.version for v in versions if v.status != "READY"]
        if not_ready:
            raise RuntimeError(f"{side.key} {name}: versions {not_ready[:5]} are not READY")
        champion = client.get_model_version_by_alias(name, ALIAS).version
        if int(champion) != count:
            raise RuntimeError(f"{side.key} {name}@{ALIAS} is v{champion}, not v{count}")
    folder = scratch / f"{side.key}-check"
    folder.mkdir()
    loaded = mlflow.pyfunc.load_model(f"models:/{side.names[0]}@{ALIAS}", dst_path=str(folder))
    if not work.predicts_alike(loaded):
        raise RuntimeError(f"{side.key}: the champion does not predict as the local model")


def champion_files(side: Side, scratch: Path) -> dict[str, int]:
    """The champion's files (path, size) as the client downloads them."""
    import mlflow.artifacts

    side.activate()
    folder = scratch / f"{side.key}-files"
    folder.mkdir()
    mlflow.artifacts.download_artifacts(f"models:/{side.names[0]}@{ALIAS}", dst_path=str(folder))
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def check_same_files(steward: dict[str, int], mlflow: dict[str, int]) -> str:
    """Both sides stored the same files, and the model (``model.skops``) at the same size;
    MLmodel differs by what each registry writes into it (the logged model's id)."""
    if set(steward) != set(mlflow):
        raise RuntimeError(
            f"not the same files: Steward {sorted(steward)}, MLflow {sorted(mlflow)}"
        )
    different = [p for p in steward if p != "MLmodel" and steward[p] != mlflow[p]]
    if different:
        raise RuntimeError(f"files of different sizes: {different}")
    return ", ".join(f"{p} {steward[p]:,} B" for p in sorted(steward))


def check_audit(database_url: str, user: str, registered: int, aliases: int) -> str:
    """Steward's audit log verifies (every hash chain and checkpoint), and holds one
    successful ``finalizeModelVersion`` per version and ``setRegisteredModelAlias`` per
    alias the user set."""
    from sqlalchemy import func, select

    from catalog.audit.verify import verify
    from catalog.persistence import schema as t
    from catalog.persistence.engine import Database

    db = Database(database_url)
    try:
        with db.read() as session:
            report = verify(session)
            rows = session.execute(
                select(t.AuditEvent.action_name, func.count())
                .where(t.AuditEvent.user_name == user, t.AuditEvent.status_code == 200)
                .group_by(t.AuditEvent.action_name)
            ).all()
    finally:
        db.dispose()
    if not report.ok:
        raise RuntimeError(f"steward: the audit log does not verify: {report.problems[:3]}")
    counts = dict(rows)
    if counts.get("finalizeModelVersion") != registered:
        raise RuntimeError(
            f"steward: {counts.get('finalizeModelVersion')} finalize events, {registered} versions"
        )
    if counts.get("setRegisteredModelAlias") != aliases:
        raise RuntimeError(
            f"steward: {counts.get('setRegisteredModelAlias')} alias events, {aliases} aliases set"
        )
    return f"{report.events:,} events verify; the user's: " + ", ".join(
        f"{action} {n:,}" for action, n in sorted(counts.items())
    )


# -- the py-spy summary ----------------------------------------------------------------------

#: Where a sample's time is put: the first frame from the innermost out that one of these
#: (file path prefixes, as py-spy prints them) matches decides.
LAYERS: tuple[tuple[str, str], ...] = (
    ("(catalog/audit/", "audit log (event, chain append)"),
    ("(catalog/access/", "authorization (policy, securable chain)"),
    ("(catalog/http/guards.py", "authorization (policy, securable chain)"),
    ("(policy/", "authorization (policy, securable chain)"),
    ("(catalog/identity", "authentication (token lookup)"),
    ("(catalog/store/", "namespace rows (catalog, schema, model lookups)"),
    ("(catalog/persistence/", "transactions and connections"),
    ("(registry/artifact", "artifact files (checksums, manifest, reads and writes)"),
    ("(registry/http/routes/artifacts", "artifact files (checksums, manifest, reads and writes)"),
    ("(registry/", "registry service, store and routes"),
    ("(catalog/http/", "request middleware (ids, limits, health, well-known)"),
    ("(catalog/", "catalog, other"),
    ("(mlflow/server/", "MLflow server handlers"),
    ("(mlflow/store/", "MLflow stores (tracking, registry, artifacts)"),
    ("(mlflow/", "MLflow, other"),
    ("(flask/", "Flask/Werkzeug (WSGI app)"),
    ("(werkzeug/", "Flask/Werkzeug (WSGI app)"),
    ("(fastapi/", "FastAPI/Starlette/pydantic (routing, validation, serialization)"),
    ("(starlette/", "FastAPI/Starlette/pydantic (routing, validation, serialization)"),
    ("(pydantic", "FastAPI/Starlette/pydantic (routing, validation, serialization)"),
    ("(a2wsgi/", "WSGI bridge"),
    ("(anyio/", "thread-pool hand-off (anyio)"),
    ("(uvicorn/", "uvicorn, httptools, event loop"),
    ("(asyncio/", "uvicorn, httptools, event loop"),
)
#: Steward's route modules: a sample whose stack holds one of their functions is that route's.
ROUTE = re.compile(r"^(\w+) \((?:registry|catalog)/http/routes/")


def summarize_py_spy(path: Path, top: int = 12) -> list[str]:
    """Where a server's GIL-held samples went: by layer (the innermost recognized frame
    decides, so the SQL a layer runs counts to that layer; the share spent inside
    SQLAlchemy is shown beside), by route (Steward's route functions; the event loop's
    middleware and uvicorn do not know the route), and the heaviest project functions
    (inclusive)."""
    layers: collections.Counter[str] = collections.Counter()
    in_sql: collections.Counter[str] = collections.Counter()
    routes: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")[1:]
        total += n
        layer = next(
            (name for frame in reversed(frames) for key, name in LAYERS if key in frame),
            "other (interpreter, libraries)",
        )
        layers[layer] += n
        if any("(sqlalchemy/" in frame for frame in frames):
            in_sql[layer] += n
        route = next((m[1] for frame in frames if (m := ROUTE.match(frame))), None)
        if route is None and any("(catalog/" in f or "(registry/" in f for f in frames):
            route = "(not in a route: middleware, dependencies, event loop)"
        if route is not None:
            routes[route] += n
        for frame in set(frames):
            if re.search(r"\((catalog|registry|common|policy)/", frame):
                functions[frame] += n
    if not total:
        return [f"{path.name}: no samples"]
    share = lambda n: f"{100 * n / total:5.1f}%"  # noqa: E731
    lines = [f"{path.name}: {total:,} samples; by layer (of which inside SQLAlchemy):"]
    lines += [
        f"  {share(n)}  {layer} ({100 * in_sql[layer] / total:.1f}%)"
        for layer, n in layers.most_common()
    ]
    if routes:
        lines.append("  by route:")
        lines += [f"  {share(n)}  {route}" for route, n in routes.most_common()]
        lines.append("  heaviest Steward functions (inclusive):")
        lines += [f"  {share(n)}  {frame}" for frame, n in functions.most_common(top)]
    return lines


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Options:
    levels: list[int]
    seconds: float
    rounds: int
    warmup: int
    steward_workers: int
    steward_register: str
    mlflow_workers: int | None
    mlflow_venv: Path
    profile: Path | None


Results = dict[tuple[str, int], Totals]


@dataclass
class Run:
    info: dict[str, str]
    #: What ran: each server's configuration, the client's packages.
    systems: dict[str, str]
    results: Results
    checks: list[str]
    profiles: list[str]


def run(opts: Options, workdir: Path, out: Run, exe: Path) -> None:
    """Start both servers, set them up, then measure every thread count in interleaved
    rounds, and check the work afterwards. Both servers are stopped whatever happens."""
    import mlflow

    from catalog.config import default_workers

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.update(QUIET_ENV)
    work = Workload()
    scratch = workdir / "client"
    scratch.mkdir()
    profiling = None
    if opts.profile is not None:
        opts.profile.mkdir(parents=True, exist_ok=True)
        profiling = Profiling(
            opts.profile,
            shutil.which("py-spy") or _venv_tool("py-spy"),
            importlib.util.find_spec("pyinstrument") is not None,
        )
        if profiling.py_spy is None:
            log("--profile: py-spy not found (pip install py-spy): servers not profiled")
        if not profiling.pyinstrument:
            log("--profile: pyinstrument not installed: the client is not profiled")
    workers = opts.steward_workers or default_workers()
    out.systems["Steward"] = (
        f"{workers} worker process{'es' if workers > 1 else ''}"
        f"{' (its default here)' if not opts.steward_workers else ''}, SQLite"
    )
    log(f"starting Steward ({out.systems['Steward']}) and MLflow")
    with contextlib.ExitStack() as stack:
        handle, token = start_steward(workdir / "steward", workers)
        stack.callback(handle.stop)
        peer = start_mlflow(exe, workdir / "mlflow", opts.mlflow_workers)
        stack.callback(peer.stop)
        out.systems["MLflow"] = (
            f"{peer_versions(exe)}, {opts.mlflow_workers or 'default (4)'} workers, SQLite"
        )
        try:
            steward_tracking = f"sqlite:///{workdir / 'client-tracking.db'}"
            steward = Side(
                key=STEWARD,
                registry_uri=f"steward:{handle.url}",
                tracking_uri=steward_tracking,
                experiment_id=local_experiment(steward_tracking, workdir / "client-artifacts"),
                names=[f"{CATALOG}.{SCHEMA}.t{k}" for k in range(max(opts.levels))],
                register=opts.steward_register,
                server_pid=handle.process.pid,
                netloc=handle.url.removeprefix("http://"),
                env={"STEWARD_TOKEN": token},
            )
            peer_side = Side(
                key=MLFLOW,
                registry_uri=peer.url,
                tracking_uri=peer.url,
                experiment_id="0",
                names=[f"t{k}" for k in range(max(opts.levels))],
                register="log",
                server_pid=peer.process.pid,
                netloc=peer.url.removeprefix("http://"),
                env={},
            )
            sides = [steward, peer_side]
            cycles = warm_steward_workers(handle, work, scratch, workers)
            log(f"Steward's workers warmed up: {cycles} finalize(s) over fresh connections")
            measure(sides, work, opts, scratch, profiling, out)
            log("checking versions, aliases, models and the audit log")
            registered = {s.key: _registered(out, s, opts) for s in sides}
            for side in sides:
                check_side(side, work, registered[side.key], scratch)
            files = check_same_files(
                champion_files(steward, scratch), champion_files(peer_side, scratch)
            )
            total = sum(registered[STEWARD].values())
            aliases = sum(t.ops for (key, _), t in out.results.items() if key == STEWARD)
            aliases += opts.warmup * sum(opts.levels)
            out.checks += [
                "every operation loaded the model it had just registered (its model_uuid)",
                *(
                    f"{LABEL[s.key]}: each thread's model holds versions 1..N, all READY, "
                    f"{ALIAS} on N, and predicts like the local model "
                    f"({sum(registered[s.key].values()):,} versions on "
                    f"{len(registered[s.key])} models)"
                    for s in sides
                ),
                f"the same files on both sides: {files}",
                "Steward's audit log: " + check_audit(handle.database_url, USER, total, aliases),
            ]
        except BaseException:
            print_tails([("steward", handle.logs()[-3000:]), ("mlflow", peer.logs()[-3000:])])
            raise
        finally:
            mlflow.set_registry_uri("")
            mlflow.set_tracking_uri(None)


def _venv_tool(name: str) -> str | None:
    """A tool installed in this interpreter's venv (``.venv/bin``), which may not be on
    PATH when the benchmark is started as ``.venv/bin/python``."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def _registered(out: Run, side: Side, opts: Options) -> dict[str, int]:
    """Versions each of the side's models should hold: its thread's operations at every
    level it took part in, and the warm-up's."""
    counts = dict.fromkeys(side.names, 0)
    for conc in opts.levels:
        for k in range(conc):
            counts[side.names[k]] += opts.warmup
    for conc in opts.levels:
        for k, n in out.results[(side.key, conc)].per_thread.items():
            counts[side.names[k]] += n
    return counts


def measure(
    sides: Sequence[Side],
    work: Workload,
    opts: Options,
    scratch: Path,
    profiling: Profiling | None,
    out: Run,
) -> None:
    with RequestCounter() as counter, contextlib.redirect_stderr(QuietStderr(sys.stderr)):
        for side in sides:
            make_models(side)
        for conc in opts.levels:
            for side in sides:
                if opts.warmup:
                    log(f"{LABEL[side.key]}, {threads_label(conc)}: {opts.warmup} warm-up op(s)")
                    warm_up(side, work, conc, opts.warmup, scratch)
            per_round = opts.seconds / opts.rounds
            for r in range(opts.rounds):
                order = list(sides) if r % 2 == 0 else list(reversed(sides))
                for side in order:
                    log(
                        f"{LABEL[side.key]}, {threads_label(conc)}, round {r + 1}/{opts.rounds}: "
                        f"{per_round:.0f} s"
                    )
                    spy = (
                        profiling.directory / f"py-spy-{side.key}-c{conc}-r{r + 1}.txt"
                        if profiling
                        else None
                    )
                    client = (
                        profiling.directory / f"pyinstrument-{side.key}-r{r + 1}.txt"
                        if profiling and profiling.pyinstrument and conc == 1
                        else None
                    )
                    with py_spy(profiling, side.server_pid, spy or Path(os.devnull)):
                        sample = closed_loop(side, work, conc, per_round, scratch, counter, client)
                    out.results.setdefault((side.key, conc), Totals()).add(sample)
                    log(
                        f"  {sample.ops} ops, {sample.ops / sample.seconds:.2f} ops/s, "
                        f"p50 {percentile(sample.op_ms, 50):.0f} ms"
                    )
    if profiling is not None and profiling.py_spy is not None:
        for side in sides:
            for conc in opts.levels:
                merged = profiling.directory / f"py-spy-{side.key}-c{conc}.txt"
                with merged.open("w") as target:
                    for r in range(opts.rounds):
                        part = profiling.directory / f"py-spy-{side.key}-c{conc}-r{r + 1}.txt"
                        if part.exists():
                            target.write(part.read_text(errors="replace"))
                out.profiles += summarize_py_spy(merged)


def warm_up(side: Side, work: Workload, conc: int, count: int, scratch: Path) -> None:
    """``count`` untimed operations on each of the models this thread count uses: the
    client's lazy imports, the servers' caches and connections are warm before timing."""
    side.activate()
    folder = scratch / f"{side.key}-warm-up"
    folder.mkdir(exist_ok=True)
    for name in side.names[:conc]:
        for _ in range(count):
            operation(side, work, name, folder)
    loaded_folder = folder / "check"
    loaded_folder.mkdir()
    import mlflow.pyfunc

    loaded = mlflow.pyfunc.load_model(
        f"models:/{side.names[0]}@{ALIAS}", dst_path=str(loaded_folder)
    )
    if not work.predicts_alike(loaded):
        raise RuntimeError(f"{side.key}: the model loaded does not predict as the local one")
    shutil.rmtree(loaded_folder)


# -- the report ------------------------------------------------------------------------------

#: (figure key, label, unit) in the table's order; "ms" figures are per operation.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("ops/s", "operations/s", "ops/s"),
    ("op p50", "operation p50", "ms"),
    ("op p99", "operation p99", "ms"),
    ("register p50", "register until READY p50", "ms"),
    ("alias p50", "set alias p50", "ms"),
    ("load p50", "load by alias p50", "ms"),
    ("client CPU/op", "client CPU/operation", "ms"),
    ("server CPU/op", "server CPU/operation", "ms"),
    ("requests/op", "HTTP requests/operation", "req"),
)
DECIMALS = {"ops/s": 2, "ms": 1, "req": 1}


def render(results: Results, levels: Sequence[int]) -> list[str]:
    rows = [["figure", "unit", LABEL[STEWARD], LABEL[MLFLOW], "Steward/MLflow"]]
    for conc in levels:
        ours = results[(STEWARD, conc)].figures()
        theirs = results[(MLFLOW, conc)].figures()
        for key, label, unit in ROWS:
            cell = ratio(ours[key], theirs[key])
            if key == "ops/s" and cell != "-":
                cell = f"**{cell}**"
            rows.append(
                [
                    f"{threads_label(conc)}: {label}",
                    unit,
                    fmt(ours[key], unit, DECIMALS),
                    fmt(theirs[key], unit, DECIMALS),
                    cell,
                ]
            )
    return markdown_table(rows)


def render_goal(results: Results, levels: Sequence[int]) -> list[str]:
    lines = []
    for conc in levels:
        ours = results[(STEWARD, conc)].figures()["ops/s"]
        theirs = results[(MLFLOW, conc)].figures()["ops/s"]
        if ours is None or not theirs:
            continue
        x = ours / theirs
        verdict = "meets" if x >= GOAL_RATIO else "misses"
        lines.append(
            f"{threads_label(conc)}: Steward {ours:.2f} ops/s, MLflow {theirs:.2f} ops/s: "
            f"{x:.2f}x, {verdict} the goal of {GOAL_RATIO:g}x"
        )
    return lines


def cpu_bound_note(results: Results, levels: Sequence[int], cores: int) -> list[str]:
    """How much of the machine each side used: (client + server CPU per operation) x
    operations/s, against the cores there are. Near the core count a side is CPU-bound,
    and its ceiling is cores / (client + server CPU per operation)."""
    lines = []
    for conc in levels:
        for key in (STEWARD, MLFLOW):
            f = results[(key, conc)].figures()
            client, server, rate = f["client CPU/op"], f["server CPU/op"], f["ops/s"]
            if client is None or server is None or rate is None:
                continue
            busy = (client + server) * rate / 1000
            ceiling = 1000 * cores / (client + server)
            lines.append(
                f"{threads_label(conc)}, {LABEL[key]}: client + server CPU "
                f"{client + server:.0f} ms/op, {busy:.2f} of {cores} cores busy; "
                f"CPU ceiling {ceiling:.1f} ops/s"
            )
    return lines


def payload(opts: Options, result: Run, elapsed: float) -> dict[str, object]:
    return {
        "machine": result.info,
        "systems": result.systems,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
        "figures": {
            f"{key}-c{conc}": totals.figures() for (key, conc), totals in result.results.items()
        },
        "checks": result.checks,
        "run_seconds": round(elapsed, 1),
    }


# -- arguments and main ----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/registry.py",
        description="MLflow's client registering, aliasing and loading a scikit-learn model: "
        "Steward (steward: registry URI) against stock `mlflow server --serve-artifacts`, "
        "both on SQLite, side by side in interleaved rounds.",
    )
    parser.add_argument(
        "--threads", default="1,4", help="client thread counts (default: %(default)s)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=40,
        help="measured seconds per system and thread count, over all rounds (default 40)",
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="interleaved rounds per thread count (default 4)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="untimed operations per thread before each thread count (default 2)",
    )
    parser.add_argument(
        "--steward-workers",
        type=int,
        default=0,
        help="Steward server processes (default: Steward's own default, one per core)",
    )
    parser.add_argument(
        "--steward-register",
        choices=("save", "log"),
        default="save",
        help="on Steward, save_model + register_model (default, as its docs say) or log_model "
        "with a tracking store on the client's disk",
    )
    parser.add_argument(
        "--mlflow-workers",
        type=int,
        default=None,
        help="mlflow server --workers (default: MLflow's default, 4)",
    )
    parser.add_argument(
        "--mlflow-venv",
        type=Path,
        default=DEFAULT_PEER_VENV,
        help="where the peer's full mlflow is installed (default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record both servers with py-spy and the client with pyinstrument (1 thread) "
        "into this folder, and summarize the servers' profiles",
    )
    add_json(parser)
    args = parser.parse_args(argv)
    levels = parse_levels(args.threads)
    if not levels or min(levels) < 1:
        parser.error("--threads: whole numbers, 1 or more")
    if args.seconds <= 0 or args.rounds < 1 or args.warmup < 1:
        parser.error("--seconds must be above 0, --rounds and --warmup 1 or more")
    opts = Options(
        levels=levels,
        seconds=args.seconds,
        rounds=args.rounds,
        warmup=args.warmup,
        steward_workers=args.steward_workers,
        steward_register=args.steward_register,
        mlflow_workers=args.mlflow_workers,
        mlflow_venv=args.mlflow_venv,
        profile=args.profile,
    )
    return opts, args.json


def main(argv: Sequence[str] | None = None) -> int:
    opts, json_path = parse_args(argv)
    exe = ensure_peer_venv(opts.mlflow_venv, CLIENT_MLFLOW)
    info = machine(None)
    result = Run(info=info, systems={}, results={}, checks=[], profiles=[])
    elapsed = run_in_tempdir(
        "steward-bench-registry-", info, lambda workdir: run(opts, workdir, result, exe)
    )
    result.systems["client"] = (
        f"mlflow-skinny {CLIENT_MLFLOW}, scikit-learn "
        f"{importlib.metadata.version('scikit-learn')}, skops "
        f"{importlib.metadata.version('skops')}; {max(opts.levels)} thread(s) max, one process"
    )
    steward_flow = (
        "save_model + register_model"
        if opts.steward_register == "save"
        else "log_model (client-side SQLite tracking) + registered_model_name"
    )
    print()
    print("MLflow's client: register (until READY), set alias, load by alias")
    print(machine_line(info))
    for name, text in result.systems.items():
        print(f"{name}: {text}")
    print(
        f"Steward: {steward_flow}, steward: registry URI; MLflow: log_model + "
        f"registered_model_name, tracking and registry on the server, files through its "
        f"artifact proxy"
    )
    print(
        f"closed loop, {opts.seconds:g} s per system and thread count in {opts.rounds} "
        f"interleaved rounds, after {opts.warmup} warm-up operation(s) per thread; "
        f"whole run {elapsed:.0f} s"
    )
    print()
    print("\n".join(render(result.results, opts.levels)))
    print()
    print("\n".join(render_goal(result.results, opts.levels)))
    cores = len(os.sched_getaffinity(0))
    print("\n".join(cpu_bound_note(result.results, opts.levels, cores)))
    print()
    print("checks passed:")
    print("\n".join(f"- {line}" for line in result.checks))
    if result.profiles:
        print()
        print(f"server profiles (py-spy --gil, files in {opts.profile}):")
        print("\n".join(result.profiles))
    write_json(json_path, payload(opts, result, elapsed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
