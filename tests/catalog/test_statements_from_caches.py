"""SHOW and DESCRIBE statements answered from the caches on the event loop
(``StatementExecutor.answer_from_caches``): the same answer as running the statement,
for every caller and outcome, never stale, kept and audited like any other."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import catalog.namespace as namespace_module
from catalog.access.authorizer import Caller
from catalog.records import PrincipalKind
from catalog.runtime import Runtime
from catalog.sql import StatementExecutor
from catalog.sql.executor import FROM_CACHES, SHOWN
from common.errors import StewardError
from policy.dialect import SqlSyntaxError
from policy.securables import SecurableType
from tests.support import ServerHandle, unique

SQL = "/api/2.0/sql/statements"
AUDIT = "/api/2.1/steward/audit"


class World:
    """A catalog with a schema the user may use, one hidden from it, and tables in both."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.admin = rt.identity.authenticate("dapi-admin")
        self.c, self.user_name = unique("c"), unique("u")
        rt.identity.create_principal(PrincipalKind.USER, self.user_name)
        for statement in (
            f"CREATE CATALOG {self.c}",
            f"CREATE SCHEMA {self.c}.s",
            f"CREATE SCHEMA {self.c}.hidden",
            f"CREATE TABLE {self.c}.s.a (id BIGINT)",
            f"CREATE TABLE {self.c}.s.b (id BIGINT)",
            f"CREATE TABLE {self.c}.s.seen (id BIGINT)",
            f"CREATE TABLE {self.c}.hidden.h (id BIGINT)",
            f"GRANT USE CATALOG ON CATALOG {self.c} TO `{self.user_name}`",
            f"GRANT USE SCHEMA ON SCHEMA {self.c}.s TO `{self.user_name}`",
            f"GRANT SELECT ON TABLE {self.c}.s.seen TO `{self.user_name}`",
        ):
            self.sql(statement)

    def user(self) -> Caller:
        principal = self.rt.identity.get_by_name(self.user_name)
        assert principal is not None
        return Caller(principal, self.rt.authorizer.feed.engine.groups(self.user_name))

    def sql(self, statement: str) -> None:
        StatementExecutor(self.rt, self.admin).execute(statement)

    def statements(self) -> list[tuple[str, dict[str, str]]]:
        """(text, defaults) of every kind of SHOW, with every outcome."""
        c = self.c
        return [
            ("SHOW CATALOGS", {}),
            (f"SHOW SCHEMAS IN {c}", {}),
            (f"SHOW TABLES IN {c}.s", {}),
            (f"show tables in {c.upper()}.S", {}),
            ("SHOW TABLES", {"catalog": c, "schema": "s"}),
            ("SHOW TABLES IN s", {"catalog": c}),
            (f"SHOW TABLES IN {c}.hidden", {}),  # hidden from the user: as missing
            (f"SHOW TABLES IN {c}.missing", {}),
            (f"SHOW SCHEMAS IN {unique('nocatalog')}", {}),
            ("SHOW TABLES", {}),  # no defaults: not fully qualified
            (f"SHOW TABLES IN {c}.s.a", {}),  # too many name parts: never kept
            (f"SHOW MODELS IN {c}.s", {}),
            (f"SHOW FUNCTIONS IN {c}.s", {}),
            (f"DESCRIBE TABLE {c}.s.seen", {}),
            (f"DESCRIBE TABLE {c}.s.a", {}),  # seen by the admin only
            ("DESCRIBE TABLE s.seen", {"catalog": c}),
            (f"DESCRIBE TABLE EXTENDED {c}.s.seen", {}),  # tags and policies: never cached
            (f"DESCRIBE TABLE {c}.hidden.h", {}),
            (f"DESCRIBE TABLE {c}.s.missing", {}),
            (f"DESCRIBE SCHEMA {c}.s", {}),
            (f"DESCRIBE CATALOG {c}", {}),
            (f"DESCRIBE MODEL {c}.s.seen", {}),  # a table, not a model
        ]


def outcome(run: Any) -> tuple[str, Any]:
    try:
        result = run()
    except (StewardError, SqlSyntaxError) as exc:
        return ("error", (type(exc).__name__, str(exc)))
    if result is None:
        return ("not answered", None)
    return ("result", (result.columns, result.rows, result.truncated))


def executor(world: World, caller: Caller, defaults: dict[str, str]) -> StatementExecutor:
    return StatementExecutor(world.rt, caller, defaults.get("catalog"), defaults.get("schema"))


