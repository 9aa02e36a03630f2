# ruff: noqa: E501  (the case tables read best one case per line)
"""Bad input on the namespace routes (docs/running.md–§4): catalogs, schemas and tables.

Each case checks the status, the ``error_code``, that the message names the problem (the
field or the name), that a request id comes back, and that nothing changed: the state is read
before and after the rejected call. The helpers are in ``tests/bad_input_support.py``; the
same kinds of bad input on models and versions are in
``tests/registry/test_bad_input_registry.py``, on principals and tokens in
``test_bad_input_identity.py``, and those every route shares in ``test_bad_input_routes.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bad_input_support import (
    BAD_NAMES,
    BAD_PAGES,
    BROKEN_JSON,
    DENIED,
    EXISTS,
    MISSING,
    NAMESPACE,
    NEW_TABLE,
    SCRATCH_TABLE,
    UC,
    UNKNOWN,
    UNSTORABLE,
    Case,
    World,
    build_world,
    case,
    column,
    expect_bad_page,
    expect_empty_page_or_400,
    expect_error,
    run_case,
    send_bad_name,
    send_unstorable,
    table_body,
    unchanged,
    with_columns,
)
from tests.support import ServerHandle


@pytest.fixture(scope="module")
def world(server: ServerHandle) -> World:
    """One world per module (and backend), on the module's own server."""
    return build_world(server)


# -- request bodies ----------------------------------------------------------------------

