"""The Databricks Python SDK (``databricks-sdk``) drives a real Steward.

``WorkspaceClient(host=server.url, token=...)`` with PAT auth, over every service that
maps to a Steward feature (docs/clients.md, "The Databricks SDK"): catalogs, schemas,
tables, registered models, model versions and aliases, grants, statement execution,
SCIM, tokens and token management, serving endpoints and their tags, the metastore, and
object permissions of serving endpoints. Every call goes through the SDK's
own request building and ``from_dict`` parsing, which drops what it does not know
silently (an unknown enum value becomes ``None`` or vanishes from a list), so the tests
check the parsed values, not only that nothing raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.common.types.fieldmask import FieldMask
from databricks.sdk.errors import (
    BadRequest,
    NotFound,
    PermissionDenied,
    ResourceAlreadyExists,
    Unauthenticated,
)
from databricks.sdk.service import catalog as uc
from databricks.sdk.service import iam, serving, settings
from databricks.sdk.service import sql as dbsql
from sklearn.linear_model import LinearRegression
from unitycatalog.client import ApiClient, Configuration, GrantsApi
from unitycatalog.client.models import Privilege as UcPrivilege
from unitycatalog.client.models import SecurableType as UcSecurableType

from registry import Client
from tests.support import ServerHandle, server_fixture, unique

server = server_fixture("dbsdk")

P = uc.Privilege


def workspace(server: ServerHandle, token: str | None = None) -> WorkspaceClient:
    return WorkspaceClient(host=server.url, token=token or server.admin_token)


@pytest.fixture
def w(server: ServerHandle) -> WorkspaceClient:
    return workspace(server)


@pytest.fixture
def schema(w: WorkspaceClient) -> Iterator[tuple[str, str]]:
    """A fresh catalog and schema, made through the SDK."""
    catalog = unique("dbcat")
    w.catalogs.create(catalog, comment="sdk")
    w.schemas.create("s", catalog)
    yield catalog, "s"


# -- start-up -----------------------------------------------------------------------------


def test_startup_probe_is_answered_without_a_token_and_reveals_nothing(
    server: ServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="databricks.sdk"):
        w = workspace(server)
    assert not [r for r in caplog.records if "host metadata" in r.getMessage()]
    anonymous = server.client()
    answer = anonymous.get("/.well-known/databricks-config")
    assert answer.status_code == 200 and answer.json() == {}
    assert anonymous.post("/.well-known/databricks-config").status_code == 405
    assert w.current_user.me().user_name == "admin"
    events = server.admin.get("/api/2.1/steward/audit", params={"max_results": 1000})
    assert events.status_code == 200, events.text
    assert events.json()["events"]
    assert not [e for e in events.json()["events"] if "well-known" in str(e)]


# -- catalogs, schemas, tables --------------------------------------------------------------


def test_catalogs_and_schemas_round_trip(w: WorkspaceClient) -> None:
    name = unique("dbcat")
    created = w.catalogs.create(name, comment="first", properties={"team": "ml"})
    assert created.name == name and created.comment == "first"
    assert created.properties == {"team": "ml"} and created.owner == "admin"
    assert w.catalogs.get(name).comment == "first"
    assert name in [c.name for c in w.catalogs.list()]
    assert w.catalogs.update(name, comment="second").comment == "second"

    made = w.schemas.create("s", name, comment="sch")
    assert made.full_name == f"{name}.s" and made.catalog_name == name
    assert w.schemas.get(f"{name}.s").comment == "sch"
    assert [s.name for s in w.schemas.list(name) if s.name == "s"] == ["s"]
    assert w.schemas.update(f"{name}.s", comment="x").comment == "x"
    w.schemas.delete(f"{name}.s")
    with pytest.raises(NotFound):
        w.schemas.get(f"{name}.s")
    with pytest.raises(ResourceAlreadyExists):
        w.catalogs.create(name)
    w.catalogs.delete(name, force=True)
    with pytest.raises(NotFound):
        w.catalogs.get(name)


def test_tables_round_trip(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str]
) -> None:
    catalog, sch = schema
    columns = [
        uc.ColumnInfo(name="id", type_name=uc.ColumnTypeName.LONG, type_text="bigint", position=0),
        uc.ColumnInfo(
            name="amount", type_name=uc.ColumnTypeName.DOUBLE, type_text="double", position=1
        ),
    ]
    created = w.tables.create(
        "orders",
        catalog,
        sch,
        uc.TableType.MANAGED,
        uc.DataSourceFormat.DELTA,
        None,  # type: ignore[arg-type]
        columns=columns,
    )
    full = f"{catalog}.{sch}.orders"
    assert created.full_name == full and created.table_type is uc.TableType.MANAGED
    got = w.tables.get(full)
    assert [(c.name, c.type_name) for c in got.columns or []] == [
        ("id", uc.ColumnTypeName.LONG),
        ("amount", uc.ColumnTypeName.DOUBLE),
    ]
    assert [t.name for t in w.tables.list(catalog, sch)] == ["orders"]
    assert w.tables.exists(full).table_exists is True
    assert w.tables.exists(f"{catalog}.{sch}.nope").table_exists is False
    # A table the caller may not see does not exist for it, exactly as a missing one.
    _, bob_token = server.create_user()
    assert workspace(server, bob_token).tables.exists(full).table_exists is False
    w.tables.delete(full)
    with pytest.raises(NotFound):
        w.tables.get(full)


def make_table(w: WorkspaceClient, catalog: str, schema: str, name: str) -> str:
    w.tables.create(
        name,
        catalog,
        schema,
        uc.TableType.MANAGED,
        uc.DataSourceFormat.DELTA,
        None,  # type: ignore[arg-type]
        columns=[
            uc.ColumnInfo(
                name="id", type_name=uc.ColumnTypeName.LONG, type_text="bigint", position=0
            )
        ],
    )
    return f"{catalog}.{schema}.{name}"


def test_tables_update_changes_the_owner_and_the_comment(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str]
) -> None:
    catalog, sch = schema
    full = make_table(w, catalog, sch, "owned")
    alice, alice_token = server.create_user()
    w.tables.update(full, owner=alice)
    got = w.tables.get(full)
    assert got.owner == alice and got.updated_by == "admin"
    # The SDK sends only the owner; the comment is SQL's COMMENT ON TABLE in this shape.
    w.api_client.do("PATCH", f"/api/2.1/unity-catalog/tables/{full}", body={"comment": "c"})
    assert w.tables.get(full).comment == "c" and w.tables.get(full).owner == alice
    with pytest.raises(NotFound, match="not a known principal"):
        w.tables.update(full, owner="nobody-at-all@example.com")
    with pytest.raises(NotFound, match="does not exist"):
        w.tables.update(f"{catalog}.{sch}.gone", owner=alice)

    # A user who may not see the table is answered as for a missing one; one who sees it
    # (SELECT, with the usage gates) but does not own or manage it is refused.
    _, bob_token = server.create_user()
    as_bob = workspace(server, bob_token)
    with pytest.raises(NotFound) as hidden:
        as_bob.tables.update(full, owner="admin")
    with pytest.raises(NotFound) as missing:
        as_bob.tables.update(f"{catalog}.{sch}.gone", owner="admin")
    assert str(hidden.value) == str(missing.value)
    carol, carol_token = server.create_user()
    w.grants.update(
        "catalog", catalog, changes=[uc.PermissionsChange(principal=carol, add=[P.USE_CATALOG])]
    )
    w.grants.update(
        "schema",
        f"{catalog}.{sch}",
        changes=[uc.PermissionsChange(principal=carol, add=[P.USE_SCHEMA])],
    )
    w.grants.update("table", full, changes=[uc.PermissionsChange(principal=carol, add=[P.SELECT])])
    with pytest.raises(PermissionDenied, match="MANAGE"):
        workspace(server, carol_token).tables.update(full, owner=carol)
    # The new owner may hand it back, once it passes the usage gates (as in Unity Catalog).
    as_alice = workspace(server, alice_token)
    with pytest.raises(PermissionDenied, match="USE CATALOG"):
        as_alice.tables.update(full, owner="admin")
    w.grants.update(
        "catalog", catalog, changes=[uc.PermissionsChange(principal=alice, add=[P.USE_CATALOG])]
    )
    w.grants.update(
        "schema",
        f"{catalog}.{sch}",
        changes=[uc.PermissionsChange(principal=alice, add=[P.USE_SCHEMA])],
    )
    as_alice.tables.update(full, owner="admin")
    assert w.tables.get(full).owner == "admin"


def test_table_summaries_filter_page_and_show_what_the_caller_sees(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str]
) -> None:
    catalog, sch = schema
    w.schemas.create("other", catalog)
    names = [
        make_table(w, catalog, sch, "orders"),
        make_table(w, catalog, sch, "order_items"),
        make_table(w, catalog, sch, "customers"),
        make_table(w, catalog, "other", "orders_archive"),
    ]
    found = list(w.tables.list_summaries(catalog))
    assert sorted(t.full_name or "" for t in found) == sorted(names)
    assert {t.table_type for t in found} == {uc.TableType.MANAGED}
    ordered = [t.full_name for t in w.tables.list_summaries(catalog, max_results=1)]
    assert ordered == sorted(names, key=lambda n: tuple(n.split(".")[1:]))
    page = w.api_client.do(
        "GET",
        "/api/2.1/unity-catalog/table-summaries",
        query={"catalog_name": catalog, "max_results": 2},
    )
    assert isinstance(page, dict) and len(page["tables"]) == 2 and page["next_page_token"]
    # SQL LIKE patterns, % and _, on schema and table names (matched case-insensitively).
    like = w.tables.list_summaries(catalog, schema_name_pattern=sch, table_name_pattern="ORDER%")
    assert sorted(t.full_name or "" for t in like) == [f"{catalog}.{sch}.order_items", names[0]]
    one = w.tables.list_summaries(catalog, schema_name_pattern="o_her", table_name_pattern="%arch%")
    assert [t.full_name for t in one] == [names[3]]
    assert list(w.tables.list_summaries(catalog, table_name_pattern="nothing%")) == []
    with pytest.raises(BadRequest):
        list(w.tables.list_summaries(catalog, max_results=-1))
    with pytest.raises(BadRequest, match="page token"):
        list(w.tables.list_summaries(catalog, page_token="garbage"))

    # A catalog the caller may not see lists as a missing one; one it sees lists only the
    # tables it sees (SELECT on one of them: that one, exactly as its GET answers).
    _, bob_token = server.create_user()
    as_bob = workspace(server, bob_token)
    with pytest.raises(NotFound) as hidden:
        list(as_bob.tables.list_summaries(catalog))
    with pytest.raises(NotFound) as missing:
        list(as_bob.tables.list_summaries(f"{catalog}_gone"))
    assert str(hidden.value).replace("_gone", "") == str(missing.value).replace("_gone", "")
    bob = as_bob.current_user.me().user_name
    assert bob
    w.grants.update(
        "catalog", catalog, changes=[uc.PermissionsChange(principal=bob, add=[P.USE_CATALOG])]
    )
    assert list(as_bob.tables.list_summaries(catalog)) == []
    w.grants.update(
        "table", names[2], changes=[uc.PermissionsChange(principal=bob, add=[P.SELECT])]
    )
    assert [t.full_name for t in as_bob.tables.list_summaries(catalog)] == [names[2]]


# -- the metastore ------------------------------------------------------------------------


def test_metastore_current_assignment_and_summary(server: ServerHandle, w: WorkspaceClient) -> None:
    summary = w.metastores.summary()
    assert summary.metastore_id and summary.name and summary.owner == "admin"
    current = w.metastores.current()
    assert current.metastore_id == summary.metastore_id
    # Steward is the one workspace: its id is the metastore id's number, the same every time.
    assert current.workspace_id == uuid.UUID(summary.metastore_id).int >> 65
    assert w.metastores.current().workspace_id == current.workspace_id
    _, bob_token = server.create_user()
    assert workspace(server, bob_token).metastores.current() == current


# -- models, versions, aliases --------------------------------------------------------------


def linear() -> LinearRegression:
    rs = np.random.RandomState(0)
    X = pd.DataFrame({"a": rs.rand(20), "b": rs.rand(20)})
    return LinearRegression().fit(X, 1.0 + 2.0 * X.a - X.b)


def register(server: ServerHandle, model: str, tmp_path: Path, token: str | None = None) -> int:
    """A version made the way a data scientist makes one (the SDK has no version create)."""
    with Client(server.url, token or server.admin_token, cache_dir=tmp_path / "c") as client:
        X = pd.DataFrame({"a": [0.5, 0.25], "b": [0.1, 0.2]})
        return int(client.register_model(linear(), model, input_example=X).version)


def test_registered_models_versions_and_aliases_round_trip(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str], tmp_path: Path
) -> None:
    catalog, sch = schema
    made = w.registered_models.create(catalog_name=catalog, schema_name=sch, name="m", comment="c")
    full = f"{catalog}.{sch}.m"
    assert made.full_name == full and made.comment == "c"
    assert [
        m.full_name for m in w.registered_models.list(catalog_name=catalog, schema_name=sch)
    ] == [full]
    assert w.registered_models.update(full, comment="d").comment == "d"

    version = register(server, full, tmp_path)
    info = w.model_versions.get(full, version)
    assert info.status is uc.ModelVersionInfoStatus.READY and info.version == version
    assert [v.version for v in w.model_versions.list(full)] == [version]
    assert w.model_versions.update(full, version, comment="v").comment == "v"

    alias = w.registered_models.set_alias(full, "champion", version)
    assert alias.alias_name == "champion" and alias.version_num == version
    by_alias = w.model_versions.get_by_alias(full, "champion")
    assert by_alias.version == version
    got = w.registered_models.get(full, include_aliases=True)
    assert [(a.alias_name, a.version_num) for a in got.aliases or []] == [("champion", version)]
    w.registered_models.delete_alias(full, "champion")
    with pytest.raises(NotFound):
        w.model_versions.get_by_alias(full, "champion")
    w.model_versions.delete(full, version)
    w.registered_models.delete(full)
    with pytest.raises(NotFound):
        w.registered_models.get(full)


# -- grants ---------------------------------------------------------------------------------


def privileges(answer: Any, principal: str) -> set[uc.Privilege]:
    return {
        p
        for a in answer.privilege_assignments or []
        if a.principal == principal
        for p in a.privileges or []
    }


def test_grants_round_trip_in_the_sdk_spelling(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str]
) -> None:
    catalog, sch = schema
    alice, alice_token = server.create_user()
    updated = w.grants.update(
        "catalog",
        catalog,
        changes=[uc.PermissionsChange(principal=alice, add=[P.USE_CATALOG, P.BROWSE])],
    )
    assert privileges(updated, alice) == {P.USE_CATALOG, P.BROWSE}
    w.grants.update(
        uc.SecurableType.SCHEMA.value,
        f"{catalog}.{sch}",
        changes=[
            uc.PermissionsChange(principal=alice, add=[P.USE_SCHEMA, P.SELECT, P.CREATE_MODEL])
        ],
    )
    assert privileges(w.grants.get("catalog", catalog), alice) == {P.USE_CATALOG, P.BROWSE}
    # What an old SDK sent for its enum member itself.
    legacy = w.grants.get("SecurableType.CATALOG", catalog)
    assert privileges(legacy, alice) == {P.USE_CATALOG, P.BROWSE}
    on_schema = w.grants.get("SCHEMA", f"{catalog}.{sch}", principal=alice)
    assert privileges(on_schema, alice) == {P.USE_SCHEMA, P.SELECT, P.CREATE_MODEL}

    effective = w.grants.get_effective("schema", f"{catalog}.{sch}", principal=alice)
    found = {
        (p.privilege, p.inherited_from_type, p.inherited_from_name)
        for a in effective.privilege_assignments or []
        for p in a.privileges or []
    }
    assert (P.USE_CATALOG, uc.SecurableType.CATALOG, catalog) in found
    assert (P.USE_SCHEMA, None, None) in found

    # Alice, no owner, sees her own grants and may not change any.
    as_alice = workspace(server, alice_token)
    assert privileges(as_alice.grants.get("catalog", catalog), alice) == {
        P.USE_CATALOG,
        P.BROWSE,
    }
    with pytest.raises(PermissionDenied):
        as_alice.grants.update(
            "catalog", catalog, changes=[uc.PermissionsChange(principal=alice, add=[P.MANAGE])]
        )
    # What she was granted works: she makes a model in the schema.
    made = as_alice.registered_models.create(catalog_name=catalog, schema_name=sch, name="hers")
    assert made.owner == alice

    # A model's grants under the SDK's securable type MODEL.
    w.grants.update(
        uc.SecurableType.MODEL.value,
        f"{catalog}.{sch}.hers",
        changes=[uc.PermissionsChange(principal=alice, add=[P.EXECUTE])],
    )
    assert P.EXECUTE in privileges(w.grants.get("MODEL", f"{catalog}.{sch}.hers"), alice)

    revoked = w.grants.update(
        "schema",
        f"{catalog}.{sch}",
        changes=[uc.PermissionsChange(principal=alice, remove=[P.SELECT])],
    )
    assert privileges(revoked, alice) == {P.USE_SCHEMA, P.CREATE_MODEL}


def test_the_uc_sdk_still_gets_spaced_privileges(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str]
) -> None:
    catalog, _ = schema
    alice, _ = server.create_user()
    w.grants.update(
        "catalog", catalog, changes=[uc.PermissionsChange(principal=alice, add=[P.USE_CATALOG])]
    )

    async def scenario() -> list[Any]:
        config = Configuration(host=f"{server.url}/api/2.1/unity-catalog")
        async with ApiClient(
            config, header_name="Authorization", header_value=f"Bearer {server.admin_token}"
        ) as client:
            found = await GrantsApi(client).get(UcSecurableType.CATALOG, catalog)
            return [a for a in found.privilege_assignments or [] if a.principal == alice]

    (assignment,) = asyncio.run(scenario())
    assert assignment.privileges == [UcPrivilege.USE_CATALOG]
    assert UcPrivilege.USE_CATALOG.value == "USE CATALOG"
    raw = server.admin.get(f"/api/2.1/unity-catalog/permissions/catalog/{catalog}")
    assert {"principal": alice, "privileges": ["USE CATALOG"]} in raw.json()[
        "privilege_assignments"
    ]


def test_privileges_the_sdk_cannot_name_are_sent_with_underscores(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str]
) -> None:
    """QUERY and CREATE MODEL VERSION are not in the SDK's enum: its parser drops them, but
    the wire says them in the SDK's spelling, and they can be granted through SQL."""
    catalog, sch = schema
    alice, _ = server.create_user()
    w.statement_execution.execute_statement(
        f"GRANT CREATE MODEL VERSION, USE_SCHEMA ON SCHEMA {catalog}.{sch} TO `{alice}`", "wh"
    )
    got = w.grants.get("schema", f"{catalog}.{sch}")
    assert privileges(got, alice) == {P.USE_SCHEMA}
    raw = w.api_client.do("GET", f"/api/2.1/unity-catalog/permissions/schema/{catalog}.{sch}")
    assert isinstance(raw, dict)
    assert {"principal": alice, "privileges": ["CREATE_MODEL_VERSION", "USE_SCHEMA"]} in raw[
        "privilege_assignments"
    ]


