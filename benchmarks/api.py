"""Steward's metadata API against the framework's ceiling, under wrk's closed-loop load.

For each route below, the same load — `wrk` (Debian's package), one client thread, 1, 4
and 32 keep-alive connections, each sending its next request as soon as the last is
answered — against Steward and against ``benchmarks/bare_api.py``: a FastAPI app on the
same uvicorn stack that authenticates the bearer token and answers the very bytes Steward
answered to the same request (recorded before the run). Side by side, round by round,
on SQLite and PostgreSQL.

Steward runs as a user would meet it: one server process, a user who is not an admin
(granted USE CATALOG, USE SCHEMA, SELECT, EXECUTE, CREATE TABLE), every request
authenticated, authorized and audited — metadata reads included (the default). One
setting differs from the defaults: ``STEWARD_SQL_MAX_STATEMENTS_PER_USER=64``, since one
user sends up to 32 statements at once here and the default bound (4 in flight) would
refuse the rest.

Routes (``--routes``):

- ``get-table``: ``GET /tables/perf.s.t000``
- ``list-tables``: ``GET /tables?catalog_name=perf&schema_name=s&max_results=100`` (a full page)
- ``get-alias``: ``GET /models/perf.s.m/aliases/champion``
- ``get-permissions``: ``GET /permissions/table/perf.s.t000``
- ``show-tables``: ``SHOW TABLES IN perf.s`` through ``POST /api/2.0/sql/statements``
- ``create-table``: ``POST /tables``, a new name per request, into ``perf.w``
- ``grant``: ``GRANT``/``REVOKE SELECT ON TABLE perf.w.owned`` through the SQL endpoint, in turn

Afterwards it checks that no request failed (status and, for SQL, the statement's state),
that every table wrk counted as created exists, and that the audit log verifies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import (
    API,
    add_json,
    add_postgres_url,
    database_for,
    fmt,
    log,
    markdown_table,
    parse_backends,
    parse_levels,
    ratio,
    run_on_backends,
    tree_cpu_seconds,
    write_json,
)
from tests.support import ROOT, ServerHandle, free_port, start_server, write_mlmodel

SQL_PATH = "/api/2.0/sql/statements"
USER = "bench-api@example.com"
CATALOG, SCHEMA, WRITES = "perf", "s", "w"
TABLE = f"{CATALOG}.{SCHEMA}.t000"
OWNED = f"{CATALOG}.{WRITES}.owned"
MODEL = f"{CATALOG}.{SCHEMA}.m"
READERS = "readers"
TABLES_IN_SCHEMA = 120


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    #: The path wrk requests, query included.
    target: str
    #: A static body, or a Lua ``string.format`` template of (run tag, thread, counter).
    body: str | None = None
    dynamic: bool = False
    #: A SQL statement: the answer must say SUCCEEDED, not only 200.
    sql: bool = False
    read: bool = True

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


def _table_body_template() -> str:
    body = {
        "name": "c_%s_%d_%d",
        "catalog_name": CATALOG,
        "schema_name": WRITES,
        "table_type": "MANAGED",
        "data_source_format": "DELTA",
        "columns": [
            {"name": "id", "type_name": "LONG", "type_text": "bigint", "position": 0},
            {"name": "name", "type_name": "STRING", "type_text": "string", "position": 1},
        ],
    }
    return json.dumps(body)


ROUTES: tuple[Route, ...] = (
    Route("get-table", "GET", f"{API}/tables/{TABLE}"),
    Route(
        "list-tables",
        "GET",
        f"{API}/tables?catalog_name={CATALOG}&schema_name={SCHEMA}&max_results=100",
    ),
    Route("get-alias", "GET", f"{API}/models/{MODEL}/aliases/champion"),
    Route("get-permissions", "GET", f"{API}/permissions/table/{TABLE}"),
    Route(
        "show-tables",
        "POST",
        SQL_PATH,
        body=json.dumps({"statement": f"SHOW TABLES IN {CATALOG}.{SCHEMA}"}),
        sql=True,
    ),
    Route(
        "create-table",
        "POST",
        f"{API}/tables",
        body=_table_body_template(),
        dynamic=True,
        read=False,
    ),
    Route("grant", "POST", SQL_PATH, dynamic=True, sql=True, read=False),
)
GRANT_STATEMENTS = (
    json.dumps({"statement": f"GRANT SELECT ON TABLE {OWNED} TO `{READERS}`"}),
    json.dumps({"statement": f"REVOKE SELECT ON TABLE {OWNED} FROM `{READERS}`"}),
)


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def wrk_script(route: Route, token: str, run_tag: str) -> str:
    """The Lua script of one wrk run: the request, and a JSON summary printed at the end."""
    lines = [
        f"wrk.method = {lua_string(route.method)}",
        f"wrk.headers['Authorization'] = {lua_string('Bearer ' + token)}",
        "wrk.headers['Content-Type'] = 'application/json'",
        "local threads = {}",
        "function setup(thread)",
        "  table.insert(threads, thread)",
        "  thread:set('tid', #threads)",
        "end",
        "failed = 0",
        "local n = 0",
    ]
    if route.name == "grant":
        lines += [
            f"local statements = {{{lua_string(GRANT_STATEMENTS[0])}, "
            f"{lua_string(GRANT_STATEMENTS[1])}}}",
            "function request()",
            "  n = n + 1",
            f"  return wrk.format(nil, {lua_string(route.target)}, nil, statements[n % 2 + 1])",
            "end",
        ]
    elif route.dynamic:
        assert route.body is not None
        lines += [
            "function request()",
            "  n = n + 1",
            f"  local body = string.format({lua_string(route.body)}, "
            f"{lua_string(run_tag)}, tid, n)",
            f"  return wrk.format(nil, {lua_string(route.target)}, nil, body)",
            "end",
        ]
    else:
        lines.append(f"wrk.path = {lua_string(route.target)}")
        if route.body is not None:
            lines.append(f"wrk.body = {lua_string(route.body)}")
    if route.sql:
        lines += [
            "function response(status, headers, body)",
            "  if not string.find(body, '\"SUCCEEDED\"', 1, true) then failed = failed + 1 end",
            "end",
        ]
    lines += [
        "function done(summary, latency, requests)",
        "  local failed_total = 0",
        "  for _, thread in ipairs(threads) do",
        "    failed_total = failed_total + thread:get('failed')",
        "  end",
        "  local e = summary.errors",
        '  io.write(string.format(\'\\nWRK-JSON {"requests":%d,"duration_us":%d,'
        '"status_errors":%d,"socket_errors":%d,"failed":%d,"p50_us":%d,"p99_us":%d}\\n\', '
        "summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout, "
        "failed_total, latency:percentile(50), latency:percentile(99)))",
        "end",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float | None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_seconds is None or not self.requests:
            return None
        return self.cpu_seconds * 1000 / self.requests


def run_wrk(
    url: str,
    script: Path,
    connections: int,
    seconds: float,
    server_pid: int,
    profile_to: Path | None = None,
    profile_rate: int = 100,
    profile_gil: bool = False,
) -> Measurement:
    """One wrk run; with ``profile_to``, py-spy samples the server meanwhile and writes its
    collapsed stacks there (one line per stack and its sample count); with ``profile_gil``,
    only the thread holding the interpreter lock, so the samples divide the server's CPU."""
    sampler = None
    if profile_to is not None:
        sampler = subprocess.Popen(
            [
                shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(server_pid),
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "--nonblocking",
                "--rate",
                str(profile_rate),
                "--output",
                str(profile_to),
                *(["--gil"] if profile_gil else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    before = tree_cpu_seconds(server_pid)
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    after = tree_cpu_seconds(server_pid)
    if sampler is not None:
        sampler.wait(timeout=60)
    summary = None
    for line in result.stdout.splitlines():
        if line.startswith("WRK-JSON "):
            summary = json.loads(line.removeprefix("WRK-JSON "))
    if result.returncode != 0 or summary is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    cpu = after - before if before is not None and after is not None else None
    return Measurement(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        errors=summary["status_errors"] + summary["socket_errors"] + summary["failed"],
        cpu_seconds=cpu,
    )


# -- the two systems ----------------------------------------------------------------------


def _ok(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:400]}")
    sql = "/sql/statements" in str(response.request.url)
    if sql and response.json()["status"]["state"] != "SUCCEEDED":
        raise RuntimeError(f"{what}: {response.text[:400]}")
    return response


class Steward:
    """A Steward server with the benchmark's catalog, a model version and a user."""

    def __init__(self, backend: str, database_url: str, directory: Path) -> None:
        self.backend = backend
        self.directory = directory
        # One user sends up to 32 statements at once here; the per-user bound on
        # statements in flight (4 by default) would answer the rest 429.
        self.handle: ServerHandle = start_server(
            database_url,
            directory / "storage",
            {"STEWARD_SQL_MAX_STATEMENTS_PER_USER": "64"},
        )
        admin = self.handle.admin
        sql = lambda s: _ok(admin.post(SQL_PATH, json={"statement": s}), s)  # noqa: E731
        self.user, self.token = self.handle.create_user(USER)
        sql(f"CREATE CATALOG {CATALOG}")
        sql(f"CREATE SCHEMA {CATALOG}.{SCHEMA}")
        sql(f"CREATE SCHEMA {CATALOG}.{WRITES}")
        for i in range(TABLES_IN_SCHEMA):
            sql(f"CREATE TABLE {CATALOG}.{SCHEMA}.t{i:03d} (id BIGINT, name STRING, v DOUBLE)")
        sql(f"CREATE GROUP `{READERS}`")
        for grant in (
            f"GRANT USE CATALOG ON CATALOG {CATALOG} TO `{self.user}`",
            f"GRANT USE SCHEMA ON SCHEMA {CATALOG}.{SCHEMA} TO `{self.user}`",
            f"GRANT USE SCHEMA, CREATE TABLE ON SCHEMA {CATALOG}.{WRITES} TO `{self.user}`",
            f"GRANT SELECT ON SCHEMA {CATALOG}.{SCHEMA} TO `{self.user}`",
        ):
            sql(grant)
        model = {"name": "m", "catalog_name": CATALOG, "schema_name": SCHEMA}
        _ok(admin.post(f"{API}/models", json=model), "model")
        version = _ok(
            admin.post(
                f"{API}/models/versions",
                json={
                    "catalog_name": CATALOG,
                    "schema_name": SCHEMA,
                    "model_name": "m",
                    "source": "bench://m/1",
                },
            ),
            "version",
        ).json()
        write_mlmodel(version["storage_location"])
        _ok(
            admin.patch(
                f"{API}/models/{MODEL}/versions/1/finalize",
                json={"full_name": MODEL, "version": 1},
            ),
            "finalize",
        )
        _ok(admin.put(f"{API}/models/{MODEL}/aliases/champion", json={"version_num": 1}), "alias")
        sql(f"GRANT EXECUTE ON MODEL {MODEL} TO `{self.user}`")
        user = self.handle.client(self.token)
        owned = f"CREATE TABLE {OWNED} (id BIGINT)"
        _ok(user.post(SQL_PATH, json={"statement": owned}), owned)
        self.user_client = user

    @property
    def pid(self) -> int:
        return self.handle.process.pid

    def answers(self) -> list[dict[str, Any]]:
        """Steward's answer to one request of each route, for the bare app to send."""
        recorded = []
        for route in ROUTES:
            if route.name == "create-table":
                body: Any = json.loads(route.body % ("answer", 0, 0))  # type: ignore[operator]
            elif route.name == "grant":
                body = json.loads(GRANT_STATEMENTS[0])
            else:
                body = json.loads(route.body) if route.body else None
            answer = _ok(
                self.user_client.request(route.method, route.target, json=body), route.name
            )
            recorded.append(
                {
                    "method": route.method,
                    "path": route.path,
                    "status": answer.status_code,
                    "body": answer.text,
                }
            )
        return recorded

    def tables_created(self, tag: str) -> int:
        names = []
        token = None
        while True:
            params: dict[str, Any] = {"catalog_name": CATALOG, "schema_name": WRITES}
            if token:
                params["page_token"] = token
            page = _ok(self.handle.admin.get(f"{API}/tables", params=params), "list").json()
            names += [t["name"] for t in page.get("tables", [])]
            token = page.get("next_page_token")
            if not token:
                break
        return sum(1 for n in names if n.startswith(f"c_{tag}s"))

    def verify_audit(self) -> str:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "steward",
                "audit",
                "verify",
                "--database-url",
                self.handle.database_url,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "STEWARD_STORAGE_ROOT": str(self.handle.storage_root)},
        )
        if result.returncode != 0:
            raise RuntimeError(f"audit verify failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


class BareApp:
    """``benchmarks/bare_api.py`` on uvicorn, answering what Steward answered."""

    def __init__(self, answers: list[dict[str, Any]], token: str, directory: Path) -> None:
        answers_file = directory / "bare-answers.json"
        answers_file.write_text(json.dumps(answers))
        self.port = free_port()
        self.log = (directory / "bare.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks.bare_api:create_app",
                "--factory",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "BARE_API_ANSWERS": str(answers_file),
                "BARE_API_TOKEN_SHA256": hashlib.sha256(token.encode()).hexdigest(),
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + f"{API}/tables/{TABLE}").status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the bare app did not start")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


# -- the run ------------------------------------------------------------------------------


@dataclass
class Cell:
    steward: list[Measurement] = field(default_factory=list)
    bare: list[Measurement] = field(default_factory=list)


def mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present and len(present) == len(values) else None


def summarize(ms: list[Measurement]) -> dict[str, float | None]:
    return {
        "req/s": sum(m.requests for m in ms) / sum(m.seconds for m in ms),
        "p50 ms": mean([m.p50_ms for m in ms]),
        "p99 ms": mean([m.p99_ms for m in ms]),
        "server CPU ms/req": mean([m.cpu_ms_per_request for m in ms]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/api.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backends", default="sqlite,postgres", help="default: %(default)s")
    parser.add_argument(
        "--routes",
        default=",".join(r.name for r in ROUTES),
        help="comma-separated, of: %(default)s",
    )
    parser.add_argument("--connections", default="1,4,32", help="default: %(default)s")
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved (default 2)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="a folder: py-spy samples Steward during each of its runs and writes the "
        "collapsed stacks there, one file per run (py-spy must be installed)",
    )
    parser.add_argument(
        "--profile-rate",
        type=int,
        default=100,
        help="py-spy's samples per second with --profile (default %(default)s)",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile, sample only the thread holding the interpreter lock: where the "
        "server's Python CPU goes, without threads waiting (for the lock, a lock or I/O)",
    )
    add_postgres_url(parser)
    add_json(parser)
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    backends = parse_backends(parser, args.backends)
    by_name = {r.name: r for r in ROUTES}
    unknown = [n for n in args.routes.split(",") if n not in by_name]
    if unknown:
        parser.error(f"unknown routes: {', '.join(unknown)}")
    routes = [by_name[n] for n in args.routes.split(",")]
    levels = parse_levels(args.connections)
    if subprocess.run(["which", "wrk"], capture_output=True, check=False).returncode != 0:
        parser.error("wrk is not installed: apt-get install -y wrk")

    results: dict[str, dict[str, dict[int, Cell]]] = {}
    checks: dict[str, dict[str, Any]] = {}

    def body(workdir: Path) -> None:
        for backend in backends:
            with ExitStack() as stack:
                directory = workdir / backend
                directory.mkdir()
                url = stack.enter_context(database_for(backend, directory, args.postgres_url))
                log(f"{backend}: starting Steward and setting up")
                steward = Steward(backend, url, directory)
                stack.callback(steward.handle.stop)
                bare = BareApp(steward.answers(), steward.token, directory)
                stack.callback(bare.stop)
                results[backend] = {}
                created = 0
                tag = f"{backend[:2]}{int(time.time())}"
                scripts = Path(tempfile.mkdtemp(dir=directory))
                for route in routes:
                    results[backend][route.name] = {}
                    for conns in levels:
                        cell = Cell()
                        for round_ in range(args.rounds):
                            order = [("steward", steward), ("bare", bare)]
                            if round_ % 2:
                                order.reverse()
                            for system, target in order:
                                run_tag = f"{tag}{system[0]}{conns}r{round_}"
                                script = scripts / f"{route.name}-{run_tag}.lua"
                                script.write_text(wrk_script(route, steward.token, run_tag))
                                base = steward.handle.url if system == "steward" else bare.url
                                profile_to = (
                                    args.profile / f"{backend}-{route.name}-c{conns}-r{round_}.txt"
                                    if args.profile and system == "steward"
                                    else None
                                )
                                m = run_wrk(
                                    base,
                                    script,
                                    conns,
                                    args.seconds,
                                    target.pid,
                                    profile_to,
                                    args.profile_rate,
                                    args.profile_gil,
                                )
                                if system == "steward":
                                    cell.steward.append(m)
                                    if route.name == "create-table":
                                        created += m.requests
                                else:
                                    cell.bare.append(m)
                                if m.errors:
                                    raise RuntimeError(
                                        f"{backend} {route.name} {system} c={conns}: "
                                        f"{m.errors} failed requests"
                                    )
                                log(
                                    f"{backend} {route.name} c={conns} {system}: "
                                    f"{m.rate:,.0f} req/s p50 {m.p50_ms:.2f} ms"
                                )
                        results[backend][route.name][conns] = cell
                found = steward.tables_created(tag)
                if found < created:
                    raise RuntimeError(f"{backend}: wrk counted {created} creates, {found} exist")
                checks[backend] = {"tables created": found, "audit": steward.verify_audit()}

    info, elapsed = run_on_backends("steward-api-", backends, args.postgres_url, body)
    print(f"# Metadata API against a bare FastAPI app ({time.strftime('%d %b %Y %H:%M')})")
    print(
        f"{elapsed:.0f} s; wrk -t1, {args.seconds:g} s per run, {args.rounds} rounds; "
        + ", ".join(f"{k} {v}" for k, v in info.items())
    )
    payload: dict[str, Any] = {"machine": info, "seconds": elapsed, "results": {}}
    for backend, by_route in results.items():
        print(f"\n## {backend}\n")
        rows = [
            [
                "route",
                "conns",
                "Steward req/s",
                "bare req/s",
                "Steward/bare",
                "Steward p50 / p99 ms",
                "bare p50 / p99 ms",
                "Steward CPU ms/req",
                "bare CPU ms/req",
            ]
        ]
        payload["results"][backend] = {}
        for name, by_conns in by_route.items():
            payload["results"][backend][name] = {}
            for conns, cell in by_conns.items():
                s, b = summarize(cell.steward), summarize(cell.bare)
                rows.append(
                    [
                        name,
                        str(conns),
                        fmt(s["req/s"], "req/s"),
                        fmt(b["req/s"], "req/s"),
                        ratio(s["req/s"], b["req/s"]),
                        f"{fmt(s['p50 ms'], 'ms')} / {fmt(s['p99 ms'], 'ms')}",
                        f"{fmt(b['p50 ms'], 'ms')} / {fmt(b['p99 ms'], 'ms')}",
                        fmt(s["server CPU ms/req"], "ms"),
                        fmt(b["server CPU ms/req"], "ms"),
                    ]
                )
                payload["results"][backend][name][conns] = {
                    "steward": s,
                    "bare": b,
                    "runs": {
                        "steward": [m.__dict__ for m in cell.steward],
                        "bare": [m.__dict__ for m in cell.bare],
                    },
                }
        print("\n".join(markdown_table(rows)))
        print(f"\nchecks: {checks.get(backend)}")
    write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
