"""Fixtures: every store test runs on SQLite and PostgreSQL; HTTP tests drive a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.config import Settings
from catalog.runtime import Runtime
from steward.app import shutdown, start
from tests.support import ServerHandle, SharedServers, backends, database_url_for


@pytest.fixture(params=backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_url_for(backend, tmp_path) as url:
        yield url


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The services in-process, on a freshly migrated database."""
    settings = Settings(
        storage_root=tmp_path / "storage", database_url=database_url, admin_token="dapi-admin"
    )
    rt, _registry = start(settings)
    yield rt
    shutdown(rt)


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServers]:
    servers = SharedServers(tmp_path_factory)
    yield servers
    servers.stop()


@pytest.fixture(scope="module", params=backends())
def server(request: pytest.FixtureRequest, shared_servers: SharedServers) -> Iterator[ServerHandle]:
    """A real server per backend, shared by the modules of this test process (tests use
    unique names; see :class:`~tests.support.SharedServers`). A module that needs one of
    its own declares ``server = server_fixture("name")``."""
    handle = shared_servers.get(str(request.param))
    yield handle
    handle.close_clients()