# -- statement execution --------------------------------------------------------------------


def test_statements_execute_get_and_cancel(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str]
) -> None:
    catalog, sch = schema
    w.statement_execution.execute_statement(
        "CREATE TABLE t (id BIGINT, name STRING)", "wh", catalog=catalog, schema=sch
    )
    w.statement_execution.execute_statement(
        "INSERT INTO t VALUES (1, 'a'), (2, 'b')", "wh", catalog=catalog, schema=sch
    )
    ran = w.statement_execution.execute_statement(
        "SELECT id, name FROM t WHERE id >= :low ORDER BY id",
        "wh",
        catalog=catalog,
        schema=sch,
        parameters=[dbsql.StatementParameterListItem(name="low", value="1", type="BIGINT")],
        wait_timeout="30s",
        disposition=dbsql.Disposition.INLINE,
        format=dbsql.Format.JSON_ARRAY,
    )
    assert ran.status and ran.status.state is dbsql.StatementState.SUCCEEDED
    assert ran.manifest and ran.manifest.format is dbsql.Format.JSON_ARRAY
    assert ran.manifest.total_row_count == 2
    columns = ran.manifest.schema.columns if ran.manifest.schema else None
    assert [(c.name, c.type_name) for c in columns or []] == [
        ("id", dbsql.ColumnInfoTypeName.LONG),
        ("name", dbsql.ColumnInfoTypeName.STRING),
    ]
    assert ran.result and ran.result.data_array == [["1", "a"], ["2", "b"]]
    assert ran.statement_id

    again = w.statement_execution.get_statement(ran.statement_id)
    assert again.statement_id == ran.statement_id
    assert again.status and again.status.state is dbsql.StatementState.SUCCEEDED
    assert again.result and again.result.data_array == ran.result.data_array
    cut = w.statement_execution.execute_statement(
        "SELECT id FROM t ORDER BY id", "wh", catalog=catalog, schema=sch, row_limit=1
    )
    assert cut.result and cut.result.data_array == [["1"]]
    assert cut.manifest and cut.manifest.truncated is True
    chunk = w.statement_execution.get_statement_result_chunk_n(ran.statement_id, 0)
    assert chunk.data_array == ran.result.data_array
    w.statement_execution.cancel_execution(ran.statement_id)  # finished: nothing to cancel

    failed = w.statement_execution.execute_statement("SELEC 1", "wh")
    assert failed.status and failed.status.state is dbsql.StatementState.FAILED
    assert (
        failed.status.error and failed.status.error.error_code is dbsql.ServiceErrorCode.BAD_REQUEST
    )
    assert "PARSE_SYNTAX_ERROR" in (failed.status.error.message or "")
    missing = w.statement_execution.execute_statement(f"SELECT * FROM {catalog}.{sch}.nope", "wh")
    assert missing.status and missing.status.error
    assert missing.status.error.error_code is dbsql.ServiceErrorCode.NOT_FOUND

    # Only the caller who ran a statement may read it back.
    _, bob_token = server.create_user()
    with pytest.raises(NotFound):
        workspace(server, bob_token).statement_execution.get_statement(ran.statement_id)
    with pytest.raises(NotFound):
        w.statement_execution.get_statement("00000000-0000-0000-0000-000000000000")
    unsupported = server.admin.post(
        "/api/2.0/sql/statements",
        json={"statement": "SELECT 1", "disposition": "EXTERNAL_LINKS"},
    )
    assert unsupported.status_code == 400, unsupported.text


