"""What the HTTP benchmarks share: logging, statistics, throw-away databases, the server's
cost, the closed-loop client, the machine description, the figure tables and arguments.

Why one module: ``catalog_api``, ``grants_http`` and ``registry`` each measure something
different, but they must measure it the same way (the same percentile, the same CPU
reading, the same closed loop) for their figures to be comparable in the README. Keeping
one copy of each helper here means a fix to how something is measured reaches every
benchmark at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support import ServerHandle

API = "/api/2.1/unity-catalog"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: Accepted spellings of ``--backends``, to the backend name the figures use.
BACKEND_ALIASES = {
    "sqlite": "sqlite",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "pg": "postgresql",
}
#: Decimals shown per unit in the figure tables; any other unit gets two.
DECIMALS: Mapping[str, int] = {"req/s": 0, "s": 1}

Item = TypeVar("Item")


def log(message: str) -> None:
    """Progress to stderr with the time, so stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- statistics -----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample.

    Nearest rank, not interpolation: every figure reported is a latency that was
    actually observed, which is what the README's tables claim.
    """
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n*q/100), at least 1
    return ordered[int(rank) - 1]


def threads_label(conc: int) -> str:
    """``1 thread`` / ``4 threads``: how the figures name a concurrency level."""
    return f"{conc} thread{'s' if conc > 1 else ''}"


# -- throw-away databases ---------------------------------------------------------------


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards whatever happens,
    so a run never measures (or leaves behind) another run's rows."""
    name = f"steward_bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@contextmanager
def database_for(backend: str, directory: Path, postgres_url: str) -> Iterator[str]:
    """The URL of an empty database of ``backend``: a SQLite file in ``directory`` (gone
    with the temporary directory) or a throw-away PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'steward.db'}"
    else:
        with throwaway_postgres(postgres_url) as url:
            yield url


class HasHandle(Protocol):
    """A backend under test: anything holding the Steward server that runs on it."""

    @property
    def handle(self) -> ServerHandle: ...


Target = TypeVar("Target", bound=HasHandle)


def start_targets(
    stack: ExitStack,
    backends: Sequence[str],
    workdir: Path,
    postgres_url: str,
    set_up: Callable[[str, str, Path], Target],
) -> list[Target]:
    """One server per backend on its own fresh database, all up before anything is timed
    so that every phase can alternate between them; ``stack`` stops the servers and drops
    the databases."""
    targets: list[Target] = []
    for backend in backends:
        directory = workdir / backend
        directory.mkdir(parents=True)
        url = stack.enter_context(database_for(backend, directory, postgres_url))
        target = set_up(backend, url, directory)
        stack.callback(target.handle.stop)
        targets.append(target)
    return targets


def print_tails(tails: Iterable[tuple[str, str]]) -> None:
    """The end of each server's log on stderr, when a run fails: the cause is usually there."""
    for name, tail in tails:
        print(f"--- {name} server log (tail) ---", file=sys.stderr)
        print(tail, file=sys.stderr)


# -- what the server spends -------------------------------------------------------------


def _proc_stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_cpu_seconds(handle: ServerHandle) -> float | None:
    """CPU time (user + system) the server process has used so far; None off Linux.

    Less sensitive to other load on the machine than wall time, so it is reported
    beside req/s.
    """
    try:
        fields = _proc_stat_fields(handle.process.pid)
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = _proc_stat_fields(int(entry.name))
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_pids(root: int) -> list[int]:
    """``root`` and every process below it."""
    children = _proc_children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(root: int) -> float | None:
    """User + system CPU seconds of ``root`` and its descendants, including children they
    have already reaped; None when /proc cannot be read. For servers with worker processes,
    whose parent alone does little of the work."""
    total, ticks = 0, os.sysconf("SC_CLK_TCK")
    try:
        pids = tree_pids(root)
    except OSError:
        return None
    for pid in pids:
        try:
            fields = _proc_stat_fields(pid)
        except OSError:
            continue  # exited between the scan and the read
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / ticks


def add_cpu(total: float | None, before: float | None, after: float | None) -> float | None:
    """``total`` plus the CPU spent between two readings; None once any reading failed, so
    a figure is left out rather than undercounted."""
    if total is not None and before is not None and after is not None:
        return total + after - before
    return None


def log_offset(handle: ServerHandle) -> int:
    """Where the server's access log ends now: :func:`server_durations` reads from here."""
    return handle.log_path.stat().st_size


