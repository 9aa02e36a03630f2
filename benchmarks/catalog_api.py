"""Catalog API throughput over HTTP, SQLite and PostgreSQL side by side in one run.

Run it with ``make bench`` or ``.venv/bin/python -m benchmarks.catalog_api --help``.

For each backend it creates a throw-away database (a SQLite file in a temporary
directory; a fresh PostgreSQL database, dropped at the end), starts a real Steward
server process on it (``tests.support.start_server``: ``python -m steward server``
on a free port, with an admin token) and drives it over HTTP with httpx clients
that keep their connections alive. The clients are closed-loop: each sends its
next request as soon as the previous answer has been read. Both servers run
during the whole run and each phase runs on one backend, then the other, so a
change in the machine's load touches both alike.

1. create table: ``POST /tables`` at each ``--concurrency`` level (1 client
   thread, then 4, by default), each thread with its own keep-alive connection;
2. get table: ``GET /tables/{full_name}`` of the tables just created, same levels;
3. list tables: a schema of ``--tables`` (100,000) tables, bulk-inserted
   in-process into the catalog's own tables in the row shapes
   ``NamespaceService.create`` → ``SqlNamespaceStore.insert`` /
   ``insert_table_detail`` write, then listed 50 at a time by one client: a full
   walk of every page, then repeated fetches of the first page, the middle page
   and the last page.

Besides client-side latencies it reports, per phase, the server process's CPU
time per request (``/proc``) and the server's own p50 from its access log.

The peer named in the figures is the other backend (PostgreSQL / SQLite), plus
the goal of a first page under 20 ms. The natural peer, the Unity
Catalog OSS server (Java), cannot be installed here: no package registry this
machine reaches ships it (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from benchmarks.harness import (
    API,
    add_json,
    add_postgres_url,
    bulk_insert,
    closed_loop,
    fmt,
    log,
    log_offset,
    machine_line,
    markdown_table,
    parse_backends,
    parse_levels,
    percentile,
    print_tails,
    ratio,
    run_on_backends,
    server_cpu_seconds,
    server_durations,
    start_targets,
    threads_label,
    warm_clients,
    write_json,
)
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from catalog.records import new_id, now_ms
from catalog.store.sqlalchemy_stores import SqlNamespaceStore
from policy.securables import SecurableType
from tests.support import ServerHandle, start_server

GOAL_FIRST_PAGE_MS = 20.0
PAGE = 50
CATALOG = "bench"
WRITE_SCHEMA = "writes"
BIG_SCHEMA = "big"
OWNER = "admin"
#: (type_name, type_text) of the generated columns, cycled.
COLUMN_TYPES = [("LONG", "bigint"), ("STRING", "string"), ("DOUBLE", "double")]
INSERT_CHUNK = 20_000


# -- figures --------------------------------------------------------------------------


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    #: "higher" when a larger number is better (throughput), "lower" for latencies and times.
    better: str
    values: dict[str, float] = field(default_factory=dict)


class Results:
    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.notes: dict[str, dict[str, Any]] = {}

    def add(self, backend: str, key: str, label: str, unit: str, better: str, value: float) -> None:
        fig = self.figures.setdefault(key, Figure(key, label, unit, better))
        fig.values[backend] = value

    def latencies(self, backend: str, key: str, label: str, samples: Sequence[float]) -> None:
        self.add(backend, f"{key}.p50", f"{label} p50", "ms", "lower", percentile(samples, 50))
        self.add(backend, f"{key}.p99", f"{label} p99", "ms", "lower", percentile(samples, 99))


# -- request bodies and the bulk load -------------------------------------------------


def columns_for(n_columns: int) -> list[tuple[str, str, str]]:
    """(name, type_name, type_text) of the generated columns."""
    return [(f"c{i}", *COLUMN_TYPES[i % len(COLUMN_TYPES)]) for i in range(n_columns)]


def create_body(schema: str, name: str, n_columns: int) -> dict[str, Any]:
    return {
        "name": name,
        "catalog_name": CATALOG,
        "schema_name": schema,
        "table_type": "MANAGED",
        "data_source_format": "DELTA",
        "columns": [
            {"name": c, "type_name": tn, "type_text": tt, "position": i, "nullable": i != 0}
            for i, (c, tn, tt) in enumerate(columns_for(n_columns))
        ],
        "comment": "benchmark table",
    }


def populate(database_url: str, n_tables: int, n_columns: int, seed: int) -> float:
    """Insert ``n_tables`` tables into ``bench.big`` directly, in the service's row shapes.

    Mirrors ``NamespaceService.create`` → ``SqlNamespaceStore.insert`` (securables) and
    ``insert_table_detail`` (table_details, table_columns) for a MANAGED DELTA table owned
    by ``admin``. Names are inserted in a shuffled order, as tables are created in life,
    so the heap order is not the listing order. Returns the seconds it took.
    """
    started = time.perf_counter()
    db = Database(database_url)
    try:
        with db.read() as session:
            schema = SqlNamespaceStore(session).get(SecurableType.SCHEMA, f"{CATALOG}.{BIG_SCHEMA}")
        assert schema is not None, "the benchmark schema must exist before the bulk load"
        width = len(str(n_tables - 1))
        order = list(range(n_tables))
        random.Random(seed).shuffle(order)
        cols = columns_for(n_columns)
        for start in range(0, n_tables, INSERT_CHUNK):
            securables, details, columns = [], [], []
            created = now_ms()
            for i in order[start : start + INSERT_CHUNK]:
                table_id = new_id()
                name = f"t_{i:0{width}d}"
                securables.append(
                    {
                        "id": table_id,
                        "securable_type": SecurableType.TABLE.value,
                        "parent_id": schema.id,
                        "name": name,
                        "full_name": f"{CATALOG}.{BIG_SCHEMA}.{name}",
                        "owner": OWNER,
                        "comment": None,
                        "properties": {},
                        "storage_root": None,
                        "storage_location": None,
                        "created_at": created,
                        "created_by": OWNER,
                        "updated_at": None,
                        "updated_by": None,
                    }
                )
                details.append(
                    {
                        "securable_id": table_id,
                        "table_type": "MANAGED",
                        "data_source_format": "DELTA",
                        "view_definition": None,
                        "primary_key_name": None,
                        "primary_key_columns": None,
                        "timeseries_column": None,
                    }
                )
                columns.extend(
                    {
                        "table_id": table_id,
                        "position": pos,
                        "name": cname,
                        "type_text": type_text,
                        "type_name": type_name,
                        "type_json": None,
                        "type_precision": None,
                        "type_scale": None,
                        "type_interval_type": None,
                        "nullable": pos != 0,
                        "comment": None,
                        "partition_index": None,
                    }
                    for pos, (cname, type_name, type_text) in enumerate(cols)
                )
            with db.transaction() as session:
                conn = session.connection()
                bulk_insert(conn, t.Securable.__table__, securables)
                bulk_insert(conn, t.TableDetail.__table__, details)
                bulk_insert(conn, t.TableColumn.__table__, columns)
        if db.backend == "postgresql":
            # What autovacuum does by itself shortly after a bulk load; done now so the
            # planner's statistics do not depend on when the run happens to start.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    finally:
        db.dispose()
    return time.perf_counter() - started


# -- the closed-loop client -----------------------------------------------------------

Job = Callable[[httpx.Client], httpx.Response]


def _not_ok(job: Job, response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"{response.status_code}: {response.text[:300]}"
    return None


def send_jobs(
    handle: ServerHandle, jobs: Sequence[Job], concurrency: int
) -> tuple[float, list[float]]:
    """Run ``jobs`` on ``concurrency`` threads, one keep-alive client each (a closed loop).

    Returns the wall-clock seconds from the common start to the last answer and
    every request's latency in ms.
    """
    clients = warm_clients(handle, concurrency)
    return closed_loop(clients, jobs, lambda client, job: job(client), _not_ok)


# -- the benchmark ---------------------------------------------------------------------


@dataclass
class Options:
    creates: int
    gets: int
    concurrency: list[int]
    tables: int
    columns: int
    repeats: int
    seed: int
    postgres_url: str


@dataclass
class Target:
    """One backend under test: its database and the server running on it."""

    backend: str
    url: str
    handle: ServerHandle
    #: ``page_token`` of each page of the big schema, found by the walk (None = first page).
    tokens: list[str | None] = field(default_factory=list)


@contextmanager
def server_cost(
    target: Target, out: Results, key: str, label: str, method: str, path: str, requests: int
) -> Iterator[None]:
    """Record the server's CPU per request and its own p50 (access log) over a block."""
    offset = log_offset(target.handle)
    cpu = server_cpu_seconds(target.handle)
    yield
    after = server_cpu_seconds(target.handle)
    if cpu is not None and after is not None:
        per_request = (after - cpu) * 1000 / requests
        out.add(
            target.backend,
            f"{key}.server_cpu",
            f"{label}: server CPU/req",
            "ms",
            "lower",
            per_request,
        )
    durations = server_durations(target.handle, offset, method, path)[-requests:]
    if durations:
        out.add(
            target.backend,
            f"{key}.server_p50",
            f"{label}: server-side p50",
            "ms",
            "lower",
            percentile(durations, 50),
        )


