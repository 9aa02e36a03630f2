"""Model serving over HTTP: one scikit-learn model served by Steward and by ``mlflow models serve``.

Run it with ``.venv/bin/python -m benchmarks.serving`` (``--help`` for the options).

**The model.** One ``GradientBoostingRegressor`` (scikit-learn's defaults: 100 trees of depth
3; ``--trees``/``--depth`` to change) trained at start-up on 20,000 synthetic rows of 8
numeric features ``f0``..``f7``. ``f0``..``f6`` describe an entity (a customer, say) and
live in a feature table of ``--entities`` (10,000) rows keyed by ``id``; ``f7`` is known
only at request time (an amount). The same fitted object is served on both sides:

- **Steward** (``tests.support.start_server``: ``python -m steward server``, one uvicorn
  process, on a fresh SQLite file, or PostgreSQL with ``--backends``): the feature table
  ``bench.serving.customer_features`` is created and filled through
  ``POST /api/2.1/steward/tables/{name}/rows``; the model is registered with the Python
  client (``registry.Client.register_model``: skops, checksums, finalize) with a feature
  lookup of ``f0``..``f6`` on ``id``, alias ``champion``; an endpoint serves the alias.
  Requests come from ``bench_user``, who is not an admin and holds only QUERY on the
  endpoint (set-up checks that it is refused before the grant). Each request carries
  only ``id`` and ``f7``: Steward authenticates the token, authorizes QUERY, looks up
  ``f0``..``f6`` by key, predicts, and writes the invocation to its hash-chained audit log.
- **MLflow** (``mlflow models serve -m DIR --env-manager local --workers N``, MLflow's
  FastAPI scoring server on uvicorn): the same fitted model, written with skops by this
  process, saved by ``mlflow.sklearn.save_model`` (skops format, the same signature) in
  MLflow's own venv. MLflow's scoring server has no authentication, no audit log and no
  feature lookup: each request carries all 8 features.

Full ``mlflow`` is a benchmark-only dependency, installed pinned into its own venv by
:func:`benchmarks.registry_rest.ensure_mlflow_venv` (``--mlflow-venv``), never into the project's.

**The load.** One closed-loop client for every system: ``--concurrency`` threads, each
with one keep-alive httpx connection, each sending its next ``POST …/invocations`` as soon
as it has read the previous answer. Bodies are ``dataframe_split`` JSON, encoded before the
clock starts, drawn from a pool of random keys. Each ``--rows`` size (1 and 100 rows per
request) and concurrency level runs ``--duration`` seconds per system, cut into
``--rounds`` rounds in which the systems take turns, in an order that flips each round, so
a change of the machine's load touches all of them alike. ``--warmup`` seconds per system
come first.

**Checks.** Before anything is timed, the same rows are sent to every system and every
prediction must equal what the fitted model predicts in this process from the full
feature rows (difference at most ``1e-9``): the run stops if any differs. During the run
every answer must be 200 with one prediction per row. Afterwards Steward's audit log must
verify, and ``bench_user``'s events must be one ``queryServingEndpoint`` per request it sent
(plus its one refusal).

**Figures**, per rows size, concurrency and system: requests/s and rows/s (wall time of
the timed rounds), client p50/p99 latency (nearest rank), server CPU per request (user +
system over the server's process tree, from ``/proc``), and Steward/MLflow ratios against
the goal: at least 2x MLflow's throughput at an equal or lower p99.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
from sqlalchemy import func, select

from benchmarks.harness import (
    add_cpu,
    add_json,
    add_postgres_url,
    closed_loop_for,
    database_for,
    fmt,
    log,
    machine,
    machine_line,
    markdown_table,
    parse_backends,
    parse_levels,
    percentile,
    print_tails,
    ratio,
    run_in_tempdir,
    threads_label,
    tree_cpu_seconds,
    tree_pids,
    write_json,
)
from benchmarks.registry_rest import (
    DEFAULT_MLFLOW_VENV,
    MLFLOW_REQUIREMENT,
    MlflowServer,
    ensure_mlflow_venv,
    mlflow_version_of,
    wait_ready,
)
from catalog.audit.verify import verify
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from tests.support import ROOT as SOURCE_ROOT
from tests.support import ServerHandle, free_port, start_server

GOAL_RATIO = 2.0
UC = "/api/2.1/unity-catalog"
ROWS_API = "/api/2.1/steward/tables"
SQL_PATH = "/api/2.0/sql/statements"
ENDPOINTS = "/api/2.0/serving-endpoints"
CATALOG = "bench"
SCHEMA = "serving"
TABLE = f"{CATALOG}.{SCHEMA}.customer_features"
MODEL = f"{CATALOG}.{SCHEMA}.spend"
ALIAS = "champion"
ENDPOINT = "spend"
USER = "bench_user"
AUDIT_ACTION = "queryServingEndpoint"

KEY = "id"
#: Features looked up from the feature table by ``KEY`` …
TABLE_FEATURES = [f"f{i}" for i in range(7)]
#: … and the one the caller knows at request time.
REQUEST_FEATURES = ["f7"]
FEATURES = TABLE_FEATURES + REQUEST_FEATURES
TRAINING_ROWS = 20_000
#: Distinct request bodies per rows size; the threads cycle through them.
POOL = 512
#: Largest difference tolerated between a served prediction and the in-process one.
TOLERANCE = 1e-9

STEWARD = "steward"
#: Ends the name of a Steward served from ``--baseline-tree``.
BASELINE_SUFFIX = "-baseline"


def mlflow_name(workers: int) -> str:
    return f"mlflow-{workers}w"


# -- the data and the model ---------------------------------------------------------------


@dataclass
class World:
    """The entities' features, the fitted model and the request pools of both shapes."""

    features: np.ndarray  # entities x len(TABLE_FEATURES)
    model: Any
    #: rows per request → pool of (keys, request-time values) per request
    pools: dict[int, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def full_frame(self, keys: np.ndarray, request: np.ndarray) -> pd.DataFrame:
        values = np.column_stack([self.features[keys], request])
        return pd.DataFrame(values, columns=FEATURES)

    def expected(self, keys: np.ndarray, request: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(self.full_frame(keys, request)), dtype=float)

    def steward_body(self, keys: np.ndarray, request: np.ndarray) -> bytes:
        """Only the key and the request-time feature: Steward looks the rest up."""
        data = [[int(k), *map(float, r)] for k, r in zip(keys, request, strict=True)]
        return orjson.dumps(
            {"dataframe_split": {"columns": [KEY, *REQUEST_FEATURES], "data": data}}
        )

    def mlflow_body(self, keys: np.ndarray, request: np.ndarray) -> bytes:
        """Every feature: MLflow's scoring server has no lookup."""
        frame = self.full_frame(keys, request)
        data = [[float(v) for v in row] for row in frame.itertuples(index=False)]
        return orjson.dumps({"dataframe_split": {"columns": FEATURES, "data": data}})


def build_world(entities: int, trees: int, depth: int, rows_sizes: Sequence[int]) -> World:
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(20261123)
    features = rng.normal(size=(entities, len(TABLE_FEATURES)))
    keys = rng.integers(0, entities, size=TRAINING_ROWS)
    amount = rng.lognormal(mean=3.0, sigma=1.0, size=TRAINING_ROWS)
    x = np.column_stack([features[keys], amount])
    f = x.T
    target = (
        2.0 * f[0]
        + np.sin(3 * f[1])
        + f[2] * f[3]
        + np.where(f[4] > 0.5, 1.5, 0.0)
        + 0.3 * np.log1p(f[7])
        + rng.normal(scale=0.2, size=TRAINING_ROWS)
    )
    model = GradientBoostingRegressor(n_estimators=trees, max_depth=depth, random_state=0)
    started = time.perf_counter()
    model.fit(pd.DataFrame(x, columns=FEATURES), target)
    log(
        f"trained GradientBoostingRegressor({trees} trees, depth {depth}) on "
        f"{TRAINING_ROWS:,} rows in {time.perf_counter() - started:.1f} s"
    )
    world = World(features, model)
    for size in rows_sizes:
        world.pools[size] = [
            (
                rng.choice(entities, size=size, replace=False),
                rng.lognormal(mean=3.0, sigma=1.0, size=(size, len(REQUEST_FEATURES))),
            )
            for _ in range(POOL)
        ]
    return world


# -- the systems ----------------------------------------------------------------------------


def _ok(response: httpx.Response, what: str, expect: int = 200) -> httpx.Response:
    if response.status_code != expect:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:400]}")
    return response


