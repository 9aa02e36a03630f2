# ruff: noqa: E501  (the case tables read best one case per line)
"""Bad input on principals (SCIM) and tokens (docs/running.md–§4).

Each case checks the status, the ``error_code``, that the message names the problem (the
field or the name), that a request id comes back, and that nothing changed: the state is read
before and after the rejected call. The helpers are in ``tests/bad_input_support.py``; the
same kinds of bad input on catalogs, schemas and tables are in
``test_bad_input_namespace.py``, on models and versions in
``tests/registry/test_bad_input_registry.py``, and those every route shares in
``test_bad_input_routes.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.bad_input_support import (
    API,
    BAD,
    BROKEN_JSON,
    DENIED,
    EXISTS,
    MISSING,
    PRINCIPALS,
    SCIM,
    UNAUTH,
    UNKNOWN,
    UNSTORABLE,
    Case,
    World,
    build_world,
    case,
    expect_empty_page_or_400,
    expect_error,
    mutating,
    ok,
    run_case,
    scim_id,
    send_unstorable,
    unchanged,
)
from tests.support import ServerHandle, unique


@pytest.fixture(scope="module")
def world(server: ServerHandle) -> World:
    """One world per module (and backend), on the module's own server."""
    return build_world(server)


@pytest.fixture
def mutating_world(world: World) -> Iterator[World]:
    yield from mutating(world)


# -- request bodies ----------------------------------------------------------------------

