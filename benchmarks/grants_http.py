"""GRANT and REVOKE statements per second over HTTP, SQL endpoint vs the REST permissions API.

Run it with ``.venv/bin/python -m benchmarks.grants_http`` (``--help`` for the options).

For each backend it creates a throw-away database (a SQLite file in a temporary
directory; a fresh PostgreSQL database, dropped at the end), starts a real Steward
server process on it (``tests.support.start_server``) and drives it over HTTP with
httpx clients that keep their connections alive, in a closed loop (each client sends
its next request as soon as it has read the previous answer).

Before anything is timed it creates, over HTTP, ``--users`` users (SCIM
``POST /api/2.0/preview/scim/v2/Users``), a catalog, a schema and the tables the
grants go to. Then, at each ``--concurrency`` level (1 client thread, then 4):

1. GRANT: ``--grants`` distinct grants (privilege x table x user, so every one is a
   real insert), each sent as one request, in a shuffled order:

   - SQL: ``POST /api/2.0/sql/statements`` with
     ``GRANT SELECT ON TABLE bench.grants.t_… TO `user_3```;
   - REST, the peer: ``PATCH /api/2.1/unity-catalog/permissions/table/bench.grants.t_…``
     with one change, ``{"principal": "user_3", "add": ["SELECT"]}``.

   The two methods get separate, identically shaped sets of tables, so both do the
   same number of real inserts on tables holding the same number of grants.
2. Check: every table's grants are read back through both ``SHOW GRANTS ON TABLE``
   and ``GET /permissions/table/…``; both must show exactly the grants made.
3. REVOKE: the same grants taken away again, one per request
   (``REVOKE … FROM `user_3``` / ``{"remove": [...]}``), in another shuffled order.
4. Check: both read-backs must now show no grant at all.

Both servers run for the whole run. Each timed phase is cut into ``--rounds`` rounds;
in each round every backend sends its chunk through SQL and through REST, in an
order that flips from round to round, so a change in the machine's load touches all
four about equally. Figures: req/s, client p50/p99, the server
process's CPU per request and its own p50 (access log), with the SQL/REST and
PostgreSQL/SQLite ratios.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import (
    API,
    add_cpu,
    add_json,
    add_postgres_url,
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
from tests.support import ServerHandle, start_server

SQL_PATH = "/api/2.0/sql/statements"
SCIM_USERS = "/api/2.0/preview/scim/v2/Users"
CATALOG = "bench"
SCHEMA = "grants"
#: Table privileges the grants cycle through.
PRIVILEGES = ("SELECT", "MODIFY")
METHODS = ("sql", "rest")
METHOD_LABEL = {"sql": "SQL", "rest": "REST"}
OPERATIONS = ("grant", "revoke")
WARMUP_TABLE = "t_warmup"

#: One grant: (table full name, user, privilege).
GrantKey = tuple[str, str, str]
#: A timed request: (HTTP method, path, JSON body).
Request = tuple[str, str, dict[str, Any]]


# -- requests --------------------------------------------------------------------------


def sql_request(operation: str, grant: GrantKey) -> Request:
    table, user, privilege = grant
    if operation == "grant":
        statement = f"GRANT {privilege} ON TABLE {table} TO `{user}`"
    else:
        statement = f"REVOKE {privilege} ON TABLE {table} FROM `{user}`"
    return ("POST", SQL_PATH, {"statement": statement})


def rest_request(operation: str, grant: GrantKey) -> Request:
    table, user, privilege = grant
    change = {"principal": user, ("add" if operation == "grant" else "remove"): [privilege]}
    return ("PATCH", f"{API}/permissions/table/{table}", {"changes": [change]})


def request_for(method: str, operation: str, grant: GrantKey) -> Request:
    return sql_request(operation, grant) if method == "sql" else rest_request(operation, grant)


def succeeded(method: str, response: httpx.Response) -> bool:
    """SQL answers 200 even for a failed statement; the state tells."""
    if response.status_code != 200:
        return False
    return method == "rest" or b'"SUCCEEDED"' in response.content


def send(client: httpx.Client, request: Request) -> httpx.Response:
    verb, path, body = request
    return client.request(verb, path, json=body)


# -- the workload ----------------------------------------------------------------------


@dataclass
class Options:
    grants: int
    users: int
    concurrency: list[int]
    rounds: int
    warmup: int
    seed: int
    postgres_url: str

    @property
    def tables_per_set(self) -> int:
        """Tables one (method, level) set needs: each holds users x privileges grants."""
        per_table = self.users * len(PRIVILEGES)
        return -(-self.grants // per_table)


def user_names(n: int) -> list[str]:
    return [f"user_{k}" for k in range(n)]


def table_name(method: str, conc: int, index: int) -> str:
    return f"t_{method}_c{conc}_{index:03d}"


def grant_set(method: str, conc: int, opts: Options) -> list[GrantKey]:
    """The ``--grants`` distinct grants of one (method, level), table by table."""
    users = user_names(opts.users)
    grants: list[GrantKey] = []
    for i in range(opts.grants):
        per_table = opts.users * len(PRIVILEGES)
        table, rest = divmod(i, per_table)
        user, privilege = divmod(rest, len(PRIVILEGES))
        full = f"{CATALOG}.{SCHEMA}.{table_name(method, conc, table)}"
        grants.append((full, users[user], PRIVILEGES[privilege]))
    return grants


# -- figures ---------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    unit: str
    #: (backend, method) -> value
    values: dict[tuple[str, str], float] = field(default_factory=dict)


class Results:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.checks: list[dict[str, Any]] = []

    def add(self, backend: str, method: str, key: str, label: str, unit: str, value: float) -> None:
        self.rows.setdefault(key, Row(key, label, unit)).values[(backend, method)] = value


# -- the closed-loop client ------------------------------------------------------------


@dataclass
class Target:
    backend: str
    handle: ServerHandle


@dataclass
class Sample:
    """What the timed chunks of one (backend, method, operation, level) added up to."""

    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    #: Server CPU seconds; None when /proc cannot be read.
    cpu: float | None = 0.0
    server_ms: list[float] = field(default_factory=list)


def timed_chunk(
    target: Target, method: str, conc: int, requests: Sequence[Request], sample: Sample
) -> None:
    """Send ``requests`` on ``conc`` threads, one keep-alive client each, into ``sample``."""
    handle = target.handle
    clients = warm_clients(handle, conc)

    def failure(request: Request, response: httpx.Response) -> str | None:
        if succeeded(method, response):
            return None
        return f"{response.status_code} {response.text[:300]}"

    offset = log_offset(handle)
    cpu_before = server_cpu_seconds(handle)
    try:
        wall, done = closed_loop(
            clients, requests, send, failure, describe=lambda request: f"{request[2]}: "
        )
        cpu_after = server_cpu_seconds(handle)
    finally:
        for client in clients:
            client.close()
    sample.wall += wall
    sample.latencies += done
    sample.cpu = add_cpu(sample.cpu, cpu_before, cpu_after)
    # The server writes a request's access-log line after the answer has gone out, so
    # the last lines may land a moment after the client is done: wait for them, briefly.
    verb, path = requests[0][0], SQL_PATH if method == "sql" else f"{API}/permissions/"
    deadline = time.monotonic() + 2.0
    while True:
        durations = server_durations(handle, offset, verb, path)
        if len(durations) >= len(done) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    sample.server_ms += durations[-len(done) :]


def record(backend: str, method: str, operation: str, conc: int, s: Sample, out: Results) -> None:
    key, label = f"{operation}.c{conc}", f"{operation.upper()}, {threads_label(conc)}"
    n = len(s.latencies)
    out.add(backend, method, f"{key}.rps", f"{label}: req/s", "req/s", n / s.wall)
    out.add(backend, method, f"{key}.p50", f"{label}: p50", "ms", percentile(s.latencies, 50))
    out.add(backend, method, f"{key}.p99", f"{label}: p99", "ms", percentile(s.latencies, 99))
    if s.cpu is not None:
        out.add(backend, method, f"{key}.cpu", f"{label}: server CPU/req", "ms", s.cpu * 1000 / n)
    if len(s.server_ms) == n:  # a log in another format (or buffered) gives none: left out
        p50 = percentile(s.server_ms, 50)
        out.add(backend, method, f"{key}.server_p50", f"{label}: server-side p50", "ms", p50)


def timed_phase(
    targets: Sequence[Target],
    operation: str,
    conc: int,
    sets: dict[str, list[GrantKey]],
    opts: Options,
    out: Results,
) -> None:
    """One operation at one level, on every (backend, endpoint), in ``--rounds`` rounds.

    Each endpoint's grants are shuffled and cut into rounds; in each round every
    backend sends its chunk through SQL and through REST, the order of the four
    alternating from round to round, so a change in the machine's load during the
    phase touches each of them about equally.
    """
    rng = random.Random(f"{opts.seed}/{conc}/{operation}")
    chunks: dict[str, list[list[Request]]] = {}
    for method in METHODS:
        order = list(sets[method])
        rng.shuffle(order)
        requests = [request_for(method, operation, g) for g in order]
        rounds = min(opts.rounds, len(requests))
        chunks[method] = [requests[r::rounds] for r in range(rounds)]
    samples = {(t.backend, m): Sample() for t in targets for m in METHODS}
    label = f"{operation.upper()}, {threads_label(conc)}"
    log(f"{label}: {opts.grants} per endpoint and backend, in {len(chunks['sql'])} rounds")
    for r in range(len(chunks["sql"])):
        runs = [(t, m) for m in METHODS for t in targets]
        if r % 2:
            runs.reverse()
        for target, method in runs:
            timed_chunk(target, method, conc, chunks[method][r], samples[target.backend, method])
    for (backend, method), sample in samples.items():
        record(backend, method, operation, conc, sample, out)
        log(
            f"  {backend} {METHOD_LABEL[method]}: {len(sample.latencies) / sample.wall:.0f} req/s, "
            f"p50 {percentile(sample.latencies, 50):.1f} ms"
        )


# -- reading the grants back -------------------------------------------------------------


def shown_by_sql(client: httpx.Client, table: str) -> set[GrantKey]:
    response = client.post(SQL_PATH, json={"statement": f"SHOW GRANTS ON TABLE {table}"})
    body = response.json()
    if response.status_code != 200 or body["status"]["state"] != "SUCCEEDED":
        raise RuntimeError(f"SHOW GRANTS ON TABLE {table} failed: {response.text[:300]}")
    return {(table, row[0], row[1]) for row in body["result"]["data_array"]}


def shown_by_rest(client: httpx.Client, table: str) -> set[GrantKey]:
    response = client.get(f"{API}/permissions/table/{table}")
    if response.status_code != 200:
        raise RuntimeError(f"GET permissions of {table} failed: {response.text[:300]}")
    return {
        (table, a["principal"], privilege)
        for a in response.json()["privilege_assignments"]
        for privilege in a["privileges"]
    }


def check_grants(
    target: Target,
    method: str,
    conc: int,
    tables: Sequence[str],
    expected: set[GrantKey],
    stage: str,
    out: Results,
) -> None:
    """Both read-backs must show exactly ``expected`` on every table of the set."""
    client = target.handle.client(target.handle.admin_token)
    via_sql: set[GrantKey] = set()
    via_rest: set[GrantKey] = set()
    for table in tables:
        via_sql |= shown_by_sql(client, table)
        via_rest |= shown_by_rest(client, table)
    client.close()
    for how, seen in (("SHOW GRANTS", via_sql), ("GET permissions", via_rest)):
        if seen != expected:
            missing, extra = len(expected - seen), len(seen - expected)
            raise RuntimeError(
                f"{target.backend}: after {METHOD_LABEL[method]} {stage} at {threads_label(conc)}, "
                f"{how} shows {len(seen)} grants, expected {len(expected)} "
                f"({missing} missing, {extra} unexpected)"
            )
    out.checks.append(
        {
            "backend": target.backend,
            "method": method,
            "threads": conc,
            "after": stage,
            "tables": len(tables),
            "expected": len(expected),
            "show_grants": len(via_sql),
            "get_permissions": len(via_rest),
        }
    )


# -- set-up ----------------------------------------------------------------------------


def _ok(response: httpx.Response, expect: int, what: str) -> None:
    if response.status_code != expect:
        raise RuntimeError(f"setup: {what} failed: {response.status_code} {response.text[:300]}")


def set_up(backend: str, url: str, directory: Path, opts: Options) -> Target:
    log(f"{backend}: starting a server on a fresh database")
    handle = start_server(url, directory / "storage")
    try:
        admin = handle.client(handle.admin_token)
        for name in user_names(opts.users):
            _ok(admin.post(SCIM_USERS, json={"userName": name}), 201, f"user {name}")
        _ok(admin.post(f"{API}/catalogs", json={"name": CATALOG}), 200, "catalog")
        _ok(
            admin.post(f"{API}/schemas", json={"name": SCHEMA, "catalog_name": CATALOG}),
            200,
            "schema",
        )
        names = [WARMUP_TABLE] + [
            table_name(method, conc, i)
            for conc in opts.concurrency
            for method in METHODS
            for i in range(opts.tables_per_set)
        ]
        log(f"{backend}: creating {opts.users} users and {len(names)} tables over HTTP")
        for name in names:
            body = {
                "name": name,
                "catalog_name": CATALOG,
                "schema_name": SCHEMA,
                "table_type": "MANAGED",
                "data_source_format": "DELTA",
                "columns": [{"name": "id", "type_name": "LONG", "type_text": "bigint"}],
            }
            _ok(admin.post(f"{API}/tables", json=body), 200, f"table {name}")
        warm_up(handle, opts)
    except BaseException:
        handle.stop()
        raise
    return Target(backend, handle)


def warm_up(handle: ServerHandle, opts: Options) -> None:
    """Grant and revoke on a table outside the measured sets, through both endpoints,
    so first-use costs (imports, parser caches, pools) fall outside the timed phases."""
    client = handle.client(handle.admin_token)
    table = f"{CATALOG}.{SCHEMA}.{WARMUP_TABLE}"
    users = user_names(opts.users)
    for i in range(opts.warmup):
        grant = (table, users[i % len(users)], PRIVILEGES[i % len(PRIVILEGES)])
        for method in METHODS:
            for operation in OPERATIONS:
                response = send(client, request_for(method, operation, grant))
                if not succeeded(method, response):
                    raise RuntimeError(f"warm-up {method} {operation} failed: {response.text}")
        shown_by_sql(client, table)
        shown_by_rest(client, table)
    client.close()


# -- the run ---------------------------------------------------------------------------


def run(backends: Sequence[str], opts: Options, out: Results, workdir: Path) -> None:
    """One server per backend, both up for the whole run; each level grants, checks,
    revokes and checks again, every timed phase interleaved over backends and endpoints."""
    with ExitStack() as stack:
        targets = start_targets(
            stack,
            backends,
            workdir,
            opts.postgres_url,
            lambda backend, url, directory: set_up(backend, url, directory, opts),
        )
        try:
            for conc in opts.concurrency:
                sets = {m: grant_set(m, conc, opts) for m in METHODS}
                for operation in OPERATIONS:
                    timed_phase(targets, operation, conc, sets, opts, out)
                    log("checking the grants through SHOW GRANTS and GET permissions")
                    for method in METHODS:
                        tables = sorted({g[0] for g in sets[method]})
                        expected = set(sets[method]) if operation == "grant" else set()
                        for target in targets:
                            check_grants(target, method, conc, tables, expected, operation, out)
        except BaseException:
            print_tails((t.backend, t.handle.logs()[-3000:]) for t in targets)
            raise


# -- the report ------------------------------------------------------------------------


def render(out: Results, backends: Sequence[str]) -> str:
    both = "sqlite" in backends and "postgresql" in backends
    header = ["figure", "unit"]
    for b in backends:
        header += [f"{b} SQL", f"{b} REST", "SQL/REST"]
    if both:
        header += ["PG/SQLite SQL", "PG/SQLite REST"]
    rows = [header]
    for row in out.rows.values():
        cells = [row.label, row.unit]
        v = row.values
        for b in backends:
            sql, rest = v.get((b, "sql")), v.get((b, "rest"))
            cells += [fmt(sql, row.unit), fmt(rest, row.unit), ratio(sql, rest)]
        if both:
            for m in METHODS:
                cells.append(ratio(v.get(("postgresql", m)), v.get(("sqlite", m))))
        rows.append(cells)
    lines = markdown_table(rows)
    lines.append("")
    lines.append(
        "SQL/REST: the SQL endpoint's figure divided by the REST endpoint's (req/s: above 1 "
        "means SQL is faster; ms: above 1 means SQL is slower)."
    )
    if both:
        lines.append(
            "PG/SQLite: above 1 means PostgreSQL is higher (faster for req/s, slower for ms)."
        )
    return "\n".join(lines)


def render_checks(out: Results) -> str:
    lines = ["Read-back checks (every table of the set, through both endpoints):"]
    for c in out.checks:
        lines.append(
            f"- {c['backend']}, {METHOD_LABEL[c['method']]} set, {threads_label(c['threads'])}, "
            f"after {c['after'].upper()}: expected {c['expected']} grants on {c['tables']} "
            f"tables; SHOW GRANTS saw {c['show_grants']}, GET permissions saw "
            f"{c['get_permissions']}: ok"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> tuple[list[str], Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.grants_http",
        description=(
            "GRANT/REVOKE statements per second through POST /api/2.0/sql/statements, "
            "against the same changes through PATCH /permissions, on SQLite and PostgreSQL."
        ),
    )
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument(
        "--grants",
        type=int,
        default=300,
        help="distinct grants per endpoint at each concurrency level, granted then revoked "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=10,
        help="users created over SCIM; each table gets users x 2 privileges grants "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--concurrency", default="1,4", help="client threads, comma-separated levels (default 1,4)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="each timed phase is cut into this many rounds, alternating backends and "
        "endpoints (default %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="untimed grant+revoke rounds per endpoint before the run (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=7)
    add_postgres_url(parser)
    add_json(parser)
    args = parser.parse_args(argv)
    backends = parse_backends(parser, args.backends)
    concurrency = parse_levels(args.concurrency)
    if not concurrency or min(args.grants, args.users, args.rounds, *concurrency) < 1:
        parser.error("--grants, --users, --rounds and every --concurrency level must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    opts = Options(
        grants=args.grants,
        users=args.users,
        concurrency=concurrency,
        rounds=args.rounds,
        warmup=args.warmup,
        seed=args.seed,
        postgres_url=args.postgres_url,
    )
    return backends, opts, args.json


def main(argv: Sequence[str] | None = None) -> int:
    backends, opts, json_path = parse_args(argv)
    out = Results()
    info, elapsed = run_on_backends(
        "steward-bench-grants-",
        backends,
        opts.postgres_url,
        lambda workdir: run(backends, opts, out, workdir),
    )

    print()
    print(
        "Steward GRANT/REVOKE over HTTP: SQL statements vs REST permissions, "
        + " vs ".join(backends)
    )
    print(machine_line(info))
    print(
        f"client: httpx, keep-alive, closed loop, one change per request; {opts.grants} distinct "
        f"grants per endpoint at each of {opts.concurrency} thread(s), then revoked; "
        f"{opts.users} users x {len(PRIVILEGES)} privileges x {opts.tables_per_set} tables per "
        f"set; whole run {elapsed:.0f} s"
    )
    print()
    print(render(out, backends))
    print()
    print(render_checks(out))
    write_json(
        json_path,
        {
            "machine": info,
            "options": {k: v for k, v in vars(opts).items() if k != "postgres_url"},
            "figures": {
                r.key: {
                    "label": r.label,
                    "unit": r.unit,
                    **{f"{b}.{m}": x for (b, m), x in r.values.items()},
                }
                for r in out.rows.values()
            },
            "checks": out.checks,
            "run_seconds": round(elapsed, 1),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