def bench_create(target: Target, conc: int, opts: Options, out: Results) -> list[str]:
    names = [f"w{conc}_{i:06d}" for i in range(opts.creates)]
    bodies = [create_body(WRITE_SCHEMA, name, opts.columns) for name in names]
    jobs: list[Job] = [(lambda c, body=body: c.post(f"{API}/tables", json=body)) for body in bodies]
    label = f"create table, {threads_label(conc)}"
    log(f"{target.backend}: {label} x{opts.creates}")
    key = f"create.c{conc}"
    with server_cost(target, out, key, label, "POST", f"{API}/tables", len(jobs)):
        wall, lat = send_jobs(target.handle, jobs, conc)
        out.add(target.backend, f"{key}.rps", f"{label}: req/s", "req/s", "higher", len(lat) / wall)
        out.latencies(target.backend, key, label, lat)
    return names


def bench_get(target: Target, conc: int, names: list[str], opts: Options, out: Results) -> None:
    rng = random.Random(opts.seed + conc)
    targets = [f"{CATALOG}.{WRITE_SCHEMA}.{rng.choice(names)}" for _ in range(opts.gets)]
    jobs: list[Job] = [(lambda c, name=name: c.get(f"{API}/tables/{name}")) for name in targets]
    label = f"get table, {threads_label(conc)}"
    log(f"{target.backend}: {label} x{opts.gets}")
    key = f"get.c{conc}"
    with server_cost(target, out, key, label, "GET", f"{API}/tables/", len(jobs)):
        wall, lat = send_jobs(target.handle, jobs, conc)
        out.add(target.backend, f"{key}.rps", f"{label}: req/s", "req/s", "higher", len(lat) / wall)
        out.latencies(target.backend, key, label, lat)