# Unknown fields, wrong types, missing fields, malformed JSON, non-object bodies.
BODY_CASES = [
    # SCIM users, service principals, groups
    case("scim.user.unknown", "POST", f"{SCIM}/Users", {"userName": "{new}@example.com", **UNKNOWN}, needles="bogus_field"),
    case("scim.user.name-int", "POST", f"{SCIM}/Users", {"userName": 5}, needles="userName"),
    case("scim.user.no-name", "POST", f"{SCIM}/Users", {"displayName": "x"}, needles="userName"),
    case("scim.user.active-str", "POST", f"{SCIM}/Users", {"userName": "{new}", "active": "maybe"}, needles="active"),
    case("scim.user.groups-str", "POST", f"{SCIM}/Users", {"userName": "{new}", "groups": "x"}, needles="groups"),
    case("scim.user.empty-name", "POST", f"{SCIM}/Users", {"userName": ""}, needles="userName"),
    case("scim.user.blank-name", "POST", f"{SCIM}/Users", {"userName": "   "}, needles="userName"),
    case("scim.user.control-name", "POST", f"{SCIM}/Users", {"userName": "a\x07b@example.com"}, needles="userName"),
    case("scim.user.long-name", "POST", f"{SCIM}/Users", {"userName": "u" * 256}, needles="userName"),
    case("scim.user.broken-json", "POST", f"{SCIM}/Users", content=BROKEN_JSON, needles="json"),
    case("scim.sp.unknown", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}", **UNKNOWN}, needles="bogus_field"),
    case("scim.sp.no-id", "POST", f"{SCIM}/ServicePrincipals", {"displayName": "x"}, needles="applicationId"),
    case("scim.sp.control-id", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "a\nb"}, needles="applicationId"),
    case("scim.sp.broken-json", "POST", f"{SCIM}/ServicePrincipals", content=BROKEN_JSON, needles="json"),
    case("scim.group.unknown", "POST", f"{SCIM}/Groups", {"displayName": "{new}", **UNKNOWN}, needles="bogus_field"),
    case("scim.group.no-name", "POST", f"{SCIM}/Groups", {"members": []}, needles="displayName"),
    case("scim.group.members-str", "POST", f"{SCIM}/Groups", {"displayName": "{new}", "members": "x"}, needles="members"),
    case("scim.group.member-no-value", "POST", f"{SCIM}/Groups", {"displayName": "{new}", "members": [{"display": "x"}]}, needles="value"),
    case("scim.group.control-name", "POST", f"{SCIM}/Groups", {"displayName": "g\x00"}, needles="displayName"),
    case("scim.group.broken-json", "POST", f"{SCIM}/Groups", content=BROKEN_JSON, needles="json"),
    case("scim.patch.no-ops", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": []}, needles="Operations"),
    case("scim.patch.missing-ops", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"schemas": []}, needles="Operations"),
    case("scim.patch.bad-op", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "delete", "value": {"members": [{"value": "{other_id}"}]}}]}, needles="op"),
    case("scim.patch.op-unknown-field", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}, **UNKNOWN}]}, needles="bogus_field"),
    case("scim.patch.unknown", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}], **UNKNOWN}, needles="bogus_field"),
    case("scim.patch.value-shape", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "add", "value": {"members": "{other_id}"}}]}, needles="members"),
    case("scim.patch.bad-path", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "remove", "path": "members[id = 1]"}]}, needles="members[id = 1]"),
    case("scim.patch.unquoted-path", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "remove", "path": "members[value eq {user_id}]"}]}, needles="quoted"),
    case("scim.patch.replace-other", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}, needles="displayName"),
    case(
        "scim.patch.valid-then-bad", "PATCH", f"{SCIM}/Groups/{{group_id}}",
        {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}, {"op": "remove", "path": "oops"}]},
        needles="oops",
    ),
    case("scim.patch.broken-json", "PATCH", f"{SCIM}/Groups/{{group_id}}", content=BROKEN_JSON, needles="json"),
    case("scim.users.filter-op", "GET", f"{SCIM}/Users", params={"filter": 'userName co "x"'}, needles="filter"),
    case("scim.users.filter-attribute", "GET", f"{SCIM}/Users", params={"filter": 'emails eq "x"'}, needles="filter"),
    case("scim.users.filter-unquoted", "GET", f"{SCIM}/Users", params={"filter": "userName eq x"}, needles="quoted"),
    case("scim.groups.filter-op", "GET", f"{SCIM}/Groups", params={"filter": 'displayName sw "x"'}, needles="filter"),
    case("scim.sps.filter-op", "GET", f"{SCIM}/ServicePrincipals", params={"filter": 'applicationId gt "x"'}, needles="filter"),
    # tokens
    case("token.create.unknown", "POST", f"{API}/token/create", {"comment": "x", **UNKNOWN}, needles="bogus_field"),
    case("token.create.lifetime-str", "POST", f"{API}/token/create", {"lifetime_seconds": "soon"}, needles="lifetime_seconds"),
    case("token.create.lifetime-negative", "POST", f"{API}/token/create", {"lifetime_seconds": -5}, needles="lifetime_seconds"),
    case("token.create.lifetime-huge", "POST", f"{API}/token/create", {"lifetime_seconds": 10**12}, needles="lifetime_seconds"),
    case("token.create.lifetime-float", "POST", f"{API}/token/create", {"lifetime_seconds": 1.5}, needles="lifetime_seconds"),
    case("token.create.comment-long", "POST", f"{API}/token/create", {"comment": "c" * 1001}, needles="comment"),
    case("token.create.comment-int", "POST", f"{API}/token/create", {"comment": 5}, needles="comment"),
    case("token.create.broken-json", "POST", f"{API}/token/create", content=BROKEN_JSON, needles="json"),
    case("token.create.array", "POST", f"{API}/token/create", [], needles=(("object", "body"),)),
    case("token.delete.unknown", "POST", f"{API}/token/delete", {"token_id": "{user_token_id}", **UNKNOWN}, needles="bogus_field"),
    case("token.delete.no-id", "POST", f"{API}/token/delete", {}, needles="token_id"),
    case("token.delete.id-int", "POST", f"{API}/token/delete", {"token_id": 5}, needles="token_id"),
    case("token.delete.broken-json", "POST", f"{API}/token/delete", content=BROKEN_JSON, needles="json"),
    case("obo.unknown", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}", **UNKNOWN}, needles="bogus_field"),
    case("obo.both", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}", "application_id": "{sp}"}, needles="application_id"),
    case("obo.neither", "POST", f"{API}/token-management/on-behalf-of/tokens", {"comment": "x"}, needles="application_id"),
    case("obo.user-int", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": 5}, needles="user_name"),
    case("obo.lifetime-str", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}", "lifetime_seconds": "x"}, needles="lifetime_seconds"),
    case("obo.app-id-is-user", "POST", f"{API}/token-management/on-behalf-of/tokens", {"application_id": "{user}"}, needles="{user}"),
    case("obo.control-name", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "a\x01b"}, needles="user_name"),
    case("obo.broken-json", "POST", f"{API}/token-management/on-behalf-of/tokens", content=BROKEN_JSON, needles="json"),
    case("obo.user-name-is-group", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{group}"}, needles="{group}"),
    case("obo.user-name-is-sp", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{sp}"}, needles="{sp}"),
    # bodies that are not JSON objects at all
    case("token.create.lifetime-infinite", "POST", f"{API}/token/create", content=b'{"lifetime_seconds": 1e400}', needles="lifetime_seconds"),
    case("scim.patch.add-no-value", "PATCH", f"{SCIM}/Groups/{{group_id}}", {"Operations": [{"op": "add"}]}, needles="value"),
    case("scim.group.member-value-int", "POST", f"{SCIM}/Groups", {"displayName": "{new}", "members": [{"value": 5}]}, needles="value"),
    case("scim.user.delete-bootstrap-admin", "DELETE", f"{SCIM}/Users/{{admin_id}}", needles="admin"),
]  # fmt: skip


@pytest.mark.parametrize("c", BODY_CASES)
def test_bad_body_is_rejected_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- values the backends cannot store ----------------------------------------------------

#: (method, path, body with TEXT where the value goes, the field the error must name).
TEXT_FIELDS = [
    pytest.param("POST", f"{SCIM}/Users", {"userName": "{new}", "displayName": "TEXT"}, "displayName", id="scim.user.displayName"),
    pytest.param("POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}", "displayName": "TEXT"}, "displayName", id="scim.sp.displayName"),
    pytest.param("POST", f"{SCIM}/Users", {"userName": "{new}TEXT"}, "userName", id="scim.user.userName"),
    pytest.param("POST", f"{SCIM}/Groups", {"displayName": "{new}TEXT"}, "displayName", id="scim.group.displayName"),
    pytest.param("POST", f"{API}/token/create", {"comment": "TEXT"}, "comment", id="token.comment"),
    pytest.param("POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}", "comment": "TEXT"}, "comment", id="obo.comment"),
]  # fmt: skip