# -- SCIM -----------------------------------------------------------------------------------


def test_scim_users_groups_and_me(server: ServerHandle, w: WorkspaceClient) -> None:
    me = w.current_user.me()
    assert me.user_name == "admin" and me.id
    name = f"{unique('dbu')}@example.com"
    user = w.users.create(user_name=name, display_name="D")
    assert user.id and user.user_name == name and user.display_name == "D"
    assert w.users.get(user.id).user_name == name
    assert [u.user_name for u in w.users.list(filter=f'userName eq "{name}"')] == [name]
    assert name in [u.user_name for u in w.users.list()]

    group = w.groups.create(display_name=unique("dbg"), members=[iam.ComplexValue(value=user.id)])
    assert group.id and [m.value for m in group.members or []] == [user.id]
    other = w.users.create(user_name=f"{unique('dbu')}@example.com")
    assert other.id
    w.groups.patch(
        group.id,
        operations=[
            iam.Patch(op=iam.PatchOp.ADD, value={"members": [{"value": other.id}]}),
        ],
        schemas=[iam.PatchSchema.URN_IETF_PARAMS_SCIM_API_MESSAGES_2_0_PATCH_OP],
    )
    assert {m.value for m in w.groups.get(group.id).members or []} == {user.id, other.id}
    assert group.display_name in [g.display_name for g in w.groups.list()]
    w.groups.delete(group.id)
    w.users.delete(other.id)
    with pytest.raises(NotFound):
        w.users.get(other.id)


