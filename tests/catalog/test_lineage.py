"""Lineage over HTTP (docs/lineage.md): OpenLineage events in, the graph out, redacted per caller.

Runs against a real server on SQLite and PostgreSQL. Each test builds its own tables
(unique names), records edges by posting OpenLineage RunEvents (or, for the registry's
node types, with ``record_edges`` in a transaction of the server's database) and reads
them back through ``GET /api/2.1/steward/lineage`` and the ``steward lineage`` command.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from catalog.lineage import Edge, EdgeKind, model_version_node, record_edges, securable_node
from catalog.persistence.engine import Database
from catalog.store.sqlalchemy_stores import SqlNamespaceStore
from policy.securables import SecurableType
from tests.catalog.test_sql import ok
from tests.support import ROOT, ServerHandle, run_steward, unique, write_mlmodel

LINEAGE = "/api/v1/lineage"
GRAPH = "/api/2.1/steward/lineage"
AUDIT = "/api/2.1/steward/audit"
UC = "/api/2.1/unity-catalog"


# -- helpers ------------------------------------------------------------------------------


@dataclass
class Tree:
    catalog: str
    schema: str

    def table(self, name: str) -> str:
        return f"{self.schema}.{name}"


def make_tables(admin: httpx.Client, *names: str) -> Tree:
    catalog = unique("lc")
    schema = f"{catalog}.s"
    ok(admin, f"CREATE CATALOG {catalog}")
    ok(admin, f"CREATE SCHEMA {schema}")
    for name in names:
        ok(admin, f"CREATE TABLE {schema}.{name} (id BIGINT, v STRING, w DOUBLE)")
    return Tree(catalog, schema)


def dataset(name: str, namespace: str = "steward", **columns: list[str]) -> dict[str, Any]:
    """A dataset; ``columns`` maps an output column to its ``"namespace|name|field"`` inputs."""
    found: dict[str, Any] = {"namespace": namespace, "name": name}
    if columns:
        fields = {
            out: {
                "inputFields": [
                    dict(zip(("namespace", "name", "field"), source.split("|"), strict=True))
                    for source in sources
                ]
            }
            for out, sources in columns.items()
        }
        found["facets"] = {"columnLineage": {"_producer": "test", "fields": fields}}
    return found


def event(
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    event_type: str | None = "COMPLETE",
    job: str = "job",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventTime": "2026-01-02T03:04:05.678Z",
        "run": {"runId": "0190c4f5-2b1e-7c9d-8f00-000000000001", "facets": {"x": {"y": 1}}},
        "job": {"namespace": "airflow", "name": job},
        "inputs": inputs,
        "outputs": outputs,
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/integration/airflow",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    if event_type is not None:
        body["eventType"] = event_type
    return body


def post(client: httpx.Client, body: Any, status: int = 201) -> httpx.Response:
    response = client.post(LINEAGE, json=body)
    assert response.status_code == status, response.text
    return response


def flow(client: httpx.Client, source: str, target: str, **kw: Any) -> httpx.Response:
    return post(client, event([dataset(source)], [dataset(target)], **kw))


def graph(
    client: httpx.Client, full_name: str, direction: str = "both", depth: int = 3, **extra: Any
) -> dict[str, Any]:
    response = client.get(
        GRAPH, params={"full_name": full_name, "direction": direction, "depth": depth, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


def names(body: dict[str, Any]) -> set[str]:
    return {n["name"] for n in body["nodes"] if not n["redacted"]}


def named_edges(body: dict[str, Any]) -> set[tuple[str, str]]:
    by_id = {n["id"]: (n["name"] or n["id"]) for n in body["nodes"]}
    return {(by_id[e["source"]], by_id[e["target"]]) for e in body["edges"]}


def error(response: httpx.Response, status: int, code: str, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    for word in words:
        assert word.lower() in body["message"].lower(), (word, body)
    return body["message"]


# -- OpenLineage events -------------------------------------------------------------------


def test_event_records_table_edges_with_principal_and_request_id(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "a", "b", "c")
    a, b, c = (tree.table(x) for x in "abc")
    response = post(admin, event([dataset(a), dataset(b)], [dataset(c, "steward://localhost")]))
    assert response.json() == {"recorded_edges": 2, "recorded_column_edges": 0}

    body = graph(admin, c, "upstream", 1)
    assert body["nodes"][0]["name"] == c  # the object asked about comes first
    assert names(body) == {a, b, c}
    assert named_edges(body) == {(a, c), (b, c)}
    assert {n["type"] for n in body["nodes"]} == {"TABLE"}
    table_id = admin.get(f"{UC}/tables/{c}").json()["table_id"]
    assert body["nodes"][0]["id"] == f"TABLE:{table_id}"
    for edge in body["edges"]:
        assert edge["kind"] == "openlineage"
        assert edge["count"] == 1
        assert edge["principal"] == "admin"
        assert edge["request_id"] == response.headers["x-request-id"]
        assert edge["first_seen"] == edge["last_seen"]
    assert body["truncated"] is False

    # The edge names the audit event of the request that recorded it.
    events = admin.get(AUDIT, params={"action": "postLineageEvent", "object": c}).json()["events"]
    assert [e["request_id"] for e in events] == [response.headers["x-request-id"]]
    assert events[0]["response"]["status_code"] == 201
    assert events[0]["service_name"] == "lineage"


def test_external_datasets_are_kept_as_external_nodes(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "landing", "clean")
    landing, clean = tree.table("landing"), tree.table("clean")
    post(
        admin,
        event(
            [
                dataset("raw/events/2026-01-02.parquet", "s3://bucket"),
                # Another system's three-part name never lands on ours, even when it matches.
                dataset(landing, "postgres://db.example.com:5432"),
            ],
            [dataset(clean)],
        ),
    )
    post(admin, event([dataset(clean)], [dataset("topic.clean", "kafka://broker:9092")]))
    body = graph(admin, clean, "both", 1)
    by_name = {n["name"]: n for n in body["nodes"]}
    assert set(by_name) == {
        clean,
        "s3://bucket/raw/events/2026-01-02.parquet",
        f"postgres://db.example.com:5432/{landing}",
        "kafka://broker:9092/topic.clean",
    }
    assert by_name[clean]["type"] == "TABLE"
    for name, node in by_name.items():
        if name != clean:
            assert node["type"] == "EXTERNAL" and node["redacted"] is False
            assert node["id"].startswith("EXTERNAL:")
    # The real catalog table was never touched.
    assert graph(admin, landing)["edges"] == []


def test_column_lineage_facet(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "src", "dst")
    src, dst = tree.table("src"), tree.table("dst")
    body = event(
        [dataset(src), dataset("lake/users", "s3://b")],
        [
            dataset(
                dst,
                ID=[f"steward|{src}|ID"],
                v=[f"steward|{src}|v", "s3://b|lake/users|Name"],
                w=[f"uc://ws|{tree.table('src')}|w"],
            )
        ],
    )
    assert post(admin, body).json() == {"recorded_edges": 2, "recorded_column_edges": 4}
    answer = graph(admin, dst, "upstream", 1, include_columns="true")
    ids = {n["id"]: n["name"] for n in answer["nodes"]}
    columns = {
        (ids[c["source"]], c["source_column"], ids[c["target"]], c["target_column"])
        for c in answer["column_edges"]
    }
    assert columns == {
        (src, "id", dst, "id"),  # catalog column names are case-insensitive: stored lower
        (src, "v", dst, "v"),
        (src, "w", dst, "w"),
        ("s3://b/lake/users", "Name", dst, "v"),  # external ones as given
    }
    assert all(c["kind"] == "openlineage" and c["count"] == 1 for c in answer["column_edges"])
    assert "column_edges" not in graph(admin, dst, "upstream", 1)


def test_column_lineage_input_not_listed_as_input_still_makes_a_table_edge(
    server: ServerHandle,
) -> None:
    admin = server.admin
    tree = make_tables(admin, "x", "y")
    x, y = tree.table("x"), tree.table("y")
    post(admin, event([], [dataset(y, v=[f"steward|{x}|v"])]))
    assert named_edges(graph(admin, y, "upstream", 1)) == {(x, y)}


def test_repeats_count_and_move_last_seen(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "a", "b")
    a, b = tree.table("a"), tree.table("b")
    first = flow(admin, a, b)
    (edge,) = graph(admin, b, "upstream", 1)["edges"]
    time.sleep(0.05)
    flow(admin, a, b)
    last = flow(admin, a, b)
    (again,) = graph(admin, b, "upstream", 1)["edges"]
    assert again["count"] == 3
    assert again["first_seen"] == edge["first_seen"]
    assert again["last_seen"] > edge["last_seen"]
    assert edge["request_id"] == first.headers["x-request-id"]
    assert again["request_id"] == last.headers["x-request-id"]


def test_only_completed_runs_record(server: ServerHandle) -> None:
    """START/RUNNING/FAIL/ABORT are accepted and checked but count nothing; COMPLETE, OTHER
    and events without a type record."""
    admin = server.admin
    tree = make_tables(admin, "a", "b")
    a, b = tree.table("a"), tree.table("b")
    for kind in ("START", "RUNNING", "FAIL", "ABORT"):
        assert flow(admin, a, b, event_type=kind).json()["recorded_edges"] == 0
    assert graph(admin, b)["edges"] == []
    for kind in ("COMPLETE", "OTHER", None):
        assert flow(admin, a, b, event_type=kind).json()["recorded_edges"] == 1
    assert graph(admin, b)["edges"][0]["count"] == 3


def test_self_loops_and_duplicates_count_once(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "a", "b")
    a, b = tree.table("a"), tree.table("b")
    body = event([dataset(a), dataset(b), dataset(a.upper())], [dataset(b)])
    assert post(admin, body).json()["recorded_edges"] == 1
    assert named_edges(graph(admin, b)) == {(a, b)}


def _with_facet(a: str, b: str, facet: Any) -> dict[str, Any]:
    body = event([dataset(a)], [dataset(b)])
    body["outputs"][0]["facets"] = {"columnLineage": facet}
    return body


#: (case, body built from two real tables a and b, words the message must contain).
MALFORMED: list[tuple[str, Any, tuple[str, ...]]] = [
    ("not-an-object", lambda a, b: [event([dataset(a)], [dataset(b)])], ("body",)),
    (
        "missing-job",
        lambda a, b: {k: v for k, v in event([dataset(a)], [dataset(b)]).items() if k != "job"},
        ("job",),
    ),
    (
        "missing-run",
        lambda a, b: {k: v for k, v in event([dataset(a)], [dataset(b)]).items() if k != "run"},
        ("run",),
    ),
    (
        "missing-time",
        lambda a, b: {
            k: v for k, v in event([dataset(a)], [dataset(b)]).items() if k != "eventTime"
        },
        ("eventTime",),
    ),
    (
        "bad-time",
        lambda a, b: {**event([dataset(a)], [dataset(b)]), "eventTime": "yesterday"},
        ("eventTime",),
    ),
    (
        "bad-type",
        lambda a, b: {**event([dataset(a)], [dataset(b)]), "eventType": "FINISHED"},
        ("eventType",),
    ),
    (
        "job-without-name",
        lambda a, b: {**event([dataset(a)], [dataset(b)]), "job": {"namespace": "n"}},
        ("job.name",),
    ),
    (
        "inputs-not-a-list",
        lambda a, b: {**event([], [dataset(b)]), "inputs": dataset(a)},
        ("inputs",),
    ),
    (
        "dataset-without-name",
        lambda a, b: event([dataset(a), {"namespace": "s3://b"}], [dataset(b)]),
        ("name",),
    ),
    (
        "empty-namespace",
        lambda a, b: event([dataset(a), dataset("x", "")], [dataset(b)]),
        ("namespace",),
    ),
    (
        "nul-in-name",
        lambda a, b: event([dataset(a), dataset("x\x00y", "s3://b")], [dataset(b)]),
        ("NUL",),
    ),
    ("fields-not-an-object", lambda a, b: _with_facet(a, b, {"fields": []}), ("fields",)),
    (
        "input-field-without-field",
        lambda a, b: _with_facet(
            a, b, {"fields": {"v": {"inputFields": [{"namespace": "steward", "name": a}]}}}
        ),
        ("field",),
    ),
    (
        "column-name-too-long",
        lambda a, b: _with_facet(a, b, {"fields": {"c" * 300: {"inputFields": []}}}),
        ("fields",),
    ),
    (
        "two-part-catalog-name",
        lambda a, b: event([dataset(a), dataset("just.two")], [dataset(b)]),
        ("catalog.schema.table",),
    ),
    (
        "bad-catalog-name",
        lambda a, b: event([dataset(a)], [dataset(b), dataset("a b.c.d")]),
        ("space",),
    ),
]


@pytest.mark.parametrize(("case", "build", "words"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_events_are_400_and_record_nothing(
    server: ServerHandle, case: str, build: Any, words: tuple[str, ...]
) -> None:
    admin = server.admin
    tree = make_tables(admin, "a", "b")
    a, b = tree.table("a"), tree.table("b")
    response = admin.post(LINEAGE, json=build(a, b))
    error(response, 400, "INVALID_PARAMETER_VALUE", *words)
    assert response.json()["request_id"]
    assert graph(admin, a)["edges"] == [] and graph(admin, b)["edges"] == []


def test_broken_json_is_400(server: ServerHandle) -> None:
    response = server.admin.post(
        LINEAGE, content=b'{"eventTime": ', headers={"Content-Type": "application/json"}
    )
    error(response, 400, "INVALID_PARAMETER_VALUE", "JSON")


def test_missing_catalog_table_is_404_and_the_whole_event_records_nothing(
    server: ServerHandle,
) -> None:
    admin = server.admin
    tree = make_tables(admin, "a", "b")
    a, b = tree.table("a"), tree.table("b")
    missing = tree.table("nope")
    body = event([dataset(a)], [dataset(b), dataset(missing)])
    error(admin.post(LINEAGE, json=body), 404, "RESOURCE_DOES_NOT_EXIST", missing)
    assert graph(admin, a)["edges"] == []


# -- walking the graph --------------------------------------------------------------------


def chain(admin: httpx.Client, *names: str) -> list[str]:
    tree = make_tables(admin, *names)
    full = [tree.table(n) for n in names]
    for source, target in itertools.pairwise(full):
        flow(admin, source, target)
    return full


def test_directions_and_depth(server: ServerHandle) -> None:
    admin = server.admin
    a, b, c, d, e = chain(admin, "a", "b", "c", "d", "e")
    assert names(graph(admin, c, "upstream", 1)) == {b, c}
    assert names(graph(admin, c, "upstream", 2)) == {a, b, c}
    assert names(graph(admin, c, "upstream", 5)) == {a, b, c}
    assert names(graph(admin, c, "downstream", 1)) == {c, d}
    assert named_edges(graph(admin, c, "downstream", 2)) == {(c, d), (d, e)}
    both = graph(admin, c, "both", 1)
    assert names(both) == {b, c, d} and named_edges(both) == {(b, c), (c, d)}
    assert names(graph(admin, c, "both", 2)) == {a, b, c, d, e}
    assert names(graph(admin, a, "upstream", 3)) == {a}
    # Upstream of c does not turn around into c's siblings downstream of b.
    tree_b = b.rsplit(".", 1)[0]
    ok(admin, f"CREATE TABLE {tree_b}.sibling (id BIGINT)")
    flow(admin, b, f"{tree_b}.sibling")
    assert f"{tree_b}.sibling" not in names(graph(admin, c, "upstream", 3))
    assert f"{tree_b}.sibling" in names(graph(admin, b, "downstream", 1))


def test_default_direction_and_depth(server: ServerHandle) -> None:
    admin = server.admin
    a, b, c, d, _ = chain(admin, "a", "b", "c", "d", "e")
    body = admin.get(GRAPH, params={"full_name": a}).json()
    assert names(body) == {a, b, c, d}  # both directions, three hops


def test_cycles_terminate_and_keep_the_closing_edge(server: ServerHandle) -> None:
    admin = server.admin
    x, y, z = chain(admin, "x", "y", "z")
    flow(admin, z, x)
    body = graph(admin, x, "downstream", 10)
    assert names(body) == {x, y, z}
    assert named_edges(body) == {(x, y), (y, z), (z, x)}
    assert len(body["nodes"]) == 3
    assert named_edges(graph(admin, x, "both", 10)) == {(x, y), (y, z), (z, x)}


def test_object_without_lineage_is_returned_alone(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "lonely")
    body = graph(admin, tree.table("lonely"))
    assert body["edges"] == []
    assert [(n["name"], n["type"], n["redacted"]) for n in body["nodes"]] == [
        (tree.table("lonely"), "TABLE", False)
    ]


@pytest.mark.parametrize(
    ("params", "status", "code", "words"),
    [
        ({"direction": "sideways"}, 400, "INVALID_PARAMETER_VALUE", ("direction",)),
        ({"depth": "0"}, 400, "INVALID_PARAMETER_VALUE", ("depth",)),
        ({"depth": "21"}, 400, "INVALID_PARAMETER_VALUE", ("depth",)),
        ({"depth": "many"}, 400, "INVALID_PARAMETER_VALUE", ("depth",)),
        ({"full_name": "only.two"}, 400, "INVALID_PARAMETER_VALUE", ("only.two",)),
        ({"full_name": "a.b c.d"}, 400, "INVALID_PARAMETER_VALUE", ("space",)),
        ({"full_name": ""}, 400, "INVALID_PARAMETER_VALUE", ("full_name",)),
        ({"full_name": None}, 400, "INVALID_PARAMETER_VALUE", ("full_name",)),
        ({"full_name": "no.such.table"}, 404, "RESOURCE_DOES_NOT_EXIST", ("no",)),
    ],
)
def test_bad_reads(
    server: ServerHandle, params: dict[str, Any], status: int, code: str, words: tuple[str, ...]
) -> None:
    query = {"full_name": "x.y.z", **params}
    query = {k: v for k, v in query.items() if v is not None}
    error(server.admin.get(GRAPH, params=query), status, code, *words)


# -- who sees what ------------------------------------------------------------------------


def test_an_external_dataset_is_a_start_by_its_node_id(server: ServerHandle) -> None:
    """External datasets have no catalog name: a graph is asked for from one by the id an
    answer gave it, and what is around it is redacted as from any start."""
    admin = server.admin
    tree = make_tables(admin, "hidden_sink", "open_sink")
    hidden_sink, open_sink = tree.table("hidden_sink"), tree.table("open_sink")
    source = dataset(f"raw/{unique('f')}.parquet", "s3://lake")
    post(admin, event([source], [dataset(hidden_sink), dataset(open_sink)]))
    external = next(
        n for n in graph(admin, open_sink, "upstream", 1)["nodes"] if n["type"] == "EXTERNAL"
    )
    user, token = server.create_user()
    ok(admin, f"GRANT SELECT ON TABLE {open_sink} TO `{user}`")
    client = server.client(token)
    answer = client.get(GRAPH, params={"node_id": external["id"], "direction": "downstream"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert names(body) == {external["name"], open_sink}
    assert [n["type"] for n in body["nodes"] if n["redacted"]] == ["TABLE"]
    assert hidden_sink not in answer.text
    error(
        client.get(GRAPH, params={"node_id": "EXTERNAL:ext:nope"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(
        client.get(GRAPH, params={"node_id": f"TABLE:{open_sink}"}),
        400,
        "INVALID_PARAMETER_VALUE",
        "full_name",
    )
    error(client.get(GRAPH), 400, "INVALID_PARAMETER_VALUE", "exactly one")
    both = {"node_id": external["id"], "full_name": open_sink}
    error(client.get(GRAPH, params=both), 400, "INVALID_PARAMETER_VALUE", "exactly one")


def test_hidden_nodes_are_redacted_and_never_named(server: ServerHandle) -> None:
    admin = server.admin
    open_tree = make_tables(admin, "raw", "report")
    secret_tree = make_tables(admin, "secret_mid")
    raw, report = open_tree.table("raw"), open_tree.table("report")
    secret = secret_tree.table("secret_mid")
    flow(admin, raw, secret)
    flow(admin, secret, report)
    post(admin, event([dataset(secret)], [dataset("sink/x", "s3://out")]))
    user, token = server.create_user()
    ok(admin, f"GRANT BROWSE ON TABLE {raw} TO `{user}`")
    ok(admin, f"GRANT SELECT ON TABLE {report} TO `{user}`")
    secret_id = admin.get(f"{UC}/tables/{secret}").json()["table_id"]

    client = server.client(token)
    response = client.get(GRAPH, params={"full_name": raw, "direction": "downstream", "depth": 3})
    assert response.status_code == 200, response.text
    assert secret not in response.text and "secret_mid" not in response.text
    assert secret_id not in response.text and secret_tree.catalog not in response.text
    body = response.json()
    by_id = {n["id"]: n for n in body["nodes"]}
    hidden = [n for n in body["nodes"] if n["redacted"]]
    assert hidden == [{"id": "redacted-1", "type": "TABLE", "name": None, "redacted": True}]
    # Edges keep their shape: raw → (hidden) → report, and (hidden) → the external sink.
    shape = {
        (by_id[e["source"]]["name"] or e["source"], by_id[e["target"]]["name"] or e["target"])
        for e in body["edges"]
    }
    assert shape == {(raw, "redacted-1"), ("redacted-1", report), ("redacted-1", "s3://out/sink/x")}
    # Column lineage through the hidden node hides its column names too.
    columns = client.get(
        GRAPH, params={"full_name": raw, "direction": "downstream", "include_columns": "true"}
    )
    assert secret not in columns.text and secret_id not in columns.text

    # The admin sees everything.
    assert secret in names(graph(admin, raw, "downstream", 3))
    # USE CATALOG shows the catalog, not the table: still redacted.
    ok(admin, f"GRANT USE CATALOG ON CATALOG {secret_tree.catalog} TO `{user}`")
    still = client.get(GRAPH, params={"full_name": raw, "direction": "downstream"}).json()
    assert secret not in names(still)
    # Once the user may see the middle table (a privilege that applies to it, on it or a
    # container), it is named.
    ok(admin, f"GRANT SELECT ON SCHEMA {secret_tree.schema} TO `{user}`")
    visible = client.get(GRAPH, params={"full_name": raw, "direction": "downstream"}).json()
    assert secret in names(visible) and not any(n["redacted"] for n in visible["nodes"])


def test_redacted_placeholders_are_numbered_per_answer(server: ServerHandle) -> None:
    admin = server.admin
    mine = make_tables(admin, "top")
    hidden = make_tables(admin, "h1", "h2")
    top = mine.table("top")
    flow(admin, hidden.table("h1"), top)
    flow(admin, hidden.table("h2"), top)
    flow(admin, hidden.table("h1"), hidden.table("h2"))
    user, token = server.create_user()
    ok(admin, f"GRANT BROWSE ON TABLE {top} TO `{user}`")
    body = graph(server.client(token), top, "upstream", 2)
    redacted = sorted(n["id"] for n in body["nodes"] if n["redacted"])
    assert redacted == ["redacted-1", "redacted-2"]
    assert len(body["edges"]) == 3
    assert hidden.catalog not in json.dumps(body)


def test_dropped_objects_are_shown_to_admins_only(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "a", "gone", "c")
    a, gone, c = (tree.table(x) for x in ("a", "gone", "c"))
    flow(admin, a, gone)
    flow(admin, gone, c)
    ok(admin, f"DROP TABLE {gone}")
    assert names(graph(admin, a, "downstream", 2)) == {a, gone, c}
    user, token = server.create_user()
    ok(admin, f"GRANT BROWSE ON SCHEMA {tree.schema} TO `{user}`")
    response = server.client(token).get(GRAPH, params={"full_name": a, "direction": "downstream"})
    assert response.status_code == 200 and gone not in response.text
    assert names(response.json()) == {a, c}


def test_reading_needs_to_see_the_object(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "a", "b")
    a, b = tree.table("a"), tree.table("b")
    flow(admin, a, b)
    user, token = server.create_user()
    client = server.client(token)
    # An object the caller may not see answers exactly as a missing one.
    refused = error(client.get(GRAPH, params={"full_name": a}), 404, "RESOURCE_DOES_NOT_EXIST")
    gone = error(
        client.get(GRAPH, params={"full_name": tree.table("nope")}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert refused.replace(a, "X") == gone.replace(tree.table("nope"), "X")
    # BROWSE needs no USE CATALOG / USE SCHEMA; nor does SELECT, which also shows it.
    ok(admin, f"GRANT BROWSE ON TABLE {a} TO `{user}`")
    body = graph(client, a)
    assert names(body) == {a} and len(body["nodes"]) == 2  # b is there, redacted
    ok(admin, f"GRANT SELECT ON TABLE {b} TO `{user}`")
    assert names(graph(client, b)) == {a, b}
    # Missing objects are 404 for everyone.
    error(
        client.get(GRAPH, params={"full_name": tree.table("nope")}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    # A catalog or schema is not a lineage node.
    error(admin.get(GRAPH, params={"full_name": tree.catalog}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_posting_needs_modify_on_outputs_and_browse_on_inputs(server: ServerHandle) -> None:
    admin = server.admin
    tree = make_tables(admin, "src", "dst", "other")
    src, dst, other = (tree.table(x) for x in ("src", "dst", "other"))
    user, token = server.create_user()
    client = server.client(token)
    body = event([dataset(src)], [dataset(dst)])

    # Tables it may not see answer as missing; seen but not writable is a denial.
    error(client.post(LINEAGE, json=body), 404, "RESOURCE_DOES_NOT_EXIST", tree.catalog)
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{user}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{user}`")
    error(client.post(LINEAGE, json=body), 404, "RESOURCE_DOES_NOT_EXIST", dst)
    ok(admin, f"GRANT BROWSE ON TABLE {dst} TO `{user}`")
    error(client.post(LINEAGE, json=body), 403, "PERMISSION_DENIED", "MODIFY", dst)
    ok(admin, f"GRANT MODIFY ON TABLE {dst} TO `{user}`")
    error(client.post(LINEAGE, json=body), 404, "RESOURCE_DOES_NOT_EXIST", src)
    ok(admin, f"GRANT BROWSE ON TABLE {src} TO `{user}`")
    response = post(client, body)
    (edge,) = graph(admin, dst, "upstream", 1)["edges"]
    assert edge["principal"] == user and edge["request_id"] == response.headers["x-request-id"]
    # Reading a table it cannot see: refused, and nothing of the event is recorded.
    hidden = make_tables(admin, "h")
    refused = client.post(LINEAGE, json=event([dataset(hidden.table("h"))], [dataset(dst)]))
    error(refused, 404, "RESOURCE_DOES_NOT_EXIST", hidden.catalog)
    # Outputs it may not modify: refused even when another output is allowed.
    both = event([dataset(src)], [dataset(dst), dataset(other)])
    error(client.post(LINEAGE, json=both), 404, "RESOURCE_DOES_NOT_EXIST", other)
    ok(admin, f"GRANT SELECT ON TABLE {other} TO `{user}`")
    error(client.post(LINEAGE, json=both), 403, "PERMISSION_DENIED", "MODIFY", other)
    assert graph(admin, other)["edges"] == []
    assert graph(admin, dst, "upstream", 1)["edges"][0]["count"] == 1
    # External datasets need nothing but a token.
    post(client, event([dataset("in", "s3://x")], [dataset("out", "s3://y")]))


def test_metastore_admin_may_post_lineage_without_data_privileges(server: ServerHandle) -> None:
    """Lineage is metadata: the admin records it for tables it may not read or write."""
    admin = server.admin
    tree = make_tables(admin, "a", "b")
    owner, _ = server.create_user()
    for name in ("a", "b"):
        ok(admin, f"ALTER TABLE {tree.table(name)} OWNER TO `{owner}`")
    flow(admin, tree.table("a"), tree.table("b"))
    assert graph(admin, tree.table("b"))["edges"][0]["principal"] == "admin"


# -- the registry's node types ------------------------------------------------------------


def test_model_lineage_through_record_edges(server: ServerHandle) -> None:
    """What the registry will record: training table → model version, read from the model."""
    admin = server.admin
    tree = make_tables(admin, "train", "features")
    model = f"{tree.schema}.m"
    created = admin.post(
        f"{UC}/models", json={"catalog_name": tree.catalog, "schema_name": "s", "name": "m"}
    )
    assert created.status_code == 200, created.text
    db = Database(server.database_url)
    try:
        with db.transaction() as session:
            store = SqlNamespaceStore(session)
            train = store.get(SecurableType.TABLE, tree.table("train"))
            features = store.get(SecurableType.TABLE, tree.table("features"))
            record = store.get(SecurableType.MODEL, model)
            assert train and features and record
            version = model_version_node(record, 1)
            record_edges(
                session,
                [
                    Edge(securable_node(train), version, EdgeKind.TRAINING),
                    Edge(securable_node(features), version, EdgeKind.FEATURE_LOOKUP),
                ],
                principal="admin",
            )
    finally:
        db.dispose()
    body = graph(admin, model, "upstream", 1)
    kinds = {(n["type"], n["name"], n.get("version")) for n in body["nodes"]}
    assert kinds == {
        ("MODEL_VERSION", model, 1),
        ("TABLE", tree.table("train"), None),
        ("TABLE", tree.table("features"), None),
    }
    assert {e["kind"] for e in body["edges"]} == {"training", "feature_lookup"}
    assert all(e["request_id"] is None for e in body["edges"])  # recorded outside a request
    downstream = graph(admin, tree.table("train"), "downstream", 1)
    assert ("MODEL_VERSION", model, 1) in {
        (n["type"], n["name"], n.get("version")) for n in downstream["nodes"]
    }
    # A user who cannot see the model sees a redacted version node, without its number.
    user, token = server.create_user()
    ok(admin, f"GRANT BROWSE ON TABLE {tree.table('train')} TO `{user}`")
    hidden = server.client(token).get(GRAPH, params={"full_name": tree.table("train")})
    node = [n for n in hidden.json()["nodes"] if n["redacted"]]
    assert node == [{"id": "redacted-1", "type": "MODEL_VERSION", "name": None, "redacted": True}]


def _ready_version(admin: httpx.Client, model: str) -> int:
    """A new version of ``model``, finalized (only a READY version may hold an alias)."""
    catalog, schema, name = model.split(".")
    created = admin.post(
        f"{UC}/models/versions",
        json={"catalog_name": catalog, "schema_name": schema, "model_name": name, "source": "x"},
    )
    assert created.status_code == 200, created.text
    version = int(created.json()["version"])
    write_mlmodel(created.json()["storage_location"])
    done = admin.patch(
        f"{UC}/models/{model}/versions/{version}/finalize",
        json={"full_name": model, "version": version},
    )
    assert done.status_code == 200, done.text
    return version


def test_moving_an_alias_records_an_alias_edge(server: ServerHandle) -> None:
    """Each time an alias is pointed at a version the registry records version → model, so the
    graph shows which versions have served under the model's aliases, and who moved them."""
    admin = server.admin
    tree = make_tables(admin)
    model = tree.table("m")
    created = admin.post(
        f"{UC}/models", json={"catalog_name": tree.catalog, "schema_name": "s", "name": "m"}
    )
    assert created.status_code == 200, created.text
    one, two = _ready_version(admin, model), _ready_version(admin, model)
    assert graph(admin, model, "upstream", 1)["edges"] == []  # versions alone: no alias edge

    set_first = admin.put(f"{UC}/models/{model}/aliases/champion", json={"version_num": one})
    assert set_first.status_code == 200, set_first.text
    user, token = server.create_user()
    ok(admin, f"GRANT MANAGE ON MODEL {model} TO `{user}`")
    ok(admin, f"GRANT USE CATALOG ON CATALOG {tree.catalog} TO `{user}`")
    ok(admin, f"GRANT USE SCHEMA ON SCHEMA {tree.schema} TO `{user}`")
    moved = server.client(token).put(
        f"{UC}/models/{model}/aliases/champion", json={"version_num": two}
    )
    assert moved.status_code == 200, moved.text

    body = graph(admin, model, "upstream", 1)
    nodes = {n["id"]: n for n in body["nodes"]}
    edges = {
        (nodes[e["source"]]["type"], nodes[e["source"]].get("version")): e for e in body["edges"]
    }
    assert set(edges) == {("MODEL_VERSION", one), ("MODEL_VERSION", two)}
    for (_, version), edge in edges.items():
        assert edge["kind"] == "alias"
        assert nodes[edge["target"]] == body["nodes"][0]  # into the model asked about
        assert body["nodes"][0]["type"] == "MODEL" and body["nodes"][0]["name"] == model
        assert edge["count"] == 1
        request = set_first if version == one else moved
        assert edge["request_id"] == request.headers["x-request-id"]
        assert edge["principal"] == ("admin" if version == one else user)
    # The same edge in the system table, as an alias edge.
    rows = ok(
        admin,
        "SELECT source_type, target_type, target_table_full_name, entity_type, created_by "
        "FROM system.access.table_lineage WHERE request_id = :r",
        parameters=[{"name": "r", "value": moved.headers["x-request-id"]}],
    )
    assert rows == [["MODEL_VERSION", "MODEL", model, "MODEL_ALIAS", user]]


