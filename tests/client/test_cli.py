"""The ``steward`` command against a running server, as a person or a script would use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tests.support import ServerHandle, unique
from tests.support import run_steward as steward


def test_namespace_round_trip_through_the_cli(server: ServerHandle) -> None:
    cat = unique("cli")
    created = json.loads(
        steward("catalogs", "create", cat, "--comment", "from cli", "--json", server=server).stdout
    )
    assert created["name"] == cat and created["comment"] == "from cli"
    listed = json.loads(steward("catalogs", "list", "--json", server=server).stdout)
    assert cat in {c["name"] for c in listed}
    assert cat in steward("catalogs", "list", server=server).stdout  # the table for people

    steward("schemas", "create", f"{cat}.feat", server=server)
    table = json.loads(
        steward(
            "tables",
            "create",
            f"{cat}.feat.customers",
            "-c",
            "customer_id:bigint",
            "-c",
            "ts:timestamp",
            "-c",
            "spend:decimal(10,2)",
            "-k",
            "customer_id",
            "-k",
            "ts",
            "--timeseries",
            "ts",
            "--json",
            server=server,
        ).stdout
    )
    assert [c["type_name"] for c in table["columns"]] == ["LONG", "TIMESTAMP", "DECIMAL"]
    assert table["columns"][2]["type_precision"] == 10
    pk = table["table_constraints"][0]["primary_key_constraint"]
    assert pk["child_columns"] == ["customer_id", "ts"] and pk["timeseries_columns"] == ["ts"]
    got = json.loads(
        steward("tables", "get", f"{cat}.feat.customers", "--json", server=server).stdout
    )
    assert got["table_id"] == table["table_id"]
    assert [
        t["name"]
        for t in json.loads(
            steward("tables", "list", f"{cat}.feat", "--json", server=server).stdout
        )
    ] == ["customers"]

    steward("models", "create", f"{cat}.feat.churn", server=server)
    model = json.loads(
        steward("models", "get", f"{cat}.feat.churn", "--json", server=server).stdout
    )
    assert model["full_name"] == f"{cat}.feat.churn" and model["versions"] == []
    assert f"{cat}.feat.churn" in {
        m["full_name"]
        for m in json.loads(
            steward("models", "list", f"{cat}.feat", "--json", server=server).stdout
        )
    }

    refused = steward("catalogs", "delete", cat, server=server, check=False)
    assert refused.returncode == 1 and "not empty" in refused.stderr
    steward("catalogs", "delete", cat, "--force", server=server)
    missing = steward("catalogs", "get", cat, server=server, check=False)
    assert missing.returncode == 1 and "RESOURCE_DOES_NOT_EXIST" in missing.stderr


def test_users_groups_and_tokens_through_the_cli(server: ServerHandle) -> None:
    user = f"{unique('u')}@example.com"
    group = unique("grp")
    steward("users", "create", user, server=server)
    steward("groups", "create", group, server=server)
    steward("groups", "add-member", group, user, server=server)
    groups = json.loads(steward("groups", "list", "--json", server=server).stdout)
    assert next(g for g in groups if g["displayName"] == group)["members"] == user
    token = steward(
        "token", "create", "--for", user, "--comment", "cli", server=server
    ).stdout.strip()
    assert token.startswith("dapi")
    # The new user's own token works for its own calls and is refused admin ones.
    own = json.loads(
        steward(
            "token", "create", "--json", "--lifetime-seconds", "60", server=server, token=token
        ).stdout
    )
    assert own["token_info"]["comment"] == ""
    denied = steward("users", "create", "x@example.com", server=server, token=token, check=False)
    assert denied.returncode == 1 and "PERMISSION_DENIED" in denied.stderr
    steward("groups", "remove-member", group, user, server=server)
    steward("users", "delete", user, server=server)
    assert user not in steward("users", "list", server=server).stdout


def test_feature_rows_through_the_cli(server: ServerHandle, tmp_path: Path) -> None:
    cat = unique("cli")
    table = f"{cat}.fs.customers"
    steward("catalogs", "create", cat, server=server)
    steward("schemas", "create", f"{cat}.fs", server=server)
    steward(
        "tables",
        "create",
        table,
        "-c",
        "customer_id:bigint",
        "-c",
        "ts:timestamp",
        "-c",
        "plan:string",
        "-k",
        "customer_id",
        "-k",
        "ts",
        "--timeseries",
        "ts",
        server=server,
    )
    csv_file = tmp_path / "rows.csv"
    csv_file.write_text(
        "customer_id,ts,plan\n1,2026-01-01T00:00:00Z,basic\n1,2026-02-01T00:00:00Z,pro\n"
    )
    written = steward("tables", "write", table, str(csv_file), server=server).stdout
    assert "2 rows written" in written and "2 inserted" in written
    lines = tmp_path / "more.jsonl"
    lines.write_text('{"customer_id": 1, "ts": "2026-02-01T00:00:00Z", "plan": "max"}\n')
    assert "1 updated" in steward("tables", "write", table, str(lines), server=server).stdout
    latest = json.loads(
        steward("tables", "lookup", table, "customer_id=1", "--json", server=server).stdout
    )
    assert latest["plan"] == "max"
    earlier = json.loads(
        steward(
            "tables",
            "lookup",
            table,
            "customer_id=1",
            "--as-of",
            "2026-01-15",
            "--json",
            server=server,
        ).stdout
    )
    assert earlier["plan"] == "basic"
    missing = steward("tables", "lookup", table, "customer_id=2", server=server, check=False)
    assert missing.returncode == 1 and "no row" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('[{"customer_id": "x", "ts": "2026-01-01"}]')
    refused = steward("tables", "write", table, str(bad), server=server, check=False)
    assert refused.returncode == 1 and "row 1: column 'customer_id'" in refused.stderr


def test_tables_write_batches_files_larger_than_one_request(
    server: ServerHandle, tmp_path: Path
) -> None:
    """A 2.5 MB CSV (25,000 rows) and a JSON-lines file of as many rows: more than the
    server's body limit and its rows per write, sent in batches, every row written."""
    cat = unique("big")
    table = f"{cat}.fs.events"
    steward("catalogs", "create", cat, server=server)
    steward("schemas", "create", f"{cat}.fs", server=server)
    steward(
        "tables",
        "create",
        table,
        "-c",
        "id:bigint",
        "-c",
        "note:string",
        "-k",
        "id",
        server=server,
    )
    n = 25_000
    big = tmp_path / "big.csv"
    big.write_text(
        "id,note\n" + "".join(f'{i},"padding, with a comma {i:060d}"\n' for i in range(n))
    )
    assert big.stat().st_size > 2 << 20
    written = steward("tables", "write", table, str(big), server=server)
    assert f"{n} rows written" in written.stdout, written.stdout + written.stderr
    assert "batch 3/" in written.stderr
    lines = tmp_path / "big.jsonl"
    lines.write_text("".join(f'{{"id": {i}, "note": "json {i:070d}"}}\n' for i in range(n)))
    again = steward("tables", "write", table, str(lines), server=server)
    assert f"{n} rows written" in again.stdout and f"{n} updated" in again.stdout
    progress = [line for line in again.stderr.splitlines() if line.endswith("rows written")]
    assert len(progress) >= 3 and progress[-1] == f"{n}/{n} rows written", again.stderr
    count = steward("sql", f"SELECT count(*) AS n FROM {table}", "--json", server=server)
    assert str(n) in count.stdout


def test_missing_or_bad_token_is_a_clear_cli_error(server: ServerHandle) -> None:
    result = steward("catalogs", "list", server=server, token="dapi-wrong", check=False)
    assert result.returncode == 1
    assert "UNAUTHENTICATED" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["server"],
        ["db", "upgrade"],
        ["catalogs"],
        ["schemas"],
        ["tables", "create"],
        ["tables", "write"],
        ["tables", "lookup"],
        ["models"],
        ["token"],
        ["users"],
        ["groups"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = steward(*command, "--help")
    assert "Usage" in result.stdout


def test_db_upgrade_is_explicit_and_idempotent(database_url: str, tmp_path: Path) -> None:
    for _ in range(2):
        result = steward(
            "db", "upgrade", "--database-url", database_url, "--storage-root", str(tmp_path)
        )
        assert "up to date" in result.stdout
    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "securables",
        "principals",
        "access_tokens",
        "model_versions",
        "alembic_version",
    } <= tables
