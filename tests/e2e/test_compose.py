"""The team deployment (compose.yaml, Dockerfile, deploy/haproxy.cfg) without a Docker engine.

This machine and CI have the docker client but no daemon, so nothing here builds an image
or starts a container. What can be checked for real is checked with the real tools:

- a real Compose implementation renders compose.yaml, as ``docker compose up`` would read
  it, from a copy of the files with ``.env`` made from steward.env.example: Debian's
  ``docker-compose`` (which .ci/run installs), and ``docker compose`` where the CLI has
  the plugin. A missing secret must stop it, and no secret may be written in the files;
- a real ``haproxy -c`` checks deploy/haproxy.cfg, the file the ``lb`` service mounts;
- the Dockerfile is read as text: two stages, the last one slim, unprivileged, without
  compilers or sources, ``steward server`` as its entry point;
- the topology runs as processes: the suite's PostgreSQL, two ``steward server`` processes
  configured by the image's and compose's environment with one shared storage root, and
  haproxy with deploy/haproxy.cfg pointed at them. Through it, and with one replica
  stopped, everything keeps answering; HAProxy's checks of ``/health/ready`` take the
  stopped replica out and put it back when it returns.

Without Compose or HAProxy the tests that need them skip, except in CI, where they fail.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import yaml

from tests.registry_support import MLMODEL
from tests.support import (
    POSTGRES_URL_ENV,
    REQUIRE_POSTGRES_ENV,
    ROOT,
    free_port,
    postgres_database,
    stop_process,
    unique,
)

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
ENV_EXAMPLE = ROOT / "steward.env.example"
REPLICAS = ("steward-1", "steward-2")
#: The variables that hold secrets; compose.yaml may only interpolate them.
SECRETS = ("POSTGRES_PASSWORD", "PGPASSWORD", "STEWARD_ADMIN_TOKEN", "STEWARD_AUDIT_KEY")
#: What the test's .env holds: values that cannot occur by chance in a rendered file.
FILLED = {
    "POSTGRES_PASSWORD": "pw-" + unique("sentinel"),
    "STEWARD_ADMIN_TOKEN": "dapi-" + unique("sentinel"),
    "STEWARD_AUDIT_KEY": "key-" + unique("sentinel"),
}
UC = "/api/2.1/unity-catalog"
#: Build tools and headers, which belong in the build stage only.
COMPILERS = re.compile(r"\b(gcc|g\+\+|cc|clang|make|build-essential|[\w.+]+-dev)\b")


def in_ci() -> bool:
    """CI runs .ci/run with CI=true; there a skipped deployment check would hide a gap."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def missing(what: str) -> NoReturn:
    """Skip on a laptop without the tool; in CI a missing tool is a broken set-up."""
    if in_ci():
        pytest.fail(f"{what} is missing in CI: .ci/run installs it")
    pytest.skip(f"{what} not found (apt-get install docker-compose haproxy)")


def compose_implementations() -> list[list[str]]:
    """Every real Compose on this machine: Debian's docker-compose, the docker plugin."""
    found: list[list[str]] = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    if shutil.which("docker"):
        try:
            probe = subprocess.run(
                ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
            )
        except subprocess.TimeoutExpired:
            probe = None
        if probe is not None and probe.returncode == 0:
            found.append(["docker", "compose"])
    return found


IMPLEMENTATIONS = compose_implementations()


def tool_env() -> dict[str, str]:
    """A clean environment: a secret exported in this shell would win over .env."""
    keep = ("PATH", "HOME", "LANG", "DOCKER_CONFIG")
    return {name: os.environ[name] for name in keep if name in os.environ}


def project_copy(folder: Path, values: dict[str, str]) -> Path:
    """compose.yaml and what it refers to, with .env as a user makes it from the example."""
    (folder / "deploy").mkdir(parents=True)
    shutil.copy2(COMPOSE, folder / "compose.yaml")
    shutil.copy2(DOCKERFILE, folder / "Dockerfile")
    shutil.copy2(HAPROXY_CFG, folder / "deploy" / "haproxy.cfg")
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if "=" in line and name in values else line)
    (folder / ".env").write_text("\n".join(lines) + "\n")
    return folder