def scim_patch(*operations: iam.Patch) -> dict[str, Any]:
    return {
        "operations": list(operations),
        "schemas": [iam.PatchSchema.URN_IETF_PARAMS_SCIM_API_MESSAGES_2_0_PATCH_OP],
    }


def test_scim_users_update_and_patch(server: ServerHandle, w: WorkspaceClient) -> None:
    name, token = server.create_user()
    user_id = next(iter(w.users.list(filter=f'userName eq "{name}"'))).id
    assert user_id
    w.users.update(user_id, user_name=name.upper(), display_name="Renamed")
    got = w.users.get(user_id)
    assert got.user_name == name and got.display_name == "Renamed" and got.active is True
    # A replace (PUT) without displayName clears it: the userName is shown instead.
    w.users.update(user_id)
    assert w.users.get(user_id).display_name == name
    with pytest.raises(BadRequest, match="userName cannot be changed"):
        w.users.update(user_id, user_name=f"other-{name}")
    with pytest.raises(BadRequest, match="entitlements"):
        w.users.update(user_id, entitlements=[iam.ComplexValue(value="allow-cluster-create")])
    # A read-modify-write round trip sends back what a GET answered.
    read = w.users.get(user_id)
    w.users.update(
        user_id, user_name=read.user_name, display_name="Back", emails=read.emails, roles=[]
    )
    assert w.users.get(user_id).display_name == "Back"

    # PATCH: deactivation in Databricks' own shape stops the user's tokens at once.
    me = workspace(server, token)
    assert me.current_user.me().user_name == name
    w.users.patch(
        user_id,
        **scim_patch(iam.Patch(op=iam.PatchOp.REPLACE, path="active", value=[{"value": "false"}])),
    )
    assert w.users.get(user_id).active is False
    with pytest.raises(Unauthenticated, match="deactivated"):
        me.current_user.me()
    w.users.patch(
        user_id,
        **scim_patch(
            iam.Patch(op=iam.PatchOp.REPLACE, value={"active": True, "displayName": "Again"})
        ),
    )
    assert me.current_user.me().display_name == "Again"
    # ``replace`` of a user's groups makes them exactly those given.
    first = w.groups.create(display_name=unique("dbg"))
    second = w.groups.create(display_name=unique("dbg"))
    assert first.id and second.id
    w.users.patch(
        user_id,
        **scim_patch(
            iam.Patch(op=iam.PatchOp.ADD, path="groups", value=[{"value": first.id}]),
            iam.Patch(op=iam.PatchOp.REPLACE, path="groups", value=[{"value": second.id}]),
        ),
    )
    assert [g.value for g in w.users.get(user_id).groups or []] == [second.id]
    for refused in ("roles", "userName", "members"):
        with pytest.raises(BadRequest, match=refused):
            w.users.patch(
                user_id,
                **scim_patch(iam.Patch(op=iam.PatchOp.REPLACE, path=refused, value="x")),
            )
    with pytest.raises(BadRequest, match="bootstrap admin"):
        w.users.patch(
            w.current_user.me().id or "",
            **scim_patch(iam.Patch(op=iam.PatchOp.REPLACE, value={"active": False})),
        )
    with pytest.raises(NotFound):
        w.users.update(str(uuid.uuid4()), display_name="x")

    # Only metastore admins change principals.
    with pytest.raises(PermissionDenied):
        me.users.update(user_id, display_name="mine")
    with pytest.raises(PermissionDenied):
        me.users.patch(
            user_id, **scim_patch(iam.Patch(op=iam.PatchOp.REPLACE, value={"displayName": "x"}))
        )