@dataclass
class System:
    """One server under load: where to send invocations and how to read its cost."""

    name: str
    label: str
    base_url: str
    path: str
    headers: dict[str, str]
    #: rows per request → the encoded bodies, in the order of ``World.pools``
    bodies: dict[int, list[bytes]]
    cpu_seconds: Callable[[], float | None]
    tail: Callable[[], str]
    stop: Callable[[], None]
    #: invocations answered 200 to the benchmark's clients (Steward's audit check)
    sent: int = 0

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Content-Type": "application/json", **self.headers},
            timeout=60.0,
        )


class StewardSide:
    """A Steward server with the feature table, the registered model, the endpoint and a
    user who may only query it."""

    def __init__(self, backend: str, url: str, directory: Path, source: Path | None = None) -> None:
        self.backend = backend
        self.url = url
        #: Another source tree (``--baseline-tree``) this server runs, or None for this one.
        self.source = source
        self.handle: ServerHandle = start_server(
            url, directory / "storage", source=source or SOURCE_ROOT
        )
        self.admin = self.handle.client(self.handle.admin_token)
        self.cache = directory / "client-cache"
        #: status → invocations made by :meth:`invoke` (set-up), for the audit check
        self.statuses: dict[int, int] = {}

    def sql(self, statement: str) -> None:
        response = _ok(self.admin.post(SQL_PATH, json={"statement": statement}), statement)
        if response.json()["status"]["state"] != "SUCCEEDED":
            raise RuntimeError(f"{statement}: {response.text[:400]}")

    def set_up(self, world: World) -> None:
        admin = self.admin
        _ok(admin.post(f"{UC}/catalogs", json={"name": CATALOG}), "catalog")
        _ok(admin.post(f"{UC}/schemas", json={"name": SCHEMA, "catalog_name": CATALOG}), "schema")
        columns = [
            {"name": KEY, "type_name": "LONG", "type_text": "bigint", "position": 0,
             "nullable": False},
            *(
                {"name": name, "type_name": "DOUBLE", "type_text": "double", "position": i + 1,
                 "nullable": True}
                for i, name in enumerate(TABLE_FEATURES)
            ),
        ]  # fmt: skip
        body = {
            "name": TABLE.split(".")[2],
            "catalog_name": CATALOG,
            "schema_name": SCHEMA,
            "table_type": "MANAGED",
            "data_source_format": "DELTA",
            "columns": columns,
            "table_constraints": [
                {"primary_key_constraint": {"name": "pk", "child_columns": [KEY]}}
            ],
        }
        _ok(admin.post(f"{UC}/tables", json=body), "feature table")
        started = time.perf_counter()
        batch = 2000
        for start in range(0, len(world.features), batch):
            rows = [
                {KEY: i, **dict(zip(TABLE_FEATURES, map(float, world.features[i]), strict=True))}
                for i in range(start, min(start + batch, len(world.features)))
            ]
            _ok(admin.post(f"{ROWS_API}/{TABLE}/rows", json={"rows": rows}), "feature rows")
        log(
            f"steward ({self.backend}): {len(world.features):,} feature rows written in "
            f"{time.perf_counter() - started:.1f} s"
        )

        from registry import Client

        keys, request = world.pools[min(world.pools)][0]
        example = world.full_frame(keys, request)
        lookup = {"table_name": TABLE, "lookup_key": [KEY], "feature_names": TABLE_FEATURES}
        with Client(self.handle.url, self.handle.admin_token, cache_dir=self.cache) as client:
            version = client.register_model(
                world.model, MODEL, input_example=example, feature_lookups=[lookup], alias=ALIAS
            )
        log(f"steward ({self.backend}): {MODEL} v{version.version} registered, @{ALIAS}")

        entity = {"entity_name": MODEL, "alias": ALIAS}
        create = {"name": ENDPOINT, "config": {"served_entities": [entity]}}
        _ok(admin.post(ENDPOINTS, json=create), "serving endpoint")
        self.user, self.token = self.handle.create_user(USER)
        probe = world.steward_body(keys, request)
        refused = self.invoke(probe)
        # Refused: 404 since an endpoint the user may not see answers as missing; 403 from a
        # tree before that (--baseline-tree).
        if refused.status_code not in (403, 404):
            raise RuntimeError(
                f"steward: {USER} invoked {ENDPOINT} before any grant: "
                f"{refused.status_code} {refused.text[:300]}"
            )
        self.sql(f"GRANT QUERY ON SERVING ENDPOINT `{ENDPOINT}` TO `{self.user}`")
        deadline = time.monotonic() + 60
        while True:  # an endpoint may take a moment to load its model
            answer = self.invoke(probe)
            if answer.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        _ok(answer, f"steward: first invocation of {ENDPOINT} as {USER}")

    def invoke(self, body: bytes) -> httpx.Response:
        """One invocation as the user, outside the timed load; its status is counted for
        the audit check."""
        response = httpx.post(
            f"{self.handle.url}/serving-endpoints/{ENDPOINT}/invocations",
            content=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            timeout=60,
        )
        # A refusal answered as missing (404) is audited as the denial it is (403).
        audited = 403 if response.status_code == 404 else response.status_code
        self.statuses[audited] = self.statuses.get(audited, 0) + 1
        return response

    def system(self, world: World) -> System:
        name = f"{STEWARD}-{self.backend}"
        label = f"Steward ({self.backend})"
        if self.source is not None:
            name += BASELINE_SUFFIX
            label = f"Steward ({self.backend}, {self.source.name})"
        return System(
            name=name,
            label=label,
            base_url=self.handle.url,
            path=f"/serving-endpoints/{ENDPOINT}/invocations",
            headers={"Authorization": f"Bearer {self.token}"},
            bodies={n: [world.steward_body(*p) for p in pool] for n, pool in world.pools.items()},
            cpu_seconds=lambda: tree_cpu_seconds(self.handle.process.pid),
            tail=lambda: self.handle.logs()[-3000:],
            stop=self.handle.stop,
        )

    def audit(self, sent: int) -> dict[str, Any]:
        """The hash chains verify, and the user's events are one per invocation: ``sent``
        answered 200 under load, plus those of set-up (the refusal before the grant)."""
        deadline = time.monotonic() + 10
        db = Database(self.url)
        try:
            while True:  # events may be committed in groups a moment after the answer
                with db.read() as session:
                    report = verify(session)
                    rows = session.execute(
                        select(t.AuditEvent.action_name, t.AuditEvent.status_code, func.count())
                        .where(t.AuditEvent.user_name == self.user)
                        .group_by(t.AuditEvent.action_name, t.AuditEvent.status_code)
                    ).all()
                counts = {f"{action} {status}": n for action, status, n in rows}
                expected = {f"{AUDIT_ACTION} {code}": n for code, n in self.statuses.items()}
                expected[f"{AUDIT_ACTION} 200"] = expected.get(f"{AUDIT_ACTION} 200", 0) + sent
                if counts == expected or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        finally:
            db.dispose()
        if not report.ok:
            raise RuntimeError(f"steward: the audit log does not verify: {report.problems[:3]}")
        if counts != expected:
            raise RuntimeError(f"steward: {USER}'s audit events are {counts}, not {expected}")
        return {"events": report.events, "lanes": report.lanes, "by_action": counts}