#: Values longer than the column that stores them (String(n) in the schema).
TOO_LONG_FIELDS = [
    pytest.param("POST", f"{SCIM}/Users", {"userName": "{new}", "displayName": "d" * 256}, "displayName", id="scim.user.displayName>255"),
    pytest.param("POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}", "displayName": "d" * 256}, "displayName", id="scim.sp.displayName>255"),
]  # fmt: skip


@pytest.mark.parametrize("text", UNSTORABLE)
@pytest.mark.parametrize(("method", "path", "body", "field_name"), TEXT_FIELDS)
def test_unstorable_text_is_400_on_every_backend(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str, text: str
) -> None:
    send_unstorable(world, method, path, body, field_name, text)


@pytest.mark.parametrize(("method", "path", "body", "field_name"), TOO_LONG_FIELDS)
def test_value_longer_than_its_column_is_400_on_every_backend(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str
) -> None:
    send_unstorable(world, method, path, body, field_name, "")


# -- missing objects ---------------------------------------------------------------------

MISSING_CASES = [
    case("scim.user.get", "GET", f"{SCIM}/Users/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.user.get.is-a-group", "GET", f"{SCIM}/Users/{{group_id}}", status=404, code=MISSING, needles="{group_id}"),
    case("scim.user.delete", "DELETE", f"{SCIM}/Users/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.user.delete.is-a-group", "DELETE", f"{SCIM}/Users/{{group_id}}", status=404, code=MISSING, needles="{group_id}"),
    case("scim.user.in-missing-group", "POST", f"{SCIM}/Users", {"userName": "{new}", "groups": [{"value": "nope_x"}]}, 404, MISSING, "nope_x"),
    case("scim.user.in-a-user", "POST", f"{SCIM}/Users", {"userName": "{new}", "groups": [{"value": "{other_id}"}]}, 404, MISSING, "{other_id}"),
    case("scim.sp.get", "GET", f"{SCIM}/ServicePrincipals/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.sp.get.is-a-user", "GET", f"{SCIM}/ServicePrincipals/{{user_id}}", status=404, code=MISSING, needles="{user_id}"),
    case("scim.sp.delete", "DELETE", f"{SCIM}/ServicePrincipals/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.sp.in-missing-group", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}", "groups": [{"value": "nope_x"}]}, 404, MISSING, "nope_x"),
    case("scim.group.get", "GET", f"{SCIM}/Groups/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.group.delete", "DELETE", f"{SCIM}/Groups/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("scim.group.delete.is-a-user", "DELETE", f"{SCIM}/Groups/{{user_id}}", status=404, code=MISSING, needles="{user_id}"),
    case("scim.group.missing-member", "POST", f"{SCIM}/Groups", {"displayName": "{new}", "members": [{"value": "{other_id}"}, {"value": "nope_x"}]}, 404, MISSING, "nope_x"),
    case("scim.patch.missing-group", "PATCH", f"{SCIM}/Groups/nope_x", {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}]}, 404, MISSING, "nope_x"),
    case("scim.patch.is-a-user", "PATCH", f"{SCIM}/Groups/{{user_id}}", {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}]}, 404, MISSING, "{user_id}"),
    case(
        "scim.patch.add-valid-and-missing", "PATCH", f"{SCIM}/Groups/{{group_id}}",
        {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}, {"value": "nope_x"}]}}]},
        404, MISSING, "nope_x",
    ),
    case(
        "scim.patch.remove-missing", "PATCH", f"{SCIM}/Groups/{{group_id}}",
        {"Operations": [{"op": "remove", "path": 'members[value eq "{user_id}"]'}, {"op": "remove", "path": 'members[value eq "nope_x"]'}]},
        404, MISSING, "nope_x",
    ),
    case("token.delete.missing", "POST", f"{API}/token/delete", {"token_id": "nope_x"}, 404, MISSING, "nope_x"),
    case("token.delete.someone-elses", "POST", f"{API}/token/delete", {"token_id": "{user_token_id}"}, 404, MISSING, "{user_token_id}", who="other"),
    case("token-management.delete.missing", "DELETE", f"{API}/token-management/tokens/nope_x", status=404, code=MISSING, needles="nope_x"),
    case("obo.missing-user", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "nobody_x@example.com"}, 404, MISSING, "nobody_x@example.com"),
    case("obo.missing-sp", "POST", f"{API}/token-management/on-behalf-of/tokens", {"application_id": "nobody_x"}, 404, MISSING, "nobody_x"),
]  # fmt: skip


