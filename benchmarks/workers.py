"""How the server scales with processes: ``steward server --workers N`` (N = 1, 2, 4) on
SQLite and on PostgreSQL, and HAProxy in front of two replicas, side by side in one run.

Run it with ``.venv/bin/python -m benchmarks.workers`` (``--help`` for the options). It
needs ``wrk`` and ``haproxy`` (``apt-get install wrk haproxy``) and a PostgreSQL that
allows ``CREATE DATABASE`` (``--postgres-url``).

What it measures, per configuration: throughput (req/s), latency (p50, p99) and the
server's CPU per request of

1. **GET table**: ``GET /api/2.1/unity-catalog/tables/bench.reads.t`` by a user who is
   not an admin and holds USE CATALOG, USE SCHEMA and SELECT: the whole authorization
   path, and the audit event every metadata read writes (on by default, and kept on);
2. **create table**: ``POST /api/2.1/unity-catalog/tables``, a new name every request and
   three columns, by the same user, who also holds USE SCHEMA and CREATE TABLE on
   ``bench.writes`` (so creates take the authorization path too, not the admin's).

The configurations: ``--workers N`` for each ``--workers-levels`` level on each backend,
and HAProxy (``deploy/haproxy.cfg`` with loopback addresses: roundrobin, ``option httpchk
GET /health/ready``) in front of two ``steward server --workers 1`` processes on one
PostgreSQL database and one storage root, as compose.yaml deploys them. Each
configuration gets a fresh throw-away database (a SQLite file; a ``steward_bench_*``
PostgreSQL database) and its own storage root, set up over HTTP by the admin (catalog,
schemas, the table read, the user, its token and its grants); the user's first requests
are checked before anything is timed.

The load comes from ``wrk``, not Python: a closed loop of ``--connections`` (16)
keep-alive connections over ``--wrk-threads`` threads, ``--seconds`` per measurement after a
``--warmup`` of the same kind. A Python client would take one of this machine's two
cores, which is what the server processes are measured competing for. A Lua script
builds each create's unique name (a per-run tag, a per-thread prefix and a per-thread
counter) and counts every answer that is not 2xx; any such answer or any socket error
stops the run. After the creates, the tables in ``bench.writes`` are counted: at least
one per 2xx answer.

The peer is one process of the same backend: ``--workers 1``, which is the bare
single-process server (no supervisor; the path ``steward server`` took before workers
existed); the HAProxy row is compared with PostgreSQL at 1 worker. Why: the question is
what a second (and fourth) process buys on this machine, and through which topology.

Server CPU per request: user + system CPU of every Steward process of the configuration
(supervisor, workers, both replicas; ``/proc``), not PostgreSQL's or HAProxy's, divided by
the answered requests. With ``--rounds`` above 1 the configurations run in alternating
order (forwards, then backwards, ...) and each figure is the median of the rounds.
"Machine busy": the share of both cores in use during the measurement, by any process
(PostgreSQL's backends and wrk included): near 100% a configuration has no core left to
scale into.

Why 16 connections: uvicorn's workers share one listening socket, and whichever is awake
first accepts what is waiting, so a handful of long-lived connections can all land on one
worker (with 4, a worker often served none: the "CPU by process" lines show the split).
Many clients, or a balancer's pool of connections, spread; 16 is the smallest number
that spread evenly in every run here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.catalog_api import CATALOG, create_body
from benchmarks.harness import (
    API,
    add_json,
    add_postgres_url,
    database_for,
    fmt,
    log,
    log_offset,
    machine_line,
    markdown_table,
    parse_backends,
    parse_levels,
    print_tails,
    ratio,
    run_on_backends,
    server_durations,
    tree_cpu_seconds,
    tree_pids,
    write_json,
)
from tests.support import (
    ROOT,
    ServerHandle,
    free_port,
    haproxy_stats,
    loopback_haproxy_config,
    server_command,
)

READ_SCHEMA = "reads"
WRITE_SCHEMA = "writes"
READ_TABLE = "t"
COLUMNS = 3
READ_PATH = f"{API}/tables/{CATALOG}.{READ_SCHEMA}.{READ_TABLE}"
CREATE_PATH = f"{API}/tables"
READY_PATH = "/health/ready"
SCIM_USERS = "/api/2.0/preview/scim/v2/Users"
#: The replicas deploy/haproxy.cfg balances, by the names compose.yaml gives them.
REPLICAS = ("steward-1", "steward-2")
INSTALL_HINT = "apt-get install wrk haproxy"
START_SECONDS = 120.0
STOP_SECONDS = 30.0
#: Fresh connections in a row that must all be served right before the load starts:
#: each may land on another worker, and every worker must have seen the grants.
CHECKS_IN_A_ROW = 20
KINDS = ("get", "create")


# -- configurations and figures ------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One way of running the server: ``workers`` processes behind one port, or (when
    ``balanced``) HAProxy in front of ``len(REPLICAS)`` one-process replicas."""

    backend: str
    workers: int
    balanced: bool = False

    @property
    def key(self) -> str:
        return f"{self.backend}-haproxy" if self.balanced else f"{self.backend}-w{self.workers}"

    @property
    def label(self) -> str:
        if self.balanced:
            return f"HAProxy, {len(REPLICAS)} replicas × 1 worker"
        return f"{self.workers} worker{'s' if self.workers > 1 else ''}"

    def peer(self) -> Config:
        """What this configuration is compared with: 1 worker of the same backend."""
        return Config(self.backend, 1)