# Unknown fields, wrong types, missing fields, malformed JSON, non-object bodies.
BODY_CASES = [
    # catalogs
    case("catalog.create.unknown", "POST", "/catalogs", {"name": "{new}", **UNKNOWN}, needles="bogus_field"),
    case("catalog.create.name-int", "POST", "/catalogs", {"name": 5}, needles="name"),
    case("catalog.create.name-null", "POST", "/catalogs", {"name": None}, needles="name"),
    case("catalog.create.no-name", "POST", "/catalogs", {"comment": "x"}, needles="name"),
    case("catalog.create.comment-list", "POST", "/catalogs", {"name": "{new}", "comment": ["x"]}, needles="comment"),
    case("catalog.create.properties-str", "POST", "/catalogs", {"name": "{new}", "properties": "x"}, needles="properties"),
    case("catalog.create.properties-int", "POST", "/catalogs", {"name": "{new}", "properties": {"k": 1}}, needles="properties"),
    case("catalog.create.broken-json", "POST", "/catalogs", content=BROKEN_JSON, needles="json"),
    case("catalog.create.empty-body", "POST", "/catalogs", content=b"", needles=(("body", "json", "name"),)),
    case("catalog.create.array", "POST", "/catalogs", ["{new}"], needles=(("object", "body"),)),
    case("catalog.create.string", "POST", "/catalogs", "{new}", needles=(("object", "body"),)),
    case("catalog.create.reserved", "POST", "/catalogs", {"name": "system"}, needles="system"),
    case("catalog.create.reserved-upper", "POST", "/catalogs", {"name": "SYSTEM"}, needles="system"),
    case("catalog.update.unknown", "PATCH", "/catalogs/{catalog}", {"comment": "changed", **UNKNOWN}, needles="bogus_field"),
    case("catalog.update.comment-int", "PATCH", "/catalogs/{catalog}", {"comment": 5}, needles="comment"),
    case("catalog.update.owner-list", "PATCH", "/catalogs/{catalog}", {"owner": ["x"]}, needles="owner"),
    case("catalog.update.broken-json", "PATCH", "/catalogs/{catalog}", content=BROKEN_JSON, needles="json"),
    case("catalog.update.rename-system", "PATCH", "/catalogs/{catalog}", {"comment": "changed", "new_name": "system"}, needles="system"),
    case("catalog.delete.force-garbage", "DELETE", "/catalogs/{catalog}", params={"force": "maybe"}, needles="force"),
    case("catalog.list.max-results-text", "GET", "/catalogs", params={"max_results": "ten"}, needles="max_results"),
    # schemas
    case("schema.create.unknown", "POST", "/schemas", {"name": "{new}", "catalog_name": "{catalog}", **UNKNOWN}, needles="bogus_field"),
    case("schema.create.catalog-int", "POST", "/schemas", {"name": "{new}", "catalog_name": 5}, needles="catalog_name"),
    case("schema.create.no-catalog", "POST", "/schemas", {"name": "{new}"}, needles="catalog_name"),
    case("schema.create.no-name", "POST", "/schemas", {"catalog_name": "{catalog}"}, needles="name"),
    case("schema.create.properties-list", "POST", "/schemas", {"name": "{new}", "catalog_name": "{catalog}", "properties": ["a"]}, needles="properties"),
    case("schema.create.broken-json", "POST", "/schemas", content=BROKEN_JSON, needles="json"),
    case("schema.create.array", "POST", "/schemas", [], needles=(("object", "body"),)),
    case("schema.update.unknown", "PATCH", "/schemas/{schema}", {"comment": "changed", **UNKNOWN}, needles="bogus_field"),
    case("schema.update.comment-dict", "PATCH", "/schemas/{schema}", {"comment": {"a": 1}}, needles="comment"),
    case("schema.update.broken-json", "PATCH", "/schemas/{schema}", content=BROKEN_JSON, needles="json"),
    case("schema.list.no-catalog", "GET", "/schemas", needles="catalog_name"),
    case("schema.delete.force-garbage", "DELETE", "/schemas/{schema}", params={"force": "maybe"}, needles="force"),
    # tables
    case("table.create.unknown", "POST", "/tables", {**NEW_TABLE, **UNKNOWN}, needles="bogus_field"),
    case("table.create.column-unknown", "POST", "/tables", with_columns(column(bogus_field=1)), needles="bogus_field"),
    case("table.create.columns-str", "POST", "/tables", {**NEW_TABLE, "columns": "id"}, needles="columns"),
    case("table.create.no-columns-field", "POST", "/tables", {k: v for k, v in NEW_TABLE.items() if k != "columns"}, needles="columns"),
    case("table.create.table-type", "POST", "/tables", {**NEW_TABLE, "table_type": "BOGUS"}, needles="table_type"),
    case("table.create.table-type-view", "POST", "/tables", {**NEW_TABLE, "table_type": "VIEW"}, needles="table_type"),
    case("table.create.format", "POST", "/tables", {**NEW_TABLE, "data_source_format": "XLS"}, needles="data_source_format"),
    case("table.create.type-name", "POST", "/tables", with_columns(column(type_name="NOPE")), needles="type_name"),
    case("table.create.position-negative", "POST", "/tables", with_columns(column(position=-1)), needles="position"),
    case("table.create.position-gap", "POST", "/tables", with_columns(column(position=3)), needles="position"),
    case("table.create.nullable-str", "POST", "/tables", with_columns(column(nullable="maybe")), needles="nullable"),
    case("table.create.no-columns", "POST", "/tables", with_columns(), needles="column"),
    case("table.create.duplicate-column", "POST", "/tables", with_columns(column(), column(name="ID", position=1)), needles="id"),
    case("table.create.empty-column-name", "POST", "/tables", with_columns(column(name="")), needles="name"),
    case("table.create.control-column-name", "POST", "/tables", with_columns(column(name="a\x01b")), needles="control"),
    case("table.create.external-no-location", "POST", "/tables", {**NEW_TABLE, "table_type": "EXTERNAL"}, needles="storage_location"),
    case(
        "table.create.pk-nullable", "POST", "/tables",
        with_columns(column(nullable=True), table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": ["id"]}}]),
        needles="not null",
    ),
    case(
        "table.create.pk-unknown-column", "POST", "/tables",
        with_columns(column(), table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": ["nope"]}}]),
        needles="nope",
    ),
    case(
        "table.create.pk-empty", "POST", "/tables",
        with_columns(column(), table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": []}}]),
        needles="child_columns",
    ),
    case(
        "table.create.timeseries-not-key", "POST", "/tables",
        with_columns(
            column(), column(name="ts", type_name="TIMESTAMP", position=1, nullable=False),
            table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": ["id"], "timeseries_columns": ["ts"]}}],
        ),
        needles="ts",
    ),
    case("table.create.broken-json", "POST", "/tables", content=BROKEN_JSON, needles="json"),
    case("table.list.no-schema", "GET", "/tables", params={"catalog_name": "{catalog}"}, needles="schema_name"),
    # an empty owner names no principal: an error, not a silent no-op (docs/privileges.md)
    case("catalog.update.owner-empty", "PATCH", "/catalogs/{catalog}", {"comment": "changed", "owner": ""}, needles="owner"),
    case("schema.update.owner-empty", "PATCH", "/schemas/{schema}", {"comment": "changed", "owner": ""}, needles="owner"),
    # bodies that are not JSON objects at all
    case("catalog.create.deeply-nested", "POST", "/catalogs", content=b"[" * 50_000 + b"]" * 50_000, needles=(("body", "json"),)),
    case("catalog.create.not-utf8", "POST", "/catalogs", content=b'{"name": "\xff"}', needles=(("body", "json", "utf"),)),
    case("catalog.create.nan", "POST", "/catalogs", content=b'{"name": NaN}', needles="name"),
    case("table.create.too-many-columns", "POST", "/tables", with_columns(*[column(name=f"c{i}", position=i) for i in range(4097)]), needles="4096"),
    case("table.create.pk-listed-twice", "POST", "/tables", with_columns(column(), table_constraints=[{"primary_key_constraint": {"name": "pk", "child_columns": ["id", "ID"]}}]), needles="twice"),
    case("table.create.two-pks", "POST", "/tables", with_columns(column(), table_constraints=[{"primary_key_constraint": {"name": "a", "child_columns": ["id"]}}, {"primary_key_constraint": {"name": "b", "child_columns": ["id"]}}]), needles="primary key"),
]  # fmt: skip


@pytest.mark.parametrize("c", BODY_CASES)
def test_bad_body_is_rejected_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- values the backends cannot store ----------------------------------------------------

#: (method, path, body with TEXT where the value goes, the field the error must name);
#: namespace cases work in a scratch catalog that is rebuilt if a bad value lands there.
TEXT_FIELDS = [
    pytest.param("POST", "/catalogs", {"name": "{new}", "comment": "TEXT"}, "comment", id="catalog.comment"),
    pytest.param("POST", "/catalogs", {"name": "{new}", "properties": {"k": "TEXT"}}, "properties", id="catalog.properties"),
    pytest.param("PATCH", "/catalogs/{scratch}", {"comment": "TEXT"}, "comment", id="catalog.update.comment"),
    pytest.param("POST", "/schemas", {"name": "{new}", "catalog_name": "{scratch}", "comment": "TEXT"}, "comment", id="schema.comment"),
    pytest.param("PATCH", "/schemas/{scratch}.s", {"comment": "TEXT"}, "comment", id="schema.update.comment"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "comment": "TEXT"}, "comment", id="table.comment"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(comment="TEXT")]}, "comment", id="table.column.comment"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(type_text="TEXT")]}, "type_text", id="table.column.type_text"),
]  # fmt: skip

