"""The indexed Casbin engine: grants inherit down, groups nest, ALL PRIVILEGES spares MANAGE."""

from __future__ import annotations

from policy.enforcer import Grant, PolicyEngine


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
    assert e.groups("alice") == {"team", "analysts"}
    assert not e.is_granted("alice", "tab", "MANAGE")  # ALL PRIVILEGES excludes MANAGE
    assert e.is_granted("bob", "tab", "MANAGE")
    assert not e.is_granted("bob", "tab", "SELECT")
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
    policy = e._enforcer.policy
    assert policy.narrow(e.ancestors("tab"), {"alice", *e.groups("alice")}) == 1
    policy.widen()
    assert e.grant_count() == 5002