def both_ways(
    world: World, caller: Caller, text: str, defaults: dict[str, str] | None = None
) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """The statement's outcome run, then from the caches. On PostgreSQL this process's own
    changes also come back to it as notifications a moment later, and each drops what it
    makes stale from the caches: until they have all arrived the caches may not answer,
    so this asks again a few times, each time right after running the statement."""
    given = defaults or {}
    for _ in range(10):
        ran = outcome(lambda: executor(world, caller, given).execute(text))
        fast = outcome(lambda: executor(world, caller, given).answer_from_caches(text))
        if fast[0] != "not answered":
            break
        time.sleep(0.02)
    return ran, fast


def test_the_caches_answer_as_running_the_statement_does(runtime: Runtime) -> None:
    """Each answer from the caches equals running the statement (result or refusal); what
    they do not keep (a missing level, EXTENDED's tags and policies) is not answered."""
    world = World(runtime)
    answered: dict[str, set[str]] = {}
    for caller in (world.admin, world.user()):
        for text, defaults in world.statements():
            ran, fast = both_ways(world, caller, text, defaults)
            if fast[0] != "not answered":
                assert fast == ran, (caller.name, text)
                answered.setdefault(caller.name, set()).add(f"{text} {defaults}")
    c = world.c
    for who in (world.admin.name, world.user_name):
        assert answered[who] >= {
            "SHOW CATALOGS {}",
            f"SHOW SCHEMAS IN {c} {{}}",
            f"SHOW TABLES IN {c}.s {{}}",
            f"show tables in {c.upper()}.S {{}}",
            f"SHOW TABLES {{'catalog': '{c}', 'schema': 's'}}",
            f"SHOW TABLES IN s {{'catalog': '{c}'}}",
            f"SHOW TABLES IN {c}.hidden {{}}",
            "SHOW TABLES {}",
            f"SHOW MODELS IN {c}.s {{}}",
            f"SHOW FUNCTIONS IN {c}.s {{}}",
            f"DESCRIBE TABLE {c}.s.seen {{}}",
            f"DESCRIBE TABLE {c}.s.a {{}}",
            f"DESCRIBE TABLE s.seen {{'catalog': '{c}'}}",
            f"DESCRIBE TABLE {c}.hidden.h {{}}",
            f"DESCRIBE SCHEMA {c}.s {{}}",
            f"DESCRIBE CATALOG {c} {{}}",
        }, who
        assert f"DESCRIBE TABLE EXTENDED {c}.s.seen {{}}" not in answered[who]
    _, (kind, (_, rows, _)) = both_ways(world, world.user(), f"SHOW TABLES IN {c}.s")
    assert kind == "result" and rows == [[c, "s", "seen"]]  # the user's share only


def test_an_answer_from_the_caches_follows_changes_at_once(runtime: Runtime) -> None:
    world = World(runtime)
    text = f"SHOW TABLES IN {world.c}.s"
    user = world.user()

    def shown() -> tuple[str, Any]:
        ran, fast = both_ways(world, user, text)
        assert fast == ran
        return fast

    def tables() -> list[str]:
        kind, (_, rows, _) = shown()
        assert kind == "result"
        return [row[2] for row in rows]

    assert tables() == ["seen"]
    world.sql(f"GRANT SELECT ON TABLE {world.c}.s.a TO `{world.user_name}`")
    assert tables() == ["a", "seen"]
    world.sql(f"CREATE TABLE {world.c}.s.later (id BIGINT)")
    world.sql(f"GRANT SELECT ON SCHEMA {world.c}.s TO `{world.user_name}`")
    assert tables() == ["a", "b", "later", "seen"]
    world.sql(f"DROP TABLE {world.c}.s.b")
    assert tables() == ["a", "later", "seen"]
    for statement in (
        f"REVOKE USE SCHEMA ON SCHEMA {world.c}.s FROM `{world.user_name}`",
        f"REVOKE SELECT ON SCHEMA {world.c}.s FROM `{world.user_name}`",
        f"REVOKE SELECT ON TABLE {world.c}.s.a FROM `{world.user_name}`",
        f"REVOKE SELECT ON TABLE {world.c}.s.seen FROM `{world.user_name}`",
        f"REVOKE USE CATALOG ON CATALOG {world.c} FROM `{world.user_name}`",
    ):
        world.sql(statement)
        shown()
    kind, (error, _) = shown()
    assert kind == "error" and error == "Hidden"


