"""A statement's answer is kept for ``GET /api/2.0/sql/statements/{id}``
(catalog/sql/statement_results.py). A GRANT or REVOKE keeps its answer in the transaction
of its change, with its audit event (catalog/sql/executor.py ``ANSWERED_IN_THEIR_CHANGE``);
every other statement, and a GRANT that fails, keeps it in a commit of its own. Either
way the answer read back is the one sent, to its caller only."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support import ServerHandle, unique

SQL = "/api/2.0/sql/statements"


def _run(client: httpx.Client, statement: str) -> httpx.Response:
    response = client.post(SQL, json={"statement": statement})
    assert response.status_code == 200, response.text
    return response


def _tree(server: ServerHandle) -> str:
    catalog = unique("c")
    for statement in (
        f"CREATE CATALOG {catalog}",
        f"CREATE SCHEMA {catalog}.s",
        f"CREATE TABLE {catalog}.s.t (id BIGINT)",
    ):
        assert _run(server.admin, statement).json()["status"]["state"] == "SUCCEEDED"
    return f"{catalog}.s.t"


@pytest.mark.parametrize(
    "verb", ["GRANT SELECT ON TABLE {t} TO `{u}`", "REVOKE SELECT ON TABLE {t} FROM `{u}`"]
)
def test_a_grant_is_answered_read_back_and_seen_by_its_caller_only(
    server: ServerHandle, verb: str
) -> None:
    table = _tree(server)
    user, token = server.create_user()
    sent = _run(server.admin, verb.format(t=table, u=user))
    body = sent.json()
    assert body["status"]["state"] == "SUCCEEDED" and body["result"]["data_array"] == [["OK"]]
    again = server.admin.get(f"{SQL}/{body['statement_id']}")
    assert again.status_code == 200 and again.json() == body
    other = server.client(token).get(f"{SQL}/{body['statement_id']}")
    assert other.status_code == 404  # another caller's statement: as a missing one
    granted = server.admin.get(f"/api/2.1/unity-catalog/permissions/table/{table}").json()
    held = {a["principal"]: a["privileges"] for a in granted.get("privilege_assignments", [])}
    assert ("SELECT" in held.get(user, [])) is verb.startswith("GRANT")


def test_a_failed_grant_keeps_its_failure_and_changes_nothing(server: ServerHandle) -> None:
    table = _tree(server)
    body = _run(server.admin, f"GRANT SELECT ON TABLE {table} TO `nobody-{unique('u')}`").json()
    assert body["status"]["state"] == "FAILED"
    assert body["status"]["error"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    again = server.admin.get(f"{SQL}/{body['statement_id']}")
    assert again.status_code == 200 and again.json() == body
    granted = server.admin.get(f"/api/2.1/unity-catalog/permissions/table/{table}").json()
    assert granted.get("privilege_assignments", []) == []


def test_a_grant_keeps_its_answer_in_the_transaction_of_the_grant(server: ServerHandle) -> None:
    """PostgreSQL names the transaction that wrote a row (``xmin``): the kept answer, the
    grant line and the audit event share one; a SHOW keeps its answer in one of its own."""
    if not server.database_url.startswith("postgresql"):
        pytest.skip("xmin is PostgreSQL's")
    table = _tree(server)
    user, _ = server.create_user()
    grant = _run(server.admin, f"GRANT MODIFY ON TABLE {table} TO `{user}`")
    show = _run(server.admin, f"SHOW GRANTS ON TABLE {table}")
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as connection:

            def transactions(response: httpx.Response) -> set[str]:
                kept = connection.execute(
                    text("SELECT xmin::text FROM statement_results WHERE statement_id = :id"),
                    {"id": response.json()["statement_id"]},
                ).scalar_one()
                audited = connection.execute(
                    text("SELECT xmin::text FROM audit_events WHERE request_id = :id"),
                    {"id": response.headers["x-request-id"]},
                ).scalar_one()
                return {kept, audited}

            assert len(transactions(grant)) == 1
            assert len(transactions(show)) == 1  # its answer commits with its read's event
    finally:
        engine.dispose()