#: Values longer than the column that stores them (String(n) in the schema).
TOO_LONG_FIELDS = [
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(name="c" * 256)]}, "name", id="column.name>255"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(type_text="t" * 1001)]}, "type_text", id="column.type_text>1000"),
    pytest.param("POST", "/tables", {**SCRATCH_TABLE, "columns": [column(type_interval_type="i" * 65)]}, "type_interval_type", id="column.type_interval_type>64"),
    pytest.param(
        "POST", "/tables",
        {**SCRATCH_TABLE, "table_constraints": [{"primary_key_constraint": {"name": "p" * 256, "child_columns": ["id"]}}]},
        "name", id="primary_key.name>255",
    ),
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


# -- bad names ---------------------------------------------------------------------------

#: (where the name goes, method, path, body with NAME for the bad name, field named in the error)
NAME_TARGETS = [
    pytest.param("POST", "/catalogs", {"name": "NAME"}, "name", id="catalog.name"),
    pytest.param("POST", "/schemas", {"name": "NAME", "catalog_name": "{catalog}"}, "name", id="schema.name"),
    pytest.param("POST", "/schemas", {"name": "{new}", "catalog_name": "NAME"}, "catalog_name", id="schema.catalog_name"),
    pytest.param("POST", "/tables", table_body("{catalog}", "sch", "NAME"), "name", id="table.name"),
    pytest.param("POST", "/tables", table_body("{catalog}", "NAME", "{new}"), "schema_name", id="table.schema_name"),
    pytest.param("POST", "/tables", table_body("NAME", "sch", "{new}"), "catalog_name", id="table.catalog_name"),
    pytest.param("PATCH", "/catalogs/{catalog}", {"comment": "changed", "new_name": "NAME"}, "new_name", id="catalog.new_name"),
    pytest.param("PATCH", "/schemas/{schema}", {"comment": "changed", "new_name": "NAME"}, "new_name", id="schema.new_name"),
]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize(("method", "path", "body", "field_name"), NAME_TARGETS)
def test_bad_name_is_rejected_and_changes_nothing(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str, bad: str
) -> None:
    send_bad_name(world, method, path, body, field_name, bad)