# -- the CLI ------------------------------------------------------------------------------


def steward(server: ServerHandle, *args: str) -> str:
    return run_steward(*args, server=server).stdout


def test_cli_formats(server: ServerHandle) -> None:
    admin = server.admin
    a, b, c = chain(admin, "a", "b", "c")
    flow(admin, c, a)  # a cycle, to see the tree stop
    post(admin, event([dataset("raw/file.csv", "s3://in")], [dataset(a)]))

    as_json = json.loads(steward(server, "lineage", b, "--format", "json", "--depth", "2"))
    assert names(as_json) >= {a, b, c}

    tree = steward(server, "lineage", b, "--direction", "upstream", "--depth", "3")
    lines = tree.splitlines()
    assert lines[0] == f"{b} (TABLE)"
    assert lines[1] == "└── upstream"
    assert any(a in line and "[openlineage ×1]" in line for line in lines)
    assert any("s3://in/raw/file.csv (EXTERNAL)" in line for line in lines)
    assert any(c in line and "(cycle)" not in line for line in lines)
    assert "downstream" not in tree

    both = steward(server, "lineage", b, "--depth", "5")
    assert "├── upstream" in both and "└── downstream" in both and "(cycle)" in both

    dot = steward(server, "lineage", b, "--format", "dot")
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert f'"{b}\\nTABLE"' in dot and "->" in dot

    mermaid = steward(server, "lineage", b, "--format", "mermaid", "-d", "downstream")
    assert mermaid.startswith("flowchart LR")
    assert f"{c}<br/>TABLE" in mermaid and "-->|openlineage|" in mermaid


def test_cli_redacts_and_reports_errors(server: ServerHandle) -> None:
    admin = server.admin
    mine = make_tables(admin, "top")
    hidden = make_tables(admin, "h")
    flow(admin, hidden.table("h"), mine.table("top"))
    user, token = server.create_user()
    ok(admin, f"GRANT BROWSE ON TABLE {mine.table('top')} TO `{user}`")
    env = {**os.environ, "STEWARD_URL": server.url, "STEWARD_TOKEN": token}
    for fmt in ("tree", "json", "dot", "mermaid"):
        out = subprocess.run(
            [sys.executable, "-m", "steward", "lineage", mine.table("top"), "--format", fmt],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert hidden.table("h") not in out.stdout and "redacted" in out.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "steward", "lineage", "no.such.table"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and "RESOURCE_DOES_NOT_EXIST" in missing.stderr
