"""Budgets of one OpenLineage event (docs/lineage.md): checked before any work.

A user with no grants once posted one 82 KB RunEvent of 1,000 inputs × 1,000 outputs: a
million edges in one transaction held SQLite's write lock for minutes, and every other
request waited or failed with 'database is locked'. Now an event over any budget (inputs,
outputs, column-lineage input fields, edges) is refused with 413 before anything is looked
up, authorized or written; the refusal names the limit, the count and the setting, and is
audited. Runs against a real server on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, or_, select

from catalog.config import Settings
from catalog.lineage.openlineage import EventBudget, RunEvent
from catalog.persistence.engine import Database
from catalog.persistence.schema import LineageColumnEdge, LineageEdge, LineageNode
from common.errors import PayloadTooLarge
from tests.catalog.test_lineage import AUDIT, LINEAGE, UC, dataset, event, graph, make_tables
from tests.catalog.test_sql import ok
from tests.support import ServerHandle, database_url_for, start_server, unique

TOO_BIG = (413, "REQUEST_LIMIT_EXCEEDED")
SETTINGS = {
    "inputs": "STEWARD_LINEAGE_MAX_INPUTS",
    "outputs": "STEWARD_LINEAGE_MAX_OUTPUTS",
    "column fields": "STEWARD_LINEAGE_MAX_COLUMN_FIELDS",
    "edges": "STEWARD_LINEAGE_MAX_EDGES",
}


# -- helpers ------------------------------------------------------------------------------


def external(namespace: str, prefix: str, count: int) -> list[dict[str, Any]]:
    return [dataset(f"{prefix}/{n}", namespace) for n in range(count)]


def with_columns(
    target: dict[str, Any], source: dict[str, Any], fields: int, start: int = 0
) -> dict[str, Any]:
    """``target`` with a columnLineage facet of ``fields`` input fields, each its own column
    pair (so each is one column edge)."""
    sources = [f"{source['namespace']}|{source['name']}|f{n}" for n in range(start, start + fields)]
    columns = {f"c{n}": [s] for n, s in zip(range(start, start + fields), sources, strict=True)}
    return dataset(target["name"], target["namespace"], **columns)


def refused(response: httpx.Response, budget: str, *words: str) -> str:
    """A 413 naming ``budget``'s setting (and no other) and ``words``."""
    assert (response.status_code, response.json()["error_code"]) == TOO_BIG, response.text
    message = response.json()["message"]
    assert SETTINGS[budget] in message, message
    for other, setting in SETTINGS.items():
        if other != budget:
            assert setting not in message, (other, message)
    for word in words:
        assert word in message, (word, message)
    assert "Nothing was recorded" in message
    return message


def recorded_in(server: ServerHandle, namespace: str) -> tuple[int, int, int]:
    """Nodes, edges and column edges touching external datasets of ``namespace``."""
    db = Database(server.database_url)
    try:
        with db.read() as session:
            ids = select(LineageNode.id).where(LineageNode.namespace == namespace)
            nodes = session.scalar(select(func.count()).select_from(ids.subquery()))
            edges, columns = (
                session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(or_(table.source_id.in_(ids), table.target_id.in_(ids)))
                )
                for table in (LineageEdge, LineageColumnEdge)
            )
    finally:
        db.dispose()
    return int(nodes or 0), int(edges or 0), int(columns or 0)


def listed_in(server: ServerHandle, namespace: str) -> int:
    """Edges from or to external datasets of ``namespace`` in ``system.access.table_lineage``."""
    listed = ok(
        server.admin,
        "SELECT count(*) FROM system.access.table_lineage "
        "WHERE source_path LIKE :names OR target_path LIKE :names",
        parameters=[{"name": "names", "value": f"{namespace}/%"}],
    )
    return int(listed[0][0])


def audit_of(server: ServerHandle, response: httpx.Response) -> dict[str, Any]:
    listed = server.admin.get(AUDIT, params={"request_id": response.headers["x-request-id"]})
    assert listed.status_code == 200, listed.text
    (found,) = listed.json()["events"]
    return found