def test_scim_groups_update_and_patch_replace_members(
    server: ServerHandle, w: WorkspaceClient
) -> None:
    ids = []
    for _ in range(3):
        made = w.users.create(user_name=f"{unique('dbu')}@example.com")
        assert made.id
        ids.append(made.id)
    a, b, c = ids
    display = unique("DbGroup")
    group = w.groups.create(display_name=display, members=[iam.ComplexValue(value=a)])
    assert group.id

    def members() -> set[str]:
        return {m.value or "" for m in w.groups.get(group.id or "").members or []}

    # PATCH replace on members replaces the set; it used to add to it.
    w.groups.patch(
        group.id,
        **scim_patch(
            iam.Patch(op=iam.PatchOp.REPLACE, path="members", value=[{"value": b}, {"value": c}])
        ),
    )
    assert members() == {b, c}
    w.groups.patch(
        group.id,
        **scim_patch(
            iam.Patch(op=iam.PatchOp.REMOVE, path=f'members[value eq "{b}"]'),
            iam.Patch(op=iam.PatchOp.ADD, value={"members": [{"value": a}]}),
        ),
    )
    assert members() == {a, c}
    # The SDK leaves an empty value out: a replace with none empties the group.
    w.groups.patch(group.id, **scim_patch(iam.Patch(op=iam.PatchOp.REPLACE, path="members")))
    assert members() == set()
    w.groups.patch(
        group.id, **scim_patch(iam.Patch(op=iam.PatchOp.ADD, path="members", value=[{"value": a}]))
    )
    w.groups.patch(group.id, **scim_patch(iam.Patch(op=iam.PatchOp.REMOVE, path="members")))
    assert members() == set()

    # PUT replaces the group: its members become exactly those given (none if left out).
    w.groups.update(group.id, display_name=display.upper(), members=[iam.ComplexValue(value=c)])
    got = w.groups.get(group.id)
    assert got.display_name == display.upper() and members() == {c}
    w.groups.update(group.id)
    assert members() == set() and w.groups.get(group.id).display_name == display.upper()
    with pytest.raises(BadRequest, match="cannot be renamed"):
        w.groups.update(group.id, display_name=unique("other"))
    with pytest.raises(BadRequest, match="cannot be renamed"):
        w.groups.patch(
            group.id,
            **scim_patch(iam.Patch(op=iam.PatchOp.REPLACE, path="displayName", value="else")),
        )
    with pytest.raises(NotFound):
        w.groups.update(group.id, members=[iam.ComplexValue(value=str(uuid.uuid4()))])
    assert members() == set()  # all or nothing

    # Membership changes reach grants at once: a member of the group holds its grants.
    name, token = server.create_user()
    member = next(iter(w.users.list(filter=f'userName eq "{name}"'))).id
    catalog = unique("dbcat")
    w.catalogs.create(catalog)
    w.grants.update(
        "catalog",
        catalog,
        changes=[uc.PermissionsChange(principal=display.lower(), add=[P.BROWSE])],
    )
    as_member = workspace(server, token)
    with pytest.raises(NotFound):
        as_member.catalogs.get(catalog)
    w.groups.update(group.id, members=[iam.ComplexValue(value=member)])
    assert as_member.catalogs.get(catalog).name == catalog
    with pytest.raises(PermissionDenied):
        as_member.groups.update(group.id, members=[])
    with pytest.raises(PermissionDenied):
        as_member.groups.patch(
            group.id, **scim_patch(iam.Patch(op=iam.PatchOp.REMOVE, path="members"))
        )
    assert members() == {member}