def server_durations(handle: ServerHandle, offset: int, method: str, path: str) -> list[float]:
    """Server-side ``duration_ms`` of the access-log lines written after ``offset``.

    ``path`` is a prefix; a phase's window of the log holds only that phase's requests.
    An access log in another format yields nothing, and the figure is left out.
    """
    with handle.log_path.open("rb") as f:
        f.seek(offset)
        lines = f.read().splitlines()
    durations: list[float] = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if (
            entry.get("event") == "request"
            and entry.get("method") == method
            and str(entry.get("path", "")).startswith(path)
        ):
            durations.append(float(entry["duration_ms"]))
    return durations


# -- the closed-loop client ---------------------------------------------------------------


def warm_clients(handle: ServerHandle, count: int) -> list[httpx.Client]:
    """``count`` admin clients, each with its keep-alive connection already open, so
    connecting is not part of what is measured."""
    clients = [handle.client(handle.admin_token) for _ in range(count)]
    for client in clients:
        client.get(f"{API}/metastore_summary").raise_for_status()
    return clients


def run_together(concurrency: int, worker: Callable[[int], None]) -> float:
    """Run ``worker(k)`` for each of ``concurrency`` threads, released at the same moment.

    Returns the wall-clock seconds from that common start to the last thread's end:
    thread start-up stays outside the figure.
    """
    barrier = threading.Barrier(concurrency + 1)

    def body(k: int) -> None:
        barrier.wait()
        worker(k)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def closed_loop(
    clients: Sequence[httpx.Client],
    items: Sequence[Item],
    call: Callable[[httpx.Client, Item], httpx.Response],
    failure: Callable[[Item, httpx.Response], str | None],
    describe: Callable[[Item], str] = lambda item: "",
) -> tuple[float, list[float]]:
    """Send ``items`` through ``clients``, one thread per client, each sending its next
    request as soon as the previous answer has been read (a closed loop: the load is what
    the server can take, not a rate we chose).

    Item ``i`` goes to client ``i % len(clients)``. ``failure`` says what is wrong with an
    answer (None when it is fine); a thread stops at its first failure, and any failure
    raises here after all threads are done. Returns the wall-clock seconds from the
    common start to the last answer and every request's latency in ms.
    """
    concurrency = len(clients)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[str] = []

    def worker(k: int) -> None:
        client, mine = clients[k], latencies[k]
        for item in items[k::concurrency]:
            started = time.perf_counter()
            try:
                response = call(client, item)
            except httpx.HTTPError as exc:
                errors.append(f"{describe(item)}{exc!r}")
                return
            mine.append((time.perf_counter() - started) * 1000)
            wrong = failure(item, response)
            if wrong is not None:
                errors.append(f"{describe(item)}{wrong}")
                return

    wall = run_together(concurrency, worker)
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed, first: {errors[0]}")
    return wall, [x for per_thread in latencies for x in per_thread]


def closed_loop_for(
    clients: Sequence[httpx.Client],
    seconds: float,
    items: Sequence[Item],
    call: Callable[[httpx.Client, Item], httpx.Response],
    failure: Callable[[Item, httpx.Response], str | None],
) -> tuple[float, list[float]]:
    """:func:`closed_loop` for a fixed time instead of a fixed list: each thread cycles
    through ``items`` (thread ``k`` starting at item ``k``) and sends no new request once
    ``seconds`` have passed since the common start.

    For servers whose rate is not known in advance (a model server, where one system may
    be several times faster than another): each gets the same time, not the same count.
    Returns the wall-clock seconds from the common start to the last answer (so the
    requests still in flight at the deadline count, and their time too) and every
    request's latency in ms; any failure raises after all threads are done.
    """
    concurrency = len(clients)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[str] = []
    count = len(items)

    def worker(k: int) -> None:
        client, mine = clients[k], latencies[k]
        deadline = time.perf_counter() + seconds
        i = k % count
        while True:
            started = time.perf_counter()
            if started >= deadline:
                return
            item = items[i]
            i = (i + concurrency) % count
            try:
                response = call(client, item)
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
                return
            mine.append((time.perf_counter() - started) * 1000)
            wrong = failure(item, response)
            if wrong is not None:
                errors.append(wrong)
                return

    wall = run_together(concurrency, worker)
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed, first: {errors[0]}")
    return wall, [x for per_thread in latencies for x in per_thread]


# -- the machine and the run ----------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name, for the machine line of a report."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(postgres_url: str | None) -> dict[str, str]:
    """What the figures were measured on: a figure means little without it."""
    info = {
        "cpus (nproc)": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }
    if postgres_url:
        engine = create_engine(postgres_url)
        try:
            with engine.connect() as conn:
                info["postgresql"] = str(conn.execute(text("SHOW server_version")).scalar())
        finally:
            engine.dispose()
    return info