#: Run in MLflow's venv: load the skops file this process wrote and save it as an MLflow model.
SAVE_MLFLOW_MODEL = """
import json, sys
import pandas as pd
import skops.io
import mlflow.sklearn
from mlflow.models import infer_signature

source, target, example = sys.argv[1:4]
trusted = skops.io.get_untrusted_types(file=source)  # the file this benchmark just wrote
model = skops.io.load(source, trusted=trusted)
frame = pd.DataFrame(**json.loads(open(example).read()))
mlflow.sklearn.save_model(
    model, target, signature=infer_signature(frame, model.predict(frame)),
    serialization_format="skops", skops_trusted_types=trusted,
)
"""


def save_mlflow_model(exe: Path, world: World, directory: Path) -> Path:
    """The fitted model as an MLflow model directory (sklearn flavor, skops)."""
    import skops.io

    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "model.skops"
    skops.io.dump(world.model, source)
    keys, request = world.pools[min(world.pools)][0]
    frame = world.full_frame(keys, request)
    example = directory / "example.json"
    example.write_text(json.dumps({"columns": FEATURES, "data": frame.values.tolist()}))
    target = directory / "mlflow-model"
    subprocess.run(
        [
            str(exe.parent / "python"),
            "-c",
            SAVE_MLFLOW_MODEL,
            str(source),
            str(target),
            str(example),
        ],
        check=True,
        env={**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"},
    )
    return target


def launch_mlflow_serve(exe: Path, model_dir: Path, directory: Path, workers: int) -> MlflowServer:
    """``mlflow models serve`` in its own process group (without waiting for it)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        # the scoring server is started as ``uvicorn …`` through bash: it must be on PATH
        "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        # MLflow 3.17 refuses to deserialize any model file, skops included, without it
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
    }
    command = [
        str(exe), "models", "serve", "-m", str(model_dir), "--env-manager", "local",
        "--host", "127.0.0.1", "-p", str(port), "--workers", str(workers),
    ]  # fmt: skip
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
    return MlflowServer(f"http://127.0.0.1:{port}", ("", ""), process, log_path, directory)


def mlflow_system(server: MlflowServer, workers: int, world: World) -> System:
    return System(
        name=mlflow_name(workers),
        label=f"MLflow ({workers} worker{'s' if workers > 1 else ''})",
        base_url=server.url,
        path="/invocations",
        headers={},
        bodies={n: [world.mlflow_body(*p) for p in pool] for n, pool in world.pools.items()},
        cpu_seconds=server.cpu_seconds,
        tail=lambda: server.logs()[-3000:],
        stop=server.stop,
    )


# -- checks and load ------------------------------------------------------------------------


def predictions_of(response: httpx.Response, rows: int) -> list[float] | None:
    if response.status_code != 200:
        return None
    try:
        found = orjson.loads(response.content)["predictions"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return found if isinstance(found, list) and len(found) == rows else None


def check_predictions(systems: Sequence[System], world: World, per_size: int) -> dict[str, Any]:
    """Every system answers the same rows with the in-process model's predictions."""
    worst: dict[str, float] = {}
    compared = 0
    for size, pool in world.pools.items():
        for index in range(min(per_size, len(pool))):
            expected = world.expected(*pool[index])
            for system in systems:
                with system.client() as client:
                    response = client.post(system.path, content=system.bodies[size][index])
                system.sent += 1
                got = predictions_of(response, size)
                if got is None:
                    raise RuntimeError(
                        f"{system.name}: no {size} predictions for request {index}: "
                        f"{response.status_code} {response.text[:400]}"
                    )
                diff = float(np.max(np.abs(np.asarray(got, dtype=float) - expected)))
                if not diff <= TOLERANCE:
                    raise RuntimeError(
                        f"{system.name} predicts differently from the model for the same rows "
                        f"(request {index} of {size} rows, max difference {diff:g}): "
                        f"served {got[:3]}…, expected {expected[:3].tolist()}…"
                    )
                worst[system.name] = max(worst.get(system.name, 0.0), diff)
            compared += size
    return {"rows_compared": compared, "max_difference": worst}


def _answer_failure(size: int) -> Callable[[int, httpx.Response], str | None]:
    def failure(_index: int, response: httpx.Response) -> str | None:
        if response.status_code != 200:
            return f"{response.status_code} {response.text[:300]}"
        if len(orjson.loads(response.content).get("predictions", ())) != size:
            return f"not {size} predictions: {response.text[:300]}"
        return None

    return failure


@dataclass
class Sample:
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: float | None = 0.0
    client_cpu: float = 0.0


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(system: System, size: int, conc: int, seconds: float, sample: Sample) -> None:
    clients = [system.client() for _ in range(conc)]
    try:
        for client in clients:  # open each keep-alive connection before the clock starts
            _ok(client.post(system.path, content=system.bodies[size][0]), f"{system.name} warm")
        system.sent += conc
        bodies = system.bodies[size]
        cpu_before, mine_before = system.cpu_seconds(), client_cpu()
        wall, latencies = closed_loop_for(
            clients,
            seconds,
            range(len(bodies)),
            lambda client, i: client.post(system.path, content=bodies[i]),
            _answer_failure(size),
        )
        cpu_after, mine_after = system.cpu_seconds(), client_cpu()
    finally:
        for client in clients:
            client.close()
    system.sent += len(latencies)
    sample.wall += wall
    sample.latencies += latencies
    sample.cpu = add_cpu(sample.cpu, cpu_before, cpu_after)
    sample.client_cpu += mine_after - mine_before


# -- figures ----------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    unit: str
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class Results:
    rows: dict[str, Row] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, dict[str, Any]] = field(default_factory=dict)
    systems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, system: str, key: str, label: str, unit: str, value: float) -> None:
        self.rows.setdefault(key, Row(key, label, unit)).values[system] = value