PATH_NAME_CASES = [
    # wrong number of parts
    case("catalog.get.two-parts", "GET", "/catalogs/{catalog}.x", needles="part"),
    case("catalog.update.two-parts", "PATCH", "/catalogs/{catalog}.x", {"comment": "changed"}, needles="part"),
    case("catalog.delete.two-parts", "DELETE", "/catalogs/{catalog}.x", needles="part"),
    case("schema.get.one-part", "GET", "/schemas/{catalog}", needles="part"),
    case("schema.update.one-part", "PATCH", "/schemas/{catalog}", {"comment": "changed"}, needles="part"),
    case("schema.delete.one-part", "DELETE", "/schemas/{catalog}", params={"force": "true"}, needles="part"),
    case("schema.delete.three-parts", "DELETE", "/schemas/{table}", needles="part"),
    case("table.get.two-parts", "GET", "/tables/{schema}", needles="part"),
    case("table.delete.two-parts", "DELETE", "/tables/{schema}", needles="part"),
    case("table.delete.four-parts", "DELETE", "/tables/{table}.x", needles="part"),
    # bad characters in a path name
    case("catalog.get.space", "GET", "/catalogs/a%20b", needles="a b"),
    case("catalog.get.control", "GET", "/catalogs/a%01b", needles="name"),
    case("catalog.get.too-long", "GET", "/catalogs/" + "n" * 256, needles="255"),
    case("catalog.delete.space", "DELETE", "/catalogs/a%20b", needles="a b"),
    case("schema.get.space", "GET", "/schemas/{catalog}.a%20b", needles="a b"),
    case("schema.delete.empty-part", "DELETE", "/schemas/{catalog}.", needles="name"),
    case("table.get.control", "GET", "/tables/{schema}.a%01b", needles="name"),
    # bad names in list filters
    case("schema.list.dotted-catalog", "GET", "/schemas", params={"catalog_name": "{catalog}.x"}, needles="catalog_name"),
    case("schema.list.empty-catalog", "GET", "/schemas", params={"catalog_name": ""}, needles="catalog_name"),
    case("table.list.spaced-schema", "GET", "/tables", params={"catalog_name": "{catalog}", "schema_name": "a b"}, needles="schema_name"),
]  # fmt: skip


@pytest.mark.parametrize("c", PATH_NAME_CASES)
def test_bad_name_in_path_or_query_is_rejected(world: World, c: Case) -> None:
    run_case(world, c)


# -- missing objects and parents ---------------------------------------------------------