# -- tokens ---------------------------------------------------------------------------------


def test_tokens_and_token_management(server: ServerHandle, w: WorkspaceClient) -> None:
    created = w.tokens.create(comment="sdk", lifetime_seconds=3600)
    assert created.token_value and created.token_info and created.token_info.token_id
    token_id = created.token_info.token_id
    assert created.token_info.expiry_time and created.token_info.expiry_time > time.time() * 1000
    assert token_id in [t.token_id for t in w.tokens.list()]
    assert workspace(server, created.token_value).current_user.me().user_name == "admin"

    alice, _ = server.create_user()
    alice_id = next(iter(w.users.list(filter=f'userName eq "{alice}"'))).id
    assert alice_id
    everyone = list(w.token_management.list())
    mine = next(t for t in everyone if t.token_id == token_id)
    assert isinstance(mine.owner_id, int) and mine.created_by_username == "admin"
    # The owner's SCIM id as a number (docs/clients.md): the top 63 bits of its UUID.
    admin_id = w.current_user.me().id
    assert admin_id and mine.owner_id == uuid.UUID(admin_id).int >> 65
    hers = list(w.token_management.list(created_by_username=alice))
    assert hers == []  # alice's token was made by the admin on her behalf
    owned = [t for t in everyone if t.owner_id == mine.owner_id]
    assert {t.token_id for t in owned} >= {token_id}
    by_id = list(w.token_management.list(created_by_id=mine.owner_id))
    assert token_id in [t.token_id for t in by_id]
    got = w.token_management.get(token_id)
    assert got.token_info and got.token_info.token_id == token_id
    assert got.token_info.owner_id == mine.owner_id

    w.tokens.delete(token_id)
    assert token_id not in [t.token_id for t in w.tokens.list()]
    with pytest.raises(NotFound):
        w.token_management.get(token_id)


def test_token_comments_are_updated_by_their_owner_and_by_admins(
    server: ServerHandle, w: WorkspaceClient
) -> None:
    """SDK 0.167 has two token updates, ``tokens.update`` (the caller's own token) and
    ``token_management.update_token_management`` (any token, for admins); a comment is the
    one thing about a token that may change."""
    created = w.tokens.create(comment="before", lifetime_seconds=3600)
    assert created.token_info and created.token_info.token_id
    token_id = created.token_info.token_id
    w.tokens.update(token_id, settings.PublicTokenInfo(comment="after"), FieldMask(["comment"]))
    assert [t.comment for t in w.tokens.list() if t.token_id == token_id] == ["after"]
    info = w.token_management.update_token_management(
        token_id, settings.TokenInfo(comment="by the admin"), FieldMask(["comment"])
    )
    assert info.token_id == token_id and info.comment == "by the admin"
    assert isinstance(info.owner_id, int)
    got = w.token_management.get(token_id).token_info
    assert got and got.comment == "by the admin"
    # A round trip of what GET answered, with the full-replacement mask.
    assert got.token_id
    again = w.token_management.update_token_management(
        token_id, settings.TokenInfo(**{**got.__dict__, "comment": "whole"}), FieldMask(["*"])
    )
    assert again.comment == "whole"
    with pytest.raises(BadRequest, match="no scopes"):
        w.tokens.update(token_id, settings.PublicTokenInfo(scopes=["sql"]), FieldMask(["scopes"]))
    with pytest.raises(BadRequest, match="expiry_time"):
        w.tokens.update(
            token_id, settings.PublicTokenInfo(expiry_time=1), FieldMask(["expiry_time"])
        )
    with pytest.raises(NotFound):
        w.tokens.update("gone", settings.PublicTokenInfo(comment="x"), FieldMask(["comment"]))

    # Another user's token is missing to tokens.update; token management is for admins.
    _, bob_token = server.create_user()
    as_bob = workspace(server, bob_token)
    with pytest.raises(NotFound) as hidden:
        as_bob.tokens.update(
            token_id, settings.PublicTokenInfo(comment="x"), FieldMask(["comment"])
        )
    assert token_id in str(hidden.value)
    with pytest.raises(PermissionDenied):
        as_bob.token_management.update_token_management(
            token_id, settings.TokenInfo(comment="x"), FieldMask(["comment"])
        )
    assert w.token_management.get(token_id).token_info.comment == "whole"  # type: ignore[union-attr]
    w.tokens.delete(token_id)


# -- serving endpoints ----------------------------------------------------------------------


def test_serving_endpoints_round_trip(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str], tmp_path: Path
) -> None:
    catalog, sch = schema
    model = f"{catalog}.{sch}.reg"
    version = register(server, model, tmp_path)
    name = unique("dbep")
    entity = serving.ServedEntityInput(
        entity_name=model,
        entity_version=str(version),
        workload_size="Small",
        scale_to_zero_enabled=True,
    )
    waited = w.serving_endpoints.create_and_wait(
        name,
        config=serving.EndpointCoreConfigInput(name=name, served_entities=[entity]),
        tags=[serving.EndpointTag(key="team", value="ml")],
    )
    assert waited.name == name and waited.state
    assert waited.state.ready is serving.EndpointStateReady.READY
    got = w.serving_endpoints.get(name)
    entities = got.config.served_entities if got.config else None
    assert [(e.entity_name, e.entity_version) for e in entities or []] == [(model, str(version))]
    assert name in [e.name for e in w.serving_endpoints.list()]

    answer = w.serving_endpoints.query(
        name, dataframe_records=[{"a": 1.0, "b": 2.0}, {"a": 0.5, "b": 0.0}]
    )
    assert answer.predictions is not None and len(answer.predictions) == 2
    assert abs(answer.predictions[0] - 1.0) < 1e-6 and abs(answer.predictions[1] - 2.0) < 1e-6
    assert answer.served_model_name
    split = w.serving_endpoints.query(
        name, dataframe_split=serving.DataframeSplitInput(columns=["a", "b"], data=[[1.0, 2.0]])
    )
    assert split.predictions and abs(split.predictions[0] - 1.0) < 1e-6

    mismatched = server.admin.post(
        "/api/2.0/serving-endpoints",
        json={
            "name": unique("dbep"),
            "config": {
                "name": "other",
                "served_entities": [{"entity_name": model, "entity_version": "1"}],
            },
        },
    )
    assert mismatched.status_code == 400, mismatched.text

    # A user without QUERY is refused.
    _, bob_token = server.create_user()
    with pytest.raises((PermissionDenied, NotFound)):
        workspace(server, bob_token).serving_endpoints.query(
            name, dataframe_records=[{"a": 1.0, "b": 0.0}]
        )
    w.serving_endpoints.delete(name)
    with pytest.raises(NotFound):
        w.serving_endpoints.get(name)


