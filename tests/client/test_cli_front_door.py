"""The ``steward`` command as a new user first meets it.

Each test runs the real CLI in a subprocess against a real server (SQLite, and
PostgreSQL when configured): ``--version``, ``lineage --json``, UTF-8 diagrams,
readable times, values never cut in a narrow terminal, ``--csv``, a piped SQL script's
exit code, and the server's "listening on" line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from steward.cli.serve import masked_database_url
from tests.support import ROOT, ServerHandle, run_steward, unique

SQL = "/api/2.0/sql/statements"
LINEAGE = "/api/v1/lineage"
#: A terminal wide enough that the tables here never wrap (subprocesses are no terminal).
WIDE = 200


def steward(
    server: ServerHandle | None,
    *args: str,
    columns: int = WIDE,
    stdin: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """The CLI as the admin, in a terminal ``columns`` wide."""
    return run_steward(
        *args, server=server, stdin=stdin, extra_env={"COLUMNS": str(columns)}, check=check
    )


def run_sql(server: ServerHandle, statement: str) -> None:
    """Set-up through the API (not the CLI under test)."""
    answer = server.admin.post(SQL, json={"statement": statement}).json()
    assert answer["status"]["state"] == "SUCCEEDED", answer


def make_table(server: ServerHandle) -> str:
    schema = f"{unique('fd')}.s"
    run_sql(server, f"CREATE CATALOG {schema.split('.')[0]}")
    run_sql(server, f"CREATE SCHEMA {schema}")
    run_sql(server, f"CREATE TABLE {schema}.t (id BIGINT)")
    return f"{schema}.t"


def record_input(admin: httpx.Client, source: str, table: str) -> None:
    """An OpenLineage run that read the external file ``source`` and wrote ``table``."""
    body: dict[str, Any] = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-02T03:04:05.678Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "test", "name": "front-door"},
        "inputs": [{"namespace": "s3://in", "name": source}],
        "outputs": [{"namespace": "steward", "name": table}],
        "producer": "tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    response = admin.post(LINEAGE, json=body)
    assert response.status_code == 201, response.text


def utc_text(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# -- 1. --version -------------------------------------------------------------------------


def test_version_prints_the_installed_version() -> None:
    result = steward(None, "--version")
    assert result.stdout == f"steward {version('steward')}\n"


# -- 2 and 3. lineage ---------------------------------------------------------------------


def test_lineage_takes_json_like_every_command(server: ServerHandle) -> None:
    table = make_table(server)
    graph = json.loads(steward(server, "lineage", table, "--json").stdout)
    assert table in {n["name"] for n in graph["nodes"]}
    assert json.loads(steward(server, "lineage", table, "--format", "json").stdout) == graph
    both = steward(server, "lineage", table, "--json", "--format", "dot", check=False)
    assert both.returncode == 1 and "--json" in both.stderr
    assert steward(server, "lineage", table).stdout.startswith(f"{table} (TABLE)")


def test_lineage_diagrams_write_utf8_and_escape_only_what_they_need(
    server: ServerHandle,
) -> None:
    table = make_table(server)
    record_input(server.admin, 'données "brutes"\\v1.csv', table)

    dot = steward(server, "lineage", table, "--format", "dot").stdout
    assert "u00d7" not in dot and "\\u" not in dot
    assert '[label="openlineage ×1"]' in dot
    assert '"s3://in/données \\"brutes\\"\\\\v1.csv\\nEXTERNAL"' in dot
    assert f'"{table}\\nTABLE"' in dot

    mermaid = steward(server, "lineage", table, "--format", "mermaid").stdout
    assert "u00" not in mermaid
    assert '["s3://in/données #quot;brutes#quot;\\v1.csv<br/>EXTERNAL"]' in mermaid
    assert "-->|openlineage|" in mermaid


# -- 4. times -----------------------------------------------------------------------------


def test_human_output_shows_utc_times_and_json_keeps_epoch_millis(server: ServerHandle) -> None:
    catalog = unique("fd")
    created = json.loads(steward(server, "catalogs", "create", catalog, "--json").stdout)
    millis = created["created_at"]
    assert isinstance(millis, int)
    shown = steward(server, "catalogs", "get", catalog).stdout
    assert utc_text(millis) in shown and str(millis) not in shown

    info = json.loads(steward(server, "token", "create", "--comment", "t", "--json").stdout)
    token = info["token_info"]
    tokens = steward(server, "token", "list").stdout
    line = next(line for line in tokens.splitlines() if token["token_id"] in line)
    assert utc_text(token["creation_time"]) in line and str(token["creation_time"]) not in line
    listed = json.loads(steward(server, "token", "list", "--json").stdout)
    assert token in listed  # the raw values, as the API answers them


# -- 5. never cut, and --csv --------------------------------------------------------------


def test_a_narrow_terminal_shows_every_value_whole(server: ServerHandle) -> None:
    comment = unique("narrow")
    info = json.loads(steward(server, "token", "create", "--comment", comment, "--json").stdout)
    token_id = info["token_info"]["token_id"]

    narrow = steward(server, "token", "list", columns=60).stdout
    assert token_id in narrow and "…" not in narrow
    block = next(b for b in narrow.split("\n\n") if token_id in b)
    assert f"token_id:      {token_id}" in block and comment in block  # field: value lines

    catalog = unique("fd")
    steward(server, "catalogs", "create", catalog, "--comment", "a comment that is long " * 3)
    one = steward(server, "catalogs", "get", catalog, columns=40).stdout
    assert "…" not in one and f"name:             {catalog}" in one

    wide = steward(server, "token", "list", columns=WIDE).stdout
    assert "┃ token_id" in wide and token_id in wide  # a table when it fits


def test_csv_wherever_list_commands_take_json(server: ServerHandle) -> None:
    table = make_table(server)
    catalog, schema, _ = table.split(".")
    expected = {
        ("catalogs", "list"): "name,owner,comment,created_by",
        ("schemas", "list", catalog): "full_name,owner,comment,created_by",
        ("tables", "list", f"{catalog}.{schema}"): "full_name,table_type,owner,comment",
        ("models", "list"): "full_name,owner,comment",
        ("endpoints", "list"): "name,creator,served",
        ("token", "list"): "token_id,comment,creation_time,expiry_time",
        ("users", "list"): "userName,displayName,active,id",
        ("groups", "list"): "displayName,members,id",
        ("audit", "--limit", "3"): "event_time,user,service,action,object,status,error",
        ("sql", "SELECT 1 AS one, 'a,b' AS two"): "one,two",
    }
    for command, header in expected.items():
        out = steward(server, *command, "--csv").stdout
        assert out.splitlines()[0] == header, command
    rows = list(
        csv.DictReader(
            io.StringIO(steward(server, "tables", "list", catalog + ".s", "--csv").stdout)
        )
    )
    assert [r["full_name"] for r in rows] == [table]
    quoted = steward(server, "sql", "SELECT 1 AS one, 'a,b' AS two", "--csv").stdout
    assert list(csv.reader(io.StringIO(quoted))) == [["one", "two"], ["1", "a,b"]]

    tokens = list(csv.DictReader(io.StringIO(steward(server, "token", "list", "--csv").stdout)))
    raw = {t["token_id"]: t for t in json.loads(steward(server, "token", "list", "--json").stdout)}
    assert tokens and all(
        row["creation_time"] == str(raw[row["token_id"]]["creation_time"]) for row in tokens
    )

    both = steward(server, "catalogs", "list", "--csv", "--json", check=False)
    assert both.returncode == 1 and "--json or --csv" in both.stderr


# -- 6. a piped SQL script ----------------------------------------------------------------


def test_a_piped_sql_script_exits_1_when_a_statement_failed(server: ServerHandle) -> None:
    failed = steward(server, "sql", stdin="SELECT 1;\nSELEC x;\n", check=False)
    assert failed.returncode == 1
    assert "PARSE_SYNTAX_ERROR" in failed.stderr
    assert "1" in failed.stdout and "steward>" not in failed.stdout

    later = steward(server, "sql", "--csv", stdin="SELEC x;\nSELECT 2 AS two;\n", check=False)
    assert later.returncode == 1 and later.stdout == "two\n2\n"  # it went on after the error

    clean = steward(server, "sql", "--csv", stdin="SELECT 1 AS one;\nSELECT 2 AS two\n")
    assert clean.stdout == "one\n1\ntwo\n2\n"  # the last statement needs no ';'


def test_use_in_a_script_sets_the_defaults_of_what_follows(server: ServerHandle) -> None:
    catalog = unique("use")
    script = (
        f"CREATE CATALOG {catalog};\nUSE CATALOG {catalog};\nCREATE SCHEMA s;\n"
        "USE SCHEMA s;\nCREATE TABLE t (id BIGINT);\nSHOW TABLES;\nUSE nope;\nSHOW TABLES;\n"
    )
    ran = steward(server, "sql", "--csv", stdin=script, check=False)
    assert ran.returncode == 1 and "does not exist" in ran.stderr  # USE nope changed nothing
    listed = [line for line in ran.stdout.splitlines() if line.endswith(",t")]
    assert listed == [f"{catalog},s,t", f"{catalog},s,t"]


def test_the_interactive_shell_at_a_terminal_goes_on_and_exits_0(
    server: ServerHandle, tmp_path: Path
) -> None:
    typed = ["SELEC x;\n", "SELECT 1 AS one;\n", "\x04"]  # a mistake, a statement, Ctrl-D
    returncode, screen = at_a_terminal(server, tmp_path, ["sql"], typed, "steward> ")
    assert returncode == 0, screen
    assert "PARSE_SYNTAX_ERROR" in screen and "one" in screen


def at_a_terminal(
    server: ServerHandle, home: Path, args: list[str], typed: list[str], prompt: str
) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal; type each line of ``typed`` at a fresh ``prompt``."""
    env = {
        **os.environ,
        "STEWARD_URL": server.url,
        "STEWARD_TOKEN": server.admin_token,
        "HOME": str(home),  # the shell's history file goes there
        "COLUMNS": str(WIDE),
    }
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "steward", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=ROOT,
    )
    os.close(follower)
    screen = ""
    try:
        for count, line in enumerate(typed, start=1):
            while screen.count(prompt) < count:
                chunk = read_terminal(leader)
                assert chunk, f"no prompt {count}:\n{screen}"
                screen += chunk
            os.write(leader, line.encode())
        while chunk := read_terminal(leader):
            screen += chunk
        return process.wait(timeout=60), screen
    finally:
        process.kill()
        os.close(leader)


def read_terminal(leader: int) -> str:
    """What the program wrote next; empty when it closed the terminal (or went silent)."""
    ready, _, _ = select.select([leader], [], [], 60)
    if not ready:
        return ""
    try:
        return os.read(leader, 65536).decode(errors="replace")
    except OSError:  # Linux: EIO once the child is gone
        return ""


# -- 7. the server says where it listens --------------------------------------------------


def test_the_server_logs_where_it_listens(server: ServerHandle) -> None:
    records = server.log_records()
    line = next(r for r in records if r["event"].startswith("Steward listening on"))
    assert line["url"] == server.url
    database = make_url(server.database_url).render_as_string(hide_password=True)
    assert line["event"] == (
        f"Steward listening on {server.url} (database: {database}, "
        f"storage: {server.storage_root.resolve()})"
    )
    assert server.admin_token not in json.dumps(line)


def test_a_database_password_is_masked() -> None:
    masked = masked_database_url("postgresql+psycopg://steward:s3cr%40t@db:5432/steward")
    assert "s3cr" not in masked and masked == "postgresql+psycopg://steward:***@db:5432/steward"
    assert masked_database_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
