"""Server CPU per request of the metadata API's hot routes, in process, tree against tree.

Why this exists: ``benchmarks/api.py`` measures what a client sees (wrk over HTTP, a bare
app beside it), which is what the goals are stated in; but on a shared two-core VM its
figures move by a third between runs of the same tree, so a change worth a tenth cannot
be told from the machine. This measures only Steward's own work: the app is called as
uvicorn calls it (one ASGI call per request: every middleware, guard, handler, audit
event and commit), on one event loop in one process, with no socket and no client
sharing the cores; the figure is the process's CPU time per request, the least of
``--reps`` repetitions, and trees are run in turn, round after round, so the machine's
drift touches both alike.

    .venv/bin/python -m benchmarks.api_cpu
    git worktree add --detach benchmarks/.work/tree-9154b36 9154b36
    .venv/bin/python -m benchmarks.api_cpu --baseline-tree benchmarks/.work/tree-9154b36
    .venv/bin/python -m benchmarks.api_cpu --backend postgresql --routes grant,create-table

It also says how much of that CPU the event loop's own thread spent (``time.thread_time``),
the rest being worker threads and the group commit's writer: a sampling profiler's
per-thread shares are no guide here, since py-spy's default mode counts a thread waiting
for the GIL as running.

And the wall-clock time per request, one request at a time: the CPU plus every wait (on
PostgreSQL, a throw-away database of ``--postgres-url``, its round trips; on both, the
commits' flushes) — what one client at a time would see, without HTTP and the client's
own CPU. On PostgreSQL a change that saves round trips shows here and hardly in the CPU.

What it leaves out, by design: HTTP parsing and the socket (uvicorn's, the same for every
tree). Each tree runs this file with its own packages (``PYTHONPATH``), so the baseline
needs no copy of it.

Routes (as ``benchmarks/api.py`` names them): ``get-table`` (a user's GET of one table),
``show-tables`` (``SHOW TABLES IN perf.s``, 120 tables), ``grant`` (GRANT and REVOKE in
turn, as the admin), ``create-table`` (a user's ``POST /tables``, one column).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import DEFAULT_POSTGRES_URL

ROUTES = ("get-table", "show-tables", "grant", "create-table")
SQL = "/api/2.0/sql/statements"
API = "/api/2.1/unity-catalog"
USER = "u@example.com"
TABLES = 120


# -- the child: one tree, in process ----------------------------------------------------------


def _child(routes: list[str], requests: int, reps: int, backend: str, postgres_url: str) -> None:
    """Run in a fresh process whose ``PYTHONPATH`` is the tree to measure; prints one JSON
    line: ``cpu``, ``loop`` and ``wall``, each route → ms per request of each repetition."""
    from benchmarks.harness import database_for

    directory = tempfile.mkdtemp(prefix="steward-api-cpu-")
    admin = "dapi" + uuid.uuid4().hex + uuid.uuid4().hex
    with database_for(backend, Path(directory), postgres_url) as url:
        os.environ.update(
            STEWARD_DATABASE_URL=url,
            STEWARD_STORAGE_ROOT=f"{directory}/storage",
            STEWARD_ADMIN_TOKEN=admin,
            STEWARD_LOG_LEVEL="warning",
        )
        from steward.app import create_app  # the tree's own

        app = create_app()
        print(json.dumps(asyncio.run(_measure(app, admin, routes, requests, reps))))


async def _measure(
    app: Any, admin: str, routes: list[str], requests: int, reps: int
) -> dict[str, dict[str, list[float]]]:
    """Per route, the process's CPU ms per request of each repetition (``cpu``) and the
    event loop's own (``loop``: this thread's; the rest is worker and writer threads)."""
    async with app.router.lifespan_context(app) as lifespan_state:
        state = dict(lifespan_state or {})

        async def call(method: str, path: str, token: str, body: Any = None) -> tuple[int, bytes]:
            raw = json.dumps(body).encode() if body is not None else b""
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": method,
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "root_path": "",
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 80),
                "state": dict(state),
                "headers": [
                    (b"host", b"127.0.0.1"),
                    (b"authorization", f"Bearer {token}".encode()),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode()),
                ],
            }
            sent = False
            answer: dict[str, Any] = {"status": 0, "body": b""}

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": raw, "more_body": False}
                await asyncio.Event().wait()  # the client never disconnects
                raise AssertionError

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    answer["status"] = message["status"]
                elif message["type"] == "http.response.body":
                    answer["body"] += message.get("body", b"")

            await app(scope, receive, send)
            return answer["status"], answer["body"]

        async def sql(statement: str, token: str = admin) -> None:
            status, body = await call("POST", SQL, token, {"statement": statement})
            state_ = json.loads(body).get("status", {}).get("state")
            if status != 200 or state_ != "SUCCEEDED":
                raise RuntimeError(f"{statement}: {status} {body[:300]!r}")

        for statement in ("CREATE CATALOG perf", "CREATE SCHEMA perf.s", "CREATE SCHEMA perf.w"):
            await sql(statement)
        for i in range(TABLES):
            await sql(f"CREATE TABLE perf.s.t{i:03d} (id BIGINT, name STRING, v DOUBLE)")
        await call("POST", "/api/2.0/preview/scim/v2/Users", admin, {"userName": USER})
        _, issued = await call(
            "POST", "/api/2.0/token-management/on-behalf-of/tokens", admin, {"user_name": USER}
        )
        user = json.loads(issued)["token_value"]
        await sql("CREATE GROUP `readers`")
        for statement in (
            f"GRANT USE CATALOG ON CATALOG perf TO `{USER}`",
            f"GRANT USE SCHEMA, SELECT ON SCHEMA perf.s TO `{USER}`",
            f"GRANT USE SCHEMA, CREATE TABLE ON SCHEMA perf.w TO `{USER}`",
        ):
            await sql(statement)

        created = 0

        async def get_table(_: int) -> None:
            status, body = await call("GET", f"{API}/tables/perf.s.t001", user)
            if status != 200:
                raise RuntimeError(f"GET table: {status} {body[:300]!r}")

        async def show_tables(_: int) -> None:
            await sql("SHOW TABLES IN perf.s", user)

        async def grant(i: int) -> None:
            await sql(
                "GRANT SELECT ON TABLE perf.s.t000 TO `readers`"
                if i % 2 == 0
                else "REVOKE SELECT ON TABLE perf.s.t000 FROM `readers`"
            )

        async def create_table(_: int) -> None:
            nonlocal created
            created += 1
            table = {
                "name": f"x{created}",
                "catalog_name": "perf",
                "schema_name": "w",
                "table_type": "MANAGED",
                "data_source_format": "DELTA",
                "columns": [
                    {"name": "id", "type_name": "LONG", "type_text": "bigint", "position": 0}
                ],
            }
            status, body = await call("POST", f"{API}/tables", user, table)
            if status != 200:
                raise RuntimeError(f"create table: {status} {body[:300]!r}")

        runs: dict[str, Callable[[int], Awaitable[None]]] = {
            "get-table": get_table,
            "show-tables": show_tables,
            "grant": grant,
            "create-table": create_table,
        }
        figures: dict[str, list[float]] = {route: [] for route in routes}
        on_loop: dict[str, list[float]] = {route: [] for route in routes}
        wall: dict[str, list[float]] = {route: [] for route in routes}
        for route in routes:  # warm: caches filled, code paths taken once
            for i in range(20):
                await runs[route](i)
        for _ in range(reps):
            for route in routes:
                started, loop_started = time.process_time(), time.thread_time()
                wall_started = time.perf_counter()
                for i in range(requests):
                    await runs[route](i)
                figures[route].append((time.process_time() - started) / requests * 1000)
                on_loop[route].append((time.thread_time() - loop_started) / requests * 1000)
                wall[route].append((time.perf_counter() - wall_started) / requests * 1000)
        return {"cpu": figures, "loop": on_loop, "wall": wall}


# -- the parent: trees in turn ---------------------------------------------------------------


def _run_tree(
    tree: Path, routes: list[str], requests: int, reps: int, backend: str, postgres_url: str
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """The least CPU ms per request of each route over one child's repetitions, the event
    loop's share of it in that repetition, and the least wall-clock ms per request (the
    CPU and every wait: PostgreSQL's round trips, the commits' flushes)."""
    result = subprocess.run(
        [
            sys.executable,
            "-P",  # not this file's folder first: benchmarks/registry.py is not the package
            str(Path(__file__).resolve()),
            "--child",
            "--routes",
            ",".join(routes),
            "--requests",
            str(requests),
            "--reps",
            str(reps),
            "--backend",
            backend,
            "--postgres-url",
            postgres_url,
        ],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{tree}: exit {result.returncode}\n{result.stderr[-3000:]}")
    reported = json.loads(result.stdout.strip().splitlines()[-1])
    figures, loop = reported["cpu"], reported["loop"]
    least = {route: min(values) for route, values in figures.items()}
    shares = {
        route: loop[route][values.index(least[route])] / least[route]
        for route, values in figures.items()
        if least[route] > 0
    }
    return least, shares, {route: min(values) for route, values in reported["wall"].items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--routes", default=",".join(ROUTES), help="comma-separated, of " + ", ".join(ROUTES)
    )
    parser.add_argument(
        "--requests", type=int, default=200, help="per route and repetition (default 200)"
    )
    parser.add_argument(
        "--reps", type=int, default=3, help="repetitions per run; the least counts (default 3)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs per tree, in turn (default 3)")
    parser.add_argument(
        "--baseline-tree", type=Path, help="another source tree (a git worktree) to measure in turn"
    )
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql"), default="sqlite", help="default sqlite"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="with --backend postgresql: a URL allowed to CREATE/DROP DATABASE "
        f"(default: {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    routes = [r for r in args.routes.split(",") if r]
    unknown = sorted(set(routes) - set(ROUTES))
    if unknown:
        parser.error(f"unknown route(s): {', '.join(unknown)} (known: {', '.join(ROUTES)})")
    if args.child:
        _child(routes, args.requests, args.reps, args.backend, args.postgres_url)
        return
    here = Path(__file__).resolve().parent.parent
    trees = {"this tree": here}
    if args.baseline_tree is not None:
        trees = {"baseline": args.baseline_tree.resolve(), **trees}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    shares: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    walls: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in order:
            figures, loop_shares, wall = _run_tree(
                trees[name], routes, args.requests, args.reps, args.backend, args.postgres_url
            )
            runs[name].append(figures)
            shares[name].append(loop_shares)
            walls[name].append(wall)
            shown = ", ".join(f"{r} {v:.3f}" for r, v in figures.items())
            print(f"[{time.strftime('%H:%M:%S')}] round {round_ + 1} {name}: {shown}", flush=True)
    print()
    header = ["route", *(f"{name} CPU ms/req" for name in trees)]
    if len(trees) == 2:
        header.append("this / baseline")
    header.append("this tree: on the event loop")
    header.extend(f"{name} wall ms/req" for name in trees)
    if len(trees) == 2:
        header.append("this / baseline (wall)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for route in routes:
        medians = [statistics.median(run[route] for run in runs[name]) for name in trees]
        cells = [route, *(f"{m:.3f}" for m in medians)]
        if len(trees) == 2:
            cells.append(f"{medians[1] / medians[0]:.2f}")
        loop = [run[route] for run in shares["this tree"] if route in run]
        cells.append(f"{statistics.median(loop):.0%}" if loop else "")
        wall = [statistics.median(run[route] for run in walls[name]) for name in trees]
        cells.extend(f"{w:.3f}" for w in wall)
        if len(trees) == 2:
            cells.append(f"{wall[1] / wall[0]:.2f}")
        print("| " + " | ".join(cells) + " |")
    print(
        f"\nmedian over {args.rounds} round(s) of the least of {args.reps} repetitions of "
        f"{args.requests} requests; {args.backend}; one process, one event loop, no socket, "
        "one request at a time; on the event loop: the share of that CPU spent by the loop's "
        "own thread (the rest by worker threads and the group commit's writer); wall: the "
        "CPU and every wait (PostgreSQL's round trips, the commits' flushes)"
    )


if __name__ == "__main__":
    main()
