"""Audit log and lineage at scale: audited writes, filtered audit reads over 1M events,
lineage traversals over 1M edges, on SQLite and PostgreSQL side by side in one run.

Run it with ``.venv/bin/python -m benchmarks.audit_lineage`` (``--help`` for the options).

For each backend it creates a throw-away database (a SQLite file in a temporary
directory; a fresh PostgreSQL database ``steward_bench_<random>``, dropped at the end),
starts a real Steward server process on it (``tests.support.start_server``) and drives
it over HTTP with httpx clients that keep their connections alive, in a closed loop.
Both servers run for the whole run; every timed phase runs on one backend and then
right away on the other, so a change in the machine's load touches both alike.

1. **Audited mutations** (hash chain on, as always): ``POST /catalogs`` with unique
   names, then one SQL ``GRANT USE CATALOG ON CATALOG … TO `user_k``` per catalog
   through ``POST /api/2.0/sql/statements``, at 1 and then 4 client threads. Then, in
   this process, the chain's own cost: ``catalog.audit.log.append`` in a transaction
   (take a lane, hash, insert, move the head) against inserting the same row with no
   chain. Then the run checks its work: ``catalog.audit.verify.verify`` must find the
   log clean, and every acknowledged mutation (by its ``X-Request-Id``) must have
   exactly one event, with the right action, object and status.
2. **Filtered audit reads over 1M events**: ``--events`` properly chained events
   (``ChainedEvent`` hashed with ``event_hash``, as ``sealed()`` does), spread over the
   lanes the way the product spreads them (lane 0 on SQLite, the 16 lanes at random on
   PostgreSQL) and continuing each lane from its head, are bulk-loaded straight into
   ``audit_events`` (SQLite ``executemany``, PostgreSQL ``COPY``) and the lane heads
   moved to match. Then ``GET /api/2.1/steward/audit`` is timed with several filter
   shapes, and, when the SQL endpoint can read ``system.access.audit``, the same
   filters as ``SELECT`` statements. ``verify`` over the whole log is timed too, up to
   ``--verify-seconds``; so is its batch query half-way through the log, as written and
   as a row-value comparison.
3. **Lineage traversals over 1M edges**: a layered DAG of catalog tables is bulk-loaded
   into ``securables``/``table_details``/``lineage_nodes``/``lineage_edges`` and
   ``GET /api/2.1/steward/lineage`` is timed at depth 5, upstream, downstream and both;
   every answer must hold what a BFS over the generated edges finds.

The two backends' bulk loads run side by side in forked processes; they are reported,
not measured.

The peer of every figure is the other backend (PostgreSQL / SQLite); the chain's cost
is shown against an unchained insert; the read goals are ours: an audit query
and a depth-5 lineage traversal under 50 ms (Marquez users report 10–15 s for lineage
calls in production).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, func, insert, select, text, tuple_

from benchmarks.harness import (
    API,
    add_json,
    add_postgres_url,
    bulk_insert,
    closed_loop,
    database_for,
    fmt,
    log,
    log_offset,
    machine,
    machine_line,
    markdown_table,
    parse_backends,
    parse_levels,
    percentile,
    ratio,
    run_in_tempdir,
    server_cpu_seconds,
    server_durations,
    threads_label,
    warm_clients,
    write_json,
)
from catalog.audit import verify as verify_module
from catalog.audit.events import GENESIS, AuditEvent, ChainedEvent, encode_params, event_hash
from catalog.audit.log import LANES, append
from catalog.audit.verify import verify
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from catalog.records import new_id, now_ms
from tests.support import ServerHandle, start_server

SQL_PATH = "/api/2.0/sql/statements"
AUDIT_PATH = "/api/2.1/steward/audit"
LINEAGE_PATH = "/api/2.1/steward/lineage"
SCIM_USERS = "/api/2.0/preview/scim/v2/Users"
GOAL_MS = 50.0
#: Users the SQL GRANTs go to.
GRANTEES = 10
#: Lane of the unchained rows of the micro-measure; deleted again before verifying.
PLAIN_LANE = -1
#: Rows per batch of the bulk loads.
CHUNK = 50_000


# -- figures --------------------------------------------------------------------------


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    values: dict[str, float] = field(default_factory=dict)


class Results:
    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.notes: dict[str, Any] = {}
        self.checks: list[str] = []
        #: (phase, shape label, backend, p50) of the reads with a goal.
        self.goals: list[tuple[str, str, str, float]] = []

    def add(self, backend: str, key: str, label: str, unit: str, value: float) -> None:
        self.figures.setdefault(key, Figure(key, label, unit)).values[backend] = value

    def latencies(self, backend: str, key: str, label: str, samples: Sequence[float]) -> None:
        self.add(backend, f"{key}.p50", f"{label}: p50", "ms", percentile(samples, 50))
        self.add(backend, f"{key}.p99", f"{label}: p99", "ms", percentile(samples, 99))

    def note(self, what: str, backend: str, value: Any) -> None:
        self.notes.setdefault(what, {})[backend] = value


@dataclass
class Target:
    """One backend under test: its database and the server running on it."""

    backend: str
    url: str
    handle: ServerHandle
    #: X-Request-Id → (action, object, status) of every acknowledged timed mutation.
    acknowledged: dict[str, tuple[str, str, int]] = field(default_factory=dict)


@contextmanager
def server_cost(
    target: Target, out: Results, key: str, label: str, method: str, path: str, requests: int
) -> Iterator[None]:
    """The server's CPU per request (``/proc``) and its own p50 (access log) over a block."""
    offset = log_offset(target.handle)
    cpu = server_cpu_seconds(target.handle)
    yield
    after = server_cpu_seconds(target.handle)
    if cpu is not None and after is not None:
        per_request = (after - cpu) * 1000 / requests
        out.add(target.backend, f"{key}.cpu", f"{label}: server CPU/req", "ms", per_request)
    # The access-log line is written after the answer went out: wait for the last ones.
    deadline = time.monotonic() + 2.0
    while True:
        durations = server_durations(target.handle, offset, method, path)
        if len(durations) >= requests or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if len(durations) >= requests:
        mine = durations[-requests:]
        b = target.backend
        out.add(b, f"{key}.server_p50", f"{label}: server-side p50", "ms", percentile(mine, 50))
        out.add(b, f"{key}.server_p99", f"{label}: server-side p99", "ms", percentile(mine, 99))


# -- phase 1: audited mutations over HTTP ------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """One timed request and what its audit event must say."""

    method: str
    path: str
    body: dict[str, Any]
    action: str
    object_name: str


def create_catalog(name: str) -> Mutation:
    return Mutation("POST", f"{API}/catalogs", {"name": name}, "createCatalog", name)


def sql_grant(catalog: str, user: str) -> Mutation:
    statement = f"GRANT USE CATALOG ON CATALOG {catalog} TO `{user}`"
    return Mutation("POST", SQL_PATH, {"statement": statement}, "updatePermissions", catalog)


def acknowledged(mutation: Mutation, response: httpx.Response) -> bool:
    """200, and for a statement SUCCEEDED (the SQL endpoint answers 200 for FAILED too)."""
    if response.status_code != 200:
        return False
    return mutation.path != SQL_PATH or b'"SUCCEEDED"' in response.content


def send_mutations(
    target: Target, mutations: Sequence[Mutation], conc: int
) -> tuple[float, list[float]]:
    """Send ``mutations`` on ``conc`` threads, one keep-alive client each; every answer must
    acknowledge the change. Records each request id in ``target.acknowledged``."""
    clients = warm_clients(target.handle, conc)
    acks: list[tuple[str, Mutation, int]] = []

    def failure(m: Mutation, response: httpx.Response) -> str | None:
        if not acknowledged(m, response):
            return f"{response.status_code} {response.text[:300]}"
        acks.append((response.headers["x-request-id"], m, response.status_code))
        return None

    try:
        wall, latencies = closed_loop(
            clients,
            mutations,
            lambda client, m: client.request(m.method, m.path, json=m.body),
            failure,
            lambda m: f"{m.body}: ",
        )
    finally:
        for client in clients:
            client.close()
    for request_id, m, status in acks:
        target.acknowledged[request_id] = (m.action, m.object_name, status)
    return wall, latencies


