"""8 writers on 2 server processes over one PostgreSQL register 200 versions of one model and
move its aliases: numbers are exactly 1..200, aliases point at READY versions, and the
audit log verifies."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.audit.verify import verify
from catalog.persistence.engine import Database
from tests.support import ServerHandle, postgres_database, start_server, unique, write_mlmodel

UC = "/api/2.1/unity-catalog"
VERSIONS = 200
WRITERS_PER_SERVER = 4

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[ServerHandle, ServerHandle]]:
    if not (
        os.environ.get("STEWARD_TEST_POSTGRES_URL") or os.environ.get("STEWARD_REQUIRE_POSTGRES")
    ):
        pytest.skip("replicas share a PostgreSQL database")
    shared = tmp_path / "storage"  # replicas share the artifact store, as in production
    with postgres_database() as url:
        first = start_server(url, shared)
        second = start_server(url, shared, {"STEWARD_ADMIN_TOKEN": first.admin_token})
        try:
            yield first, second
        finally:
            second.stop()
            first.stop()


def test_concurrent_registrations_and_alias_moves(
    replicas: tuple[ServerHandle, ServerHandle],
) -> None:
    a, _ = replicas
    catalog = unique("c")
    admin = a.admin
    assert admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    assert (
        admin.post(f"{UC}/schemas", json={"name": "ml", "catalog_name": catalog}).status_code == 200
    )
    body = {"catalog_name": catalog, "schema_name": "ml", "name": "churn"}
    assert admin.post(f"{UC}/models", json=body).status_code == 200
    model = f"{catalog}.ml.churn"
    budget = threading.Semaphore(VERSIONS)
    numbers: list[int] = []
    moves: list[tuple[str, int]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def writer(server: ServerHandle, index: int) -> None:
        client = server.admin
        alias = "champion" if index % 2 else "challenger"
        while budget.acquire(blocking=False):
            created = client.post(
                f"{UC}/models/versions",
                json={
                    "catalog_name": catalog,
                    "schema_name": "ml",
                    "model_name": "churn",
                    "source": f"writer-{index}",
                },
            )
            if created.status_code != 200:
                errors.append(created.text)
                return
            version = created.json()["version"]
            write_mlmodel(created.json()["storage_location"])
            final = client.patch(
                f"{UC}/models/{model}/versions/{version}/finalize",
                json={"full_name": model, "version": version},
            )
            moved = client.put(
                f"{UC}/models/{model}/aliases/{alias}", json={"version_num": version}
            )
            with lock:
                numbers.append(version)
                if final.json().get("status") != "READY" or moved.status_code != 200:
                    errors.append(f"{final.text} {moved.text}")
                else:
                    moves.append((alias, version))

    threads = [
        threading.Thread(target=writer, args=(server, i))
        for server in replicas
        for i in range(WRITERS_PER_SERVER)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert sorted(numbers) == list(range(1, VERSIONS + 1))

    listed: list[dict] = []
    token = None
    while True:
        params = {"max_results": 50, **({"page_token": token} if token else {})}
        page = admin.get(f"{UC}/models/{model}/versions", params=params).json()
        listed += page["model_versions"]
        token = page.get("next_page_token")
        if not token:
            break
    assert [v["version"] for v in listed] == list(range(1, VERSIONS + 1))
    by_number = {v["version"]: v for v in listed}
    aliases = admin.get(f"{UC}/models/{model}").json()["aliases"]
    assert {a["alias_name"] for a in aliases} == {"champion", "challenger"}
    for entry in aliases:
        assert by_number[entry["version_num"]]["status"] == "READY"
        holders = [
            v for v in listed if entry["alias_name"] in {x["alias_name"] for x in v["aliases"]}
        ]
        assert [v["version"] for v in holders] == [entry["version_num"]]
    # Every move is audited with the version before it; the log verifies.
    events = admin.get(
        "/api/2.1/steward/audit",
        params={"action": "setRegisteredModelAlias", "object": model, "max_results": 1000},
    ).json()["events"]
    assert len(events) == VERSIONS
    assert sum(1 for e in events if e["request_params"].get("previous_version") is None) == 2
    db = Database(a.database_url)
    try:
        with db.read() as session:
            report = verify(session)
    finally:
        db.dispose()
    assert report.ok, report.problems[:5]
