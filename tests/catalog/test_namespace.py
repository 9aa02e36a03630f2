"""Namespace domain rules on the real stores, SQLite and PostgreSQL alike."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from catalog.access.authorizer import Caller
from catalog.access.grants import PrivilegeChange
from catalog.namespace import NewSecurable
from catalog.persistence import schema as t
from catalog.records import ColumnRecord, PrincipalKind
from catalog.runtime import Runtime
from catalog.tables import build_table_detail
from common.errors import AlreadyExists, InvalidParameter, NotEmpty, NotFound, PermissionDenied
from policy.securables import SecurableType
from registry.model_registry import ModelRegistry
from tests.support import write_mlmodel

CATALOG, SCHEMA, TABLE, MODEL = (
    SecurableType.CATALOG,
    SecurableType.SCHEMA,
    SecurableType.TABLE,
    SecurableType.MODEL,
)


def admin(rt: Runtime) -> Caller:
    return rt.identity.authenticate("dapi-admin")


def user(rt: Runtime, name: str) -> Caller:
    principal = rt.identity.create_principal(PrincipalKind.USER, name)
    issued = rt.identity.issue_token(principal, "admin", None, None)
    return rt.identity.authenticate(issued.value)


def columns(*names: str, not_null: tuple[str, ...] = ()) -> list[ColumnRecord]:
    return [
        ColumnRecord(
            name=n, type_text="bigint", type_name="LONG", position=i, nullable=n not in not_null
        )
        for i, n in enumerate(names)
    ]


def make_tree(rt: Runtime, caller: Caller) -> None:
    rt.namespace.create(caller, NewSecurable(CATALOG, "Main"))
    rt.namespace.create(caller, NewSecurable(SCHEMA, "main.Sales"))
    detail = build_table_detail(
        table_type="MANAGED", data_source_format=None, columns=columns("id"), storage_location=None
    )
    rt.namespace.create(caller, NewSecurable(TABLE, "main.sales.Orders"), table=detail)


def count_securables(rt: Runtime) -> int:
    with rt.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(t.Securable)) or 0)


def test_names_are_case_insensitive_and_stored_lower_case(runtime: Runtime) -> None:
    make_tree(runtime, admin(runtime))
    table = runtime.namespace.get_table("MAIN.SALES.ORDERS")
    assert table.securable.full_name == "main.sales.orders"
    assert table.securable.owner == "admin"
    assert [c.name for c in table.detail.columns] == ["id"]
    with pytest.raises(AlreadyExists):
        runtime.namespace.create(admin(runtime), NewSecurable(CATALOG, "MAIN"))


@pytest.mark.parametrize("bad", ["a b", "a.b", "a/b", "a\tb", "", "x" * 256, "a\x00"])
def test_bad_names_are_refused_and_change_nothing(runtime: Runtime, bad: str) -> None:
    before = count_securables(runtime)
    with pytest.raises(InvalidParameter):
        runtime.namespace.create(admin(runtime), NewSecurable(CATALOG, bad))
    assert count_securables(runtime) == before


def test_missing_parents_are_named(runtime: Runtime) -> None:
    with pytest.raises(NotFound, match="CATALOG 'nope'"):
        runtime.namespace.create(admin(runtime), NewSecurable(SCHEMA, "nope.s"))
    runtime.namespace.create(admin(runtime), NewSecurable(CATALOG, "c"))
    with pytest.raises(NotFound, match=r"SCHEMA 'c\.nope'"):
        runtime.namespace.create(
            admin(runtime),
            NewSecurable(TABLE, "c.nope.t"),
            table=build_table_detail(
                table_type="MANAGED",
                data_source_format=None,
                columns=columns("id"),
                storage_location=None,
            ),
        )


def test_system_catalog_is_reserved_and_read_only(runtime: Runtime) -> None:
    caller = admin(runtime)
    assert runtime.namespace.get(CATALOG, "system").owner == "System user"
    assert runtime.namespace.get(SCHEMA, "system.access").full_name == "system.access"
    with pytest.raises(PermissionDenied):
        runtime.namespace.create(caller, NewSecurable(SCHEMA, "system.mine"))
    with pytest.raises(PermissionDenied):
        runtime.namespace.delete(CATALOG, "system", force=True)
    with pytest.raises(PermissionDenied):
        runtime.namespace.update(caller, CATALOG, "system", comment="x")


def test_drop_non_empty_container_needs_force(runtime: Runtime) -> None:
    with runtime.db.read() as session:  # the system tables' own columns and details
        columns = session.scalar(select(func.count()).select_from(t.TableColumn))
        details = session.scalar(select(func.count()).select_from(t.TableDetail))
    make_tree(runtime, admin(runtime))
    with pytest.raises(NotEmpty):
        runtime.namespace.delete(CATALOG, "main")
    with pytest.raises(NotEmpty):
        runtime.namespace.delete(SCHEMA, "main.sales")
    assert runtime.namespace.get_table("main.sales.orders")
    runtime.namespace.delete(CATALOG, "main", force=True)
    for kind, name in ((CATALOG, "main"), (SCHEMA, "main.sales"), (TABLE, "main.sales.orders")):
        with pytest.raises(NotFound):
            runtime.namespace.get(kind, name)
    with runtime.db.read() as session:  # cascades removed details and columns too
        assert session.scalar(select(func.count()).select_from(t.TableColumn)) == columns
        assert session.scalar(select(func.count()).select_from(t.TableDetail)) == details


def test_rename_catalog_rewrites_descendant_names(runtime: Runtime) -> None:
    caller = admin(runtime)
    make_tree(runtime, caller)
    runtime.namespace.update(caller, CATALOG, "main", new_name="Prod", comment="renamed")
    assert runtime.namespace.get_table("prod.sales.orders").securable.name == "orders"
    assert runtime.namespace.get(CATALOG, "prod").comment == "renamed"
    with pytest.raises(NotFound):
        runtime.namespace.get(SCHEMA, "main.sales")
    runtime.namespace.create(caller, NewSecurable(CATALOG, "other"))
    with pytest.raises(AlreadyExists):
        runtime.namespace.update(caller, CATALOG, "other", new_name="prod")
    assert runtime.namespace.get(CATALOG, "other").name == "other"


def test_rename_with_like_wildcards_touches_only_its_own_subtree(runtime: Runtime) -> None:
    caller = admin(runtime)
    for name in ("a_b", "axb"):
        runtime.namespace.create(caller, NewSecurable(CATALOG, name))
        runtime.namespace.create(caller, NewSecurable(SCHEMA, f"{name}.s"))
    runtime.namespace.update(caller, CATALOG, "a_b", new_name="renamed")
    assert runtime.namespace.get(SCHEMA, "axb.s").full_name == "axb.s"
    assert runtime.namespace.get(SCHEMA, "renamed.s").full_name == "renamed.s"


def test_pagination_walks_every_child_exactly_once(runtime: Runtime) -> None:
    caller = admin(runtime)
    runtime.namespace.create(caller, NewSecurable(CATALOG, "big"))
    names = sorted(f"s{i:03d}" for i in range(23))
    for name in names:
        runtime.namespace.create(caller, NewSecurable(SCHEMA, f"big.{name}"))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = runtime.namespace.list(caller, SCHEMA, "big", 5, token, 1000)
        seen.extend(r.name for r in page.items)
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert seen == names
    assert pages == 5
    with pytest.raises(InvalidParameter):
        runtime.namespace.list(caller, SCHEMA, "big", -1, None, 1000)
    with pytest.raises(InvalidParameter):
        runtime.namespace.list(caller, SCHEMA, "big", 5, "!!not-a-token!!", 1000)


def test_lists_show_only_what_the_caller_may_see(runtime: Runtime) -> None:
    root = admin(runtime)
    alice, bob = user(runtime, "alice"), user(runtime, "bob")
    runtime.namespace.create(root, NewSecurable(CATALOG, "shared"))
    runtime.namespace.update(root, CATALOG, "shared", owner="alice")
    runtime.namespace.create(alice, NewSecurable(SCHEMA, "shared.alices"))
    runtime.namespace.create(root, NewSecurable(CATALOG, "bobs"))
    runtime.namespace.update(root, CATALOG, "bobs", owner="bob")

    def catalogs(caller: Caller) -> set[str]:
        return {r.name for r in runtime.namespace.list(caller, CATALOG, None, 0, None, 1000).items}

    # Everyone sees the system catalog (docs/privileges.md, visibility); nothing else unasked.
    assert catalogs(alice) == {"shared", "system"}
    assert catalogs(bob) == {"bobs", "system"}
    assert {"shared", "bobs", "system"} <= catalogs(root)
    # Bob sees nothing inside Alice's catalog.
    assert runtime.namespace.list(bob, SCHEMA, "shared", 0, None, 1000).items == []
    assert [
        r.name for r in runtime.namespace.list(alice, SCHEMA, "shared", 0, None, 1000).items
    ] == ["alices"]


def test_filtered_listing_paginates_over_hidden_rows(runtime: Runtime) -> None:
    root = admin(runtime)
    alice = user(runtime, "alice")
    for i in range(30):
        runtime.namespace.create(root, NewSecurable(CATALOG, f"c{i:02d}"))
        if i % 3 == 0:
            runtime.namespace.update(root, CATALOG, f"c{i:02d}", owner="alice")
    seen: list[str] = []
    token = None
    while True:
        page = runtime.namespace.list(alice, CATALOG, None, 4, token, 1000)
        seen.extend(r.name for r in page.items)
        token = page.next_page_token
        if not token:
            break
    # Hers, and the system catalog everyone sees.
    assert seen == [f"c{i:02d}" for i in range(0, 30, 3)] + ["system"]


def test_group_ownership_grants_its_members(runtime: Runtime) -> None:
    root = admin(runtime)
    team = runtime.identity.create_principal(PrincipalKind.GROUP, "team")
    outer = runtime.identity.create_principal(PrincipalKind.GROUP, "outer")
    carol_p = runtime.identity.create_principal(PrincipalKind.USER, "carol")
    runtime.identity.change_members(team.id, add=[carol_p.id])
    runtime.identity.change_members(outer.id, add=[team.id])
    carol = runtime.identity.authenticate(
        runtime.identity.issue_token(carol_p, "admin", None, None).value
    )
    assert carol.groups == frozenset({"team", "outer", "account users"})
    runtime.namespace.create(root, NewSecurable(CATALOG, "teamcat"))
    runtime.namespace.update(root, CATALOG, "teamcat", owner="outer")
    assert [r.name for r in runtime.namespace.list(carol, CATALOG, None, 0, None, 100).items] == [
        "system",
        "teamcat",
    ]


def test_feature_table_keys_are_validated(runtime: Runtime) -> None:
    ok = build_table_detail(
        table_type="MANAGED",
        data_source_format=None,
        columns=[
            ColumnRecord("customer_id", "bigint", "LONG", 0, nullable=False),
            ColumnRecord("ts", "timestamp", "TIMESTAMP", 1, nullable=False),
            ColumnRecord("spend", "double", "DOUBLE", 2),
        ],
        storage_location=None,
        primary_key_name="pk",
        primary_key_columns=["customer_id", "ts"],
        timeseries_columns=["ts"],
    )
    assert ok.is_feature_table and ok.timeseries_column == "ts"
    cases = [
        ({"primary_key_columns": ["nope"]}, "not a column"),
        ({"primary_key_columns": ["spend"]}, "NOT NULL"),
        (
            {"primary_key_columns": ["customer_id"], "timeseries_columns": ["ts"]},
            "one of the primary key",
        ),
        ({"timeseries_columns": ["ts"]}, "needs a primary key"),
        (
            {"primary_key_columns": ["customer_id"], "timeseries_columns": ["customer_id"]},
            "TIMESTAMP",
        ),
    ]
    for extra, message in cases:
        with pytest.raises(InvalidParameter, match=message):
            build_table_detail(
                table_type="MANAGED",
                data_source_format=None,
                columns=[
                    ColumnRecord("customer_id", "bigint", "LONG", 0, nullable=False),
                    ColumnRecord("ts", "timestamp", "TIMESTAMP", 1, nullable=False),
                    ColumnRecord("spend", "double", "DOUBLE", 2),
                ],
                storage_location=None,
                **extra,  # type: ignore[arg-type]
            )
    with pytest.raises(InvalidParameter, match="more than once"):
        build_table_detail(
            table_type="MANAGED",
            data_source_format=None,
            columns=columns("a", "A"),
            storage_location=None,
        )
    with pytest.raises(InvalidParameter, match="storage_location"):
        build_table_detail(
            table_type="EXTERNAL",
            data_source_format=None,
            columns=columns("a"),
            storage_location=None,
        )


def test_model_versions_are_numbered_and_finalized(runtime: Runtime) -> None:
    caller = admin(runtime)
    registry = runtime.registry
    assert isinstance(registry, ModelRegistry)
    runtime.namespace.create(caller, NewSecurable(CATALOG, "main"))
    runtime.namespace.create(caller, NewSecurable(SCHEMA, "main.ml"))
    model = registry.create_model(caller, "main.ml.churn", "a model")
    assert model.storage_location and model.storage_location.startswith("file://")
    numbers = [
        registry.create_version(caller, "main.ml.churn", "s3://x", None, None)[1].version
        for _ in range(3)
    ]
    assert numbers == [1, 2, 3]
    _, v = registry.finalize_version(caller, "main.ml.churn", 1)
    assert v.status == "FAILED_REGISTRATION" and "no artifacts" in (v.status_message or "")
    write_mlmodel(registry.get_version("main.ml.churn", 2)[1].storage_location)
    _, v = registry.finalize_version(caller, "main.ml.churn", 2)
    assert v.status == "READY" and v.signature and v.artifact_digest
    with pytest.raises(InvalidParameter, match="not PENDING_REGISTRATION"):
        registry.finalize_version(caller, "main.ml.churn", 2)
    registry.delete_version("main.ml.churn", 3)
    # A deleted number is never reused.
    assert registry.create_version(caller, "main.ml.churn", "s3://x", None, None)[1].version == 4
    with pytest.raises(NotEmpty):
        registry.delete_model("main.ml.churn", force=False)
    registry.delete_model("main.ml.churn", force=True)
    with pytest.raises(NotFound):
        registry.get_model("main.ml.churn")
    # Tables and models share the schema's namespace.
    registry.create_model(caller, "main.ml.shared", None)
    with pytest.raises(AlreadyExists):
        runtime.namespace.create(
            caller,
            NewSecurable(TABLE, "main.ml.shared"),
            table=build_table_detail(
                table_type="MANAGED",
                data_source_format=None,
                columns=columns("a"),
                storage_location=None,
            ),
        )


def test_a_listing_from_the_cache_alone_answers_as_the_store_does(runtime: Runtime) -> None:
    """``cached_list_tables`` (GET /tables answered on the event loop) against
    ``list_tables``, for the admin, an owner of some tables, a reader of some and a user
    who sees none, at every page size and from every page token; and None, not a guess,
    whenever a page it needs is not cached."""
    rt = runtime
    boss = admin(rt)
    rt.namespace.create(boss, NewSecurable(CATALOG, "lc"))
    rt.namespace.create(boss, NewSecurable(SCHEMA, "lc.s"))
    owner, reader, outsider = user(rt, "owner@x"), user(rt, "reader@x"), user(rt, "out@x")
    detail = build_table_detail(
        table_type="MANAGED", data_source_format=None, columns=columns("id"), storage_location=None
    )
    for i in range(7):
        rt.namespace.create(boss, NewSecurable(TABLE, f"lc.s.t{i}"), table=detail)
    for who in (owner, reader, outsider):
        rt.grants.update(boss, CATALOG, "lc", [PrivilegeChange(who.name, ["USE CATALOG"], [])])
        rt.grants.update(boss, SCHEMA, "lc.s", [PrivilegeChange(who.name, ["USE SCHEMA"], [])])
    for i in (1, 4):
        rt.namespace.update(boss, TABLE, f"lc.s.t{i}", owner=owner.name)
    for i in (0, 4, 6):
        rt.grants.update(boss, TABLE, f"lc.s.t{i}", [PrivilegeChange(reader.name, ["SELECT"], [])])

    def pages(listing, caller: Caller, size: int) -> list[tuple[list[str], str | None]]:
        found, token = [], None
        while True:
            page = listing(caller, "lc.s", size, token, 100)
            if page is None:
                return [*found, None]
            found.append(([t.securable.name for t in page.items], page.next_page_token))
            token = page.next_page_token
            if token is None:
                return found

    def kept(caller: Caller, size: int) -> list[tuple[list[str], str | None]]:
        """The cache-only listing once the store's has filled the cache. On PostgreSQL a
        change made here also comes back by NOTIFY, a moment later, and drops the pages
        again: the cache-only listing then says None until they are read anew."""
        deadline = time.monotonic() + 10
        while True:
            pages(rt.namespace.list_tables, caller, size)
            found = pages(rt.namespace.cached_list_tables, caller, size)
            if None not in found:
                return found
            assert time.monotonic() < deadline, "the listing's pages were never kept"
            time.sleep(0.05)

    for caller in (boss, owner, reader, outsider):
        for size in (1, 2, 3, 100):
            assert kept(caller, size) == pages(rt.namespace.list_tables, caller, size), (
                caller.name,
                size,
            )
    assert [t for page, _ in pages(rt.namespace.list_tables, reader, 100) for t in page] == [
        "t0",
        "t4",
        "t6",
    ]
    # A change drops what it could make stale: the cache-only listing says so, never a guess.
    kept(boss, 100)
    rt.namespace.create(boss, NewSecurable(TABLE, "lc.s.t7"), table=detail)
    assert pages(rt.namespace.cached_list_tables, boss, 100) == [None]
    assert kept(boss, 100)[0][0][-1] == "t7"
