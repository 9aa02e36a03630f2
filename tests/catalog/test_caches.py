"""Every cache a server keeps per process follows changes made through any worker.

The namespace cache (securables and table details: catalog/store/namespace_cache.py), the
row filters and masks bound per reader (catalog/row_access/table_access.py, kept while the
namespace cache's generation holds) and the verified-token cache (catalog/identity.py) are
dropped by ops of the policy feed (catalog/access/cache_sync.py). Each test warms both
workers' caches, changes something through one of them, and probes with fresh connections
(either worker may answer). On SQLite, whose workers share a change beacon, no request
sent after the change was acknowledged may answer the old way; on PostgreSQL, where the op
travels by NOTIFY, none sent a second after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from catalog.access.authorizer import Authorizer
from catalog.access.cache_sync import drop_on_namespace_changes
from catalog.namespace import NamespaceService
from catalog.persistence.engine import Database
from catalog.persistence.migrate import upgrade
from catalog.records import SecurableRecord
from catalog.store.factory import SqlCatalogStores
from catalog.store.namespace_cache import NamespaceCache
from policy.securables import SecurableType
from tests.support import (
    ServerHandle,
    backends,
    database_url_for,
    last_stale_probe,
    start_server,
    unique,
)

API = "/api/2.1/unity-catalog"
SQL = "/api/2.0/sql/statements"


def fresh_get(server: ServerHandle, token: str, path: str) -> httpx.Response:
    """One GET on a connection of its own, so that any worker may take it."""
    return httpx.get(
        f"{server.url}{path}",
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
        timeout=30,
    )


def fresh_sql(server: ServerHandle, token: str, statement: str) -> list[list[object]] | None:
    """One statement on a connection of its own; its rows, or None when it failed."""
    body = httpx.post(
        f"{server.url}{SQL}",
        json={"statement": statement},
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
        timeout=30,
    ).json()
    if body["status"]["state"] != "SUCCEEDED":
        return None
    return body["result"]["data_array"]


def warm(server: ServerHandle, token: str, path: str) -> None:
    for _ in range(12):
        fresh_get(server, token, path)


def assert_followed(
    backend: str, probe: Callable[[], bool], change: Callable[[], None], what: str
) -> None:
    started = time.monotonic()
    change()
    acknowledged = time.monotonic()
    stale = last_stale_probe(probe, started)
    if backend == "sqlite":
        assert stale < acknowledged, f"a worker answered from its cache after {what}"
    else:
        assert stale - started < 1.0, f"a worker answered {stale - started:.2f} s after {what}"


def sql(server: ServerHandle, statement: str) -> None:
    body = server.admin.post(SQL, json={"statement": statement}).json()
    assert body["status"]["state"] == "SUCCEEDED", body


@pytest.mark.parametrize("backend", backends())
def test_cached_tables_and_tokens_follow_changes_on_every_worker(
    backend: str, tmp_path: Path
) -> None:
    with database_url_for(backend, tmp_path) as url:
        server = start_server(url, tmp_path / "storage", {"STEWARD_WORKERS": "2"})
        try:
            time.sleep(1)  # both workers up
            catalog = unique("cache")
            table = f"{catalog}.s.t"
            for statement in (
                f"CREATE CATALOG {catalog}",
                f"CREATE SCHEMA {catalog}.s",
                f"CREATE TABLE {table} (id BIGINT) COMMENT 'first'",
            ):
                sql(server, statement)
            user, token = server.create_user()
            sql(server, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{user}`")
            sql(server, f"GRANT USE SCHEMA ON SCHEMA {catalog}.s TO `{user}`")
            path = f"{API}/tables/{table}"
            warm(server, token, path)  # both workers hold the table now (or its absence)
            assert fresh_get(server, token, path).status_code == 404  # no privilege yet

            # Ownership decides access: the new owner sees it at once on every worker.
            assert_followed(
                backend,
                lambda: fresh_get(server, token, path).status_code == 200,
                lambda: sql(server, f"ALTER TABLE {table} OWNER TO `{user}`"),
                "the owner changed",
            )
            # A comment changed: every worker answers the new one.
            assert_followed(
                backend,
                lambda: fresh_get(server, token, path).json().get("comment") == "second",
                lambda: sql(server, f"COMMENT ON TABLE {table} IS 'second'"),
                "the comment changed",
            )
            # A listing (pages of children are cached too) shows a new table at once.
            listing = f"{API}/tables?catalog_name={catalog}&schema_name=s"
            warm(server, token, listing)

            def names() -> list[str]:
                return [t["name"] for t in fresh_get(server, token, listing).json()["tables"]]

            # SQL's SHOW TABLES lists from the same cached pages (no session when kept).
            def shown(as_token: str) -> list[object]:
                rows = fresh_sql(server, as_token, f"SHOW TABLES IN {catalog}.s")
                return [row[2] for row in rows or []]

            for _ in range(6):
                shown(token)
                shown(server.admin_token)
            assert names() == ["t"] and shown(token) == ["t"]
            # A name asked for before it existed (remembered as missing by both workers)
            # is found on every worker once created, and the admin's listing shows it.
            probed = f"{API}/tables/{catalog}.s.later"
            admin_listing = f"{API}/tables?catalog_name={catalog}&schema_name=s"
            warm(server, server.admin_token, probed)
            warm(server, server.admin_token, admin_listing)
            assert fresh_get(server, server.admin_token, probed).status_code == 404
            assert_followed(
                backend,
                lambda: (
                    fresh_get(server, server.admin_token, probed).status_code == 200
                    and "later"
                    in [
                        t["name"]
                        for t in fresh_get(server, server.admin_token, admin_listing).json()[
                            "tables"
                        ]
                    ]
                    and "later" in shown(server.admin_token)
                ),
                lambda: sql(server, f"CREATE TABLE {catalog}.s.later (id BIGINT)"),
                "a table asked for before was created",
            )
            sql(server, f"DROP TABLE {catalog}.s.later")
            for _ in range(6):
                shown(token)
            assert_followed(
                backend,
                lambda: names() == ["t", "u"] and shown(token) == ["t", "u"],
                lambda: (
                    sql(server, f"CREATE TABLE {catalog}.s.u (id BIGINT)")
                    or sql(server, f"ALTER TABLE {catalog}.s.u OWNER TO `{user}`")
                ),
                "a table was created",
            )
            # The owner's GRANT in SQL is decided from each worker's cached chain too.
            granting = f"GRANT MODIFY ON TABLE {table} TO `admin`"
            for _ in range(6):
                assert fresh_sql(server, token, granting) is not None
            # Ownership taken back: hidden again, and no GRANT, everywhere.
            assert_followed(
                backend,
                lambda: (
                    fresh_get(server, token, path).status_code == 404
                    and fresh_sql(server, token, granting) is None
                ),
                lambda: sql(server, f"ALTER TABLE {table} OWNER TO `admin`"),
                "ownership was taken back",
            )
            # Dropped and created again with other columns: nobody answers the old table.
            sql(server, f"ALTER TABLE {table} OWNER TO `{user}`")
            warm(server, token, path)

            def recreate() -> None:
                sql(server, f"DROP TABLE {table}")
                sql(server, f"CREATE TABLE {table} (id BIGINT, name STRING)")
                sql(server, f"ALTER TABLE {table} OWNER TO `{user}`")

            assert_followed(
                backend,
                lambda: len(fresh_get(server, token, path).json().get("columns", [])) == 2,
                recreate,
                "the table was created again",
            )
            # Row filters: a bound policy is kept per worker and reader; setting a filter,
            # replacing its function and dropping it reach every worker at once.
            assert fresh_sql(server, token, f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
            sql(server, f"CREATE FUNCTION {catalog}.s.keep(n STRING) RETURN n = 'a'")
            query = f"SELECT id FROM {table} ORDER BY id"
            for _ in range(6):
                fresh_sql(server, token, query)
            assert_followed(
                backend,
                lambda: fresh_sql(server, token, query) == [[1]],
                lambda: sql(
                    server, f"ALTER TABLE {table} SET ROW FILTER {catalog}.s.keep ON (name)"
                ),
                "a row filter was set",
            )
            for _ in range(6):
                fresh_sql(server, token, query)
            assert_followed(
                backend,
                lambda: fresh_sql(server, token, query) == [[2]],
                lambda: sql(
                    server, f"CREATE OR REPLACE FUNCTION {catalog}.s.keep(n STRING) RETURN n = 'b'"
                ),
                "the filter's function was replaced",
            )
            assert_followed(
                backend,
                lambda: fresh_sql(server, token, query) == [[1], [2]],
                lambda: sql(server, f"ALTER TABLE {table} DROP ROW FILTER"),
                "the row filter was dropped",
            )
            # A revoked token is refused at once.
            me = fresh_get(server, token, "/api/2.0/preview/scim/v2/Me").json()["id"]
            infos = server.admin.get("/api/2.0/token-management/tokens").json()["token_infos"]
            (token_id,) = [i["token_id"] for i in infos if i.get("owner_id") == me]
            warm(server, token, path)

            def revoke() -> None:
                answer = server.admin.delete(f"/api/2.0/token-management/tokens/{token_id}")
                assert answer.status_code == 200, answer.text

            assert_followed(
                backend,
                lambda: fresh_get(server, token, path).status_code == 401,
                revoke,
                "the token was revoked",
            )
        finally:
            server.stop()


def cached_catalog(tmp_path: Path) -> tuple[Database, SqlCatalogStores, NamespaceCache]:
    """In process: a bootstrapped catalog whose namespace cache follows its changes as a
    server's does (the feed applied at commit, the namespace ops published)."""
    url = f"sqlite:///{tmp_path / 'steward.db'}"
    upgrade(url)
    db = Database(url)
    stores = SqlCatalogStores()
    authorizer = Authorizer(backend="sqlite")
    cache = NamespaceCache(db, stores)
    authorizer.cache = cache
    authorizer.feed.attach(db)
    drop_on_namespace_changes(db, authorizer.feed, cache.invalidate, cache.forget_added)
    NamespaceService(db, authorizer, stores).bootstrap()
    return db, stores, cache


