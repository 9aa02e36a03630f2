"""What every example script shares: plain output, the HTTP calls the client does not wrap,
a throw-away server, and the command line (``--start-server``, ``--url``, ``--token``).

Examples run as scripts (``python examples/NAME.py``), so this module is imported by its
plain name from the examples directory.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from registry import StewardError

SQL_PATH = "/api/2.0/sql/statements"
METASTORE_SUMMARY = "/api/2.1/unity-catalog/metastore_summary"
# A serving endpoint loads its model on the first call; a busy machine needs more than
# httpx's five-second default for that one.
REQUEST_TIMEOUT_SECONDS = 60


# -- output ---------------------------------------------------------------------------------


def step(number: int, title: str) -> None:
    print(f"\n{number}. {title}")
    print("   " + "-" * (len(title) + 3))


def say(text: str = "") -> None:
    print(f"   {text}" if text else "")


def say_statement(outcome: str, statement: str) -> None:
    """``ok      CREATE …``, long statements wrapped under themselves."""
    lines = textwrap.wrap(statement, 88 - 8, break_long_words=False) or [""]
    say(f"{outcome:<8}{lines[0]}")
    for line in lines[1:]:
        say(f"{'':<8}  {line}")


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain aligned table (no colours, so it reads the same in a log)."""
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        say("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            say("  ".join("-" * width for width in widths))


def clip(text: str, width: int = 64) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# -- HTTP helpers (what the client does not wrap) -------------------------------------------


def check(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful answer; a StewardError for an error answer."""
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise StewardError(
            str(body.get("error_code") or "HTTP_ERROR"),
            str(body.get("message") or response.text[:300]),
            response.status_code,
            body.get("request_id"),
        )
    return response.json() if response.content else {}


def sql(http: httpx.Client, statement: str, *, tolerate: Sequence[str] = ()) -> str:
    """Run one statement on the SQL endpoint; ``tolerate`` lists error codes that mean
    "already done" (the script may run twice). Returns ``ok`` or the tolerated code."""
    body = check(http.post(SQL_PATH, json={"statement": statement}))
    status = body["status"]
    if status["state"] == "SUCCEEDED":
        say_statement("ok", statement)
        return "ok"
    error = status.get("error") or {}
    code = error.get("error_code", "ERROR")
    if code in tolerate:
        say_statement("exists", statement)
        return code
    raise StewardError(code, f"{statement}: {error.get('message', '')}")


def sql_rows(http: httpx.Client, statement: str) -> tuple[list[str], list[list[Any]]]:
    """(column names, rows) of a query on the SQL endpoint."""
    body = check(http.post(SQL_PATH, json={"statement": statement}))
    status = body["status"]
    if status["state"] != "SUCCEEDED":
        error = status.get("error") or {}
        raise StewardError(error.get("error_code", "ERROR"), error.get("message", statement))
    columns = [c["name"] for c in body["manifest"]["schema"]["columns"]]
    return columns, body["result"].get("data_array") or []


# -- a throw-away server ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def throwaway_server() -> Iterator[tuple[str, str]]:
    """``steward server`` on SQLite in a temporary directory, stopped and removed on exit
    (the same way the test suite starts one)."""
    root = Path(tempfile.mkdtemp(prefix="steward-example-"))
    port = _free_port()
    token = "dapi" + uuid.uuid4().hex + uuid.uuid4().hex
    env = {
        **os.environ,
        "STEWARD_ADMIN_TOKEN": token,
        "STEWARD_DATABASE_URL": f"sqlite:///{root / 'steward.db'}",
        "STEWARD_STORAGE_ROOT": str(root),
        "STEWARD_HOST": "127.0.0.1",
        "STEWARD_PORT": str(port),
    }
    log_path = root / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "steward", "server"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the server exited early:\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not start in time:\n{log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                # Unauthenticated on purpose: a 401 proves the app is serving.
                if httpx.get(url + METASTORE_SUMMARY, timeout=2).status_code == 401:
                    break
            time.sleep(0.2)
        print(f"Started a throw-away server at {url} (SQLite under {root})")
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


# -- the command line ------------------------------------------------------------------------


def main(
    run: Callable[[str, str], None], description: str, argv: Sequence[str] | None = None
) -> int:
    """Parse ``--start-server``/``--url``/``--token`` and call ``run(url, token)``; errors
    become one readable line and exit status 1."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--start-server",
        action="store_true",
        help="start a throw-away server on SQLite in a temporary directory",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("STEWARD_URL", "http://127.0.0.1:8080"),
        help="server URL (default: STEWARD_URL or http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("STEWARD_TOKEN"),
        help="a metastore admin's token (default: STEWARD_TOKEN)",
    )
    args = parser.parse_args(argv)
    try:
        if args.start_server:
            with throwaway_server() as (url, token):
                run(url, token)
        else:
            if not args.token:
                parser.error(
                    "no token: set STEWARD_TOKEN to a metastore admin's token "
                    "(STEWARD_TOKEN=$(cat .steward/admin-token) after `make run`), "
                    "or pass --start-server"
                )
            run(args.url.rstrip("/"), args.token)
    except StewardError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        if exc.status_code in (401, 403):
            print(
                "(the token must be a metastore admin's: see examples/README.md)", file=sys.stderr
            )
        return 1
    except httpx.HTTPError as exc:
        print(f"\nerror: cannot reach Steward: {exc}", file=sys.stderr)
        print("(start it with `make run`, or pass --start-server)", file=sys.stderr)
        return 1
    return 0
