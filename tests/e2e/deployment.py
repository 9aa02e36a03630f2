"""What the deployment's tests share: the files (compose.yaml, the Dockerfile,
deploy/haproxy.cfg, steward.env.example), the real tools that read them (a Compose
implementation, HAProxy) and the image's environment, read from the Dockerfile.

tests/e2e/test_compose.py checks the files with those tools; tests/e2e/test_topology.py
runs the topology they describe as processes. Without Compose or HAProxy the tests that
need them skip, except in CI (.ci/run installs both), where they fail.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from tests.support import HAPROXY_CFG, ROOT, unique

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"

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


def rendered_with(command: list[str], folder: Path) -> dict[str, Any]:
    """The configuration Compose would run, from a copy with every secret filled in."""
    result = render(command, project_copy(folder, FILLED))
    assert result.returncode == 0, f"{' '.join(command)} config failed:\n{result.stderr}"
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def haproxy() -> str:
    """The haproxy binary (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    path = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )
    if path is None:
        missing("haproxy")
    return path


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
