"""Fixtures: every store test runs on SQLite and PostgreSQL; HTTP tests drive a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.config import Settings
from catalog.runtime import Runtime
from steward.app import shutdown, start
from tests.support import backends, database_url_for, server_fixture


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


#: One real server per test module and backend; tests use unique names.
server = server_fixture("server")