@dataclass
class Measurement:
    """One wrk run's figures, and what the server spent meanwhile."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None = None
    haproxy_cpu_ms_per_request: float | None = None
    #: Each serving process's share of the server CPU (workers or replicas), in %.
    cpu_shares: list[float] = field(default_factory=list)
    #: Requests each replica's access log shows (HAProxy only).
    replica_requests: list[int] = field(default_factory=list)
    #: How busy the whole machine's CPUs were meanwhile (all processes: Steward,
    #: PostgreSQL, wrk, HAProxy), in %: near 100 the configuration is bound by the cores.
    machine_busy_pct: float | None = None


@dataclass
class Options:
    levels: list[int]
    backends: list[str]
    connections: int
    wrk_threads: int
    seconds: int
    warmup: int
    rounds: int
    postgres_url: str


#: (configuration key, kind) -> one measurement per round.
Results = dict[tuple[str, str], list[Measurement]]


def configurations(opts: Options) -> list[Config]:
    """Every level on every backend, then HAProxy when PostgreSQL is measured (replicas
    share one database: SQLite's single file cannot be shared by two servers)."""
    configs = [Config(b, n) for b in opts.backends for n in opts.levels]
    if "postgresql" in opts.backends:
        configs.append(Config("postgresql", 1, balanced=True))
    return configs


def round_order(configs: Sequence[Config], round_index: int) -> list[Config]:
    """Forwards in even rounds, backwards in odd ones: no configuration always goes first
    (or last) while the machine warms up or other load comes and goes."""
    return list(configs) if round_index % 2 == 0 else list(reversed(configs))


# -- tools ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    wrk: str
    haproxy: str


def find_tools() -> Tools | str:
    """wrk and haproxy (Debian puts haproxy in /usr/sbin, which a user's PATH may lack),
    or the names of those missing."""
    wrk = shutil.which("wrk")
    haproxy = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )
    if wrk and haproxy:
        return Tools(wrk, haproxy)
    return " and ".join(name for name, path in (("wrk", wrk), ("haproxy", haproxy)) if not path)


# -- processes -----------------------------------------------------------------------------


