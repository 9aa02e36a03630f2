"""The team deployment's files (compose.yaml, Dockerfile, deploy/haproxy.cfg), checked
without a Docker engine.

This machine and CI have the docker client but no daemon, so nothing here builds an image
or starts a container. What can be checked for real is checked with the real tools:

- a real Compose implementation renders compose.yaml, as ``docker compose up`` would read
  it, from a copy of the files with ``.env`` made from steward.env.example: Debian's
  ``docker-compose`` (which .ci/run installs), and ``docker compose`` where the CLI has
  the plugin. A missing secret must stop it, and no secret may be written in the files;
- a real ``haproxy -c`` checks deploy/haproxy.cfg, the file the ``lb`` service mounts;
- the Dockerfile is read as text: two stages, the last one slim, unprivileged, without
  compilers or sources, ``steward server`` as its entry point.

The topology these files describe runs as processes in tests/e2e/test_topology.py.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.deployment import (
    COMPILERS,
    COMPOSE,
    ENV_EXAMPLE,
    FILLED,
    FINAL,
    HAPROXY_CFG,
    IMPLEMENTATIONS,
    REPLICAS,
    SECRETS,
    STAGES,
    haproxy,
    image_env,
    missing,
    project_copy,
    render,
    rendered_with,
)
from tests.support import ROOT


@pytest.fixture(
    scope="module", params=IMPLEMENTATIONS or [None], ids=lambda c: " ".join(c) if c else "none"
)
def compose(request: pytest.FixtureRequest) -> list[str]:
    """Each Compose found: v1 and v2 read files differently, and users have either."""
    if request.param is None:
        missing("a Compose implementation (docker-compose or docker compose)")
    return list(request.param)


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
        # Stopping: out of HAProxy's rotation first, then the drain; Docker waits for both.
        delay = float(env["STEWARD_SHUTDOWN_DELAY_SECONDS"])
        assert delay >= 2.5, "HAProxy needs up to 2.5 s to take a stopping replica out"
        drain = float(env["STEWARD_SHUTDOWN_SECONDS"])
        assert seconds(replica["stop_grace_period"]) > delay + drain
    assert services["steward-1"]["environment"] == services["steward-2"]["environment"]

    lb = services["lb"]
    assert lb["image"].startswith("haproxy:")
    assert [(str(p["published"]), int(p["target"])) for p in ports(lb)] == [("8080", 8080)]
    assert Path(mounts(lb)["/usr/local/etc/haproxy/haproxy.cfg"]).name == "haproxy.cfg"


def seconds(duration: str | int | float) -> float:
    """A Compose duration (``45s``, ``1m30s``, or a number of seconds) in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts, duration
    return sum(float(number) * units[unit] for number, unit in parts)


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
