# ruff: noqa: E501  (the case tables read best one case per line)
"""Bad input on the registered models and model versions (docs/running.md–§4).

Each case checks the status, the ``error_code``, that the message names the problem (the
field or the name), that a request id comes back, and that nothing changed: the state is read
before and after the rejected call. The helpers are in ``tests/bad_input_support.py``; the
same kinds of bad input on catalogs, schemas and tables are in
``tests/catalog/test_bad_input_namespace.py``, on principals and tokens in
``tests/catalog/test_bad_input_identity.py``, and those every route shares in
``tests/catalog/test_bad_input_routes.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.bad_input_support import (
    BAD,
    BAD_NAMES,
    BAD_PAGES,
    BROKEN_JSON,
    EXISTS,
    MISSING,
    NEW_MODEL,
    NEW_VERSION,
    SCRATCH_MODEL,
    SCRATCH_VERSION,
    UC,
    UNKNOWN,
    UNSTORABLE,
    USER_VERSION,
    Case,
    World,
    build_world,
    case,
    expect_bad_page,
    expect_empty_page_or_400,
    expect_error,
    model_body,
    mutating,
    ok,
    run_case,
    send_bad_name,
    send_unstorable,
    version_body,
)
from tests.support import ServerHandle, unique, write_mlmodel


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
    # registered models
    case("model.create.unknown", "POST", "/models", {**NEW_MODEL, **UNKNOWN}, needles="bogus_field"),
    case("model.create.name-int", "POST", "/models", {**NEW_MODEL, "name": 7}, needles="name"),
    case("model.create.no-schema", "POST", "/models", {"name": "{new}", "catalog_name": "{catalog}"}, needles="schema_name"),
    case("model.create.broken-json", "POST", "/models", content=BROKEN_JSON, needles="json"),
    case("model.update.unknown", "PATCH", "/models/{model}", {"comment": "changed", **UNKNOWN}, needles="bogus_field"),
    case("model.update.comment-int", "PATCH", "/models/{model}", {"comment": 1}, needles="comment"),
    case("model.update.broken-json", "PATCH", "/models/{model}", content=BROKEN_JSON, needles="json"),
    case("model.list.catalog-only", "GET", "/models", params={"catalog_name": "{catalog}"}, needles="schema_name"),
    case("model.delete.force-garbage", "DELETE", "/models/{model}", params={"force": "maybe"}, needles="force"),
    # model versions
    case("version.create.unknown", "POST", "/models/versions", {**NEW_VERSION, **UNKNOWN}, needles="bogus_field"),
    case("version.create.empty-source", "POST", "/models/versions", {**NEW_VERSION, "source": ""}, needles="source"),
    case("version.create.source-int", "POST", "/models/versions", {**NEW_VERSION, "source": 5}, needles="source"),
    case("version.create.no-source", "POST", "/models/versions", {k: v for k, v in NEW_VERSION.items() if k != "source"}, needles="source"),
    case("version.create.no-model", "POST", "/models/versions", {k: v for k, v in NEW_VERSION.items() if k != "model_name"}, needles="model_name"),
    case("version.create.broken-json", "POST", "/models/versions", content=BROKEN_JSON, needles="json"),
    case("version.update.unknown", "PATCH", "/models/{model}/versions/1", {"comment": "changed", **UNKNOWN}, needles="bogus_field"),
    case("version.update.comment-list", "PATCH", "/models/{model}/versions/1", {"comment": ["x"]}, needles="comment"),
    case("version.update.broken-json", "PATCH", "/models/{model}/versions/1", content=BROKEN_JSON, needles="json"),
    case("version.get.version-text", "GET", "/models/{model}/versions/one", needles="version"),
    case("version.update.version-text", "PATCH", "/models/{model}/versions/one", {"comment": "changed"}, needles="version"),
    case("version.delete.version-text", "DELETE", "/models/{model}/versions/one", needles="version"),
    case("version.finalize.version-text", "PATCH", "/models/{model}/versions/one/finalize", needles="version"),
    case("version.finalize.unknown", "PATCH", "/models/{model}/versions/1/finalize", {"full_name": "{model}", "version": 1, **UNKNOWN}, needles="bogus_field"),
    case("version.finalize.version-mismatch", "PATCH", "/models/{model}/versions/1/finalize", {"full_name": "{model}", "version": 2}, needles="version"),
    case("version.finalize.name-mismatch", "PATCH", "/models/{model}/versions/1/finalize", {"full_name": "{user_model}", "version": 1}, needles="full_name"),
    case("version.finalize.version-str", "PATCH", "/models/{model}/versions/1/finalize", {"full_name": "{model}", "version": "x"}, needles="version"),
    case("version.finalize.broken-json", "PATCH", "/models/{model}/versions/1/finalize", content=BROKEN_JSON, needles="json"),
    # an empty owner names no principal: an error, not a silent no-op (docs/privileges.md)
    case("model.update.owner-empty", "PATCH", "/models/{model}", {"comment": "changed", "owner": ""}, needles="owner"),
]  # fmt: skip


@pytest.mark.parametrize("c", BODY_CASES)
def test_bad_body_is_rejected_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- values the backends cannot store ----------------------------------------------------

#: (method, path, body with TEXT where the value goes, the field the error must name);
#: namespace cases work in a scratch catalog that is rebuilt if a bad value lands there.
TEXT_FIELDS = [
    pytest.param("POST", "/models", {**SCRATCH_MODEL, "comment": "TEXT"}, "comment", id="model.comment"),
    pytest.param("PATCH", "/models/{scratch}.s.m", {"comment": "TEXT"}, "comment", id="model.update.comment"),
    pytest.param("POST", "/models/versions", {**SCRATCH_VERSION, "source": "TEXT"}, "source", id="version.source"),
    pytest.param("POST", "/models/versions", {**SCRATCH_VERSION, "run_id": "TEXT"}, "run_id", id="version.run_id"),
    pytest.param("POST", "/models/versions", {**SCRATCH_VERSION, "comment": "TEXT"}, "comment", id="version.comment"),
    pytest.param("PATCH", "/models/{scratch}.s.m/versions/1", {"comment": "TEXT"}, "comment", id="version.update.comment"),
]  # fmt: skip

#: Values longer than the column that stores them (String(n) in the schema).
TOO_LONG_FIELDS = [
    pytest.param("POST", "/models/versions", {**SCRATCH_VERSION, "run_id": "r" * 256}, "run_id", id="version.run_id>255"),
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
    pytest.param("POST", "/models", model_body("{catalog}", "sch", "NAME"), "name", id="model.name"),
    pytest.param("POST", "/models", model_body("{catalog}", "NAME", "{new}"), "schema_name", id="model.schema_name"),
    pytest.param("POST", "/models/versions", version_body("{catalog}", "sch", "NAME"), "model_name", id="version.model_name"),
    pytest.param("PATCH", "/models/{model}", {"comment": "changed", "new_name": "NAME"}, "new_name", id="model.new_name"),
]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize(("method", "path", "body", "field_name"), NAME_TARGETS)
def test_bad_name_is_rejected_and_changes_nothing(
    world: World, method: str, path: str, body: dict[str, Any], field_name: str, bad: str
) -> None:
    send_bad_name(world, method, path, body, field_name, bad)


PATH_NAME_CASES = [
    # wrong number of parts
    case("model.get.two-parts", "GET", "/models/{schema}", needles="part"),
    case("model.update.two-parts", "PATCH", "/models/{schema}", {"comment": "changed"}, needles="part"),
    case("model.delete.two-parts", "DELETE", "/models/{schema}", params={"force": "true"}, needles="part"),
    case("model.delete.four-parts", "DELETE", "/models/{model}.x", needles="part"),
    case("versions.list.two-parts", "GET", "/models/{schema}/versions", needles="part"),
    case("version.get.four-parts", "GET", "/models/{model}.x/versions/1", needles="part"),
    case("version.update.two-parts", "PATCH", "/models/{schema}/versions/1", {"comment": "changed"}, needles="part"),
    case("version.delete.two-parts", "DELETE", "/models/{schema}/versions/1", needles="part"),
    case("version.finalize.two-parts", "PATCH", "/models/{schema}/versions/1/finalize", needles="part"),
    # bad characters in a path name
    case("model.get.space", "GET", "/models/{schema}.a%20b", needles="a b"),
    case("model.delete.empty-part", "DELETE", "/models/{catalog}..mdl", needles="name"),
    # bad names in list filters
    case("model.list.slashed-schema", "GET", "/models", params={"catalog_name": "{catalog}", "schema_name": "a/b"}, needles="schema_name"),
]  # fmt: skip


@pytest.mark.parametrize("c", PATH_NAME_CASES)
def test_bad_name_in_path_or_query_is_rejected(world: World, c: Case) -> None:
    run_case(world, c)


# -- missing objects and parents ---------------------------------------------------------

MISSING_CASES = [
    case("model.in-missing-schema", "POST", "/models", model_body("{catalog}", "nosch", "{new}"), 404, MISSING, "{catalog}.nosch"),
    case("model.in-missing-catalog", "POST", "/models", model_body("nocat_x", "sch", "{new}"), 404, MISSING, "nocat_x"),
    case("version.of-missing-model", "POST", "/models/versions", version_body("{catalog}", "sch", "nomodel"), 404, MISSING, "{schema}.nomodel"),
    case("version.of-missing-catalog", "POST", "/models/versions", version_body("nocat_x", "sch", "mdl"), 404, MISSING, "nocat_x"),
    case("version.of-table", "POST", "/models/versions", version_body("{catalog}", "sch", "tbl"), 404, MISSING, "{table}"),
    case("model.get", "GET", "/models/{schema}.nomodel", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("model.update", "PATCH", "/models/{schema}.nomodel", {"comment": "x"}, 404, MISSING, "{schema}.nomodel"),
    case("model.delete", "DELETE", "/models/{schema}.nomodel", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("model.delete.is-a-table", "DELETE", "/models/{table}", status=404, code=MISSING, needles="{table}"),
    case("model.list.missing-schema", "GET", "/models", params={"catalog_name": "{catalog}", "schema_name": "nosch"}, status=404, code=MISSING, needles="{catalog}.nosch"),
    case("versions.list.missing-model", "GET", "/models/{schema}.nomodel/versions", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("version.get.missing-model", "GET", "/models/{schema}.nomodel/versions/1", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("version.get.missing", "GET", "/models/{model}/versions/99", status=404, code=MISSING, needles="99"),
    case("version.update.missing", "PATCH", "/models/{model}/versions/99", {"comment": "x"}, 404, MISSING, "99"),
    case("version.delete.missing", "DELETE", "/models/{model}/versions/99", status=404, code=MISSING, needles="99"),
    case("version.finalize.missing", "PATCH", "/models/{model}/versions/99/finalize", status=404, code=MISSING, needles="99"),
    case("version.get.beyond-int32", "GET", "/models/{model}/versions/2147483648", status=404, code=MISSING, needles="2147483648"),
    case("version.update.beyond-int32", "PATCH", "/models/{model}/versions/2147483648", {"comment": "x"}, 404, MISSING, "2147483648"),
    case("version.delete.beyond-int32", "DELETE", "/models/{model}/versions/2147483648", status=404, code=MISSING, needles="2147483648"),
    case("version.finalize.beyond-int32", "PATCH", "/models/{model}/versions/2147483648/finalize", status=404, code=MISSING, needles="2147483648"),
    case("version.get.beyond-int64", "GET", "/models/{model}/versions/99999999999999999999", status=(400, 404), code=None, needles="version"),
    case("version.delete.beyond-int64", "DELETE", "/models/{model}/versions/99999999999999999999", status=(400, 404), code=None, needles="version"),
    case("version.finalize.missing-model", "PATCH", "/models/{schema}.nomodel/versions/1/finalize", status=404, code=MISSING, needles="{schema}.nomodel"),
    case("model.update.unknown-owner", "PATCH", "/models/{model}", {"comment": "changed", "owner": "nobody_x"}, 404, MISSING, "nobody_x"),
]  # fmt: skip


@pytest.mark.parametrize("c", MISSING_CASES)
def test_missing_object_or_parent_is_404_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- duplicates --------------------------------------------------------------------------

DUPLICATE_CASES = [
    case("model", "POST", "/models", model_body("{catalog}", "sch", "mdl"), 409, EXISTS, "{model}"),
    case("model.other-case", "POST", "/models", model_body("{catalog}", "sch", "Mdl"), 409, EXISTS, "{model}"),
    case("model.rename", "PATCH", "/models/{model}", {"comment": "changed", "new_name": "mdl2"}, 409, EXISTS, "{schema}.mdl2"),
    case("model.named-like-table", "POST", "/models", model_body("{catalog}", "sch", "tbl"), 409, EXISTS, "{table}"),
]  # fmt: skip


@pytest.mark.parametrize("c", DUPLICATE_CASES)
def test_duplicate_is_409_and_changes_nothing(world: World, c: Case) -> None:
    run_case(world, c)


# -- pagination --------------------------------------------------------------------------

LIST_ROUTES = [
    pytest.param(f"{UC}/models", {"catalog_name": "{catalog}", "schema_name": "sch"}, id="models"),
    pytest.param(f"{UC}/models", {}, id="models-all"),
    pytest.param(f"{UC}/models/{{model}}/versions", {}, id="versions"),
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
        pytest.param(
            f"{UC}/models/{{model}}/versions",
            {"page_token": "eyJhZnRlciI6ICI5OTk5OTk5OTk5OTk5OTk5OTk5OTk5In0"},
            id="versions-token-after-huge",
        ),
    ],
)
def test_out_of_range_numbers_are_never_a_500(
    world: World, path: str, params: dict[str, str]
) -> None:
    expect_empty_page_or_400(world, path, params)


# -- authorization: non-owners -----------------------------------------------------------

#: A caller who may not see a model (it holds nothing on it or above it) is answered as if it
#: did not exist: 404 naming the outermost level it may not see (docs/privileges.md).
NON_OWNER_CASES = [
    case("model.create", "POST", "/models", model_body("{user_catalog}", "s", "{new}"), 404, MISSING, "{user_catalog}", who="other"),
    case("model.update", "PATCH", "/models/{user_model}", {"comment": "mine now"}, 404, MISSING, "{user_catalog}", who="other"),
    case("model.delete", "DELETE", "/models/{user_model}", params={"force": "true"}, status=404, code=MISSING, needles="{user_catalog}", who="other"),
    case("version.create", "POST", "/models/versions", USER_VERSION, 404, MISSING, "{user_catalog}", who="other"),
    case("version.update", "PATCH", "/models/{user_model}/versions/1", {"comment": "mine now"}, 404, MISSING, "{user_catalog}", who="other"),
    case("version.delete", "DELETE", "/models/{user_model}/versions/1", status=404, code=MISSING, needles="{user_catalog}", who="other"),
    case("version.finalize", "PATCH", "/models/{user_model}/versions/1/finalize", status=404, code=MISSING, needles="{user_catalog}", who="other"),
]  # fmt: skip


@pytest.mark.parametrize("c", NON_OWNER_CASES)
def test_non_owner_is_refused_as_if_the_model_were_missing(world: World, c: Case) -> None:
    run_case(world, c)


# -- finalize ----------------------------------------------------------------------------


def test_finalizing_a_ready_version_is_rejected(mutating_world: World) -> None:
    world = mutating_world
    model = unique("fin")
    ok(world.admin.post(f"{UC}/models", json=model_body(world.catalog, "sch2", model)))
    created = ok(
        world.admin.post(f"{UC}/models/versions", json=version_body(world.catalog, "sch2", model))
    )
    write_mlmodel(created["storage_location"])
    full_name = f"{world.catalog}.sch2.{model}"
    ok(world.admin.patch(f"{UC}/models/{full_name}/versions/1/finalize"))
    before = ok(world.reader.get(f"{UC}/models/{full_name}/versions/1"))
    response = world.admin.patch(f"{UC}/models/{full_name}/versions/1/finalize")
    expect_error(response, 400, BAD, ("READY",))
    assert ok(world.reader.get(f"{UC}/models/{full_name}/versions/1")) == before