@pytest.mark.parametrize("c", MISSING_CASES)
def test_missing_object_or_parent_is_404_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- duplicates --------------------------------------------------------------------------

DUPLICATE_CASES = [
    case("scim.user", "POST", f"{SCIM}/Users", {"userName": "{user}"}, 409, EXISTS, "{user}"),
    case("scim.user.other-case", "POST", f"{SCIM}/Users", {"userName": "{user_upper}"}, 409, EXISTS, "{user}"),
    case("scim.sp", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{sp}"}, 409, EXISTS, "{sp}"),
    case("scim.group", "POST", f"{SCIM}/Groups", {"displayName": "{group}"}, 409, EXISTS, "{group}"),
    case("scim.group.named-like-user", "POST", f"{SCIM}/Groups", {"displayName": "{user}"}, 409, EXISTS, "{user}"),
]  # fmt: skip


@pytest.mark.parametrize("c", DUPLICATE_CASES)
def test_duplicate_is_409_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- pagination --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Users", "ServicePrincipals", "Groups"])
@pytest.mark.parametrize(
    ("params", "needle"),
    [
        pytest.param({"startIndex": "0"}, "startIndex", id="start-zero"),
        pytest.param({"startIndex": "-3"}, "startIndex", id="start-negative"),
        pytest.param({"startIndex": "first"}, "startIndex", id="start-text"),
        pytest.param({"count": "-1"}, "count", id="count-negative"),
        pytest.param({"count": "all"}, "count", id="count-text"),
    ],
)
def test_bad_scim_paging_is_400(
    world: World, kind: str, params: dict[str, str], needle: str
) -> None:
    expect_error(world.admin.get(f"{SCIM}/{kind}", params=params), 400, BAD, (needle,))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param(f"{SCIM}/Users", {"startIndex": str(10**20)}, id="scim-start-beyond-int64"),
        pytest.param(f"{SCIM}/Groups", {"startIndex": str(2**63)}, id="scim-start-2^63"),
        pytest.param(f"{SCIM}/Groups", {"count": str(10**20)}, id="scim-count-huge"),
    ],
)
def test_out_of_range_numbers_are_never_a_500(
    world: World, path: str, params: dict[str, str]
) -> None:
    expect_empty_page_or_400(world, path, params)