def record(system: str, size: int, conc: int, sample: Sample, out: Results) -> None:
    at = f"{size} row{'s' if size > 1 else ''}, {threads_label(conc)}"
    key = f"r{size}.c{conc}"
    n = len(sample.latencies)
    out.add(system, f"{key}.req", f"{at}: requests/s", "req/s", n / sample.wall)
    out.add(system, f"{key}.rows", f"{at}: rows/s", "rows/s", n * size / sample.wall)
    out.add(system, f"{key}.p50", f"{at}: p50", "ms", percentile(sample.latencies, 50))
    out.add(system, f"{key}.p99", f"{at}: p99", "ms", percentile(sample.latencies, 99))
    if sample.cpu is not None:
        out.add(system, f"{key}.cpu", f"{at}: server CPU/request", "ms", sample.cpu * 1000 / n)
    out.add(
        system, f"{key}.client", f"{at}: client CPU/request", "ms", sample.client_cpu * 1000 / n
    )


DECIMALS = {"req/s": 0, "rows/s": 0}


def render(out: Results) -> str:
    stewards = [(n, label) for n, label in out.systems if n.startswith(STEWARD)]
    peers = [(n, label) for n, label in out.systems if not n.startswith(STEWARD)]
    header = ["figure", "unit", *(label for _, label in out.systems)]
    pairs = [(s, p) for s in stewards for p in peers]
    # Each Steward from --baseline-tree against the same backend's Steward from this tree.
    by_name = dict(stewards)
    changes = [
        ((n.removesuffix(BASELINE_SUFFIX), by_name[n.removesuffix(BASELINE_SUFFIX)]), (n, label))
        for n, label in stewards
        if n.endswith(BASELINE_SUFFIX) and n.removesuffix(BASELINE_SUFFIX) in by_name
    ]
    header += [f"{s[1]}/{p[1]}" for s, p in [*pairs, *changes]]
    table = [header]
    for row in out.rows.values():
        cells = [row.label, row.unit]
        cells += [fmt(row.values.get(n), row.unit, DECIMALS) for n, _ in out.systems]
        cells += [ratio(row.values.get(s[0]), row.values.get(p[0])) for s, p in [*pairs, *changes]]
        table.append(cells)
    lines = markdown_table(table)
    if not pairs:
        return "\n".join(lines)
    lines += [
        "",
        "Ratios: Steward's figure divided by MLflow's (req/s, rows/s above 1: Steward is "
        "faster; ms below 1: Steward is faster or cheaper). Steward's requests carry the key "
        "and f7 and look f0..f6 up; MLflow's carry all 8 features.",
    ]
    for s, p in pairs:
        for key, row in out.rows.items():
            if not key.endswith(".req"):
                continue
            base = key.removesuffix(".req")
            mine, theirs = row.values.get(s[0]), row.values.get(p[0])
            p99 = out.rows.get(f"{base}.p99")
            if mine is None or not theirs or p99 is None:
                continue
            my99, their99 = p99.values.get(s[0]), p99.values.get(p[0])
            if my99 is None or their99 is None:
                continue
            factor = mine / theirs
            met = factor >= GOAL_RATIO and my99 <= their99
            lines.append(
                f"- {row.label.split(':')[0]}, {s[1]} vs {p[1]}: {mine:,.0f} / {theirs:,.0f} "
                f"req/s = **{factor:.2f}x**, p99 {my99:.1f} vs {their99:.1f} ms "
                f"(goal {GOAL_RATIO:.0f}x at ≤ p99: {'meets' if met else 'MISSES'} it)"
            )
    return "\n".join(lines)