def test_only_statements_seen_lately_are_answered(runtime: Runtime) -> None:
    world = World(runtime)
    fresh = f"SHOW TABLES IN {world.c}.s -- {unique('never parsed')}"
    assert executor(world, world.admin, {}).answer_from_caches(fresh) is None  # not parsed
    assert both_ways(world, world.admin, fresh)[1][0] == "result"
    kept_select = f"SELECT 1 AS {unique('x')}"
    executor(world, world.admin, {}).execute(kept_select)
    assert executor(world, world.admin, {}).answer_from_caches(kept_select) is None  # not a SHOW
    assert set(FROM_CACHES) >= set(SHOWN)
    assert set(SHOWN.values()) == {
        SecurableType.CATALOG,
        SecurableType.SCHEMA,
        SecurableType.TABLE,
        SecurableType.MODEL,
        SecurableType.FUNCTION,
    }


def test_a_show_answered_on_the_event_loop_is_kept_and_audited(server: ServerHandle) -> None:
    """Over HTTP: the same statement three times (the first parses it; the others are
    answered from the caches) gives the same answer, each kept for its caller alone and
    audited with its text."""
    admin = server.admin
    c = unique("c")
    for statement in (
        f"CREATE CATALOG {c}",
        f"CREATE SCHEMA {c}.s",
        f"CREATE TABLE {c}.s.t (i INT)",
    ):
        assert (
            admin.post(SQL, json={"statement": statement}).json()["status"]["state"] == "SUCCEEDED"
        )
    _, token = server.create_user()
    user = server.client(token)
    text = f"SHOW TABLES IN {c}.s"
    answers = [admin.post(SQL, json={"statement": text}).json() for _ in range(3)]
    ids = [answer.pop("statement_id") for answer in answers]
    assert answers[0]["result"]["data_array"] == [[c, "s", "t"]]
    assert answers[1:] == answers[:1] * 2
    for statement_id in ids:
        kept = admin.get(f"{SQL}/{statement_id}")
        assert kept.status_code == 200 and kept.json()["statement_id"] == statement_id
        assert user.get(f"{SQL}/{statement_id}").status_code == 404
    refused = [user.post(SQL, json={"statement": text}).json() for _ in range(3)]
    assert {r["status"]["error"]["error_code"] for r in refused} == {"RESOURCE_DOES_NOT_EXIST"}
    assert len({r["status"]["error"]["message"] for r in refused}) == 1
    events = audit_events(admin, ids + [r["statement_id"] for r in refused])
    statuses = {e["request_params"]["statement_id"]: e["response"]["status_code"] for e in events}
    assert [statuses[i] for i in ids] == [200] * 3
    denied = {statuses[r["statement_id"]] for r in refused}
    assert len(denied) == 1 and denied != {200}  # the three refusals recorded alike
    assert {e["request_params"]["statement"] for e in events} == {text}
    assert {e["request_params"]["statement_kind"] for e in events} == {"SHOW TABLES"}


def audit_events(admin: httpx.Client, statement_ids: list[str]) -> list[dict[str, Any]]:
    """The statements' events, among the latest (newest first) of the server's."""
    wanted = set(statement_ids)
    latest = {"action": "listTables", "max_results": 1000}
    events = admin.get(AUDIT, params=latest).json()["events"]
    return [e for e in events if e["request_params"].get("statement_id") in wanted]


def test_a_listing_on_the_event_loop_is_one_page_found_in_few_batches(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many tables a schema holds and however few of them the caller sees, the
    event loop scans a bounded number of cached records; past that the statement runs on
    a worker thread (pages of two and one batch here, instead of 250 and two)."""
    world = World(runtime)
    monkeypatch.setattr(namespace_module, "_NAMES_PAGE", 2)
    monkeypatch.setattr(namespace_module, "_LOOP_SCAN_BATCHES", 1)
    text = f"SHOW TABLES IN {world.c}.s"
    c = world.c
    # The user sees the third table of three: past the one batch of two it may scan.
    ran, fast = both_ways(world, world.user(), text)
    assert ran == ("result", (STRINGS, [[c, "s", "seen"]], False)) and fast[0] == "not answered"
    # The admin sees all three: more than one page.
    ran, fast = both_ways(world, world.admin, text)
    assert len(ran[1][1]) == 3 and fast[0] == "not answered"
    monkeypatch.setattr(namespace_module, "_LOOP_SCAN_BATCHES", 2)
    ran, fast = both_ways(world, world.user(), text)
    assert fast == ran == ("result", (STRINGS, [[c, "s", "seen"]], False))
    monkeypatch.setattr(namespace_module, "_NAMES_PAGE", 3)
    ran, fast = both_ways(world, world.admin, text)
    assert fast == ran and len(ran[1][1]) == 3


STRINGS = [("catalog", "string"), ("schema", "string"), ("tableName", "string")]