def group_alive(pgid: int) -> bool:
    """Whether any process is left in the process group ``pgid`` (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(process: subprocess.Popen[bytes], name: str) -> None:
    """SIGTERM to the group's leader (uvicorn's supervisor passes it on to its workers,
    which drain; haproxy's master to its worker), then wait up to ``STOP_SECONDS`` for the
    leader and everything else in its group (workers, multiprocessing's resource tracker)
    to be gone; whatever is still there then is killed, group and all."""
    if process.poll() is None:
        process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    while process.poll() is None or group_alive(process.pid):
        if time.monotonic() > deadline:
            log(f"{name}: still running {STOP_SECONDS:.0f} s after SIGTERM; killing its group")
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    process.wait()


def start_group(
    command: list[str], env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """``command`` in a session (and process group) of its own, output to ``log_path``;
    the caller hands it to :func:`stop_group` on its exit stack at once."""
    with log_path.open("ab") as out:
        return subprocess.Popen(
            command,
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until(condition: Callable[[], bool], what: str, seconds: float = START_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.2)


def started_count(log_path: Path) -> int:
    """How many Steward processes writing to ``log_path`` have built their app."""
    return log_path.read_text(errors="replace").count('"event":"started"')


def is_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}{READY_PATH}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_steward(
    stack: ExitStack,
    name: str,
    database_url: str,
    storage_root: Path,
    log_path: Path,
    workers: int,
    admin_token: str,
) -> ServerHandle:
    """``steward server --workers N`` on a free loopback port, its processes in their own
    group; returns once every worker has started and ``/health/ready`` answers 200."""
    port = free_port()
    env = {
        **os.environ,
        "STEWARD_ADMIN_TOKEN": admin_token,
        "STEWARD_DATABASE_URL": database_url,
        "STEWARD_STORAGE_ROOT": str(storage_root),
        "STEWARD_HOST": "127.0.0.1",
        "STEWARD_PORT": str(port),
        "STEWARD_LOG_FORMAT": "json",  # one "started" line per process; the access log
        "STEWARD_AUDIT_METADATA_READS": "true",  # the default, whatever the shell says
    }
    storage_root.mkdir(parents=True, exist_ok=True)
    command = [*server_command(ROOT), "--workers", str(workers)]
    process = start_group(command, env, log_path)
    handle = ServerHandle(
        f"http://127.0.0.1:{port}", admin_token, storage_root, process, log_path, database_url
    )
    # Last in, first out: stop_group stops the processes, then handle.stop only closes
    # the clients (its own stop would SIGKILL a supervisor still draining after 10 s).
    stack.callback(handle.stop)
    stack.callback(stop_group, process, name)

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{handle.logs()[-3000:]}")
        return started_count(log_path) >= workers and is_ready(handle.url)

    wait_until(up, f"{name}: {workers} process(es) started and {READY_PATH} 200")
    return handle


def serving_pids(root: int) -> list[int]:
    """The processes that answer requests: the workers under a supervisor (not its
    multiprocessing resource tracker), or the server itself when it has no children."""
    children = [pid for pid in tree_pids(root) if pid != root]
    workers = []
    for pid in children:
        try:
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                workers.append(pid)
        except OSError:
            continue
    return workers or [root]


# -- HAProxy -------------------------------------------------------------------------------


def all_checked_up(socket_path: Path) -> bool:
    """Every replica UP after a real check of /health/ready that answered 200."""
    if not socket_path.exists():
        return False
    try:
        rows = haproxy_stats(socket_path)
    except OSError:
        return False
    return all(
        name in rows
        and rows[name]["status"] == "UP"
        and rows[name]["check_status"] == "L7OK"
        and rows[name]["check_code"] == "200"
        for name in REPLICAS
    )


def start_haproxy(
    stack: ExitStack, binary: str, directory: Path, replicas: Sequence[ServerHandle]
) -> tuple[str, subprocess.Popen[bytes]]:
    """haproxy (master-worker, foreground) in front of ``replicas``; returns its URL once
    its health checks have seen every replica ready."""
    port = free_port()
    socket_path = directory / "haproxy.sock"
    config = directory / "haproxy.cfg"
    replica_ports = [int(r.url.rsplit(":", 1)[1]) for r in replicas]
    config.write_text(
        loopback_haproxy_config(port, dict(zip(REPLICAS, replica_ports, strict=True)), socket_path)
    )
    log_path = directory / "haproxy.log"
    process = start_group([binary, "-W", "-db", "-f", str(config)], os.environ, log_path)
    stack.callback(stop_group, process, "haproxy")

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"haproxy exited early:\n{log_path.read_text()[-3000:]}")
        return all_checked_up(socket_path)

    wait_until(up, "haproxy's checks to find every replica ready (L7OK 200)")
    return f"http://127.0.0.1:{port}", process


# -- a deployment and its set-up -----------------------------------------------------------


@dataclass
class Deployment:
    """A configuration running: where requests go, the Steward servers behind that,
    haproxy (when balanced), and the token of the user the load is sent as."""

    config: Config
    url: str
    servers: list[ServerHandle]
    haproxy: subprocess.Popen[bytes] | None = None
    user_token: str = ""

    @property
    def admin(self) -> httpx.Client:
        return self.servers[0].admin


def deploy(
    stack: ExitStack, config: Config, directory: Path, opts: Options, tools: Tools
) -> Deployment:
    """Start ``config`` on a fresh database in ``directory``; ``stack`` stops every process
    and drops the database."""
    directory.mkdir(parents=True)
    database_url = stack.enter_context(database_for(config.backend, directory, opts.postgres_url))
    token = "dapi" + uuid.uuid4().hex + uuid.uuid4().hex
    if not config.balanced:
        log(f"{config.key}: starting steward server --workers {config.workers}")
        server = start_steward(
            stack,
            config.key,
            database_url,
            directory / "storage",
            directory / "server.log",
            config.workers,
            token,
        )
        return Deployment(config, server.url, [server])
    log(f"{config.key}: starting {len(REPLICAS)} replicas on one database and storage root")
    replicas = [
        start_steward(
            stack, name, database_url, directory / "storage", directory / f"{name}.log", 1, token
        )
        for name in REPLICAS
    ]
    url, process = start_haproxy(stack, tools.haproxy, directory, replicas)
    return Deployment(config, url, replicas, process)


def expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")


def grant(admin: httpx.Client, kind: str, name: str, user: str, *privileges: str) -> None:
    response = admin.patch(
        f"{API}/permissions/{kind}/{name}",
        json={"changes": [{"principal": user, "add": list(privileges)}]},
    )
    expect(response, 200, f"grant {', '.join(privileges)} on {kind} {name} to {user}")


def set_up(deployment: Deployment) -> None:
    """As the admin, over HTTP: the catalog, both schemas, the table read, a user who is
    not an admin, its token and its grants; then check the user's access."""
    admin = deployment.admin
    expect(admin.post(f"{API}/catalogs", json={"name": CATALOG}), 200, "create catalog")
    for schema in (READ_SCHEMA, WRITE_SCHEMA):
        body = {"name": schema, "catalog_name": CATALOG}
        expect(admin.post(f"{API}/schemas", json=body), 200, f"create schema {schema}")
    table = create_body(READ_SCHEMA, READ_TABLE, COLUMNS)
    expect(admin.post(CREATE_PATH, json=table), 200, "create the table read")
    user, token = deployment.servers[0].create_user()
    deployment.user_token = token
    refused = httpx.get(f"{deployment.url}{READ_PATH}", headers=bearer(token), timeout=30)
    if refused.status_code == 200:
        raise RuntimeError(f"{user} read the table before any grant: is it an admin?")
    grant(admin, "catalog", CATALOG, user, "USE CATALOG")
    grant(admin, "schema", f"{CATALOG}.{READ_SCHEMA}", user, "USE SCHEMA")
    grant(admin, "table", f"{CATALOG}.{READ_SCHEMA}.{READ_TABLE}", user, "SELECT")
    grant(admin, "schema", f"{CATALOG}.{WRITE_SCHEMA}", user, "USE SCHEMA", "CREATE TABLE")
    check_access(deployment, user)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def check_access(deployment: Deployment, user: str) -> None:
    """The user, refused before the grants, is served by every process before the load
    starts: the grants went through one worker (or replica) and reach the others within
    about a second, so wait for :data:`CHECKS_IN_A_ROW` fresh connections in a row to read
    the table. Then one create, which must succeed and make ``user`` the owner."""
    headers = bearer(deployment.user_token)
    in_a_row = 0

    def served() -> bool:
        nonlocal in_a_row
        response = httpx.get(f"{deployment.url}{READ_PATH}", headers=headers, timeout=30)
        in_a_row = in_a_row + 1 if response.status_code == 200 else 0
        return in_a_row >= CHECKS_IN_A_ROW

    wait_until(served, f"{CHECKS_IN_A_ROW} reads in a row by the user", 30)
    probe = create_body(WRITE_SCHEMA, "probe", COLUMNS)
    response = httpx.post(f"{deployment.url}{CREATE_PATH}", json=probe, headers=headers)
    expect(response, 200, "the user's first create table")
    if response.json().get("owner") != user:
        raise RuntimeError(f"the probe table's owner is not {user}: {response.text[:300]}")


def count_tables(admin: httpx.Client, schema: str) -> int:
    """The tables in ``bench.<schema>``, page by page."""
    seen, token = 0, None
    while True:
        params: dict[str, Any] = {"catalog_name": CATALOG, "schema_name": schema}
        if token:
            params["page_token"] = token
        response = admin.get(CREATE_PATH, params=params)
        expect(response, 200, f"list tables of {schema}")
        body = response.json()
        seen += len(body.get("tables") or [])
        token = body.get("next_page_token")
        if not token:
            return seen


# -- wrk -----------------------------------------------------------------------------------

#: The Lua script wrk runs for both kinds of request. ``setup`` (main state) numbers each
#: thread; ``init`` (the thread's state) makes its prefix from that number and the run's
#: tag (the script's argument); ``request`` sends a GET or a POST with the next name;
#: ``response`` counts answers that are not 2xx (wrk's own count misses 3xx) and keeps the
#: first; ``done`` prints both, which :func:`parse_wrk` reads.
LUA = """\
local threads = {}
local method, path, token = [==[%(method)s]==], [==[%(path)s]==], [==[%(token)s]==]
local body_head, body_tail = [==[%(body_head)s]==], [==[%(body_tail)s]==]

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  prefix = args[1] .. "_" .. id .. "_"
  counter = 0
  bad = 0
  first_bad = ""
  headers = {["Authorization"] = "Bearer " .. token}
  if method == "POST" then headers["Content-Type"] = "application/json" end
end

function request()
  if method ~= "POST" then return wrk.format(method, path, headers) end
  counter = counter + 1
  return wrk.format(method, path, headers, body_head .. prefix .. counter .. body_tail)
end

function response(status, hdrs, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
end

function done(summary, latency, requests)
  local total, first = 0, ""
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
    if first == "" then first = thread:get("first_bad") end
  end
  io.write(string.format("steward: not 2xx %%d\\n", total))
  if first ~= "" then io.write("steward: first " .. string.gsub(first, "\\n", " ") .. "\\n") end
end
"""
NAME_MARK = "@@NAME@@"
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def lua_script(kind: str, token: str) -> str:
    """The script for ``kind``: a GET of the table read, or creates of unique tables."""
    if kind == "get":
        values = {"method": "GET", "path": READ_PATH, "body_head": "", "body_tail": ""}
    else:
        body = json.dumps(create_body(WRITE_SCHEMA, NAME_MARK, COLUMNS))
        head, tail = body.split(NAME_MARK)
        values = {"method": "POST", "path": CREATE_PATH, "body_head": head, "body_tail": tail}
    return LUA % {**values, "token": token}


def _number(pattern: str, output: str) -> re.Match[str]:
    found = re.search(pattern, output, flags=re.M)
    if found is None:
        raise RuntimeError(f"wrk's output lacks {pattern!r}:\n{output}")
    return found


def _ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


def parse_wrk(output: str) -> Measurement:
    """Requests/sec, the 50% and 99% latencies and the request count of wrk's report.

    Fails on any answer that was not 2xx (wrk's ``Non-2xx or 3xx responses`` and the
    script's own count) and on any socket error (connect, read, write, timeout)."""
    problems = []
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        problems.append(f"{non_2xx.group(1)} non-2xx or 3xx responses")
    script = int(_number(r"^steward: not 2xx (\d+)$", output).group(1))
    if script:
        first = re.search(r"^steward: first (.*)$", output, flags=re.M)
        problems.append(f"{script} answers not 2xx, first: {first.group(1) if first else '?'}")
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors and any(int(n) for n in errors.groups()):
        problems.append(errors.group(0))
    if problems:
        raise RuntimeError("wrk: " + "; ".join(problems) + f"\n{output}")
    count = _number(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", output)
    p50 = _number(r"^\s*50%\s+([\d.]+)(us|ms|s|m|h)\s*$", output)
    p99 = _number(r"^\s*99%\s+([\d.]+)(us|ms|s|m|h)\s*$", output)
    return Measurement(
        requests=int(count.group(1)),
        seconds=_ms(count.group(2), count.group(3)) / 1000,
        rps=float(_number(r"^Requests/sec:\s+([\d.]+)$", output).group(1)),
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
    )


def run_wrk(tools: Tools, url: str, script: Path, seconds: int, opts: Options) -> Measurement:
    """One closed-loop wrk run of ``seconds``; every run gets its own name tag."""
    tag = "w" + uuid.uuid4().hex[:8]
    command = [
        tools.wrk,
        "--threads", str(opts.wrk_threads),
        "--connections", str(opts.connections),
        "--duration", f"{seconds}s",
        "--timeout", "30s",
        "--latency",
        "--script", str(script),
        url,
        "--",
        tag,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


# -- measuring -----------------------------------------------------------------------------


def cpu_by_process(deployment: Deployment) -> dict[int, float | None]:
    """CPU seconds so far of every serving process, and of each server's whole tree
    (keyed by the negative pid of its root), and of haproxy's tree (key 0)."""
    readings: dict[int, float | None] = {}
    for server in deployment.servers:
        root = server.process.pid
        readings[-root] = tree_cpu_seconds(root)
        for pid in serving_pids(root):
            readings[pid] = tree_cpu_seconds(pid)
    if deployment.haproxy is not None:
        readings[0] = tree_cpu_seconds(deployment.haproxy.pid)
    return readings


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU since boot (``/proc/stat``'s first line)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def spent(
    before: Mapping[int, float | None], after: Mapping[int, float | None], keys: Sequence[int]
) -> float | None:
    """CPU seconds spent between two readings over ``keys``; None if any is missing."""
    total = 0.0
    for key in keys:
        a, b = before.get(key), after.get(key)
        if a is None or b is None:
            return None
        total += b - a
    return total


def add_costs(
    m: Measurement,
    deployment: Deployment,
    before: Mapping[int, float | None],
    after: Mapping[int, float | None],
) -> None:
    """The server's (and haproxy's) CPU per answered request, and each serving process's
    share of it."""
    roots = [-s.process.pid for s in deployment.servers]
    server_cpu = spent(before, after, roots)
    if server_cpu is not None and m.requests:
        m.cpu_ms_per_request = server_cpu * 1000 / m.requests
    if deployment.haproxy is not None:
        lb = spent(before, after, [0])
        if lb is not None and m.requests:
            m.haproxy_cpu_ms_per_request = lb * 1000 / m.requests
    serving = [k for k in after if k > 0]
    shares = [spent(before, after, [pid]) for pid in serving]
    total = sum(s for s in shares if s is not None)
    if total > 0 and len(serving) > 1:
        m.cpu_shares = sorted((100 * (s or 0.0) / total for s in shares), reverse=True)


def measure(
    deployment: Deployment, kind: str, tools: Tools, opts: Options, workdir: Path
) -> Measurement:
    """wrk for ``--warmup`` seconds, then ``--seconds`` measured, with the server's CPU
    read around the measured run only."""
    script = workdir / f"{deployment.config.key}-{kind}.lua"
    script.write_text(lua_script(kind, deployment.user_token))
    path = READ_PATH if kind == "get" else CREATE_PATH
    url = f"{deployment.url}{path}"
    label = f"{deployment.config.key}: {'GET table' if kind == 'get' else 'create table'}"
    warm = None
    if opts.warmup:
        log(f"{label}: warm-up {opts.warmup} s")
        warm = run_wrk(tools, url, script, opts.warmup, opts)
    log(f"{label}: {opts.seconds} s")
    offsets = [log_offset(s) for s in deployment.servers]
    before = cpu_by_process(deployment)
    busy_before, total_before = machine_cpu()
    m = run_wrk(tools, url, script, opts.seconds, opts)
    busy_after, total_after = machine_cpu()
    after = cpu_by_process(deployment)
    add_costs(m, deployment, before, after)
    if total_after > total_before:
        m.machine_busy_pct = 100 * (busy_after - busy_before) / (total_after - total_before)
    if deployment.config.balanced:
        method = "GET" if kind == "get" else "POST"
        m.replica_requests = [
            len(server_durations(s, offset, method, path))
            for s, offset in zip(deployment.servers, offsets, strict=True)
        ]
    if kind == "create":
        check_creates(deployment, (warm.requests if warm else 0) + m.requests, opts)
    log(f"{label}: {m.rps:,.0f} req/s, p50 {m.p50_ms:.2f} ms, p99 {m.p99_ms:.2f} ms")
    return m


def check_creates(deployment: Deployment, answered: int, opts: Options) -> None:
    """Every 2xx create made a table: the schema holds the probe plus at least one table
    per answered create (and at most the requests still in flight when wrk stopped)."""
    runs = 2 if opts.warmup else 1
    expected = 1 + answered
    found = count_tables(deployment.admin, WRITE_SCHEMA)
    if not expected <= found <= expected + runs * opts.connections:
        raise RuntimeError(
            f"{deployment.config.key}: {found} tables in {CATALOG}.{WRITE_SCHEMA} after "
            f"{answered} answered creates (+1 probe)"
        )


def bench_config(
    config: Config, round_index: int, tools: Tools, opts: Options, workdir: Path, out: Results
) -> None:
    """One configuration from start to stop on its own fresh database and storage root;
    every process is stopped and the database dropped even when something fails."""
    directory = workdir / f"{config.key}-r{round_index + 1}"
    with ExitStack() as stack:
        deployment = deploy(stack, config, directory, opts, tools)
        try:
            set_up(deployment)
            for kind in KINDS:
                out.setdefault((config.key, kind), []).append(
                    measure(deployment, kind, tools, opts, directory)
                )
        except Exception:
            print_tails((s.log_path.name, s.logs()[-3000:]) for s in deployment.servers)
            raise
        log(f"{config.key}: stopping")


def run(
    configs: Sequence[Config], tools: Tools, opts: Options, out: Results, workdir: Path
) -> None:
    for round_index in range(opts.rounds):
        if opts.rounds > 1:
            log(f"round {round_index + 1} of {opts.rounds}")
        for config in round_order(configs, round_index):
            bench_config(config, round_index, tools, opts, workdir, out)


# -- the report ----------------------------------------------------------------------------


def median_of(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if len(present) == len(values) and present else None


@dataclass
class Summary:
    """A configuration's figures for one kind: the median over the rounds."""

    rps: float | None
    p50_ms: float | None
    p99_ms: float | None
    cpu_ms: float | None
    haproxy_cpu_ms: float | None
    machine_busy_pct: float | None


def summarize(measurements: Sequence[Measurement]) -> Summary:
    return Summary(
        rps=median_of([m.rps for m in measurements]),
        p50_ms=median_of([m.p50_ms for m in measurements]),
        p99_ms=median_of([m.p99_ms for m in measurements]),
        cpu_ms=median_of([m.cpu_ms_per_request for m in measurements]),
        haproxy_cpu_ms=median_of([m.haproxy_cpu_ms_per_request for m in measurements]),
        machine_busy_pct=median_of([m.machine_busy_pct for m in measurements]),
    )


def summaries(configs: Sequence[Config], out: Results) -> dict[tuple[str, str], Summary]:
    return {(c.key, k): summarize(out[(c.key, k)]) for c in configs for k in KINDS}


def speedup(figures: Mapping[tuple[str, str], Summary], config: Config, kind: str) -> str:
    """req/s of ``config`` over its peer's (1 worker of the same backend)."""
    peer = figures.get((config.peer().key, kind))
    return ratio(figures[(config.key, kind)].rps, peer.rps if peer else None)


def render_table(
    configs: Sequence[Config], figures: Mapping[tuple[str, str], Summary]
) -> list[str]:
    rows = [
        [
            "configuration",
            "backend",
            "GET req/s",
            "GET p50 ms",
            "GET p99 ms",
            "GET CPU/req ms",
            "GET machine busy %",
            "create req/s",
            "create p50 ms",
            "create p99 ms",
            "create CPU/req ms",
            "create machine busy %",
            "GET req/s vs 1 worker",
            "create req/s vs 1 worker",
        ]
    ]
    for c in configs:
        get, create = figures[(c.key, "get")], figures[(c.key, "create")]
        rows.append(
            [
                c.label,
                c.backend,
                fmt(get.rps, "req/s"),
                fmt(get.p50_ms, "ms"),
                fmt(get.p99_ms, "ms"),
                fmt(get.cpu_ms, "ms"),
                fmt(get.machine_busy_pct, "%", {"%": 0}),
                fmt(create.rps, "req/s"),
                fmt(create.p50_ms, "ms"),
                fmt(create.p99_ms, "ms"),
                fmt(create.cpu_ms, "ms"),
                fmt(create.machine_busy_pct, "%", {"%": 0}),
                speedup(figures, c, "get"),
                speedup(figures, c, "create"),
            ]
        )
    return markdown_table(rows)


def render_scaling(
    configs: Sequence[Config], figures: Mapping[tuple[str, str], Summary]
) -> list[str]:
    """The sentences the table is for: reads from 1 to 2 workers on each backend, and the
    balanced pair against one PostgreSQL process."""
    lines = []
    for backend in dict.fromkeys(c.backend for c in configs):
        one = figures.get((Config(backend, 1).key, "get"))
        two = figures.get((Config(backend, 2).key, "get"))
        if one is None or two is None:
            lines.append(f"reads, 1 → 2 workers on {backend}: not measured (--workers-levels)")
            continue
        lines.append(
            f"reads, 1 → 2 workers on {backend}: ×{ratio(two.rps, one.rps)} "
            f"({fmt(one.rps, 'req/s')} → {fmt(two.rps, 'req/s')} req/s)"
        )
    for c in configs:
        if c.balanced:
            lines.append(
                f"{c.label} vs PostgreSQL at 1 worker: reads ×{speedup(figures, c, 'get')}, "
                f"creates ×{speedup(figures, c, 'create')}"
            )
            get, create = figures[(c.key, "get")], figures[(c.key, "create")]
            lines.append(
                f"HAProxy's own CPU/req (not in the table): GET {fmt(get.haproxy_cpu_ms, 'ms')} "
                f"ms, create {fmt(create.haproxy_cpu_ms, 'ms')} ms"
            )
    return lines


def render_spread(configs: Sequence[Config], out: Results) -> list[str]:
    """How evenly the processes shared the work (one line per configuration with more
    than one serving process): a worker left idle caps the scaling."""
    lines = []
    for c in configs:
        for kind in KINDS:
            for i, m in enumerate(out[(c.key, kind)]):
                if not m.cpu_shares:
                    continue
                shares = " / ".join(f"{s:.0f}%" for s in m.cpu_shares)
                text = f"{c.backend}, {c.label}, {kind}, round {i + 1}: CPU by process {shares}"
                if m.replica_requests:
                    text += f"; requests by replica {' / '.join(map(str, m.replica_requests))}"
                lines.append(text)
    return lines


def payload(
    info: Mapping[str, str], configs: Sequence[Config], opts: Options, out: Results, elapsed: float
) -> dict[str, object]:
    figures = summaries(configs, out)
    return {
        "machine": dict(info),
        "options": {k: v for k, v in vars(opts).items() if k != "postgres_url"},
        "configurations": {
            c.key: {
                "label": c.label,
                "backend": c.backend,
                "workers": c.workers,
                "balanced": c.balanced,
                "peer": c.peer().key,
                **{
                    kind: {
                        "median": asdict(figures[(c.key, kind)]),
                        "rps_vs_peer": speedup(figures, c, kind),
                        "rounds": [asdict(m) for m in out[(c.key, kind)]],
                    }
                    for kind in KINDS
                },
            }
            for c in configs
        },
        "run_seconds": round(elapsed, 1),
    }


# -- arguments and main --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.workers",
        description="GET table and create table throughput with 1, 2, 4 server processes on "
        "SQLite and PostgreSQL, and through HAProxy in front of two replicas (wrk load).",
    )
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated (default: %(default)s)"
    )
    parser.add_argument(
        "--workers-levels", default="1,2,4", help="--workers values (default: %(default)s)"
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="wrk keep-alive connections (default 16)"
    )
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--seconds", type=int, default=10, help="seconds per measurement (default 10)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of warm-up before each (default 2)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="runs of every configuration, in alternating order; medians (default 1)",
    )
    add_postgres_url(parser)
    add_json(parser)
    args = parser.parse_args(argv)
    levels = parse_levels(args.workers_levels)
    if not levels or min(levels) < 1:
        parser.error("--workers-levels: whole numbers, 1 or more")
    if min(args.seconds, args.rounds, args.wrk_threads) < 1 or args.warmup < 0:
        parser.error("--seconds, --rounds and --wrk-threads must be 1 or more, --warmup 0 or more")
    if args.connections < args.wrk_threads:
        parser.error("--connections must be at least --wrk-threads (wrk's rule)")
    opts = Options(
        levels=levels,
        backends=list(dict.fromkeys(parse_backends(parser, args.backends))),
        connections=args.connections,
        wrk_threads=args.wrk_threads,
        seconds=args.seconds,
        warmup=args.warmup,
        rounds=args.rounds,
        postgres_url=args.postgres_url,
    )
    return opts, args.json


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: through every clean-up (servers, haproxy, the
    throw-away databases), which a default SIGTERM would skip."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    opts, json_path = parse_args(argv)
    tools = find_tools()
    if isinstance(tools, str):
        print(f"error: {tools} not found: {INSTALL_HINT}", file=sys.stderr)
        return 2
    configs = configurations(opts)
    out: Results = {}
    with stop_on_sigterm():
        info, elapsed = run_on_backends(
            "steward-bench-workers-",
            opts.backends,
            opts.postgres_url,
            lambda workdir: run(configs, tools, opts, out, workdir),
        )
    figures = summaries(configs, out)

    print()
    print(
        "Steward with N server processes: GET table and create table, " + ", ".join(opts.backends)
    )
    print(machine_line(info))
    print(
        f"load: wrk, {opts.wrk_threads} threads × {opts.connections} keep-alive connections, "
        f"closed loop, {opts.seconds} s per measurement after {opts.warmup} s of warm-up; "
        f"{opts.rounds} round(s){', medians' if opts.rounds > 1 else ''}; both kinds by a "
        f"user who is not an admin (reads audited); whole run {elapsed:.0f} s"
    )
    print(
        "server CPU/req: every Steward process of the configuration (supervisor, workers, "
        "both replicas), not PostgreSQL's; vs 1 worker: req/s over 1 worker of the same "
        "backend (HAProxy: over PostgreSQL at 1 worker)"
    )
    print()
    print("\n".join(render_table(configs, figures)))
    print()
    print("\n".join(render_scaling(configs, figures)))
    spread = render_spread(configs, out)
    if spread:
        print()
        print(
            "CPU by process: each serving process's share of the server CPU while measured. "
            "A worker near 0% got none of wrk's connections: uvicorn's workers share one "
            "listening socket and whichever wakes first may accept them all."
        )
        print("\n".join(spread))
    write_json(json_path, payload(info, configs, opts, out, elapsed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