MISSING_CASES = [
    case("schema.in-missing-catalog", "POST", "/schemas", {"name": "{new}", "catalog_name": "nocat_x"}, 404, MISSING, "nocat_x"),
    case("table.in-missing-schema", "POST", "/tables", table_body("{catalog}", "nosch", "{new}"), 404, MISSING, "{catalog}.nosch"),
    case("table.in-missing-catalog", "POST", "/tables", table_body("nocat_x", "sch", "{new}"), 404, MISSING, "nocat_x"),
    case("catalog.get", "GET", "/catalogs/nocat_x", status=404, code=MISSING, needles="nocat_x"),
    case("catalog.update", "PATCH", "/catalogs/nocat_x", {"comment": "x"}, 404, MISSING, "nocat_x"),
    case("catalog.delete", "DELETE", "/catalogs/nocat_x", status=404, code=MISSING, needles="nocat_x"),
    case("schema.get", "GET", "/schemas/{catalog}.nosch", status=404, code=MISSING, needles="{catalog}.nosch"),
    case("schema.update", "PATCH", "/schemas/{catalog}.nosch", {"comment": "x"}, 404, MISSING, "{catalog}.nosch"),
    case("schema.delete", "DELETE", "/schemas/{catalog}.nosch", status=404, code=MISSING, needles="{catalog}.nosch"),
    case("schema.list.missing-catalog", "GET", "/schemas", params={"catalog_name": "nocat_x"}, status=404, code=MISSING, needles="nocat_x"),
    case("table.get", "GET", "/tables/{schema}.notbl", status=404, code=MISSING, needles="{schema}.notbl"),
    case("table.get.is-a-model", "GET", "/tables/{model}", status=404, code=MISSING, needles="{model}"),
    case("table.delete", "DELETE", "/tables/{schema}.notbl", status=404, code=MISSING, needles="{schema}.notbl"),
    case("table.delete.is-a-model", "DELETE", "/tables/{model}", status=404, code=MISSING, needles="{model}"),
    case("table.list.missing-schema", "GET", "/tables", params={"catalog_name": "{catalog}", "schema_name": "nosch"}, status=404, code=MISSING, needles="{catalog}.nosch"),
    case("catalog.update.unknown-owner", "PATCH", "/catalogs/{catalog}", {"comment": "changed", "owner": "nobody_x"}, 404, MISSING, "nobody_x"),
    case("schema.update.unknown-owner", "PATCH", "/schemas/{schema}", {"comment": "changed", "owner": "nobody_x"}, 404, MISSING, "nobody_x"),
]  # fmt: skip


@pytest.mark.parametrize("c", MISSING_CASES)
def test_missing_object_or_parent_is_404_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- duplicates --------------------------------------------------------------------------

DUPLICATE_CASES = [
    case("catalog", "POST", "/catalogs", {"name": "{catalog}"}, 409, EXISTS, "{catalog}"),
    case("catalog.other-case", "POST", "/catalogs", {"name": "{catalog_upper}"}, 409, EXISTS, "{catalog}"),
    case("schema", "POST", "/schemas", {"name": "sch", "catalog_name": "{catalog}"}, 409, EXISTS, "{schema}"),
    case("schema.other-case", "POST", "/schemas", {"name": "SCH", "catalog_name": "{catalog_upper}"}, 409, EXISTS, "{schema}"),
    case("table", "POST", "/tables", table_body("{catalog}", "sch", "tbl"), 409, EXISTS, "{table}"),
    case("table.other-case", "POST", "/tables", table_body("{catalog}", "SCH", "TBL"), 409, EXISTS, "{table}"),
    case("catalog.rename", "PATCH", "/catalogs/{catalog}", {"comment": "changed", "new_name": "{user_catalog}"}, 409, EXISTS, "{user_catalog}"),
    case("schema.rename", "PATCH", "/schemas/{schema}", {"comment": "changed", "new_name": "sch2"}, 409, EXISTS, "{catalog}.sch2"),
    case("table.named-like-model", "POST", "/tables", table_body("{catalog}", "sch", "mdl"), 409, EXISTS, "{model}"),
]  # fmt: skip


@pytest.mark.parametrize("c", DUPLICATE_CASES)
def test_duplicate_is_409_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- pagination --------------------------------------------------------------------------

LIST_ROUTES = [
    pytest.param(f"{UC}/catalogs", {}, id="catalogs"),
    pytest.param(f"{UC}/schemas", {"catalog_name": "{catalog}"}, id="schemas"),
    pytest.param(f"{UC}/tables", {"catalog_name": "{catalog}", "schema_name": "sch"}, id="tables"),
]