def test_serving_list_returns_every_endpoint_in_one_answer(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str], tmp_path: Path
) -> None:
    """The SDK reads one page; with no ``max_results`` every endpoint comes at once."""
    catalog, sch = schema
    model = f"{catalog}.{sch}.many"
    version = register(server, model, tmp_path)
    names = [unique("dbmany") for _ in range(105)]
    for name in names:
        created = server.admin.post(
            "/api/2.0/serving-endpoints",
            json={
                "name": name,
                "config": {
                    "served_entities": [{"entity_name": model, "entity_version": str(version)}]
                },
            },
        )
        assert created.status_code == 200, created.text
    listed = {e.name for e in w.serving_endpoints.list()}
    assert set(names) <= listed
    paged = server.admin.get("/api/2.0/serving-endpoints", params={"max_results": 10})
    assert len(paged.json()["endpoints"]) == 10 and paged.json()["next_page_token"]


def endpoint_for(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str], tmp_path: Path
) -> serving.ServingEndpointDetailed:
    catalog, sch = schema
    model = f"{catalog}.{sch}.{unique('m')}"
    version = register(server, model, tmp_path)
    name = unique("dbep")
    w.serving_endpoints.create(
        name,
        config=serving.EndpointCoreConfigInput(
            name=name,
            served_entities=[
                serving.ServedEntityInput(entity_name=model, entity_version=str(version))
            ],
        ),
        tags=[serving.EndpointTag(key="team", value="ml"), serving.EndpointTag(key="pii")],
    )
    return w.serving_endpoints.get(name)


def tag_pairs(tags: list[serving.EndpointTag] | None) -> list[tuple[str | None, str | None]]:
    return [(t.key, t.value) for t in tags or []]


def test_serving_endpoint_tags_are_kept_listed_and_patched(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str], tmp_path: Path
) -> None:
    endpoint = endpoint_for(server, w, schema, tmp_path)
    name = endpoint.name or ""
    assert tag_pairs(endpoint.tags) == [("team", "ml"), ("pii", None)]
    listed = next(e for e in w.serving_endpoints.list() if e.name == name)
    assert tag_pairs(listed.tags) == [("team", "ml"), ("pii", None)]
    patched = w.serving_endpoints.patch(
        name,
        add_tags=[serving.EndpointTag(key="team", value="risk"), serving.EndpointTag("cost", "42")],
        delete_tags=["pii", "never-there"],
    )
    assert tag_pairs(patched.tags) == [("team", "risk"), ("cost", "42")]
    assert tag_pairs(w.serving_endpoints.get(name).tags) == [("team", "risk"), ("cost", "42")]
    # A config update leaves the tags alone.
    config = endpoint.config.served_entities if endpoint.config else None
    assert config
    w.serving_endpoints.update_config(
        name,
        served_entities=[
            serving.ServedEntityInput(
                entity_name=config[0].entity_name, entity_version=config[0].entity_version
            )
        ],
    )
    assert tag_pairs(w.serving_endpoints.get(name).tags) == [("team", "risk"), ("cost", "42")]
    with pytest.raises(BadRequest, match="both"):
        w.serving_endpoints.patch(
            name, add_tags=[serving.EndpointTag("cost", "1")], delete_tags=["cost"]
        )
    with pytest.raises(BadRequest, match="twice"):
        w.serving_endpoints.patch(
            name, add_tags=[serving.EndpointTag("a", "1"), serving.EndpointTag("a", "2")]
        )
    with pytest.raises(NotFound):
        w.serving_endpoints.patch(f"{name}_gone", add_tags=[serving.EndpointTag("a")])

    # Tags are the owner's to change: a caller who may not see the endpoint is answered as
    # for a missing one, one who may query it is refused.
    _, bob_token = server.create_user()
    with pytest.raises(NotFound) as hidden:
        workspace(server, bob_token).serving_endpoints.patch(name, delete_tags=["team"])
    with pytest.raises(NotFound) as missing:
        w.serving_endpoints.patch(f"{name}x", delete_tags=["team"])
    assert str(hidden.value) == str(missing.value).replace(f"{name}x", name)
    carol, carol_token = server.create_user()
    w.statement_execution.execute_statement(
        f"GRANT QUERY ON SERVING ENDPOINT {name} TO `{carol}`", "wh"
    )
    as_carol = workspace(server, carol_token)
    assert tag_pairs(as_carol.serving_endpoints.get(name).tags) == [
        ("team", "risk"),
        ("cost", "42"),
    ]
    with pytest.raises(PermissionDenied):
        as_carol.serving_endpoints.patch(name, delete_tags=["team"])


def acl_levels(
    acl: list[Any] | None,
) -> dict[str, set[str]]:
    """principal → permission levels, from a ServingEndpointPermissions or ObjectPermissions."""
    return {
        (e.user_name or e.group_name or e.service_principal_name): {
            p.permission_level.value for p in e.all_permissions or [] if p.permission_level
        }
        for e in acl or []
    }