def bench_mutations(
    target: Target, kind: str, conc: int, mutations: Sequence[Mutation], out: Results
) -> None:
    label = f"{kind}, {threads_label(conc)}"
    key = f"mut.{kind.split()[0].lower()}.c{conc}"
    log(f"{target.backend}: {label} x{len(mutations)}")
    with server_cost(target, out, key, label, "POST", mutations[0].path, len(mutations)):
        wall, lat = send_mutations(target, mutations, conc)
        out.add(target.backend, f"{key}.rps", f"{label}: req/s", "req/s", len(lat) / wall)
        out.latencies(target.backend, key, label, lat)


def phase_mutations(targets: Sequence[Target], opts: Options, out: Results) -> None:
    users = [f"user_{k}" for k in range(GRANTEES)]
    for conc in opts.concurrency:
        names = [f"mut_c{conc}_{i:06d}" for i in range(opts.mutations)]
        creates = [create_catalog(n) for n in names]
        grants = [sql_grant(n, users[i % GRANTEES]) for i, n in enumerate(names)]
        for target in targets:
            bench_mutations(target, "create catalog (REST)", conc, creates, out)
        for target in targets:
            bench_mutations(target, "GRANT (SQL)", conc, grants, out)


# -- phase 1b: what the chain costs, in-process -----------------------------------------


def micro_event(i: int, rng: random.Random) -> AuditEvent:
    name = f"micro_{i:06d}"
    return AuditEvent(
        service_name="unityCatalog",
        action_name="createCatalog",
        request_id=f"{rng.getrandbits(128):032x}",
        user_name="admin",
        status_code=200,
        request_params=encode_params({"method": "POST", "path": f"{API}/catalogs", "name": name}),
        object_name=name,
        source_ip_address="127.0.0.1",
        user_agent="python-httpx/0.28.1",
    )


def chain_cost(target: Target, opts: Options, out: Results) -> None:
    """``append`` (lane, hash, insert, head) vs a plain insert of the same row, one
    transaction each, alternating in blocks so both see the same machine."""
    db = Database(target.url)
    rng = random.Random(f"{opts.seed}/micro/{target.backend}")
    chained: list[float] = []
    plain: list[float] = []
    plain_seq = 0

    def one_chained(event: AuditEvent) -> float:
        started = time.perf_counter()
        with db.transaction() as session:
            append(session, event)
        return (time.perf_counter() - started) * 1000

    def one_plain(event: AuditEvent) -> float:
        nonlocal plain_seq
        plain_seq += 1
        started = time.perf_counter()
        with db.transaction() as session:
            row = ChainedEvent(event, PLAIN_LANE, plain_seq, GENESIS, GENESIS).row()
            session.execute(insert(t.AuditEvent).values(**row))
        return (time.perf_counter() - started) * 1000

    log(f"{target.backend}: append vs plain insert, {opts.appends} transactions each")
    try:
        for i in range(20):  # warm-up: pools, statement caches
            one_chained(micro_event(i, rng))
            one_plain(micro_event(i, rng))
        block = 50
        for start in range(0, opts.appends, block):
            n = min(block, opts.appends - start)
            events = [micro_event(start + i, rng) for i in range(2 * n)]
            first, second = (
                (one_chained, one_plain) if start // block % 2 == 0 else (one_plain, one_chained)
            )
            for i in range(n):
                a, b = first(events[2 * i]), second(events[2 * i + 1])
                (chained if first is one_chained else plain).append(a)
                (plain if first is one_chained else chained).append(b)
    finally:
        with db.transaction() as session:
            session.execute(delete(t.AuditEvent).where(t.AuditEvent.lane == PLAIN_LANE))
        db.dispose()
    b = target.backend
    label = "in-process, 1 thread"
    out.add(
        b,
        "chain.append.p50",
        f"append (chain + insert) {label}: p50",
        "ms",
        percentile(chained, 50),
    )
    out.add(b, "chain.plain.p50", f"insert, no chain, {label}: p50", "ms", percentile(plain, 50))
    out.add(
        b,
        "chain.append.tps",
        "append (chain + insert): txn/s",
        "txn/s",
        1000 * len(chained) / sum(chained),
    )
    out.add(
        b, "chain.plain.tps", "insert, no chain: txn/s", "txn/s", 1000 * len(plain) / sum(plain)
    )
    mean_a, mean_p = sum(chained) / len(chained), sum(plain) / len(plain)
    out.add(b, "chain.cost", "what the chain adds per transaction (mean)", "ms", mean_a - mean_p)
    out.add(b, "chain.ratio", "append / plain insert (mean)", "x", mean_a / mean_p)


# -- checking phase 1's work --------------------------------------------------------------


def check_mutations(target: Target, out: Results) -> None:
    """verify() must pass, and each acknowledged mutation must have exactly one event."""
    db = Database(target.url)
    try:
        started = time.perf_counter()
        with db.read() as session:
            report = verify(session)
        seconds = time.perf_counter() - started
        if not report.ok:
            raise RuntimeError(f"{target.backend}: verify found {report.first}")
        ids = list(target.acknowledged)
        seen: Counter[str] = Counter()
        wrong: list[str] = []
        e = t.AuditEvent
        with db.read() as session:
            for start in range(0, len(ids), 500):
                rows = session.execute(
                    select(e.request_id, e.action_name, e.object_name, e.status_code).where(
                        e.request_id.in_(ids[start : start + 500])
                    )
                )
                for request_id, action, obj, status in rows:
                    seen[request_id] += 1
                    if (action, obj, status) != target.acknowledged[request_id]:
                        wrong.append(f"{request_id}: {action} {obj} {status}")
    finally:
        db.dispose()
    missing = [i for i in ids if seen[i] == 0]
    doubled = [i for i in ids if seen[i] > 1]
    if missing or doubled or wrong:
        raise RuntimeError(
            f"{target.backend}: of {len(ids)} acknowledged mutations, {len(missing)} have no "
            f"event, {len(doubled)} more than one, {len(wrong)} a wrong one: "
            f"{(missing + doubled + wrong)[:3]}"
        )
    out.checks.append(
        f"{target.backend}: verify() clean over {report.events:,} events in {report.lanes} "
        f"lanes ({report.checkpoints} checkpoints, {seconds:.1f} s); each of the "
        f"{len(ids):,} acknowledged mutations has exactly one event with its action, "
        "object and status: ok"
    )


# -- bulk loads, one process per backend -------------------------------------------------


