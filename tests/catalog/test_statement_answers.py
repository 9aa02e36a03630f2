"""A statement's answer is kept for ``GET /api/2.0/sql/statements/{id}``
(catalog/sql/statement_results.py). A GRANT or REVOKE keeps its answer in the transaction
of its change, with its audit event (catalog/sql/executor.py ``ANSWERED_IN_THEIR_CHANGE``);
every other statement, and a GRANT that fails, keeps it in a commit of its own. Either
way the answer read back is the one sent, to its caller only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from catalog.records import now_ms
from catalog.runtime import Runtime
from catalog.sql import statement_results
from catalog.sql.statement_results import KeptAnswer, write_kept_answers
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


def test_statements_answered_at_once_each_keep_their_own_answer(server: ServerHandle) -> None:
    """Concurrent statements share group commits, which keep a batch's answers in one
    INSERT: each answer read back is still its own statement's, to its caller only."""
    table = _tree(server)
    schema = table.rsplit(".", 1)[0]
    _, token = server.create_user()
    other = server.client(token)
    statements = [f"SHOW TABLES IN {schema}", f"DESCRIBE TABLE {table}", "SHOW CATALOGS"] * 8

    def send(statement: str) -> tuple[str, dict[str, object]]:
        body = _run(server.admin, statement).json()
        return str(body.pop("statement_id")), body

    with ThreadPoolExecutor(max_workers=len(statements)) as pool:
        answers = list(pool.map(send, statements))
    assert len({statement_id for statement_id, _ in answers}) == len(statements)
    for statement_id, body in answers:
        kept = server.admin.get(f"{SQL}/{statement_id}")
        assert kept.status_code == 200, kept.text
        assert kept.json() == {"statement_id": statement_id, **body}
        assert other.get(f"{SQL}/{statement_id}").status_code == 404


def test_a_batch_of_kept_answers_is_written_in_one_go(runtime: Runtime) -> None:
    """``write_kept_answers``: every answer of a batch kept, a replaced one replaced, and
    expired ones pruned, in one transaction."""
    admin_id = runtime.identity.authenticate("dapi-admin").principal.id
    now = now_ms()
    old = KeptAnswer(
        {
            "statement_id": "old",
            "principal_id": admin_id,
            "created_at": now - 10_000,
            "response": "{}",
        }
    )
    first = KeptAnswer(
        {"statement_id": "s1", "principal_id": admin_id, "created_at": now, "response": '"a"'}
    )
    with runtime.db.core_transaction() as connection:
        write_kept_answers(connection, [old, first])
    answers = [
        KeptAnswer({**first.row, "response": '"b"'}, replace=True),
        KeptAnswer(
            {**first.row, "statement_id": "s2", "response": '"c"'}, prune_before=now - 5_000
        ),
        KeptAnswer({**first.row, "statement_id": "s3", "response": '"d"'}),
    ]
    with runtime.db.core_transaction() as connection:
        write_kept_answers(connection, answers)
    found = {
        statement_id: statement_results.find(runtime.db, statement_id, admin_id, 3600)
        for statement_id in ("old", "s1", "s2", "s3")
    }
    assert found == {"old": None, "s1": '"b"', "s2": '"c"', "s3": '"d"'}
