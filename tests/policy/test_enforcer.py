"""The indexed Casbin engine: grants inherit down, groups nest, ALL PRIVILEGES spares MANAGE."""

from __future__ import annotations

from pathlib import Path

import casbin
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.enforcer import MODEL_PATH, Grant, PolicyEngine


def engine() -> PolicyEngine:
    e = PolicyEngine()
    e.load(
        [Grant("analysts", "cat", "ALL PRIVILEGES"), Grant("bob", "tab", "MANAGE")],
        [("alice", "team"), ("team", "analysts")],
        [("cat", "metastore"), ("sch", "cat"), ("tab", "sch")],
    )
    return e


def test_grants_reach_down_the_hierarchy_and_through_nested_groups() -> None:
    e = engine()
    assert e.is_granted("alice", "tab", "SELECT")
    assert e.groups("alice") == {"team", "analysts", "account users"}
    assert not e.is_granted("alice", "tab", "MANAGE")  # ALL PRIVILEGES excludes MANAGE
    assert e.is_granted("bob", "tab", "MANAGE")
    assert not e.is_granted("bob", "tab", "SELECT")
    assert not e.is_granted("carol", "tab", "SELECT")


def test_account_users_holds_everyone_without_a_membership_line() -> None:
    e = engine()
    e.grant("account users", "sch", "SELECT")
    assert e.is_granted("carol", "tab", "SELECT")  # a principal the engine never saw
    assert e.casbin_enforcer().enforce("carol", "tab", "SELECT")  # Casbin's own path agrees
    e.revoke("account users", "sch", "SELECT")
    assert not e.is_granted("carol", "tab", "SELECT")


def test_changes_apply_at_once() -> None:
    e = engine()
    e.remove_member("team", "analysts")
    assert not e.is_granted("alice", "tab", "SELECT")
    e.add_member("team", "analysts")
    e.add_securable("tab2", "sch")  # created later, inherits the catalog grant
    assert e.is_granted("alice", "tab2", "MODIFY")
    e.grant("carol", "sch", "SELECT")
    assert e.is_granted("carol", "tab", "SELECT")
    e.revoke("carol", "sch", "SELECT")
    assert not e.is_granted("carol", "tab", "SELECT")
    e.remove_securable("tab")
    assert e.grants_on("tab") == []
    e.remove_principal("analysts")
    assert not e.is_granted("alice", "tab2", "SELECT")
    assert e.grants_on("cat") == []


def test_cost_does_not_depend_on_unrelated_grants() -> None:
    e = engine()
    for i in range(5000):
        e.grant(f"user{i}", f"other{i}", "SELECT")
    policy = e.casbin_enforcer().policy
    assert policy.candidates("tab", e.ancestors("tab")[1:], "alice", e.groups("alice")) == [
        ("analysts", "cat", "ALL PRIVILEGES")
    ]
    assert e.grant_count() == 5002


def test_view_refuses_another_principal() -> None:
    view = engine().view("alice", "tab")
    assert view.granted("alice", "tab", "SELECT")
    try:
        view.granted("bob", "tab", "MANAGE")
    except ValueError as exc:
        assert "alice" in str(exc)
    else:
        raise AssertionError("a view answered for another principal")


def test_matcher_compiler_refuses_anything_but_comparisons(tmp_path: Path) -> None:
    text = MODEL_PATH.read_text().replace(
        "m = g(r.sub, p.sub)", "m = __import__('os').system('true') && g(r.sub, p.sub)"
    )
    (tmp_path / "model.conf").write_text(text)
    with pytest.raises(ValueError, match="matcher"):
        PolicyEngine(tmp_path / "model.conf")


NAMES = st.sampled_from(["alice", "bob", "team", "analysts", "ops"])
KEYS = st.sampled_from(["metastore", "cat", "sch", "tab", "other"])
PRIVILEGES = st.sampled_from(["SELECT", "MODIFY", "MANAGE", "USE SCHEMA", "ALL PRIVILEGES"])


@settings(max_examples=300, deadline=None)
@given(
    grants=st.lists(st.tuples(NAMES, KEYS, PRIVILEGES), max_size=12),
    memberships=st.lists(st.tuples(NAMES, NAMES), max_size=6),
    requests=st.lists(
        st.tuples(NAMES, KEYS, PRIVILEGES.filter(lambda p: p != "ALL PRIVILEGES")),
        min_size=1,
        max_size=10,
    ),
)
def test_compiled_matcher_agrees_with_casbin_enforce(
    grants: list[tuple[str, str, str]],
    memberships: list[tuple[str, str]],
    requests: list[tuple[str, str, str]],
) -> None:
    """The compiled matcher over indexed candidates answers what plain Casbin answers by
    interpreting model.conf over every line (cycles in groups included)."""
    parents = [("cat", "metastore"), ("sch", "cat"), ("tab", "sch"), ("other", "cat")]
    ours = PolicyEngine()
    ours.load([Grant(*g) for g in grants], memberships, parents)
    plain = casbin.Enforcer(str(MODEL_PATH))
    for line in grants:
        plain.add_policy(*line)
    for pair in memberships:
        plain.add_named_grouping_policy("g", *pair)
    for pair in parents:
        plain.add_named_grouping_policy("g2", *pair)
    for principal, key, privilege in requests:
        assert ours.is_granted(principal, key, privilege) == plain.enforce(
            principal, key, privilege
        ), (principal, key, privilege)