def machine_line(info: Mapping[str, str]) -> str:
    return "machine: " + ", ".join(f"{k} {v}" for k, v in info.items())


def run_in_tempdir(prefix: str, info: dict[str, str], body: Callable[[Path], None]) -> float:
    """Run ``body`` in a temporary directory; return its seconds and note the machine's
    load before and after in ``info``, since other load moves every figure."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        body(Path(tmp))
    elapsed = time.perf_counter() - started
    info["load average (1 min) before/after"] = f"{load_before[0]:.2f}/{os.getloadavg()[0]:.2f}"
    return elapsed


def run_on_backends(
    prefix: str, backends: Sequence[str], postgres_url: str, body: Callable[[Path], None]
) -> tuple[dict[str, str], float]:
    """:func:`machine` (with PostgreSQL's version when PostgreSQL is measured) and the
    seconds ``body`` took in a temporary directory (:func:`run_in_tempdir`)."""
    info = machine(postgres_url if "postgresql" in backends else None)
    return info, run_in_tempdir(prefix, info, body)


# -- figures ------------------------------------------------------------------------------


def fmt(value: float | None, unit: str, decimals: Mapping[str, int] = DECIMALS) -> str:
    """A figure as the tables show it: ``-`` when missing, thousands separated."""
    if value is None:
        return "-"
    return f"{value:,.{decimals.get(unit, 2)}f}"


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` to two decimals, ``-`` when either is missing (or ``b`` is zero)."""
    return f"{a / b:.2f}" if a is not None and b else "-"


def markdown_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table of ``rows`` (the first is the header), aligned as text too.

    The first two columns (figure, unit) are left-aligned, the numbers right-aligned, so
    the same text reads well in a terminal and pastes into the README as it is.
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(r: Sequence[str]) -> str:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(r[2:], widths[2:], strict=True)]
        return "| " + " | ".join(cells) + " |"

    sep = (
        "|"
        + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":" for i, w in enumerate(widths))
        + "|"
    )
    return [line(rows[0]), sep, *(line(r) for r in rows[1:])]


def write_json(path: Path | None, payload: Mapping[str, object]) -> None:
    """Also write the figures as JSON when ``--json`` was given."""
    if path is not None:
        path.write_text(json.dumps(payload, indent=2))


# -- arguments ----------------------------------------------------------------------------


def add_postgres_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("STEWARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a PostgreSQL URL allowed to CREATE/DROP DATABASE (default: %(default)s)",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")


def parse_backends(parser: argparse.ArgumentParser, value: str) -> list[str]:
    """``--backends`` as backend names; an unknown one is a usage error."""
    backends = []
    for name in value.split(","):
        name = name.strip().lower()
        if name not in BACKEND_ALIASES:
            parser.error(f"unknown backend {name!r}: use sqlite and/or postgres")
        backends.append(BACKEND_ALIASES[name])
    return backends


def parse_levels(value: str) -> list[int]:
    """``--concurrency`` (``1,4``) as a list of thread counts."""
    return [int(c) for c in value.split(",") if c.strip()]


def bulk_insert(
    conn: Any, table: Any, rows: list[dict[str, Any]], names: list[str] | None = None
) -> None:
    """Insert ``rows`` (the given columns, else all) the fastest way each driver offers.

    SQLite: one ``executemany``; PostgreSQL: ``COPY``. JSON values are encoded as
    SQLAlchemy's JSON type encodes them (``json.dumps``; ``None`` is JSON ``null``), so the
    stored rows are the ones the service writes. Table and column names come from our own
    SQLAlchemy models, never from input.
    """
    from sqlalchemy import JSON

    names = names or [c.name for c in table.columns]
    encoded = {c.name for c in table.columns if isinstance(c.type, JSON)}
    # A nullable column without a default that a row leaves out is NULL, as an INSERT not
    # naming it stores it: a column added to the schema later (a row filter, a mask) does
    # not break the bulk loads written before it. A required one left out is an error.
    optional = {
        c.name
        for c in table.columns
        if c.nullable and c.default is None and c.server_default is None
    }

    def value(row: dict[str, Any], name: str) -> Any:
        if name not in row and name in optional:
            return json.dumps(None) if name in encoded else None
        return json.dumps(row[name]) if name in encoded else row[name]

    tuples = [tuple(value(row, n) for n in names) for row in rows]
    column_list = ", ".join(names)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({column_list}) FROM STDIN") as copy,
        ):
            for values in tuples:
                copy.write_row(values)
    else:
        marks = ", ".join("?" for _ in names)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({column_list}) VALUES ({marks})", tuples)
