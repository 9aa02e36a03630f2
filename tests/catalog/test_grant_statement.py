"""One privilege granted to or revoked from one principal is one statement that finds the
object and the principal itself (``GrantService._one_in_one_statement``); everything
else, and every such change the statement does not write, takes the reads first
(``GrantService._apply``). For every kind of case — the object there or missing at any
level or of another type, the principal there, missing, built in or misspelt, the
privilege valid, unknown, inapplicable or ALL PRIVILEGES, the grant new or already there
— ``update`` must end exactly as the reads-first path alone does: the same error and
message, the same grant lines in the database and in the process's policy engine."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from catalog.access import casbin_rules
from catalog.access.grants import PrivilegeChange
from catalog.namespace import NewSecurable
from catalog.records import ColumnRecord, TableDetailRecord
from catalog.runtime import Runtime
from policy.securables import SecurableType
from tests.catalog.in_process import admin

T = SecurableType
TARGETS = [
    (T.TABLE, "m.s.t"),  # there
    (T.MODEL, "m.s.model"),  # there
    (T.SCHEMA, "m.s"),  # there
    (T.TABLE, "m.s.model"),  # a model, named as a table
    (T.TABLE, "m.s.nope"),  # no such table
    (T.TABLE, "m.nope.t"),  # no such schema
    (T.TABLE, "nope.s.t"),  # no such catalog
    (T.TABLE, "ｍ.s.t"),  # the table, in another spelling of its name
]
PRINCIPALS = ["readers", "ReAdErS", "nobody", "account users", "bad\u0000name"]
PRIVILEGES = ["SELECT", "select", "EXECUTE", "no such", "ALL PRIVILEGES", "USE SCHEMA"]


class _Undo(Exception):
    """Raised to roll the reads-first path's transaction back after looking at it."""


def _setup(rt: Runtime) -> None:
    caller = admin(rt)
    rt.namespace.create(caller, NewSecurable(T.CATALOG, "m"))
    rt.namespace.create(caller, NewSecurable(T.SCHEMA, "m.s"))
    rt.namespace.create(
        caller,
        NewSecurable(T.TABLE, "m.s.t"),
        table=TableDetailRecord("MANAGED", "DELTA", columns=[ColumnRecord("a", "int", "INT", 0)]),
    )
    rt.namespace.create(caller, NewSecurable(T.MODEL, "m.s.model"))
    rt.identity.create_principal("GROUP", "readers")


def _lines(rt: Runtime, session: sa.orm.Session | None = None) -> set[tuple[str, str, str]]:
    if session is not None:
        return set(casbin_rules.all_grants(session))
    with rt.db.read() as read:
        return set(casbin_rules.all_grants(read))


def _engine_lines(rt: Runtime, ids: list[str]) -> set[tuple[str, str, str]]:
    return {
        (g.principal, g.securable, g.privilege)
        for securable in ids
        for g in rt.authorizer.engine.grants_on(securable)
    }


def _reads_first(
    rt: Runtime, kind: SecurableType, name: str, change: PrivilegeChange
) -> tuple[str | None, set[tuple[str, str, str]]]:
    """The outcome of the reads-first path alone, rolled back: (error, lines after)."""
    try:
        with rt.db.transaction() as session:
            rt.grants._apply(session, kind, name, [change])
            after = _lines(rt, session)
            raise _Undo
    except _Undo:
        return None, after
    except Exception as exc:  # the outcome under test
        return f"{type(exc).__name__}: {exc}", _lines(rt)


def test_one_change_in_one_statement_ends_as_the_reads_first(runtime: Runtime) -> None:
    _setup(runtime)
    caller = admin(runtime)
    with runtime.db.read() as session:
        store = runtime.stores.namespace(session)
        ids = [r.id for r in store.get_many(["m", "m.s", "m.s.t", "m.s.model"]).values()]
    took_one_statement = 0
    cases = itertools.product(TARGETS, PRINCIPALS, PRIVILEGES, ("grant", "revoke"), (1, 2))
    for (kind, name), principal, privilege, verb, _time in cases:
        change = (
            PrivilegeChange(principal, add=[privilege])
            if verb == "grant"
            else PrivilegeChange(principal, remove=[privilege])
        )
        expected_error, expected_lines = _reads_first(runtime, kind, name, change)
        with runtime.db.transaction() as session:  # would the statement write? (undone)
            wrote = runtime.grants._one_in_one_statement(session, kind, name, [change])
            session.rollback()
        took_one_statement += wrote is not None
        try:
            runtime.grants.update(caller, kind, name, [change], report=False)
            error = None
        except Exception as exc:  # the outcome under test
            error = f"{type(exc).__name__}: {exc}"
        case = (kind, name, principal, privilege, verb)
        assert error == expected_error, case
        assert _lines(runtime) == expected_lines, case
        assert _engine_lines(runtime, ids) == {line for line in expected_lines if line[1] in ids}, (
            case
        )
    # The statement did the everyday cases (a grant new, a revoke of one there)...
    assert took_one_statement >= 8


@pytest.mark.parametrize("verb", ["grant", "revoke"])
def test_a_change_the_statement_cannot_write_writes_nothing(runtime: Runtime, verb: str) -> None:
    """No object, no principal, or nothing to change: the statement writes no line."""
    _setup(runtime)
    runtime.grants.update(
        admin(runtime), T.TABLE, "m.s.t", [PrivilegeChange("readers", ["SELECT"])]
    )
    before = _lines(runtime)
    for principal, name, kind, privilege in [
        ("nobody", "m.s.t", "TABLE", "SELECT"),
        ("readers", "m.s.nope", "TABLE", "SELECT"),
        ("readers", "m.s.t", "MODEL", "SELECT"),
        ("readers", "m.s.t", "TABLE", "SELECT" if verb == "grant" else "MODIFY"),
    ]:
        with runtime.db.transaction() as session:
            granting = verb == "grant"
            assert (
                casbin_rules.change_grant_on_named(
                    session, granting, principal, name, kind, privilege
                )
                is None
            )
        assert _lines(runtime) == before