def list_page(client: httpx.Client, token: str | None) -> tuple[float, dict[str, Any]]:
    params: dict[str, Any] = {
        "catalog_name": CATALOG,
        "schema_name": BIG_SCHEMA,
        "max_results": PAGE,
    }
    if token:
        params["page_token"] = token
    started = time.perf_counter()
    response = client.get(f"{API}/tables", params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"list failed: {response.status_code} {response.text[:300]}")
    return elapsed, response.json()


def bench_walk(target: Target, opts: Options, out: Results) -> None:
    client = target.handle.client(target.handle.admin_token)
    for _ in range(10):  # warm the connection, the pools and the caches
        list_page(client, None)
    log(f"{target.backend}: walking all pages of {opts.tables:,} tables, {PAGE} per page")
    tokens: list[str | None] = [None]
    walk: list[float] = []
    seen = 0
    started = time.perf_counter()
    while True:
        elapsed, body = list_page(client, tokens[-1])
        walk.append(elapsed)
        tables = body.get("tables") or []
        if tables and len(tables[0].get("columns") or []) != opts.columns:
            raise RuntimeError(f"a listed table lacks its {opts.columns} columns: {tables[0]}")
        seen += len(tables)
        nxt = body.get("next_page_token")
        if not nxt:
            break
        tokens.append(nxt)
    total = time.perf_counter() - started
    if seen != opts.tables:
        raise RuntimeError(f"the walk saw {seen} tables, expected {opts.tables}")
    target.tokens = tokens
    out.add(
        target.backend, "walk.total_s", f"walk all {len(walk)} pages: total", "s", "lower", total
    )
    out.latencies(target.backend, "walk.page", "walk: any page", walk)