# -- (a) the reported attack --------------------------------------------------------------


def test_a_million_edges_from_a_user_without_grants_is_refused_at_once(
    server: ServerHandle,
) -> None:
    user, token = server.create_user()
    attacker = server.client(token)
    _, other_token = server.create_user()
    bystander = server.client(other_token)
    namespace = f"s3://{unique('attack')}"
    job = unique("job")
    body = event(external(namespace, "in", 1000), external(namespace, "out", 1000), job=job)
    # A small body (~110 KB here, 82 KB in the report), far inside STEWARD_MAX_BODY_BYTES.
    assert len(httpx.Request("POST", "/", json=body).content) < 128 * 1024

    posted: dict[str, Any] = {}

    def attack() -> None:
        started = time.monotonic()
        posted["response"] = attacker.post(LINEAGE, json=body)
        posted["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=attack)
    thread.start()
    reads = []
    try:
        while thread.is_alive() or not reads:
            started = time.monotonic()
            answer = bystander.get(f"{UC}/catalogs")
            reads.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.text
    finally:
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert posted["seconds"] < 1.0, posted["seconds"]
    assert max(reads) < 1.0, reads

    response = posted["response"]
    assert (response.status_code, response.json()["error_code"]) == TOO_BIG, response.text
    message = response.json()["message"]
    # Every budget the event is over is named, with its count, limit and setting.
    for words in (
        "1000 inputs, over the limit of 100 (STEWARD_LINEAGE_MAX_INPUTS)",
        "1000 outputs, over the limit of 100 (STEWARD_LINEAGE_MAX_OUTPUTS)",
        "1000000 edges",
        "over the limit of 2000 (STEWARD_LINEAGE_MAX_EDGES)",
    ):
        assert words in message, message
    assert "STEWARD_LINEAGE_MAX_COLUMN_FIELDS" not in message

    # Nothing was recorded: no node, no edge (in the database, and as the system table
    # of lineage shows it).
    assert recorded_in(server, namespace) == (0, 0, 0)
    assert listed_in(server, namespace) == 0
    # The refusal is audited, under the poster's name.
    audited = audit_of(server, response)
    assert audited["action_name"] == "postLineageEvent"
    assert audited["service_name"] == "lineage"
    assert audited["user_identity"]["email"] == user
    assert audited["response"]["status_code"] == 413
    assert "STEWARD_LINEAGE_MAX_EDGES" in audited["response"]["error_message"]
    assert audited["object_name"] == f"airflow/{job}"


def test_the_budget_comes_before_lookups_and_authorization(server: ServerHandle) -> None:
    """Over budget is 413 even where the event names tables the caller may not see, or that
    do not exist: nothing was looked up, so nothing is learned about them either."""
    admin = server.admin
    tree = make_tables(admin, "secret")
    _, token = server.create_user()
    user = server.client(token)
    namespace = f"s3://{unique('probe')}"
    inputs = external(namespace, "in", 101)
    for target in (tree.table("secret"), tree.table("missing")):
        response = user.post(LINEAGE, json=event(inputs, [dataset(target)]))
        refused(response, "inputs", "101 inputs")
    # Within budget, the same user is told what it may know: a table it may not see is
    # answered as missing.
    within = user.post(LINEAGE, json=event(inputs[:100], [dataset(tree.table("secret"))]))
    assert within.status_code == 404, within.text
    assert recorded_in(server, namespace) == (0, 0, 0)


# -- (b) each budget: just over is refused, just at is accepted ---------------------------


def test_inputs_budget(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "sink")
    sink = tree.table("sink")
    namespace = f"s3://{unique('in')}"
    over = admin.post(LINEAGE, json=event(external(namespace, "in", 101), [dataset(sink)]))
    refused(over, "inputs", "101 inputs, over the limit of 100")
    assert graph(admin, sink)["edges"] == []
    assert recorded_in(server, namespace) == (0, 0, 0)

    at = admin.post(LINEAGE, json=event(external(namespace, "in", 100), [dataset(sink)]))
    assert at.status_code == 201, at.text
    assert at.json() == {"recorded_edges": 100, "recorded_column_edges": 0}
    assert len(graph(admin, sink, "upstream", 1)["edges"]) == 100
    assert listed_in(server, namespace) == 100


def test_outputs_budget(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "source")
    source = tree.table("source")
    namespace = f"s3://{unique('out')}"
    over = admin.post(LINEAGE, json=event([dataset(source)], external(namespace, "out", 101)))
    refused(over, "outputs", "101 outputs, over the limit of 100")
    assert graph(admin, source)["edges"] == []
    assert recorded_in(server, namespace) == (0, 0, 0)

    at = admin.post(LINEAGE, json=event([dataset(source)], external(namespace, "out", 100)))
    assert at.status_code == 201, at.text
    assert at.json() == {"recorded_edges": 100, "recorded_column_edges": 0}
    assert len(graph(admin, source, "downstream", 1)["edges"]) == 100


def test_column_fields_budget_counts_every_output(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "wide", "narrow")
    wide, narrow = dataset(tree.table("wide")), dataset(tree.table("narrow"))
    namespace = f"s3://{unique('col')}"
    (source,) = external(namespace, "in", 1)

    def body(second: int) -> dict[str, Any]:
        """600 input fields on one output and ``second`` on the other."""
        outputs = [with_columns(wide, source, 600), with_columns(narrow, source, second, 600)]
        return event([source], outputs)

    over = admin.post(LINEAGE, json=body(401))
    refused(over, "column fields", "1001 column-lineage input fields, over the limit of 1000")
    assert graph(admin, tree.table("wide"))["edges"] == []
    assert recorded_in(server, namespace) == (0, 0, 0)

    at = admin.post(LINEAGE, json=body(400))
    assert at.status_code == 201, at.text
    assert at.json() == {"recorded_edges": 2, "recorded_column_edges": 1000}
    columns = graph(admin, tree.table("wide"), "upstream", 1, include_columns="true")
    assert len(columns["column_edges"]) == 600


def test_edges_budget_counts_inputs_times_outputs_plus_column_fields(
    server: ServerHandle,
) -> None:
    admin = server.admin
    tree = make_tables(admin, "target")
    target = dataset(tree.table("target"))
    namespace = f"s3://{unique('edge')}"
    inputs = external(namespace, "in", 100)
    outputs = [target, *external(namespace, "out", 19)]  # 100 × 20 = 2,000 edges

    over = admin.post(
        LINEAGE, json=event(inputs, [with_columns(target, inputs[0], 1), *outputs[1:]])
    )
    refused(
        over,
        "edges",
        "2001 edges (100 inputs × 20 outputs + 1 column-lineage input fields)",
        "over the limit of 2000",
    )
    assert graph(admin, tree.table("target"))["edges"] == []
    assert recorded_in(server, namespace) == (0, 0, 0)

    started = time.monotonic()
    at = admin.post(LINEAGE, json=event(inputs, outputs))
    seconds = time.monotonic() - started
    assert at.status_code == 201, at.text
    assert at.json() == {"recorded_edges": 2000, "recorded_column_edges": 0}
    assert recorded_in(server, namespace) == (119, 2000, 0)  # each has an external input
    assert len(graph(admin, tree.table("target"), "upstream", 1)["edges"]) == 100
    # Batched writes: an event at the budget is quick (well under a second when idle; the
    # bound leaves room for a loaded CI machine).
    assert seconds < 5.0, seconds


@pytest.mark.parametrize("event_type", ["START", "RUNNING", "FAIL", "ABORT"])
def test_events_that_record_nothing_are_held_to_the_budget_too(
    server: ServerHandle, event_type: str
) -> None:
    namespace = f"s3://{unique('start')}"
    body = event(
        external(namespace, "in", 1), external(namespace, "out", 101), event_type=event_type
    )
    refused(server.admin.post(LINEAGE, json=body), "outputs", "101 outputs")


# -- (c) the refusal is audited -----------------------------------------------------------


@pytest.mark.parametrize("budget", list(SETTINGS))
def test_refusals_are_audited(server: ServerHandle, budget: str) -> None:
    user, token = server.create_user()
    namespace = f"s3://{unique('audit')}"
    job = unique("job")
    sizes = {"inputs": (101, 1, 0), "outputs": (1, 101, 0), "column fields": (1, 1, 1001)}
    inputs, outputs, fields = sizes.get(budget, (100, 21, 0))
    ins, outs = external(namespace, "in", inputs), external(namespace, "out", outputs)
    if fields:
        outs[0] = with_columns(outs[0], ins[0], fields)
    response = server.client(token).post(LINEAGE, json=event(ins, outs, job=job))
    message = refused(response, budget)
    audited = audit_of(server, response)
    assert audited["action_name"] == "postLineageEvent"
    assert audited["user_identity"]["email"] == user
    assert audited["response"]["status_code"] == 413
    assert audited["response"]["error_message"] == f"REQUEST_LIMIT_EXCEEDED: {message}"
    assert audited["object_name"] == f"airflow/{job}"
    assert recorded_in(server, namespace) == (0, 0, 0)


# -- (d) the settings raise the budgets ---------------------------------------------------


def test_a_server_with_raised_budgets_accepts_what_the_default_refuses(
    server: ServerHandle, tmp_path: Path
) -> None:
    namespace = f"s3://{unique('raised')}"
    (source,) = external(namespace, "src", 1)
    bodies = {
        "inputs": event(external(namespace, "in", 150), external(namespace, "o1", 1)),
        "outputs": event(external(namespace, "i2", 1), external(namespace, "out", 150)),
        "column fields": event([source], [with_columns(dataset("wide", namespace), source, 1500)]),
        "edges": event(external(namespace, "i4", 100), external(namespace, "o4", 25)),
    }
    for budget, body in bodies.items():
        refused(server.admin.post(LINEAGE, json=body), budget)

    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    raised = {
        "STEWARD_LINEAGE_MAX_INPUTS": "150",
        "STEWARD_LINEAGE_MAX_OUTPUTS": "150",
        "STEWARD_LINEAGE_MAX_COLUMN_FIELDS": "1500",
        "STEWARD_LINEAGE_MAX_EDGES": "3000",
    }
    with database_url_for(backend, tmp_path) as url:
        other = start_server(url, tmp_path / "storage", extra_env=raised)
        try:
            admin = other.admin
            for budget, body in bodies.items():
                response = admin.post(LINEAGE, json=body)
                assert response.status_code == 201, (budget, response.text)
            # The raised limits are limits still, and the message gives them.
            over = event(external(namespace, "i5", 151), external(namespace, "o5", 1))
            refused(admin.post(LINEAGE, json=over), "inputs", "over the limit of 150")
        finally:
            other.stop()


# -- the pieces ---------------------------------------------------------------------------


def test_settings_read_the_budgets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert EventBudget.from_settings(Settings()) == EventBudget(100, 100, 1000, 2000)
    monkeypatch.setenv("STEWARD_LINEAGE_MAX_INPUTS", "7")
    monkeypatch.setenv("STEWARD_LINEAGE_MAX_OUTPUTS", "8")
    monkeypatch.setenv("STEWARD_LINEAGE_MAX_COLUMN_FIELDS", "9")
    monkeypatch.setenv("STEWARD_LINEAGE_MAX_EDGES", "10")
    assert EventBudget.from_settings(Settings.from_env()) == EventBudget(7, 8, 9, 10)


def test_budget_check_counts_as_listed() -> None:
    """Duplicates count: the budget is checked before anything is deduplicated."""
    same = {"namespace": "s3://b", "name": "x"}
    body = event([same] * 3, [dataset("y", "s3://b")])
    EventBudget(max_inputs=3).check(RunEvent.model_validate(body))
    with pytest.raises(PayloadTooLarge, match="3 inputs, over the limit of 2"):
        EventBudget(max_inputs=2).check(RunEvent.model_validate(body))