def render_checks(out: Results) -> str:
    lines = ["Checks:"]
    c = out.checks
    if c:
        worst = ", ".join(f"{name} {d:g}" for name, d in c["max_difference"].items())
        lines.append(
            f"- before timing, {c['rows_compared']} rows sent to every system: every prediction "
            f"equals the in-process model's (largest difference: {worst}): ok"
        )
    lines.append("- every timed answer: 200 with one prediction per row: ok")
    for name, audit in out.audit.items():
        counts = ", ".join(f"{k} {v}" for k, v in sorted(audit["by_action"].items()))
        lines.append(
            f"- {name} audit log: {audit['events']} events in {audit['lanes']} lanes, hash "
            f"chains verify; {USER}'s events, one per request it sent: {counts}: ok"
        )
    return "\n".join(lines)


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Options:
    duration: float
    rounds: int
    warmup: float
    concurrency: list[int]
    rows: list[int]
    backends: list[str]
    postgres_url: str
    mlflow_workers: list[int]
    mlflow_venv: Path
    mlflow_python: str
    entities: int
    trees: int
    depth: int
    check_requests: int
    baseline_tree: Path | None = None


def run(opts: Options, out: Results, workdir: Path, info: dict[str, str]) -> None:
    world = build_world(opts.entities, opts.trees, opts.depth, opts.rows)
    with ExitStack() as stack:
        systems: list[System] = []
        stewards: list[tuple[StewardSide, System]] = []
        pending: list[tuple[int, MlflowServer]] = []
        try:
            if opts.mlflow_workers:
                exe = ensure_mlflow_venv(opts.mlflow_venv, opts.mlflow_python)
                info["mlflow, uvicorn (peer venv)"] = mlflow_version_of(exe)
                model_dir = save_mlflow_model(exe, world, workdir / "mlflow")
                for workers in opts.mlflow_workers:
                    log(f"mlflow: starting mlflow models serve --workers {workers}")
                    server = launch_mlflow_serve(
                        exe, model_dir, workdir / mlflow_name(workers), workers
                    )
                    stack.callback(server.stop)
                    pending.append((workers, server))
            for backend in opts.backends:
                for source in [None, *([opts.baseline_tree] if opts.baseline_tree else [])]:
                    suffix = BASELINE_SUFFIX if source else ""
                    directory = workdir / f"{STEWARD}-{backend}{suffix}"
                    directory.mkdir(parents=True)
                    url = stack.enter_context(database_for(backend, directory, opts.postgres_url))
                    where = f" from {source}" if source else ""
                    log(f"steward ({backend}): starting a server{where} on a fresh database")
                    side = StewardSide(backend, url, directory, source)
                    stack.callback(side.handle.stop)
                    side.set_up(world)
                    system = side.system(world)
                    stewards.append((side, system))
                    systems.append(system)
            for workers, server in pending:
                wait_ready(server)
                log(f"{mlflow_name(workers)}: up ({len(tree_pids(server.process.pid))} processes)")
                systems.append(mlflow_system(server, workers, world))
            out.systems = [(s.name, s.label) for s in systems]

            log(f"checking predictions: {opts.check_requests} requests per size and system")
            out.checks = check_predictions(systems, world, opts.check_requests)
            for system in systems:
                log(f"{system.name}: {opts.warmup:g} s warm-up")
                for size in opts.rows:
                    timed(
                        system, size, max(opts.concurrency), opts.warmup / len(opts.rows), Sample()
                    )
            for size in opts.rows:
                for conc in opts.concurrency:
                    samples = {s.name: Sample() for s in systems}
                    log(
                        f"{size} rows/request, {threads_label(conc)}: {opts.duration:g} s per "
                        f"system in {opts.rounds} rounds (load average {os.getloadavg()[0]:.2f})"
                    )
                    for r in range(opts.rounds):
                        order = systems if r % 2 == 0 else list(reversed(systems))
                        for system in order:
                            timed(
                                system,
                                size,
                                conc,
                                opts.duration / opts.rounds,
                                samples[system.name],
                            )
                    for system in systems:
                        sample = samples[system.name]
                        record(system.name, size, conc, sample, out)
                        log(
                            f"  {system.name}: {len(sample.latencies) / sample.wall:,.0f} req/s, "
                            f"p50 {percentile(sample.latencies, 50):.1f} ms, "
                            f"p99 {percentile(sample.latencies, 99):.1f} ms"
                        )
            for side, system in stewards:
                log(f"{system.name}: verifying the audit log")
                out.audit[system.label] = side.audit(system.sent)
        except BaseException:
            print_tails((s.name, s.tail()) for s in systems)
            raise


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.serving",
        description=(
            "One scikit-learn model served by Steward (token auth, QUERY check, feature "
            "lookup, audit) and by mlflow models serve, loaded side by side by the same "
            "closed-loop HTTP client: requests/s, rows/s, p50/p99, server CPU, ratios."
        ),
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=20.0,
        help="timed seconds per system at each rows size and concurrency (default %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="each duration is cut into this many rounds, alternating the systems "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=4.0,
        help="untimed seconds per system before the run (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency", default="1,4", help="client threads, comma-separated (default 1,4)"
    )
    parser.add_argument(
        "--rows", default="1,100", help="rows per request, comma-separated (default 1,100)"
    )
    parser.add_argument(
        "--backends",
        default="sqlite",
        help="Steward's database(s), comma-separated: sqlite, postgresql (default sqlite)",
    )
    add_postgres_url(parser)
    parser.add_argument(
        "--mlflow-workers",
        default="1",
        help="uvicorn workers of mlflow models serve, one peer per value, comma-separated; "
        "Steward runs one process (default 1; empty for Steward alone)",
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
        "--entities",
        type=int,
        default=10_000,
        help="rows of the feature table (default %(default)s)",
    )
    parser.add_argument(
        "--trees", type=int, default=100, help="boosting stages of the model (default %(default)s)"
    )
    parser.add_argument(
        "--depth", type=int, default=3, help="depth of each tree (default %(default)s)"
    )
    parser.add_argument(
        "--check-requests",
        type=int,
        default=20,
        help="requests per rows size whose predictions are compared before timing "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="also serve from this source tree (e.g. a git worktree of an earlier commit), "
        "as one more Steward per backend taking its turn in every round, to compare a "
        "change side by side",
    )
    add_json(parser)
    args = parser.parse_args(argv)
    if args.baseline_tree is not None and not (args.baseline_tree / "catalog").is_dir():
        parser.error(f"--baseline-tree {args.baseline_tree} is not a Steward source tree")
    concurrency = parse_levels(args.concurrency)
    rows = parse_levels(args.rows)
    workers = parse_levels(args.mlflow_workers)
    if not concurrency or not rows or min(*concurrency, *rows, args.rounds) < 1:
        parser.error("--concurrency, --rows and --rounds need values of at least 1")
    if args.duration <= 0 or args.warmup < 0 or args.check_requests < 1:
        parser.error("--duration must be positive, --warmup not negative, --check-requests ≥ 1")
    if max(rows) > args.entities:
        parser.error("--rows cannot exceed --entities (a request's keys are distinct)")
    opts = Options(
        duration=args.duration,
        rounds=args.rounds,
        warmup=args.warmup,
        concurrency=concurrency,
        rows=rows,
        backends=parse_backends(parser, args.backends),
        postgres_url=args.postgres_url,
        mlflow_workers=workers,
        mlflow_venv=args.mlflow_venv,
        mlflow_python=args.mlflow_python,
        entities=args.entities,
        trees=args.trees,
        depth=args.depth,
        check_requests=args.check_requests,
        baseline_tree=args.baseline_tree.resolve() if args.baseline_tree else None,
    )
    return opts, args.json


def main(argv: Sequence[str] | None = None) -> int:
    opts, json_path = parse_args(argv)
    out = Results()
    info = machine(opts.postgres_url if "postgresql" in opts.backends else None)
    elapsed = run_in_tempdir(
        "steward-bench-serving-", info, lambda workdir: run(opts, out, workdir, info)
    )
    print()
    print("Model serving over HTTP: Steward vs mlflow models serve")
    print(machine_line(info))
    print(
        f"model: GradientBoostingRegressor({opts.trees} trees, depth {opts.depth}), 8 features "
        f"(Steward looks 7 up by key from {opts.entities:,} feature rows); client: httpx, "
        f"keep-alive, closed loop, dataframe_split bodies; {opts.duration:g} s per system at "
        f"each of {opts.rows} rows x {opts.concurrency} thread(s), {opts.rounds} alternating "
        f"rounds, {opts.warmup:g} s warm-up; whole run {elapsed:.0f} s"
    )
    print()
    print(render(out))
    print()
    print(render_checks(out))
    write_json(
        json_path,
        {
            "machine": info,
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
            "systems": dict(out.systems),
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