def render(command: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """``config`` from the project folder, which finds compose.yaml and .env by itself."""
    return subprocess.run(
        [*command, "config"],
        cwd=folder,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(
    scope="module", params=IMPLEMENTATIONS or [None], ids=lambda c: " ".join(c) if c else "none"
)
def compose(request: pytest.FixtureRequest) -> list[str]:
    """Each Compose found: v1 and v2 read files differently, and users have either."""
    if request.param is None:
        missing("a Compose implementation (docker-compose or docker compose)")
    return list(request.param)


def rendered_with(command: list[str], folder: Path) -> dict[str, Any]:
    """The configuration Compose would run, from a copy with every secret filled in."""
    result = render(command, project_copy(folder, FILLED))
    assert result.returncode == 0, f"{' '.join(command)} config failed:\n{result.stderr}"
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@pytest.fixture(scope="module")
def rendered(compose: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What ``docker compose up`` would run: Compose's own rendering, not our reading."""
    return rendered_with(compose, tmp_path_factory.mktemp("project") / "steward")


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """target → source of a service's volumes, from either Compose's way of writing them."""
    found: dict[str, str] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        found[target] = source
    return found


def health_test(service: dict[str, Any]) -> str:
    """A healthcheck's command as one string (a list in both Compose versions' output)."""
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


# -- compose.yaml, rendered by a real Compose ----------------------------------------------


def test_compose_renders_the_topology(rendered: dict[str, Any]) -> None:
    """The issue's topology: PostgreSQL with its volume and check, two replicas built
    here on one shared artifacts volume, waiting for the database, and the balancer on
    8080 with our HAProxy configuration."""
    services = rendered["services"]
    assert set(services) == {"postgres", *REPLICAS, "lb"}
    assert {"pgdata", "artifacts"} <= set(rendered["volumes"])

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in health_test(postgres)
    assert mounts(postgres)["/var/lib/postgresql/data"] == "pgdata"

    for name in REPLICAS:
        replica = services[name]
        assert "build" in replica, f"{name} is not built from the Dockerfile"
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "/health/ready" in health_test(replica)
        env = replica["environment"]
        assert env["STEWARD_DATABASE_URL"].startswith("postgresql+psycopg://steward@postgres:")
        assert mounts(replica)[env["STEWARD_STORAGE_ROOT"]] == "artifacts", (
            f"{name}'s storage root is not the shared artifacts volume"
        )
        assert env["STEWARD_ADMIN_TOKEN"] == FILLED["STEWARD_ADMIN_TOKEN"]
        assert env["PGPASSWORD"] == env_of(services["postgres"])["POSTGRES_PASSWORD"]
    assert services["steward-1"]["environment"] == services["steward-2"]["environment"]

    lb = services["lb"]
    assert lb["image"].startswith("haproxy:")
    assert [(str(p["published"]), int(p["target"])) for p in ports(lb)] == [("8080", 8080)]
    assert Path(mounts(lb)["/usr/local/etc/haproxy/haproxy.cfg"]).name == "haproxy.cfg"


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (both Compose versions render a mapping)."""
    return dict(service["environment"])


def ports(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Published ports as dicts; Compose v1 may still write ``"8080:8080"``."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, str):
            published, target = port.rsplit(":", 1)
            port = {"published": published.rsplit(":", 1)[-1], "target": target}
        found.append(port)
    return found


def test_secrets_reach_only_their_variables(rendered: dict[str, Any]) -> None:
    """Each secret of .env lands where it is meant to and nowhere else (not in a URL)."""
    places: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)
        elif any(value in str(node) for value in FILLED.values()):
            places.append(path)

    walk(rendered["services"], "services")
    allowed = {f"services.{s}.environment.{v}" for s in ("postgres", *REPLICAS) for v in SECRETS}
    assert places, "no secret from .env was rendered"
    assert set(places) <= allowed, sorted(set(places) - allowed)


@pytest.mark.parametrize("empty", ["POSTGRES_PASSWORD", "STEWARD_ADMIN_TOKEN"])
def test_compose_refuses_to_start_without_a_secret(
    compose: list[str], empty: str, tmp_path: Path
) -> None:
    """The example as copied, with one value left empty: Compose says which, and stops."""
    values = {name: value for name, value in FILLED.items() if name != empty}
    result = render(compose, project_copy(tmp_path / "steward", values))
    assert result.returncode != 0
    assert empty in result.stderr and "steward.env.example" in result.stderr


def test_no_secret_is_written_in_the_files() -> None:
    """compose.yaml only interpolates secrets; the example leaves every one empty."""
    raw = yaml.safe_load(COMPOSE.read_text())
    for name, service in raw["services"].items():
        for key, value in dict(service.get("environment", {})).items():
            if key in SECRETS:
                assert re.fullmatch(r"\$\{\w+(:?[-?][^}]*)?\}", str(value)), (name, key)
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert required <= set(example), "steward.env.example lacks a variable compose needs"
    assert all(not value.strip() for value in example.values()), "a value in the example"
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", ".git"} <= ignored, "the build context would carry secrets"


# -- deploy/haproxy.cfg, checked by a real HAProxy -----------------------------------------


def haproxy() -> str:
    """The haproxy binary (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    path = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )
    if path is None:
        missing("haproxy")
    return path


def test_haproxy_config_is_valid() -> None:
    """``haproxy -c`` passes with the replicas' names unresolvable, as outside Docker."""
    result = subprocess.run(
        [haproxy(), "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=30
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = [line for line in output.splitlines() if "[WARNING]" in line]
    assert all("could not resolve address" in line for line in warnings), warnings


def test_haproxy_checks_readiness_of_both_replicas() -> None:
    """Active checks of /health/ready expecting 200, on both replicas, listening on 8080:
    ``haproxy -c`` accepts a configuration without any of these."""
    text = HAPROXY_CFG.read_text()
    assert re.search(r"^\s*option httpchk GET /health/ready\s*$", text, re.M)
    assert re.search(r"^\s*http-check expect status 200\s*$", text, re.M)
    assert re.search(r"^\s*default-server check\b", text, re.M)
    assert re.search(r"^\s*bind :8080\s*$", text, re.M)
    servers = re.findall(r"^\s*server (\S+) (\S+)", text, re.M)
    assert servers == [(name, f"{name}:8080") for name in REPLICAS]


# -- the Dockerfile, read as text ----------------------------------------------------------


@dataclass
class Stage:
    """One FROM of the Dockerfile and the instructions under it."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]]

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def stages(text: str) -> list[Stage]:
    """The Dockerfile's stages: instructions with continuations joined, comments dropped."""
    joined = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    found: list[Stage] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(words[0], name, []))
        else:
            found[-1].instructions.append((keyword, args.strip()))
    return found


def image_env(stage: Stage) -> dict[str, str]:
    """The ENV a stage sets: the container's defaults, which compose then extends."""
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            name, _, value = word.partition("=")
            env[name] = value
    return env


STAGES = stages(DOCKERFILE.read_text())
FINAL = STAGES[-1]


def test_the_image_is_built_in_two_stages() -> None:
    """Build in one stage, run from another: the wheel build leaves nothing behind."""
    assert len(STAGES) >= 2
    build = STAGES[0]
    assert build.name and any("pip wheel" in run for run in build.all("RUN"))
    assert FINAL.base == "python:3.11-slim"
    assert all(f"--from={build.name}" in copy for copy in FINAL.all("COPY")), (
        "the final stage copies something other than the build stage's result"
    )


def test_the_build_stage_copies_every_package() -> None:
    """A package added to pyproject.toml and forgotten here would be missing in the image."""
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    copied = {args.split()[0] for args in STAGES[0].all("COPY")}
    assert packages <= copied, packages - copied


def test_the_final_stage_runs_steward_unprivileged_without_compilers() -> None:
    """What the issue asks of the image: not root, no build tools, ``steward server`` as
    the entry point, configured by environment (host, port) and checked by readiness."""
    user = FINAL.all("USER")
    assert user, "the final stage runs as root"
    assert user[-1].split(":")[0] not in ("root", "0")
    last_run = max((i for i, (key, _) in enumerate(FINAL.instructions) if key == "RUN"), default=-1)
    last_user = max(i for i, (key, _) in enumerate(FINAL.instructions) if key == "USER")
    assert last_user > last_run, "a RUN after USER would need root"
    for run in FINAL.all("RUN"):
        assert not COMPILERS.search(run), f"build tools in the final stage: {run}"
    assert FINAL.all("ENTRYPOINT") == ['["steward"]']
    assert FINAL.all("CMD") == ['["server"]'], "a flag in CMD would override the environment"
    env = image_env(FINAL)
    assert FINAL.all("EXPOSE") == [env["STEWARD_PORT"]]
    assert env["STEWARD_HOST"] == "0.0.0.0"
    assert "/health/ready" in FINAL.all("HEALTHCHECK")[-1]


def test_the_image_and_compose_agree_on_the_storage_root() -> None:
    """The shared volume must be mounted where the image keeps its storage root."""
    raw = yaml.safe_load(COMPOSE.read_text())
    for name in REPLICAS:
        root = raw["services"][name]["environment"]["STEWARD_STORAGE_ROOT"]
        assert root == image_env(FINAL)["STEWARD_STORAGE_ROOT"], name


# -- the topology, as processes ------------------------------------------------------------


@dataclass
class Replica:
    """One ``steward server`` process: what one replica container runs."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """``steward server``, the image's ENTRYPOINT and CMD, with its environment."""
        script = Path(sys.executable).with_name("steward")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "steward"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "server"], env=self.env, cwd=self.log.parent, stdout=log, stderr=log
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process and self.process.poll() is None, self.log.read_text()
            try:
                return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 90, f"{self.name} ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Balancer:
    """The haproxy process: its address and its admin socket."""

    url: str
    socket_path: Path

    def servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's own view of the replicas (``show stat`` on its admin socket)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = csv.DictReader(data.decode().removeprefix("# ").splitlines())
        return {row["svname"]: row for row in rows if row["pxname"] == "replicas"}

    def status(self, name: str) -> str:
        return self.servers()[name]["status"]


def balancer_config(lb_port: int, replicas: list[Replica], socket_path: Path) -> str:
    """deploy/haproxy.cfg as is, but for the addresses: loopback ports, not Docker names."""
    text = HAPROXY_CFG.read_text()
    text = re.sub(r"^(\s*bind) :8080\s*$", rf"\1 127.0.0.1:{lb_port}", text, flags=re.M)
    for replica in replicas:
        text, count = re.subn(
            rf"^(\s*server {replica.name}) {replica.name}:8080",
            rf"\1 127.0.0.1:{replica.port}",
            text,
            flags=re.M,
        )
        assert count == 1, replica.name
    admin = f"    stats socket {socket_path} mode 600 level admin\n"
    return re.sub(r"^global\n", f"global\n{admin}", text, count=1, flags=re.M)


@pytest.fixture(scope="module")
def topology(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Balancer, list[Replica]]]:
    """PostgreSQL, two replicas on one storage root and HAProxy, each its own process."""
    if not (os.environ.get(POSTGRES_URL_ENV) or os.environ.get(REQUIRE_POSTGRES_ENV)):
        pytest.skip(f"the replicas need PostgreSQL: set {POSTGRES_URL_ENV}")
    binary = haproxy()
    if not IMPLEMENTATIONS:
        missing("a Compose implementation (docker-compose or docker compose)")
    folder = tmp_path_factory.mktemp("topology")
    rendered = rendered_with(IMPLEMENTATIONS[0], folder / "project")
    shared = folder / "artifacts"  # the volume both replicas mount
    with postgres_database() as database_url:
        replicas = []
        for name in REPLICAS:
            env = {
                **tool_env(),
                **{k: v for k, v in image_env(FINAL).items() if k.startswith("STEWARD_")},
                **rendered["services"][name]["environment"],
                # Only what differs outside Docker: addresses and the volume's path.
                "STEWARD_HOST": "127.0.0.1",
                "STEWARD_PORT": str(free_port()),
                "STEWARD_DATABASE_URL": database_url,
                "STEWARD_STORAGE_ROOT": str(shared),
            }
            (folder / name).mkdir()
            replicas.append(Replica(name, int(env["STEWARD_PORT"]), env, folder / name / "log"))
        balancer = Balancer(f"http://127.0.0.1:{free_port()}", folder / "haproxy.sock")
        config = folder / "haproxy.cfg"
        config.write_text(
            balancer_config(int(balancer.url.rsplit(":", 1)[1]), replicas, balancer.socket_path)
        )
        lb_log = folder / "haproxy.log"
        process: subprocess.Popen[bytes] | None = None
        try:
            for replica in replicas:  # together, as compose starts them
                replica.start()
            for replica in replicas:
                replica.wait_ready()
            with lb_log.open("wb") as log:
                process = subprocess.Popen(
                    [binary, "-W", "-db", "-f", str(config)], stdout=log, stderr=log
                )
            wait_for(balancer.socket_path.exists, 30, f"haproxy:\n{lb_log.read_text()}")
            yield balancer, replicas
        finally:
            if process is not None:
                stop_process(process)
            for replica in replicas:
                replica.stop()


def checked_up(balancer: Balancer, name: str) -> bool:
    """UP after a real check of /health/ready that answered 200 (not just the start state)."""
    row = balancer.servers()[name]
    return row["status"] == "UP" and row["check_status"] == "L7OK" and row["check_code"] == "200"


@pytest.mark.slow
def test_two_replicas_behind_haproxy_share_database_and_artifacts(
    topology: tuple[Balancer, list[Replica]],
) -> None:
    """Both replicas pass HAProxy's readiness check and serve one metastore: an object
    made through one is seen by the other, and an artifact uploaded through one is
    finalized and served by the other (the shared volume), also through the balancer."""
    balancer, (one, two) = topology
    for replica in (one, two):
        wait_for(lambda r=replica: checked_up(balancer, r.name), 30, f"{replica.name} UP")
    token = one.env["STEWARD_ADMIN_TOKEN"]
    auth = {"Authorization": f"Bearer {token}"}
    catalog = unique("team")
    with (
        httpx.Client(base_url=balancer.url, headers=auth, timeout=30) as lb,
        httpx.Client(base_url=one.url, headers=auth, timeout=30) as first,
        httpx.Client(base_url=two.url, headers=auth, timeout=30) as second,
    ):
        # The admin token of .env works on both replicas; one database behind them.
        assert first.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
        assert second.get(f"{UC}/catalogs/{catalog}").status_code == 200
        schema = {"name": "ml", "catalog_name": catalog}
        assert lb.post(f"{UC}/schemas", json=schema).status_code == 200
        model = {"catalog_name": catalog, "schema_name": "ml", "name": "churn"}
        assert lb.post(f"{UC}/models", json=model).status_code == 200
        version = {**{k: model[k] for k in model if k != "name"}, "model_name": "churn"}
        created = first.post(f"{UC}/models/versions", json={**version, "source": "compose"})
        assert created.status_code == 200, created.text

        # An artifact written through one replica is read, and registered, by the other.
        files = f"/api/2.1/steward/models/{catalog}.ml.churn/versions/1/artifacts"
        body = MLMODEL
        assert first.put(f"{files}/MLmodel", content=body).status_code in (200, 201, 204)
        finalized = second.patch(f"{UC}/models/{catalog}.ml.churn/versions/1/finalize")
        assert finalized.status_code == 200, finalized.text
        assert finalized.json()["status"] == "READY", finalized.text
        for client in (second, lb, lb):  # round robin: the balancer asks each replica
            answer = client.get(f"{files}/MLmodel")
            assert answer.status_code == 200 and answer.content == body, answer.text


@pytest.mark.slow
def test_haproxy_takes_a_stopped_replica_out_and_back(
    topology: tuple[Balancer, list[Replica]],
) -> None:
    """The active checks at work: a stopped replica goes DOWN and requests keep
    succeeding through the other; started again, it is checked back UP."""
    balancer, (one, _two) = topology
    auth = {"Authorization": f"Bearer {one.env['STEWARD_ADMIN_TOKEN']}"}
    with httpx.Client(base_url=balancer.url, headers=auth, timeout=30) as lb:
        one.stop()
        wait_for(lambda: balancer.status(one.name).startswith("DOWN"), 30, "steward-1 DOWN")
        for _ in range(6):
            assert lb.get("/health/ready").status_code == 200
            assert lb.get(f"{UC}/catalogs").status_code == 200
        one.start()
        one.wait_ready()
        wait_for(lambda: checked_up(balancer, one.name), 30, "steward-1 UP again")
        assert lb.get(f"{UC}/catalogs").status_code == 200