@pytest.mark.parametrize(
    ("kind", "attribute"),
    [("Users", "userName"), ("ServicePrincipals", "applicationId"), ("Groups", "displayName")],
)
def test_scim_filter_on_empty_value_matches_nobody(world: World, kind: str, attribute: str) -> None:
    response = world.admin.get(f"{SCIM}/{kind}", params={"filter": f'{attribute} eq ""'})
    if response.status_code == 200:
        body = response.json()
        assert body["totalResults"] == 0, (
            f'filter {attribute} eq "" matched {body["totalResults"]} principals'
        )
    else:
        expect_error(response, 400, BAD, ("filter",))


# -- group cycles ------------------------------------------------------------------------


def add_members(admin: httpx.Client, group_id: str, *member_ids: str) -> httpx.Response:
    value = {"members": [{"value": m} for m in member_ids]}
    return admin.patch(
        f"{SCIM}/Groups/{group_id}", json={"Operations": [{"op": "add", "value": value}]}
    )


def new_group(admin: httpx.Client) -> tuple[str, str]:
    name = unique("cyc")
    return name, str(ok(admin.post(f"{SCIM}/Groups", json={"displayName": name}))["id"])


def test_group_cycles_are_rejected_and_change_nothing(mutating_world: World) -> None:
    world = mutating_world
    admin = world.admin
    a_name, a = new_group(admin)
    b_name, b = new_group(admin)
    c_name, c = new_group(admin)
    ok(add_members(admin, b, a))  # A in B
    ok(add_members(admin, c, b))  # B in C

    attempts = [
        ("B in A (A already in B)", a, [b], b_name),
        ("A in A", a, [a], a_name),
        ("C in A (A in B in C)", a, [c], c_name),
        ("a valid member and a cycle together", a, [world.other_id, b], b_name),
    ]
    for what, group, members, needle in attempts:
        with unchanged(world, what, frozenset({PRINCIPALS})):
            response = add_members(admin, group, *members)
            expect_error(response, 400, BAD, ("cycle", needle))
    a_now = ok(admin.get(f"{SCIM}/Groups/{a}"))
    assert a_now["members"] == [], "a rejected PATCH left members behind"
    b_now = ok(admin.get(f"{SCIM}/Groups/{b}"))
    assert [m["value"] for m in b_now["members"]] == [a]


