"""Test support: throw-away databases on SQLite and PostgreSQL, and a real server process."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV = "STEWARD_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "STEWARD_REQUIRE_POSTGRES"
ROOT = Path(__file__).resolve().parent.parent


def backends() -> list[Any]:
    """sqlite always; postgres when configured (and then mandatory in CI)."""
    params: list[Any] = ["sqlite"]
    if os.environ.get(POSTGRES_URL_ENV) or os.environ.get(REQUIRE_POSTGRES_ENV):
        params.append(pytest.param("postgres", marks=pytest.mark.postgres))
    return params


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a fresh PostgreSQL database for one test scope and drop it afterwards."""
    admin_url = os.environ.get(POSTGRES_URL_ENV)
    if not admin_url:
        pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {POSTGRES_URL_ENV} is not")
    name = f"steward_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the suite must fail, not skip, when PostgreSQL is missing
        engine.dispose()
        pytest.fail(f"PostgreSQL at {make_url(admin_url).host} is not usable: {exc}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def database_url_for(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'steward.db'}"
    else:
        with postgres_database() as url:
            yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerHandle:
    """A Steward server running in its own process, driven over HTTP."""

    url: str
    admin_token: str
    storage_root: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str
    _clients: list[httpx.Client] = field(default_factory=list)
    _admin: httpx.Client | None = None

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30.0)
        self._clients.append(client)
        return client

    @property
    def admin(self) -> httpx.Client:
        """The admin's client: one per server (until :meth:`close_clients`), since a
        server shared by many modules would otherwise collect a pool per use."""
        if self._admin is None:
            self._admin = self.client(self.admin_token)
        return self._admin

    def create_user(self, name: str | None = None) -> tuple[str, str]:
        """Create a user and a token for it; returns (user name, token)."""
        name = name or f"{unique('user')}@example.com"
        admin = self.admin
        created = admin.post("/api/2.0/preview/scim/v2/Users", json={"userName": name})
        assert created.status_code == 201, created.text
        issued = admin.post(
            "/api/2.0/token-management/on-behalf-of/tokens",
            json={"user_name": name, "comment": "test"},
        )
        assert issued.status_code == 200, issued.text
        return name.lower(), issued.json()["token_value"]

    def logs(self) -> str:
        """The server's log so far: whole lines only (the server may be writing one)."""
        text = self.log_path.read_text(errors="replace")
        return text[: text.rfind("\n") + 1]

    def log_lines(self) -> list[str]:
        """The log's lines, split on newlines only: ``str.splitlines`` would also split a
        line inside a name holding U+2028 or U+0085, which JSON leaves unescaped."""
        return self.logs().split("\n")[:-1]

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON records of the log (server mode writes one per line)."""
        return [json.loads(line) for line in self.log_lines() if line.startswith("{")]

    def close_clients(self) -> None:
        """Close the clients handed out so far (the server keeps running)."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._admin = None

    def stop(self) -> None:
        self.close_clients()
        stop_process(self.process)


