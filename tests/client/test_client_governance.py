"""The Python client's SQL, grants, audit and lineage methods against a real server
(registry/client/governance.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from registry import Client, StewardError
from tests.support import ServerHandle, unique


@pytest.fixture
def admin(server: ServerHandle) -> Client:
    return Client(url=server.url, token=server.admin_token)


def test_sql_returns_rows_or_a_frame_and_failures_raise_with_the_position(
    server: ServerHandle, admin: Client
) -> None:
    catalog = unique("py")
    for statement in (
        f"CREATE CATALOG {catalog}",
        f"CREATE SCHEMA {catalog}.s",
        f"CREATE TABLE {catalog}.s.t (id BIGINT, name STRING)",
        f"INSERT INTO {catalog}.s.t VALUES (1, 'a'), (2, 'b')",
    ):
        admin.sql(statement)
    rows = admin.sql(f"SELECT id, name FROM {catalog}.s.t ORDER BY id")
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    frame = admin.sql(f"SELECT id, name FROM {catalog}.s.t ORDER BY id", as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["id", "name"] and frame["name"].tolist() == ["a", "b"]
    with pytest.raises(StewardError) as raised:
        admin.sql("SELEC 1")
    assert "line 1" in raised.value.message and raised.value.status_code == 400


def test_grant_revoke_and_read_grants(server: ServerHandle, admin: Client) -> None:
    catalog = unique("py")
    admin.sql(f"CREATE CATALOG {catalog}")
    user, token = server.create_user()
    after = admin.grant("catalog", catalog, user, "USE CATALOG", "BROWSE")
    assert sorted(after[user]) == ["BROWSE", "USE CATALOG"]
    assert sorted(admin.grants("catalog", catalog)[user]) == ["BROWSE", "USE CATALOG"]
    as_user = Client(url=server.url, token=token)
    assert sorted(as_user.grants("catalog", catalog, principal=user)[user]) == [
        "BROWSE",
        "USE CATALOG",
    ]
    after = admin.revoke("catalog", catalog, user, "BROWSE")
    assert after[user] == ["USE CATALOG"]
    with pytest.raises(StewardError) as raised:
        as_user.grant("catalog", catalog, user, "CREATE SCHEMA")
    assert raised.value.error_code == "PERMISSION_DENIED"


def test_audit_and_lineage(server: ServerHandle, admin: Client) -> None:
    catalog = unique("py")
    for statement in (
        f"CREATE CATALOG {catalog}",
        f"CREATE SCHEMA {catalog}.s",
        f"CREATE TABLE {catalog}.s.src (id BIGINT)",
        f"CREATE TABLE {catalog}.s.dst (id BIGINT)",
        f"INSERT INTO {catalog}.s.dst SELECT id FROM {catalog}.s.src",
    ):
        admin.sql(statement)
    events = admin.audit(object_name=f"{catalog}.s.src", action="createTable")
    assert len(events) == 1 and events[0]["object_name"] == f"{catalog}.s.src"
    assert len(admin.audit(limit=3)) == 3
    graph = admin.lineage(f"{catalog}.s.dst", direction="upstream", depth=1)
    names = {node.get("full_name") or node.get("name") for node in graph["nodes"]}
    assert f"{catalog}.s.src" in names, graph
    with pytest.raises(StewardError):
        admin.lineage(f"{catalog}.s.dst", direction="sideways")
    _user, token = server.create_user()
    with pytest.raises(StewardError) as raised:
        Client(url=server.url, token=token).audit()
    assert raised.value.status_code in (403, 404)
