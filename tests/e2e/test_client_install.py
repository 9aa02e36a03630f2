"""A laptop that only talks to a server: ``pip install steward`` without the ``server`` extra.

The package is installed from a copy of this tree into a fresh venv (pip resolves the
real dependency list from PyPI, as a user's install would). That venv must hold none of
the server's libraries, its CLI and Python client must work against a real server run
from the project's venv, and ``steward server`` there must say which extra to install,
not print a traceback.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, ServerHandle, start_server

PACKAGES = ("common", "policy", "catalog", "registry", "steward")
SERVER_DISTRIBUTIONS = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "pycasbin")

pytestmark = pytest.mark.slow


def copy_of_the_tree(target: Path) -> Path:
    """What a source distribution holds: the packages, pyproject.toml and the README."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return target


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("client-install")
    source = copy_of_the_tree(base / "source")
    venv = base / "venv"
    python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", str(source)],
        check=True,
        timeout=900,
    )
    return venv


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    storage = tmp_path_factory.mktemp("server") / "storage"
    handle = start_server(f"sqlite:///{storage / 'steward.db'}", storage)
    try:
        yield handle
    finally:
        handle.stop()


def run(
    venv: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=venv,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_the_base_install_holds_no_server_library(client_venv: Path) -> None:
    listed = run(client_venv, "pip", "list", "--format=freeze")
    assert listed.returncode == 0, listed.stderr
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert "steward" in installed
    assert installed.isdisjoint(SERVER_DISTRIBUTIONS), installed & set(SERVER_DISTRIBUTIONS)


def test_the_cli_and_the_client_of_a_base_install_reach_a_server(
    client_venv: Path, sqlite_server: ServerHandle
) -> None:
    env = {"STEWARD_URL": sqlite_server.url, "STEWARD_TOKEN": sqlite_server.admin_token}
    created = run(client_venv, "steward", "catalogs", "create", "laptop_cat", env=env)
    assert created.returncode == 0, created.stderr
    listed = run(client_venv, "steward", "catalogs", "list", "--csv", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "laptop_cat" in listed.stdout
    probe = (
        "from registry import Client, StewardError\n"
        "try:\n"
        "    Client().get_model('laptop_cat.nowhere.m')\n"
        "except StewardError as exc:\n"
        "    print(exc.status_code, exc.error_code)\n"
    )
    answered = run(client_venv, "python", "-c", probe, env=env)
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.split() == ["404", "RESOURCE_DOES_NOT_EXIST"]


def test_server_commands_of_a_base_install_name_the_extra(client_venv: Path) -> None:
    for command in (["steward", "server"], ["steward", "db", "upgrade"]):
        result = run(client_venv, *command)
        assert result.returncode == 1
        assert "pip install 'steward[server]'" in result.stderr
        assert "Traceback" not in result.stderr