def probes(pages: int) -> list[tuple[str, str, int]]:
    """(key, label, page index) of the pages fetched repeatedly."""
    middle, last = pages // 2, pages - 1
    return [
        ("first", "list: first page", 0),
        ("middle", f"list: page {middle + 1} (deep, middle)", middle),
        ("last", f"list: page {last + 1} (deep, last)", last),
    ]


def bench_probe(
    target: Target, key: str, label: str, page: int, opts: Options, out: Results
) -> None:
    client = target.handle.client(target.handle.admin_token)
    token = target.tokens[page]
    for _ in range(10):
        list_page(client, token)
    log(f"{target.backend}: {label} x{opts.repeats}")
    with server_cost(target, out, f"list.{key}", label, "GET", f"{API}/tables", opts.repeats):
        samples = [list_page(client, token)[0] for _ in range(opts.repeats)]
        out.latencies(target.backend, f"list.{key}", label, samples)


def set_up(backend: str, url: str, directory: Path, opts: Options, out: Results) -> Target:
    log(f"{backend}: starting a server on a fresh database")
    handle = start_server(url, directory / "storage")
    try:
        admin = handle.client(handle.admin_token)
        for path, body in [
            ("catalogs", {"name": CATALOG}),
            ("schemas", {"name": WRITE_SCHEMA, "catalog_name": CATALOG}),
            ("schemas", {"name": BIG_SCHEMA, "catalog_name": CATALOG}),
        ]:
            response = admin.post(f"{API}/{path}", json=body)
            if response.status_code != 200:
                raise RuntimeError(f"setup {path} failed: {response.text}")
        log(f"{backend}: bulk-inserting {opts.tables:,} tables x {opts.columns} columns")
        seconds = populate(url, opts.tables, opts.columns, opts.seed)
        out.notes.setdefault("bulk_load_s", {})[backend] = round(seconds, 1)
        log(f"{backend}: bulk load took {seconds:.1f} s")
    except BaseException:
        handle.stop()
        raise
    return Target(backend, url, handle)


def run(backends: Sequence[str], opts: Options, out: Results, workdir: Path) -> None:
    """Every backend gets its own server; each phase then runs on each backend in turn,
    so a change in the machine's load during the run touches both alike."""
    with ExitStack() as stack:
        targets = start_targets(
            stack,
            backends,
            workdir,
            opts.postgres_url,
            lambda backend, url, directory: set_up(backend, url, directory, opts, out),
        )
        try:
            for conc in opts.concurrency:
                for target in targets:
                    names = bench_create(target, conc, opts, out)
                    bench_get(target, conc, names, opts, out)
            for target in targets:
                bench_walk(target, opts, out)
            for key, label, page in probes(len(targets[0].tokens)):
                for target in targets:
                    bench_probe(target, key, label, page, opts, out)
        except BaseException:
            print_tails((t.backend, t.handle.logs()[-3000:]) for t in targets)
            raise