def test_serving_endpoint_permissions_map_to_grants(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str], tmp_path: Path
) -> None:
    endpoint = endpoint_for(server, w, schema, tmp_path)
    name, endpoint_id = endpoint.name or "", endpoint.id or ""
    got = w.serving_endpoints.get_permissions(endpoint_id)
    assert got.object_id == f"/serving-endpoints/{endpoint_id}"
    assert acl_levels(got.access_control_list) == {"admin": {"CAN_MANAGE"}}
    levels = w.serving_endpoints.get_permission_levels(endpoint_id).permission_levels or []
    assert {lv.permission_level for lv in levels} == {
        serving.ServingEndpointPermissionLevel.CAN_QUERY,
        serving.ServingEndpointPermissionLevel.CAN_MANAGE,
    }

    alice, alice_token = server.create_user()
    as_alice = workspace(server, alice_token)
    with pytest.raises(NotFound):
        as_alice.serving_endpoints.query(name, dataframe_records=[{"a": 1.0, "b": 0.0}])
    query = serving.ServingEndpointPermissionLevel.CAN_QUERY
    set_ = w.serving_endpoints.set_permissions(
        endpoint_id,
        access_control_list=[
            serving.ServingEndpointAccessControlRequest(user_name=alice, permission_level=query)
        ],
    )
    assert acl_levels(set_.access_control_list) == {"admin": {"CAN_MANAGE"}, alice: {"CAN_QUERY"}}
    # CAN_QUERY is the QUERY grant: she queries, and the grants API says the same.
    answer = as_alice.serving_endpoints.query(name, dataframe_records=[{"a": 1.0, "b": 0.0}])
    assert answer.predictions
    raw = w.api_client.do("GET", f"/api/2.1/unity-catalog/permissions/serving_endpoint/{name}")
    assert isinstance(raw, dict)
    assert {"principal": alice, "privileges": ["QUERY"]} in raw["privilege_assignments"]

    # The generic API, by name or id alike; CAN_MANAGE is MANAGE (with QUERY).
    group = w.groups.create(display_name=unique("dbmanagers"))
    assert group.display_name
    group_name = group.display_name.lower()
    updated = w.permissions.update(
        "serving-endpoints",
        name,
        access_control_list=[
            iam.AccessControlRequest(
                group_name=group_name, permission_level=iam.PermissionLevel.CAN_MANAGE
            )
        ],
    )
    assert acl_levels(updated.access_control_list) == {
        "admin": {"CAN_MANAGE"},
        alice: {"CAN_QUERY"},
        group_name: {"CAN_MANAGE"},
    }
    assert acl_levels(w.permissions.get("serving-endpoints", endpoint_id).access_control_list) == (
        acl_levels(updated.access_control_list)
    )
    raw = w.api_client.do("GET", f"/api/2.1/unity-catalog/permissions/serving_endpoint/{name}")
    assert isinstance(raw, dict)
    assert {"principal": group_name, "privileges": ["MANAGE", "QUERY"]} in raw[
        "privilege_assignments"
    ]
    # Alice sees her own level, not the others' grants; she may not change them.
    mine = as_alice.serving_endpoints.get_permissions(endpoint_id)
    assert acl_levels(mine.access_control_list) == {"admin": {"CAN_MANAGE"}, alice: {"CAN_QUERY"}}
    with pytest.raises(PermissionDenied):
        as_alice.serving_endpoints.set_permissions(endpoint_id, access_control_list=[])

    # What does not map is refused, saying why; nothing changes.
    with pytest.raises(BadRequest, match="view-only"):
        w.serving_endpoints.update_permissions(
            endpoint_id,
            access_control_list=[
                serving.ServingEndpointAccessControlRequest(
                    user_name=alice,
                    permission_level=serving.ServingEndpointPermissionLevel.CAN_VIEW,
                )
            ],
        )
    with pytest.raises(BadRequest, match="Unity Catalog models"):
        w.permissions.get("registered-models", "123")
    with pytest.raises(BadRequest, match="no permissions on 'clusters'"):
        w.permissions.get("clusters", "123")

    # Set replaces: an empty list takes every grant away (the owner keeps ownership).
    emptied = w.serving_endpoints.set_permissions(endpoint_id, access_control_list=[])
    assert acl_levels(emptied.access_control_list) == {"admin": {"CAN_MANAGE"}}
    with pytest.raises(NotFound):
        as_alice.serving_endpoints.query(name, dataframe_records=[{"a": 1.0, "b": 0.0}])

    # An endpoint the caller may not see answers exactly as a missing id does.
    _, bob_token = server.create_user()
    gone = str(uuid.uuid4())
    with pytest.raises(NotFound) as hidden:
        workspace(server, bob_token).serving_endpoints.get_permissions(endpoint_id)
    with pytest.raises(NotFound) as missing:
        w.serving_endpoints.get_permissions(gone)
    assert str(hidden.value) == str(missing.value).replace(gone, endpoint_id)
    assert name not in str(hidden.value)


# -- tags ------------------------------------------------------------------------------------


def test_entity_tag_assignments_round_trip(
    server: ServerHandle, w: WorkspaceClient, schema: tuple[str, str]
) -> None:
    catalog, name = schema
    table = make_table(w, catalog, name, "tagged")
    api = w.entity_tag_assignments
    for entity_type, entity in (
        ("catalogs", catalog),
        ("tables", table),
        ("columns", f"{table}.id"),
    ):
        made = api.create(
            uc.EntityTagAssignment(
                entity_name=entity, tag_key="pii", entity_type=entity_type, tag_value="none"
            )
        )
        assert (made.entity_type, made.entity_name, made.tag_value) == (entity_type, entity, "none")
        assert made.update_time is not None and made.updated_by
    changed = api.update(
        "tables",
        table,
        "pii",
        uc.EntityTagAssignment(
            entity_name=table, tag_key="pii", entity_type="tables", tag_value="email"
        ),
        update_mask="tag_value",
    )
    assert changed.tag_value == "email"
    assert api.get("tables", table, "pii").tag_value == "email"
    assert [(t.tag_key, t.tag_value) for t in api.list("columns", f"{table}.id")] == [
        ("pii", "none")
    ]
    api.delete("tables", table, "pii")
    assert list(api.list("tables", table)) == []
    with pytest.raises(NotFound):
        api.get("tables", table, "pii")
    # A user who does not see the table gets what a missing one gets.
    _user, token = server.create_user()
    with pytest.raises(NotFound):
        list(workspace(server, token).entity_tag_assignments.list("tables", table))