def test_a_fill_read_before_a_change_is_not_kept(tmp_path: Path) -> None:
    """In process: what a miss read is kept only if no change was dropped meanwhile, and
    only read sessions are answered from the cache."""
    db, stores, cache = cached_catalog(tmp_path)

    assert cache.peek(["main"]) is None
    assert cache.securables(["main"]) == {}  # absent, and remembered as absent
    assert cache.peek(["main"]) == {}
    generation = cache.generation
    with db.transaction() as session:  # a change through the store, as every service does
        stores.namespace(session).insert(
            SecurableRecord(
                id="c1",
                securable_type=SecurableType.CATALOG,
                parent_id=None,
                name="main",
                full_name="main",
                owner="admin",
                created_at=1,
                created_by="admin",
            )
        )
        # Inside the write transaction nothing comes from the cache.
        assert not stores.namespace(session).reads_committed()
    assert cache.generation > generation  # dropped at commit, in this process
    assert cache.peek(["main"]) is None
    assert cache.securables(["main"])["main"].id == "c1"
    # A record handed out is a copy: changing it changes nothing cached.
    cache.securables(["main"])["main"].owner = "mallory"
    assert cache.securables(["main"])["main"].owner == "admin"


def test_an_addition_forgets_only_what_it_can_make_stale(tmp_path: Path) -> None:
    """In process: a transaction that only adds objects forgets each one's name (cached as
    not found) and its parent's pages of children, and keeps every other entry; one that
    adds and changes something else drops everything."""
    db, stores, cache = cached_catalog(tmp_path)

    def record(
        id_: str, kind: SecurableType, full_name: str, parent: str | None
    ) -> SecurableRecord:
        return SecurableRecord(
            id=id_,
            securable_type=kind,
            parent_id=parent,
            name=full_name.split(".")[-1],
            full_name=full_name,
            owner="admin",
            created_at=1,
            created_by="admin",
        )

    with db.transaction() as session:
        store = stores.namespace(session)
        store.insert(record("c1", SecurableType.CATALOG, "main", None))
        store.insert(record("s1", SecurableType.SCHEMA, "main.a", "c1"))
        store.insert(record("s2", SecurableType.SCHEMA, "main.b", "c1"))
    schemas = (SecurableType.SCHEMA,)
    tables = (SecurableType.TABLE,)
    cache.securables(["main", "main.a", "main.b", "main.a.new"])
    assert [r.name for r in cache.children("c1", schemas, None, 10)] == ["a", "b"]
    assert cache.children("s1", tables, None, 10) == []
    assert cache.children("s2", tables, None, 10) == []
    misses, generation = cache.misses, cache.generation

    with db.transaction() as session:  # only an addition
        stores.namespace(session).insert(record("t1", SecurableType.TABLE, "main.a.new", "s1"))
    assert cache.generation > generation  # fills read before it are not kept
    assert cache.peek(["main", "main.a", "main.b"]) is not None  # kept
    assert cache.peek(["main.a.new"]) is None  # its absence forgotten
    assert cache.securables(["main.a.new"])["main.a.new"].id == "t1"
    assert [r.name for r in cache.children("s1", tables, None, 10)] == ["new"]  # re-read
    misses_after = cache.misses
    assert cache.children("s2", tables, None, 10) == []  # another parent's page: kept
    assert [r.name for r in cache.children("c1", schemas, None, 10)] == ["a", "b"]
    assert cache.misses == misses_after == misses + 2

    with db.transaction() as session:  # an addition and a change: everything goes
        store = stores.namespace(session)
        store.insert(record("t2", SecurableType.TABLE, "main.b.other", "s2"))
        main = store.get(SecurableType.CATALOG, "main")
        assert main is not None
        main.comment = "changed"
        store.update(main)
    assert cache.peek(["main"]) is None
    assert cache.securables(["main"])["main"].comment == "changed"