def test_group_cycle_through_replace_is_rejected(mutating_world: World) -> None:
    world = mutating_world
    admin = world.admin
    _, a = new_group(admin)
    b_name, b = new_group(admin)
    ok(add_members(admin, b, a))
    with unchanged(world, "replace creating a cycle", frozenset({PRINCIPALS})):
        response = admin.patch(
            f"{SCIM}/Groups/{a}",
            json={"Operations": [{"op": "replace", "path": "members", "value": [{"value": b}]}]},
        )
        expect_error(response, 400, BAD, ("cycle", b_name))


# -- authorization: non-admins -----------------------------------------------------------

ADMIN_ONLY_CASES = [
    case("create-user", "POST", f"{SCIM}/Users", {"userName": "{new}"}, 403, DENIED, "metastore admin", who="user"),
    case("delete-user", "DELETE", f"{SCIM}/Users/{{other_id}}", status=403, code=DENIED, needles="metastore admin", who="user"),
    case("create-sp", "POST", f"{SCIM}/ServicePrincipals", {"applicationId": "{new}"}, 403, DENIED, "metastore admin", who="user"),
    case("delete-sp", "DELETE", f"{SCIM}/ServicePrincipals/{{sp_id}}", status=403, code=DENIED, needles="metastore admin", who="user"),
    case("create-group", "POST", f"{SCIM}/Groups", {"displayName": "{new}"}, 403, DENIED, "metastore admin", who="user"),
    case("delete-group", "DELETE", f"{SCIM}/Groups/{{group_id}}", status=403, code=DENIED, needles="metastore admin", who="user"),
    case(
        "patch-own-group", "PATCH", f"{SCIM}/Groups/{{group_id}}",
        {"Operations": [{"op": "add", "value": {"members": [{"value": "{other_id}"}]}}]},
        403, DENIED, "metastore admin", who="user",
    ),
    case("obo-for-self", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "{user}"}, 403, DENIED, "metastore admin", who="user"),
    case("obo-for-admin", "POST", f"{API}/token-management/on-behalf-of/tokens", {"user_name": "admin"}, 403, DENIED, "metastore admin", who="user"),
    case("list-all-tokens", "GET", f"{API}/token-management/tokens", status=403, code=DENIED, needles="metastore admin", who="user"),
    case("delete-any-token", "DELETE", f"{API}/token-management/tokens/{{user_token_id}}", status=403, code=DENIED, needles="metastore admin", who="other"),
]  # fmt: skip


@pytest.mark.parametrize("c", ADMIN_ONLY_CASES)
def test_non_admin_on_admin_route_is_403_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- principals and tokens going away ----------------------------------------------------


def test_deleting_a_user_revokes_its_tokens(mutating_world: World) -> None:
    world = mutating_world
    name, token = world.server.create_user()
    client = world.server.client(token)
    ok(client.get(f"{SCIM}/Me"))
    user_id = scim_id(world.admin, "Users", "userName", name)
    ok(world.admin.delete(f"{SCIM}/Users/{user_id}"))
    expect_error(client.get(f"{SCIM}/Me"), 401, UNAUTH, ("token",))
    owners = {
        t.get("owner_id")
        for t in ok(world.admin.get(f"{API}/token-management/tokens"))["token_infos"]
    }
    assert user_id not in owners, "a deleted user's tokens are still listed"


def test_revoked_token_stops_working_immediately(mutating_world: World) -> None:
    world = mutating_world
    issued = ok(world.user_client.post(f"{API}/token/create", json={"comment": "short"}))
    client = world.server.client(issued["token_value"])
    ok(client.get(f"{SCIM}/Me"))
    ok(client.post(f"{API}/token/delete", json={"token_id": issued["token_info"]["token_id"]}))
    expect_error(client.get(f"{SCIM}/Me"), 401, UNAUTH, ("token",))
    # Revoking it again is a 404, not a second success.
    response = world.user_client.post(
        f"{API}/token/delete", json={"token_id": issued["token_info"]["token_id"]}
    )
    expect_error(response, 404, MISSING, (issued["token_info"]["token_id"],))