def in_parallel(jobs: dict[str, Callable[[], dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Run each job in a forked process of its own, at the same time; their results by name.

    The loads are not what is measured (only reported), and on 2 cores the two backends'
    loads take about half the time side by side. The children inherit the generated data.
    """
    if len(jobs) == 1:
        return {name: job() for name, job in jobs.items()}
    context = multiprocessing.get_context("fork")
    results: dict[str, dict[str, float]] = {}
    pipes = {}
    processes = []
    for name, job in jobs.items():
        receive, send = context.Pipe(duplex=False)

        def child(job: Callable[[], dict[str, float]] = job, send: Any = send) -> None:
            try:
                send.send(("ok", job()))
            except BaseException:
                send.send(("error", traceback.format_exc()))

        process = context.Process(target=child, name=f"load-{name}")
        process.start()
        pipes[name] = receive
        processes.append(process)
    errors = []
    for name, receive in pipes.items():
        try:
            status, value = receive.recv()
        except EOFError:
            status, value = "error", "the loading process died"
        if status == "ok":
            results[name] = value
        else:
            errors.append(f"{name}: {value}")
    for process in processes:
        process.join()
    if errors:
        raise RuntimeError("bulk load failed:\n" + "\n".join(errors))
    return results


def drop_indexes(db: Database, tables: Sequence[Any]) -> list[Any]:
    """Drop the plain (non-unique) indexes of ``tables`` for a bulk load; the unique ones stay
    and keep checking the rows. Returns them for :func:`create_indexes`."""
    indexes = [ix for table in tables for ix in sorted(table.indexes, key=lambda i: i.name)]
    indexes = [ix for ix in indexes if not ix.unique]
    with db.transaction() as session:
        for index in indexes:
            session.execute(text(f"DROP INDEX {index.name}"))
    return indexes


def create_indexes(db: Database, indexes: Sequence[Any]) -> None:
    """Build again the indexes :func:`drop_indexes` dropped, as the migrations define them."""
    with db.transaction() as session:
        for index in indexes:
            index.create(session.connection())


@contextmanager
def loading(db: Database) -> Iterator[Any]:
    """A write transaction for generated rows. On PostgreSQL the per-row foreign-key
    triggers are off in it (``session_replication_role = replica``): the rows are
    consistent by construction, and the checks would double the time of the load. On
    SQLite the connection gets a page cache of 256 MB instead of 2 MB, so inserts into
    indexes keyed by random UUIDs do not go back to the file for every page."""
    with db.transaction() as session:
        conn = session.connection()
        if db.backend == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("PRAGMA cache_size = -262144")
        yield conn


# -- phase 2: 1M chained events ---------------------------------------------------------

#: (action_name, service_name, kind of object) in order of popularity (Zipf, s = 1).
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("getTable", "unityCatalog", "table"),
    ("executeStatement", "databrickssql", "table"),
    ("generateTemporaryTableCredential", "unityCatalog", "table"),
    ("listTables", "unityCatalog", "schema"),
    ("getLineage", "steward", "table"),
    ("getSchema", "unityCatalog", "schema"),
    ("listSchemas", "unityCatalog", "catalog"),
    ("getCatalog", "unityCatalog", "catalog"),
    ("getPermissions", "unityCatalog", "table"),
    ("queryServingEndpoint", "serving", "endpoint"),
    ("listCatalogs", "unityCatalog", "none"),
    ("getRegisteredModel", "unityCatalog", "model"),
    ("getModelVersion", "unityCatalog", "model"),
    ("listModelVersions", "unityCatalog", "model"),
    ("summary", "unityCatalog", "none"),
    ("scimMe", "accounts", "user"),
    ("postLineageEvent", "lineage", "table"),
    ("updateTable", "unityCatalog", "table"),
    ("createTable", "unityCatalog", "table"),
    ("getEffectivePermissions", "unityCatalog", "table"),
    ("updatePermissions", "unityCatalog", "table"),
    ("listRegisteredModels", "unityCatalog", "schema"),
    ("generateTemporaryModelVersionCredential", "unityCatalog", "model"),
    ("getByAlias", "unityCatalog", "model"),
    ("getServingEndpoint", "serving", "endpoint"),
    ("listServingEndpoints", "serving", "none"),
    ("deleteTable", "unityCatalog", "table"),
    ("createModelVersion", "unityCatalog", "model"),
    ("finalizeModelVersion", "unityCatalog", "model"),
    ("setRegisteredModelAlias", "unityCatalog", "model"),
    ("getUser", "accounts", "user"),
    ("listUsers", "accounts", "none"),
    ("getGroup", "accounts", "group"),
    ("listGroups", "accounts", "none"),
    ("listAuditEvents", "steward", "none"),
    ("getStatement", "databrickssql", "none"),
    ("cancelStatement", "databrickssql", "none"),
    ("createSchema", "unityCatalog", "schema"),
    ("updateSchema", "unityCatalog", "schema"),
    ("createRegisteredModel", "unityCatalog", "model"),
    ("updateRegisteredModel", "unityCatalog", "model"),
    ("updateModelVersion", "unityCatalog", "model"),
    ("deleteRegisteredModelAlias", "unityCatalog", "model"),
    ("createToken", "accounts", "user"),
    ("listTokens", "accounts", "user"),
    ("revokeToken", "accounts", "user"),
    ("createOboToken", "accounts", "user"),
    ("patchGroup", "accounts", "group"),
    ("updateServingEndpointConfig", "serving", "endpoint"),
    ("createServingEndpoint", "serving", "endpoint"),
    ("deleteModelVersion", "unityCatalog", "model"),
    ("deleteSchema", "unityCatalog", "schema"),
    ("createCatalog", "unityCatalog", "catalog"),
    ("updateCatalog", "unityCatalog", "catalog"),
    ("deleteRegisteredModel", "unityCatalog", "model"),
    ("deleteServingEndpoint", "serving", "endpoint"),
    ("createUser", "accounts", "user"),
    ("createGroup", "accounts", "group"),
    ("deleteCatalog", "unityCatalog", "catalog"),
    ("deleteUser", "accounts", "user"),
)
PATHS = {
    "unityCatalog": API,
    "databrickssql": "/api/2.0/sql/statements",
    "steward": "/api/2.1/steward",
    "serving": "/api/2.0/serving-endpoints",
    "accounts": "/api/2.0/preview/scim/v2",
    "lineage": "/api/v1/lineage",
}
USERS = 2_000
CATALOGS = 200
SCHEMAS_PER_CATALOG = 10
TABLES_PER_SCHEMA = 50
DAYS = 30
FAILURE_RATE = 0.03
#: (status, error code, share of failures); 401s have no user.
FAILURES = (
    (403, "PERMISSION_DENIED", 0.50),
    (404, "RESOURCE_DOES_NOT_EXIST", 0.30),
    (400, "INVALID_PARAMETER_VALUE", 0.12),
    (401, "UNAUTHENTICATED", 0.05),
    (500, "INTERNAL_ERROR", 0.03),
)
USER_AGENTS = (
    "databricks-sdk-py/0.38.0 python/3.11.7",
    "steward-cli/0.1 python-httpx/0.28.1",
    "python-httpx/0.28.1",
    "openlineage-spark/1.24.2",
    "openlineage-airflow/1.24.2",
    "dbt-databricks/1.9.1",
    "unitycatalog-client/0.7.0",
    "curl/8.5.0",
)


def zipf_weights(n: int, s: float) -> list[float]:
    """Cumulative Zipf weights of ranks 1..n, for ``random.choices(cum_weights=…)``."""
    return list(accumulate(1 / (k**s) for k in range(1, n + 1)))


def user_name(k: int) -> str:
    return f"user_{k:04d}@example.com"


def catalog_name(k: int) -> str:
    return f"cat_{k:03d}"


@dataclass
class AuditLoad:
    """The generated events (shared by both backends) and the filters that probe them."""

    events: list[AuditEvent]
    seconds: float
    #: filter → how many generated events it matches (what the log holds besides).
    matches: dict[str, int]
    action: str
    user: str
    catalog: str
    recent_action: str
    #: The newest moment events were generated up to.
    end: datetime


def generate_events(n: int, seed: int, end: datetime) -> AuditLoad:
    """``n`` events over the ``DAYS`` before ``end``, oldest first: Zipf-skewed actions
    (60 names), users (2,000) and catalogs (200, 10 schemas of 50 tables each), ~3%
    failures, request params, addresses and user agents as the product writes them."""
    started = time.perf_counter()
    rng = random.Random(f"{seed}/events")
    actions = rng.choices(ACTIONS, cum_weights=zipf_weights(len(ACTIONS), 1.0), k=n)
    users = rng.choices(range(USERS), cum_weights=zipf_weights(USERS, 0.9), k=n)
    catalogs = rng.choices(range(CATALOGS), cum_weights=zipf_weights(CATALOGS, 0.9), k=n)
    span_us = DAYS * 86_400 * 1_000_000
    offsets = sorted(int(rng.random() * span_us) for _ in range(n))
    first = end - timedelta(microseconds=span_us)
    failure_kinds = [f[:2] for f in FAILURES]
    failure_weights = list(accumulate(f[2] for f in FAILURES))
    addresses = [
        f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(300)
    ]
    r, bits = rng.random, rng.getrandbits
    user_names = [user_name(k) for k in range(USERS)]
    catalog_names = [catalog_name(k) for k in range(CATALOGS)]
    events: list[AuditEvent] = []
    for i in range(n):
        action, service, kind = actions[i]
        cat = catalog_names[catalogs[i]]
        schema = f"{cat}.sch_{int(r() * SCHEMAS_PER_CATALOG)}"
        if kind == "table":
            obj: str | None = f"{schema}.tbl_{int(r() * TABLES_PER_SCHEMA):02d}"
        elif kind == "schema":
            obj = schema
        elif kind == "catalog":
            obj = cat
        elif kind == "model":
            obj = f"{schema}.model_{int(r() * 5)}"
        elif kind == "endpoint":
            obj = f"endpoint-{catalogs[i] % 40}"
        elif kind == "user":
            obj = user_names[int(r() * USERS)]
        elif kind == "group":
            obj = f"group_{int(r() * 150)}"
        else:
            obj = None
        user: str | None = user_names[users[i]]
        method = "GET" if action.startswith(("get", "list", "summary", "scim")) else "POST"
        status, error = (201 if action.startswith("create") else 200), None
        if r() < FAILURE_RATE:
            status, code = rng.choices(failure_kinds, cum_weights=failure_weights)[0]
            if status == 401:
                user = None
                error = f"{code}: a valid token is required"
            else:
                error = f"{code}: {action} on {obj or 'the metastore'} refused"
        params: dict[str, Any] = {"method": method, "path": f"{PATHS[service]}/{action}"}
        if obj is not None:
            params["full_name" if "." in obj else "name"] = obj
        u = f"{bits(128):032x}"  # a version-4 UUID's text form
        event_id = f"{u[:8]}-{u[8:12]}-4{u[13:16]}-{'89ab'[int(r() * 4)]}{u[17:20]}-{u[20:]}"
        events.append(
            AuditEvent(
                service_name=service,
                action_name=action,
                request_id=f"{bits(128):032x}",
                user_name=user,
                status_code=status,
                request_params=encode_params(params),
                object_name=obj,
                error_message=error,
                source_ip_address=addresses[users[i] % len(addresses)],
                user_agent=USER_AGENTS[users[i] % len(USER_AGENTS)],
                event_time=first + timedelta(microseconds=offsets[i]),
                event_id=event_id,
            )
        )
    # The probed values: an action of middling popularity, a user and a catalog of rank 50
    # and 20, and the most frequent action for the "last day" filter.
    action, user, catalog, recent = ACTIONS[18][0], user_name(49), catalog_name(19), ACTIONS[0][0]
    day_ago = end - timedelta(days=1)
    matches = {
        "action": sum(e.action_name == action for e in events),
        "user": sum(e.user_name == user for e in events),
        "object": sum(
            e.object_name is not None
            and (e.object_name == catalog or e.object_name.startswith(catalog + "."))
            for e in events
        ),
        "recent": sum(e.action_name == recent and e.event_time >= day_ago for e in events),
        "failed": sum(e.status_code >= 400 for e in events),
    }
    seconds = time.perf_counter() - started
    return AuditLoad(events, seconds, matches, action, user, catalog, recent, end)


_EVENT_COLUMNS = [c.name for c in t.AuditEvent.__table__.columns if c.name != "id"]


def _sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a value (the UTC fields, no zone)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def load_events(target: Target, load: AuditLoad) -> dict[str, float]:
    """Chain ``load.events`` onto the lanes' heads and insert them; move the heads.

    SQLite: every event on lane 0, as ``append`` does there. PostgreSQL: each event on a
    lane drawn at random, as ``append``'s random start over free lanes does when the lanes
    are not contended. The four secondary indexes are dropped for the load and built again
    after it (the unique constraints stay); the server is idle meanwhile, so nothing else
    appends. Returns the seconds of each step.
    """
    db = Database(target.url)
    backend = db.backend
    rng = random.Random(f"load/{backend}")
    timings = {"hash_s": 0.0, "insert_s": 0.0}
    try:
        with db.read() as session:
            heads = {
                lane: (seq, head)
                for lane, seq, head in session.execute(
                    select(t.AuditLane.lane, t.AuditLane.seq, t.AuditLane.head)
                )
            }
        indexes = drop_indexes(db, [t.AuditEvent.__table__])
        lanes = [0] if backend == "sqlite" else list(range(LANES))
        events = load.events
        for start in range(0, len(events), CHUNK):
            began = time.perf_counter()
            rows: list[tuple[Any, ...]] = []
            for event in events[start : start + CHUNK]:
                lane = lanes[0] if len(lanes) == 1 else lanes[int(rng.random() * len(lanes))]
                seq, prev = heads[lane]
                seq += 1
                # What ChainedEvent.sealed() computes, without copying the dataclass.
                digest = event_hash(ChainedEvent(event, lane, seq, prev))
                heads[lane] = (seq, digest)
                moment, day = event.event_time, event.event_date
                rows.append(
                    (
                        event.event_id,
                        _sqlite_time(moment) if backend == "sqlite" else moment,
                        day.isoformat() if backend == "sqlite" else day,
                        lane,
                        seq,
                        event.user_name,
                        event.service_name,
                        event.action_name,
                        event.request_id,
                        event.object_name,
                        event.request_params,
                        event.status_code,
                        event.error_message,
                        event.source_ip_address,
                        event.user_agent,
                        prev,
                        digest,
                    )
                )
            hashed = time.perf_counter()
            with loading(db) as conn:
                _insert_rows(conn, rows)
            timings["hash_s"] += hashed - began
            timings["insert_s"] += time.perf_counter() - hashed
            done = start + len(rows)
            if done % (CHUNK * 4) == 0 or done == len(events):
                log(f"{target.backend}: {done:,} events loaded")
        began = time.perf_counter()
        create_indexes(db, indexes)
        with db.transaction() as session:
            for lane, (seq, head) in heads.items():
                session.execute(
                    t.AuditLane.__table__.update()
                    .where(t.AuditLane.lane == lane)
                    .values(seq=seq, head=head)
                )
        timings["index_s"] = time.perf_counter() - began
        if backend == "postgresql":
            # What autovacuum does by itself after a bulk insert; done now so the plans do
            # not depend on when it happens to run.
            began = time.perf_counter()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM (ANALYZE) audit_events"))
            timings["vacuum_s"] = time.perf_counter() - began
    finally:
        db.dispose()
    return timings


def timed_load(
    loader: Callable[[Target, Any], dict[str, float]], target: Target, data: Any
) -> dict[str, float]:
    started = time.perf_counter()
    timings = loader(target, data)
    timings["total_s"] = time.perf_counter() - started
    return timings


def _insert_rows(conn: Any, rows: list[tuple[Any, ...]]) -> None:
    columns = ", ".join(_EVENT_COLUMNS)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY audit_events ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in _EVENT_COLUMNS)
        conn.exec_driver_sql(f"INSERT INTO audit_events ({columns}) VALUES ({marks})", rows)


# -- phase 2: timing the reads ------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    key: str
    label: str
    #: Query parameters of GET /audit.
    params: dict[str, str]
    #: Checks one returned event against the filter.
    check: Callable[[dict[str, Any]], bool]
    #: The same filter as a WHERE clause over system.access.audit ('' for none).
    where: str
    #: How many loaded events match (the log holds a few more from the run itself).
    matches: int
    #: Page to time (1 = the first); deeper pages are reached by walking the tokens.
    page: int = 1


def audit_shapes(load: AuditLoad, page_size: int, deep_page: int) -> list[Shape]:
    cat, m = load.catalog, load.matches
    # A small --events may not have that many pages of the action: take the deepest there is.
    deep_page = max(1, min(deep_page, m["action"] // page_size))
    # Events of the last day: the server counts back from the request, a little after `end`.
    day_ago = (load.end - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [
        Shape(
            "action",
            f"action={load.action}",
            {"action": load.action},
            lambda e: e["action_name"] == load.action,
            f"action_name = '{load.action}'",
            m["action"],
        ),
        Shape(
            "user",
            f"user={load.user}",
            {"user": load.user},
            lambda e: e["user_identity"]["email"] == load.user,
            f"user_identity.email = '{load.user}'",
            m["user"],
        ),
        Shape(
            "object",
            f"object={cat} (prefix)",
            {"object": cat},
            lambda e: e.get("object_name") == cat or e.get("object_name", "").startswith(cat + "."),
            f"(object_name = '{cat}' OR object_name LIKE '{cat}.%')",
            m["object"],
        ),
        Shape(
            "recent",
            f"action={load.recent_action}&since=1d",
            {"action": load.recent_action, "since": "1d"},
            lambda e: e["action_name"] == load.recent_action and e["event_time"] >= day_ago,
            f"action_name = '{load.recent_action}' "
            "AND event_time >= current_timestamp() - INTERVAL 1 DAY",
            m["recent"],
        ),
        Shape(
            "failed",
            "failed=true",
            {"failed": "true"},
            lambda e: e["response"]["status_code"] >= 400,
            "response.status_code >= 400",
            m["failed"],
        ),
        Shape(
            "deep",
            f"action={load.action}, page {deep_page} (page_token)",
            {"action": load.action},
            lambda e: e["action_name"] == load.action,
            f"action_name = '{load.action}'",
            m["action"],
            page=deep_page,
        ),
    ]


def expected_rows(shape: Shape, page_size: int) -> int:
    """Rows the timed page must hold: a full page, or what is left of the matches."""
    return max(0, min(page_size, shape.matches - (shape.page - 1) * page_size))


def fetch(client: httpx.Client, params: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.get(f"{AUDIT_PATH}?{urlencode(params)}")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(
            f"GET /audit {params} failed: {response.status_code} {response.text[:300]}"
        )
    return elapsed, response.json()


def bench_audit_shape(target: Target, shape: Shape, opts: Options, out: Results) -> None:
    client = target.handle.client(target.handle.admin_token)
    params = {**shape.params, "max_results": str(opts.page_size)}
    for _ in range(shape.page - 1):  # walk to the page, as a client would
        _, body = fetch(client, params)
        token = body.get("next_page_token")
        if not token:
            raise RuntimeError(f"{target.backend}: {shape.label}: no page {shape.page}")
        params["page_token"] = token
    for _ in range(3):
        fetch(client, params)
    samples = []
    key, label = f"audit.{shape.key}", f"audit {shape.label}"
    with server_cost(target, out, key, label, "GET", AUDIT_PATH, opts.repeats):
        for _ in range(opts.repeats):
            elapsed, body = fetch(client, params)
            samples.append(elapsed)
        out.latencies(target.backend, key, label, samples)
    events = body["events"]
    if len(events) != expected_rows(shape, opts.page_size) or not all(map(shape.check, events)):
        raise RuntimeError(
            f"{target.backend}: {shape.label} returned {len(events)} events, or one that does "
            "not match the filter"
        )
    out.goals.append(("audit REST", shape.label, target.backend, percentile(samples, 50)))
    client.close()


def sql_statement(shape: Shape, page_size: int) -> str:
    where = f" WHERE {shape.where}" if shape.where else ""
    offset = f" OFFSET {(shape.page - 1) * page_size}" if shape.page > 1 else ""
    return (
        "SELECT event_time, user_identity.email, action_name, object_name, "
        f"response.status_code FROM system.access.audit{where} "
        f"ORDER BY event_time DESC LIMIT {page_size}{offset}"
    )


def run_sql(client: httpx.Client, statement: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.post(SQL_PATH, json={"statement": statement})
    return (time.perf_counter() - started) * 1000, response


def sql_available(target: Target) -> str | None:
    """None when the SQL endpoint answers a SELECT on system.access.audit; else why not."""
    client = target.handle.client(target.handle.admin_token)
    _, response = run_sql(client, "SELECT event_id FROM system.access.audit LIMIT 1")
    client.close()
    if response.status_code == 200 and b'"SUCCEEDED"' in response.content:
        return None
    try:
        error = response.json()["status"]["error"]["message"]
    except (ValueError, KeyError, TypeError):
        error = response.text[:200]
    return f"{response.status_code}: {error}"


def bench_sql_shape(target: Target, shape: Shape, opts: Options, out: Results) -> None:
    client = target.handle.client(target.handle.admin_token)
    statement = sql_statement(shape, opts.page_size)
    for _ in range(2):
        run_sql(client, statement)
    samples = []
    key, label = f"sql.{shape.key}", f"SQL {shape.label}"
    with server_cost(target, out, key, label, "POST", SQL_PATH, opts.sql_repeats):
        for _ in range(opts.sql_repeats):
            elapsed, response = run_sql(client, statement)
            samples.append(elapsed)
            body = response.json()
            if body.get("status", {}).get("state") != "SUCCEEDED":
                raise RuntimeError(f"{target.backend}: {statement}: {response.text[:300]}")
        out.latencies(target.backend, key, label, samples)
    rows = body["result"]["data_array"]
    if len(rows) != expected_rows(shape, opts.page_size):
        raise RuntimeError(f"{target.backend}: {statement} returned {len(rows)} rows")
    out.goals.append(("audit SQL", shape.label, target.backend, percentile(samples, 50)))
    client.close()


class _OutOfTime(Exception):
    """Raised inside verify()'s row reader when the time budget is spent."""


def time_verify(target: Target, budget_s: float, out: Results) -> None:
    """``verify()`` over the whole log, as an auditor runs it, stopped after ``budget_s``
    seconds (0: no limit). The row reader is wrapped only to count rows and to stop."""
    log(f"{target.backend}: verify() over the whole log (budget {budget_s or 'none'} s)")
    db = Database(target.url)
    original = verify_module._rows
    read = 0
    deadline = time.perf_counter() + (budget_s or float("inf"))

    def counted(session: Any) -> Iterator[Any]:
        nonlocal read
        for row in original(session):
            if time.perf_counter() > deadline:
                raise _OutOfTime
            read += 1
            yield row

    verify_module._rows = counted
    report = None
    try:
        started = time.perf_counter()
        with db.read() as session, suppress(_OutOfTime):
            report = verify(session)
        seconds = time.perf_counter() - started
        total = _count_events(db)
        batches = keyset_batches(db, total)
    finally:
        verify_module._rows = original
        db.dispose()
    b = target.backend
    if report is not None:
        if not report.ok:
            raise RuntimeError(f"{b}: verify after the bulk load: {report.first}")
        out.add(b, "verify.s", "verify(): whole log", "s", seconds)
        out.checks.append(
            f"{b}: verify() clean over {report.events:,} events in {report.lanes} lanes "
            f"after the bulk load ({seconds:.1f} s): ok"
        )
    else:
        out.notes.setdefault("verify_unfinished", {})[b] = (
            f"{read:,} of {total:,} events in {seconds:.0f} s (budget)"
        )
        out.checks.append(
            f"{b}: verify() did not finish within the {budget_s:.0f} s budget: {read:,} of "
            f"{total:,} events read (it reports problems only at the end, so this says "
            "nothing about the log)"
        )
    out.add(b, "verify.rate", "verify(): events/s (over what it read)", "ev/s", read / seconds)
    for name, ms in batches.items():
        label = f"verify's batch query half-way through the log, {name}"
        out.add(b, f"verify.batch.{name.split()[0]}", label, "ms", ms)


def _count_events(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(t.AuditEvent)) or 0)


def keyset_batches(db: Database, events: int) -> dict[str, float]:
    """Median ms of one ``verify`` batch query (``BATCH`` rows) half-way through the log:
    in the first release's form (``lane > :l OR (lane = :l AND seq > :s)``) and as the
    row-value comparison ``verify`` now uses (``(lane, seq) > (:l, :s)``), which the
    (lane, seq) index can seek to. Half-way, the OR form has half the log before its
    position and (on PostgreSQL) half after it: kept to show what the fix bought."""
    c = t.AuditEvent.__table__.c
    with db.read() as session:  # the event half-way in the order verify reads them
        after = tuple(
            session.execute(
                select(c.lane, c.seq).order_by(c.lane, c.seq).offset(events // 2).limit(1)
            ).one()
        )
    forms = {
        "OR, as first shipped": (c.lane > after[0]) | ((c.lane == after[0]) & (c.seq > after[1])),
        "row-value (lane, seq) > (…), as shipped": tuple_(c.lane, c.seq) > tuple_(*after),
    }
    out: dict[str, float] = {}
    for name, where in forms.items():
        query = (
            select(t.AuditEvent.__table__)
            .where(where)
            .order_by(c.lane, c.seq)
            .limit(verify_module.BATCH)
        )
        # The statement verify() sends, with the same bound parameters, run through the
        # driver so the time is the database's and the fetch, not row processing.
        compiled = query.compile(dialect=db.engine.dialect)
        params: Any = compiled.params
        if compiled.positiontup is not None:
            params = tuple(compiled.params[k] for k in compiled.positiontup)
        samples = []
        # verify() runs its query hundreds of times on one connection, so psycopg prepares
        # it and PostgreSQL moves to a generic plan after a few runs: time the runs after.
        for _ in range(14):
            with db.read() as session:
                conn = session.connection()
                started = time.perf_counter()
                rows = conn.exec_driver_sql(str(compiled), params).fetchall()
                samples.append((time.perf_counter() - started) * 1000)
            if len(rows) != verify_module.BATCH:
                raise RuntimeError(f"the keyset probe read {len(rows)} rows")
        out[name] = percentile(samples[-3:], 50)
    return out


def phase_audit(targets: Sequence[Target], opts: Options, out: Results) -> None:
    end = datetime.now(UTC) - timedelta(minutes=1)
    log(f"generating {opts.events:,} audit events")
    load = generate_events(opts.events, opts.seed, end)
    out.notes["generate_events_s"] = round(load.seconds, 1)
    out.notes["filter_matches"] = load.matches
    log(f"generated in {load.seconds:.1f} s; filter matches {load.matches}")
    log(f"chaining and loading {opts.events:,} events into each backend, side by side")
    jobs = {x.backend: partial(timed_load, load_events, x, load) for x in targets}
    loaded = in_parallel(jobs)
    for backend, timings in loaded.items():
        out.note("audit_load_s", backend, {k: round(v, 1) for k, v in timings.items()})
        log(f"{backend}: audit events loaded: {timings}")
    del load.events[:]
    shapes = audit_shapes(load, opts.page_size, opts.deep_page)
    for shape in shapes:
        for target in targets:
            log(f"{target.backend}: GET /audit {shape.label} x{opts.repeats}")
            bench_audit_shape(target, shape, opts, out)
    why_not = {target.backend: sql_available(target) for target in targets}
    if any(why_not.values()):
        out.notes["sql_audit"] = f"not measured: SELECT on system.access.audit answered {why_not}"
        log(out.notes["sql_audit"])
    else:
        out.notes["sql_audit"] = "measured"
        for shape in shapes:
            for target in targets:
                log(f"{target.backend}: SQL {shape.label} x{opts.sql_repeats}")
                bench_sql_shape(target, shape, opts, out)
    if opts.verify:
        for target in targets:
            time_verify(target, opts.verify_seconds, out)


# -- phase 3: lineage over 1M edges -------------------------------------------------------

LINEAGE_CATALOG = "lineage"
LAYERS = 10
DOMAINS = 50
#: Where a table's inputs come from: its domain's previous layer, an earlier layer of its
#: domain, or a shared table (domain 0: dimensions, reference data) of an earlier layer.
SAME_PREVIOUS, SAME_EARLIER = 0.80, 0.15
LINEAGE_DIRECTIONS = ("upstream", "downstream", "both")
LINEAGE_DEPTH = 5


@dataclass
class LineageGraph:
    """A layered DAG of tables: ``LAYERS`` layers of ``DOMAINS`` domains of ``per`` tables.

    Table ``i`` is in layer ``i // (DOMAINS * per)``, domain ``i // per % DOMAINS``. Every
    table above layer 0 reads ``k`` inputs (1 + a geometric number, mean ``fan_in``), each
    picked with Zipf (s = 1) popularity inside its block, so a few tables of each block are
    read by many (fan-out is heavy-tailed, as with dimension tables) and most by few.
    """

    per: int
    #: (source table, target table), sorted.
    edges: list[tuple[int, int]]
    #: Start tables of the timed traversals (uniform over the middle layer).
    starts: list[int]
    seconds: float

    @property
    def tables(self) -> int:
        return self.per * DOMAINS * LAYERS

    def name(self, i: int) -> str:
        layer, rest = divmod(i, DOMAINS * self.per)
        domain, j = divmod(rest, self.per)
        return f"{LINEAGE_CATALOG}.layer_{layer}.d{domain:02d}_t{j:05d}"

    def reach(self, start: int, direction: str, depth: int) -> tuple[set[int], int]:
        """What the API must return: the nodes within ``depth`` hops (both: upstream and
        downstream walked separately) and the number of distinct edges walked."""
        up, down = self._adjacency()
        ways = {"upstream": [up], "downstream": [down], "both": [up, down]}[direction]
        seen = {start}
        walked: set[tuple[int, int]] = set()
        for adjacency in ways:
            frontier = [start]
            for _ in range(depth):
                nxt = []
                for node in frontier:
                    for other in adjacency.get(node, ()):
                        walked.add((node, other) if adjacency is down else (other, node))
                        if other not in seen:
                            seen.add(other)
                            nxt.append(other)
                frontier = nxt
        return seen, len(walked)

    def _adjacency(self) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        if not hasattr(self, "_adj"):
            up: dict[int, list[int]] = {}
            down: dict[int, list[int]] = {}
            for source, target in self.edges:
                up.setdefault(target, []).append(source)
                down.setdefault(source, []).append(target)
            self._adj = (up, down)
        return self._adj


def generate_graph(n_edges: int, fan_in: float, starts: int, seed: int) -> LineageGraph:
    started = time.perf_counter()
    rng = random.Random(f"{seed}/lineage")
    targets_needed = n_edges / fan_in
    per = max(2, round(targets_needed / ((LAYERS - 1) * DOMAINS)))
    block = DOMAINS * per
    weights = zipf_weights(per, 1.0)
    # Popularity rank r of a block maps to table (r * step + offset) % per: a different
    # popular few in every block. step is prime to per.
    step = next(s for s in range(7919, 7919 + per + 2) if math.gcd(s, per) == 1)
    ranks = iter(rng.choices(range(per), cum_weights=weights, k=n_edges * 2))
    targets = list(range(block, LAYERS * block))
    rng.shuffle(targets)
    r = rng.random
    edges: list[tuple[int, int]] = []
    drawn: set[tuple[int, int]] = set()
    i = 0
    while len(edges) < n_edges:
        target = targets[i % len(targets)]
        i += 1
        layer, rest = divmod(target, block)
        domain = rest // per
        k = 1 + int(math.log(1 - r()) / math.log(1 - 1 / fan_in)) if fan_in > 1 else 1
        k = min(k, n_edges - len(edges))
        chosen: set[int] = set()
        for _ in range(4 * k):
            if len(chosen) == k:
                break
            u = r()
            if u < SAME_PREVIOUS:
                src_layer, src_domain = layer - 1, domain
            elif u < SAME_PREVIOUS + SAME_EARLIER:
                src_layer, src_domain = int(r() * layer), domain
            else:
                src_layer, src_domain = int(r() * layer), 0
            offset = (src_layer * 31 + src_domain * 17) % per
            j = (next(ranks) * step + offset) % per
            chosen.add(src_layer * block + src_domain * per + j)
        # A target comes round again when i wraps: keep each edge once.
        fresh = [(source, target) for source in chosen if (source, target) not in drawn]
        drawn.update(fresh)
        edges.extend(fresh)
    edges.sort()
    middle = LAYERS // 2
    start_tables = [middle * block + int(r() * block) for _ in range(starts)]
    return LineageGraph(per, edges, start_tables, time.perf_counter() - started)


def load_lineage(target: Target, graph: LineageGraph) -> dict[str, float]:
    """The graph's tables as catalog tables (``securables`` + ``table_details``, the rows
    ``NamespaceService.create`` writes for a MANAGED DELTA table without columns), one
    ``lineage_nodes`` row each (as ``ensure_nodes`` writes for a table), and the edges as
    ``record_edges`` writes them; then the sequences and, on PostgreSQL, statistics."""
    db = Database(target.url)
    rng = random.Random(f"lineage-rows/{db.backend}")
    timings: dict[str, float] = {}
    now = datetime.now(UTC)
    try:
        began = time.perf_counter()
        with db.read() as session:
            schemas = {
                name: sid
                for sid, name in session.execute(
                    select(t.Securable.id, t.Securable.full_name).where(
                        t.Securable.full_name.startswith(f"{LINEAGE_CATALOG}.")
                    )
                )
            }
            node_base = int(session.scalar(select(func.max(t.LineageNode.id))) or 0)
        tables = [t.Securable.__table__, t.LineageNode.__table__, t.LineageEdge.__table__]
        indexes = drop_indexes(db, tables)
        ids = [new_id() for _ in range(graph.tables)]
        created = now_ms()
        for start in range(0, graph.tables, CHUNK):
            securables, details, nodes = [], [], []
            for i in range(start, min(start + CHUNK, graph.tables)):
                full = graph.name(i)
                catalog, schema, name = full.split(".")
                securables.append(
                    {
                        "id": ids[i],
                        "securable_type": "TABLE",
                        "parent_id": schemas[f"{catalog}.{schema}"],
                        "name": name,
                        "full_name": full,
                        "owner": "admin",
                        "comment": None,
                        "properties": {},
                        "storage_root": None,
                        "storage_location": None,
                        "created_at": created,
                        "created_by": "admin",
                        "updated_at": None,
                        "updated_by": None,
                    }
                )
                details.append(
                    {
                        "securable_id": ids[i],
                        "table_type": "MANAGED",
                        "data_source_format": "DELTA",
                        "view_definition": None,
                        "primary_key_name": None,
                        "primary_key_columns": None,
                        "timeseries_column": None,
                    }
                )
                nodes.append(
                    {
                        "id": node_base + 1 + i,
                        "node_type": "TABLE",
                        "node_key": ids[i],
                        "securable_id": ids[i],
                        "version": None,
                        "full_name": full,
                        "catalog_name": catalog,
                        "schema_name": schema,
                        "object_name": name,
                        "namespace": None,
                        "external_name": None,
                        "path": None,
                        "first_seen": now - timedelta(days=60),
                    }
                )
            with loading(db) as conn:
                bulk_insert(conn, t.Securable.__table__, securables)
                bulk_insert(conn, t.TableDetail.__table__, details)
                bulk_insert(conn, t.LineageNode.__table__, _times(conn, nodes))
        timings["tables_s"] = time.perf_counter() - began
        began = time.perf_counter()
        users = [user_name(k) for k in range(200)]
        columns = [c.name for c in t.LineageEdge.__table__.columns if c.name != "id"]
        for start in range(0, len(graph.edges), CHUNK):
            rows = []
            for source, target_table in graph.edges[start : start + CHUNK]:
                first = now - timedelta(seconds=r_int(rng, 30 * 86_400))
                last = min(now, first + timedelta(seconds=r_int(rng, 10 * 86_400)))
                sql = rng.random() < 0.85
                rows.append(
                    {
                        "source_id": node_base + 1 + source,
                        "target_id": node_base + 1 + target_table,
                        "kind": "sql" if sql else "openlineage",
                        "entity_type": "SQL" if sql else "OPENLINEAGE",
                        "entity_id": None if sql else f"airflow/etl_{target_table % 300}.load",
                        "first_seen": first,
                        "last_seen": last,
                        "count": 1 + int(rng.paretovariate(1.2)),
                        "principal": users[target_table % len(users)],
                        "request_id": f"{rng.getrandbits(128):032x}",
                    }
                )
            with loading(db) as conn:
                bulk_insert(conn, t.LineageEdge.__table__, _times(conn, rows), columns)
        timings["edges_s"] = time.perf_counter() - began
        began = time.perf_counter()
        create_indexes(db, indexes)
        timings["index_s"] = time.perf_counter() - began
        began = time.perf_counter()
        if db.backend == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in ("lineage_nodes", "lineage_edges"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
                conn.execute(text("VACUUM (ANALYZE) lineage_nodes, lineage_edges, securables"))
                conn.execute(text("VACUUM (ANALYZE) table_details"))
        timings["finish_s"] = time.perf_counter() - began
    finally:
        db.dispose()
    return timings


def r_int(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def _times(conn: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SQLite stores times as SQLAlchemy's DateTime text; PostgreSQL takes datetimes."""
    if conn.dialect.name != "sqlite":
        return rows
    for row in rows:
        for key in ("first_seen", "last_seen"):
            if key in row:
                row[key] = _sqlite_time(row[key])
    return rows


def lineage_setup(target: Target) -> None:
    """The catalog and one schema per layer, over HTTP as a user would make them."""
    admin = target.handle.client(target.handle.admin_token)
    bodies = [("catalogs", {"name": LINEAGE_CATALOG})] + [
        ("schemas", {"name": f"layer_{layer}", "catalog_name": LINEAGE_CATALOG})
        for layer in range(LAYERS)
    ]
    for path, body in bodies:
        response = admin.post(f"{API}/{path}", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"lineage setup {path} {body}: {response.text[:300]}")
    admin.close()


def bench_lineage(
    target: Target, graph: LineageGraph, direction: str, opts: Options, out: Results
) -> None:
    client = target.handle.client(target.handle.admin_token)

    def get(start: int) -> tuple[float, dict[str, Any]]:
        params = {"full_name": graph.name(start), "direction": direction}
        params["depth"] = str(LINEAGE_DEPTH)
        began = time.perf_counter()
        response = client.get(f"{LINEAGE_PATH}?{urlencode(params)}")
        elapsed = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(
                f"GET lineage {params}: {response.status_code} {response.text[:300]}"
            )
        return elapsed, response.json()

    for start in graph.starts[:3]:  # warm-up
        get(start)
    samples, sizes, edge_counts = [], [], []
    label = f"lineage depth {LINEAGE_DEPTH} {direction}"
    key = f"lineage.{direction}"
    log(f"{target.backend}: {label} from {len(graph.starts)} tables")
    with server_cost(target, out, key, label, "GET", LINEAGE_PATH, len(graph.starts)):
        answers = []
        for start in graph.starts:
            elapsed, body = get(start)
            samples.append(elapsed)
            answers.append((start, body))
        out.latencies(target.backend, key, label, samples)
    for start, body in answers:
        expected_nodes, expected_edges = graph.reach(start, direction, LINEAGE_DEPTH)
        nodes, edges = len(body["nodes"]), len(body["edges"])
        names = {n["name"] for n in body["nodes"]}
        if body.get("truncated"):
            ok = names <= {graph.name(i) for i in expected_nodes}
        else:
            ok = names == {graph.name(i) for i in expected_nodes} and edges == expected_edges
        if not ok:
            raise RuntimeError(
                f"{target.backend}: {label} from {graph.name(start)} returned {nodes} nodes "
                f"and {edges} edges; the generated graph has {len(expected_nodes)} and "
                f"{expected_edges} (truncated: {body.get('truncated')})"
            )
        sizes.append(nodes)
        edge_counts.append(edges)
    out.add(
        target.backend,
        f"{key}.nodes",
        f"{label}: nodes returned, median",
        "n",
        percentile(sizes, 50),
    )
    out.add(target.backend, f"{key}.nodes_max", f"{label}: nodes returned, max", "n", max(sizes))
    out.add(
        target.backend,
        f"{key}.edges",
        f"{label}: edges returned, median",
        "n",
        percentile(edge_counts, 50),
    )
    out.goals.append(
        ("lineage", f"depth {LINEAGE_DEPTH} {direction}", target.backend, percentile(samples, 50))
    )
    truncated = sum(1 for _, body in answers if body.get("truncated"))
    cut = f" ({truncated} truncated at the node cap)" if truncated else ""
    out.checks.append(
        f"{target.backend}: {label}: all {len(answers)} answers hold exactly the nodes (by "
        f"name) and the number of edges a BFS over the generated graph finds{cut}: ok"
    )
    client.close()


def phase_lineage(targets: Sequence[Target], opts: Options, out: Results) -> None:
    log(f"generating a layered DAG of {opts.edges:,} edges")
    graph = generate_graph(opts.edges, opts.fan_in, opts.lineage_repeats, opts.seed)
    out.notes["lineage_graph"] = {
        "tables": graph.tables,
        "edges": len(graph.edges),
        "layers": LAYERS,
        "domains": DOMAINS,
        "generate_s": round(graph.seconds, 1),
    }
    log(f"generated {graph.tables:,} tables, {len(graph.edges):,} edges in {graph.seconds:.1f} s")
    for target in targets:
        lineage_setup(target)
    jobs = {x.backend: partial(timed_load, load_lineage, x, graph) for x in targets}
    for backend, timings in in_parallel(jobs).items():
        out.note("lineage_load_s", backend, {k: round(v, 1) for k, v in timings.items()})
        log(f"{backend}: lineage loaded: {timings}")
    for direction in LINEAGE_DIRECTIONS:
        for target in targets:
            bench_lineage(target, graph, direction, opts, out)


# -- the run --------------------------------------------------------------------------


@dataclass
class Options:
    mutations: int
    concurrency: list[int]
    appends: int
    events: int
    page_size: int
    repeats: int
    sql_repeats: int
    deep_page: int
    verify: bool
    verify_seconds: float
    edges: int
    fan_in: float
    lineage_repeats: int
    phases: list[str]
    seed: int
    postgres_url: str


def set_up(backend: str, url: str, directory: Path) -> Target:
    log(f"{backend}: starting a server on a fresh database")
    handle = start_server(url, directory / "storage")
    try:
        admin = handle.client(handle.admin_token)
        for k in range(GRANTEES):
            response = admin.post(SCIM_USERS, json={"userName": f"user_{k}"})
            if response.status_code != 201:
                raise RuntimeError(f"setup: user_{k}: {response.status_code} {response.text}")
        for i in range(20):  # warm-up, outside the measured mutations
            for m in (create_catalog(f"warm_{i:02d}"), sql_grant(f"warm_{i:02d}", "user_0")):
                response = admin.request(m.method, m.path, json=m.body)
                if not acknowledged(m, response):
                    raise RuntimeError(f"setup: {m.body}: {response.text[:300]}")
        admin.close()
    except BaseException:
        handle.stop()
        raise
    return Target(backend, url, handle)


def run(backends: Sequence[str], opts: Options, out: Results, workdir: Path) -> None:
    with ExitStack() as stack:
        targets: list[Target] = []
        for backend in backends:
            directory = workdir / backend
            directory.mkdir(parents=True)
            url = stack.enter_context(database_for(backend, directory, opts.postgres_url))
            target = set_up(backend, url, directory)
            stack.callback(target.handle.stop)
            targets.append(target)
        try:
            if "mutations" in opts.phases:
                phase_mutations(targets, opts, out)
                for target in targets:
                    chain_cost(target, opts, out)
                for target in targets:
                    check_mutations(target, out)
            if "audit" in opts.phases:
                phase_audit(targets, opts, out)
            if "lineage" in opts.phases:
                phase_lineage(targets, opts, out)
        except BaseException:
            for target in targets:
                print(f"--- {target.backend} server log (tail) ---", file=sys.stderr)
                print(target.handle.logs()[-3000:], file=sys.stderr)
            raise


# -- the report -----------------------------------------------------------------------


#: Decimals per unit in the table (counts and rates whole, seconds to a tenth).
DECIMALS = {"req/s": 0, "txn/s": 0, "ev/s": 0, "n": 0, "s": 1}


def render(out: Results, backends: Sequence[str]) -> str:
    both = "sqlite" in backends and "postgresql" in backends
    header = ["figure", "unit", *backends]
    if both:
        header.append("PG/SQLite")
    rows = [header]
    for fig in out.figures.values():
        row = [fig.label, fig.unit, *(fmt(fig.values.get(b), fig.unit, DECIMALS) for b in backends)]
        if both:
            row.append(ratio(fig.values.get("postgresql"), fig.values.get("sqlite")))
        rows.append(row)
    lines = markdown_table(rows)
    if both:
        lines.append("")
        lines.append(
            "PG/SQLite: above 1 means PostgreSQL is higher (faster for req/s, txn/s and ev/s; "
            "slower for ms and s)."
        )
    if out.goals:
        lines.append("")
        lines.append(f"Goals (p50 under {GOAL_MS:.0f} ms):")
        for phase, label, backend, p50 in out.goals:
            verdict = "meets" if p50 < GOAL_MS else "MISSES"
            lines.append(
                f"- {phase} {label}, {backend}: p50 {p50:.2f} ms / {GOAL_MS:.0f} ms = "
                f"{p50 / GOAL_MS:.2f} ({verdict} the goal)"
            )
    if out.checks:
        lines.append("")
        lines.append("Checks:")
        lines.extend(f"- {c}" for c in out.checks)
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[list[str], Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.audit_lineage",
        description=(
            "Audited mutations per second, filtered audit reads over 1M events and depth-5 "
            "lineage traversals over 1M edges, on SQLite and PostgreSQL side by side."
        ),
    )
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument(
        "--phases",
        default="mutations,audit,lineage",
        help="comma-separated: mutations, audit, lineage (default: all three)",
    )
    parser.add_argument(
        "--mutations",
        type=int,
        default=200,
        help="catalogs created, then as many SQL GRANTs, at each concurrency level "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--concurrency", default="1,4", help="client threads of the mutations (default 1,4)"
    )
    parser.add_argument(
        "--appends",
        type=int,
        default=300,
        help="transactions of each kind in the chain-cost micro-measure (default %(default)s)",
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="audit events bulk-loaded (default 1,000,000)"
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=100,
        help="max_results of each audit read (default 100, the CLI's)",
    )
    parser.add_argument(
        "--repeats", type=int, default=30, help="timed reads of each audit filter (default 30)"
    )
    parser.add_argument(
        "--sql-repeats",
        type=int,
        default=10,
        help="timed SQL statements of each audit filter (default 10)",
    )
    parser.add_argument(
        "--deep-page", type=int, default=50, help="page the deep-page probe reads (default 50)"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip timing verify() over the loaded log"
    )
    parser.add_argument(
        "--verify-seconds",
        type=float,
        default=30,
        help="stop each verify() after this many seconds; 0 = no limit (default %(default)s)",
    )
    parser.add_argument(
        "--edges", type=int, default=1_000_000, help="lineage edges bulk-loaded (default 1,000,000)"
    )
    parser.add_argument(
        "--lineage-repeats",
        type=int,
        default=30,
        help="timed traversals of each direction (default 30)",
    )
    parser.add_argument(
        "--fan-in",
        type=float,
        default=4.0,
        help="mean inputs per table of the lineage graph (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=7)
    add_postgres_url(parser)
    add_json(parser)
    args = parser.parse_args(argv)
    backends = parse_backends(parser, args.backends)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not set(phases) <= {"mutations", "audit", "lineage"}:
        parser.error("--phases takes mutations, audit and/or lineage")
    concurrency = parse_levels(args.concurrency)
    if (
        not concurrency
        or min(args.mutations, args.appends, args.repeats, args.sql_repeats, *concurrency) < 1
    ):
        parser.error("counts and concurrency levels must be at least 1")
    opts = Options(
        mutations=args.mutations,
        concurrency=concurrency,
        appends=args.appends,
        events=args.events,
        page_size=args.page_size,
        repeats=args.repeats,
        sql_repeats=args.sql_repeats,
        deep_page=args.deep_page,
        verify=not args.no_verify,
        verify_seconds=args.verify_seconds,
        edges=args.edges,
        fan_in=args.fan_in,
        lineage_repeats=args.lineage_repeats,
        phases=phases,
        seed=args.seed,
        postgres_url=args.postgres_url,
    )
    return backends, opts, args.json


class LoadSampler(threading.Thread):
    """The machine's 1-minute load average every few seconds during the run."""

    def __init__(self, every_s: float = 5.0) -> None:
        super().__init__(name="load-sampler", daemon=True)
        self.every_s = every_s
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> str:
        self._stop_event.set()
        self.join()
        if not self.samples:
            return "-"
        s = self.samples
        return f"min {min(s):.1f}, median {percentile(s, 50):.1f}, max {max(s):.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    backends, opts, json_path = parse_args(argv)
    info = machine(opts.postgres_url if "postgresql" in backends else None)
    out = Results()
    sampler = LoadSampler()
    sampler.start()
    elapsed = run_in_tempdir(
        "steward-bench-audit-", info, lambda tmp: run(backends, opts, out, tmp)
    )
    info["load average (1 min) during"] = sampler.stop()

    print()
    print("Steward audit log and lineage, " + " vs ".join(backends))
    print(machine_line(info))
    print(
        f"mutations: {opts.mutations} creates + {opts.mutations} SQL GRANTs at {opts.concurrency} "
        f"thread(s); chain cost: {opts.appends} transactions each; audit reads: "
        f"{opts.events:,} events, {opts.page_size} per page, {opts.repeats} reads per filter "
        f"(SQL {opts.sql_repeats}); whole run {elapsed:.0f} s"
    )
    for what, value in out.notes.items():
        print(f"{what}: {value}")
    print()
    print(render(out, backends))
    write_json(
        json_path,
        {
            "machine": info,
            "options": {k: v for k, v in vars(opts).items() if k != "postgres_url"},
            "figures": {
                f.key: {"label": f.label, "unit": f.unit, **f.values} for f in out.figures.values()
            },
            "goals": out.goals,
            "checks": out.checks,
            "notes": out.notes,
            "run_seconds": round(elapsed, 1),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
