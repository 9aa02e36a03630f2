"""The Databricks Python SDK (``databricks-sdk``) drives a real Steward.

``WorkspaceClient(host=server.url, token=...)`` with PAT auth, over every service that
maps to a Steward feature (docs/clients.md, "The Databricks SDK"): catalogs, schemas,
tables, registered models, model versions and aliases, grants, statement execution,
SCIM, tokens and token management, serving endpoints. Every call goes through the SDK's
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
from databricks.sdk.errors import (
    NotFound,
    PermissionDenied,
    ResourceAlreadyExists,
)
from databricks.sdk.service import catalog as uc
from databricks.sdk.service import iam, serving
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