# -- the report -----------------------------------------------------------------------


def render(out: Results, backends: Sequence[str]) -> str:
    both = "sqlite" in backends and "postgresql" in backends
    header = ["figure", "unit", *backends]
    if both:
        header.append("PG/SQLite")
    rows = [header]
    for fig in out.figures.values():
        row = [fig.label, fig.unit, *(fmt(fig.values.get(b), fig.unit) for b in backends)]
        if both:
            row.append(ratio(fig.values.get("postgresql"), fig.values.get("sqlite")))
        rows.append(row)
    lines = markdown_table(rows)
    first = out.figures.get("list.first.p50")
    if first:
        lines.append("")
        for b in backends:
            value = first.values.get(b)
            if value is not None:
                verdict = "meets" if value < GOAL_FIRST_PAGE_MS else "MISSES"
                lines.append(
                    f"{b}: first page p50 {value:.2f} ms / goal {GOAL_FIRST_PAGE_MS:.0f} ms "
                    f"= {value / GOAL_FIRST_PAGE_MS:.2f} ({verdict} the goal)"
                )
    if both:
        lines.append(
            "PG/SQLite: above 1 means PostgreSQL is higher (faster for req/s, slower for ms and s)."
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[list[str], Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.catalog_api",
        description="Catalog API throughput over HTTP on SQLite and PostgreSQL, side by side.",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgres",
        help="comma-separated: sqlite, postgres (default: both)",
    )
    parser.add_argument(
        "--creates",
        type=int,
        default=1000,
        help="tables created at each concurrency level (default 1000: 2000 over the two levels)",
    )
    parser.add_argument(
        "--gets", type=int, default=1000, help="table reads at each concurrency level"
    )
    parser.add_argument(
        "--concurrency",
        default="1,4",
        help="client threads for create/get, comma-separated levels (default 1,4)",
    )
    parser.add_argument("--tables", type=int, default=100_000, help="tables in the listed schema")
    parser.add_argument("--columns", type=int, default=3, help="columns per table")
    parser.add_argument(
        "--repeats", type=int, default=200, help="fetches of each probed page (first/middle/last)"
    )
    parser.add_argument("--seed", type=int, default=7)
    add_postgres_url(parser)
    add_json(parser)
    args = parser.parse_args(argv)
    backends = parse_backends(parser, args.backends)
    concurrency = parse_levels(args.concurrency)
    if args.tables < PAGE * 3 or args.creates < 1 or args.gets < 1 or min(concurrency) < 1:
        parser.error(f"--tables must be at least {PAGE * 3}; counts and levels at least 1")
    opts = Options(
        creates=args.creates,
        gets=args.gets,
        concurrency=concurrency,
        tables=args.tables,
        columns=args.columns,
        repeats=args.repeats,
        seed=args.seed,
        postgres_url=args.postgres_url,
    )
    return backends, opts, args.json


def main(argv: Sequence[str] | None = None) -> int:
    backends, opts, json_path = parse_args(argv)
    out = Results()
    info, elapsed = run_on_backends(
        "steward-bench-",
        backends,
        opts.postgres_url,
        lambda workdir: run(backends, opts, out, workdir),
    )

    print()
    print("Steward catalog API over HTTP, " + " vs ".join(backends))
    print(machine_line(info))
    print(
        f"client: httpx, keep-alive, closed loop; create/get at {opts.concurrency} thread(s) "
        f"x {opts.creates}/{opts.gets} requests; list: 1 thread, {opts.tables:,} tables x "
        f"{opts.columns} columns, {PAGE} per page, {opts.repeats} fetches per probed page"
    )
    print(f"bulk load (not HTTP): {out.notes.get('bulk_load_s')} s; whole run {elapsed:.0f} s")
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
            "notes": out.notes,
            "run_seconds": round(elapsed, 1),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