def run_steward(
    *args: str,
    server: ServerHandle | None = None,
    token: str | None = None,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """The real CLI, ``python -m steward ARGS``, as a user runs it: pointed at ``server``
    with ``token`` (the admin's by default); ``check`` asserts it exited 0."""
    env = {**os.environ, **(extra_env or {})}
    if server is not None:
        env["STEWARD_URL"] = server.url
        env["STEWARD_TOKEN"] = token or server.admin_token
    result = subprocess.run(
        [sys.executable, "-m", "steward", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, f"steward {' '.join(args)} failed:\n{result.stderr}"
    return result


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Ask a child process to stop, and kill it if it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def server_command(source: Path) -> list[str]:
    """How the source tree ``source`` starts its server: ``python -m steward server``, or
    ``python -m registry server`` in trees from before the composition root had its own
    package (benchmarks compare against those)."""
    package = "steward" if (source / "steward" / "__main__.py").exists() else "registry"
    return [sys.executable, "-m", package, "server"]


def start_server(
    database_url: str,
    storage_root: Path,
    extra_env: dict[str, str] | None = None,
    source: Path = ROOT,
) -> ServerHandle:
    """A real server process on a free port; ``source`` is the source tree it runs (this
    one unless a benchmark compares another commit's)."""
    port = free_port()
    token = "dapi" + uuid.uuid4().hex + uuid.uuid4().hex
    env = {
        **os.environ,
        "STEWARD_ADMIN_TOKEN": token,
        "STEWARD_DATABASE_URL": database_url,
        "STEWARD_STORAGE_ROOT": str(storage_root),
        "STEWARD_PORT": str(port),
        # One process unless a test asks for more (the default is one per core): the
        # suite's servers are many, and tests/catalog/test_workers.py covers workers.
        "STEWARD_WORKERS": "1",
        **({"PYTHONPATH": str(source)} if source != ROOT else {}),
        **(extra_env or {}),
    }
    storage_root.mkdir(parents=True, exist_ok=True)
    log_path = storage_root / "server.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        server_command(source),
        env=env,
        cwd=source,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    handle = ServerHandle(
        url, env["STEWARD_ADMIN_TOKEN"], storage_root, process, log_path, database_url
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{handle.logs()}")
        try:
            # Unauthenticated on purpose: a 401 proves the app is serving.
            response = httpx.get(f"{url}/api/2.1/unity-catalog/metastore_summary", timeout=2)
            if response.status_code == 401:
                if not handle.admin_token:
                    token_file = storage_root / "admin-token"
                    if token_file.exists():
                        handle.admin_token = token_file.read_text().strip()
                return handle
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    handle.stop()
    raise RuntimeError(f"server did not start in time:\n{handle.logs()}")


def server_fixture(name: str, extra_env: dict[str, str] | None = None) -> Any:
    """A module-scoped fixture: one real server per backend, started with ``extra_env``
    (a server with raised or lowered limits, say), stopped after the module."""

    @pytest.fixture(scope="module", params=backends())
    def fixture(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[ServerHandle]:
        directory = tmp_path_factory.mktemp(name)
        with database_url_for(str(request.param), directory) as url:
            handle = start_server(url, directory / "storage", extra_env)
            try:
                yield handle
            finally:
                handle.stop()

    return fixture


class SharedServers:
    """One server per backend for every module of a test process that asks for the plain
    ``server`` fixture (tests/conftest.py), started when first asked for and stopped when
    the session ends. A server costs a few seconds of CPU to start, and most modules only
    need one that works; their tests use unique names, so they do not meet. A module
    that needs a server of its own (other settings, a log of its own, server-wide
    changes) declares :func:`server_fixture` itself."""

    def __init__(self, directories: pytest.TempPathFactory) -> None:
        self._directories = directories
        self._servers: dict[str, ServerHandle] = {}
        self._databases = ExitStack()

    def get(self, backend: str) -> ServerHandle:
        if backend not in self._servers:
            directory = self._directories.mktemp(f"shared-{backend}")
            url = self._databases.enter_context(database_url_for(backend, directory))
            self._servers[backend] = start_server(url, directory / "storage")
        return self._servers[backend]

    def stop(self) -> None:
        try:
            for handle in self._servers.values():
                handle.stop()
        finally:
            self._databases.close()


#: A minimal MLmodel: no flavor, a signature.
MLMODEL_TEXT = (
    'flavors: {}\nsignature:\n  inputs: \'[{"type": "double", "name": "x"}]\'\n'
    '  outputs: \'[{"type": "long"}]\'\n'
)


def write_mlmodel(storage_location: str) -> None:
    """What an MLflow client writes at a version's file: location before finalize."""
    directory = Path(storage_location.removeprefix("file://"))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "MLmodel").write_text(MLMODEL_TEXT)


# -- HAProxy in front of replicas run as processes (tests/e2e/test_topology.py and
# benchmarks/workers.py) --------------------------------------------------------------------

HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"


def loopback_haproxy_config(lb_port: int, replica_ports: dict[str, int], socket_path: Path) -> str:
    """deploy/haproxy.cfg as it is, but for the addresses (loopback ports, not Docker's
    names: ``replica_ports`` maps each ``server`` line's name to one) and an admin socket,
    through which the checks' results are read (:func:`haproxy_stats`)."""
    text = HAPROXY_CFG.read_text()
    text, count = re.subn(r"^(\s*bind) :8080\s*$", rf"\1 127.0.0.1:{lb_port}", text, flags=re.M)
    if count != 1:
        raise RuntimeError(f"{HAPROXY_CFG} no longer has the line `bind :8080`")
    for name, port in replica_ports.items():
        text, count = re.subn(
            rf"^(\s*server {name}) {name}:8080", rf"\1 127.0.0.1:{port}", text, flags=re.M
        )
        if count != 1:
            raise RuntimeError(f"{HAPROXY_CFG} no longer has the line `server {name} ...`")
    admin = f"    stats socket {socket_path} mode 600 level admin\n"
    return re.sub(r"^global\n", f"global\n{admin}", text, count=1, flags=re.M)


def haproxy_stats(socket_path: Path, backend: str = "replicas") -> dict[str, dict[str, str]]:
    """HAProxy's own view of a backend's servers (``show stat`` on its admin socket):
    server name → its row (``status``, ``check_status``, ``stot`` …)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(socket_path))
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    rows = csv.DictReader(data.decode().removeprefix("# ").splitlines())
    return {row["svname"]: row for row in rows if row["pxname"] == backend}


# -- how long workers and replicas disagree (tests/catalog/test_workers.py, test_caches.py) --


def last_stale_probe(probe: Callable[[], bool], changed_at: float) -> float:
    """When the last probe that still answered the old way was *sent* (``changed_at`` if
    none was). Probes run until 20 in a row answer the new way. Measuring from the moment
    each probe was sent, not from when the streak ends, keeps the figure about the
    workers' bound and not about how fast a loaded machine answers 20 requests.
    """
    latest_stale = changed_at
    streak = 0
    while streak < 20:
        sent = time.monotonic()
        if probe():
            streak += 1
        else:
            streak = 0
            latest_stale = sent
        assert sent - changed_at < 20, "the workers never agreed"
    return latest_stale


def staleness(probe: Callable[[], bool], changed_at: float) -> float:
    """How long after ``changed_at`` a probe was still sent and answered the old way."""
    return last_stale_probe(probe, changed_at) - changed_at


#: Debian's Chromium, which the browser tests, the console benchmark and the screenshots
#: drive through Playwright (never a browser Playwright downloads).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Chromium's own background traffic (updates, sync, QUIC probes) off: what is left is the
#: page's, and the machine's closed network refuses nothing Chromium would retry.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