@pytest.mark.parametrize(("params", "needle"), BAD_PAGES)
@pytest.mark.parametrize(("path", "base"), LIST_ROUTES)
def test_bad_pagination_is_400(
    world: World, path: str, base: dict[str, str], params: dict[str, str], needle: str
) -> None:
    expect_bad_page(world, path, base, params, needle)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param(f"{UC}/catalogs", {"max_results": str(10**20)}, id="catalogs-max-huge"),
    ],
)
def test_out_of_range_numbers_are_never_a_500(
    world: World, path: str, params: dict[str, str]
) -> None:
    expect_empty_page_or_400(world, path, params)


# -- authorization: non-admins and non-owners --------------------------------------------

ADMIN_ONLY_CASES = [
    case("create-catalog", "POST", "/catalogs", {"name": "{new}"}, 403, DENIED, ("CREATE CATALOG", "METASTORE"), who="user"),
]  # fmt: skip


@pytest.mark.parametrize("c", ADMIN_ONLY_CASES)
def test_non_admin_on_admin_route_is_403_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


#: A caller who may not see an object (it holds nothing on it or above it) is answered as if
#: it did not exist: 404 naming the outermost level it may not see (docs/privileges.md).
NON_OWNER_CASES = [
    case("catalog.get", "GET", "/catalogs/{user_catalog}", status=404, code=MISSING, needles="{user_catalog}", who="other"),
    case("catalog.update", "PATCH", "/catalogs/{user_catalog}", {"comment": "mine now"}, 404, MISSING, "{user_catalog}", who="other"),
    case("catalog.update.owner", "PATCH", "/catalogs/{user_catalog}", {"owner": "{other}"}, 404, MISSING, "{user_catalog}", who="other"),
    case("catalog.update.rename", "PATCH", "/catalogs/{user_catalog}", {"new_name": "{new}"}, 404, MISSING, "{user_catalog}", who="other"),
    case("catalog.delete", "DELETE", "/catalogs/{user_catalog}", params={"force": "true"}, status=404, code=MISSING, needles="{user_catalog}", who="other"),
    case("admin-catalog.update", "PATCH", "/catalogs/{catalog}", {"comment": "mine now"}, 404, MISSING, "{catalog}", who="user"),
    case("admin-catalog.delete", "DELETE", "/catalogs/{catalog}", params={"force": "true"}, status=404, code=MISSING, needles="{catalog}", who="user"),
    case("schema.create", "POST", "/schemas", {"name": "{new}", "catalog_name": "{user_catalog}"}, 404, MISSING, "{user_catalog}", who="other"),
    case("schema.update", "PATCH", "/schemas/{user_schema}", {"comment": "mine now"}, 404, MISSING, "{user_catalog}", who="other"),
    case("schema.delete", "DELETE", "/schemas/{user_schema}", params={"force": "true"}, status=404, code=MISSING, needles="{user_catalog}", who="other"),
    case("table.create", "POST", "/tables", table_body("{user_catalog}", "s", "{new}"), 404, MISSING, "{user_catalog}", who="other"),
    case("table.delete", "DELETE", "/tables/{user_table}", status=404, code=MISSING, needles="{user_catalog}", who="other"),
    case("system.schema.create", "POST", "/schemas", {"name": "{new}", "catalog_name": "system"}, 403, DENIED, "system", who="admin"),
    case("system.update", "PATCH", "/catalogs/system", {"comment": "mine now"}, 403, DENIED, "system", who="admin"),
    case("system.delete", "DELETE", "/catalogs/system", params={"force": "true"}, status=403, code=DENIED, needles="system", who="admin"),
]  # fmt: skip


@pytest.mark.parametrize("c", NON_OWNER_CASES)
def test_non_owner_is_refused_as_if_the_object_were_missing(world: World, c: Case) -> None:
    run_case(world, c)


def test_non_empty_containers_are_not_dropped(world: World) -> None:
    for path in (f"/catalogs/{world.catalog}", f"/schemas/{world.schema}"):
        with unchanged(world, f"DELETE {path}", frozenset({NAMESPACE})):
            response = world.admin.delete(UC + path)
            expect_error(response, 400, None, ("empty",))
    with unchanged(world, "DELETE model with versions", frozenset({NAMESPACE})):
        response = world.admin.delete(f"{UC}/models/{world.model}")
        expect_error(response, 400, None, ("version",))
