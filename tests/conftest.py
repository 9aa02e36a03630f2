"""Fixtures: every store test runs on SQLite and PostgreSQL; HTTP tests drive a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.config import Settings
from catalog.runtime import Runtime
from steward.app import shutdown, start
from tests.support import ServerHandle, backends, database_url_for, start_server


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


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    """One real server per test module and backend; tests use unique names."""
    directory = tmp_path_factory.mktemp("server")
    with database_url_for(str(request.param), directory) as url:
        handle = start_server(url, directory / "storage")
        try:
            yield handle
        finally:
            handle.stop()
