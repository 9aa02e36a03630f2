"""Versions by alias are kept per process (registry/version_cache.py) and follow every
change made through any worker: an alias moved, a tag set, an alias deleted.

As in tests/catalog/test_caches.py: both workers' caches are warmed, the change is made
through one of them, and probes on fresh connections (either worker may answer) must not
answer the old way after the change was acknowledged on SQLite (the change beacon), nor a
second after it on PostgreSQL (NOTIFY).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.catalog.test_caches import API, assert_followed, fresh_get, sql, warm
from tests.support import backends, database_url_for, start_server, unique, write_mlmodel


@pytest.mark.parametrize("backend", backends())
def test_versions_by_alias_follow_changes_on_every_worker(backend: str, tmp_path: Path) -> None:
    with database_url_for(backend, tmp_path) as url:
        server = start_server(url, tmp_path / "storage", {"STEWARD_WORKERS": "2"})
        try:
            time.sleep(1)  # both workers up
            catalog = unique("vcache")
            sql(server, f"CREATE CATALOG {catalog}")
            sql(server, f"CREATE SCHEMA {catalog}.s")
            model = f"{catalog}.s.m"
            admin = server.admin
            created = admin.post(
                f"{API}/models", json={"name": "m", "catalog_name": catalog, "schema_name": "s"}
            )
            assert created.status_code == 200, created.text

            def new_version() -> int:
                version = admin.post(
                    f"{API}/models/versions",
                    json={
                        "catalog_name": catalog,
                        "schema_name": "s",
                        "model_name": "m",
                        "source": "test://m",
                    },
                ).json()
                write_mlmodel(version["storage_location"])
                number = version["version"]
                done = admin.patch(
                    f"{API}/models/{model}/versions/{number}/finalize",
                    json={"full_name": model, "version": number},
                )
                assert done.status_code == 200, done.text
                return int(number)

            def move(alias: str, version: int) -> None:
                moved = admin.put(
                    f"{API}/models/{model}/aliases/{alias}", json={"version_num": version}
                )
                assert moved.status_code == 200, moved.text

            first, second = new_version(), new_version()
            move("champion", first)
            path = f"{API}/models/{model}/aliases/champion"
            token = server.admin_token
            warm(server, token, path)
            assert fresh_get(server, token, path).json()["version"] == first
            absent = f"{API}/models/{model}/aliases/challenger"
            warm(server, token, absent)  # remembered as missing by both workers

            assert_followed(
                backend,
                lambda: fresh_get(server, token, path).json()["version"] == second,
                lambda: move("champion", second),
                "the alias moved",
            )
            assert_followed(
                backend,
                lambda: fresh_get(server, token, absent).status_code == 200,
                lambda: move("challenger", first),
                "an alias asked for before was set",
            )
            warm(server, token, path)

            def tag() -> None:
                answer = admin.patch(
                    f"{API}/models/{model}/versions/{second}",
                    json={"tags": [{"key": "stage", "value": "prod"}]},
                )
                assert answer.status_code == 200, answer.text

            assert_followed(
                backend,
                lambda: (
                    {"key": "stage", "value": "prod"}
                    in fresh_get(server, token, path).json().get("tags", [])
                ),
                tag,
                "the version was tagged",
            )
            assert_followed(
                backend,
                lambda: fresh_get(server, token, path).status_code == 404,
                lambda: admin.delete(f"{API}/models/{model}/aliases/champion").raise_for_status(),
                "the alias was deleted",
            )
            assert_followed(
                backend,
                lambda: fresh_get(server, token, absent).status_code == 404,
                lambda: sql(server, f"DROP MODEL {model}"),
                "the model was dropped",
            )
        finally:
            server.stop()
