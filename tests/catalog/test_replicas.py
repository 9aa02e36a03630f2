"""Two replicas on one PostgreSQL: a grant, revoke or membership change committed on one
reaches the other's decisions within the staleness bound (one second), measured."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ServerHandle, postgres_database, start_server, unique

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
STALENESS_BOUND_SECONDS = 1.0

pytestmark = pytest.mark.postgres


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[ServerHandle, ServerHandle]]:
    if not (
        os.environ.get("STEWARD_TEST_POSTGRES_URL") or os.environ.get("STEWARD_REQUIRE_POSTGRES")
    ):
        pytest.skip("replicas share a PostgreSQL database")
    with postgres_database() as url:
        first = start_server(url, tmp_path / "a")
        second = start_server(url, tmp_path / "b", {"STEWARD_ADMIN_TOKEN": first.admin_token})
        try:
            yield first, second
        finally:
            second.stop()
            first.stop()


def until(condition: Callable[[], bool], bound: float = STALENESS_BOUND_SECONDS) -> float:
    """Seconds until ``condition`` holds; fails past the bound."""
    started = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - started
        assert elapsed < bound, f"not visible after {elapsed:.3f}s (bound {bound}s)"
        time.sleep(0.005)
    return time.monotonic() - started


def test_policy_changes_reach_the_other_replica_within_the_bound(
    replicas: tuple[ServerHandle, ServerHandle],
) -> None:
    a, b = replicas
    user, token = a.create_user()
    on_b: httpx.Client = b.client(token)
    catalog = unique("rep")
    assert a.admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200

    def status_on_b() -> int:
        return on_b.get(f"{UC}/catalogs/{catalog}").status_code

    assert status_on_b() == 404  # hidden: answered as missing
    grant = {"changes": [{"principal": user, "add": ["BROWSE"]}]}
    assert a.admin.patch(f"{UC}/permissions/catalog/{catalog}", json=grant).status_code == 200
    seen_grant = until(lambda: status_on_b() == 200)

    revoke = {"changes": [{"principal": user, "remove": ["BROWSE"]}]}
    assert b.admin.patch(f"{UC}/permissions/catalog/{catalog}", json=revoke).status_code == 200
    seen_revoke = until(lambda: a.client(token).get(f"{UC}/catalogs/{catalog}").status_code == 404)

    # Membership: a grant to a group reaches a member added on the other replica.
    group = a.admin.post(f"{SCIM}/Groups", json={"displayName": unique("g")}).json()
    grant_group = {"changes": [{"principal": group["displayName"].lower(), "add": ["BROWSE"]}]}
    assert a.admin.patch(f"{UC}/permissions/catalog/{catalog}", json=grant_group).status_code == 200
    me = on_b.get(f"{SCIM}/Me").json()
    add = {"Operations": [{"op": "add", "value": {"members": [{"value": me["id"]}]}}]}
    assert a.admin.patch(f"{SCIM}/Groups/{group['id']}", json=add).status_code == 200
    seen_member = until(lambda: status_on_b() == 200)

    # Drop on one replica: the other forgets the object's grants too.
    assert a.admin.delete(f"{UC}/catalogs/{catalog}").status_code == 200
    assert b.admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    remove = {"Operations": [{"op": "remove", "path": f'members[value eq "{me["id"]}"]'}]}
    assert a.admin.patch(f"{SCIM}/Groups/{group['id']}", json=remove).status_code == 200
    seen_drop = until(lambda: status_on_b() == 404)
    print(
        f"\nstaleness: grant {seen_grant * 1000:.1f} ms, revoke {seen_revoke * 1000:.1f} ms, "
        f"membership {seen_member * 1000:.1f} ms, drop {seen_drop * 1000:.1f} ms"
    )


def test_a_revoked_token_is_refused_by_the_other_replica_within_the_bound(
    replicas: tuple[ServerHandle, ServerHandle],
) -> None:
    """Tokens verified in the last second are trusted without a read (catalog.identity):
    a revocation on one replica reaches the other within that second."""
    a, b = replicas
    _user, token = a.create_user()
    on_b: httpx.Client = b.client(token)
    assert on_b.get(f"{SCIM}/Me").status_code == 200  # now cached on b
    mine = a.client(token).get("/api/2.0/token/list").json()["token_infos"]
    revoked = a.client(token).post("/api/2.0/token/delete", json={"token_id": mine[0]["token_id"]})
    assert revoked.status_code == 200, revoked.text
    assert a.client(token).get(f"{SCIM}/Me").status_code == 401  # at once where revoked
    seen = until(lambda: on_b.get(f"{SCIM}/Me").status_code == 401, bound=1.5)
    print(f"\nrevoked token refused on the other replica after {seen * 1000:.1f} ms")


def test_replicas_writing_at_once_keep_one_verifiable_log(
    replicas: tuple[ServerHandle, ServerHandle],
) -> None:
    """docs/audit.md: the log verifies with several replicas writing; events spread over lanes."""
    import threading

    from sqlalchemy import text as sql_text

    from catalog.audit.verify import verify
    from catalog.persistence.engine import Database

    acknowledged: list[str] = []
    lock = threading.Lock()

    def writer(server: ServerHandle) -> None:
        client = server.admin
        for _ in range(15):
            name = unique("lane")
            if client.post(f"{UC}/catalogs", json={"name": name}).status_code == 200:
                with lock:
                    acknowledged.append(name)

    db = Database(replicas[0].database_url)
    writing = threading.Event()
    writing.set()
    #: Reports of verify() walks made while the replicas write: an auditor may verify a live
    #: log, and must not see the heads of one moment and the events of another.
    live_reports: list[Any] = []

    def auditor() -> None:
        while writing.is_set():
            with db.read() as session:
                live_reports.append(verify(session))

    threads = [threading.Thread(target=writer, args=(s,)) for s in replicas for _ in range(3)]
    watcher = threading.Thread(target=auditor)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writing.clear()
    watcher.join()
    assert len(acknowledged) == 90
    assert len(live_reports) >= 3
    assert [r.problems[:3] for r in live_reports if not r.ok] == []
    try:
        with db.read() as session:
            report = verify(session)
            rows = session.execute(
                sql_text(
                    "SELECT object_name, lane FROM audit_events "
                    "WHERE action_name = 'createCatalog' AND status_code = 200"
                )
            ).all()
    finally:
        db.dispose()
    assert report.ok, report.problems[:5]
    recorded = [name for name, _ in rows if name.startswith("lane_")]
    assert sorted(recorded) == sorted(acknowledged)  # exactly one event each
    assert len({lane for _, lane in rows}) > 1  # concurrent writers took different lanes


def test_served_features_follow_a_write_on_the_other_replica_at_once(
    replicas: tuple[ServerHandle, ServerHandle], tmp_path: Path
) -> None:
    """Replica ``a`` serves from its feature row cache; a write through replica ``b`` raises
    the table's data version in the same transaction, so ``a``'s very next invocation reads
    the new row: no staleness bound, unlike policies."""
    from tests.registry.test_serving import World, feature_world, invocations
    from tests.registry_support import STEWARD

    a, b = replicas
    world = World(a, tmp_path)
    try:
        name = feature_world(world)

        def predict() -> float:
            answer = world.consumer_http.post(
                invocations(name), json={"dataframe_records": [{"id": 2, "b": 0.0}]}
            )
            assert answer.status_code == 200, answer.text
            return float(answer.json()["predictions"][0])

        for _ in range(3):
            assert abs(predict() - (5.0 + 2 * 0.5)) < 1e-6
        on_b = b.client(world.scientist_token)
        for value in (7.0, -1.0, 3.25):
            written = on_b.post(
                f"{STEWARD}/tables/{world.feats}/rows", json={"rows": [{"id": 2, "a": value}]}
            )
            assert written.status_code == 200, written.text
            assert abs(predict() - (5.0 + 2 * value)) < 1e-6
    finally:
        world.close()


def test_connections_killed_while_idle_are_replaced_before_use(tmp_path: Path) -> None:
    """Pooled PostgreSQL connections idle longer than a second are pinged at checkout
    (catalog/persistence/engine.py) and replaced when the ping fails: after every backend
    of the database is terminated (as by a restart), the next requests just work."""
    if not (
        os.environ.get("STEWARD_TEST_POSTGRES_URL") or os.environ.get("STEWARD_REQUIRE_POSTGRES")
    ):
        pytest.skip("needs PostgreSQL")
    import sqlalchemy as sa

    from catalog.persistence.engine import PING_AFTER_IDLE_SECONDS

    with postgres_database() as url:
        server = start_server(url, tmp_path / "s")
        try:
            for _ in range(5):
                assert server.admin.get(f"{UC}/catalogs").status_code == 200
            killer = sa.create_engine(url)
            with killer.connect() as connection:
                killed = connection.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar()
            killer.dispose()
            assert killed and killed > 0
            time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
            name = unique("after")
            assert server.admin.post(f"{UC}/catalogs", json={"name": name}).status_code == 200
            for _ in range(5):
                assert server.admin.get(f"{UC}/catalogs/{name}").status_code == 200
        finally:
            server.stop()


def test_replicas_started_at_once_on_an_empty_database_all_start(tmp_path: Path) -> None:
    """Four replicas race through their first start (migrations, the metastore and system
    catalog, the first admin): every one comes up, and there is one admin."""
    if not (
        os.environ.get("STEWARD_TEST_POSTGRES_URL") or os.environ.get("STEWARD_REQUIRE_POSTGRES")
    ):
        pytest.skip("replicas share a PostgreSQL database")
    token = "dapi" + "4" * 64
    with postgres_database() as url, ThreadPoolExecutor(4) as pool:
        starting = [
            pool.submit(start_server, url, tmp_path / f"r{i}", {"STEWARD_ADMIN_TOKEN": token})
            for i in range(4)
        ]
        handles = [future.result() for future in starting]
        try:
            for handle in handles:
                answer = handle.client(token).get("/api/2.1/unity-catalog/catalogs/system")
                assert answer.status_code == 200, answer.text
            admins = (
                handles[0]
                .client(token)
                .get("/api/2.0/preview/scim/v2/Users", params={"filter": 'userName eq "admin"'})
            )
            assert admins.status_code == 200 and admins.json()["totalResults"] == 1
        finally:
            for handle in handles:
                handle.stop()
